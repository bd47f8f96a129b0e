"""Settings the Keras backend needs before Keras loads. Every module imports this one first.

TensorFlow's oneDNN kernels made a step 3.3x faster on a CPU without AVX-512 (README, "Speed"),
and must be turned on before TensorFlow is imported. A backend that is not installed is named in
one line here, before Keras fails on it with a traceback.

A run of several processes (docs/scaling.md) is joined here, before anything computes: Keras'
`keras.distribution.initialize()` reads KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and
_PROCESS_ID. Only process 0 writes files (gan_files.WRITER).
"""
import importlib.util
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INSTALL = {"tensorflow": "pip install tensorflow", "jax": 'pip install "jax[cpu]" (or "jax[cuda12]")',
           "torch": "pip install torch"}  # the backends that train; Keras' numpy and openvino only predict


def chosen_backend():
    """KERAS_BACKEND, else the backend in Keras' keras.json, else TensorFlow, as Keras decides."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def backend_problem(name):
    """One line on why Keras cannot train on backend `name` here, or None when it can."""
    installed = [b for b in INSTALL if importlib.util.find_spec(b) is not None]
    choices = f"installed here: {', '.join(installed) or 'none'}"
    venv = (f"is not installed for {sys.executable}: is the virtual environment active? "
            f"(. .venv/bin/activate); else pip install -r requirements.txt ({choices})")
    if importlib.util.find_spec("keras") is None:
        return f"Keras {venv}"
    if name in INSTALL and name not in installed and not os.environ.get("KERAS_BACKEND"):
        return f"{name}, Keras' backend, {venv}"
    if name not in INSTALL:
        return f"KERAS_BACKEND={name} is not a backend these scripts train on: use tensorflow, jax or torch ({choices})"
    if name not in installed:
        return f"KERAS_BACKEND={name}, but {name} is not installed: {INSTALL[name]}, or use another backend ({choices})"
    return None


def start_tensorflow_quietly():
    """TensorFlow's C++ start-up lines (oneDNN, CUDA drivers, CPU instructions) are written to the
    process's stderr while it is imported and its runtime starts, before TF_CPP_MIN_LOG_LEVEL can
    act: they go to a temporary file instead, shown only if the start fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras
            keras.distribution.list_devices()  # starts TensorFlow's runtime, which looks for CUDA drivers
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def join_processes(backend):
    """The processes of a run started in several (KERAS_DISTRIBUTION_NUM_PROCESSES above 1), joined
    through Keras; one line on why not, or None."""
    count = os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1")
    if not count.isdigit() or int(count) < 1:
        return f"KERAS_DISTRIBUTION_NUM_PROCESSES={count} is not a number of processes"
    if int(count) == 1:
        return None
    if backend != "jax":
        return (f"KERAS_DISTRIBUTION_NUM_PROCESSES={count}: a run of several processes trains on the JAX backend "
                f"(KERAS_BACKEND=jax); on {backend} train in one process")
    import jax
    # Collectives between CPU devices go through gloo (JAX's default has none); GPUs and TPUs keep
    # their own.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    import keras
    import gan_files
    try:
        keras.distribution.initialize()
    except Exception as error:  # noqa: BLE001  JAX raises several kinds; each is one line here
        address = os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES", "the address JAX detects")
        return f"could not join the run's {count} processes at {address}: {gan_files.one_line(error)}"
    gan_files.WRITER = jax.process_index() == 0
    return None


_backend = chosen_backend()
_problem = backend_problem(_backend) or join_processes(_backend)
if _problem:
    print(f"error: {_problem}", file=sys.stderr)
    sys.exit(2)
if _backend == "tensorflow":
    start_tensorflow_quietly()


class _QuietKnownWarnings(logging.Filter):
    """.h5 is the format users load, and measuring predicts batches of several sizes: Keras'
    'legacy format' warning at every snapshot and TensorFlow's retracing warning are noise."""

    def filter(self, record):
        message = record.getMessage()
        return "saving your model as an HDF5 file" not in message and "triggered tf.function retracing" not in message


for _logger in ("absl", "tensorflow"):
    logging.getLogger(_logger).addFilter(_QuietKnownWarnings())
