"""What each kind of generator is, in one place: the inputs it takes (InfoGAN's built here once),
the figures that measure it and the one that picks its best snapshot, what it is measured on,
the sample.py modes it takes and how each builds its inputs, its progress frames, and the models
saved beside it (InfoGAN's Q). sample.py, evaluate.py, the metrics, the run and the report read
this table; none of them imports a training script, and none asks which kind it holds.

Adding a GAN: its script saves its generator with `kind=` one of these, or a new entry here.

NumPy and SciPy only, so that tools that read results (report.py) load neither Keras nor TensorFlow.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ganlib import measures
from ganlib.cli import count
from ganlib.files import UserError

SWEEP = np.linspace(-2, 2, 10)  # an InfoGAN continuous code's values along a sweep grid's rows
PROGRESS_IMAGES = 64  # images in a progress frame of a latent-vector generator
PROGRESS_PAIRS = 3  # Pix2Pix's progress frames: source, translation and target of this many pairs
PAIR_SIZE = (256, 256)  # Pix2Pix's images, width x height


# ---------------------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------------------

def noise(prior, shape, rng=np.random):
    """Latent noise: "normal", N(0, 1), or "uniform" in [-1, 1] (InfoGAN's reference code)."""
    if prior == "uniform":
        return rng.uniform(-1, 1, shape).astype("float32")
    return rng.standard_normal(shape).astype("float32")


def latent_points(info, n, rng):
    return noise(info.get("noise", "normal"), (n, info["latent_dim"]), rng)


def infogan_input(noise_values, codes, n_cat, cont_codes):
    """InfoGAN's generator input, the one place it is built: noise, the categorical code's values
    one-hot, and the continuous codes."""
    return np.hstack((noise_values, np.eye(n_cat, dtype="float32")[codes], cont_codes)).astype("float32")


def unconditional_inputs(info, n, rng):
    return latent_points(info, n, rng), np.zeros(n, "int64")


def conditional_inputs(info, n, rng):
    """Latent points and labels 0, 1, ..., n_classes - 1, 0, 1, ...: every class as often."""
    asked = np.arange(n) % info["n_classes"]
    return [latent_points(info, n, rng), asked], asked


def infogan_inputs(info, n, rng):
    """Noise, the categorical code's values in turn, and continuous codes in [-1, 1]."""
    asked = np.arange(n) % info["n_cat"]
    cont = rng.uniform(-1, 1, (n, info["n_cont"])).astype("float32")
    return infogan_input(latent_points(info, n, rng), asked, info["n_cat"], cont), asked


def code_grid_inputs(info, n_cols=10, rng=np.random):
    """InfoGAN: one row per categorical value, the same n_cols latent points in every row."""
    n_cat = info["n_cat"]
    points = np.tile(latent_points(info, n_cols, rng), (n_cat, 1))
    return infogan_input(points, np.repeat(np.arange(n_cat), n_cols), n_cat, np.zeros((n_cat * n_cols, info["n_cont"])))


def sweep_grid_inputs(info, code, rng=np.random):
    """InfoGAN: one row per categorical value; along each row continuous code `code` goes from -2 to 2."""
    inputs = code_grid_inputs(info, len(SWEEP), rng)
    inputs[:, info["latent_dim"] + info["n_cat"] + code] = np.tile(SWEEP, info["n_cat"])
    return inputs


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
# sample.py: (inputs, grid columns, column titles, title, file name) for the flags given.
# ---------------------------------------------------------------------------------------

def parse_label(text, info):
    """A class number or a class name (any case) -> the class number."""
    names = info["class_names"]
    by_name = {name.lower(): k for k, name in enumerate(names)}
    if text.lower() in by_name:
        return by_name[text.lower()]
    try:
        label = int(text)
    except ValueError:
        raise UserError(f"unknown class {text!r}; this generator knows {', '.join(names)}")
    if not 0 <= label < info["n_classes"]:
        raise UserError(f"label {label} is out of range: this generator has classes 0-{info['n_classes'] - 1}")
    return label


def latent_drawing(args, info, rng):
    """(latent points, grid columns, title, file name) for a point, an interpolation, or an n x n grid."""
    n, latent_dim = args.n, info["latent_dim"]
    if args.point is not None:
        return np.full((1, latent_dim), args.point, dtype="float32"), 1, f"point {args.point}", "point"
    if args.interpolate:
        start, end = latent_points(info, 2, rng)
        ratios = np.linspace(0, 1, n, dtype="float32")[:, None]
        return (1 - ratios) * start + ratios * end, n, "interpolation", "interpolate"
    return latent_points(info, n * n, rng), n, f"{n}x{n} grid", "grid"


def draw_unconditional(args, info, rng):
    points, n_cols, title, name = latent_drawing(args, info, rng)
    return points, n_cols, None, title, name


def draw_conditional(args, info, rng):
    n, n_classes = args.n, info["n_classes"]
    if args.per_class:
        points = latent_points(info, n * n_classes, rng)
        titles = info["class_names"] if n_classes <= 10 else None
        return [points, np.tile(np.arange(n_classes), n)], n_classes, titles, "one column per class", "per_class"
    points, n_cols, title, name = latent_drawing(args, info, rng)
    label = parse_label(args.label, info) if args.label is not None else None
    if label is None and args.point is None and not args.interpolate:
        labels, title = rng.randint(0, n_classes, len(points)), f"{title}, random classes"
    else:
        label = rng.randint(n_classes) if label is None else label
        labels, title = np.full(len(points), label), f"{title}, class {info['class_names'][label]}"
    return [points, labels], n_cols, None, title, name


def draw_infogan(args, info, rng):
    """One row per code value (default), one code value (--code), or a continuous code's sweep."""
    n_cat, n_cont = info["n_cat"], info["n_cont"]
    if args.code is not None and not 0 <= args.code < n_cat:
        raise UserError(f"code {args.code} is out of range: this generator has codes 0-{n_cat - 1}")
    if args.sweep is not None:
        if not 0 <= args.sweep < n_cont:
            raise UserError(f"no continuous code {args.sweep}: this generator has {n_cont}")
        return (sweep_grid_inputs(info, args.sweep, rng), len(SWEEP), None,
                f"continuous code {args.sweep} from -2 to 2, a row per value", "sweep")
    if args.code is None and args.point is None and not args.interpolate:
        return code_grid_inputs(info, args.n, rng), args.n, None, "one row per code value", "grid"
    code = args.code or 0
    points, n_cols, title, name = latent_drawing(args, info, rng)
    inputs = infogan_input(points, np.full(len(points), code), n_cat, np.zeros((len(points), n_cont)))
    return inputs, n_cols, None, f"{title}, code {code}", name


def sample_latent(draw):
    """sample.py for a latent-vector kind: its drawing, through the generator, as one grid."""
    def sample(args, info, predict, rng, generator_path):
        from ganlib import files, images  # Matplotlib: only when drawing
        inputs, n_cols, titles, title, name = draw(args, info, rng)
        out = Path(args.out) if args.out else Path(generator_path).with_name(f"sample_{name}.png")
        files.image_format(out)
        drawn = predict(inputs)
        images.save_grid(drawn, out, n_cols, col_titles=titles, title=title)
        print(f"wrote {out} ({count(len(drawn), 'image')}, {title})")
        return drawn
    return sample


def translate(args, info, predict, rng, generator_path):
    """sample.py for Pix2Pix: translate one image, every image in a folder, or the source half of a
    dataset pair, each alone, as trained."""
    from ganlib import images  # Matplotlib and Pillow: only when drawing
    if args.image is None:
        raise UserError("a Pix2Pix generator translates images: give --image FILE or FOLDER")
    source = Path(args.image)
    if args.pair:
        width, height = images.image_size(source) if source.is_file() else (0, 0)
        if width != 2 * height:
            raise UserError(f"{source}: --pair needs a dataset pair twice as wide as high "
                            f"(1200x600 in maps), found {width}x{height}")
        pixels = images.read_image(source, (2 * PAIR_SIZE[0], PAIR_SIZE[1]))
        halves = [pixels[:, :PAIR_SIZE[0]], pixels[:, PAIR_SIZE[0]:]]
        src, tar = halves if info["direction"] == "sat2map" else halves[::-1]
        generated = predict(src[None])[0]
        out = Path(args.out) if args.out else Path(generator_path).with_name(f"{source.stem}_pair.png")
        images.save_grid(np.stack([src, generated, tar]), out, 3, col_titles=["source", "generated", "target"],
                         title=info["direction"])
        print(f"wrote {out}")
        return generated[None]
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.is_file())
        out_dir = Path(args.out) if args.out else Path(generator_path).with_name("translated")
        results = []
        for path in paths:
            try:
                image = images.read_image(path, PAIR_SIZE)
            except UserError as error:
                print(f"warning: skipped {error}")
                continue
            results.append(predict(image[None])[0])
            images.save_image(results[-1], out_dir / f"{path.stem}.png")
        print(f"wrote {count(len(results), 'translation')} to {out_dir} ({len(paths) - len(results)} skipped)")
        return np.stack(results) if results else np.zeros((0, *PAIR_SIZE[::-1], 3), "float32")
    if not source.is_file():
        raise UserError(f"no such file or folder: {source}")
    generated = predict(images.read_image(source, PAIR_SIZE)[None])
    out = Path(args.out) if args.out else Path(generator_path).with_name(f"{source.stem}_{info['direction']}.png")
    images.save_image(generated[0], out)
    print(f"wrote {out}")
    return generated


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
                 groups=asked_groups, best_by="both_axes"),
    "acgan": Kind("class_agreement", False, inputs=conditional_inputs, figures=agreement_figures,
                  columns=lambda info: info["n_classes"], modes=LATENT_MODES | {"label", "per_class"},
                  sample=sample_latent(draw_conditional), share=True, chance=lambda info: 1 / info["n_classes"],
                  progress_caption="The same inputs drawn at every summary, one class per column.",
                  groups=asked_groups, best_by="both_axes"),
    "infogan": Kind("code_accuracy", False, inputs=infogan_inputs, figures=code_figures,
                    columns=lambda info: info["n_cat"], modes=LATENT_MODES | {"code", "sweep"},
                    sample=sample_latent(draw_infogan), companions={"q_model": "infogan_q"}, share=True,
                    chance=lambda info: 1 / info["n_cat"], anchor=(0.95, "the InfoGAN paper: 95%"),
                    progress_caption="The same inputs drawn at every summary, one code value per column.",
                    groups=matched_groups, best_by="q_information", view="codes"),
    "infogan_q": Kind("q_accuracy", False, measured_on="test images", modes=frozenset(), generator=False,
                      share=True),
    "pix2pix": Kind("l1", True, measured_on="pairs", modes=frozenset({"image", "pair"}), sample=translate,
                    progress=pairs_progress, references=load_pairs, in_training_mode=True, batch_split=1, view="pairs",
                    progress_caption="The first validation pairs at every summary: source, translation and "
                                     "target in rows."),
}
# What a user is told when a mode's flag does not fit the generator
MODE_FLAGS = {"label": "--label", "per_class": "--per-class", "code": "--code", "sweep": "--sweep",
              "point": "--point", "interpolate": "--interpolate", "image": "--image", "pair": "--pair"}


def kind_of(info, path, generator=True):
    """The Kind of a saved model's info, or one line saying the file holds no generator."""
    kind = KINDS.get(info.get("kind"))
    if kind is None or (generator and not kind.generator):
        article = "an" if str(info.get("kind"))[:1] in "aeiou" else "a"
        raise UserError(f"{path} is {article} {info.get('kind')} model, not a generator")
    return kind


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
