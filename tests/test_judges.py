"""Judges: the Fashion-MNIST and MNIST ones ship with the project and are checked when loaded; any
other is trained once per machine and per training set, said before it starts, shared safely by
runs that start at once."""
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import cgan_fashion
import datafiles
from ganlib import cli, data as gd, tutorial as gu, judges as gj
from ganlib.saved import read_generator_info
from conftest import REPO

SHIPPED = ["fashion_mnist", "mnist"]
# Where a machine may hold the real datasets (the tests' own fixtures hide them from the scripts)
REAL_DATA_PLACES = [REPO / "data", Path.home() / ".keras" / "datasets", Path("/usr/share/datasets")]


@pytest.mark.parametrize("dataset", SHIPPED)
def test_each_shipped_judge_loads_matches_its_checksum_and_records_how_it_was_made(dataset):
    record = gj.shipped_judges()[dataset]
    path = gj.SHIPPED_JUDGES_DIR / record["file"]
    assert gj.sha256(path) == record["sha256"]
    judge, info = gj.load_shipped_judge(dataset)
    saved = read_generator_info(path)
    assert saved["fingerprint"] == record["fingerprint"] and saved["test_accuracy"] == record["test_accuracy"]
    assert record["fingerprint"].startswith("60000:") and record["test_images"] == 10000
    assert record["command"].startswith("python scripts/train_judges.py") and dataset in record["command"]
    assert record["test_accuracy"] > (0.9 if dataset == "fashion_mnist" else 0.98)
    assert "core" in record["machine"] and info["source"] == "shipped"
    assert judge.output.shape[-1] == len(gd.DATASETS[dataset]["classes"])
    assert judge.get_layer("features").units == 128


@pytest.mark.slow
@pytest.mark.parametrize("dataset", SHIPPED)
def test_a_shipped_judge_scores_its_recorded_accuracy_on_the_real_test_split(dataset):
    for place in REAL_DATA_PLACES:
        try:
            images, labels = gd.load_dataset(dataset, place, "test") if place.is_dir() else (None, None)
        except gd.UserError:
            continue
        if images is not None and len(images) == 10000:
            break
    else:
        pytest.skip(f"the real {dataset} test split is not on this machine")
    judge, info = gj.load_shipped_judge(dataset)
    predicted = np.argmax(judge.predict(gd.scale_images(images), batch_size=1000, verbose=0), axis=1)
    assert np.mean(predicted == labels) == pytest.approx(info["test_accuracy"], abs=0.002)


def test_a_damaged_shipped_judge_is_refused_in_one_line(tiny_data, tmp_path, monkeypatch, capsys):
    judges = tmp_path / "judges"
    shutil.copytree(gj.SHIPPED_JUDGES_DIR, judges)
    damaged = judges / "fashion_mnist.h5"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(gj, "SHIPPED_JUDGES_DIR", judges)
    with pytest.raises(SystemExit) as stop:
        cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path / "run"), "--epochs", "1",
                                        "--steps-per-epoch", "1", "--batch-size", "8"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert f"{damaged} is damaged: its SHA-256 is not the one in judges.json" in err
    assert not (tmp_path / "run" / "losses.csv").exists()  # refused before the first step


def emnist_splits(data_dir):
    return [gd.load_dataset("emnist", data_dir, split) for split in ("train", "test")]


@pytest.mark.slow
def test_a_judge_without_a_shipped_one_is_trained_once_said_first_and_trained_again_only_for_other_data(
        tiny_data, tmp_path, capsys):
    judge, info = gj.load_judge("emnist", tmp_path, *emnist_splits(tiny_data))
    out = capsys.readouterr().out
    assert "No EMNIST-balanced judge ships with these scripts" in out and "--eval-samples 0 skips" in out
    assert out.index("No EMNIST-balanced judge") < out.index("training the EMNIST-balanced judge: 8 epochs on 94 "
                                                             "images, about 1 min on a 2-core CPU")
    assert info["test_images"] == 47 and info["source"] == "trained on this machine"
    assert judge.get_layer("features").units == 128
    [cached] = tmp_path.glob("emnist-*.h5")
    stamp = cached.stat().st_mtime_ns
    _, again = gj.load_judge("emnist", tmp_path, *emnist_splits(tiny_data))
    assert again == info and "training" not in capsys.readouterr().out
    assert cached.stat().st_mtime_ns == stamp
    other = tmp_path / "other"
    datafiles.write_emnist_balanced(other, n=141)
    gj.load_judge("emnist", tmp_path, *emnist_splits(other))
    assert "training the EMNIST-balanced judge" in capsys.readouterr().out
    assert len(list(tmp_path.glob("emnist-*.h5"))) == 2 and cached.stat().st_mtime_ns == stamp


def test_the_expected_time_comes_from_the_measured_step_time():
    assert gj.expected_minutes("emnist", 112800) == pytest.approx(882 * 8 * 0.22 / 60)
    assert gj.expected_minutes("cifar10", 50000) == pytest.approx(391 * 40 * 0.86 / 60)


JUDGE_IN_A_PROCESS = """
import sys
sys.path.insert(0, "scripts")
from ganlib import cli, data as gd, judges as gj
splits = [gd.load_dataset("emnist", sys.argv[1], split) for split in ("train", "test")]
cli.run_main(lambda argv: gj.load_judge("emnist", sys.argv[2], *splits))
"""


def start_judge_process(tiny_data, judges):
    return subprocess.Popen([sys.executable, "-c", JUDGE_IN_A_PROCESS, str(tiny_data), str(judges)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, KERAS_BACKEND="tensorflow"))


@pytest.mark.slow
def test_two_runs_that_need_the_same_judge_at_once_train_it_once(tiny_data, tmp_path):
    processes = [start_judge_process(tiny_data, tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _, err in outputs]
    assert sum("training the EMNIST-balanced judge: " in out for out, _ in outputs) == 1
    [judge] = tmp_path.glob("emnist-*.h5")
    gu.load_generator(judge)


@pytest.mark.slow
def test_a_run_waiting_for_another_runs_judge_says_so_and_one_ctrl_c_stops_it(tiny_data, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    with open(tmp_path / ".emnist.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as another run training the judge holds it
        process = start_judge_process(tiny_data, tmp_path)
        line = process.stdout.readline()
        assert line.startswith("waiting for another run to finish training the EMNIST-balanced judge"), line
        assert "Ctrl-C stops" in line
        process.send_signal(signal.SIGINT)
        started = time.time()
        _, err = process.communicate(timeout=30)
    assert time.time() - started < 10 and process.returncode == 130
    assert err.startswith("interrupted after") and err.count("\n") == 1, err


@pytest.mark.slow
@pytest.mark.extended
def test_a_judge_learns_far_beyond_chance_when_the_classes_can_be_told_apart(tmp_path):
    """The tiny patterned images differ by brightness per class: a working judge learns that
    (8 epochs of 16 steps reached 84% and more in runs here; chance is 10%)."""
    keras.utils.set_random_seed(0)
    data = tmp_path / "data"
    datafiles.write_mnist_npz(data, n=2000, n_test=200)
    splits = [gd.load_dataset("mnist", data, split) for split in ("train", "test")]
    _, info = gj.train_judge("mnist", tmp_path / "judge.h5", *splits)
    assert info["test_accuracy"] > 0.5
