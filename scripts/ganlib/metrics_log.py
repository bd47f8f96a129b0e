"""Measured quality: a generator measured as its kind says (kinds.py): FID and KID in a judge's
feature space (judges.py) and the judge's reading of what was asked for, Pix2Pix's L1, PSNR and
SSIM on validation pairs, InfoGAN's Q on the real test digits; and metrics.csv and
generator_best.h5, which every training script keeps through `QualityLog`.

FID and KID here are the usual measures, but in the features of a network that knows these
images, so the figures are comparable between runs of these scripts, not with papers'
Inception figures.
"""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import time
from pathlib import Path

import numpy as np

from ganlib import data as gd
from ganlib import measures, readback
from ganlib.atomic_files import copy_file, write_csv
from ganlib.tutorial import in_training_mode, numpy_random_state_kept
from ganlib.judges import describe, features_and_classes, judge_outputs, load_judge
from ganlib.kinds import KINDS

FULL_SAMPLES = 10000  # evaluate.py; the training scripts use --eval-samples (2,000)
AXES = ("precision", "recall", "density", "coverage", "intra_fid")  # their ceilings are written beside them
Q_SPREAD_IMAGES = 10000  # real training digits that Q's spread is read on, the same ones at every summary
PREDICT_BATCH = 500


def load_measuring_data(dataset, judges_dir, data_dir=None, quiet=False):
    """What measuring a dataset's generators reads: (judge, judge info, training split, test split);
    `quiet`: a training run, which has said where its data came from."""
    train = gd.load_dataset(dataset, data_dir, "train", quiet=quiet)
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
            train_images, train_labels = gd.select_classes(train_images, train_labels, info["dataset"],
                                                           info["trained_on"])
        self.train_images, self.train_labels = gd.scale_images(train_images), np.asarray(train_labels)
        self.test_images, self.test_labels = gd.scale_images(test_images), np.asarray(test_labels)
        self.judge_model = features_and_classes(self.judge)
        self.test_features, _ = judge_outputs(self.judge_model, self.test_images)
        self.count = f"samples vs {len(self.test_images):,} real test images"
        self.ceilings = {}

    def read(self, images):
        """The judge's features of images and the class it reads in each."""
        return judge_outputs(self.judge_model, images, self.verbose if len(images) > PREDICT_BATCH else 0)

    def against_test(self, features, groups=None):
        """(FID, KID and both axes against the real test images, within each class where `groups`
        gives each image's class, else over all; the per-class figures by name)."""
        results = dict(fid=measures.frechet_distance(features, self.test_features),
                       kid=measures.kernel_distance(features, self.test_features))
        if groups is None:
            return dict(results, **measures.both_axes(self.test_features, features)), {}
        means, per_class = measures.per_class_axes(self.test_features, self.test_labels, features, groups,
                                                   len(self.class_names))
        return dict(results, **means), {f"per_class_{name}": dict(zip(self.class_names, values))
                                        for name, values in per_class.items()}

    def __call__(self, g_model, n, seed=0):
        """The same n inputs (for a seed) at every call, so that epochs differ only by the generator:
        {figure: value, "details": {...}, "lines": [...]}, the figures of both axes beside their
        ceilings (real_...: the same figures for as many real training images)."""
        inputs, asked = self.kind.inputs(self.info, n, np.random.default_rng(seed))
        images = timed_predict(g_model, inputs, self.verbose, "generating and reading")
        features, predicted = self.read(images)
        groups = self.kind.groups(self.info, asked, predicted, self.class_names) if self.kind.groups else None
        measured, axes_details = self.against_test(features, groups)
        figures, details, lines = self.kind.figures(self.info, asked, predicted, self.class_names)
        results = dict(fid=measured.pop("fid"), kid=measured.pop("kid"), **figures, **measured)
        ceiling = self.ceiling(n, seed)
        agreement = results.get("class_agreement", results.get("code_accuracy"))
        if agreement is not None:
            results["both_axes"] = measures.harmonic_mean_of_shares(
                (agreement, self.judge_info["test_accuracy"]), (results["recall"], ceiling["recall"]))
        results.update({f"real_{name}": ceiling[name] for name in AXES if name in ceiling})
        if "per_class_recall" in axes_details:
            lines = lines + [f"recall per class (real training images {ceiling['recall']:.2f}): " + ", ".join(
                f"{name} {value:.2f}" for name, value in axes_details["per_class_recall"].items())]
        return dict(samples=n, **results, details=dict(details, **axes_details), lines=lines)

    def real_sample(self, n, seed=0):
        """n real training images, as many of each class as n allows (the ceiling's sample), and
        their labels."""
        rng = np.random.default_rng(seed)
        classes = np.unique(self.train_labels)
        per_class = max(1, n // len(classes))
        chosen = np.concatenate([rng.choice(np.flatnonzero(self.train_labels == c),
                                            min(per_class, int(np.sum(self.train_labels == c))), replace=False)
                                 for c in classes])
        return self.train_images[chosen], self.train_labels[chosen]

    def ceiling(self, n, seed=0):
        """Every figure of n real training images against the real test images: what a generator
        that drew the real distribution would score at this sample size (once per run and size)."""
        if (n, seed) not in self.ceilings:
            images, labels = self.real_sample(n, seed)
            features, _ = self.read(images)
            self.ceilings[n, seed] = self.against_test(features, labels if self.kind.groups else None)[0]
        return self.ceilings[n, seed]

    def references(self, n, seed=0):
        """What the figures read at their best (n real training images, as many of each class) and at
        their worst (n images of uniform noise)."""
        rng = np.random.default_rng(seed)
        noise = rng.uniform(-1, 1, (n, *self.test_images.shape[1:])).astype("float32")
        groups = np.arange(n) % len(self.class_names) if self.kind.groups else None
        return {"real training images": self.ceiling(n, seed),
                "uniform noise": self.against_test(self.read(noise)[0], groups)[0]}


def classification_accuracy_score(evaluator, g_model, n=None, seed=0):
    """CAS (Ravuri & Vinyals 2019, arXiv 1905.10887): a classifier of the judge's architecture and
    training, trained on n generated images only (as many of each class; default: the real
    training split's size), tested on the real test images. Beside it stands the same classifier
    trained on the real training images: the judge itself. (CAS, the judge's accuracy)."""
    from ganlib.judges import JUDGE_BATCH, define_judge, judge_epochs
    n = n or len(evaluator.train_images)
    inputs, asked = evaluator.kind.inputs(evaluator.info, n, np.random.default_rng(seed))
    images = timed_predict(g_model, inputs, evaluator.verbose, "generating the training set")
    classifier = define_judge(images.shape[1:], len(evaluator.class_names))
    epochs = judge_epochs(evaluator.info["dataset"])
    print(f"training a classifier on {n:,} generated images for {epochs} epochs, as the judge was trained on real ones",
          flush=True)
    classifier.fit(images, np.asarray(asked), batch_size=JUDGE_BATCH, epochs=epochs, verbose=evaluator.verbose)
    _, accuracy = classifier.evaluate(evaluator.test_images, evaluator.test_labels, batch_size=PREDICT_BATCH, verbose=0)
    return float(accuracy), evaluator.judge_info["test_accuracy"]


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
        train_images = measuring[2][0] if measuring else gd.load_dataset(info["dataset"], data_dir, "train")[0]
        chosen = np.random.default_rng(0).choice(len(train_images), min(Q_SPREAD_IMAGES, len(train_images)),
                                                 replace=False)
        self.train_images = gd.scale_images(train_images[np.sort(chosen)])
        self.count = f"real test images ({len(self.images):,}); the spread: {len(self.train_images):,} training images"

    def readings(self, model, images):
        outputs = model.predict(images, batch_size=PREDICT_BATCH, verbose=self.verbose)
        return np.asarray(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)

    def __call__(self, model, n=None, seed=0):
        """Q's accuracy on the real test digits, its values matched to the labels (the paper's
        figure), and, without labels, how it spreads real training digits over its values."""
        codes = np.argmax(self.readings(model, self.images), axis=1)
        accuracy = measures.code_accuracy(codes, self.labels, self.info["n_cat"], int(np.max(self.labels)) + 1)
        entropy, largest, information = measures.reading_spread(self.readings(model, self.train_images))
        lines = [f"Q on real training digits, without labels: argmax entropy {entropy:.3f} nats "
                 f"(even: {np.log(self.info['n_cat']):.3f}), largest share {largest:.1%}, "
                 f"information {information:.3f} nats"]
        return {self.primary: accuracy, "q_entropy": entropy, "q_largest_share": largest,
                "q_information": information, "details": {}, "lines": lines}

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
                self.measuring = load_measuring_data(dataset, self.judge_dir, self.data_dir, quiet=True)
            print(f"measuring with {describe(self.measuring[1])}")

    def _read(self):
        return [{k: float(v) for k, v in row.items() if v} for row in readback.metrics_rows(self.path)]

    def beats(self, row, best):
        """Whether a metrics row is better than `best` (None: no row yet) on the figure that chooses
        the best snapshot (its kind's selection); a row from before that figure existed loses."""
        name, lower_is_better = self.selection(row)
        if best is None or name not in best:
            return True
        value, old = row[name], best[name]
        return value < old if lower_is_better else value > old

    def selection(self, row):
        """(the column that chooses the best snapshot, lower better): the kind's choice where the row
        has it, else the primary figure."""
        name, lower_is_better = self.evaluator.kind.selection()
        return (name, lower_is_better) if name in row else (self.evaluator.primary, self.evaluator.lower_is_better)

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
                self.evaluator = evaluator_for(info, self.judge_dir, self.data_dir, self.pairs, self.measuring)
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
        chosen_by = self.selection(best)[0]
        print(f"epoch {epoch}: {self.summary(row)}; best so far: epoch {best['epoch']:.0f} "
              f"({chosen_by.replace('_', ' ')} {best[chosen_by]:.4g})")
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
        shown = [k for k in row if k not in ("epoch", "minutes", primary, f"raw_{primary}") and not k.startswith("real_")]
        rest = ", ".join(f"{k} {row[k]:.4g}" + (f" (real images {row['real_' + k]:.4g})" if f"real_{k}" in row else "")
                         for k in shown)
        return f"{primary} {row[primary]:.4g}{raw}, {rest}"

    def report(self):
        best = self.best() if self.evaluator else None
        if best:
            chosen_by = self.selection(best)[0]
            print(f"best generator: epoch {best['epoch']:.0f} ({chosen_by.replace('_', ' ')} "
                  f"{best[chosen_by]:.4g}), saved as {self.out_dir / 'generator_best.h5'}")
