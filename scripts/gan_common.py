"""What every training script shares: datasets, sampling, plots, logs, saving, flags.

Import this module before `keras` in a script: it turns on TensorFlow's oneDNN kernels,
which must happen before TensorFlow is imported.
"""
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import csv
import gzip
import io
import json
import logging
import pickle
import shutil
import signal
import struct
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import h5py
import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

REPO_DIR = Path(__file__).resolve().parent.parent
LOCAL_DATA_DIR = REPO_DIR / "data"
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
GENERATOR_INFO_ATTR = "gan_generator_info"
EVAL_SAMPLES = 2000  # generated images behind each summary's metrics (gan_metrics.py)
_UMASK = os.umask(0)
os.umask(_UMASK)


class _QuietKnownWarnings(logging.Filter):
    """.h5 is the format users load, and measuring predicts batches of several sizes: Keras'
    'legacy format' warning at every snapshot and TensorFlow's retracing warning are noise."""

    def filter(self, record):
        message = record.getMessage()
        return "saving your model as an HDF5 file" not in message and "triggered tf.function retracing" not in message


for _logger in ("absl", "tensorflow"):
    logging.getLogger(_logger).addFilter(_QuietKnownWarnings())


class UserError(Exception):
    """A problem the user can fix; `run_main` prints it as one line and exits non-zero."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped training after a checkpoint was written."""


# ---------------------------------------------------------------------------------------
# Datasets. Each is found in Keras' cache layout under --data-dir, data/, Keras' cache or
# /usr/share/datasets, in that order, and downloaded by Keras' own loader as a last resort.
# ---------------------------------------------------------------------------------------

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
EMNIST_BALANCED_CLASSES = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt")


def _one_line(error):
    return " ".join(str(error).split())


def _read_bytes(path, opener=open):
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"{path} is corrupt or truncated ({_one_line(error)}); delete it and fetch it again")


def _read_idx(path):
    """An IDX file (the MNIST family's format), gzipped, as a uint8 array."""
    data = _read_bytes(path, gzip.open)
    if len(data) < 4 or data[0:3] != b"\x00\x00\x08":
        raise UserError(f"{path} is not a uint8 IDX file; delete it and fetch it again")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", data[4:header]) if len(data) >= header else ()
    if len(dims) != ndim or len(data) != header + int(np.prod(dims)):
        raise UserError(f"{path} is truncated; delete it and fetch it again")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _read_fashion_mnist(paths):
    return _read_idx(paths[0])[..., None], _read_idx(paths[1])


def _read_emnist(paths):
    images = _read_idx(paths[0]).transpose(0, 2, 1)  # EMNIST stores each image transposed
    return images[..., None], _read_idx(paths[1])


def _read_mnist_npz(paths, split):
    try:
        with np.load(paths[0], allow_pickle=False) as f:
            return f[f"x_{split}"][..., None], f[f"y_{split}"]
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise UserError(f"{paths[0]} is corrupt or truncated ({_one_line(error)}); delete it and fetch it again")


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
        raise UserError(f"{name} is not a readable CIFAR-10 batch ({_one_line(error)}); delete it and fetch it again")


def _cifar_members(split):
    return [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]


