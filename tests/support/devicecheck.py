"""Data-parallel training checked on two simulated CPU devices, in a process of its own (the
device count is fixed when JAX starts):

    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 \\
        python tests/support/devicecheck.py DATA_DIR OUT_DIR

prints one JSON line of what it found; tests/test_gan_devices.py asserts on it.
"""
import contextlib
import importlib
import io
import json
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2] / "scripts"), str(Path(__file__).resolve().parent),
                str(Path(__file__).resolve().parents[1])]  # the scripts, the support modules, conftest

import keras  # noqa: E402
import numpy as np  # noqa: E402

import cgan_fashion  # noqa: E402
from ganlib import cli, devices as gan_devices, atomic_files as gf  # noqa: E402
import switchcheck  # noqa: E402


def losses_on(devices, script, data_dir, out_dir):
    """The losses of two steps of the script's own train() from the same seed, and whether
    both discriminator switches held."""
    keras.utils.set_random_seed(3)
    gan_devices.use_devices(devices, batch_size=8)
    records = switchcheck.run_and_record(script, data_dir, out_dir, steps=2, flags=["--ema-decay", "0"])
    batchnorm = getattr(importlib.import_module(script), "BATCHNORM_IN_COMPOSITE", "frozen")
    switchcheck.assert_switch_works(records, switchcheck.MOVED_BY_COMPOSITE[batchnorm])
    return np.concatenate([np.ravel(np.asarray(r["result"], "float64")) for r in records])


def one_line_error(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            cli.run_main(cgan_fashion.main, argv)
        except SystemExit as stop:
            return stop.code, err.getvalue()
    return 0, err.getvalue()


def main(data_dir, out):
    out = Path(out)
    found = {"devices": keras.distribution.list_devices()}
    for script in ("cgan_fashion", "acgan_fashion"):
        one, two = (losses_on(n, script, data_dir, out / f"{script}-{n}") for n in (1, 2))
        found[script] = {"losses": len(one), "max_abs_diff": float(np.max(np.abs(one - two))),
                         "max_rel_diff": float(np.max(np.abs(one - two) / np.maximum(np.abs(one), 1e-3)))}
    flags = ["--data-dir", data_dir, "--out", str(out / "resumed"), "--devices", "2", "--batch-size", "8",
             "--steps-per-epoch", "2", "--eval-every", "1", "--eval-samples", "0", "--seed", "5"]
    found["first"] = one_line_error(flags + ["--epochs", "1"])
    found["resumed"] = one_line_error(flags + ["--epochs", "2", "--resume"])
    found["odd_batch"] = one_line_error(["--data-dir", data_dir, "--devices", "2", "--batch-size", "6"])
    found["too_many"] = one_line_error(["--data-dir", data_dir, "--devices", "3"])
    try:
        gan_devices.use_devices("all", batch_size=8)
        found["all"] = keras.distribution.distribution().device_mesh.shape[0]
    except gf.UserError as error:
        found["all"] = str(error)
    print(json.dumps(found))


if __name__ == "__main__":
    main(*sys.argv[1:])
