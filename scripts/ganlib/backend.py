"""The backend started, before any model is built. Every module that loads Keras imports this one
first: the environment is settled (environment.py), a backend that cannot train here is named in
one line, a run of several processes is joined, and TensorFlow starts quietly.

A run of several processes (docs/scaling.md) is joined here, before anything computes: the
coordinator's address, the number of processes and this one's index come in Keras' variables
KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and _PROCESS_ID. Only process 0 writes files
(files.WRITER).

TensorFlow's harmless start-up lines are kept out of the terminal (`start_tensorflow_quietly`), and
so is its graph optimizer's "remapper failed" line (the remapper, which only fuses operations,
gives up on the discriminator's gradient graph and TensorFlow runs it unfused): the remapper is
turned off. GAN_SHOW_BACKEND_LOGS=1 shows both again (docs/interrupting.md).
"""
import logging
import os
import sys
import tempfile

from ganlib.environment import SHOW_LOGS, backend_problem, chosen_backend


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
            import tensorflow as tf
            keras.distribution.list_devices()  # starts TensorFlow's runtime, which looks for CUDA drivers
            tf.config.optimizer.set_experimental_options({"remapping": False})
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
    address = os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES", "").split(",")[0]
    if not address:
        return (f"KERAS_DISTRIBUTION_NUM_PROCESSES={count}: give the coordinator's address too, as "
                "KERAS_DISTRIBUTION_JOB_ADDRESSES=HOST:PORT (scripts/launch.py sets both)")
    import jax
    from ganlib import files
    # Collectives between CPU devices go through gloo (JAX's default has none); GPUs and TPUs keep
    # their own.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        # Keras' own initialize() would have the coordinator listen on every interface: it binds
        # only the address the processes are given (127.0.0.1 on one machine).
        jax.distributed.initialize(coordinator_address=address, num_processes=int(count),
                                   process_id=int(os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0")),
                                   coordinator_bind_address=address)
    except Exception as error:  # noqa: BLE001  JAX raises several kinds; each is one line here
        return f"could not join the run's {count} processes at {address}: {files.one_line(error)}"
    files.WRITER = jax.process_index() == 0
    return None


_backend = chosen_backend()
_problem = backend_problem(_backend) or join_processes(_backend)
if _problem:
    print(f"error: {_problem}", file=sys.stderr)
    sys.exit(2)
if _backend == "tensorflow" and not SHOW_LOGS:
    start_tensorflow_quietly()


class _QuietKnownWarnings(logging.Filter):
    """.h5 is the format users load, and measuring predicts batches of several sizes: Keras'
    'legacy format' warning at every snapshot and TensorFlow's retracing warning are noise."""

    def filter(self, record):
        message = record.getMessage()
        return "saving your model as an HDF5 file" not in message and "triggered tf.function retracing" not in message


for _logger in ("absl", "tensorflow"):
    logging.getLogger(_logger).addFilter(_QuietKnownWarnings())
