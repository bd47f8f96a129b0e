"""Files a run writes, each under a temporary name renamed into place, so that a run killed at
any moment leaves the previous file whole; and UserError, the problems a user sees as one line.

Standard library and NumPy only: everything that answers before Keras loads uses it."""
import csv
import errno
import hashlib
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[2]
PARTIAL_PREFIX = ".partial-"  # atomic_write's temporary files
_UMASK = os.umask(0)
os.umask(_UMASK)


def several_processes():
    """Whether this is one of a run's several processes (joined by start.py from Keras'
    KERAS_DISTRIBUTION_* variables)."""
    return os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1") not in ("", "1")


def writes_here():
    """Whether this process writes the run's files: in a run of several processes, only process 0."""
    return not several_processes() or os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0") == "0"


class UserError(Exception):
    """A problem the user can fix; `cli.run_main` prints it as one line and exits non-zero."""


def one_line(error):
    return " ".join(str(error).split())


def arrays_digest(arrays):
    """SHA-256 of arrays' bytes, in order: what proves a saved file (a generator's weights, a
    checkpoint) still holds what was saved."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(np.asarray(array)).tobytes())
    return digest.hexdigest()


def atomic_write(path, write):
    """`write(tmp)` writes the file's contents to a temporary path, renamed to `path` when done.
    Only a regular file (or nothing) is replaced: a folder, device, FIFO or socket at `path` is
    refused. A symbolic link at `path` is replaced by the new file; what it pointed to is left as it
    was. A file that cannot be written is a UserError naming `path`, never the temporary file.
    In a run of several processes only process 0 writes: elsewhere this does nothing."""
    if not writes_here():
        return
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_symlink():
        what = "a folder" if path.is_dir() else "not a regular file (a device, FIFO or socket)"
        raise UserError(f"{path} is {what}; name a file to write")
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{PARTIAL_PREFIX}{path.stem}-", suffix=path.suffix)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as error:
        failure = error
    else:
        return
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    raise UserError(f"cannot write {path}: {write_failure(path, failure)}") from failure


def write_failure(path, error):
    """Why a write failed, in a few words: the system's reason, and on a full disk the space left
    once the unfinished file is gone (measured after it was removed)."""
    if error.errno == errno.ENOSPC or "No space left" in str(error):
        try:
            free = shutil.disk_usage(Path(path).parent).free
        except OSError:
            return "no space left on the disk"
        return f"no space left on the disk ({free / 1e6:.0f} MB free)"
    return error.strerror or one_line(error)


IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


def image_format(path):
    """The format an image path asks for by its suffix: PNG or JPEG; anything else is refused."""
    suffix = Path(path).suffix.lower()
    if Path(path).is_dir():
        raise UserError(f"{path} is a folder; name an image file (.png, .jpg or .jpeg)")
    if suffix not in IMAGE_FORMATS:
        raise UserError(f"{path}: images are written as .png, .jpg or .jpeg, not {suffix or 'a name without one'}")
    return IMAGE_FORMATS[suffix]


def own_folder(path):
    """A folder the run writes into (progress/, tensorboard/), made when missing. A symbolic link
    found there is replaced by a real folder, as atomic_write replaces a link at a file's place:
    what it pointed to is left as it was, and nothing is written through it."""
    path = Path(path)
    if not writes_here():
        return path
    if path.is_symlink():
        path.unlink()
    elif path.exists() and not path.is_dir():
        raise UserError(f"{path} is a file where the run keeps a folder; move it away")
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_partial_files(folder):
    """Temporary files that a run killed outright (SIGKILL, out of memory) left half-written, in
    the folder and every folder in it (progress/)."""
    if not writes_here():
        return
    for partial in Path(folder).rglob(f"{PARTIAL_PREFIX}*"):
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
            earlier = [r for r in list(csv.reader(f))[1:] if r]
        try:
            rows = [r for r in earlier if float(r[0]) < float(row[0])]
        except ValueError:
            raise UserError(f"{path}: field 'epoch' holds something other than a number; it was damaged or edited "
                            "since it was written")
    write_csv(path, header, rows + [row])