def _read_cifar10(paths, split):
    if not paths[0].name.startswith(("data_batch", "test_batch")):  # one of the .tar.gz archives
        try:
            with tarfile.open(paths[0], "r:*") as archive:
                raws = [archive.extractfile(f"cifar-10-batches-py/{m}").read() for m in _cifar_members(split)]
        except (OSError, EOFError, KeyError, tarfile.TarError, zlib.error) as error:
            raise UserError(f"{paths[0]} is corrupt or truncated ({_one_line(error)}); delete it and fetch it again")
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
        download=lambda: keras.datasets.fashion_mnist.load_data(),
        source="Keras downloads it; offline: `apt-get install dataset-fashion-mnist`, or the four "
               ".gz files from github.com/zalandoresearch/fashion-mnist into DIR/fashion-mnist/"),
    "mnist": dict(
        title="MNIST", classes=[str(d) for d in range(10)], shape=(28, 28, 1),
        layouts=lambda split: [["mnist.npz"]],
        read=_read_mnist_npz,
        download=lambda: keras.datasets.mnist.load_data(),
        source="Keras downloads it; offline: copy mnist.npz from ~/.keras/datasets of a machine "
               "that has it into DIR/"),
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
        download=lambda: keras.datasets.cifar10.load_data(),
        source="Keras downloads it; offline: cifar-10-python.tar.gz from "
               "www.cs.toronto.edu/~kriz/cifar.html, as it is or unpacked, into DIR/"),
}


def keras_cache_dir():
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def dataset_places(data_dir=None):
    """Folders searched for dataset files, in order."""
    places = [Path(data_dir)] if data_dir else []
    return places + [LOCAL_DATA_DIR, keras_cache_dir(), SYSTEM_DATA_DIR]


