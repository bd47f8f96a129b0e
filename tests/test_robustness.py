"""Interrupt and resume, kills during writes, divergence, and every bad input as one line."""
import csv
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
import datafiles
import gan_fashion
import gan_common as gc
import switchcheck
from conftest import REPO, SMALL_EVAL, run_script


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


def snapshots(out):
    return sorted(p.name for p in out.glob("generator_e*.h5"))


def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(tiny_data, tmp_path):
    flags = ["--data-dir", tiny_data, "--epochs", "3", "--steps-per-epoch", "40", "--batch-size", "8",
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
    assert len(epochs_and_steps(out)) < 120
    resumed = run_script(["scripts/gan_fashion.py", *flags, "--out", out, "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stdout
    assert epochs_and_steps(out) == epochs_and_steps(tmp_path / "whole")
    assert snapshots(out) == snapshots(tmp_path / "whole") == ["generator_e001.h5", "generator_e002.h5",
                                                               "generator_e003.h5"]
    assert gc.read_generator_info(out / "generator.h5")["epoch"] == 3


def loadable(out):
    keras.models.load_model(out / "generator.h5", compile=False)
    with np.load(out / "checkpoint.npz") as f:
        assert all(f[key] is not None for key in f.files)


def test_a_kill_at_any_moment_leaves_a_loadable_generator_and_checkpoint(tiny_data, tmp_path):
    flags = ["--data-dir", tiny_data, "--out", tmp_path, "--steps-per-epoch", "1", "--batch-size", "8",
             "--eval-every", "1", *SMALL_EVAL]
    first = run_script(["scripts/gan_fashion.py", *flags, "--epochs", "1"])
    assert first.returncode == 0, first.stderr[-2000:]
    loadable(tmp_path)
    for delay in (0.3, 0.9, 1.7):  # snapshots and checkpoints are being written nearly all the time
        process = start_script(["scripts/gan_fashion.py", *flags, "--epochs", "400", "--resume"])
        wait_for(tmp_path / "generator_e002.h5", process)
        time.sleep(delay)
        process.kill()
        process.wait()
        loadable(tmp_path)


def test_resume_restores_the_optimizers_state(tiny_data, tmp_path):
    records = switchcheck.run_and_record("cgan_fashion", tiny_data, tmp_path, steps=2)
    assert records
    with np.load(tmp_path / "checkpoint.npz") as f:
        saved = {key: f[key] for key in f.files}
    dataset, class_names = cgan_fashion.load_real_samples(data_dir=tiny_data)
    d_model = cgan_fashion.define_discriminator(n_classes=10)
    g_model = cgan_fashion.define_generator(100, 10)
    gan_model = cgan_fashion.define_gan(g_model, d_model)
    log = gc.LossLog(tmp_path, ["d_real", "d_fake", "g"])
    checkpoint = gc.Checkpoint(tmp_path, log, [g_model, d_model], d_model, gan_model, resume=True,
                               settings=dict(script="cgan_fashion", dataset="fashion_mnist", latent_dim=100,
                                             n_classes=10, batch_size=8))
    assert (checkpoint.epoch, checkpoint.step) == (1, 0) and len(log.rows) == 2
    assert int(d_model.optimizer.iterations.numpy()) == 4  # two steps, two discriminator updates each
    assert int(gan_model.optimizer.iterations.numpy()) == 2
    moments = [v for v in d_model.optimizer.variables if "momentum" in v.path or "_m" in v.path.split("/")[-1]]
    assert moments and any(np.abs(keras.ops.convert_to_numpy(v.value)).max() > 0 for v in moments)
    restored = [keras.ops.convert_to_numpy(v.value) for v in d_model.optimizer.variables]
    n_model = sum(len(m.variables) for m in (g_model, d_model))
    for k, value in enumerate(restored):
        np.testing.assert_array_equal(value, saved[f"v{n_model + k}"])


def test_a_nan_loss_stops_the_run_and_keeps_the_last_snapshot(tiny_data, tmp_path):
    dataset = gc.scale_images(gc.load_dataset("fashion_mnist", tiny_data)[0])
    d_model = gan_fashion.define_discriminator()
    g_model = gan_fashion.define_generator(100)
    gan_model = gan_fashion.define_gan(g_model, d_model)
    calls = []
    original = d_model.train_on_batch

    def train_on_batch(x, y):
        calls.append(1)
        result = original(x, y)
        return [float("nan"), result[1]] if len(calls) == 8 else result  # epoch 2, step 2, fake half

    d_model.train_on_batch = train_on_batch
    with pytest.raises(gc.UserError, match=r"loss d_fake became nan at epoch 2, step 2: training diverged"):
        gan_fashion.train(g_model, d_model, gan_model, dataset, 100, 3, 8, steps_per_epoch=2, eval_every=1,
                          out_dir=tmp_path)
    assert snapshots(tmp_path) == ["generator_e001.h5"]
    keras.models.load_model(tmp_path / "generator_e001.h5", compile=False)
    with np.load(tmp_path / "checkpoint.npz") as f:
        assert '"epoch": 1' in str(f["meta"])


def write_truncated_fashion(folder):
    datafiles.write_fashion_mnist(folder)
    path = folder / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:500])


@pytest.mark.parametrize("script,first,then,message", [
    ("cgan_fashion", [], ["--dataset", "mnist"], "the checkpoint was made with dataset=fashion_mnist, this run has dataset=mnist"),
    ("infogan_mnist", ["--n-cont", "2"], [], "the checkpoint was made with n_cont=2, this run has n_cont=0"),
])
def test_resuming_with_other_model_settings_is_refused(script, first, then, message, tiny_data, tmp_path, capsys):
    module = importlib.import_module(script)
    flags = ["--data-dir", str(tiny_data), "--out", str(tmp_path), "--epochs", "1", "--steps-per-epoch", "1",
             "--batch-size", "8"]
    gc.run_main(module.main, flags + first)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        gc.run_main(module.main, flags + ["--epochs", "2", "--resume"] + then)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"error: cannot resume: {message}" in err


# Every bad input tried, and the line it must give (the README's "Bad input" table lists them).
BAD_INPUTS = [
    ("cgan_fashion", ["--epochs", "-1"], "--epochs: -1 must be 1 or more"),
    ("cgan_fashion", ["--batch-size", "0"], "--batch-size: 0 must be 1 or more"),
    ("cgan_fashion", ["--batch-size", "1000", "DATA"], "--batch-size 1000 is larger than the dataset (64 images)"),
    ("cgan_fashion", ["--dataset", "svhn"], "argument --dataset: invalid choice: 'svhn'"),
    ("cgan_fashion", ["--label-smoothing", "1"], "--label-smoothing: 1.0 must be at least 0 and below 1"),
    ("cgan_fashion", ["--data-dir", "TRUNCATED"], "train-images-idx3-ubyte.gz is corrupt or truncated"),
    ("cgan_fashion", ["--dataset", "emnist", "--data-dir", "EMPTY"], "EMNIST-balanced (train) not found"),
    ("cgan_fashion", ["--resume", "--batch-size", "8", "DATA"], "nothing to resume: no checkpoint in"),
    ("cgan_fashion", ["--out", "UNWRITABLE", "DATA"], "cannot write to the output folder"),
    ("dcgan_cifar10", ["--classes", "unicorn", "DATA"], "unknown CIFAR-10 class 'unicorn'"),
    ("infogan_mnist", ["--n-cont", "9", "DATA"], "argument --n-cont: invalid choice: 9"),
    ("acgan_fashion", ["--batchnorm-in-composite", "sometimes"], "invalid choice: 'sometimes'"),
    ("pix2pix_maps", ["--data-dir", "EMPTY"], "the maps dataset is not in"),
    ("pix2pix_maps", ["--direction", "sideways"], "invalid choice: 'sideways'"),
    ("sample", ["MISSING"], "no such file"),
    ("sample", ["NOT_H5"], "is not an .h5 model file"),
    ("sample", ["PLAIN_MODEL"], "is not a generator saved by these scripts"),
    ("sample", ["CGAN_GENERATOR", "--label", "10"], "label 10 is out of range: this generator has classes 0-9"),
    ("sample", ["CGAN_GENERATOR", "--label", "Hat"], "unknown class 'Hat'"),
    ("sample", ["CGAN_GENERATOR", "--image", "NOT_H5"], "--image and --pair need a Pix2Pix generator"),
    ("sample", ["CGAN_GENERATOR", "--n", "-3"], "--n: -3 must be 1 or more"),
    ("benchmark", ["nope"], "no benchmark for nope"),
]


@pytest.mark.parametrize("script,args,message", BAD_INPUTS, ids=[f"{s} {' '.join(a)}" for s, a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_a_nonzero_exit(script, args, message, tiny_data, tmp_path, capsys):
    module = importlib.import_module(script)
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.h5").write_text("not a model")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    if "CGAN_GENERATOR" in args:
        cgan_fashion.save_generator(cgan_fashion.define_generator(100, 10), tmp_path / "cgan.h5", 100,
                                    gc.FASHION_CLASSES, 0, "fashion_mnist")
    if "PLAIN_MODEL" in args:
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(tmp_path / "plain.h5")
    if "TRUNCATED" in args:
        write_truncated_fashion(tmp_path / "truncated")
    places = {"DATA": ["--data-dir", str(tiny_data)], "EMPTY": [str(tmp_path / "empty")],
              "TRUNCATED": [str(tmp_path / "truncated")], "UNWRITABLE": [str(blocker / "out")],
              "MISSING": [str(tmp_path / "missing.h5")], "NOT_H5": [str(tmp_path / "notes.h5")],
              "CGAN_GENERATOR": [str(tmp_path / "cgan.h5")], "PLAIN_MODEL": [str(tmp_path / "plain.h5")]}
    argv = [part for arg in args for part in places.get(arg, [arg])]
    if script not in ("sample", "benchmark") and "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exit_info:
        gc.run_main(module.main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert message in err and "Traceback" not in err and "error:" in err.strip().splitlines()[-1]


def test_a_disk_too_full_for_a_snapshot_is_refused_before_training(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gc.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1_000_000})())
    with pytest.raises(SystemExit):
        gc.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path), "--batch-size", "8"])
    assert "not enough disk space" in capsys.readouterr().err
    assert not (tmp_path / "losses.csv").exists()
