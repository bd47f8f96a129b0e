"""The loaders read every on-disk format and place, and say clearly what is wrong."""
import gzip
import shutil

import numpy as np
import pytest

import datafiles
from ganlib import data as gd
from ganlib import atomic_files as gf


def test_fashion_mnist_idx_files_both_splits(tiny_data):
    images, labels = gd.load_dataset("fashion_mnist", tiny_data)
    expected, expected_labels = datafiles.patterned_images(64, (28, 28, 1), 10, 0)
    assert images.shape == (64, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(labels, expected_labels)
    test_images, _ = gd.load_dataset("fashion_mnist", tiny_data, split="test")
    assert test_images.shape == (20, 28, 28, 1)


def test_mnist_npz(tiny_data):
    images, labels = gd.load_dataset("mnist", tiny_data)
    expected, expected_labels = datafiles.patterned_images(64, (28, 28, 1), 10, 2)
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(labels, expected_labels)
    assert gd.load_dataset("mnist", tiny_data, split="test")[0].shape == (20, 28, 28, 1)


def test_emnist_balanced_is_transposed_back_upright(tiny_data):
    images, labels = gd.load_dataset("emnist", tiny_data)
    expected, expected_labels = datafiles.patterned_images(94, (28, 28, 1), 47, 4)
    np.testing.assert_array_equal(images, expected)
    assert labels.max() == 46 and len(gd.DATASETS["emnist"]["classes"]) == 47


@pytest.mark.parametrize("layout", ["folder", "keras36_target_folder", "official_archive",
                                    "keras2_archive", "keras36_archive"])
def test_cifar10_every_cache_layout(tmp_path, layout):
    batches = datafiles.cifar_batches()
    if layout == "folder":
        datafiles.write_cifar10_folder(tmp_path / "cifar-10-batches-py", batches)
    elif layout == "keras36_target_folder":
        datafiles.write_cifar10_folder(tmp_path / "cifar-10-batches-py-target" / "cifar-10-batches-py", batches)
    else:
        name = {"official_archive": "cifar-10-python.tar.gz", "keras2_archive": "cifar-10-batches-py.tar.gz",
                "keras36_archive": "cifar-10-batches-py-target_archive"}[layout]
        datafiles.write_cifar10_archive(tmp_path / name, batches)
    images, labels = gd.load_dataset("cifar10", tmp_path)
    expected = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert images.shape == (60, 32, 32, 3)
    np.testing.assert_array_equal(images, expected)  # channels come back in R, G, B order
    test_images, test_labels = gd.load_dataset("cifar10", tmp_path, split="test")
    np.testing.assert_array_equal(test_images, batches["test_batch"][0])
    np.testing.assert_array_equal(test_labels, batches["test_batch"][1])


def test_places_are_searched_in_order(tmp_path, monkeypatch):
    first, cache = tmp_path / "first", tmp_path / "keras_home"
    datafiles.write_mnist_npz(first, n=30)
    datafiles.write_mnist_npz(cache / "datasets", n=50)
    monkeypatch.setenv("KERAS_HOME", str(cache))
    assert len(gd.load_dataset("mnist", first)[0]) == 30
    assert len(gd.load_dataset("mnist", None)[0]) == 50  # Keras' cache when no --data-dir has it
    monkeypatch.setattr(gd, "SYSTEM_DATA_DIR", first)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "nothing"))
    assert len(gd.load_dataset("mnist", None)[0]) == 30  # then the system folder


def test_download_is_the_last_resort(tmp_path, monkeypatch):
    x, y = datafiles.patterned_images(12, (28, 28), 10)
    monkeypatch.setitem(gd.DATASETS["fashion_mnist"], "download", lambda: ((x, y), (x[:2], y[:2])))
    images, labels = gd.load_dataset("fashion_mnist", tmp_path)
    assert images.shape == (12, 28, 28, 1)
    assert gd.load_dataset("fashion_mnist", tmp_path, split="test")[0].shape == (2, 28, 28, 1)


def test_missing_dataset_names_files_places_and_the_failed_download(tmp_path):
    with pytest.raises(gf.UserError) as error:
        gd.load_dataset("fashion_mnist", tmp_path)
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path) in message
    assert "download failed" in message and "no network" in message and "\n" not in message


def test_missing_emnist_says_it_has_no_download(tmp_path):
    with pytest.raises(gf.UserError, match="has no download.*emnist-balanced"):
        gd.load_dataset("emnist", tmp_path)


def test_unknown_dataset():
    with pytest.raises(gf.UserError, match="unknown dataset 'svhn'"):
        gd.load_dataset("svhn")


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("damage", ["truncated_gzip", "not_gzip", "short_idx", "truncated_npz",
                                    "corrupt_pickle", "truncated_archive"])
def test_damaged_files_are_named(tmp_path, tiny_data, damage):
    shutil.copytree(tiny_data, tmp_path, dirs_exist_ok=True)
    name, target = {
        "truncated_gzip": ("fashion_mnist", "fashion-mnist/train-images-idx3-ubyte.gz"),
        "not_gzip": ("fashion_mnist", "fashion-mnist/train-labels-idx1-ubyte.gz"),
        "short_idx": ("fashion_mnist", "fashion-mnist/train-images-idx3-ubyte.gz"),
        "truncated_npz": ("mnist", "mnist.npz"),
        "corrupt_pickle": ("cifar10", "cifar-10-batches-py/data_batch_3"),
        "truncated_archive": ("cifar10", "cifar-10-python.tar.gz"),
    }[damage]
    path = tmp_path / target
    if damage == "not_gzip":
        path.write_text("<html>404 Not Found</html>")
    elif damage == "short_idx":
        with gzip.open(path, "rb") as f:
            raw = f.read()
        with gzip.open(path, "wb") as f:
            f.write(raw[:-100])
    elif damage == "corrupt_pickle":
        path.write_bytes(b"\x80\x02garbage")
    elif damage == "truncated_archive":
        shutil.rmtree(tmp_path / "cifar-10-batches-py")
        datafiles.write_cifar10_archive(path, datafiles.cifar_batches())
        truncate(path)
    else:
        truncate(path)
    with pytest.raises(gf.UserError) as error:
        gd.load_dataset(name, tmp_path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_images_of_the_wrong_size_are_refused(tmp_path):
    images, labels = datafiles.patterned_images(10, (32, 32), 10)
    datafiles.write_idx(tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz", images)
    datafiles.write_idx(tmp_path / "fashion-mnist" / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(gf.UserError, match=r"shape \(28, 28, 1\), found uint8 \(32, 32, 1\)"):
        gd.load_dataset("fashion_mnist", tmp_path)


def test_labels_out_of_range_are_refused(tmp_path):
    images, _ = datafiles.patterned_images(10, (28, 28), 10)
    datafiles.write_idx(tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz", images)
    datafiles.write_idx(tmp_path / "fashion-mnist" / "train-labels-idx1-ubyte.gz", np.full(10, 12, np.uint8))
    with pytest.raises(gf.UserError, match="labels should be 0-9, found 12-12"):
        gd.load_dataset("fashion_mnist", tmp_path)


def test_a_labels_file_where_images_belong_is_named_as_such(tmp_path):
    datafiles.write_fashion_mnist(tmp_path)
    folder = tmp_path / "fashion-mnist"
    (folder / "train-images-idx3-ubyte.gz").write_bytes((folder / "train-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(gf.UserError, match=r"train-images-idx3-ubyte.gz holds 1-dimensional data where images "
                                           r"\(3-dimensional\) belong; is it the right file\?"):
        gd.load_dataset("fashion_mnist", tmp_path)
