"""The benchmark runs and prints every column; timings themselves are never asserted."""
from conftest import run_script


def test_benchmark_runs_end_to_end_in_a_tiny_configuration():
    result = run_script(["scripts/benchmark.py", "gan_fashion", "--steps", "2", "--rounds", "1",
                         "--batch-size", "4"])
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("machine: ") and "backend: tensorflow" in lines[0]
    row = next(line for line in lines if line.startswith("| gan_fashion |")).strip("|").split("|")
    batch, tutorial, own, ratio, images = (cell.strip() for cell in row[1:])
    assert batch == "4" and float(tutorial) > 0 and float(own) > 0 and ratio.endswith("x") and float(images) > 0
