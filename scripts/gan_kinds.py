"""What each kind of generator is, in one place: the inputs it takes, the figure that picks its best
snapshot, the sample.py modes it supports, and the grid of its progress frames. sample.py,
evaluate.py, the metrics, the run and the report read this table; none of them imports a training
script. Adding a GAN: its script saves its generator with `kind=` one of these (or a new entry).

NumPy only, so that tools that only read results (report.py) load neither Keras nor TensorFlow.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from gan_files import UserError

SWEEP = np.linspace(-2, 2, 10)  # an InfoGAN continuous code's values along a sweep grid's rows
PROGRESS_IMAGES = 64  # images in a progress frame of an unconditional generator


def noise(prior, shape, rng=np.random):
    """Latent noise: "normal", N(0, 1), or "uniform" in [-1, 1] (InfoGAN's reference code)."""
    if prior == "uniform":
        return rng.uniform(-1, 1, shape).astype("float32")
    return rng.standard_normal(shape).astype("float32")


def latent_points(info, n, rng):
    return noise(info.get("noise", "normal"), (n, info["latent_dim"]), rng)


def unconditional_inputs(info, n, rng):
    return latent_points(info, n, rng), np.zeros(n, "int64")


def conditional_inputs(info, n, rng):
    """Latent points and labels 0, 1, ..., n_classes - 1, 0, 1, ...: every class as often."""
    asked = np.arange(n) % info["n_classes"]
    return [latent_points(info, n, rng), asked], asked


def infogan_inputs(info, n, rng):
    """Noise, the categorical code's values in turn (one-hot), and continuous codes in [-1, 1]."""
    noise, asked = latent_points(info, n, rng), np.arange(n) % info["n_cat"]
    cont = rng.uniform(-1, 1, (n, info["n_cont"]))
    return np.hstack((noise, np.eye(info["n_cat"])[asked], cont)).astype("float32"), asked


def code_grid_inputs(latent_dim, n_cat, n_cont, n_cols=10, rng=np.random, prior="normal"):
    """InfoGAN: one row per categorical value, the same n_cols latent points in every row."""
    z_latent = np.tile(noise(prior, (n_cols, latent_dim), rng), (n_cat, 1))
    cat_codes = np.repeat(np.eye(n_cat), n_cols, axis=0)
    return np.hstack((z_latent, cat_codes, np.zeros((n_cat * n_cols, n_cont)))).astype("float32")


def sweep_grid_inputs(latent_dim, n_cat, n_cont, code, rng=np.random, prior="normal"):
    """InfoGAN: one row per categorical value; along each row continuous code `code` goes from -2 to 2."""
    z_input = code_grid_inputs(latent_dim, n_cat, n_cont, len(SWEEP), rng, prior)
    z_input[:, latent_dim + n_cat + code] = np.tile(SWEEP, n_cat)
    return z_input


LATENT_MODES = frozenset({"point", "interpolate"})  # sample.py's flags for any latent-vector generator


@dataclass(frozen=True)
class Kind:
    """primary: the metrics.csv column that chooses generator_best.h5, lower or higher better.
    inputs(info, n, rng): n generator inputs and the class or code value each one asks for,
    every value equally often (measuring and progress frames). columns(info): a progress frame's
    columns, one per class or code value. modes: sample.py's flags this kind takes."""
    primary: str
    lower_is_better: bool
    inputs: Callable = None
    columns: Callable = None
    modes: frozenset = LATENT_MODES


KINDS = {
    "gan": Kind("fid", True, unconditional_inputs, lambda info: 8),
    "dcgan": Kind("fid", True, unconditional_inputs, lambda info: 8),
    "cgan": Kind("class_agreement", False, conditional_inputs, lambda info: info["n_classes"],
                 LATENT_MODES | {"label", "per_class"}),
    "acgan": Kind("class_agreement", False, conditional_inputs, lambda info: info["n_classes"],
                  LATENT_MODES | {"label", "per_class"}),
    "infogan": Kind("code_accuracy", False, infogan_inputs, lambda info: info["n_cat"],
                    LATENT_MODES | {"code", "sweep"}),
    "pix2pix": Kind("l1", True, modes=frozenset({"image", "pair"})),
}
# What a user is told when a mode's flag does not fit the generator
MODE_FLAGS = {"label": "--label", "per_class": "--per-class", "code": "--code", "sweep": "--sweep",
              "point": "--point", "interpolate": "--interpolate", "image": "--image", "pair": "--pair"}
MODE_KINDS = {"label": "conditional (cgan, acgan)", "per_class": "conditional (cgan, acgan)",
              "code": "InfoGAN", "sweep": "InfoGAN", "image": "Pix2Pix", "pair": "Pix2Pix",
              "point": "latent-vector", "interpolate": "latent-vector"}


def kind_of(info, path):
    """The Kind of a saved generator's info, or one line saying the file holds no generator."""
    if info.get("kind") not in KINDS:
        article = "an" if str(info.get("kind"))[:1] in "aeiou" else "a"
        raise UserError(f"{path} is {article} {info.get('kind')} model, not a generator")
    return KINDS[info["kind"]]


def progress_inputs(info, rng):
    """A progress frame's inputs and columns: a column per class or code value, rows enough for
    about PROGRESS_IMAGES images (two at least)."""
    kind = KINDS[info["kind"]]
    n_cols = kind.columns(info)
    inputs, _ = kind.inputs(info, n_cols * max(2, PROGRESS_IMAGES // n_cols), rng)
    return inputs, n_cols


def primary_figures():
    """{metrics.csv column: lower is better} for every kind's primary figure."""
    return {kind.primary: kind.lower_is_better for kind in KINDS.values()}
