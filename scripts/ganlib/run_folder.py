"""The output folder: one run writes to it at a time, and a run found there is never overwritten.

A lock held for the run's life (the system releases it however the process ends) refuses a second
run into the folder, naming the first. A folder that holds any trace of a run (run.json,
losses.csv, a checkpoint, a generator or a grid) is a run folder: --resume goes on with it,
--fresh moves its files aside into a dated subfolder, and without either a new run is refused.

Standard library and NumPy only: the folder is checked before Keras loads.
"""
import errno
import os
import shlex
import stat
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

try:
    import fcntl  # POSIX: the output folder's lock
except ImportError:  # Windows: no lock; the other refusals still stand
    fcntl = None

from ganlib import atomic_files, readback
from ganlib.atomic_files import UserError

RUN_LOCK = ".run.lock"  # in the output folder, held by the run writing there
EARLIER_PREFIX = "earlier-"  # --fresh moves an earlier run's files into earlier-<date>-<time>/
MOVING = ".moving"  # in an earlier-* folder while --fresh fills it: a move cut short goes on there
TRACES = ["checkpoint.npz", "run.json", "losses.csv", "metrics.csv", "generator.h5", "generator_best.h5",
          "generator_e*.h5", "generated_plot_e*.png", "report.html"]  # a run's files, by what they tell first


def traces(out):
    """The files in `out` that a run left, by name, most telling first."""
    found = []
    for pattern in TRACES:
        found += sorted(p.name for p in Path(out).glob(pattern) if p.name not in found)
    return found


def named(found, shown=4):
    return ", ".join(found[:shown]) + (f" and {len(found) - shown} more" if len(found) > shown else "")


def open_lock(out, create=True):
    """The folder's lock file, opened without following a link and without truncating what is
    there, and refused unless it is a regular file with one name: a hard link would have the
    run write its text into another file. None when `create` is false and there is none."""
    path = Path(out) / RUN_LOCK
    flags = (os.O_RDWR | os.O_CREAT if create else os.O_RDONLY) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        if create:
            raise UserError(f"cannot open {path} (its folder is gone)")
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UserError(f"{path} is a symbolic link; a run's lock is never a link, so nothing was written "
                            "through it: remove it (rm) and start again")
        raise UserError(f"cannot open {path} ({error.strerror})")
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1:
        os.close(fd)
        what = "a hard link to another file" if stat.S_ISREG(status.st_mode) else "not a regular file"
        raise UserError(f"{path} is {what}; a run's lock is a file of its own, so nothing was written to it: "
                        "remove it (rm) and start again")
    return os.fdopen(fd, "r+" if create else "r")


