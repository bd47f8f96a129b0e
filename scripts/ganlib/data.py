"""Datasets and their file layouts. Each is found in Keras' cache layout under --data-dir, data/,
Keras' cache or /usr/share/datasets, in that order, and downloaded by Keras' own loader as a
last resort (the only use of Keras here, so that files are looked for before Keras loads)."""
import gzip
import io
import os
import pickle
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganlib.atomic_files import REPO_DIR, UserError, load_npz, one_line, save_npz

LOCAL_DATA_DIR = REPO_DIR / "data"
SYSTEM_DATA_DIR = Path("/usr/share/datasets")

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
EMNIST_BALANCED_CLASSES = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt")
MAPS_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/maps.tar.gz"
MAPS_PREPARED = {"train": "maps_256.npz", "val": "maps_256_val.npz"}
MAPS_IMAGE_SHAPE = (256, 256, 3)


def _read_bytes(path, opener=open):
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"{path} is corrupt or truncated ({one_line(error)}); delete it and fetch it again")


def _read_idx(path, ndim):
    """An IDX file (the MNIST family's format), gzipped, as a uint8 array of `ndim` dimensions
    (3 for images, 1 for labels)."""
    data = _read_bytes(path, gzip.open)
    if len(data) < 4 or data[0:3] != b"\x00\x00\x08":
        raise UserError(f"{path} is not a uint8 IDX file; delete it and fetch it again")
    if data[3] != ndim:
        raise UserError(f"{path} holds {data[3]}-dimensional data where {'images' if ndim == 3 else 'labels'} "
                        f"({ndim}-dimensional) belong; is it the right file?")
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header]) if len(data) >= header else ()
    if len(dims) != ndim or len(data) != header + int(np.prod(dims)):
        raise UserError(f"{path} is truncated; delete it and fetch it again")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _read_fashion_mnist(paths):
    return _read_idx(paths[0], 3)[..., None], _read_idx(paths[1], 1)


def _read_emnist(paths):
    images = _read_idx(paths[0], 3).transpose(0, 2, 1)  # EMNIST stores each image transposed
    return images[..., None], _read_idx(paths[1], 1)


def _read_mnist_npz(paths, split):
    try:
        with np.load(paths[0], allow_pickle=False) as f:
            return f[f"x_{split}"][..., None], f[f"y_{split}"]
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise UserError(f"{paths[0]} is corrupt or truncated ({one_line(error)}); delete it and fetch it again")


