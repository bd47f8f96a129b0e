"""What a saved generator says about itself: the info stored inside its .h5 file (its kind,
latent size, classes, image shape, epoch and the checksum of its weights), read without loading
Keras, so that sample.py and evaluate.py check a file before Keras starts."""
import json
from pathlib import Path

import h5py

from ganlib import readback
from ganlib.atomic_files import UserError

GENERATOR_INFO_ATTR = "gan_generator_info"
RUN_INFO = "run.json"


def write_info(path, info):
    with h5py.File(path, "a") as f:
        f.attrs[GENERATOR_INFO_ATTR] = json.dumps(info)


def read_generator_info(path):
    """The info `tutorial.save_generator` stored, or a UserError saying why the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get(GENERATOR_INFO_ATTR)
    except OSError:
        raise UserError(f"{path} is not an .h5 model file")
    if raw is None:
        raise UserError(f"{path} is not a generator saved by these scripts (no generator info inside)")
    return readback.generator_info(path, readback.parse_json(path, raw, "generator info"), where=GENERATOR_INFO_ATTR)


def generator_in(path, quiet=False):
    """The generator a path names: the file itself, or in a run's output folder its best generator,
    else its final one (said on one line)."""
    path = Path(path)
    if not path.is_dir():
        return path
    for name in ("generator_best.h5", "generator.h5"):
        if (path / name).is_file():
            if not quiet:
                print(f"using {path / name}")
            return path / name
    raise UserError(f"{path} holds no generator_best.h5 or generator.h5 (is the run still before its first summary?)")


def recorded_data_dir(generator_path):
    """The --data-dir that the run which saved this generator was given (its run.json, beside the
    generator), so that measuring a run offline finds the data it trained on; None when the run
    recorded none, or the generator stands alone."""
    return (readback.run_info(Path(generator_path).with_name(RUN_INFO)).get("settings") or {}).get("--data-dir")
