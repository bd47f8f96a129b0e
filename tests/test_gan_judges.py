"""Judges: trained once per machine and per training set, shared safely by runs that start at once."""
import subprocess
import sys

import keras

import datafiles
import gan_data as gd
import gan_judges as gj
import gan_utils as gu
from conftest import REPO


def fashion_splits(data_dir):
    return [gd.load_dataset("fashion_mnist", data_dir, split) for split in ("train", "test")]


def test_the_judge_is_trained_once_tested_and_trained_again_only_for_other_data(tiny_data, tmp_path, capsys):
    judge, info = gj.load_judge("fashion_mnist", tmp_path, *fashion_splits(tiny_data))
    assert "training the Fashion-MNIST judge" in capsys.readouterr().out
    assert info["test_images"] == 20 and 0 <= info["test_accuracy"] <= 1
    assert judge.get_layer("features").units == 128
    [cached] = tmp_path.glob("fashion_mnist-*.h5")
    stamp = cached.stat().st_mtime_ns
    _, again = gj.load_judge("fashion_mnist", tmp_path, *fashion_splits(tiny_data))
    assert again == info and "training" not in capsys.readouterr().out
    assert cached.stat().st_mtime_ns == stamp
    other = tmp_path / "other"
    datafiles.write_fashion_mnist(other, n=48)
    gj.load_judge("fashion_mnist", tmp_path, *fashion_splits(other))
    assert "training the Fashion-MNIST judge" in capsys.readouterr().out
    assert len(list(tmp_path.glob("fashion_mnist-*.h5"))) == 2 and cached.stat().st_mtime_ns == stamp


JUDGE_IN_A_PROCESS = """
import sys
sys.path.insert(0, "scripts")
import gan_data as gd, gan_judges as gj
splits = [gd.load_dataset("fashion_mnist", sys.argv[1], split) for split in ("train", "test")]
gj.load_judge("fashion_mnist", sys.argv[2], *splits)
"""


def test_two_runs_that_need_the_same_judge_at_once_train_it_once(tiny_data, tmp_path):
    processes = [subprocess.Popen([sys.executable, "-c", JUDGE_IN_A_PROCESS, str(tiny_data), str(tmp_path)], cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _, err in outputs]
    assert sum("training the Fashion-MNIST judge" in out for out, _ in outputs) == 1
    [judge] = tmp_path.glob("fashion_mnist-*.h5")
    gu.load_generator(judge)


def test_a_judge_learns_far_beyond_chance_when_the_classes_can_be_told_apart(tmp_path):
    """The tiny patterned images differ by brightness per class: a working judge learns that
    (8 epochs of 16 steps reached 84% and more in runs here; chance is 10%)."""
    keras.utils.set_random_seed(0)
    data = tmp_path / "data"
    datafiles.write_fashion_mnist(data, n=2000, n_test=200)
    _, info = gj.load_judge("fashion_mnist", tmp_path / "judges", *fashion_splits(data))
    assert info["test_accuracy"] > 0.5