class _CifarUnpickler(pickle.Unpickler):
    """Loads only the NumPy arrays a CIFAR-10 batch holds, never arbitrary objects."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} does not belong in a CIFAR-10 batch")


def _cifar_batch(raw, name):
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
        images = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return images, np.asarray(batch[b"labels"])
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, AttributeError) as error:
        raise UserError(f"{name} is not a readable CIFAR-10 batch ({one_line(error)}); delete it and fetch it again")


def _cifar_members(split):
    return [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]


def _read_cifar10(paths, split):
    if not paths[0].name.startswith(("data_batch", "test_batch")):  # one of the .tar.gz archives
        try:
            with tarfile.open(paths[0], "r:*") as archive:
                raws = [archive.extractfile(f"cifar-10-batches-py/{m}").read() for m in _cifar_members(split)]
        except (OSError, EOFError, KeyError, tarfile.TarError, zlib.error) as error:
            raise UserError(f"{paths[0]} is corrupt or truncated ({one_line(error)}); delete it and fetch it again")
        batches = [_cifar_batch(raw, f"{paths[0]}:{m}") for raw, m in zip(raws, _cifar_members(split))]
    else:
        batches = [_cifar_batch(_read_bytes(p), p) for p in paths]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def _cifar_layouts(split):
    members = _cifar_members(split)
    return [[f"cifar-10-batches-py/{m}" for m in members],
            [f"cifar-10-batches-py-target/cifar-10-batches-py/{m}" for m in members],
            ["cifar-10-python.tar.gz"],
            ["cifar-10-batches-py.tar.gz"],
            ["cifar-10-batches-py-target_archive"]]


def _idx_pair(folder, prefix, tail=""):
    return [[f"{folder}/{prefix}-images-idx3-ubyte{tail}.gz", f"{folder}/{prefix}-labels-idx1-ubyte{tail}.gz"]]


DATASETS = {
    "fashion_mnist": dict(
        title="Fashion-MNIST", classes=FASHION_CLASSES, shape=(28, 28, 1),
        layouts=lambda split: _idx_pair("fashion-mnist", "train" if split == "train" else "t10k"),
        read=lambda paths, split: _read_fashion_mnist(paths),
        download=lambda: _keras().datasets.fashion_mnist.load_data(),
        source="offline: `apt-get install dataset-fashion-mnist`, or put train-images-idx3-ubyte.gz and "
               "the three other .gz files from github.com/zalandoresearch/fashion-mnist in DIR/fashion-mnist/"),
    "mnist": dict(
        title="MNIST", classes=[str(d) for d in range(10)], shape=(28, 28, 1),
        layouts=lambda split: [["mnist.npz"]],
        read=_read_mnist_npz,
        download=lambda: _keras().datasets.mnist.load_data(),
        source="offline: copy mnist.npz from ~/.keras/datasets of a machine that has it into DIR/"),
    "emnist": dict(
        title="EMNIST-balanced", classes=EMNIST_BALANCED_CLASSES, shape=(28, 28, 1),
        layouts=lambda split: [[f"emnist/emnist-balanced-{split}-images-idx3-ubyte.gz",
                                f"emnist/emnist-balanced-{split}-labels-idx1-ubyte.gz"]],
        read=lambda paths, split: _read_emnist(paths),
        download=None,
        source="Keras has no EMNIST loader: unpack the 'gzip' archive from "
               "www.nist.gov/itl/products-and-services/emnist-dataset and put the four "
               "emnist-balanced-*-ubyte.gz files in DIR/emnist/"),
    "cifar10": dict(
        title="CIFAR-10", classes=CIFAR10_CLASSES, shape=(32, 32, 3),
        layouts=_cifar_layouts,
        read=_read_cifar10,
        download=lambda: _keras().datasets.cifar10.load_data(),
        source="offline: put cifar-10-python.tar.gz from www.cs.toronto.edu/~kriz/cifar.html, as it is or "
               "unpacked, in DIR/"),
}


def _keras():
    import ganlib.start  # noqa: F401  first: the backend started before Keras loads
    import keras
    return keras


def keras_cache_dir():
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def dataset_places(data_dir=None):
    """Folders searched for dataset files, in order."""
    places = [Path(data_dir)] if data_dir else []
    return places + [LOCAL_DATA_DIR, keras_cache_dir(), SYSTEM_DATA_DIR]


def load_dataset(name, data_dir=None, split="train", quiet=False):
    """(images uint8 NHWC, labels int64) of one split, from the first place that has it; where
    that is not --data-dir, a note says so (once a run: for its training split, unless `quiet`)."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    spec = DATASETS[name]
    places = dataset_places(data_dir)
    for place in places:
        for layout in spec["layouts"](split):
            paths = [place / rel for rel in layout]
            if all(p.is_file() for p in paths):
                if data_dir and place != places[0] and split == "train" and not quiet:
                    print(f"note: {spec['title']} ({split}) is not in --data-dir {data_dir}: using {paths[0].parent}")
                images, labels = spec["read"](paths, split)
                return _checked(name, images, labels, paths)
    problem = "it has no download"
    if spec["download"] is not None:
        try:
            (x_train, y_train), (x_test, y_test) = spec["download"]()
        except Exception as error:  # no network, a proxy, a bad cache file: all end the same
            problem = f"the download failed ({download_failure(error)})"
        else:
            images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
            images = images if images.ndim == 4 else images[..., None]
            return _checked(name, images, labels, [keras_cache_dir()])
    raise UserError(f"{spec['title']} ({split}) not found in {', '.join(str(p) for p in places)}, and {problem}; "
                    f"{spec['source']}, then pass --data-dir DIR")


