"""Nothing overwritten, nothing half-checked: one run per output folder, a run found there continued
(--resume) or moved aside (--fresh) but never overwritten, a resume with nothing to train writes
nothing, files written only over regular files, a file that cannot be written named in one line,
and a generator whose weights changed refused."""
import errno
import fcntl
import hashlib
import json
import os
import shutil

import h5py
import numpy as np
import pytest

import cgan_fashion
import gan_fashion
from ganlib import cli, atomic_files as gf, run_folder as run_folder, report_page as gan_report
from ganlib.saved import GENERATOR_INFO_ATTR
import report
import sample


def checksums(folder):
    """Every file of the run in `folder`; the lock, which names whichever run last held the folder,
    is not one of them."""
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink() and p.name != run_folder.RUN_LOCK}


def run(tiny_data, out, *flags, epochs=1):
    cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", str(epochs),
                                     "--steps-per-epoch", "1", "--batch-size", "8", "--eval-samples", "0", *flags])


def refused(capsys, tiny_data, out, *flags, epochs=1):
    """The one line a refused run prints, after checking its exit status."""
    with pytest.raises(SystemExit) as stop:
        run(tiny_data, out, *flags, epochs=epochs)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def earlier_run(tiny_data, tmp_path_factory):
    """An output folder holding a finished two-epoch run, seen by a fresh process (no lock held)."""
    out = tmp_path_factory.mktemp("run")
    run(tiny_data, out, epochs=2)
    assert (out / run_folder.RUN_LOCK).read_text() == ""  # released at the end: it does not read as in use
    return out


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_first(tiny_data, tmp_path, capsys):
    with open(tmp_path / run_folder.RUN_LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("process 4242: python scripts/cgan_fashion.py, started 2026-11-29 10:00:00\n")
        lock.flush()
        before = checksums(tmp_path)
        err = refused(capsys, tiny_data, tmp_path)
    assert f"{tmp_path} is in use by another run (process 4242: python scripts/cgan_fashion.py, started " \
           "2026-11-29 10:00:00)" in err
    assert checksums(tmp_path) == before and (tmp_path / run_folder.RUN_LOCK).read_text().startswith("process 4242:")


@pytest.mark.parametrize("state,advice", [("finished", "add --resume to train it further"),
                                          ("interrupted", "add --resume to continue it")])
@pytest.mark.slow
def test_a_new_run_into_a_folder_holding_a_run_is_refused(earlier_run, tiny_data, capsys, state, advice):
    gan_report.update_run_info(earlier_run, state=state)
    before = checksums(earlier_run)
    err = refused(capsys, tiny_data, earlier_run)
    assert "holds a finished run" in err if state == "finished" else "holds an unfinished run" in err
    assert advice in err and "or --fresh to start over (its files are moved aside, not deleted)" in err
    assert checksums(earlier_run) == before


@pytest.mark.slow
def test_fresh_moves_the_earlier_run_aside_and_starts_over(earlier_run, tiny_data, capsys):
    before = checksums(earlier_run)
    run(tiny_data, earlier_run, "--fresh", "--seed", "3")
    [aside] = earlier_run.glob("earlier-*")
    assert f"--fresh: the earlier run's files are in {aside}" in capsys.readouterr().out
    assert checksums(aside) == before
    assert (earlier_run / "generator.h5").is_file() and (earlier_run / "checkpoint.npz").is_file()


@pytest.mark.slow
def test_resume_and_fresh_together_are_refused(earlier_run, tiny_data, capsys):
    assert "--resume and --fresh cannot go together" in refused(capsys, tiny_data, earlier_run, "--resume", "--fresh")


@pytest.mark.slow
@pytest.mark.parametrize("epochs", [1, 2])
def test_resume_of_a_run_at_or_past_its_epochs_writes_nothing(earlier_run, tiny_data, capsys, epochs):
    before = checksums(earlier_run)
    with pytest.raises(SystemExit) as stop:
        run(tiny_data, earlier_run, "--resume", epochs=epochs)
    assert stop.value.code == 0
    assert f"the run in {earlier_run} is already at epoch 2 (--epochs {epochs}): nothing to train" in \
        capsys.readouterr().out
    assert checksums(earlier_run) == before


@pytest.mark.slow
def test_a_checkpoint_from_another_script_is_refused_naming_it(earlier_run, tiny_data, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.run_main(gan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(earlier_run), "--epochs", "3",
                                        "--steps-per-epoch", "1", "--batch-size", "8", "--eval-samples", "0",
                                        "--resume"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert f"cannot resume: {earlier_run / 'checkpoint.npz'} was made by cgan_fashion, not gan_fashion" in err


@pytest.mark.slow
def test_leftover_temporary_files_are_cleared_in_every_folder_of_the_run(earlier_run, tiny_data):
    stale = [earlier_run / ".partial-losses-x.csv", earlier_run / "progress" / ".partial-e001-x.png"]
    for path in stale:
        path.parent.mkdir(exist_ok=True)
        path.write_text("half")
    run(tiny_data, earlier_run, "--resume", epochs=3)
    assert not any(path.exists() for path in stale)


def test_a_fifo_where_an_image_should_go_is_refused(cgan_generator, tmp_path, capsys):
    fifo = tmp_path / "grid.png"
    os.mkfifo(fifo)
    with pytest.raises(SystemExit) as stop:
        cli.run_main(sample.main, [str(cgan_generator), "--out", str(fifo), "--n", "2"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == f"error: {fifo} is not a regular file (a device, FIFO or socket); " \
                                      "name a file to write\n"
    assert fifo.is_fifo()


def test_a_symlink_is_replaced_by_the_file_and_its_target_left_alone(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    gf.write_text(link, "new")
    assert not link.is_symlink() and link.read_text() == "new" and target.read_text() == "keep me"


def test_a_write_that_fails_names_the_final_file_and_the_space_left(tmp_path, monkeypatch):
    def full_disk(tmp):
        raise OSError(errno.ENOSPC, "No space left on device", tmp)

    with pytest.raises(gf.UserError) as error:
        gf.atomic_write(tmp_path / "generator.h5", full_disk)
    message = str(error.value)
    assert message.startswith(f"cannot write {tmp_path / 'generator.h5'}: no space left on the disk (")
    assert "MB free)" in message and ".partial-" not in message
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_report_on_a_folder_it_cannot_write_is_one_line(earlier_run, monkeypatch, capsys):
    def read_only(tmp):
        raise OSError(errno.EROFS, "Read-only file system", tmp)

    def write_fails(path, *contents):
        gf.atomic_write(path, read_only)

    monkeypatch.setattr(gan_report, "atomic_write", write_fails)
    monkeypatch.setattr(gan_report, "write_text", write_fails)
    with pytest.raises(SystemExit) as stop:
        cli.run_main(report.main, [str(earlier_run)])
    assert stop.value.code == 2
    assert capsys.readouterr().err == f"error: cannot write {earlier_run / 'progress.gif'}: Read-only file system\n"


def first_weights(f):
    """The first weight array stored in a Keras .h5 file."""
    found = []
    f["model_weights"].visititems(lambda name, item: found.append(item) if isinstance(item, h5py.Dataset) else None)
    return found[0]


def test_a_generator_whose_weights_changed_is_refused_and_an_unchecked_one_noted(cgan_generator, tmp_path, capsys):
    damaged = tmp_path / "damaged.h5"
    shutil.copyfile(cgan_generator, damaged)
    with h5py.File(damaged, "a") as f:
        weights = first_weights(f)
        weights[...] = np.asarray(weights) + 1.0
    with pytest.raises(SystemExit) as stop:
        cli.run_main(sample.main, [str(damaged), "--out", str(tmp_path / "grid.png")])
    assert stop.value.code == 2
    assert capsys.readouterr().err == f"error: {damaged} is damaged: its weights are not the ones saved (their " \
                                      "checksum differs); use another snapshot\n"
    older = tmp_path / "older.h5"
    shutil.copyfile(cgan_generator, older)
    with h5py.File(older, "a") as f:
        info = json.loads(f.attrs[GENERATOR_INFO_ATTR])
        del info["weights_sha256"]
        f.attrs[GENERATOR_INFO_ATTR] = json.dumps(info)
    cli.run_main(sample.main, [str(older), "--out", str(tmp_path / "grid.png")])
    assert f"note: {older} carries no checksum of its weights" in capsys.readouterr().out


@pytest.mark.slow
def test_a_corrupt_test_split_stops_the_run_before_its_first_step(tiny_data, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    test_images = data / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    test_images.write_bytes(test_images.read_bytes()[:100])
    with pytest.raises(SystemExit) as stop:
        cli.run_main(cgan_fashion.main, ["--data-dir", str(data), "--out", str(tmp_path / "run"), "--epochs", "1",
                                         "--steps-per-epoch", "1", "--batch-size", "8"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(f"error: {test_images} is corrupt or truncated")
    assert err.count("\n") == 1 and not (tmp_path / "run" / "losses.csv").exists()


@pytest.mark.slow
def test_a_resume_names_the_settings_edited_at_the_top_of_the_script_and_uses_them(
        earlier_run, tiny_data, monkeypatch, capsys):
    monkeypatch.setattr(cgan_fashion, "LEARNING_RATE", 0.0001)
    run(tiny_data, earlier_run, "--resume", epochs=3)
    assert "resuming with settings edited since the checkpoint: N_EPOCHS 2 -> 3, LEARNING_RATE 0.0002 -> 0.0001" in \
        capsys.readouterr().out
    assert json.loads((earlier_run / "run.json").read_text())["settings"]["--learning-rate"] == 0.0001
    with np.load(earlier_run / "checkpoint.npz") as f:
        scalars = [float(f[key]) for key in f.files if key.startswith("v") and f[key].shape == ()]
    assert 0.0001 in np.float32(scalars) and np.float32(0.0002) not in np.float32(scalars)


@pytest.mark.slow
def test_a_damaged_checkpoint_is_refused(earlier_run, tiny_data, capsys):
    checkpoint = earlier_run / "checkpoint.npz"
    with np.load(checkpoint) as f:
        arrays = {key: f[key] for key in f.files}
    arrays["v0"] = arrays["v0"] + 1  # what a flipped bit in a weight would do, the zip still whole
    np.savez(checkpoint, **arrays)
    before = checksums(earlier_run)
    err = refused(capsys, tiny_data, earlier_run, "--resume", epochs=3)
    assert f"{checkpoint} is damaged: its contents are not the ones saved (their checksum differs)" in err
    assert checksums(earlier_run) == before
