"""report.html and progress.gif: kept by every run, correct when measuring is off, when a run is
interrupted and resumed, and rebuilt by report.py for any folder (the browser checks are in
runchecks.check_report, run on each script's short run)."""
import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from ganlib import cli, data as gd
import gan_fashion
from ganlib import report_page as gan_report
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
    assert " s a step: about " in out and "more for the 1 epoch left" in out
    page = (tmp_path / "report.html").read_text()
    assert "Not measured (<code>--eval-samples 0</code>)" in page and "state</th><td>finished" in page
    assert "--eval-samples</th><td>0" in page and "--batch-size</th><td>8" in page
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
    assert "unknown (a run older than its report): finished" in page and "The sample grids in turn." in page
    assert frames(tmp_path / "progress.gif") == 2  # made of the two sample grids


@pytest.mark.slow
def test_an_interrupted_run_says_how_to_go_on_and_a_resumed_one_keeps_its_start(tiny_data, tmp_path, monkeypatch):
    dataset = gd.scale_images(gd.load_dataset("fashion_mnist", tiny_data)[0])
    monkeypatch.setattr("sys.argv", ["scripts/gan_fashion.py", "--out", str(tmp_path)])

    # --eager: the stop is asked for inside one update, which a compiled step would not show
    flags = ["--epochs", 3, "--batch-size", 8, "--steps-per-epoch", 2, "--eval-every", 1, "--eval-samples", 0, "--out", tmp_path,
             "--eager"]

    def models():
        return gan_fashion.define_models(settings_of(gan_fashion))[:3]

    g_model, d_model, gan_model = models()
    original, calls = d_model.train_on_batch, []

    def ctrl_c_at_the_fifth_update(x, y):
        calls.append(1)
        if len(calls) == 5:  # epoch 2, step 1, real half
            os.kill(os.getpid(), signal.SIGINT)
        return original(x, y)

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


def test_a_run_stopped_in_its_first_steps_has_its_losses_and_the_true_step_count(tiny_data, tmp_path):
    """Ctrl-C long before the first refresh: losses.csv holds every step trained and the report
    counts them, as the terminal's line does."""
    dataset = gd.scale_images(gd.load_dataset("fashion_mnist", tiny_data)[0])
    flags = ["--epochs", 3, "--batch-size", 8, "--steps-per-epoch", 5, "--eval-samples", 0, "--out", tmp_path, "--eager"]
    g_model, d_model, gan_model = gan_fashion.define_models(settings_of(gan_fashion))[:3]
    original, calls = d_model.train_on_batch, []

    def ctrl_c_in_the_second_step(x, y):
        calls.append(1)
        if len(calls) == 3:  # step 2's real half: the stop comes after step 2
            os.kill(os.getpid(), signal.SIGINT)
        return original(x, y)

    d_model.train_on_batch = ctrl_c_in_the_second_step
    with cli.stop_requests_handled(), pytest.raises(cli.Interrupted):
        gan_fashion.train(g_model, d_model, gan_model, dataset, settings_of(gan_fashion, *flags))
    assert len((tmp_path / "losses.csv").read_text().splitlines()) == 1 + 2
    assert "<th>steps</th><td>2 of 15</td>" in (tmp_path / "report.html").read_text()


def test_the_best_epoch_is_the_one_generator_best_h5_was_chosen_by():
    """Pix2Pix with the average off (no raw_ column): lowest L1, as QualityLog keeps it, not SSIM."""
    rows = [dict(epoch="1", pairs="2", l1="0.30", psnr="12", ssim="0.50"),
            dict(epoch="2", pairs="2", l1="0.20", psnr="11", ssim="0.40")]
    assert "Best: epoch 2, l1 0.2" in gan_report.quality_section(rows, "generator_best.h5", {})
    assert gan_report.primary_figure(["epoch", "fid", "kid", "class_agreement"]) == ("class_agreement", False)
    assert gan_report.primary_figure(["epoch", "fid", "kid"]) == ("fid", True)


def chart_of(page):
    return page.split("<h2>Quality</h2>")[1].split("</svg>")[0]


