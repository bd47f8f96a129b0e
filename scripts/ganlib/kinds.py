"""What each kind of generator is, in one place: the inputs it takes (inputs.py), the figures
that measure it and the one that picks its best snapshot, what it is measured on, the sample.py
modes it takes and how each draws (drawing.py), its progress frames, and the models saved
beside it (InfoGAN's Q). sample.py, evaluate.py, the metrics, the run and the report read
this table; none of them imports a training script, and none asks which kind it holds.

Adding a GAN: its script saves its generator with `kind=` one of these, or a new entry here.

NumPy and SciPy only, so that tools that read results (report.py) load neither Keras nor TensorFlow.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ganlib import measures
from ganlib.atomic_files import UserError
from ganlib.drawing import draw_conditional, draw_infogan, draw_unconditional, sample_latent, translate
from ganlib.inputs import conditional_inputs, infogan_inputs, unconditional_inputs

PROGRESS_IMAGES = 64  # images in a progress frame of a latent-vector generator
PROGRESS_PAIRS = 3  # Pix2Pix's progress frames: source, translation and target of this many pairs


# ---------------------------------------------------------------------------------------
# Figures beyond FID and KID, from the judge's reading of generated images: (figures for
# metrics.csv, details by name, the lines that say them).
# ---------------------------------------------------------------------------------------

def coverage_figures(info, asked, predicted, class_names):
    """Unconditional: how evenly the images cover the classes trained on (all, or --classes);
    images the judge puts in another class are left out."""
    index = np.array(sorted(class_names.index(name) for name in info.get("trained_on") or class_names))
    kept = np.isin(predicted, index)
    kl, shares = measures.class_coverage(np.searchsorted(index, predicted[kept]), len(index))
    by_name = dict(zip([class_names[k] for k in index], shares.tolist()))
    line = "classes drawn (the judge's reading): " + ", ".join(f"{name} {share:.0%}" for name, share in by_name.items())
    return dict(class_kl=kl), dict(class_shares=by_name), [line]


def agreement_figures(info, asked, predicted, class_names):
    """Conditional: how often the judge reads the class asked for, in all and per class."""
    agreement, per_class = measures.class_agreement(predicted, asked, info["n_classes"])
    by_name = dict(zip(info["class_names"], per_class))
    line = "class agreement per class: " + ", ".join(f"{name} {share:.0%}" for name, share in by_name.items())
    return dict(class_agreement=agreement), dict(per_class=by_name), [line]


def code_figures(info, asked, predicted, class_names):
    """InfoGAN: the categorical code as a classifier of the judge's digits, and each value's digits."""
    counts = measures.code_counts(asked, predicted, info["n_cat"], len(class_names))
    accuracy = measures.code_accuracy(asked, predicted, info["n_cat"], len(class_names))
    lines = ["the judge's digits for each code value:", *("  " + line for line in measures.code_digits(counts, class_names))]
    return dict(code_accuracy=accuracy), dict(code_digits=counts.astype(int).tolist()), lines


def asked_groups(info, asked, predicted, class_names):
    """A conditional generator's images are compared, class by class, with the class asked for."""
    return np.asarray(asked)


def matched_groups(info, asked, predicted, class_names):
    """InfoGAN's images are compared with the digit their code value is matched to (the one-to-one
    matching that code accuracy uses); a value left unmatched (more values than digits) with none."""
    counts = measures.code_counts(asked, predicted, info["n_cat"], len(class_names))
    return measures.matched_classes(counts)[np.asarray(asked)]


# ---------------------------------------------------------------------------------------
# Progress frames: the same inputs at every summary.
# ---------------------------------------------------------------------------------------

