"""Everything a run reads back from disk, checked before it is believed: a checkpoint's record
and arrays, run.json, metrics.csv, losses.csv and a saved generator's info. Any of them may have
been damaged or edited since it was written. Each field has a type and a range, and anything
else is one UserError naming the file and the field: nothing is trained, written or drawn from
it. A checkpoint's arrays are checked from the archive's headers, against the models, before
any of them is inflated.

Standard library and NumPy only: report.py, sample.py and the folder checks read files before
Keras loads."""
import csv
import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ganlib.atomic_files import UserError, one_line

MAX_COUNT = 2**31 - 1  # epochs, steps, variables: as the flags allow
MAX_LATENT_DIM = 100_000
MAX_CLASSES = 1_000
MAX_IMAGE_SIDE = 4_096
RNG_WORDS = 624  # NumPy's MT19937 state
MISSING = object()


class Record:
    """A JSON object read from `path`; `where` names it inside the file ("meta", "settings")."""

    def __init__(self, path, value, where=None):
        self.path, self.where = path, where
        if not isinstance(value, dict):
            raise self.refused(None, f"should be a JSON object, not {type_name(value)}")
        self.value = value

    def refused(self, name, problem):
        field = ".".join(part for part in (self.where, name) if part)
        return UserError(f"{self.path}: {f'field {field!r}' if field else 'its contents'} {problem}; "
                         "it was damaged or edited since it was written")

    def get(self, name, default=MISSING):
        if name in self.value and self.value[name] is not None:
            return self.value[name]
        if default is MISSING:
            raise self.refused(name, "is missing")
        return default

    def integer(self, name, low=0, high=MAX_COUNT, default=MISSING):
        value = self.get(name, default)
        if value is default and default is not MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.refused(name, f"should be a whole number from {low:,} to {high:,}, not {short(value)}")
        return value

    def number(self, name, low=-math.inf, high=math.inf, default=MISSING):
        value = self.get(name, default)
        if value is default and default is not MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high \
                or not math.isfinite(value):
            raise self.refused(name, f"should be a number from {low:g} to {high:g}, not {short(value)}")
        return float(value)

    def text(self, name, choices=None, default=MISSING):
        value = self.get(name, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, str) or (choices is not None and value not in choices):
            wanted = f"one of {', '.join(sorted(choices))}" if choices is not None else "text"
            raise self.refused(name, f"should be {wanted}, not {short(value)}")
        return value

    def record(self, name, default=MISSING):
        value = self.get(name, default)
        if value is default and default is not MISSING:
            return value
        return Record(self.path, value, ".".join(part for part in (self.where, name) if part))

    def texts(self, name, length=None):
        value = self.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
                or (length is not None and len(value) != length):
            count = f"{length} " if length is not None else ""
            raise self.refused(name, f"should be a list of {count}names, not {short(value)}")
        return value


def type_name(value):
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def short(value):
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_json(path, text, what="JSON"):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise UserError(f"{path} is damaged: not the {what} it should be ({one_line(error)[:80]})")


# ---------------------------------------------------------------------------------------
# run.json, metrics.csv, losses.csv.
# ---------------------------------------------------------------------------------------

def run_info(path):
    """run.json's fields, each checked for its type when present; {} when there is no file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path} cannot be read ({one_line(error)})")
    record = Record(path, parse_json(path, text))
    for name in ("script", "command", "started", "machine", "backend", "state", "message", "updated", "judge",
                 "resume_command"):
        record.text(name, default=None)
    record.number("seconds", low=0, default=None)
    record.number("judge_accuracy", low=0, high=1, default=None)
    record.integer("steps_total", default=None)
    settings = record.record("settings", default=None)
    if settings is not None:
        data_dir = settings.get("--data-dir", None)
        if data_dir is not None:
            settings.text("--data-dir")
    if record.get("generator", None) is not None:
        generator_info(path, record.value["generator"], where="generator")
    return record.value


def csv_rows(path, whole):
    """A CSV's rows as {column: text}: the `whole` columns whole numbers from 1, every other one a
    number (nan where a figure is undefined, as for too few images) or empty; [] when there is
    no file."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path} cannot be read ({one_line(error)})")
    for line, row in enumerate(rows, start=2):
        for column, text in row.items():
            if column is None or text is None:
                raise UserError(f"{path}, line {line}: its cells do not match the header; it was damaged or edited")
            if column in whole or text != "":
                try:
                    value = float(text)
                except ValueError:
                    value = math.nan
                if column in whole and (not math.isfinite(value) or value != int(value) or value < 1) or \
                        (column not in whole and math.isnan(value) and text.strip().lower() != "nan"):
                    wanted = "a whole number from 1" if column in whole else "a number"
                    raise UserError(f"{path}, line {line}: field {column!r} should be {wanted}, not {short(text)}; "
                                    "it was damaged or edited since it was written")
    return rows


def metrics_rows(path):
    """metrics.csv: the epoch, then figures (numbers, or empty where not measured)."""
    return csv_rows(path, whole=("epoch",))


def losses_rows(path):
    """losses.csv: the epoch and step, then each loss."""
    return csv_rows(path, whole=("epoch", "step"))


# ---------------------------------------------------------------------------------------
# A saved generator's info.
# ---------------------------------------------------------------------------------------

