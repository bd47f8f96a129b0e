"""Every file a run reads back is untrusted (ganlib/readback.py): a checkpoint, run.json,
metrics.csv, losses.csv or a generator edited in any field is refused by the field's name, in one
line, with a non-zero exit, and nothing is written; no write goes through a lock or a folder the
run did not make; a failure, a signal or a busy coordinator is one line with its exit status.
Each case checks the exit status, the line, and that the earlier files are unchanged."""
import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import cgan_fashion
import evaluate
import report
import sample
from ganlib import atomic_files, cli, run as gr, run_folder, start
from ganlib.saved import GENERATOR_INFO_ATTR
from conftest import REPO


def checksums(folder):
    """Every file in `folder` but the lock, which must read empty: no run holds the folder."""
    lock = folder / run_folder.RUN_LOCK
    assert not lock.is_file() or lock.read_text() == ""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink() and p != lock}


def flags(tiny_data, out, *more, epochs=1):
    return ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", str(epochs), "--steps-per-epoch", "2",
            "--batch-size", "8", "--eval-samples", "0", *more]


def refused(capsys, main, argv, code=2):
    """The one line a refused command prints, after checking its exit status."""
    with pytest.raises(SystemExit) as stop:
        cli.run_main(main, argv)
    err = capsys.readouterr().err
    assert stop.value.code == code and err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture(scope="module")
def finished(tiny_data, tmp_path_factory):
    """A finished one-epoch run of the conditional GAN: its checkpoint, run.json, CSVs, generator."""
    out = tmp_path_factory.mktemp("finished") / "run"
    cli.run_main(cgan_fashion.main, flags(tiny_data, out))
    return out