def latent_progress(info, predict, rng, pairs=None):
    """A column per class or code value, rows enough for about PROGRESS_IMAGES images (two at least)."""
    kind = KINDS[info["kind"]]
    n_cols = kind.columns(info)
    inputs, _ = kind.inputs(info, n_cols * max(2, PROGRESS_IMAGES // n_cols), rng)
    return predict(inputs), n_cols


def pairs_progress(info, predict, rng, pairs):
    """The first validation pairs: source, translation and target in rows."""
    sources, targets = (part[:PROGRESS_PAIRS] for part in pairs)
    made = np.concatenate([predict(x[None]) for x in sources])
    return np.concatenate([sources, made, targets]), len(sources)


def load_pairs(info, data_dir):
    """Pix2Pix's validation pairs, in the generator's direction."""
    from ganlib import data  # the maps arrays; Pillow
    pairs = data.load_maps(data_dir, "val", info["direction"])
    if pairs is None:
        raise UserError("no validation pairs (maps/val/) to measure a Pix2Pix generator on")
    return pairs


LATENT_MODES = frozenset({"point", "interpolate"})  # sample.py's flags for any latent-vector generator


@dataclass(frozen=True)
class Kind:
    """primary: the metrics.csv column that chooses generator_best.h5, lower or higher better.
    measured_on: "samples" (generated images, read by the dataset's judge: FID, KID and
    `figures`), "pairs" (translations of validation pairs, from `references`) or "test images"
    (a model that reads the real test images, such as InfoGAN's Q).
    inputs(info, n, rng): n generator inputs and the class or code value each one asks for,
    every value equally often. columns(info): a progress frame's columns.
    modes: sample.py's flags it takes; sample(args, info, predict, rng, path): what sample.py draws.
    in_training_mode: sampled as trained, each image alone (Pix2Pix's BatchNormalization and dropout).
    companions: {file stem: kind} of the models saved beside each snapshot.
    groups(info, asked, predicted, class_names): the class each generated image is compared with
    for the per-class figures (precision, recall, density, coverage, intra-FID); None: all
    images against all real ones. best_by: the metrics.csv column, higher better, that chooses
    generator_best.h5 when it is not the primary figure. view: what explore.py's page offers
    (explorer.py): "latent" points and a walk between them, "codes" InfoGAN's codes, "pairs"
    translations.
    share: the primary figure is a share, from 0 to 1; chance(info): what a generator that ignores
    its input scores; anchor: (value, words) of a published figure to compare with.
    info_fields: what a saved model's info must hold to be drawn from; input_shapes(info): its inputs'
    shapes, batch left out.
    batch_split: 2 where each discriminator update takes half a batch (real, then fakes), 1 where
    it takes a whole one (Pix2Pix: the pairs)."""
    primary: str
    lower_is_better: bool
    measured_on: str = "samples"
    inputs: Callable = None
    figures: Callable = None
    columns: Callable = None
    modes: frozenset = LATENT_MODES
    sample: Callable = None
    progress: Callable = latent_progress
    progress_caption: str = "The same inputs drawn at every summary."
    references: Callable = None
    in_training_mode: bool = False
    companions: dict = field(default_factory=dict)
    generator: bool = True
    share: bool = False
    chance: Callable = None
    anchor: tuple = None
    batch_split: int = 2
    info_fields: tuple = ("latent_dim",)
    input_shapes: Callable = lambda info: [(info["latent_dim"],)]
    groups: Callable = None
    best_by: str = None
    view: str = "latent"

    def selection(self):
        """(the metrics.csv column that chooses generator_best.h5, whether lower is better)."""
        return (self.best_by, False) if self.best_by else (self.primary, self.lower_is_better)

    def reference_lines(self, run_info):
        """(value, words) of the levels a run's primary figure is read against: chance, the judge's
        own accuracy on real images, a published figure."""
        info, lines = run_info.get("generator") or {}, []
        if self.chance is not None and info:
            lines.append((self.chance(info), f"chance: {self.chance(info):.0%}"))
        if self.share and run_info.get("judge_accuracy"):
            accuracy = run_info["judge_accuracy"]
            lines.append((accuracy, f"the judge on real test images: {accuracy:.1%}"))
        if self.anchor is not None:
            lines.append(self.anchor)
        return lines


KINDS = {
    "gan": Kind("fid", True, inputs=unconditional_inputs, figures=coverage_figures, columns=lambda info: 8,
                sample=sample_latent(draw_unconditional)),
    "dcgan": Kind("fid", True, inputs=unconditional_inputs, figures=coverage_figures, columns=lambda info: 8,
                  sample=sample_latent(draw_unconditional)),
    "cgan": Kind("class_agreement", False, inputs=conditional_inputs, figures=agreement_figures,
                 columns=lambda info: info["n_classes"], modes=LATENT_MODES | {"label", "per_class"},
                 sample=sample_latent(draw_conditional), share=True, chance=lambda info: 1 / info["n_classes"],
                 progress_caption="The same inputs drawn at every summary, one class per column.",
                 groups=asked_groups, best_by="both_axes", info_fields=("latent_dim", "n_classes", "class_names"),
                 input_shapes=lambda info: [(info["latent_dim"],), (1,)]),
    "acgan": Kind("class_agreement", False, inputs=conditional_inputs, figures=agreement_figures,
                  columns=lambda info: info["n_classes"], modes=LATENT_MODES | {"label", "per_class"},
                  sample=sample_latent(draw_conditional), share=True, chance=lambda info: 1 / info["n_classes"],
                  progress_caption="The same inputs drawn at every summary, one class per column.",
                  groups=asked_groups, best_by="both_axes", info_fields=("latent_dim", "n_classes", "class_names"),
                 input_shapes=lambda info: [(info["latent_dim"],), (1,)]),
    "infogan": Kind("code_accuracy", False, inputs=infogan_inputs, figures=code_figures,
                    columns=lambda info: info["n_cat"], modes=LATENT_MODES | {"code", "sweep"},
                    sample=sample_latent(draw_infogan), companions={"q_model": "infogan_q"}, share=True,
                    chance=lambda info: 1 / info["n_cat"], anchor=(0.95, "the InfoGAN paper: 95%"),
                    progress_caption="The same inputs drawn at every summary, one code value per column.",
                    groups=matched_groups, best_by="q_information", view="codes",
                    info_fields=("latent_dim", "n_cat", "n_cont"),
                    input_shapes=lambda info: [(info["latent_dim"] + info["n_cat"] + info["n_cont"],)]),
    "infogan_q": Kind("q_accuracy", False, measured_on="test images", modes=frozenset(), generator=False,
                      share=True, info_fields=("n_cat", "n_cont", "image_shape"),
                      input_shapes=lambda info: [tuple(info["image_shape"])]),
    "pix2pix": Kind("l1", True, measured_on="pairs", modes=frozenset({"image", "pair"}), sample=translate,
                    progress=pairs_progress, references=load_pairs, in_training_mode=True, batch_split=1, view="pairs",
                    info_fields=("direction", "image_shape"), input_shapes=lambda info: [tuple(info["image_shape"])],
                    progress_caption="The first validation pairs at every summary: source, translation and "
                                     "target in rows."),
}
# What a user is told when a mode's flag does not fit the generator
MODE_FLAGS = {"label": "--label", "per_class": "--per-class", "code": "--code", "sweep": "--sweep",
              "point": "--point", "interpolate": "--interpolate", "image": "--image", "pair": "--pair"}


def kind_of(info, path, generator=True):
    """The Kind of a saved model's info, or one line saying the file holds no generator, or which
    field its kind needs is missing."""
    kind = KINDS.get(info.get("kind"))
    if kind is None or (generator and not kind.generator):
        article = "an" if str(info.get("kind"))[:1] in "aeiou" else "a"
        raise UserError(f"{path} is {article} {info.get('kind')} model, not a generator")
    missing = [name for name in kind.info_fields if info.get(name) is None]
    if missing:
        raise UserError(f"{path}: its generator info has no field {missing[0]!r}, which a {info['kind']} model needs; "
                        "it was damaged or edited since it was written")
    empty = [name for name in ("n_classes", "n_cat") if name in kind.info_fields and info[name] < 1]
    if empty:
        raise UserError(f"{path}: field {empty[0]!r} of its generator info is {info[empty[0]]}, and a {info['kind']} "
                        "model draws at least one class; it was damaged or edited since it was written")
    return kind


def check_shapes(info, input_shapes, output_shape, path):
    """A loaded model's inputs and output (batch left out) against what its info says it is."""
    kind = KINDS.get(info.get("kind"))
    if kind is None:
        return
    expected = [tuple(shape) for shape in kind.input_shapes(info)]
    if [tuple(shape) for shape in input_shapes] != expected:
        raise UserError(f"{path}: the model takes inputs of shape {', '.join(map(str, input_shapes))}, but its info "
                        f"says {', '.join(map(str, expected))}; it was damaged or edited since it was written")
    if kind.generator and info.get("image_shape") is not None and tuple(output_shape) != tuple(info["image_shape"]):
        raise UserError(f"{path}: the model draws images of shape {tuple(output_shape)}, but its info says "
                        f"{tuple(info['image_shape'])}; it was damaged or edited since it was written")


def kinds_taking(mode):
    return ", ".join(name for name, kind in KINDS.items() if mode in kind.modes)


def check_modes(requested, info, kind):
    """Every sample.py mode asked for is one this generator's kind takes."""
    for mode in requested:
        if mode not in kind.modes:
            raise UserError(f"{MODE_FLAGS[mode]} is for {kinds_taking(mode)} generators; this one is {info['kind']}")


def primary_figures():
    """{metrics.csv column: lower is better} for every kind's primary figure."""
    return {kind.primary: kind.lower_is_better for kind in KINDS.values()}


def kind_of_run(run_info):
    """The Kind of the generator a run's run.json describes, or None for a run older than that."""
    return KINDS.get((run_info.get("generator") or {}).get("kind"))