def generator_info(path, value, where=None):
    """A generator's info (saved inside its .h5, and in run.json), its fields checked; the fields
    each kind cannot draw without are its Kind's `info_fields` (kinds.kind_of)."""
    record = Record(path, value, where)
    record.text("kind")
    record.integer("latent_dim", low=1, high=MAX_LATENT_DIM, default=None)
    n_classes = record.integer("n_classes", low=0, high=MAX_CLASSES, default=None)
    if n_classes is not None or "class_names" in record.value:
        record.texts("class_names", n_classes)
    record.integer("n_cat", low=1, high=MAX_CLASSES, default=None)
    record.integer("n_cont", low=0, high=100, default=None)
    record.integer("epoch", default=None)
    record.text("dataset", default=None)
    record.text("direction", choices={"sat2map", "map2sat"}, default=None)
    record.text("noise", choices={"normal", "uniform"}, default=None)
    record.text("weights_sha256", default=None)
    shape = record.get("image_shape", None)
    if shape is not None and (not isinstance(shape, list) or len(shape) != 3 or not all(
            isinstance(side, int) and not isinstance(side, bool) and 1 <= side <= MAX_IMAGE_SIDE for side in shape)):
        raise record.refused("image_shape", f"should be [height, width, channels], not {short(shape)}")
    return record.value


# ---------------------------------------------------------------------------------------
# checkpoint.npz.
# ---------------------------------------------------------------------------------------

def checkpoint_meta(path, text):
    """A checkpoint's record: where it stopped, its settings, and what its arrays hold."""
    record = Record(path, parse_json(path, text, "checkpoint record"), "meta")
    record.integer("epoch")
    record.integer("step")
    record.integer("n_variables", high=1_000_000)
    record.number("seconds", low=0, default=0.0)
    record.text("digest", default=None)
    settings = record.record("settings")
    settings.text("script", default=None)
    record.record("constants", default={})
    return record.value


def array_header(archive, name, path):
    """(shape, dtype) of `name`.npy in an .npz archive, from its header alone."""
    try:
        member = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise UserError(f"{path} is damaged: it has no array {name!r}")
    if member.compress_type != zipfile.ZIP_STORED:
        raise UserError(f"{path}: array {name!r} is compressed, and the scripts store checkpoints uncompressed; "
                        "it was not written by them")
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version not in readers:
            raise UserError(f"{path}: array {name!r} has a header of NumPy format {version}, not one the scripts write")
        shape, _, dtype = readers[version](f)
    size = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if size > member.file_size:
        raise UserError(f"{path} is damaged: array {name!r} is shorter than its header says")
    return shape, dtype


def checkpoint_arrays(path, shapes, n_losses, check_meta):
    """(meta, variable values, NumPy random state, loss rows) of a checkpoint, every array's shape
    and type checked from the headers before it is read: `shapes`, the models' variables', in the
    checkpoint's order; `n_losses`, the losses each row holds after its epoch and step;
    `check_meta(meta)`, the resuming run's own check of the record, before any array is read."""
    try:
        with zipfile.ZipFile(path) as archive, np.load(path, allow_pickle=False) as f:
            shape, dtype = array_header(archive, "meta", path)
            if shape != () or dtype.kind != "U" or dtype.itemsize > 4_000_000:
                raise UserError(f"{path}: array 'meta' is not a checkpoint's record ({dtype} {shape})")
            meta = checkpoint_meta(path, str(f["meta"]))
            check_meta(meta)
            if meta["n_variables"] != len(shapes):
                raise UserError(f"{path} does not match these models ({meta['n_variables']:,} variables saved, "
                                f"{len(shapes):,} here); delete it to start afresh")
            for k, shape in enumerate(shapes):
                saved, dtype = array_header(archive, f"v{k}", path)
                if tuple(saved) != tuple(shape) or dtype.kind not in "fiub":
                    raise UserError(f"{path} does not match these models (variable {k}: {dtype} {tuple(saved)}, "
                                    f"the model's {tuple(shape)}); delete it to start afresh")
            expected = {"rng0": ((), "U"), "rng1": ((RNG_WORDS,), "u"), "rng2": ((), "i"), "rng3": ((), "i"),
                        "rng4": ((), "f")}
            for name, (shape, kind) in expected.items():
                saved, dtype = array_header(archive, name, path)
                if tuple(saved) != shape or dtype.kind != kind:
                    raise UserError(f"{path}: array {name!r} is not NumPy's random state ({dtype} {tuple(saved)}); "
                                    "it was damaged or edited since it was written")
            saved, dtype = array_header(archive, "losses", path)
            if len(saved) != 2 or saved[1] not in (0, 2 + n_losses) or dtype.kind != "f":
                raise UserError(f"{path}: array 'losses' should hold rows of an epoch, a step and {n_losses} losses, "
                                f"not {dtype} {tuple(saved)}; it was damaged or edited since it was written")
            values = [f[f"v{k}"] for k in range(len(shapes))]
            rng = [f[name] for name in expected]
            rows = f["losses"]
    except UserError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise UserError(f"{path} is corrupt or truncated ({one_line(error)[:200]})")
    if str(rng[0]) != "MT19937" or not 0 <= int(rng[2]) <= RNG_WORDS:
        raise UserError(f"{path}: arrays 'rng0' and 'rng2' are not NumPy's random state; it was damaged or edited")
    if len(rows) and (not np.all(np.isfinite(rows)) or rows[:, :2].min() < 1 or np.any(np.diff(rows[:, 0]) < 0)
                      or rows[-1, 0] > meta["epoch"] + 1):
        raise UserError(f"{path}: array 'losses' does not follow the run's epochs and steps up to epoch "
                        f"{meta['epoch']}; it was damaged or edited since it was written")
    return meta, values, rng, rows
