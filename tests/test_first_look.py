"""What a user sees in the first minutes: losses and the report refreshed during an epoch, a first
grid and generator after epoch 1, the steps so far on the report, a time estimate that stays
right after --resume, and one clear line for the small mistakes a newcomer makes."""
import importlib
import json
import re

import pytest

import cgan_fashion
import evaluate
from ganlib import cli, data as gd, start, run as gr
from ganlib.losses import ResumedProgbar
import report
import sample
from conftest import run_script


@pytest.fixture(scope="module")
def first_run(tiny_data, tmp_path_factory):
    """One short cgan run that several tests read: 4 epochs of 5 steps, a summary after epochs 1,
    3 and 4, the report rewritten every 2 steps (with the number of losses.csv rows then)."""
    out = tmp_path_factory.mktemp("first_run")
    seen = []
    original = gr.write_report

    def write_report(out_dir):
        seen.append(len((out_dir / "losses.csv").read_text().splitlines()) - 1 if (out_dir / "losses.csv").exists()
                    else 0)
        return original(out_dir)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gr, "REFRESH_STEPS", 2)
        patch.setattr(gr, "write_report", write_report)
        cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "4",
                                        "--steps-per-epoch", "5", "--batch-size", "8", "--eval-every", "3",
                                        "--eval-samples", "20"])
    return out, seen


@pytest.mark.slow
def test_losses_and_the_report_are_rewritten_during_an_epoch(first_run):
    out, seen = first_run
    assert seen[:2] == [2, 4]  # mid-epoch, before the epoch's 5 steps were done
    assert (out / "losses.png").stat().st_size > 0


@pytest.mark.slow
def test_the_first_grid_and_snapshot_come_after_epoch_1_then_every_eval_every(first_run):
    out, _ = first_run
    assert sorted(p.name for p in out.glob("generated_plot_e*.png")) == \
        ["generated_plot_e001.png", "generated_plot_e003.png", "generated_plot_e004.png"]
    assert sorted(p.name for p in out.glob("generator_e*.h5")) == \
        ["generator_e001.h5", "generator_e003.h5", "generator_e004.h5"]
    assert [row.split(",")[0] for row in (out / "metrics.csv").read_text().splitlines()[1:]] == ["1", "3", "4"]
    page = (out / "report.html").read_text()
    assert "<th>steps</th><td>20 of 20</td>" in page
    assert "the shipped Fashion-MNIST judge" in page
    assert json.loads((out / "run.json").read_text())["judge"].startswith("the shipped Fashion-MNIST judge (")


def test_the_estimate_after_resume_counts_only_this_sessions_steps():
    """Resumed at step 50 of 100, 10 steps in 10 seconds: 1 s a step, so 40 s left, not
    10 s / 60 steps for all 60 done."""
    bar = ResumedProgbar(100, first=50, verbose=0)
    now = bar._start + 10
    assert bar._estimate_step_duration(60, now) == pytest.approx(1.0)


def test_the_interrupt_message_starts_a_line_of_its_own(capsys):
    def interrupted(argv):
        print("12/100 ━━━━━━ 3s 5ms/step", end="")
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stop:
        cli.run_main(interrupted)
    out, err = capsys.readouterr()
    assert stop.value.code == 130 and out.endswith("5ms/step\n") and err.startswith("interrupted after")


@pytest.mark.slow
def test_evaluate_and_sample_on_a_run_folder_take_its_best_generator_and_say_so(first_run, tiny_data, capsys):
    out, _ = first_run
    cli.run_main(evaluate.main, [str(out), "--samples", "30", "--data-dir", str(tiny_data)])
    said = capsys.readouterr().out
    assert said.startswith(f"using {out / 'generator_best.h5'}\n")
    assert "measured by the shipped Fashion-MNIST judge" in said
    assert (out / "generator_best_metrics.json").is_file()
    cli.run_main(sample.main, [str(out), "--n", "2"])
    said = capsys.readouterr().out
    assert said.startswith(f"using {out / 'generator_best.h5'}\n") and (out / "sample_grid.png").is_file()


@pytest.mark.slow
def test_report_given_the_page_rebuilds_its_folder(first_run, capsys):
    out, _ = first_run
    stamp = (out / "report.html").stat().st_mtime_ns
    report.main([str(out / "report.html")])
    assert f"wrote {out / 'report.html'}" in capsys.readouterr().out
    assert (out / "report.html").stat().st_mtime_ns > stamp


@pytest.mark.parametrize("name", ["grid.jpg", "grid.JPEG"])
def test_sample_writes_jpeg_for_a_jpeg_name(cgan_generator, tmp_path, name):
    cli.run_main(sample.main, [str(cgan_generator), "--out", str(tmp_path / name), "--n", "2"])
    assert (tmp_path / name).read_bytes()[:3] == b"\xff\xd8\xff"


@pytest.mark.slow
def test_sample_shows_progress_for_a_large_grid(cgan_generator, tmp_path, capsys):
    cli.run_main(sample.main, [str(cgan_generator), "--out", str(tmp_path / "big.png"), "--n", "32"])
    out = capsys.readouterr().out
    assert out.startswith("generating 1,024 images, then drawing them\n")


def test_a_failed_download_is_one_short_line_with_its_whole_cause(tmp_path, monkeypatch):
    def keras_offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
                        "mnist.npz: None -- [Errno -2] Name or service not known")

    monkeypatch.setitem(gd.DATASETS["mnist"], "download", keras_offline)
    with pytest.raises(gd.UserError) as error:
        gd.load_dataset("mnist", tmp_path)
    message = str(error.value)
    assert "the download failed ([Errno -2] Name or service not known)" in message
    assert "offline: copy mnist.npz" in message and "--data-dir DIR" in message
    assert "\n" not in message and "storage.googleapis" not in message


def test_without_the_virtual_environment_the_line_asks_whether_it_is_active(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "tensorflow" else real_find_spec(name))
    problem = start.backend_problem("tensorflow")
    assert problem.startswith("tensorflow, Keras' backend, is not installed for ")
    assert "is the virtual environment active? (. .venv/bin/activate)" in problem
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert start.backend_problem("tensorflow").startswith("Keras is not installed for ")


def test_a_python_without_keras_names_the_virtual_environment():
    result = run_script(["-S", "scripts/cgan_fashion.py", "--epochs", "1"], env={"KERAS_BACKEND": ""})
    assert result.returncode == 2
    assert re.fullmatch(r"error: Keras is not installed for \S+: is the virtual environment active\? [^\n]+\n",
                        result.stderr), result.stderr



@pytest.mark.parametrize("script,folder", [("pix2pix_maps", "(default: outputs/pix2pix_<direction>/)"),
                                           ("cgan_fashion", "(default: outputs/cgan_fashion/ or outputs/cgan_<dataset>/)"),
                                           ("gan_fashion", "(default: outputs/gan_fashion/)")])
def test_help_names_the_output_folder_the_run_writes_to(script, folder, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.run_main(importlib.import_module(script).main, ["--help"])
    assert stop.value.code == 0 and folder in " ".join(capsys.readouterr().out.split())
