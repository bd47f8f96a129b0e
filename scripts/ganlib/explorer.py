"""The explorer's server: a saved generator, or a run's snapshots, drawn on request for a page in
the browser (explore.py). Standard library only besides NumPy and Pillow: one page, one JSON
description, and PNGs drawn from the query's values, each checked before any model runs.

What the page offers follows the generator's kind (kinds.py, `Kind.view`): "latent" a grid of
latent points and a slider between two sets of them, with a class picker when the kind takes a
class; "codes" InfoGAN's categorical value and a slider for each continuous code; "pairs"
Pix2Pix's translation of a validation pair or of an uploaded tile, beside the truth.
"""
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganlib import inputs as gi, kinds as gk
from ganlib.drawing import PAIR_SIZE
from ganlib import readback
from ganlib.atomic_files import UserError
from ganlib.images import tile
from ganlib.saved import read_generator_info

GRID = 16  # images in a latent grid: 4 x 4
MAX_SEED = 2 ** 31 - 1
CODE_RANGE = 3.0  # a continuous code's slider runs over [-3, 3]; its prior is [-1, 1]
MAX_UPLOAD = 8 * 1024 * 1024  # bytes of an uploaded tile
PAGE = Path(__file__).with_name("explorer.html")


class BadRequest(Exception):
    """A request whose values are out of range or of the wrong type: answered 400, one line."""


def snapshots(path):
    """{label: generator file} of what a path names: a run folder's snapshots by epoch, then its
    best and final generators; or the one file."""
    path = Path(path)
    if not path.is_dir():
        read_generator_info(path)
        return {path.name: path}
    found = {}
    for file in sorted(path.glob("generator_e*.h5")):
        match = re.fullmatch(r"generator_e(\d+)\.h5", file.name)
        if match:
            found[f"epoch {int(match.group(1))}"] = file
    for name in ("generator_best.h5", "generator.h5"):
        if (path / name).is_file():
            found[name] = path / name
    if not found:
        raise UserError(f"{path} holds no generator (generator_eNNN.h5, generator_best.h5 or generator.h5)")
    return found


def run_figures(folder):
    """{epoch: {figure: value}} from a run folder's metrics.csv, or {} without one."""
    rows = readback.metrics_rows(Path(folder) / "metrics.csv")
    return {str(int(float(row["epoch"]))): {k: v for k, v in row.items() if k != "epoch" and v} for row in rows}


