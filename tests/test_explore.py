"""explore.py: the page for each kind of generator in headless Chromium, its controls redrawing
the images, a run's snapshots, and bad requests refused while the server goes on answering."""
import io
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

import cgan_fashion
import datafiles
import explore
from ganlib import cli, explorer
from conftest import save_untrained
from runchecks import CHROMIUM_FLAGS, chromium

SCRIPTS = {"gan": "gan_fashion", "cgan": "cgan_fashion", "infogan": "infogan_mnist", "pix2pix": "pix2pix_maps",
           "dcgan": "dcgan_cifar10", "acgan": "acgan_fashion"}


@pytest.fixture(scope="module")
def generators(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore")
    return {kind: save_untrained(script, root / f"{kind}.h5") for kind, script in SCRIPTS.items()}


@pytest.fixture
def served():
    """serve(path): the explorer of a path on a free port; its address. Every server stops after the test."""
    servers = []

    def serve(path, data_dir=None):
        server = explorer.serve(explorer.Explorer(path, data_dir))
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def open_page(browser, address):
    """A page on the explorer at `address`, and the first images it drew."""
    page = browser.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page, redrawn(page, lambda: page.goto(address))


def redrawn(page, action):
    """The images the page shows after `action`: the PNG it asked for, asked again (the server
    draws the same query the same way)."""
    drawn = page.evaluate("document.getElementById('view') ? Number(document.getElementById('view').dataset.drawn || 0) : 0")
    with page.expect_response(lambda response: "/image?" in response.url) as answer:
        action()
    page.wait_for_function(f"Number(document.getElementById('view').dataset.drawn || 0) > {drawn}")
    status, body = get(answer.value.url, "")
    assert status == 200
    return np.asarray(Image.open(io.BytesIO(body)))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gan", "cgan", "infogan"])
def test_the_page_draws_each_kind_and_its_controls_redraw(kind, generators, served, browser):
    page, first = open_page(browser, served(generators[kind]))
    assert first.shape[0] > 100 and page.inner_text("#message") == ""
    if kind == "cgan":
        assert page.eval_on_selector_all("#class option", "options => options.length") == 10
        assert not np.array_equal(redrawn(page, lambda: page.select_option("#class", "5")), first)
    if kind == "infogan":
        assert page.eval_on_selector_all("#code option", "options => options.length") == 10
        moved = redrawn(page, lambda: page.eval_on_selector(
            "#c0", "e => { e.value = 2.5; e.dispatchEvent(new Event('input')); }"))
        assert not np.array_equal(moved, first)
    else:
        moved = redrawn(page, lambda: page.eval_on_selector(
            "#t", "e => { e.value = 1; e.dispatchEvent(new Event('input')); }"))
        assert not np.array_equal(moved, first)
    assert not np.array_equal(redrawn(page, lambda: page.click("#new-points")), moved)
    assert page.errors == []


@pytest.mark.slow
def test_pix2pix_translates_an_uploaded_tile_beside_it(generators, served, browser, tmp_path):
    page = browser.new_page()
    page.errors = []
    page.goto(served(generators["pix2pix"]))
    page.wait_for_function("document.getElementById('message').textContent.includes('upload a tile')")
    tile = tmp_path / "tile.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(tile)
    with page.expect_response(lambda response: "/translate" in response.url) as answer:
        page.set_input_files("#upload", str(tile))
    assert answer.value.status == 200
    page.wait_for_function("document.getElementById('view').naturalWidth > 0")
    shown = page.eval_on_selector("#view", "e => [e.naturalHeight, e.naturalWidth]")
    assert shown == [256, 2 * 256 + 25] and page.inner_text("#message") == "" and page.errors == []


@pytest.mark.slow
def test_a_run_folder_offers_every_snapshot_with_its_figures(tiny_data, tmp_path, served, browser):
    out = tmp_path / "cgan"
    cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "2",
                                    "--steps-per-epoch", "1", "--batch-size", "8", "--eval-every", "1"])
    page, last = open_page(browser, served(out))
    options = page.eval_on_selector_all("#snapshot option", "options => options.map(o => o.value)")
    assert options == ["epoch 1", "epoch 2", "generator_best.h5", "generator.h5"]
    first = redrawn(page, lambda: page.select_option("#snapshot", "epoch 1"))
    assert first.shape == last.shape and not np.array_equal(first, last)  # the same inputs, another generator
    page.wait_for_function("document.getElementById('figures').innerText.includes('class_agreement')")
    assert page.errors == []


