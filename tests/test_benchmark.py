"""The benchmark runs and prints every column, and counts operations right; timings themselves
are never asserted."""
import keras
import pytest
from keras import layers

import benchmark
import cgan_fashion
from conftest import run_script, settings_of

COLUMNS = ["script", "batch", "GFLOP/step", "tutorial loop s/step", "this loop s/step", "speed-up", "steps/s",
           "images/s", "GFLOP/s", "of matmul rate"]


def cells(line):
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@pytest.mark.slow
def test_benchmark_runs_end_to_end_in_a_tiny_configuration(tmp_path):
    result = run_script(["scripts/benchmark.py", "gan_fashion", "--steps", "2", "--rounds", "1", "--batch-size", "4",
                         "--matmul-size", "128", "--backend", "tensorflow"], backend="tensorflow",
                        env={"TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert not list(tmp_path.glob("benchmark_*")), "the runs' folders (each with a checkpoint) were left behind"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("machine: ") and "backend: tensorflow" in lines[0] and "keras 3." in lines[0]
    assert lines[1].startswith("matrix-product rate: ") and float(lines[1].split()[2]) > 0
    assert "(float32, 128x128)" in lines[1]
    header = next(line for line in lines if line.startswith("| script |"))
    assert cells(header) == COLUMNS
    row = dict(zip(COLUMNS, cells(next(line for line in lines if line.startswith("| gan_fashion |")))))
    assert row["batch"] == "4" and row["speed-up"].endswith("x") and row["of matmul rate"].endswith("%")
    assert all(float(row[k]) > 0 for k in COLUMNS[2:] if k not in ("speed-up", "of matmul rate"))


def test_flops_of_one_layer_models_are_the_hand_counted_ones():
    dense = keras.Sequential([keras.Input((10,)), layers.Dense(5)])
    assert benchmark.model_flops(dense) == 2 * 10 * 5
    conv = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3, strides=2, padding="same")])
    assert benchmark.model_flops(conv) == 2 * (3 * 3 * 3) * 4 * (4 * 4)  # per output pixel and filter
    transposed = keras.Sequential([keras.Input((4, 4, 6)), layers.Conv2DTranspose(2, 4, strides=2, padding="same")])
    assert benchmark.model_flops(transposed) == 2 * (4 * 4 * 2) * 6 * (4 * 4)  # per input pixel and channel
    assert benchmark.model_flops(keras.Sequential([keras.Input((8, 8, 3)), layers.LeakyReLU()])) == 0


def test_a_training_step_counts_both_discriminator_updates_and_the_composite():
    g_model, d_model, gan_model, _ = cgan_fashion.define_models(settings_of(cgan_fashion))
    g_flops, d_flops = benchmark.model_flops(g_model), benchmark.model_flops(d_model)
    assert benchmark.model_flops(gan_model) == g_flops + d_flops
    expected = 3 * d_flops * 64 + (g_flops + 3 * d_flops) * 64 + (3 * g_flops + 2 * d_flops) * 128
    assert benchmark.step_flops(g_model, d_model, gan_model, 128, 64) == expected


def test_backend_given_too_late_is_refused(capsys):
    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    with pytest.raises(SystemExit) as stop:
        benchmark.cli.run_main(benchmark.main, ["gan_fashion", "--backend", other])
    assert stop.value.code == 2
    assert "give --backend on the command line of benchmark.py" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.extended
def test_benchmark_devices_measures_one_and_two_simulated_devices():
    pytest.importorskip("jax")
    result = run_script(["scripts/benchmark.py", "gan_fashion", "--steps", "2", "--rounds", "1", "--batch-size", "8",
                         "--matmul-size", "128", "--backend", "jax", "--devices", "2"], backend="tensorflow",
                        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "backend: jax" in lines[0]
    header = ["script", "batch", "devices", "s/step, 1 device", "s/step, 2 devices", "steps/s", "images/s",
              "scaling efficiency"]
    assert cells(next(line for line in lines if line.startswith("| script |"))) == header
    row = dict(zip(header, cells(next(line for line in lines if line.startswith("| gan_fashion |")))))
    assert row["devices"] == "2" and row["scaling efficiency"].endswith("%")
    one, two, rate = float(row["s/step, 1 device"]), float(row["s/step, 2 devices"]), float(row["images/s"])
    assert one > 0 and two > 0 and rate == pytest.approx(8 / two, rel=0.05)


def test_processes_other_than_jax_are_refused(capsys):
    if keras.backend.backend() == "jax":
        pytest.skip("the refusal is for the other backends")
    with pytest.raises(SystemExit) as stop:
        benchmark.cli.run_main(benchmark.main, ["gan_fashion", "--processes", "2"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("error: --processes: a run of several processes trains on JAX (--backend jax), "
                                       "each process on its own devices (no --devices)\n")
