"""Run a training script as a user does, and SIGKILL it in the middle of writing a file:

    KILL_AT=checkpoint.npz:2 python tests/support/killpoint.py scripts/acgan_fashion.py ARGS...

kills it during its 2nd write of checkpoint.npz, after half the file is on disk, the way the OOM
killer or a preempted machine would. Every file the scripts write goes through
gan_files.atomic_write, which is wrapped here before any script module imports it.
"""
import os
import runpy
import signal
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from ganlib import atomic_files as gan_files  # noqa: E402

name, count = os.environ["KILL_AT"].rsplit(":", 1)
writes = {"seen": 0}
atomic_write = gan_files.atomic_write


def write_half_then_die(write):
    def write_and_die(tmp):
        write(tmp)
        with open(tmp, "r+b") as f:
            f.truncate(os.path.getsize(tmp) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    return write_and_die


def killing_atomic_write(path, write):
    if Path(path).name == name:
        writes["seen"] += 1
        if writes["seen"] == int(count):
            write = write_half_then_die(write)
    atomic_write(path, write)


gan_files.atomic_write = killing_atomic_write
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, str(Path(script).resolve().parent))
runpy.run_path(script, run_name="__main__")
