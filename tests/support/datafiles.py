"""Tiny datasets written in each dataset's real on-disk format, for the real loaders to read."""
import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np


def patterned_images(n, shape, n_classes, seed=0):
    """uint8 images whose mean brightness grows with the label, and labels cycling over classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    base = (labels * (200 // n_classes)).reshape((n,) + (1,) * len(shape))
    images = np.clip(base + rng.integers(0, 50, (n, *shape)), 0, 255).astype(np.uint8)
    return images, labels.astype(np.uint8)


def banded_images(n, shape, n_classes, seed=0):
    """uint8 images of faint noise with one bright band whose row is the label, and labels cycling
    over classes: a class that a small network reads at once, and a generator can learn in a test."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    images = rng.integers(0, 40, (n, *shape)).astype(np.uint8)
    for image, label in zip(images, labels):
        image[4 + 2 * label:6 + 2 * label, 4:24] = 255
    return images, labels.astype(np.uint8)


def write_idx(path, array):
    """The IDX format of the MNIST family (magic 0x0000 08 ndim, big-endian sizes), gzipped."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_fashion_mnist(root, n=64, n_test=20, make_images=patterned_images):
    for prefix, count, seed in (("train", n, 0), ("t10k", n_test, 1)):
        images, labels = make_images(count, (28, 28, 1), 10, seed)
        write_idx(Path(root) / "fashion-mnist" / f"{prefix}-images-idx3-ubyte.gz", images[..., 0])
        write_idx(Path(root) / "fashion-mnist" / f"{prefix}-labels-idx1-ubyte.gz", labels)


def write_mnist_npz(root, n=64, n_test=20):
    x_train, y_train = patterned_images(n, (28, 28, 1), 10, 2)
    x_test, y_test = patterned_images(n_test, (28, 28, 1), 10, 3)
    Path(root).mkdir(parents=True, exist_ok=True)
    np.savez_compressed(Path(root) / "mnist.npz", x_train=x_train[..., 0], y_train=y_train,
                        x_test=x_test[..., 0], y_test=y_test)


def write_emnist_balanced(root, n=94, n_test=47):
    """EMNIST stores every image transposed; this writes them that way, as the real files do."""
    for split, count, seed in (("train", n, 4), ("test", n_test, 5)):
        images, labels = patterned_images(count, (28, 28, 1), 47, seed)
        folder = Path(root) / "emnist"
        write_idx(folder / f"emnist-balanced-{split}-images-idx3-ubyte.gz", images[..., 0].transpose(0, 2, 1))
        write_idx(folder / f"emnist-balanced-{split}-labels-idx1-ubyte.gz", labels)


def cifar_batches(n_per_batch=12):
    """{file name: (images NHWC, labels)} for the five training batches and the test batch."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: patterned_images(n_per_batch, (32, 32, 3), 10, 10 + k) for k, name in enumerate(names)}


def cifar_pickle(images, labels):
    """One batch as the CIFAR-10 python version pickles it: bytes keys, rows of R, G, B planes."""
    batch = {b"batch_label": b"tiny batch", b"labels": [int(v) for v in labels],
             b"data": images.transpose(0, 3, 1, 2).reshape(len(images), 3072),
             b"filenames": [f"img_{k}.png".encode() for k in range(len(images))]}
    return pickle.dumps(batch, protocol=2)


def write_cifar10_folder(folder, batches):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (images, labels) in batches.items():
        (folder / name).write_bytes(cifar_pickle(images, labels))


def write_cifar10_archive(path, batches):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, (images, labels) in batches.items():
            raw = cifar_pickle(images, labels)
            member = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            member.size = len(raw)
            archive.addfile(member, io.BytesIO(raw))


SATELLITE_COLOUR, MAP_COLOUR = (200, 40, 40), (40, 40, 200)


def write_maps_pair(path, size=(1200, 600)):
    """A maps-style JPEG pair: the satellite half (left) red, the map half (right) blue."""
    from PIL import Image
    width, height = size
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = SATELLITE_COLOUR
    pixels[:, width // 2:] = MAP_COLOUR
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG", quality=95)


def write_maps_folder(root, n_train=3, n_val=2, broken=True):
    for split, count in (("train", n_train), ("val", n_val)):
        for k in range(count):
            write_maps_pair(Path(root) / "maps" / split / f"{k + 1}.jpg")
    if broken:
        (Path(root) / "maps" / "train" / "broken.jpg").write_text("not a JPEG")
