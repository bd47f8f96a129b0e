"""Checks every unconditional or conditional training script's test file runs on its script."""
import csv
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from ganlib import cli
from ganlib.saved import read_generator_info
from conftest import SMALL_EVAL, run_script


def check_report(out, summaries):
    """report.html and progress.gif, one frame a summary; in a real browser (when one is installed)
    every image loads, the curves are drawn, nothing goes to the console as an error, and nothing is
    asked of the network."""
    with Image.open(out / "progress.gif") as gif:
        assert gif.n_frames == summaries
    page = (out / "report.html").read_text()
    assert "state</th><td>finished" in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    shown = open_page(out / "report.html")
    assert shown["errors"] == []
    assert shown["images"] and all(complete and width > 0 for _, complete, width in shown["images"]), shown["images"]
    assert {"progress.gif", f"generated_plot_e{summaries:03d}.png"} <= {src for src, _, _ in shown["images"]}
    assert len(shown["curves"]) >= 4 and all(points >= 1 for points in shown["curves"])  # one step: one point
    assert all(url.startswith("file://") for url in shown["requests"]), shown["requests"]


# Debian's Chromium, driven by Playwright; these flags keep it off the network (none here, and
# none a report needs) and let it run as root in a container
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
# What the page shows, read in the page itself once it has loaded.
INSPECT = """JSON.stringify({
  images: Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]),
  curves: Array.from(document.querySelectorAll('svg polyline')).map(p => p.points.numberOfItems),
  text: document.body.innerText
})"""


def chromium():
    """The system Chromium's path, or a skip saying what is missing."""
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright): "
                                                      "the page was not opened in a browser")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the page was not opened in a browser")
    return path


def open_page(path, screenshot=None, width=1200):
    """Load a local page in headless Chromium; return its images, curves and text, the console
    errors and uncaught exceptions, and every URL it asked for. Optionally a full-page screenshot."""
    from playwright.sync_api import sync_playwright
    errors, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport=dict(width=width, height=900))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            shown = json.loads(page.evaluate(INSPECT))
            if screenshot:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return dict(shown, errors=errors, requests=requests)


def read_losses(out):
    with open(out / "losses.csv") as f:
        return list(csv.DictReader(f))


def generator_images(path, inputs):
    g_model = keras.models.load_model(path, compile=False)
    return np.asarray(g_model.predict_on_batch(inputs))


def check_short_fashion_run(module, tiny_data, tmp_path):
    """Two epochs of two steps: every output written, each step logged once, and a generator that
    reloads, draws images in [-1, 1] and is the last snapshot."""
    cli.run_main(module.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path), "--epochs", "2",
                              "--steps-per-epoch", "2", "--batch-size", "8", "--eval-every", "1", "--seed", "3"])
    for name in ["generated_plot_e001.png", "generated_plot_e002.png", "generator_e001.h5",
                 "generator_e002.h5", "generator.h5", "losses.csv", "losses.png"]:
        assert (tmp_path / name).stat().st_size > 0, name
    rows = read_losses(tmp_path)
    assert [(r["epoch"], r["step"]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("d_real", "d_fake", "g"))

    info = read_generator_info(tmp_path / "generator.h5")
    assert info["latent_dim"] == 100 and info["image_shape"] == [28, 28, 1] and info["epoch"] == 2
    z_input = np.random.default_rng(0).standard_normal((6, 100)).astype("float32")
    inputs = [z_input, np.arange(6)] if info["n_classes"] else z_input
    final = generator_images(tmp_path / "generator.h5", inputs)
    assert final.shape == (6, 28, 28, 1) and final.min() >= -1 and final.max() <= 1
    np.testing.assert_array_equal(final, generator_images(tmp_path / "generator_e002.h5", inputs))
    assert not np.array_equal(final, generator_images(tmp_path / "generator_e001.h5", inputs))
    check_report(tmp_path, summaries=2)


def check_jax_run(script, tiny_data, tmp_path, command_line=False):
    """The switch holds on JAX too, and the generator it trains loads and draws here. With
    `command_line`, also a run of the script as a user types it, measuring included."""
    check = run_script(["tests/support/switchcheck.py", script, tiny_data, tmp_path], backend="jax")
    assert check.returncode == 0 and "switch ok on jax" in check.stdout, check.stderr[-2000:]
    out = tmp_path / "run"
    if command_line:
        out = tmp_path / "command_line"
        run = run_script([f"scripts/{script}.py", "--data-dir", tiny_data, "--out", out, "--epochs", "1",
                          "--steps-per-epoch", "2", "--batch-size", "8", *SMALL_EVAL], backend="jax")
        assert run.returncode == 0, run.stderr[-2000:]
        assert (out / "metrics.csv").is_file()
    info = read_generator_info(out / "generator.h5")
    z_input = np.zeros((2, 100), "float32")
    images = generator_images(out / "generator.h5", [z_input, np.array([0, 1])] if info["n_classes"] else z_input)
    assert images.shape == (2, *info["image_shape"]) and np.abs(images).max() <= 1