def load_dataset(name, data_dir=None, split="train"):
    """(images uint8 NHWC, labels int64) of one split, from the first place that has it."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    spec = DATASETS[name]
    places = dataset_places(data_dir)
    for place in places:
        for layout in spec["layouts"](split):
            paths = [place / rel for rel in layout]
            if all(p.is_file() for p in paths):
                images, labels = spec["read"](paths, split)
                return _checked(name, images, labels, paths[0])
    problem = "it has no download"
    if spec["download"] is not None:
        try:
            (x_train, y_train), (x_test, y_test) = spec["download"]()
        except Exception as error:  # no network, a proxy, a bad cache file: all end the same
            problem = f"the download failed ({type(error).__name__}: {str(error)[:120]})"
        else:
            images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
            images = images if images.ndim == 4 else images[..., None]
            return _checked(name, images, labels, keras_cache_dir())
    wanted = " or ".join("+".join(layout) for layout in spec["layouts"](split))
    raise UserError(f"{spec['title']} ({split}) not found: looked for {wanted} in "
                    f"{', '.join(str(p) for p in places)}, and {problem}. "
                    f"{spec['source']}, then pass --data-dir DIR")


def _checked(name, images, labels, where):
    spec = DATASETS[name]
    labels = np.asarray(labels).reshape(-1).astype("int64")
    if images.shape[1:] != spec["shape"] or images.dtype != np.uint8:
        raise UserError(f"{where}: {spec['title']} images should be uint8 of shape "
                        f"{spec['shape']}, found {images.dtype} {images.shape[1:]}")
    if len(images) != len(labels) or len(images) == 0:
        raise UserError(f"{where}: {len(images)} images but {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= len(spec["classes"]):
        raise UserError(f"{where}: labels should be 0-{len(spec['classes']) - 1}, "
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
# Sampling, as the tutorials write it.
# ---------------------------------------------------------------------------------------

def generate_real_samples(dataset, n_samples, real_target=1.0):
    """Random real images (and labels, when `dataset` is [images, labels]) and their targets."""
    arrays = dataset if isinstance(dataset, (list, tuple)) else [dataset]
    ix = np.random.randint(0, len(arrays[0]), n_samples)
    picked = [a[ix] for a in arrays]
    y = np.full((n_samples, 1), real_target, dtype="float32")
    return (picked if len(picked) > 1 else picked[0]), y


def generate_latent_points(latent_dim, n_samples, n_classes=None):
    """Gaussian latent points, and random class labels when `n_classes` is given."""
    z_input = np.random.randn(n_samples, latent_dim).astype("float32")
    if n_classes is None:
        return z_input
    return [z_input, np.random.randint(0, n_classes, n_samples)]


class _InTrainingMode(keras.layers.Layer):
    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs):
        return self.model(inputs, training=True)


def in_training_mode(g_model):
    """`g_model` as the composite update runs it (BatchNormalization on the batch's statistics,
    dropout on), for predict_on_batch. Keras 3's predict passes training=False, which overrides
    even `training=True` written into a model's layers; a layer whose call takes no `training`
    argument keeps it. The discriminator must learn to reject the fakes the generator is scored
    on, not those of its inference mode. As in the composite update, the generator's
    BatchNormalization moving statistics take in these batches."""
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype) for t in g_model.inputs]
    outputs = _InTrainingMode(g_model)(inputs if len(inputs) > 1 else inputs[0])
    return keras.Model(inputs, outputs, name=f"{g_model.name}_in_training_mode")


BATCHNORM_CHOICES = ["batch-statistics", "trainable", "frozen"]


def _batchnorm_scale_and_shift(layer):
    return [v for v in (layer.gamma, layer.beta) if v is not None]


def unfreeze_discriminator(d_model):
    """Before each discriminator update: every layer and weight trainable again. Setting
    `d_model.trainable = True` is not enough on Keras 3 with TensorFlow: while the flag is
    already True the assignment is skipped, and never reaches layers frozen one by one."""
    for layer in d_model.layers:
        layer.trainable = True
        if isinstance(layer, keras.layers.BatchNormalization):
            for variable in _batchnorm_scale_and_shift(layer):
                variable.trainable = True
    d_model.trainable = True


def freeze_discriminator(d_model, batchnorm):
    """Before a composite update: freeze the discriminator. Its BatchNormalization layers:
    - "batch-statistics": normalise with the batch's own statistics, as in the discriminator's
      own updates, but their gamma and beta are not trained by the generator's loss;
    - "trainable" (the tutorials'): batch statistics, and gamma and beta trained by the
      generator's loss too;
    - "frozen": normalise with their moving statistics, and nothing moves.
    The moving statistics take in the fake batch in the first two (Keras updates them whenever
    a BatchNormalization layer runs on batch statistics)."""
    d_model.trainable = batchnorm != "frozen"
    for layer in d_model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        elif batchnorm == "batch-statistics":
            for variable in _batchnorm_scale_and_shift(layer):
                variable.trainable = False


# ---------------------------------------------------------------------------------------
# Files a run writes. Each is written under a temporary name and renamed into place, so a
# run killed at any moment leaves the previous file whole.
# ---------------------------------------------------------------------------------------

def _atomic(path, write):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def copy_file(source, path):
    _atomic(path, lambda tmp: shutil.copyfile(source, tmp))


def write_text(path, text):
    _atomic(path, lambda tmp: Path(tmp).write_text(text))


def save_grid(images, path, n_cols, col_titles=None, title=None):
    """Images in [-1, 1] as a grid: grey reversed (as the tutorials draw them) or colour."""
    images = np.clip((np.asarray(images) + 1) / 2, 0, 1)
    n_rows = -(-len(images) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols, n_rows + 0.4 * bool(col_titles)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            image = images[k]
            if image.shape[-1] == 1:
                ax.imshow(image[..., 0], cmap="gray_r", vmin=0, vmax=1)
            else:
                ax.imshow(image)
    for ax, label in zip(axes[0], col_titles or []):
        ax.set_title(label, fontsize=8)
    if title:
        fig.suptitle(title)
    _atomic(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def save_class_grid(g_model, latent_dim, class_names, path, title, n_rows=10):
    """A conditional generator's grid: one class per column, `n_rows` random latent points each."""
    n_classes = len(class_names)
    z_input = generate_latent_points(latent_dim, n_rows * n_classes)
    images = g_model.predict_on_batch([z_input, np.tile(np.arange(n_classes), n_rows)])
    save_grid(images, path, n_classes, col_titles=class_names if n_classes <= 10 else None, title=title)


def save_image(image, path):
    """One image in [-1, 1] as a PNG of its own size."""
    pixels = np.clip((np.asarray(image) + 1) * 127.5, 0, 255).round().astype(np.uint8)
    _atomic(path, lambda tmp: Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(tmp, "PNG"))


def save_npz(path, **arrays):
    _atomic(path, lambda tmp: np.savez_compressed(tmp, **arrays))


def load_npz(path, keys, image_shape):
    """uint8 image arrays saved by `save_npz`, checked for their keys and image shape."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in keys}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise UserError(f"{path} is corrupt or truncated ({_one_line(error)}); delete it to prepare it again")
    for key, array in arrays.items():
        if array.shape[1:] != tuple(image_shape) or array.dtype != np.uint8:
            raise UserError(f"{path}: '{key}' should hold uint8 images of shape {tuple(image_shape)}, "
                            f"found {array.dtype} {array.shape[1:]}; delete it to prepare it again")
    return arrays


def save_generator(g_model, path, **info):
    """A generator (or InfoGAN's Q model, or a judge) as .h5, with what sample.py and evaluate.py
    need to know stored inside."""

    def write(tmp):
        g_model.save(tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs[GENERATOR_INFO_ATTR] = json.dumps(info)

    _atomic(path, write)


def read_generator_info(path):
    """The info `save_generator` stored, or a UserError saying why the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get(GENERATOR_INFO_ATTR)
    except OSError:
        raise UserError(f"{path} is not an .h5 model file")
    if raw is None:
        raise UserError(f"{path} is not a generator saved by these scripts (no generator info inside)")
    return json.loads(raw)


def load_generator(path):
    """(model, info) of a generator saved by `save_generator`."""
    info = read_generator_info(path)
    try:
        return keras.models.load_model(path, compile=False), info
    except Exception as error:  # Keras raises many kinds for a damaged model
        raise UserError(f"{path} could not be loaded as a Keras model ({type(error).__name__}: {error})")


def plot_architectures(out_dir, *models):
    """<name>_plot.png for each model through keras.utils.plot_model, or a one-line note
    when Graphviz is not installed."""
    if shutil.which("dot") is None:
        print("note: Graphviz is not installed, so the architecture plots are not drawn "
              "(apt-get install graphviz / brew install graphviz)")
        return
    for model in models:
        keras.utils.plot_model(model, to_file=str(Path(out_dir) / f"{model.name}_plot.png"),
                               show_shapes=True, show_layer_names=True)


def write_csv(path, header, rows):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)

    _atomic(path, write)


def append_csv_row(path, header, row):
    """Add one row to a small CSV (evaluation results), rewriting it whole and atomically."""
    rows = []
    if Path(path).is_file():
        with open(path, newline="") as f:
            rows = list(csv.reader(f))[1:]
    write_csv(path, header, rows + [row])


class LossLog:
    """Per-step losses, written as losses.csv and losses.png, and shown on a progress bar."""

    def __init__(self, out_dir, names):
        self.out_dir = Path(out_dir)
        self.names = list(names)
        self.rows = []
        self.progbar = None

    def start_epoch(self, epoch, n_epochs, steps):
        print(f"Epoch {epoch}/{n_epochs}")
        self.progbar = keras.utils.Progbar(steps, stateful_metrics=self.names)

    def step(self, epoch, step, *losses):
        losses = [float(v) for v in losses]
        for name, value in zip(self.names, losses):
            if not np.isfinite(value):
                raise UserError(f"loss {name} became {value} at epoch {epoch}, step {step}: training "
                                f"diverged and stopped; the snapshots and checkpoint in {self.out_dir} "
                                "are from before it")
        self.rows.append([epoch, step, *losses])
        self.progbar.update(step, values=list(zip(self.names, losses)))

    def save(self):
        write_csv(self.out_dir / "losses.csv", ["epoch", "step", *self.names], self.rows)
        fig, ax = plt.subplots(figsize=(8, 4))
        values = np.array([row[2:] for row in self.rows]).reshape(-1, len(self.names))
        for k, name in enumerate(self.names):
            ax.plot(values[:, k], label=name, linewidth=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        _atomic(self.out_dir / "losses.png", lambda tmp: fig.savefig(tmp, format="png"))
        plt.close(fig)


_STOP = {"training": False, "requested": False}


def _request_stop(signum, frame):
    """While a loop trains, Ctrl-C or SIGTERM asks it to stop after the current step; otherwise,
    or when asked twice, it stops at once (every file is written atomically)."""
    if _STOP["training"] and not _STOP["requested"]:
        _STOP["requested"] = True
        print("\nstopping after this step, to write a checkpoint (again to stop at once)", file=sys.stderr)
        return
    raise KeyboardInterrupt


class Checkpoint:
    """checkpoint.npz in the output folder: every model's variables (weights, moving statistics,
    dropout seeds), both optimizers' state, NumPy's random state, the loss log, the epoch and
    step to go on from, and the settings a resumed run must share."""

    def __init__(self, out_dir, log, models, d_model, gan_model, settings, resume=False, batchnorm="frozen"):
        self.path = Path(out_dir) / "checkpoint.npz"
        self.log, self.models, self.settings = log, models, dict(settings)
        self.optimizers = [d_model.optimizer, gan_model.optimizer]
        self.epoch, self.step = 0, 0
        check_disk(out_dir, models)
        if resume:
            self._build_optimizers(d_model, gan_model, batchnorm)
            self._restore()
        _STOP.update(training=True, requested=False)

    def _build_optimizers(self, d_model, gan_model, batchnorm):
        """With the trainable weights each model trains in the loop, so their state lines up."""
        unfreeze_discriminator(d_model)
        d_model.optimizer.build(d_model.trainable_variables)
        freeze_discriminator(d_model, batchnorm)
        gan_model.optimizer.build(gan_model.trainable_variables)

    def _variables(self):
        groups = [m.variables for m in self.models] + [o.variables for o in self.optimizers]
        return [v for group in groups for v in group]

    def _restore(self):
        if not self.path.is_file():
            raise UserError(f"nothing to resume: no checkpoint in {self.path.parent}")
        try:
            with np.load(self.path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta"]))
                values = [f[f"v{k}"] for k in range(meta["n_variables"])]
                rng = [f[f"rng{k}"] for k in range(5)]
                rows = f["losses"]
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
            raise UserError(f"{self.path} is corrupt or truncated ({_one_line(error)})")
        for key in sorted(set(meta["settings"]) | set(self.settings)):
            if meta["settings"].get(key) != self.settings.get(key):
                raise UserError(f"cannot resume: the checkpoint was made with {key}={meta['settings'].get(key)}, "
                                f"this run has {key}={self.settings.get(key)}")
        variables = self._variables()
        if len(values) != len(variables) or any(tuple(v.shape) != a.shape for v, a in zip(variables, values)):
            raise UserError(f"{self.path} does not match these models; delete it to start afresh")
        for variable, value in zip(variables, values):
            variable.assign(value)
        np.random.set_state((str(rng[0]), rng[1], int(rng[2]), int(rng[3]), float(rng[4])))
        self.log.rows = [[int(r[0]), int(r[1]), *map(float, r[2:])] for r in rows]
        self.epoch, self.step = meta["epoch"], meta["step"]
        print(f"resuming from {self.path}: epoch {self.epoch + 1}, step {self.step + 1}")

    def save(self, epoch, step):
        """The state from which training goes on at `step` (from 0) of `epoch` (from 0)."""
        variables = self._variables()
        meta = dict(epoch=epoch, step=step, settings=self.settings, n_variables=len(variables))
        arrays = {f"v{k}": keras.ops.convert_to_numpy(v.value) for k, v in enumerate(variables)}
        arrays.update({f"rng{k}": np.asarray(part) for k, part in enumerate(np.random.get_state())})
        arrays["losses"] = np.array(self.log.rows, dtype="float64").reshape(len(self.log.rows), -1)
        _atomic(self.path, lambda tmp: np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays))

    def first_step(self, epoch):
        return self.step if epoch == self.epoch else 0

    def step_done(self, epoch, step):
        """After each step: on a stop request, a checkpoint and then Interrupted."""
        if _STOP["requested"]:
            self.save(epoch, step + 1)
            _STOP.update(training=False, requested=False)
            raise Interrupted(f"interrupted at epoch {epoch + 1}, step {step + 1}: checkpoint written to "
                              f"{self.path}; go on with --resume")

    def epoch_done(self, epoch, n_epochs, every):
        if (epoch + 1) % every == 0 or epoch + 1 == n_epochs:
            self.save(epoch + 1, 0)
        if epoch + 1 == n_epochs:
            _STOP["training"] = False


def check_disk(out_dir, models):
    """Room for a generator snapshot and a checkpoint (weights and two Adam moments), before training."""
    needed = 4 * sum(int(np.prod(v.shape)) for m in models for v in m.variables) * 4
    free = shutil.disk_usage(out_dir).free
    if free < needed:
        raise UserError(f"not enough disk space in {out_dir}: {free / 1e6:.0f} MB free, a snapshot and a "
                        f"checkpoint need about {needed / 1e6:.0f} MB")


# ---------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------

def _whole_number(text, minimum):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} must be {minimum} or more")
    return value


def positive_int(text):
    return _whole_number(text, 1)


def non_negative_int(text):
    return _whole_number(text, 0)


def fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 0 and below 1")
    return value


def default_out(name):
    return REPO_DIR / "outputs" / name


def make_parser(doc, *, epochs, batch_size, eval_every, checkpoint_every=1):
    """The flags every training script has, with its top-of-file constants as defaults."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=positive_int, default=epochs)
    parser.add_argument("--batch-size", type=positive_int, default=batch_size)
    parser.add_argument("--steps-per-epoch", type=positive_int, default=None,
                        help="steps per epoch (default: one pass over the dataset)")
    parser.add_argument("--eval-every", type=positive_int, default=eval_every,
                        help="epochs between sample grids and generator snapshots")
    parser.add_argument("--data-dir", default=None, help="a folder holding the dataset files")
    parser.add_argument("--out", default=None, help="output folder (default: outputs/<script>/)")
    parser.add_argument("--seed", type=int, default=None, help="seed for repeatable runs")
    parser.add_argument("--resume", action="store_true", help="go on from the output folder's checkpoint")
    parser.add_argument("--checkpoint-every", type=positive_int, default=checkpoint_every,
                        help="epochs between checkpoints (one is also written on Ctrl-C)")
    parser.add_argument("--eval-samples", type=non_negative_int, default=EVAL_SAMPLES,
                        help="images (Pix2Pix: validation pairs) measured at each summary into metrics.csv; "
                             "0 skips the measuring and the judge")
    return parser


def prepare_run(args, out_name):
    """Seed the run and make sure its output folder can be written, before any training."""
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    out = Path(args.out) if args.out else default_out(out_name)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out).close()
    except OSError as error:
        raise UserError(f"cannot write to the output folder {out} ({error.strerror})")
    return out


def check_batch(n_batch, n_images):
    if n_batch > n_images:
        raise UserError(f"--batch-size {n_batch} is larger than the dataset ({n_images} images)")


def run_main(main, argv=None):
    """Run `main`: a UserError becomes one line on stderr and exit status 2; Ctrl-C and SIGTERM
    stop training after the current step, with a checkpoint (exit status 130)."""
    started = time.time()
    handlers = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as stop:
        print(stop, file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print(f"interrupted after {time.time() - started:.0f} s", file=sys.stderr)
        sys.exit(130)
    finally:
        _STOP.update(training=False, requested=False)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
