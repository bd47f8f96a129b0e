"""Where a run computes: data-parallel training on several devices, and on several processes,
through Keras' own `keras.distribution`, and mixed precision. Both are chosen before the models
are built, the same way by every training script (`--devices`, `--mixed-precision`) and by
benchmark.py.

Data parallel (JAX): `DataParallel` keeps the weights replicated on every device and splits each
`train_on_batch` batch between them, so the global batch stays `--batch-size`. Measuring and
sampling run outside it, on whole batches of any size (`splitting_batches`). TensorFlow's
`MirroredStrategy` gives every replica the whole batch under `train_on_batch`, so TensorFlow is
refused above one device. Under mixed precision each model's last layer computes in float32
(`dtype="float32"` in the scripts), and `compile()` wraps both optimizers in loss scaling.

Several processes (JAX; joined in start.py): `DataParallel` spans every process's devices.
Every process draws the same whole batch (one seed, one random state) and feeds train_on_batch
its own share of the rows (step.py), from which Keras assembles the global batch: P
processes of D devices compute what one process of P x D devices computes. They agree on the
settings at the start (`agree_on_settings`) and on Ctrl-C after every step (`any_process`).
"""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import contextlib
import json
import time

import keras
import numpy as np

from ganlib.atomic_files import UserError

ROLL_CALL_SECONDS = 20  # after a failed step, how long the processes still running wait for each other
NOT_COMPARED = {"data_dir", "judge_dir"}  # settings that may differ between processes: where each finds files


def has_accelerator():
    """Whether a GPU or TPU is here. Keras' device list has no PyTorch implementation: PyTorch
    answers itself."""
    if keras.backend.backend() == "torch":
        import torch
        return torch.cuda.is_available()
    return any(not device.startswith("cpu") for device in keras.distribution.list_devices())


def use_precision(precision, cpu_allowed=False):
    """Keras' mixed_<precision> policy for every model built from now on; None keeps float32."""
    if precision is None:
        return "float32"
    if not cpu_allowed and not has_accelerator():
        raise UserError(f"--mixed-precision: this machine has no GPU or TPU, and on a CPU {precision} trains about "
                        "10x slower than float32 (docs/scaling.md); leave it off here")
    keras.mixed_precision.set_global_policy(f"mixed_{precision}")
    return f"mixed_{precision}"


def processes():
    """(this process's index, the number of processes in the run): (0, 1) in a run of one."""
    if keras.backend.backend() != "jax":
        return 0, 1
    import jax
    return jax.process_index(), jax.process_count()


def check_devices(requested):
    """The number of devices `requested` (a number, "all", or None: the default) means here, or one
    line on why not. A run of several processes trains on every device of every process."""
    n_processes = processes()[1]
    if requested is None:
        requested = "all" if n_processes > 1 else 1
    if requested == 1 and n_processes == 1:
        return 1
    backend = keras.backend.backend()
    if backend != "jax":
        raise UserError(f"--devices {requested}: data-parallel training runs on the JAX backend here "
                        f"(KERAS_BACKEND=jax); on {backend} train on one device")
    devices = keras.distribution.list_devices()
    count = len(devices) if requested == "all" else requested
    if n_processes > 1 and count != len(devices):
        raise UserError(f"--devices {requested}: a run of {n_processes} processes trains on every device of every "
                        f"process (--devices all: {len(devices)} here)")
    if count > len(devices):
        raise UserError(f"--devices {count}: this machine has {len(devices)} ({', '.join(devices)})")
    return count


def use_devices(requested, batch_size, split=2, flag="--batch-size"):
    """Data parallel on `requested` devices (a number or "all") for the models built from now on;
    1 leaves Keras alone. Each discriminator update takes 1/`split` of a batch (2: the real and
    the fake halves; Pix2Pix 1), and every device must get the same share of it."""
    count = check_devices(requested)
    if count == 1:
        return
    if batch_size % (split * count):
        half = "half a batch" if split == 2 else "a batch"
        raise UserError(f"{flag} {batch_size} does not split over {count} devices: each discriminator update "
                        f"takes {half}, so use a multiple of {split * count}")
    devices = keras.distribution.list_devices()[:count]
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))


def gathered_texts(text):
    """Every process's `text`, by process index (a collective: every process calls it)."""
    from jax.experimental import multihost_utils
    data = np.frombuffer(text.encode(), np.uint8)
    lengths = np.ravel(multihost_utils.process_allgather(np.array([len(data)])))
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[:len(data)] = data
    rows = multihost_utils.process_allgather(padded)
    return [bytes(row[:length]).decode() for row, length in zip(np.asarray(rows), lengths)]


def agree_on_settings(settings):
    """In a run of several processes: every process's settings are process 0's (the same script,
    flags and constants), else one line naming the first that differ, on every process; and one
    seed for all, process 0's draw when --seed was not given, since every process must draw the
    same batches."""
    index, n_processes = processes()
    if n_processes == 1:
        return
    mine = {name: value for name, value in settings.recorded().items() if name not in NOT_COMPARED}
    everyone = [json.loads(text) for text in gathered_texts(json.dumps(mine, sort_keys=True, default=str))]
    for other, theirs in enumerate(everyone[1:], start=1):
        differing = sorted(name for name in set(theirs) | set(everyone[0]) if theirs.get(name) != everyone[0].get(name))
        if differing:
            shown = ", ".join(f"{name} {theirs.get(name)} (process 0: {everyone[0].get(name)})"
                              for name in differing[:3])
            raise UserError(f"process {other} of {n_processes} was started with other settings than process 0: "
                            f"{shown}; start every process with the same command line")
    if settings.seed is None:
        drawn = np.random.SeedSequence().generate_state(1)[0]
        settings.seed = int(json.loads(gathered_texts(json.dumps(int(drawn)))[0]))


def any_process(flag):
    """True on every process when `flag` is true on any (a collective: every process calls it)."""
    if processes()[1] == 1:
        return flag
    from jax.experimental import multihost_utils
    return bool(np.any(multihost_utils.process_allgather(np.array([bool(flag)]))))


def lost_processes():
    """After a step failed in a run of several processes: the processes that do not answer a roll
    call within ROLL_CALL_SECONDS, by index ([0] when the coordinator, process 0, is gone); [] when
    every process answers, so the failure is not a lost process."""
    from jax._src import distributed  # the coordination service's store: JAX has no public roll call
    index, n_processes = processes()
    client = distributed.global_state.client
    try:
        client.key_value_set(f"gan_roll_call/{index}", "here")
        deadline = time.time() + ROLL_CALL_SECONDS
        while True:
            present = {int(key.rsplit("/", 1)[1]) for key, _ in client.key_value_dir_get("gan_roll_call/")}
            if len(present) == n_processes or time.time() > deadline:
                return sorted(set(range(n_processes)) - present)
            time.sleep(0.5)
    except Exception:  # noqa: BLE001  the store lives in process 0: unreachable, it is gone
        return [0]


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
