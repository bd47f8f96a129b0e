"""report.html and progress.gif: kept by every run, correct when measuring is off, when a run is
interrupted and resumed, and rebuilt by report.py for any folder (the browser checks are in
runchecks.check_report, run on each script's short run)."""
import json

import numpy as np
import pytest
from PIL import Image

import gan_cli as cli
import gan_data as gd
import gan_fashion
import gan_report
import report
from conftest import settings_of

FLAGS = ["--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "8", "--eval-every", "1", "--eval-samples", "0"]


def frames(path):
    with Image.open(path) as gif:
        return gif.n_frames


@pytest.mark.slow
def test_without_measuring_the_report_says_so_and_report_py_rebuilds_both(tiny_data, tmp_path, capsys):
    cli.run_main(gan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path), *FLAGS])
    out = capsys.readouterr().out
    assert f"gan_fashion on fashion_mnist: 64 training images, batch 8, 2 steps an epoch, 2 epochs; writing to {tmp_path}" in out
    assert " s a step: about " in out and "more for the 1 epochs left" in out
    page = (tmp_path / "report.html").read_text()
    assert "Not measured (<code>--eval-samples 0</code>)" in page and "state</th><td>finished" in page
    assert "eval_samples</th><td>0" in page and "n_batch</th><td>8" in page
    first_frame = np.asarray(Image.open(tmp_path / "progress" / "e001.png"))
    assert first_frame.shape == (8 * 28, 8 * 28)  # the 64 fixed latent points, 8 to a row
    for name in ("report.html", "progress.gif"):
        (tmp_path / name).unlink()
    cli.run_main(report.main, [str(tmp_path)])
    assert frames(tmp_path / "progress.gif") == 2
    assert (tmp_path / "report.html").read_text().split("<small>")[0] == page.split("<small>")[0]


@pytest.mark.slow
def test_report_py_on_a_folder_older_than_reports(tiny_data, tmp_path):
    cli.run_main(gan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path), *FLAGS])
    for frame in (tmp_path / "progress").iterdir():
        frame.unlink()
    (tmp_path / "run.json").unlink()
    cli.run_main(report.main, [str(tmp_path)])
    page = (tmp_path / "report.html").read_text()
    assert "unknown (a run older than its report): finished" in page and "a run older than its progress frames" in page
    assert frames(tmp_path / "progress.gif") == 2  # made of the two sample grids


@pytest.mark.slow
def test_an_interrupted_run_says_how_to_go_on_and_a_resumed_one_keeps_its_start(tiny_data, tmp_path, monkeypatch):
    dataset = gd.scale_images(gd.load_dataset("fashion_mnist", tiny_data)[0])
    monkeypatch.setattr("sys.argv", ["scripts/gan_fashion.py", "--out", str(tmp_path)])

    flags = ["--epochs", 3, "--batch-size", 8, "--steps-per-epoch", 2, "--eval-every", 1, "--eval-samples", 0, "--out", tmp_path]

    def models():
        d_model = gan_fashion.define_discriminator()
        g_model = gan_fashion.define_generator(100)
        return g_model, d_model, gan_fashion.define_gan(g_model, d_model)

    g_model, d_model, gan_model = models()
    original = d_model.train_on_batch

    def ctrl_c_at_the_fifth_update(x, y):
        if d_model.train_on_batch.calls == 5:  # epoch 2, step 1, real half
            cli.STOP["requested"] = True
        d_model.train_on_batch.calls += 1
        return original(x, y)

    ctrl_c_at_the_fifth_update.calls = 1
    d_model.train_on_batch = ctrl_c_at_the_fifth_update
    with cli.stop_requests_handled(), pytest.raises(cli.Interrupted):
        gan_fashion.train(g_model, d_model, gan_model, dataset, settings_of(gan_fashion, *flags))
    page = (tmp_path / "report.html").read_text()
    assert f"interrupted; go on with <code>python scripts/gan_fashion.py --out {tmp_path} --resume</code>" in page
    started = json.loads((tmp_path / "run.json").read_text())["started"]

    gan_fashion.train(*models(), dataset, settings_of(gan_fashion, *flags, "--resume"))
    info = gan_report.read_run_info(tmp_path)
    assert info["state"] == "finished" and info["started"] == started
    page = (tmp_path / "report.html").read_text()
    assert all(f"generated_plot_e00{k}.png" in page for k in (1, 2, 3))
    assert frames(tmp_path / "progress.gif") == 3


def test_the_best_epoch_is_the_one_generator_best_h5_was_chosen_by():
    """Pix2Pix with the average off (no raw_ column): lowest L1, as QualityLog keeps it, not SSIM."""
    rows = [dict(epoch="1", pairs="2", l1="0.30", psnr="12", ssim="0.50"),
            dict(epoch="2", pairs="2", l1="0.20", psnr="11", ssim="0.40")]
    assert "Best: epoch 2, l1 0.2" in gan_report.quality_section(rows, "generator_best.h5")
    assert gan_report.primary_figure(["epoch", "fid", "kid", "class_agreement"]) == ("class_agreement", False)
    assert gan_report.primary_figure(["epoch", "fid", "kid"]) == ("fid", True)
