"""Files a run writes, each under a temporary name renamed into place, so that a run killed at
any moment leaves the previous file whole; and the errors a user sees as one line (UserError, and
a mistyped flag through ArgumentParser)."""
import argparse
import csv
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parent.parent
PARTIAL_PREFIX = ".partial-"  # atomic_write's temporary files
_UMASK = os.umask(0)
os.umask(_UMASK)


class UserError(Exception):
    """A problem the user can fix; `gan_run.run_main` prints it as one line and exits non-zero."""


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each flag's default in --help, where it has one the help text does not already give."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """--help opens with the first paragraph of the script's docstring `doc` and gives each flag's
    default; a mistyped flag gets one line, like every other bad input, instead of the usage text."""

    def __init__(self, doc):
        super().__init__(description=" ".join(doc.strip().split("\n\n")[0].split()),
                         formatter_class=_DefaultsFormatter)

    def error(self, message):
        self.exit(2, f"error: {message} (--help lists the flags)\n")


def one_line(error):
    return " ".join(str(error).split())


def atomic_write(path, write):
    """`write(tmp)` writes the file's contents to a temporary path, renamed to `path` when done."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{PARTIAL_PREFIX}{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_partial_files(folder):
    """Temporary files that a run killed outright (SIGKILL, out of memory) left half-written."""
    for partial in Path(folder).glob(f"{PARTIAL_PREFIX}*"):
        partial.unlink(missing_ok=True)


def copy_file(source, path):
    atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))


def write_text(path, text):
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def save_npz(path, **arrays):
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))


def load_npz(path, keys, image_shape):
    """uint8 image arrays saved by `save_npz`, checked for their keys and image shape."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in keys}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise UserError(f"{path} is corrupt or truncated ({one_line(error)}); delete it to prepare it again")
    for key, array in arrays.items():
        if array.shape[1:] != tuple(image_shape) or array.dtype != np.uint8:
            raise UserError(f"{path}: '{key}' should hold uint8 images of shape {tuple(image_shape)}, "
                            f"found {array.dtype} {array.shape[1:]}; delete it to prepare it again")
    return arrays


def write_csv(path, header, rows):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)

    atomic_write(path, write)


def write_epoch_row(path, header, row):
    """Add an epoch's row (epoch first) to a small CSV of per-summary results, rewriting it whole
    and atomically. Rows of that epoch or later go: a run killed after a summary and resumed from
    the checkpoint before it measures the epoch again, and each epoch stays in the file once."""
    rows = []
    if Path(path).is_file():
        with open(path, newline="") as f:
            rows = [r for r in list(csv.reader(f))[1:] if r and float(r[0]) < float(row[0])]
    write_csv(path, header, rows + [row])