def held_by(lock):
    """Who holds the lock open in another process (its text), or None when no one does."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        return lock.read().strip() or "a process that has not said which"
    return None


def check(out, *, resume, fresh, epochs):
    """Everything `claim` would refuse, found without writing anything: before Keras loads."""
    out = Path(out)
    if out.is_dir():
        lock = open_lock(out, create=False)
        if lock is not None:
            with lock:
                holder = held_by(lock)
            if holder:
                raise UserError(f"{out} is in use by another run ({holder}); wait for it to end or choose another --out")
    check_run_in_folder(out, resume=resume, fresh=fresh, epochs=epochs)


def claim(out, *, resume, fresh, epochs):
    """One run per output folder (see the module's docstring); --fresh moves an earlier run aside
    here, and a --fresh cut short finishes its move into the same earlier-* folder. The lock, an
    open file, is held until `release` or the process's end."""
    out = Path(out)
    lock = open_lock(out)
    holder = held_by(lock)
    if holder:
        lock.close()
        raise UserError(f"{out} is in use by another run ({holder}); wait for it to end or choose another --out")
    try:
        check_run_in_folder(out, resume=resume, fresh=fresh, epochs=epochs)
        if fresh:
            moved = move_earlier_run(out)
            if moved:
                print(f"--fresh: the earlier run's files are in {moved}")
    except BaseException:
        lock.close()
        raise
    try:
        lock.seek(0)
        lock.truncate()
        lock.write(f"process {os.getpid()}: {shlex.join(['python', *sys.argv])}, "
                   f"started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        lock.flush()
    except OSError as error:
        lock.close()
        path = out / RUN_LOCK
        raise UserError(f"cannot write {path}: {atomic_files.write_failure(path, error)}") from error
    return lock


def release(lock):
    """The run's lock given up at its end, its text gone, so that it does not read as in use."""
    if lock is None or lock.closed:
        return
    try:
        lock.seek(0)
        lock.truncate()
    except OSError:
        pass
    finally:
        lock.close()


def check_run_in_folder(out, *, resume, fresh, epochs):
    """A run already in `out` goes on only with --resume, and is moved aside only with --fresh;
    --resume needs a checkpoint; --resume of a run already at --epochs writes nothing and ends."""
    if resume and fresh:
        raise UserError("--resume and --fresh cannot go together: --resume continues the run in the folder, "
                        "--fresh starts over")
    unfinished_move = interrupted_move(out)
    if fresh:
        return
    if unfinished_move:
        raise UserError(f"{out} holds part of a run that --fresh was moving into {unfinished_move.name} when it "
                        "stopped: add --fresh again to finish the move and start over")
    found = traces(out)
    checkpoint = Path(out) / "checkpoint.npz"
    if resume:
        if not checkpoint.is_file():
            kept = f"; --fresh starts over and keeps {named(found)} in {out}/{EARLIER_PREFIX}<date>-<time>/" if found else ""
            raise UserError(f"nothing to resume: {out} has no checkpoint.npz{kept}")
        done = saved_epoch(checkpoint)
        if done is not None and done >= epochs:
            print(f"the run in {out} is already at epoch {done} (--epochs {epochs}): nothing to train; "
                  "give a larger --epochs to go on")
            sys.exit(0)
        return
    if not found:
        return
    if checkpoint.is_file():
        finished = run_state(out) == "finished"
        raise UserError(f"{out} holds {'a finished' if finished else 'an unfinished'} run ({named(found)}): add "
                        f"--resume to {'train it further (with a larger --epochs)' if finished else 'continue it'}, "
                        "or --fresh to start over (its files are moved aside, not deleted)")
    raise UserError(f"{out} holds a run without a checkpoint ({named(found)}), so it cannot be resumed: "
                    "--fresh starts over and moves those files aside, or choose another --out")


def saved_epoch(checkpoint):
    """The epochs a checkpoint has finished, or None when it cannot be read (restoring it says why)."""
    try:
        with np.load(checkpoint, allow_pickle=False) as f:
            return readback.checkpoint_meta(checkpoint, str(f["meta"]))["epoch"]
    except (UserError, OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error):
        return None


def run_state(out):
    """What run.json says of the run in `out` ("finished", "running", ...), or None."""
    try:
        return readback.run_info(Path(out) / "run.json").get("state")
    except UserError:
        return None


def interrupted_move(out):
    """The earlier-* folder a --fresh was moving files into when it stopped, or None. Only a real
    folder counts: a link named earlier-* is an entry like any other, moved as a link."""
    return next((p for p in sorted(Path(out).glob(f"{EARLIER_PREFIX}*"))
                 if p.is_dir() and not p.is_symlink() and (p / MOVING).is_file() and not (p / MOVING).is_symlink()),
                None)


def move_earlier_run(out):
    """Every file and folder of an earlier run in `out` into out/earlier-<date>-<time>/ (or into the
    folder of a move cut short), or None when there was nothing to move. A mount point in the way
    is refused before anything moves: it cannot be renamed."""
    out = Path(out)
    entries = [p for p in out.iterdir() if p.name != RUN_LOCK and not (p.name.startswith(EARLIER_PREFIX)
                                                                       and p.is_dir() and not p.is_symlink())]
    mounted = [p for p in entries if not p.is_symlink() and os.path.ismount(p)]
    if mounted:
        raise UserError(f"--fresh: {mounted[0]} is a mount point, which cannot be moved aside; unmount it, or "
                        "choose another --out (nothing was moved)")
    earlier = interrupted_move(out)
    if earlier is None:
        if not entries:
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        earlier = out / f"{EARLIER_PREFIX}{stamp}"
        for k in range(1, 1000):
            if not os.path.lexists(earlier):
                break
            earlier = out / f"{EARLIER_PREFIX}{stamp}-{k}"
        earlier.mkdir()
        (earlier / MOVING).touch()
    for entry in entries:
        if os.path.lexists(earlier / entry.name):
            raise UserError(f"--fresh: {earlier / entry.name} is already there; move {entry} aside by hand, then "
                            "add --fresh again")
        entry.rename(earlier / entry.name)
    (earlier / MOVING).unlink()
    return earlier


def prepare(out, *, resume, fresh, epochs):
    """An output folder that can be written and is this run's: made when missing, a file in its
    way refused, and claimed (process 0's, in a run of several; the others only check it). The
    lock, or None where this process does not write."""
    out = Path(out)
    if not atomic_files.writes_here():
        check_run_in_folder(out, resume=resume, fresh=fresh, epochs=epochs)
        return None
    blocking = next((folder for folder in [out, *out.parents] if folder.exists() and not folder.is_dir()), None)
    if blocking is not None:
        raise UserError(f"cannot write to the output folder {out}: {blocking} is a file, not a folder")
    check(out, resume=resume, fresh=fresh, epochs=epochs)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise UserError(f"cannot write to the output folder {out} ({error.strerror})")
    return claim(out, resume=resume, fresh=fresh, epochs=epochs)
