"""Runs a script as `python SCRIPT ARGS` would, noting every file and folder it creates, writes,
renames or removes (Python's audit events) in RECORD_DIR/writes-<KERAS_DISTRIBUTION_PROCESS_ID>.txt:

    python tests/support/writespy.py RECORD_DIR SCRIPT ARGS...

tests/test_processes.py runs each process of a run through it, to see which ones write.
"""
import os
import runpy
import sys
from pathlib import Path

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
WRITING_EVENTS = {"os.rename", "os.replace", "os.remove", "os.unlink", "os.mkdir", "os.rmdir", "shutil.copyfile",
                  "shutil.move", "shutil.rmtree", "tempfile.mkstemp"}


def main(record_dir, script, *args):
    record = open(Path(record_dir) / f"writes-{os.environ.get('KERAS_DISTRIBUTION_PROCESS_ID', '0')}.txt", "a")
    busy = []

    def note(event, event_args):
        writing = (event == "open" and ((isinstance(event_args[1], str) and any(c in event_args[1] for c in "wax+"))
                                        or (event_args[1] is None and (event_args[2] or 0) & WRITE_FLAGS)))
        if busy or not (writing or event in WRITING_EVENTS):
            return
        busy.append(True)
        record.write(" ".join([event, *(str(a) for a in event_args if isinstance(a, (str, os.PathLike)))]) + "\n")
        record.flush()
        busy.pop()

    sys.addaudithook(note)
    sys.argv = [script, *args]
    sys.path.insert(0, str(Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(*sys.argv[1:])