def as_png(images, n_cols):
    """Images in [-1, 1] as one PNG: greyscale drawn dark on light, as the grids are."""
    images = np.clip((np.asarray(images, "float32") + 1) / 2, 0, 1)
    grey = images.shape[-1] == 1
    picture = tile(1 - images if grey else images, n_cols, gap=max(1, images.shape[1] // 10), background=1.0)
    pixels = (picture * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if grey else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def number(query, name, kind, low, high, default):
    """A query value of `kind` (int or float) within [low, high], or BadRequest naming it."""
    text = query.get(name, [None])[0]
    if text is None:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise BadRequest(f"{name}={text!r} is not {'a whole number' if kind is int else 'a number'}")
    if not (np.isfinite(value) and low <= value <= high):
        raise BadRequest(f"{name}={text} is out of range: {low} to {high}")
    return value


class Explorer:
    """The generators a path names, loaded when first drawn, and the drawings the page asks for."""

    def __init__(self, path, data_dir=None):
        self.path, self.files = Path(path), snapshots(path)
        self.info = read_generator_info(next(iter(self.files.values())))
        self.kind = gk.kind_of(self.info, next(iter(self.files.values())))
        self.figures = run_figures(self.path) if self.path.is_dir() else {}
        self.models, self.lock = {}, threading.Lock()
        self.pairs = gk.load_pairs(self.info, data_dir) if self.kind.view == "pairs" and data_dir else None

    def describe(self):
        info = self.info
        return dict(kind=info["kind"], view=self.kind.view, snapshots=list(self.files),
                    classes=info.get("class_names") if info.get("n_classes") else None,
                    n_cat=info.get("n_cat"), n_cont=info.get("n_cont"), code_range=CODE_RANGE,
                    pairs=0 if self.pairs is None else len(self.pairs[0]), max_seed=MAX_SEED,
                    figures={label: self.figures.get(label.split()[-1], {}) for label in self.files
                             if label.startswith("epoch ")})

    def model(self, label):
        if label not in self.files:
            raise BadRequest(f"no snapshot {label!r}; this one has {', '.join(self.files)}")
        if label not in self.models:
            from ganlib import tutorial as gu  # Keras: when the first image is drawn
            g_model, _ = gu.load_generator(self.files[label])
            self.models[label] = gu.in_training_mode(g_model) if self.kind.in_training_mode else g_model
        return self.models[label]

    def predict(self, label, inputs):
        with self.lock:  # one model call at a time: the page may ask for several images at once
            return np.asarray(self.model(label).predict_on_batch(inputs))

    def draw(self, query):
        """A PNG for the page's current values."""
        label = query.get("snapshot", [next(iter(self.files))])[0]
        if self.kind.view == "codes":
            return self.draw_codes(label, query)
        if self.kind.view == "pairs":
            if self.pairs is None:
                raise BadRequest("no validation pairs: give explore.py --data-dir, or upload a tile")
            index = number(query, "pair", int, 0, len(self.pairs[0]) - 1, 0)
            source, target = self.pairs[0][index], self.pairs[1][index]
            return as_png(np.stack([source, self.predict(label, source[None])[0], target]), 3)
        return self.draw_latent(label, query)

    def draw_latent(self, label, query):
        """GRID latent points of `seed`, walked a share `t` of the way to those of seed + 1; of
        one class where the generator takes one."""
        seed = number(query, "seed", int, 0, MAX_SEED - 1, 0)
        t = number(query, "t", float, 0.0, 1.0, 0.0)
        start, end = (gi.latent_points(self.info, GRID, np.random.default_rng(s)) for s in (seed, seed + 1))
        points = ((1 - t) * start + t * end).astype("float32")
        if self.info.get("n_classes"):
            label_value = number(query, "class", int, 0, self.info["n_classes"] - 1, 0)
            return as_png(self.predict(label, [points, np.full(GRID, label_value)]), 4)
        return as_png(self.predict(label, points), 4)

    def draw_codes(self, label, query):
        """InfoGAN: GRID noise points of `seed` with one categorical value and the continuous codes set."""
        seed = number(query, "seed", int, 0, MAX_SEED - 1, 0)
        code = number(query, "code", int, 0, self.info["n_cat"] - 1, 0)
        cont = [number(query, f"c{k}", float, -CODE_RANGE, CODE_RANGE, 0.0) for k in range(self.info["n_cont"])]
        noise = gi.latent_points(self.info, GRID, np.random.default_rng(seed))
        inputs = gi.infogan_input(noise, np.full(GRID, code), self.info["n_cat"], np.tile(cont, (GRID, 1)))
        return as_png(self.predict(label, inputs), 4)

    def translate(self, label, body):
        """Pix2Pix: an uploaded image, resized to the generator's 256x256, beside its translation."""
        try:
            with Image.open(io.BytesIO(body)) as image:
                image.verify()
            with Image.open(io.BytesIO(body)) as image:
                pixels = np.asarray(image.convert("RGB").resize(PAIR_SIZE, Image.BILINEAR), "float32") / 127.5 - 1
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
            raise BadRequest("the upload is not an image Pillow can read (PNG or JPEG)")
        return as_png(np.stack([pixels, self.predict(label, pixels[None])[0]]), 2)


def handler_for(explorer):
    page = PAGE.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, body, content_type):
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the page moved on before its answer came
                pass

        def answer(self, make):
            """The answer `make` gives; a bad request 400 and anything else 500, each one line."""
            try:
                self.reply(200, *make())
            except BadRequest as error:
                self.reply(400, json.dumps(dict(error=str(error))).encode(), "application/json")
            except Exception as error:  # noqa: BLE001  the server answers the next request whatever this one did
                print(f"explore: {self.path}: {type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}",
                      flush=True)
                self.reply(500, json.dumps(dict(error=f"{type(error).__name__}: could not draw this")).encode(),
                           "application/json")

        def do_GET(self):
            url = urlparse(self.path)
            query = parse_qs(url.query)
            routes = {"/": lambda: (page, "text/html; charset=utf-8"),
                      "/info": lambda: (json.dumps(explorer.describe()).encode(), "application/json"),
                      "/image": lambda: (explorer.draw(query), "image/png")}
            if url.path not in routes:
                self.reply(404, b'{"error": "no such page"}', "application/json")
                return
            self.answer(routes[url.path])

        def do_POST(self):
            url = urlparse(self.path)
            if url.path != "/translate" or explorer.kind.view != "pairs":
                self.reply(404, b'{"error": "no such page"}', "application/json")
                return

            def translated():
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    raise BadRequest("an upload needs its Content-Length")
                if not 0 < length <= MAX_UPLOAD:  # refused before a byte of it is read
                    raise BadRequest(f"the upload is {length:,} bytes; at most {MAX_UPLOAD:,}")
                label = parse_qs(url.query).get("snapshot", [next(iter(explorer.files))])[0]
                return explorer.translate(label, self.rfile.read(length)), "image/png"

            self.answer(translated)

        def log_message(self, *args):  # the terminal shows the address and the failures, not every request
            pass

    return Handler


def serve(explorer, port=0):
    """A server on 127.0.0.1 (`port` 0: a free one), serving in a thread of its own; stop it with
    server.shutdown()."""
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(explorer))
    except OSError as error:
        raise UserError(f"cannot listen on 127.0.0.1:{port} ({error.strerror or error}); give another --port, "
                        "or leave it out for a free one")
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.2), daemon=True).start()
    return server