def test_the_quality_chart_shows_chance_and_the_judge_on_a_share_axis_from_0_to_1():
    """Class agreement near chance must not look like a trend: the axis is the whole 0-1 range,
    with chance (1/10) and the judge's own accuracy on real images drawn across it."""
    info = dict(generator=dict(kind="cgan", n_classes=10), judge_accuracy=0.9081)
    rows = [dict(epoch="1", class_agreement="0.0925"), dict(epoch="2", class_agreement="0.101")]
    chart = gan_report.quality_section(rows, None, info)
    assert chart.count('class="reference"') == 2 and "chance: 10%" in chart
    assert "the judge on real test images: 90.8%" in chart
    assert ">0</text>" in chart and ">1</text>" in chart  # the y axis' ends


def test_the_best_is_marked_by_both_axes_and_recall_is_drawn_beside_its_ceiling():
    """A conditional run's best snapshot is the one both_axes chose, not the highest agreement, and
    precision and recall are drawn with the real images' own figures across the chart."""
    info = dict(generator=dict(kind="cgan", n_classes=10), judge_accuracy=0.9081)
    rows = [dict(epoch="1", class_agreement="0.95", precision="0.9", recall="0.1", real_precision="0.88",
                 real_recall="0.87", both_axes="0.2"),
            dict(epoch="2", class_agreement="0.85", precision="0.85", recall="0.5", real_precision="0.88",
                 real_recall="0.87", both_axes="0.7")]
    section = gan_report.quality_section(rows, "generator_best.h5", info)
    assert "Best: epoch 2, class_agreement 0.85, chosen by both_axes 0.7" in section
    older = dict(epoch="0", class_agreement="0.99", precision="", recall="", real_precision="", real_recall="",
                 both_axes="")  # a resumed run's row from before both axes were measured
    assert "Best: epoch 2, class_agreement 0.85" in gan_report.quality_section([older, *rows], None, info)
    assert "recall of real training images: 0.87" in section and "precision of real training images: 0.88" in section


def test_one_summary_is_drawn_as_a_point_away_from_the_axis_labels():
    chart = gan_report.quality_section([dict(epoch="1", fid="300")], None, {})
    assert chart.count("<circle") == 2  # the point, and the ring marking it best
    x_labels = [line for line in chart.splitlines() if "text-anchor=\"middle\">1</text>" in line]
    assert len(x_labels) == 1


def test_every_setting_appears_once_under_the_flag_a_user_types(tmp_path):
    gan_report.update_run_info(tmp_path, script="gan_fashion", settings=settings_of(gan_fashion).by_flag())
    (tmp_path / "losses.csv").write_text("epoch,step,d_real,d_fake,g\n1,1,0.7,0.7,0.7\n")
    page = gan_report.write_report(tmp_path).read_text()
    table = page.split("<h2>Settings</h2>")[1].split("</table>")[0]
    names = [cell.split("</th>")[0] for cell in table.split("<th>")[1:]]
    assert len(names) == len(set(names)) and "--batch-size" in names and "--learning-rate" in names
    assert not {"n_batch", "N_BATCH", "--out", "--resume", "--fresh"} & set(names)


def test_hostile_file_names_and_settings_reach_the_page_escaped(tmp_path):
    hostile = '<img src=x onerror=alert(1)>'
    (tmp_path / f"generated_plot_e9{hostile}.png").write_bytes(b"")
    (tmp_path / f"evil{hostile}_plot.png").write_bytes(b"")
    (tmp_path / "losses.csv").write_text("epoch,step,d<b>,g\n1,1,0.7,0.7\n")
    gan_report.update_run_info(tmp_path, script=f"gan{hostile}", command=f"python x.py --out '{hostile}'",
                               settings={"--out-name": hostile}, state="failed", message=f"error: {hostile}")
    page = gan_report.write_report(tmp_path).read_text()
    assert "<img src=x" not in page and "<b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    script = page.split("<script>")[1].split("</script>")[0]
    assert "<" not in script.replace("\\u003c", "")
