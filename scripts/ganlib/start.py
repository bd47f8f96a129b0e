"""Start-up, the first import of every training script and of every module that loads Keras.

Before Keras loads (seconds, a minute on a busy machine): TensorFlow's options are set (oneDNN
on, its C++ logs quieter; oneDNN made a step 3.3x faster on a CPU without AVX-512, docs/speed.md),
a backend that cannot train here is named in one line, and, for a training script run from the
shell, the command line is checked from the script's source, so that --help, a mistyped flag, a
bad value, a folder that is not there and an output folder in use or holding a run all answer at
once. A script imported, or run by a test through cli.run_main, checks its command line in
main() instead.

Then the backend starts. A run of several processes (docs/scaling.md) is joined before anything
computes: the coordinator's address, the number of processes and this one's index come in Keras'
variables KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and _PROCESS_ID; only process 0
writes files (atomic_files.writes_here). TensorFlow's harmless start-up lines are kept out of
the terminal (`start_tensorflow_quietly`), and so is its graph optimizer's "remapper failed" line
(the remapper, which only fuses operations, gives up on the discriminator's gradient graph and
TensorFlow runs it unfused): the remapper is turned off. GAN_SHOW_BACKEND_LOGS=1 shows both
again (docs/interrupting.md).
"""
import importlib.util
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
if os.environ.get("GAN_SHOW_BACKEND_LOGS") != "1":
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
            import tensorflow as tf
            keras.distribution.list_devices()  # starts TensorFlow's runtime, which looks for CUDA drivers
            tf.config.optimizer.set_experimental_options({"remapping": False})
        except Exception:  # not a signal's stop: that says its own line (start)
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def coordinator_problem(address, binds):
    """Why the coordinator's HOST:PORT cannot serve, in a few words, or None: checked before JAX
    starts, whose own failure to bind ends the process without a word."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        return "not HOST:PORT with a port from 1 to 65535"
    host = host.strip("[]")
    try:
        family, kind, protocol, _, where = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as error:
        return f"{host} cannot be resolved ({error})"
    if not binds:
        return None
    try:
        with socket.socket(family, kind, protocol) as probe:
            probe.bind(where)
    except OSError as error:
        return f"process 0 cannot listen there ({error.strerror}); the port is in use, or the address is not this machine's"
    return None


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
    problem = coordinator_problem(address, os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0") == "0")
    if problem:
        return f"KERAS_DISTRIBUTION_JOB_ADDRESSES={address}: {problem}"
    import jax
    from ganlib import atomic_files
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
        return f"could not join the run's {count} processes at {address}: {atomic_files.one_line(error)}"
    return None


def preflight(path, argv):
    from ganlib import cli, run_folder, settings as gs
    read = gs.read_script(path)
    if read is None:
        return
    doc, constants, flag_types, fixed, presets, out_name = read
    try:
        settings = gs.parse(Path(path).stem, doc, constants, flag_types,
                            gs.constant_comments(Path(path).read_text()), fixed, argv, presets, gs.default_folders(path))
        name = None if settings.out else out_name(settings)
        out = Path(settings.out) if settings.out else gs.default_out(name) if name else None
        if out is not None and os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0") == "0":
            run_folder.check(out, resume=settings.resume, fresh=settings.fresh, epochs=settings.n_epochs)
    except cli.UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


class StoppedWhileStarting(BaseException):
    """Ctrl-C or SIGTERM while the backend loads."""


def stopped_while_starting(signum, frame):
    raise StoppedWhileStarting(signum)


def start(main_file):
    """The command line checked, for a training script run from the shell, then the backend. A
    signal meanwhile is one line, with Ctrl-C's or SIGTERM's exit status (130, 143)."""
    from_the_shell = main_file and Path(main_file).resolve().parent == Path(__file__).resolve().parent.parent
    handlers = {}
    if from_the_shell and threading.current_thread() is threading.main_thread():
        handlers = {sig: signal.signal(sig, stopped_while_starting) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if from_the_shell:
            problem = backend_problem(chosen_backend())
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                sys.exit(2)
            preflight(main_file, sys.argv[1:])
        backend = chosen_backend()
        problem = backend_problem(backend) or join_processes(backend)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            sys.exit(2)
        if backend == "tensorflow" and os.environ.get("GAN_SHOW_BACKEND_LOGS") != "1":
            start_tensorflow_quietly()
    except StoppedWhileStarting as stop:
        signum = stop.args[0]
        print(f"\n{'interrupted' if signum == signal.SIGINT else 'terminated'} while starting", file=sys.stderr,
              flush=True)
        sys.exit(128 + signum)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


start(getattr(sys.modules.get("__main__"), "__file__", None))


class _QuietKnownWarnings(logging.Filter):
    """.h5 is the format users load, and measuring predicts batches of several sizes: Keras'
    'legacy format' warning at every snapshot and TensorFlow's retracing warning are noise."""

    def filter(self, record):
        message = record.getMessage()
        return "saving your model as an HDF5 file" not in message and "triggered tf.function retracing" not in message


for _logger in ("absl", "tensorflow"):
    logging.getLogger(_logger).addFilter(_QuietKnownWarnings())
