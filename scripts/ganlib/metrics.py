"""Measured quality: a generator measured as its kind says (kinds.py): FID and KID in a judge's
feature space (judges.py) and the judge's reading of what was asked for, Pix2Pix's L1, PSNR and
SSIM on validation pairs, InfoGAN's Q on the real test digits; and metrics.csv and
generator_best.h5, which every training script keeps through `QualityLog`.

FID and KID here are the usual measures, but in the features of a network that knows these
images, so the figures are comparable between runs of these scripts, not with papers'
Inception figures.
"""
import ganlib.backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import csv
import time
from pathlib import Path

import numpy as np

from ganlib import data as gd
from ganlib import measures
from ganlib.files import copy_file, write_csv
from ganlib.helpers import in_training_mode, numpy_random_state_kept
from ganlib.judges import describe, features_and_classes, judge_outputs, load_judge
from ganlib.kinds import KINDS

FULL_SAMPLES = 10000  # evaluate.py; the training scripts use --eval-samples (2,000)
PREDICT_BATCH = 500


def load_measuring_data(dataset, judges_dir, data_dir=None):
    """What measuring a dataset's generators reads: (judge, judge info, training split, test split)."""
    train = gd.load_dataset(dataset, data_dir, "train")
    test = gd.load_dataset(dataset, data_dir, "test")
    judge, judge_info = load_judge(dataset, judges_dir, train, test)
    return judge, judge_info, train, test


