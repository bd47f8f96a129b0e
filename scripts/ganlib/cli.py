"""The command line every script shares: flag types that refuse bad values in one line, Ctrl-C
and SIGTERM handled so that a training loop stops after its step with a checkpoint, and
`run_main`, which turns every problem a user can fix into one line and a non-zero exit.

Standard library and NumPy only: tools that load no model (report.py) start fast.
"""
import argparse
import contextlib
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

from ganlib.atomic_files import UserError, one_line, several_processes


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each flag's default in --help, where it has one the help text does not already give."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """--help opens with the first paragraph of the script's docstring `doc` and gives each flag's
    default; a mistyped flag gets one line, like every other bad input, instead of the usage text."""

    def __init__(self, doc, **kwargs):
        super().__init__(description=" ".join(doc.strip().split("\n\n")[0].split()),
                         formatter_class=_DefaultsFormatter, allow_abbrev=False, **kwargs)

    def error(self, message):
        self.exit(2, f"error: {message} (--help lists the flags)\n")


class Interrupted(Exception):
    """Ctrl-C (exit status 130) or SIGTERM (143) stopped training after a checkpoint was written."""

    def __init__(self, message, code=130):
        super().__init__(message)
        self.code = code


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopping at once as Ctrl-C does, with its own exit status (143)."""


def stopping_now(signum):
    """The exception that stops the program at once on signal `signum`."""
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def exit_status(signum):
    return 143 if signum == signal.SIGTERM else 130


def _stop_now(signum, frame):
    """Ctrl-C and SIGTERM outside a training loop (which asks to stop after its step: run.py)."""
    raise stopping_now(signum)


@contextlib.contextmanager
def stop_requests_handled():
    """SIGTERM stops the program as Ctrl-C does while the block runs."""
    handlers = {sig: signal.signal(sig, _stop_now) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


MAX_SEED = 2**32 - 1  # NumPy's and Keras' seeds are 32-bit
MAX_WHOLE = 2**31 - 1  # any count a flag takes: more epochs, steps or images than this is a typo


def _whole_number(text, minimum, maximum=MAX_WHOLE):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} must be {minimum} or more")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"{value} is over the limit of {maximum:,}")
    return value


def positive_int(text):
    return _whole_number(text, 1)


def non_negative_int(text):
    return _whole_number(text, 0)


def int_up_to(maximum, minimum=1):
    """A flag's type: a whole number from `minimum` to `maximum`, named in the error."""
    return lambda text: _whole_number(text, minimum, maximum)


def seed(text):
    return _whole_number(text, 0, MAX_SEED)


def finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def positive_float(text):
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be above 0")
    return value


def non_negative_float(text):
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def comma_list(text):
    """A list flag: names separated by commas ("horse,deer"); empty for none."""
    return [part.strip() for part in text.split(",") if part.strip()]


def fraction(text):
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 0 and below 1")
    return value


def progress_verbosity():
    """Keras' verbose= for a progress bar: the redrawn bar on a terminal, else (a file, a pipe)
    one plain line when done, without the bar's ANSI codes."""
    return 1 if sys.stdout.isatty() else 2


def count(n, word):
    """"1 epoch", "2 epochs", "1,875 steps": a number and its word, in the plural when it is not one."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def resume_command():
    """The command line that goes on from this run's checkpoint."""
    argv = ["python", *sys.argv]
    return shlex.join(argv if "--resume" in argv else argv + ["--resume"])


def format_duration(seconds):
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min" if minutes else f"{seconds:.0f} s"


def check_folders(**flags):
    """Folder flags (data_dir="...") that name an existing file instead of a folder, and a
    --data-dir that does not exist (the data would silently come from elsewhere)."""
    for flag, path in flags.items():
        if path is not None and Path(path).exists() and not Path(path).is_dir():
            raise UserError(f"--{flag.replace('_', '-')} {path} is a file; it should name a folder")
    if flags.get("data_dir") is not None and not Path(flags["data_dir"]).exists():
        raise UserError(f"--data-dir {flags['data_dir']} does not exist")


def out_of_memory(error):
    """Whether an exception is a backend's out-of-memory error (TensorFlow's ResourceExhaustedError,
    XLA's RESOURCE_EXHAUSTED, PyTorch's OutOfMemoryError, NumPy's MemoryError)."""
    text = f"{type(error).__name__} {error}"
    return isinstance(error, MemoryError) or any(
        mark in text for mark in ("ResourceExhausted", "RESOURCE_EXHAUSTED", "OutOfMemory", "out of memory", "OOM "))


def out_of_memory_line(error, batch=None):
    """The line for a step out of memory; `batch`: the run's --batch-size, when a run is training."""
    advice = (f" at --batch-size {batch}: try --batch-size {max(1, batch // 2)}" if batch and batch > 1
              else ": try a smaller --batch-size, or fewer --eval-samples")
    return f"out of memory ({type(error).__name__}){advice}"


def failure_line(error, batch=None):
    """The one line a failure is told in, on the terminal and in run.json."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or one_line(error)}"
    if out_of_memory(error):
        return out_of_memory_line(error, batch)
    return f"{type(error).__name__}: {one_line(error)[:300]}"


def run_main(main, argv=None):
    """Run `main`: a UserError, a file that cannot be read or written, or a step that runs out of
    memory becomes one line on stderr and exit status 2; Ctrl-C and SIGTERM stop training after
    the current step, with a checkpoint (exit status 130)."""
    started = time.time()
    try:
        with stop_requests_handled():
            main(argv)
    except (UserError, OSError) as error:
        print(f"error: {failure_line(error)}", file=sys.stderr)
        exit_refused()
    except (Interrupted, KeyboardInterrupt) as stop:
        print(flush=True)  # ends the progress bar's line, so the message starts a line of its own
        print(stop if isinstance(stop, Interrupted) else
              f"{'terminated' if isinstance(stop, Terminated) else 'interrupted'} after {time.time() - started:.0f} s",
              file=sys.stderr)
        sys.exit(stop.code if isinstance(stop, Interrupted) else 143 if isinstance(stop, Terminated) else 130)
    except Exception as error:
        if not out_of_memory(error):
            raise
        print(f"error: {failure_line(error)}", file=sys.stderr)
        exit_refused()


def exit_refused():
    """Exit status 2. In a run of several processes, at once: JAX's shutdown waits for every
    process, and the others may go on until they find this one gone (run.py)."""
    if several_processes():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(2)
    sys.exit(2)
