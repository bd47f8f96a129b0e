"""Nothing overwritten through a side door: a folder with any trace of a run is a run folder, no
write follows a link the run did not make, a --fresh cut short finishes its move, and every
failure (out of memory, a damaged judges.json) is one line with run.json saying so. Each case
checks the exit status, the line, and that the earlier files (or a link's target) are unchanged."""
import hashlib
import json
import shutil

import pytest

import cgan_fashion
from ganlib import cli, run_folder, judges as gj, step
from conftest import REPO, run_script


def checksums(path):
    """Every file under `path` (or the one file), by name; the lock, which names whichever run
    last held the folder, is not one of them."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()
                                                 and p.name != run_folder.RUN_LOCK)
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def flags(tiny_data, out, *more, epochs=1):
    return ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", str(epochs), "--steps-per-epoch", "1",
            "--batch-size", "8", "--eval-samples", "0", *more]


def refused(capsys, argv, code=2):
    """The one line a refused run prints, after checking its exit status."""
    with pytest.raises(SystemExit) as stop:
        cli.run_main(cgan_fashion.main, argv)
    err = capsys.readouterr().err
    assert stop.value.code == code and err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def finished_run(tiny_data, tmp_path):
    out = tmp_path / "run"
    cli.run_main(cgan_fashion.main, flags(tiny_data, out, epochs=2))
    return out


@pytest.mark.slow
def test_a_finished_run_whose_checkpoint_is_gone_is_not_overwritten(finished_run, tiny_data, capsys):
    (finished_run / "checkpoint.npz").unlink()
    before = checksums(finished_run)
    err = refused(capsys, flags(tiny_data, finished_run))
    assert "holds a run without a checkpoint (run.json, losses.csv, generator.h5" in err and "--fresh" in err
    assert checksums(finished_run) == before
    err = refused(capsys, flags(tiny_data, finished_run, "--resume", epochs=3))
    assert "nothing to resume: " in err and "has no checkpoint.npz; --fresh starts over and keeps run.json" in err
    assert checksums(finished_run) == before


def test_a_run_killed_before_its_first_checkpoint_is_not_replaced(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps(dict(script="cgan_fashion", state="running")))
    (out / "losses.csv").write_text("epoch,step,d_real,d_fake,g\n1,1,0.7,0.7,0.7\n")
    before = checksums(out)
    err = refused(capsys, flags(tiny_data, out))
    assert "holds a run without a checkpoint (run.json, losses.csv)" in err
    assert checksums(out) == before


def test_a_lock_planted_as_a_link_is_refused_and_its_target_untouched(tiny_data, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "run"
    out.mkdir()
    (out / run_folder.RUN_LOCK).symlink_to(victim)
    err = refused(capsys, flags(tiny_data, out))
    assert f"{out / run_folder.RUN_LOCK} is a symbolic link; a run's lock is never a link" in err
    assert victim.read_text() == "precious" and not (out / "losses.csv").exists()


@pytest.mark.slow
def test_a_progress_folder_planted_as_a_link_is_replaced_and_its_target_untouched(tiny_data, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "e001.png").write_text("not a frame")
    out = tmp_path / "run"
    out.mkdir()
    (out / "progress").symlink_to(elsewhere)
    before = checksums(elsewhere)
    cli.run_main(cgan_fashion.main, flags(tiny_data, out, "--eval-samples", "20"))
    assert checksums(elsewhere) == before
    assert not (out / "progress").is_symlink() and (out / "progress" / "e001.png").stat().st_size > 100


@pytest.mark.slow
def test_a_fresh_cut_short_finishes_its_move_into_the_same_folder(finished_run, tiny_data):
    before = checksums(finished_run)
    aside = finished_run / "earlier-20261202-101010"
    aside.mkdir()
    (aside / run_folder.MOVING).touch()
    for name in ("generator.h5", "run.json"):  # what the first --fresh had moved when it was killed
        (finished_run / name).rename(aside / name)
    cli.run_main(cgan_fashion.main, flags(tiny_data, finished_run, "--fresh"))
    assert [p.name for p in finished_run.glob("earlier-*")] == [aside.name] and not (aside / run_folder.MOVING).exists()
    assert {name.split("/", 1)[1] for name in checksums(aside)} == {name.split("/", 1)[1] for name in before}
    assert (finished_run / "generator.h5").is_file()


def test_a_plain_run_into_a_folder_a_fresh_left_half_moved_is_refused(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    (out / "earlier-20261202-101010").mkdir(parents=True)
    (out / "earlier-20261202-101010" / run_folder.MOVING).touch()
    (out / "losses.csv").write_text("epoch,step,g\n1,1,0.7\n")
    err = refused(capsys, flags(tiny_data, out))
    assert "that --fresh was moving into earlier-20261202-101010 when it stopped: add --fresh again" in err


def test_out_of_memory_is_one_line_naming_the_batch_and_the_run_says_it_failed(tiny_data, tmp_path, capsys,
                                                                               monkeypatch):
    class ResourceExhaustedError(Exception):
        """What TensorFlow raises when a step does not fit (named so; XLA says RESOURCE_EXHAUSTED)."""

    def too_big(self, *inputs, updates):
        raise ResourceExhaustedError("OOM when allocating tensor with shape[60000,128,14,14]")

    monkeypatch.setattr(step.CompiledStep, "__call__", too_big)
    err = refused(capsys, flags(tiny_data, tmp_path / "run"))
    assert err == "error: out of memory (ResourceExhaustedError) at --batch-size 8: try --batch-size 4\n"
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["state"] == "failed" and info["message"].startswith("out of memory")
    assert "failed: out of memory (ResourceExhaustedError)" in (tmp_path / "run" / "report.html").read_text()


@pytest.mark.parametrize("field", ["sha256", "file"])
def test_a_judges_index_entry_without_a_field_is_one_line(tiny_data, tmp_path, capsys, monkeypatch, field):
    judges = tmp_path / "judges"
    shutil.copytree(REPO / "judges", judges)
    index = json.loads((judges / "judges.json").read_text())
    del index["fashion_mnist"][field]
    (judges / "judges.json").write_text(json.dumps(index))
    monkeypatch.setattr(gj, "SHIPPED_JUDGES_DIR", judges)
    err = refused(capsys, flags(tiny_data, tmp_path / "run", "--eval-samples", "20"))
    assert f"{judges / 'judges.json'}: the fashion_mnist entry has no valid '{field}'; restore it with git checkout" in err


def test_flags_folders_in_use_and_runs_found_answer_before_keras_loads(tmp_path):
    """As a user types them: each answered by the script's first import, TensorFlow never imported."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "losses.csv").write_text("epoch,step,g\n1,1,0.7\n")
    for args, said in [(["--epochz", "2"], "unrecognized arguments: --epochz 2"),
                       (["--help"], "usage: cgan_fashion.py"),
                       (["--data-dir", str(tmp_path / "missing")], "does not exist"),
                       (["--out", str(out)], "holds a run without a checkpoint")]:
        result = run_script(["-X", "importtime", "scripts/cgan_fashion.py", *args])
        imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                    if line.startswith("import time:")}
        assert said in result.stdout + result.stderr and not {"keras", "tensorflow"} & imported, args