@pytest.fixture
def run_copy(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


def rewrite_checkpoint(out, change, compress=False):
    """checkpoint.npz with `change(meta, arrays)` applied and its digest recomputed, as an editor who
    knows the format would."""
    path = out / "checkpoint.npz"
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        arrays = {key: f[key] for key in f.files if key != "meta"}
    meta = change(meta, arrays) or meta
    if isinstance(meta, dict):
        meta["digest"] = atomic_files.arrays_digest(arrays.values())
    (np.savez_compressed if compress else np.savez)(path, meta=np.array(json.dumps(meta)), **arrays)


def set_meta(**fields):
    return lambda meta, arrays: dict(meta, **fields)


def set_array(name, value):
    def change(meta, arrays):
        arrays[name] = value(arrays[name])
    return change


CHECKPOINTS = {
    "an epoch below zero": (set_meta(epoch=-5), "field 'meta.epoch' should be a whole number from 0"),
    "an epoch as text": (set_meta(epoch="1"), "field 'meta.epoch' should be a whole number from 0"),
    "a step below zero": (set_meta(step=-1), "field 'meta.step' should be a whole number from 0"),
    "the record as a list": (lambda meta, arrays: [meta], "field 'meta' should be a JSON object, not a list"),
    "settings as text": (set_meta(settings="x"), "field 'meta.settings' should be a JSON object"),
    "the losses reshaped": (set_array("losses", lambda a: a.reshape(-1, 1)),
                            "array 'losses' should hold rows of an epoch, a step and 3 losses"),
    "losses past the epoch": (set_array("losses", lambda a: a + np.array([5, 0, 0, 0, 0])),
                              "array 'losses' does not follow the run's epochs and steps"),
    "a short random state": (set_array("rng1", lambda a: a[:100]), "array 'rng1' is not NumPy's random state"),
    "text as weights": (set_array("v0", lambda a: np.full(a.shape, "x")), "does not match these models (variable 0"),
    "a weight reshaped": (set_array("v0", lambda a: a.reshape(-1)), "does not match these models (variable 0"),
}


@pytest.mark.parametrize("case", CHECKPOINTS)
def test_a_checkpoint_edited_in_any_field_is_refused_by_its_name(run_copy, tiny_data, capsys, case):
    change, message = CHECKPOINTS[case]
    rewrite_checkpoint(run_copy, change)
    before = checksums(run_copy)
    err = refused(capsys, cgan_fashion.main, flags(tiny_data, run_copy, "--resume", epochs=3))
    assert message in err and str(run_copy / "checkpoint.npz") in err, err
    assert checksums(run_copy) == before


def test_a_compressed_checkpoint_is_refused_before_anything_is_inflated(run_copy, tiny_data, capsys):
    """A decompression bomb needs compression; the scripts store checkpoints uncompressed."""
    rewrite_checkpoint(run_copy, lambda meta, arrays: None, compress=True)
    err = refused(capsys, cgan_fashion.main, flags(tiny_data, run_copy, "--resume", epochs=3))
    assert "is compressed, and the scripts store checkpoints uncompressed" in err


def test_run_json_as_a_list_is_refused_on_resume_and_by_report(run_copy, tiny_data, capsys):
    (run_copy / "run.json").write_text("[1, 2]")
    before = checksums(run_copy)
    err = refused(capsys, cgan_fashion.main, flags(tiny_data, run_copy, "--resume", epochs=3))
    assert f"{run_copy / 'run.json'}: its contents should be a JSON object, not a list" in err
    err = refused(capsys, report.main, [str(run_copy)])
    assert f"{run_copy / 'run.json'}: its contents should be a JSON object" in err
    assert checksums(run_copy) == before


RUN_FOLDERS = {
    "run.json: seconds as text": ("run.json", lambda t: json.dumps(dict(json.loads(t), seconds="abc")),
                                  "run.json: field 'seconds' should be a number"),
    "run.json: --data-dir as a number": ("run.json", lambda t: json.dumps(dict(json.loads(t), settings={"--data-dir": 5})),
                                         "run.json: field 'settings.--data-dir' should be text"),
    "metrics.csv: an epoch x": ("metrics.csv", lambda t: "epoch,minutes,samples\nx,0.1,0\n",
                                "metrics.csv, line 2: field 'epoch' should be a whole number"),
    "losses.csv: a loss abc": ("losses.csv", lambda t: t.splitlines()[0] + "\n1,1,abc,0.5,0.5\n",
                               "losses.csv, line 2: field 'd_real' should be a number"),
}


@pytest.mark.parametrize("case", RUN_FOLDERS)
def test_a_run_folder_edited_in_any_field_is_refused_by_report_and_resume(run_copy, tiny_data, capsys, case):
    file, edit, message = RUN_FOLDERS[case]
    path = run_copy / file
    path.write_text(edit(path.read_text() if path.exists() else ""))  # metrics.csv: not measured here
    before = checksums(run_copy)
    assert message in refused(capsys, report.main, [str(run_copy)])
    if file != "losses.csv":  # a resumed run's losses come from its checkpoint
        assert message in refused(capsys, cgan_fashion.main, flags(tiny_data, run_copy, "--resume", epochs=3))
    assert checksums(run_copy) == before


def edited_generator(finished, tmp_path, change):
    path = tmp_path / "generator.h5"
    shutil.copyfile(finished / "generator.h5", path)
    with h5py.File(path, "a") as f:
        info = json.loads(f.attrs[GENERATOR_INFO_ATTR])
        f.attrs[GENERATOR_INFO_ATTR] = change(info)
    return path


GENERATORS = {
    "info that is not JSON": (lambda info: "{kind: cgan", "is damaged: not the generator info it should be"),
    "info as a list": (lambda info: json.dumps([info]), "field 'gan_generator_info' should be a JSON object, not a list"),
    "no classes": (lambda info: json.dumps(dict(info, n_classes=0, class_names=[])),
                   "field 'n_classes' of its generator info is 0"),
    "a latent size as text": (lambda info: json.dumps(dict(info, latent_dim="abc")),
                              "field 'gan_generator_info.latent_dim' should be a whole number"),
    "another latent size": (lambda info: json.dumps(dict(info, latent_dim=50)),
                            "the model takes inputs of shape (100,), (1,), but its info says (50,), (1,)"),
    "another image shape": (lambda info: json.dumps(dict(info, image_shape=[32, 32, 3])),
                            "the model draws images of shape (28, 28, 1), but its info says (32, 32, 3)"),
    "class names that do not count": (lambda info: json.dumps(dict(info, class_names=["a"])),
                                      "field 'gan_generator_info.class_names' should be a list of 10 names"),
}


@pytest.mark.parametrize("case", GENERATORS)
def test_a_generator_edited_in_any_field_is_refused_by_sample_and_evaluate(finished, tmp_path, tiny_data, capsys,
                                                                           case):
    change, message = GENERATORS[case]
    path = edited_generator(finished, tmp_path, change)
    assert message in refused(capsys, sample.main, [str(path), "--out", str(tmp_path / "s.png")])
    assert message in refused(capsys, evaluate.main, [str(path), "--samples", "20", "--data-dir", str(tiny_data)])
    assert not (tmp_path / "s.png").exists()


def test_a_lock_hard_linked_to_another_file_is_refused_and_that_file_untouched(tiny_data, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "run"
    out.mkdir()
    os.link(victim, out / run_folder.RUN_LOCK)
    err = refused(capsys, cgan_fashion.main, flags(tiny_data, out))
    assert f"{out / run_folder.RUN_LOCK} is a hard link to another file" in err
    assert victim.read_text() == "precious" and not (out / "losses.csv").exists()


@pytest.mark.slow
def test_fresh_moves_a_planted_earlier_link_as_a_link_and_writes_nothing_through_it(finished, tiny_data, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / run_folder.MOVING).touch()
    (elsewhere / "generator.h5").write_text("someone else's")
    before = checksums(elsewhere)
    (out / "earlier-20260101-000000").symlink_to(elsewhere, target_is_directory=True)
    cli.run_main(cgan_fashion.main, flags(tiny_data, out, "--fresh"))
    assert checksums(elsewhere) == before
    moved = [p for p in out.glob("earlier-*") if not p.is_symlink()]
    assert len(moved) == 1 and (moved[0] / "earlier-20260101-000000").is_symlink()
    assert (moved[0] / "generator.h5").is_file() and (out / "generator.h5").is_file()


def test_fresh_with_a_mount_point_in_the_folder_moves_nothing(run_copy, tiny_data, capsys, monkeypatch):
    mounted = run_copy / "tensorboard"
    real_ismount = os.path.ismount
    monkeypatch.setattr(run_folder.os.path, "ismount", lambda path: str(path) == str(mounted) or real_ismount(path))
    before = checksums(run_copy)
    err = refused(capsys, cgan_fashion.main, flags(tiny_data, run_copy, "--fresh"))
    assert f"--fresh: {mounted} is a mount point, which cannot be moved aside" in err and "nothing was moved" in err
    assert checksums(run_copy) == before and not list(run_copy.glob("earlier-*"))


def test_a_refused_command_creates_no_folder(tmp_path, capsys):
    empty = tmp_path / "no-data-here"
    empty.mkdir()
    out = tmp_path / "run"
    refused(capsys, cgan_fashion.main, flags(empty, out))
    assert not out.exists()


def test_the_coordinators_address_is_checked_before_jax_starts():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "cannot listen there" in start.coordinator_problem(f"127.0.0.1:{port}", binds=True)
        assert start.coordinator_problem(f"127.0.0.1:{port}", binds=False) is None  # the others connect to it
    assert "not HOST:PORT" in start.coordinator_problem("127.0.0.1", binds=True)
    assert "not HOST:PORT" in start.coordinator_problem("127.0.0.1:70000", binds=True)
    assert "cannot be resolved" in start.coordinator_problem("no-such-host.invalid:1234", binds=True)


def test_launch_stops_the_other_processes_at_once_when_one_is_refused(tmp_path):
    refusing = tmp_path / "refusing.py"
    refusing.write_text("import os, sys, time\n"
                        "if os.environ['KERAS_DISTRIBUTION_PROCESS_ID'] == '0':\n"
                        "    sys.exit(2)\n"
                        "time.sleep(300)\n")
    started = time.time()
    result = subprocess.run([sys.executable, "scripts/launch.py", "--processes", "2", "--", str(refusing)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and time.time() - started < 60, result.stderr
    assert "process 0 exited with status 2" in result.stderr


@pytest.mark.slow
def test_a_busy_coordinator_port_is_one_line_not_a_crash(tiny_data, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {**os.environ, "KERAS_BACKEND": "jax", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
               "KERAS_DISTRIBUTION_PROCESS_ID": "0",
               "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{busy.getsockname()[1]}"}
        result = subprocess.run([sys.executable, "scripts/cgan_fashion.py", *flags(tiny_data, tmp_path / "run")],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr.startswith("error: KERAS_DISTRIBUTION_JOB_ADDRESSES=127.0.0.1:") and \
        "cannot listen there" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_while_the_script_starts_is_one_line_and_its_exit_status(tiny_data, tmp_path, signum, code, word):
    process = subprocess.Popen([sys.executable, "scripts/cgan_fashion.py", *flags(tiny_data, tmp_path / "run")],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    time.sleep(1.5)  # the command line is checked; TensorFlow is loading
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err[-800:]
    assert err.strip().splitlines()[-1].startswith(word) and "Traceback" not in err, err[-800:]


def signal_at_update(d_model, signums):
    """d_model's train_on_batch sends this process `signums[k]` at its (k + 3)-th call."""
    original, calls = d_model.train_on_batch, []

    def train_on_batch(x, y):
        calls.append(1)
        if 3 <= len(calls) < 3 + len(signums):
            os.kill(os.getpid(), signums[len(calls) - 3])
        return original(x, y)
    d_model.train_on_batch = train_on_batch


@pytest.mark.parametrize("signums, code, state", [([signal.SIGTERM], 143, "interrupted"),
                                                  ([signal.SIGINT, signal.SIGINT], 130, "interrupted")])
def test_sigterm_stops_with_143_and_a_second_ctrl_c_still_says_interrupted(tiny_data, tmp_path, monkeypatch, capsys,
                                                                           signums, code, state):
    define_models = cgan_fashion.define_models

    def spied(settings):
        models = define_models(settings)
        signal_at_update(models[1], signums)
        return models

    monkeypatch.setattr(cgan_fashion, "define_models", spied)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        cli.run_main(cgan_fashion.main, flags(tiny_data, out, "--eager", epochs=3))
    assert stop.value.code == code
    assert json.loads((out / "run.json").read_text())["state"] == state
    assert (out / run_folder.RUN_LOCK).read_text() == ""  # released: the folder does not read as in use
    assert "Traceback" not in capsys.readouterr().err


def test_a_disk_that_fills_during_a_run_is_one_line(tiny_data, tmp_path, monkeypatch, capsys):
    """The summary's write fails, and so does every write after it (run.json, the report): the
    failure path writes what it can and never raises."""
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "report.html"))

    monkeypatch.setattr(gr.Run, "summarize", disk_full)
    monkeypatch.setattr(gr, "write_report", disk_full)
    err = refused(capsys, cgan_fashion.main, flags(tiny_data, tmp_path / "run"))
    assert err == f"error: {tmp_path / 'run' / 'report.html'}: No space left on device\n"


def readback_table():
    """The documents' table of the cases above."""
    rows = ["| file | edited so | the line says |", "|---|---|---|"]
    rows += [f"| checkpoint.npz | {case} | `{message}` |" for case, (_, message) in CHECKPOINTS.items()]
    rows += ["| checkpoint.npz | compressed | `is compressed, and the scripts store checkpoints uncompressed` |"]
    rows += [f"| {file} | {case.split(': ', 1)[1]} | `{message}` |" for case, (file, _, message) in RUN_FOLDERS.items()]
    rows += ["| run.json | a list | `its contents should be a JSON object, not a list` |"]
    rows += [f"| a generator .h5 | {case} | `{message}` |" for case, (_, message) in GENERATORS.items()]
    rows += ["| .run.lock | a hard link to another file | `is a hard link to another file` |",
             "| .run.lock | a symbolic link | `is a symbolic link; a run's lock is never a link` |",
             "| the run folder, with `--fresh` | a mount point inside | `is a mount point, which cannot be moved aside` |"]
    return "\n".join(rows) + "\n"


def test_the_documents_list_every_case():
    page = REPO / "docs" / "interrupting.md"
    assert readback_table() in page.read_text(), f"the read-back table in {page} should read:\n{readback_table()}"


def test_a_disk_already_full_when_the_run_claims_its_folder_is_one_line(tiny_data, tmp_path, monkeypatch, capsys):
    open_lock = run_folder.open_lock

    class FullDisk:
        def __init__(self, lock):
            self.lock = lock

        def __getattr__(self, name):
            return getattr(self.lock, name)

        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_folder, "open_lock", lambda out, create=True: FullDisk(open_lock(out, create)))
    err = refused(capsys, cgan_fashion.main, flags(tiny_data, tmp_path / "run"))
    assert err.startswith(f"error: cannot write {tmp_path / 'run' / run_folder.RUN_LOCK}: no space left on the disk")