def get(address, path, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(address + path, data=data), timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.slow
@pytest.mark.parametrize("kind,path,data,message", [
    ("cgan", "/image?class=10", None, "class=10 is out of range: 0 to 9"),
    ("cgan", "/image?t=nan", None, "t=nan is out of range"),
    ("cgan", "/image?seed=1.5", None, "seed='1.5' is not a whole number"),
    ("cgan", "/image?snapshot=../../etc/passwd", None, "no snapshot '../../etc/passwd'"),
    ("infogan", "/image?c1=1e9", None, "c1=1e9 is out of range: -3.0 to 3.0"),
    ("infogan", "/image?code=-1", None, "code=-1 is out of range: 0 to 9"),
    ("pix2pix", "/translate", b"not an image at all", "the upload is not an image Pillow can read"),
    ("pix2pix", "/image", None, "no validation pairs"),
])
def test_bad_requests_are_refused_in_one_line_and_the_server_goes_on(kind, path, data, message, generators, served):
    address = served(generators[kind])
    status, body = get(address, path, data)
    assert status == 400 and json.loads(body)["error"].startswith(message.split(":")[0]) and message in json.loads(body)["error"]
    assert get(address, "/info")[0] == 200 and get(address, "/nowhere")[0] == 404


@pytest.mark.slow
def test_an_upload_over_the_limit_is_refused_before_it_is_read(generators, served):
    address = served(generators["pix2pix"])
    request = urllib.request.Request(address + "/translate", data=b"x" * 10, method="POST",
                                     headers={"Content-Length": str(explorer.MAX_UPLOAD + 1)})
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 400 and "at most" in json.loads(error.read())["error"]
    except (ConnectionError, urllib.error.URLError):
        pass  # the server answered and closed before the client finished writing: refused all the same
    assert get(address, "/info")[0] == 200


@pytest.mark.parametrize("make,message", [
    (lambda tmp: tmp / "missing.h5", "no such file"),
    (lambda tmp: (tmp / "plain.h5").write_bytes(b"not h5") and tmp / "plain.h5", "is not an .h5 model file"),
    (lambda tmp: tmp, "holds no generator"),
])
def test_a_path_that_holds_no_generator_is_one_line(make, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.run_main(explore.main, [str(make(tmp_path))])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and message in err


def test_a_busy_port_is_one_line(generators, served, capsys):
    busy = int(served(generators["gan"]).rsplit(":", 1)[1])
    with pytest.raises(SystemExit) as stop:
        cli.run_main(explore.main, [str(generators["gan"]), "--port", str(busy)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"cannot listen on 127.0.0.1:{busy}" in err and err.count("\n") == 1


@pytest.mark.slow
def test_explore_prints_its_address_serves_the_page_and_stops_cleanly_on_ctrl_c(generators):
    import signal
    import subprocess
    import sys
    from conftest import REPO
    process = subprocess.Popen([sys.executable, str(REPO / "scripts" / "explore.py"), str(generators["cgan"])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith(f"exploring {generators['cgan']} at http://127.0.0.1:") and "(Ctrl-C stops)" in line
        address = line.split(" at ")[1].split("/ ")[0]
        assert get(address, "/")[0] == 200 and get(address, "/image?class=3")[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and out.strip() == "explorer stopped" and err == ""


@pytest.mark.slow
@pytest.mark.parametrize("kind,query,shape", [("gan", "t=0.5", (4, 28)), ("dcgan", "seed=3", (4, 32)),
                                              ("cgan", "class=9", (4, 28)), ("acgan", "class=2&t=1", (4, 28)),
                                              ("infogan", "code=7&c0=-2&c1=2", (4, 28)), ("pix2pix", "pair=1", (1, 256))])
def test_every_kind_draws_what_its_page_asks_for(kind, query, shape, generators, served, tmp_path):
    """Each of the six scripts' generators: a grid of 4 x 4 (Pix2Pix: source, translation and
    truth of a validation pair from maps/val/)."""
    datafiles.write_maps_folder(tmp_path, broken=False)
    address = served(generators[kind], tmp_path if kind == "pix2pix" else None)
    status, body = get(address, f"/image?{query}")
    rows, size = shape
    image = np.asarray(Image.open(io.BytesIO(body)))
    gap = max(1, size // 10)
    assert status == 200 and image.shape[0] == rows * size + (rows - 1) * gap
    assert image.shape[1] == (3 if kind == "pix2pix" else 4) * size + (2 if kind == "pix2pix" else 3) * gap
