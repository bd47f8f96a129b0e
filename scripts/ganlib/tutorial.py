"""The tutorials' helpers: latent points, real samples, fakes in training mode, the discriminator's
freeze and unfreeze, a class grid, and saving and loading a generator with what it is."""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import contextlib
import shutil
from pathlib import Path

import keras
import numpy as np

from ganlib.atomic_files import UserError, arrays_digest, atomic_write
from ganlib.images import save_grid
from ganlib.kinds import KINDS, check_shapes, kind_of
from ganlib.saved import read_generator_info, write_info


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


@contextlib.contextmanager
def numpy_random_state_kept():
    """Measuring (and training a judge) draws random numbers; putting NumPy's state back keeps the
    GAN's training exactly what it would be without measuring, cached judge or not."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def fake_targets(images, target_shape=(1,)):
    """The discriminator's targets for fakes: zeros, one per image (a patch of them for Pix2Pix)."""
    return np.zeros((images.shape[0], *target_shape), dtype="float32")


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


def freeze_discriminator(d_model, batchnorm="frozen"):
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


def save_class_grid(g_model, latent_dim, class_names, path, title, n_rows=10):
    """A conditional generator's grid: one class per column, `n_rows` random latent points each."""
    n_classes = len(class_names)
    z_input = generate_latent_points(latent_dim, n_rows * n_classes)
    images = g_model.predict_on_batch([z_input, np.tile(np.arange(n_classes), n_rows)])
    save_grid(images, path, n_classes, col_titles=class_names if n_classes <= 10 else None, title=title)


def save_generator(g_model, path, **info):
    """A generator (or InfoGAN's Q model, or a judge) as .h5, with what sample.py and evaluate.py
    need to know stored inside, and the checksum of its weights; returns that info. The
    optimizer's state stays out: it is the checkpoint's."""
    info = dict(info, weights_sha256=arrays_digest(g_model.get_weights()))

    def write(tmp):
        g_model.save(tmp, include_optimizer=False)
        write_info(tmp, info)

    atomic_write(path, write)
    return info


def load_generator(path, verify=True):
    """(model, info) of a generator saved by `save_generator`, its weights checked against the
    checksum saved with them (`verify=False`: the whole file was checked already). A file saved
    before the checksums loads with a one-line note."""
    info = read_generator_info(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a damaged model
        raise UserError(f"{path} could not be loaded as a Keras model ({type(error).__name__}: {error})")
    if KINDS.get(info.get("kind")) is not None:
        kind_of(info, path, generator=False)
        check_shapes(info, [tuple(t.shape[1:]) for t in model.inputs], tuple(model.outputs[0].shape[1:]), path)
    if verify and "weights_sha256" not in info:
        print(f"note: {path} carries no checksum of its weights (saved by an older version), so they are not checked")
    elif verify and arrays_digest(model.get_weights()) != info["weights_sha256"]:
        raise UserError(f"{path} is damaged: its weights are not the ones saved (their checksum differs); "
                        "use another snapshot")
    return model, info


def plot_architectures(out_dir, *models):
    """<name>_plot.png for each model through keras.utils.plot_model; none when Graphviz is not
    installed, which the report page says, with how to install it."""
    if shutil.which("dot") is None:
        return
    for model in models:
        atomic_write(Path(out_dir) / f"{model.name}_plot.png",
                     lambda tmp, model=model: keras.utils.plot_model(model, to_file=tmp, show_shapes=True,
                                                                     show_layer_names=True))