def timed_predict(model, inputs, verbose, what):
    """model.predict on all `inputs` in batches; with `verbose`, for more than one batch, a progress
    bar and, first, a line saying how long it should take (timed on one batch)."""
    n = len(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
    verbose = verbose if n > PREDICT_BATCH else 0
    if verbose:
        head = [part[:PREDICT_BATCH] for part in inputs] if isinstance(inputs, (list, tuple)) else inputs[:PREDICT_BATCH]
        started = time.perf_counter()
        model.predict_on_batch(head)
        print(f"{what}: {n:,} images, about {max(1, round((time.perf_counter() - started) * n / PREDICT_BATCH))} s",
              flush=True)
    return np.asarray(model.predict(inputs, batch_size=PREDICT_BATCH, verbose=verbose))


class ImageEvaluator:
    """Generated images against the real test split: FID and KID in the judge's feature space, and
    what the kind's `figures` read in the judge's classes (class agreement, coverage, code accuracy)."""

    def __init__(self, info, judges_dir, data_dir=None, pairs=None, measuring=None, verbose=0):
        self.info, self.kind, self.verbose = info, KINDS[info["kind"]], verbose
        self.primary, self.lower_is_better = self.kind.primary, self.kind.lower_is_better
        measuring = measuring or load_measuring_data(info["dataset"], judges_dir, data_dir)
        self.judge, self.judge_info, (train_images, train_labels), (test_images, test_labels) = measuring
        self.class_names = gd.DATASETS[info["dataset"]]["classes"]
        if info.get("trained_on") and info["trained_on"] != self.class_names:
            test_images, test_labels = gd.select_classes(test_images, test_labels, info["dataset"], info["trained_on"])
            train_images, _ = gd.select_classes(train_images, train_labels, info["dataset"], info["trained_on"])
        self.train_images = gd.scale_images(train_images)
        self.test_images, self.test_labels = gd.scale_images(test_images), test_labels
        self.judge_model = features_and_classes(self.judge)
        self.test_features, _ = judge_outputs(self.judge_model, self.test_images)
        self.count = f"samples vs {len(self.test_images):,} real test images"

    def images_vs_test(self, images):
        """(FID and KID, the judge's class of each image)."""
        features, predicted = judge_outputs(self.judge_model, images, self.verbose if len(images) > PREDICT_BATCH else 0)
        return dict(fid=measures.frechet_distance(features, self.test_features),
                    kid=measures.kernel_distance(features, self.test_features)), predicted

    def __call__(self, g_model, n, seed=0):
        """The same n inputs (for a seed) at every call, so that epochs differ only by the generator:
        {figure: value, "details": {...}, "lines": [...]}."""
        inputs, asked = self.kind.inputs(self.info, n, np.random.default_rng(seed))
        images = timed_predict(g_model, inputs, self.verbose, "generating and reading")
        results, predicted = self.images_vs_test(images)
        figures, details, lines = self.kind.figures(self.info, asked, predicted, self.class_names)
        return dict(samples=n, **results, **figures, details=details, lines=lines)

    def references(self, n, seed=0):
        """The floor (n real training images) and the ceiling (n images of uniform noise)."""
        rng = np.random.default_rng(seed)
        floor = self.train_images[rng.choice(len(self.train_images), min(n, len(self.train_images)), replace=False)]
        noise = rng.uniform(-1, 1, (n, *self.test_images.shape[1:])).astype("float32")
        return {"real training images (floor)": self.images_vs_test(floor)[0],
                "uniform noise (ceiling)": self.images_vs_test(noise)[0]}


class TranslationEvaluator:
    """Translations of validation pairs against their targets: L1, PSNR and SSIM."""

    def __init__(self, info, judges_dir=None, data_dir=None, pairs=None, measuring=None, verbose=0):
        self.kind, self.verbose = KINDS[info["kind"]], verbose
        self.primary, self.lower_is_better = self.kind.primary, self.kind.lower_is_better
        self.sources, self.targets = pairs if pairs is not None else self.kind.references(info, data_dir)
        self.count = "validation pairs"

    @staticmethod
    def scores(images, targets):
        return dict(l1=measures.mean_l1(images, targets), psnr=measures.mean_psnr(images, targets),
                    ssim=measures.mean_ssim(images, targets))

    def __call__(self, g_model, n, seed=0):
        n = min(n, len(self.sources))
        model = in_training_mode(g_model) if self.kind.in_training_mode else g_model  # one at a time, as trained
        images = np.concatenate([model.predict_on_batch(x[None]) for x in self.sources[:n]])
        return dict(pairs=n, **self.scores(images, self.targets[:n]), details={}, lines=[])

    def references(self, n, seed=0):
        n = min(n, len(self.sources))
        return {"identity (the source itself)": self.scores(self.sources[:n], self.targets[:n])}


class TestImagesEvaluator:
    """A model that reads real images (InfoGAN's Q), as the paper measures it: the code value it
    finds in each real test image, matched one-to-one to the labels."""

    def __init__(self, info, judges_dir=None, data_dir=None, pairs=None, measuring=None, verbose=0):
        self.info, self.kind, self.verbose = info, KINDS[info["kind"]], verbose
        self.primary, self.lower_is_better = self.kind.primary, self.kind.lower_is_better
        images, self.labels = measuring[3] if measuring else gd.load_dataset(info["dataset"], data_dir, "test")
        self.images = gd.scale_images(images)
        self.count = f"real test images ({len(self.images):,})"

    def __call__(self, model, n=None, seed=0):
        outputs = model.predict(self.images, batch_size=PREDICT_BATCH, verbose=self.verbose)
        codes = np.argmax(outputs[0] if isinstance(outputs, (list, tuple)) else outputs, axis=1)
        accuracy = measures.code_accuracy(codes, self.labels, self.info["n_cat"], int(np.max(self.labels)) + 1)
        return {self.primary: accuracy, "details": {}, "lines": []}

    def references(self, n, seed=0):
        return {}


EVALUATORS = {"samples": ImageEvaluator, "pairs": TranslationEvaluator, "test images": TestImagesEvaluator}


def evaluator_for(info, judges_dir, data_dir=None, pairs=None, measuring=None, verbose=0):
    return EVALUATORS[KINDS[info["kind"]].measured_on](info, judges_dir, data_dir, pairs, measuring, verbose)


def figures_of(results):
    return {k: v for k, v in results.items() if k not in ("details", "lines")}


class QualityLog:
    """At each summary: the fast metric (`samples` generated images) into metrics.csv, and the
    snapshot copied to generator_best.h5 when it beats every earlier summary of the run."""

    def __init__(self, out_dir, samples, data_dir=None, pairs=None, resume=False, judge_dir=None):
        self.out_dir, self.samples, self.data_dir, self.pairs = Path(out_dir), samples, data_dir, pairs
        self.judge_dir = judge_dir
        self.path = self.out_dir / "metrics.csv"
        self.rows = self._read() if resume else []
        self.evaluator = self.measuring = None
        self.companion_evaluators = {}

    def prepare(self, dataset):
        """Before the first step: the test split and the judge that will measure the run, so that a
        missing or damaged file stops the run before it trains, and a judge is trained (or waited
        for) now rather than after the first epoch."""
        if self.samples and dataset in gd.DATASETS:
            with numpy_random_state_kept():
                self.measuring = load_measuring_data(dataset, self.judge_dir, self.data_dir)
            print(f"measuring with {describe(self.measuring[1])}")

    def _read(self):
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            return [{k: float(v) for k, v in row.items() if v} for row in csv.DictReader(f)]

    def beats(self, row, best):
        """Whether a metrics row is better than `best` (None: no row yet) on the primary figure."""
        if best is None:
            return True
        value, old = row[self.evaluator.primary], best[self.evaluator.primary]
        return value < old if self.evaluator.lower_is_better else value > old

    def best(self):
        best = None
        for row in self.rows:
            if self.beats(row, best):
                best = row
        return best

    def record(self, epoch, g_model, info, snapshot, raw_model=None, companions=None, minutes=None):
        """Measure `g_model` (the averaged generator, described by `info` and saved as
        `snapshot`), and `raw_model`'s primary figure too when there is one: the generator as
        trained, before averaging; and each companion model as its kind is measured (InfoGAN's Q on
        real digits). `minutes`: the run's wall-clock time so far. The metrics.csv row, or None."""
        if not self.samples:
            return None
        with numpy_random_state_kept():
            if self.evaluator is None:
                self.evaluator = evaluator_for(info, self.judge_dir, self.data_dir, self.pairs, self.measuring, "auto")
            results = figures_of(self.evaluator(g_model, self.samples))
            if raw_model is not None:
                results[f"raw_{self.evaluator.primary}"] = self.evaluator(raw_model, self.samples)[self.evaluator.primary]
            for stem, model in (companions or {}).items():
                if stem not in self.companion_evaluators:
                    companion = dict(info, kind=KINDS[info["kind"]].companions[stem])
                    self.companion_evaluators[stem] = evaluator_for(companion, self.judge_dir, self.data_dir,
                                                                    measuring=self.measuring)
                results.update(figures_of(self.companion_evaluators[stem](model)))
        row = dict(epoch=epoch, **({} if minutes is None else dict(minutes=minutes)), **results)
        self.rows = [r for r in self.rows if r["epoch"] < epoch]
        best = self.best()
        self.rows.append(row)
        header = list(row)  # a row from before a column existed leaves it empty
        write_csv(self.path, header, [[f"{r[k]:.6g}" if k in r else "" for k in header] for r in self.rows])
        if self.beats(row, best):
            copy_file(snapshot, self.out_dir / "generator_best.h5")
            best = row
        print(f"epoch {epoch}: {self.summary(row)}; best so far: epoch {best['epoch']:.0f} "
              f"({self.evaluator.primary} {best[self.evaluator.primary]:.4g})")
        return row

    def judge(self):
        """Which judge measures this run, in words; None when none does (Pix2Pix, measuring off)."""
        return describe(self.measuring[1]) if self.measuring else None

    def judge_accuracy(self):
        """The judge's accuracy on the real test images, or None."""
        return self.measuring[1]["test_accuracy"] if self.measuring else None

    def summary(self, row):
        """The primary figure first, the raw generator's beside it, then the rest."""
        primary = self.evaluator.primary
        raw = f" (raw generator {row[f'raw_{primary}']:.4g})" if f"raw_{primary}" in row else ""
        rest = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "minutes", primary, f"raw_{primary}"))
        return f"{primary} {row[primary]:.4g}{raw}, {rest}"

    def report(self):
        best = self.best() if self.evaluator else None
        if best:
            print(f"best generator: epoch {best['epoch']:.0f} ({self.evaluator.primary} "
                  f"{best[self.evaluator.primary]:.4g}), saved as {self.out_dir / 'generator_best.h5'}")
