"""Where a run computes: data-parallel training on several devices through Keras' own
`keras.distribution`, and mixed precision. Both are chosen before the models are built, the same
way by every training script (`--devices`, `--mixed-precision`) and by benchmark.py.

Data parallel (JAX): `DataParallel` keeps the weights replicated on every device and splits each
`train_on_batch` batch between them, so the global batch stays `--batch-size`. Measuring and
sampling run outside it, on whole batches of any size (`splitting_batches`). TensorFlow's
`MirroredStrategy` gives every replica the whole batch under `train_on_batch`, so TensorFlow is
refused above one device. Under mixed precision each model's last layer computes in float32
(`dtype="float32"` in the scripts), and `compile()` wraps both optimizers in loss scaling.
"""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import argparse
import contextlib

import keras

from gan_files import UserError

PRECISIONS = ["float16", "bfloat16"]  # Keras' mixed_float16 and mixed_bfloat16 policies


def devices_flag(text):
    """--devices: a positive count, or "all"."""
    if text == "all":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number of devices nor 'all'")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def add_flags(parser):
    parser.add_argument("--devices", type=devices_flag, default=1,
                        help="devices to train on, data-parallel (a number, or all): JAX backend only; "
                             "the batch is split between them")
    parser.add_argument("--mixed-precision", nargs="?", const="float16", choices=PRECISIONS, default=None,
                        help="compute in float16 (or bfloat16: TPUs) with float32 weights and loss scaling; "
                             "for GPUs: refused on a CPU, where it is about 10x slower")


def has_accelerator():
    return any(not device.startswith("cpu") for device in keras.distribution.list_devices())


def use_precision(precision, cpu_allowed=False):
    """Keras' mixed_<precision> policy for every model built from now on; None keeps float32."""
    if precision is None:
        return "float32"
    if not cpu_allowed and not has_accelerator():
        raise UserError(f"--mixed-precision: this machine has no GPU or TPU, and on a CPU {precision} trains about "
                        "10x slower than float32 (README, \"Scaling out\"); leave it off here")
    keras.mixed_precision.set_global_policy(f"mixed_{precision}")
    return f"mixed_{precision}"


def check_devices(requested):
    """The number of devices `requested` (a number or "all") means here, or one line on why not."""
    if requested == 1:
        return 1
    backend = keras.backend.backend()
    if backend != "jax":
        raise UserError(f"--devices {requested}: data-parallel training runs on the JAX backend here "
                        f"(KERAS_BACKEND=jax); on {backend} train on one device")
    devices = keras.distribution.list_devices()
    count = len(devices) if requested == "all" else requested
    if count > len(devices):
        raise UserError(f"--devices {count}: this machine has {len(devices)} ({', '.join(devices)})")
    return count


def use_devices(requested, batch_size, split=2):
    """Data parallel on `requested` devices (a number or "all") for the models built from now on;
    1 leaves Keras alone. Each discriminator update takes 1/`split` of a batch (2: the real and
    the fake halves; Pix2Pix 1), and every device must get the same share of it."""
    count = check_devices(requested)
    if count == 1:
        return
    if batch_size % (split * count):
        half = "half a batch" if split == 2 else "a batch"
        raise UserError(f"--batch-size {batch_size} does not split over {count} devices: each discriminator update "
                        f"takes {half}, so use a multiple of {split * count}")
    devices = keras.distribution.list_devices()[:count]
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))


def device_count(distribution):
    return distribution.device_mesh.shape[0] if distribution else 1


@contextlib.contextmanager
def splitting_batches(distribution):
    """`distribution` (None: one device) in force inside the block, where train_on_batch splits its
    batches; outside, predict() and evaluate() take batches of any size on the replicated weights
    (inside, a batch that does not split fails, and leaves the model unusable)."""
    if distribution is None:
        yield
        return
    keras.distribution.set_distribution(distribution)
    try:
        yield
    finally:
        keras.distribution.set_distribution(None)