def download_failure(error):
    """The cause of a failed download, whole and short: Keras' "URL fetch failure on URL: None --
    [Errno -2] Name or service not known" becomes its last part."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text.rsplit(" -- ", 1)[-1]


def _checked(name, images, labels, paths):
    """The images and labels, checked; `paths`: the files they came from, images first (labels
    last, where they have a file of their own)."""
    spec = DATASETS[name]
    labels = np.asarray(labels).reshape(-1).astype("int64")
    if images.shape[1:] != spec["shape"] or images.dtype != np.uint8:
        raise UserError(f"{paths[0]}: {spec['title']} images should be uint8 of shape "
                        f"{spec['shape']}, found {images.dtype} {images.shape[1:]}")
    if len(images) != len(labels) or len(images) == 0:
        raise UserError(f"{paths[-1]}: {len(images)} images but {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= len(spec["classes"]):
        raise UserError(f"{paths[-1]}: labels should be 0-{len(spec['classes']) - 1}, "
                        f"found {labels.min()}-{labels.max()}")
    return images, labels


def select_classes(images, labels, name, wanted):
    """Only the images of the classes named in `wanted` (all of them when it is empty)."""
    classes = DATASETS[name]["classes"]
    unknown = [c for c in wanted if c not in classes]
    if unknown:
        raise UserError(f"unknown {DATASETS[name]['title']} class {unknown[0]!r}; "
                        f"choose from {', '.join(classes)}")
    if not wanted:
        return images, labels
    keep = np.isin(labels, [classes.index(c) for c in wanted])
    return images[keep], labels[keep]


def scale_images(images):
    """uint8 pixels [0, 255] -> float32 [-1, 1], the range of the generators' tanh."""
    return (images.astype("float32") - 127.5) / 127.5


# ---------------------------------------------------------------------------------------
# Pix2Pix's Berkeley maps pairs: not a Keras dataset, so in --data-dir or data/ only.
# ---------------------------------------------------------------------------------------

def load_pair(path):
    """A 1200x600 maps JPEG as (satellite, map), each 256x256x3 uint8, or None if unreadable."""
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB").resize((512, 256), Image.BILINEAR))
    except (UnidentifiedImageError, OSError):
        return None
    return pixels[:, :256], pixels[:, 256:]


def load_images(folder):
    """Every pair in one folder of the maps dataset, with a progress bar; unreadable files skipped."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    sat_list, map_list, skipped = [], [], []
    progbar = _keras().utils.Progbar(len(files))
    for k, path in enumerate(files):
        pair = load_pair(path)
        if pair is None:
            print(f"\nwarning: skipped {path}: not a readable image")
            skipped.append(path)
        else:
            sat_list.append(pair[0])
            map_list.append(pair[1])
        progbar.update(k + 1)
    if not sat_list:
        raise UserError(f"no readable image in {folder}")
    return np.stack(sat_list), np.stack(map_list), skipped


def find_maps(data_dir=None):
    """The folder holding maps/ or the prepared arrays: --data-dir, else data/."""
    places = [Path(data_dir)] if data_dir else [LOCAL_DATA_DIR]
    for place in places:
        if (place / MAPS_PREPARED["train"]).is_file() or (place / "maps" / "train").is_dir():
            return place
    raise UserError(f"the maps dataset is not in {', '.join(str(p) for p in places)}: download "
                       f"{MAPS_URL} and unpack it there (giving {places[0] / 'maps' / 'train'}/), "
                       "or pass --data-dir DIR")


def prepare_maps(place):
    """maps/train and maps/val (when present) -> maps_256.npz and maps_256_val.npz."""
    skipped = []
    for split, filename in MAPS_PREPARED.items():
        folder = place / "maps" / split
        if not folder.is_dir():
            if split == "train":
                raise UserError(f"{folder} is missing: unpack {MAPS_URL} into {place}")
            continue
        print(f"preparing {folder}")
        sat_images, map_images, skipped_here = load_images(folder)
        skipped += skipped_here
        save_npz(place / filename, sat=sat_images, map=map_images)
        print(f"wrote {place / filename}: {len(sat_images)} pairs")
    print(f"skipped {len(skipped)} unreadable file(s)")


def load_maps(data_dir=None, split="train", direction="sat2map"):
    """[source images, target images] in [-1, 1], preparing the arrays first when missing; None
    when the split is not there (maps/val/ is optional)."""
    place = find_maps(data_dir)
    if not (place / MAPS_PREPARED["train"]).is_file():
        prepare_maps(place)
    path = place / MAPS_PREPARED[split]
    if not path.is_file():
        return None
    arrays = load_npz(path, ["sat", "map"], MAPS_IMAGE_SHAPE)
    sat_images, map_images = (scale_images(arrays[k]) for k in ("sat", "map"))
    return [sat_images, map_images] if direction == "sat2map" else [map_images, sat_images]
