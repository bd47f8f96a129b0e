"""Interrupt and resume, the optimizers' state, a disk too full to start, settings a resume must share."""
import csv
import json
import importlib
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import cgan_fashion
from ganlib import checkpoint as gan_checkpoint, cli, run as gr
from ganlib.saved import read_generator_info
import switchcheck
from conftest import REPO, SMALL_EVAL, run_script, settings_of, snapshots


def start_script(args):
    return subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, KERAS_BACKEND="tensorflow"))


def wait_for(path, process, timeout=240):
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def epochs_and_steps(out):
    with open(out / "losses.csv") as f:
        return [(r["epoch"], r["step"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(tiny_data, tmp_path):
    flags = ["--data-dir", tiny_data, "--epochs", "3", "--steps-per-epoch", "25", "--batch-size", "8",
             "--eval-every", "1", "--seed", "1", *SMALL_EVAL]
    whole = run_script(["scripts/gan_fashion.py", *flags, "--out", tmp_path / "whole"])
    assert whole.returncode == 0, whole.stderr[-2000:]
    out = tmp_path / "interrupted"
    process = start_script(["scripts/gan_fashion.py", *flags, "--out", out])
    wait_for(out / "generator_e001.h5", process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=240)
    assert process.returncode == 130, stderr[-2000:]
    assert "checkpoint written to" in stderr and "go on with --resume" in stderr
    assert len(epochs_and_steps(out)) < 75
    resumed = run_script(["scripts/gan_fashion.py", *flags, "--out", out, "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stdout
    assert epochs_and_steps(out) == epochs_and_steps(tmp_path / "whole")
    assert snapshots(out) == snapshots(tmp_path / "whole") == ["generator_e001.h5", "generator_e002.h5",
                                                               "generator_e003.h5"]
    assert read_generator_info(out / "generator.h5")["epoch"] == 3
    # generator.h5 is the averaged generator: the same only if the checkpoint carried the average
    whole_weights = keras.models.load_model(tmp_path / "whole" / "generator.h5", compile=False).get_weights()
    resumed_weights = keras.models.load_model(out / "generator.h5", compile=False).get_weights()
    for a, b in zip(whole_weights, resumed_weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_resume_restores_the_optimizers_state(tiny_data, tmp_path):
    records = switchcheck.run_and_record("cgan_fashion", tiny_data, tmp_path, steps=2)
    assert records
    out = tmp_path / "run"  # where run_and_record trains
    with np.load(out / "checkpoint.npz") as f:
        saved = {key: f[key] for key in f.files}
    settings = settings_of(cgan_fashion, "--eval-samples", 0, "--out", out, "--batch-size", 8, "--resume",
                           "--data-dir", tiny_data)
    g_model, d_model, gan_model, _ = cgan_fashion.define_models(settings)
    run = gr.Run(settings, g_model, d_model, gan_model, loss_names=["d_real", "d_fake", "g"],
                 n_images=len(cgan_fashion.load_real_samples(settings)[0]),
                 generator_info=cgan_fashion.generator_info(settings))
    checkpoint, log = run.checkpoint, run.log
    assert (checkpoint.epoch, checkpoint.step) == (1, 0) and len(log.rows) == 2
    assert int(d_model.optimizer.iterations.numpy()) == 4  # two steps, two discriminator updates each
    assert int(gan_model.optimizer.iterations.numpy()) == 2
    moments = [v for v in d_model.optimizer.variables if "momentum" in v.path or "_m" in v.path.split("/")[-1]]
    assert moments and any(np.abs(keras.ops.convert_to_numpy(v.value)).max() > 0 for v in moments)
    restored = [keras.ops.convert_to_numpy(v.value) for v in d_model.optimizer.variables]
    n_model = sum(len(m.variables) for m in checkpoint.models)
    for k, value in enumerate(restored):
        np.testing.assert_array_equal(value, saved[f"v{n_model + k}"])


def test_a_disk_too_full_for_a_snapshot_is_refused_before_training(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gan_checkpoint.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1_000_000})())
    with pytest.raises(SystemExit) as stop:
        cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path), "--batch-size", "8"])
    assert stop.value.code == 2
    assert "not enough disk space" in capsys.readouterr().err
    assert not (tmp_path / "losses.csv").exists()


@pytest.mark.parametrize("script,first,then,message", [
    ("cgan_fashion", [], ["--dataset", "mnist"],
     "the checkpoint was made with --dataset fashion_mnist, this run has --dataset mnist"),
    ("cgan_fashion", [], ["--batch-size", "16"], "the checkpoint was made with --batch-size 8, this run has --batch-size 16"),
    ("cgan_fashion", [], ["--ema-half-life", "10000"],
     "the checkpoint was made with --ema-half-life 0, this run has --ema-half-life 10000"),
    ("infogan_mnist", ["--n-cont", "0"], [], "the checkpoint was made with --n-cont 0, this run has --n-cont 2"),
    ("infogan_mnist", [], ["--update-rule", "tutorial"],
     "the checkpoint was made with --update-rule reference, this run has --update-rule tutorial"),
])
@pytest.mark.slow
def test_resuming_with_other_model_settings_is_refused(script, first, then, message, tiny_data, tmp_path, capsys):
    module = importlib.import_module(script)
    flags = ["--data-dir", str(tiny_data), "--out", str(tmp_path), "--epochs", "1", "--steps-per-epoch", "1",
             "--batch-size", "8"]
    cli.run_main(module.main, flags + first)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(module.main, flags + ["--epochs", "2", "--resume"] + then)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"error: cannot resume: {message}" in err


@pytest.mark.slow
def test_a_checkpoint_saved_under_the_settings_old_names_resumes(tiny_data, tmp_path, capsys):
    flags = ["--data-dir", str(tiny_data), "--out", str(tmp_path), "--epochs", "1", "--steps-per-epoch", "1",
             "--batch-size", "8"]
    cli.run_main(cgan_fashion.main, flags)
    path = tmp_path / "checkpoint.npz"
    with np.load(path) as f:
        arrays = {key: f[key] for key in f.files}
    meta = json.loads(str(arrays["meta"]))
    meta["settings"]["batch_size"] = meta["settings"].pop("n_batch")
    meta["constants"]["N_BATCH"] = cgan_fashion.N_BATCH  # such checkpoints recorded the file's constants
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    capsys.readouterr()
    cli.run_main(cgan_fashion.main, flags[:-4] + ["--epochs", "2", "--steps-per-epoch", "1", "--batch-size", "8",
                                                  "--resume"])
    out = capsys.readouterr().out
    assert "resuming from" in out
    assert "edited since the checkpoint" not in out  # the run's own constants are not known
    assert epochs_and_steps(tmp_path) == [("1", "1"), ("2", "1")]
