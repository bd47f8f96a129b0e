"""A run killed outright (SIGKILL: the OOM killer, a preempted machine) at any moment leaves files
that all load, and --resume goes on to the end with every step and every epoch recorded once."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import keras
import numpy as np
from PIL import Image

from ganlib import atomic_files as gf, run_folder
from conftest import REPO
from test_tensorboard import records

EPOCHS, STEPS = 4, 2


def acgan_run(tiny_data, out, kill_at=None, resume=True):
    """The AC-GAN (metrics.csv and class_accuracy.csv at each summary) on tiny data, as a process."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", KILL_AT=kill_at or "nothing:1")
    args = [sys.executable, "tests/support/killpoint.py", "scripts/acgan_fashion.py", "--data-dir", tiny_data,
            "--out", out, "--epochs", EPOCHS, "--steps-per-epoch", STEPS, "--batch-size", 8,
            "--eval-every", 1, "--eval-samples", 40, "--seed", 1, *(["--resume"] if resume else [])]
    return subprocess.Popen(list(map(str, args)), cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def epochs_in(path):
    with open(path, newline="") as f:
        return [int(float(row["epoch"])) for row in csv.DictReader(f)]


def check_every_file_loads(out):
    """Each file a user may open: generators, the checkpoint, the CSVs, the images, the report and
    run.json. Temporary files of an interrupted write (.partial-*) are the only others, removed
    when the run goes on."""
    names = sorted(p.name for p in out.iterdir())
    for path in sorted(out.iterdir()):
        if path.name.startswith(gf.PARTIAL_PREFIX):
            continue
        if path.is_dir():
            check_every_file_loads(path)
        elif path.name == run_folder.RUN_LOCK:  # names its run while held; emptied by a run that ended
            assert path.read_text() == "" or path.read_text().startswith("process "), path.read_text()
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".html":
            assert path.read_text().rstrip().endswith("</html>")
        elif path.suffix == ".h5":
            keras.models.load_model(path, compile=False)
        elif path.suffix == ".npz":
            with np.load(path) as f:
                assert [f[key] for key in f.files]  # reading each array checks its zip CRC
        elif path.suffix in (".png", ".gif"):
            with Image.open(path) as image:
                image.load()
        elif path.name.startswith("events.out.tfevents."):
            records(path)  # TensorBoard's events: every whole record reads (a killed writer may have written none)
        elif path.suffix == ".csv":
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            assert len({len(row) for row in rows}) == 1, path.name
            if path.name != "losses.csv":
                assert len(epochs_in(path)) == len(set(epochs_in(path))), (path.name, epochs_in(path))
        else:
            raise AssertionError(f"unexpected file {path.name} in {names}")


@pytest.mark.slow
@pytest.mark.extended
def test_killed_at_any_moment_the_files_load_and_resume_finishes(tiny_data, tmp_path):
    out = tmp_path / "run"
    seed = int(os.environ.get("KILL_SEED", np.random.SeedSequence().entropy % 2**32))
    print(f"the random kill moment comes from KILL_SEED={seed}; set it to replay this run")
    rng = np.random.default_rng(seed)
    # During a checkpoint write and during the report's, in runs that each go on from the one before.
    kills = [("checkpoint.npz:2", False), ("report.html:2", True)]
    for kill_at, resume in kills:
        run = acgan_run(tiny_data, out, kill_at, resume)
        log = run.communicate(timeout=300)[0]
        assert run.returncode == -signal.SIGKILL, log[-2000:]
        check_every_file_loads(out)
    # And at a random moment of a run going on: once its first epoch's losses are on disk.
    losses_written = (out / "losses.csv").stat().st_mtime
    run = acgan_run(tiny_data, out)
    while run.poll() is None and (out / "losses.csv").stat().st_mtime == losses_written:
        time.sleep(0.05)
    time.sleep(rng.uniform(0, 1.5))
    run.kill()
    log = run.communicate(timeout=60)[0]
    check_every_file_loads(out)

    run = acgan_run(tiny_data, out)
    log = run.communicate(timeout=300)[0]
    assert run.returncode == 0, log[-2000:]
    check_every_file_loads(out)
    assert not list(out.glob(f"{gf.PARTIAL_PREFIX}*"))
    with open(out / "losses.csv", newline="") as f:
        steps = [(int(row["epoch"]), int(row["step"])) for row in csv.DictReader(f)]
    assert steps == [(e, s) for e in range(1, EPOCHS + 1) for s in range(1, STEPS + 1)]
    for name in ("metrics.csv", "class_accuracy.csv"):
        assert epochs_in(out / name) == list(range(1, EPOCHS + 1)), name
