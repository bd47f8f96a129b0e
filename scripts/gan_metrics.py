"""Measured quality: FID and KID in a judge's feature space (gan_judges.py), class agreement,
InfoGAN's code accuracy, Pix2Pix's L1, PSNR and SSIM, and the metrics.csv / generator_best.h5
that every training script keeps through `QualityLog`.

FID and KID here are the usual measures, but in the features of a network that knows these
images, so the figures are comparable between runs of these scripts, not with papers'
Inception figures.
"""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import contextlib
import csv
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.optimize import linear_sum_assignment

import gan_data as gd
import gan_utils as gu
from gan_files import copy_file, write_csv
from gan_kinds import KINDS
from gan_judges import describe, features_and_classes, judge_outputs, load_judge

FULL_SAMPLES = 10000  # evaluate.py; the training scripts use --eval-samples (2,000)
MAX_SAMPLES = 50000  # the most any flag asks for: the usual count for a published FID
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PSNR_CAP = 100.0  # dB, what identical images score instead of infinity
SSIM_SIGMA = 1.5  # Wang et al. (2004): an 11x11 Gaussian window, K1 = 0.01, K2 = 0.03


# ---------------------------------------------------------------------------------------
# The measures, on NumPy arrays.
# ---------------------------------------------------------------------------------------

def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(features_a, features_b):
    """FID: |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2), with the trace of the root taken
    from the eigenvalues of S_a^1/2 S_b S_a^1/2 (symmetric, so no complex parts to drop)."""
    a, b = np.asarray(features_a, "float64"), np.asarray(features_b, "float64")
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _psd_sqrt(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def kernel_distance(features_a, features_b, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=0):
    """KID: the unbiased estimate of MMD^2 with the kernel (x.y / d + 1)^3, averaged over random
    subsets of min(subset_size, both set sizes) from each set."""
    a, b = np.asarray(features_a, "float64"), np.asarray(features_b, "float64")
    rng = np.random.default_rng(seed)
    m, dim = min(subset_size, len(a), len(b)), a.shape[1]
    total = 0.0
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx, k_yy, k_xy = ((p @ q.T / dim + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        total += within - 2 * k_xy.mean()
    return float(total / subsets)


def class_agreement(predicted, wanted, n_classes):
    """(share of images recognised as the class asked for, that share for each class)."""
    predicted, wanted = np.asarray(predicted), np.asarray(wanted)
    hits = predicted == wanted
    per_class = [float(hits[wanted == c].mean()) if np.any(wanted == c) else float("nan") for c in range(n_classes)]
    return float(hits.mean()), per_class


def class_coverage(predicted, n_classes):
    """How evenly images cover n_classes classes (predicted: each image's class, from 0): (the KL
    divergence of their class shares from the uniform, in nats: 0 when every class is drawn
    equally often, log(n_classes) when one class alone is; the shares). An FID in a classifier's
    features moves with these shares, so this tells a dropped class from worse images."""
    shares = np.bincount(np.asarray(predicted), minlength=n_classes) / max(len(predicted), 1)
    drawn = shares > 0
    return float(np.sum(shares[drawn] * np.log(shares[drawn] * n_classes))), shares


def code_counts(codes, classes, n_codes, n_classes):
    """How often each code value went with each class: an (n_codes, n_classes) table."""
    counts = np.zeros((n_codes, n_classes))
    np.add.at(counts, (np.asarray(codes), np.asarray(classes)), 1)
    return counts


def code_accuracy(codes, classes, n_codes, n_classes):
    """How well a categorical code works as a classifier, after the one-to-one matching of code
    values to classes that gets the most right (Hungarian algorithm)."""
    counts = code_counts(codes, classes, n_codes, n_classes)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(codes))


def q_accuracy(q_model, images, labels, n_cat):
    """InfoGAN's Q as a classifier of real images, as the paper measures it: the code value Q finds
    in each image, matched one-to-one to the labels (code_accuracy)."""
    outputs = q_model.predict(np.asarray(images, "float32"), batch_size=500, verbose=0)
    category = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    return code_accuracy(np.argmax(category, axis=1), labels, n_cat, int(np.max(labels)) + 1)


def code_digits(counts, class_names, shown=3):
    """Each code value's most frequent classes, by name: "code 3: 8 61%, 3 22%, 5 9%"."""
    lines = []
    for code, row in enumerate(counts):
        top = np.argsort(row)[::-1][:shown]
        lines.append(f"code {code}: " + ", ".join(f"{class_names[c]} {row[c] / max(row.sum(), 1):.0%}"
                                                  for c in top if row[c]))
    return lines


def _unit_range(images):
    return (np.asarray(images, "float64") + 1) / 2


def mean_l1(images, targets):
    """Mean absolute difference on the [-1, 1] scale of the training's L1 loss."""
    return float(np.mean(np.abs(np.asarray(images, "float64") - np.asarray(targets, "float64"))))


def mean_psnr(images, targets):
    """Mean PSNR in dB over images, pixels on [0, 1]; identical images score PSNR_CAP."""
    mse = np.mean((_unit_range(images) - _unit_range(targets)) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        psnr = np.where(mse > 0, -10 * np.log10(mse), PSNR_CAP)
    return float(np.mean(np.minimum(psnr, PSNR_CAP)))


def mean_ssim(images, targets):
    """Mean SSIM (Wang et al. 2004) over images and channels, pixels on [0, 1], Gaussian window,
    borders where the window does not fit left out."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    x, y = _unit_range(images), _unit_range(targets)

    def local_mean(a):  # per image and channel: blur height and width only
        return gaussian_filter(a, sigma=(0, SSIM_SIGMA, SSIM_SIGMA, 0), truncate=3.5)

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x ** 2
    var_y = local_mean(y * y) - mu_y ** 2
    cov = local_mean(x * y) - mu_x * mu_y
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    border = int(3.5 * SSIM_SIGMA + 0.5)
    return float(np.mean(ssim[:, border:-border, border:-border, :]))


# ---------------------------------------------------------------------------------------
# Evaluating a generator.
# ---------------------------------------------------------------------------------------

def load_measuring_data(dataset, judges_dir, data_dir=None):
    """What measuring a dataset's generators reads: (judge, judge info, training split, test split)."""
    train = gd.load_dataset(dataset, data_dir, "train")
    test = gd.load_dataset(dataset, data_dir, "test")
    judge, judge_info = load_judge(dataset, judges_dir, train, test)
    return judge, judge_info, train, test


class ImageEvaluator:
    """FID and KID against the real test split in the judge's feature space, and for conditional
    generators the class agreement, for InfoGAN the code accuracy."""

    def __init__(self, info, judges_dir, data_dir=None, measuring=None):
        self.info, kind = info, KINDS[info["kind"]]
        self.inputs, self.primary, self.lower_is_better = kind.inputs, kind.primary, kind.lower_is_better
        measuring = measuring or load_measuring_data(info["dataset"], judges_dir, data_dir)
        self.judge, self.judge_info, (train_images, train_labels), (test_images, test_labels) = measuring
        trained_on = info.get("trained_on")
        all_names = gd.DATASETS[info["dataset"]]["classes"]
        self.coverage_index = np.array(sorted(all_names.index(name) for name in trained_on or all_names))
        self.coverage_names = [all_names[k] for k in self.coverage_index]
        if trained_on and trained_on != all_names:
            test_images, test_labels = gd.select_classes(test_images, test_labels, info["dataset"], trained_on)
            train_images, _ = gd.select_classes(train_images, train_labels, info["dataset"], trained_on)
        self.train_images = gd.scale_images(train_images)
        self.test_images, self.test_labels = gd.scale_images(test_images), test_labels
        self.judge_model = features_and_classes(self.judge)
        self.test_features, _ = judge_outputs(self.judge_model, self.test_images)

    def images_vs_test(self, images):
        """FID and KID, and for an unconditional generator the class coverage over the classes it
        was trained on (all, or --classes; images the judge puts in another class are left out):
        `class_kl` and the shares by name. Also the judge's class of each image."""
        features, predicted = judge_outputs(self.judge_model, images)
        results = dict(fid=frechet_distance(features, self.test_features),
                       kid=kernel_distance(features, self.test_features))
        if self.primary == "fid":
            kept = np.isin(predicted, self.coverage_index)
            results["class_kl"], shares = class_coverage(np.searchsorted(self.coverage_index, predicted[kept]),
                                                         len(self.coverage_index))
            results["class_shares"] = dict(zip(self.coverage_names, shares.tolist()))
        return results, predicted

    def __call__(self, g_model, n, seed=0):
        """The same n inputs (for a seed) at every call, so that epochs differ only by the generator."""
        inputs, asked = self.inputs(self.info, n, np.random.default_rng(seed))
        images = g_model.predict(inputs, batch_size=500, verbose=0)
        results, predicted = self.images_vs_test(images)
        results = dict(samples=n, **results)
        if self.primary == "class_agreement":
            results["class_agreement"], per_class = class_agreement(predicted, asked, self.info["n_classes"])
            results["per_class"] = dict(zip(self.info["class_names"], per_class))
        if self.primary == "code_accuracy":
            n_digits = len(gd.DATASETS[self.info["dataset"]]["classes"])
            results["code_accuracy"] = code_accuracy(asked, predicted, self.info["n_cat"], n_digits)
            results["code_digits"] = code_counts(asked, predicted, self.info["n_cat"], n_digits)
        return results

    def references(self, n, seed=0):
        """The floor (n real training images) and the ceiling (n images of uniform noise)."""
        rng = np.random.default_rng(seed)
        floor = self.train_images[rng.choice(len(self.train_images), min(n, len(self.train_images)), replace=False)]
        noise = rng.uniform(-1, 1, (n, *self.test_images.shape[1:])).astype("float32")
        return {"real training images (floor)": self.images_vs_test(floor)[0],
                "uniform noise (ceiling)": self.images_vs_test(noise)[0]}


class TranslationEvaluator:
    """Pix2Pix: L1, PSNR and SSIM of translations against their targets on validation pairs."""

    primary, lower_is_better = KINDS["pix2pix"].primary, KINDS["pix2pix"].lower_is_better

    def __init__(self, pairs):
        self.sources, self.targets = pairs

    @staticmethod
    def scores(images, targets):
        return dict(l1=mean_l1(images, targets), psnr=mean_psnr(images, targets), ssim=mean_ssim(images, targets))

    def __call__(self, g_model, n, seed=0):
        n = min(n, len(self.sources))
        g_training = gu.in_training_mode(g_model)  # one at a time, as trained: see pix2pix_maps.py
        images = np.concatenate([g_training.predict_on_batch(x[None]) for x in self.sources[:n]])
        return dict(pairs=n, **self.scores(images, self.targets[:n]))

    def references(self, n, seed=0):
        n = min(n, len(self.sources))
        return {"identity (the source itself)": self.scores(self.sources[:n], self.targets[:n])}


def evaluator_for(info, judges_dir, data_dir=None, pairs=None, measuring=None):
    if info["kind"] == "pix2pix":
        return TranslationEvaluator(pairs)
    return ImageEvaluator(info, judges_dir, data_dir, measuring)


# ---------------------------------------------------------------------------------------
# During training.
# ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def numpy_random_state_kept():
    """Measuring (and training a judge) draws random numbers; putting NumPy's state back keeps the
    GAN's training exactly what it would be without measuring, cached judge or not."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


class QualityLog:
    """At each summary: the fast metric (`samples` generated images) into metrics.csv, and the
    snapshot copied to generator_best.h5 when it beats every earlier summary of the run."""

    def __init__(self, out_dir, samples, data_dir=None, pairs=None, resume=False, judge_dir=None):
        self.out_dir, self.samples, self.data_dir, self.pairs = Path(out_dir), samples, data_dir, pairs
        self.judge_dir = judge_dir
        self.path = self.out_dir / "metrics.csv"
        self.rows = self._read() if resume else []
        self.evaluator = self.measuring = None

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

    def record(self, epoch, g_model, info, snapshot, raw_model=None, q_model=None, minutes=None):
        """Measure `g_model` (the averaged generator, described by `info` and saved as
        `snapshot`), and `raw_model`'s primary figure too when there is one: the generator as
        trained, before averaging; InfoGAN's `q_model` as a classifier of real digits.
        `minutes`: the run's wall-clock time so far, for learning curves."""
        if not self.samples:
            return
        with numpy_random_state_kept():
            if self.evaluator is None:
                self.evaluator = evaluator_for(info, self.judge_dir, self.data_dir, self.pairs, self.measuring)
            results = self.evaluator(g_model, self.samples)
            if raw_model is not None:
                results[f"raw_{self.evaluator.primary}"] = self.evaluator(raw_model, self.samples)[self.evaluator.primary]
            if results.get("code_digits") is not None and q_model is not None:
                results["q_accuracy"] = q_accuracy(q_model, self.evaluator.test_images, self.evaluator.test_labels,
                                                   info["n_cat"])
        row = dict(epoch=epoch, **({} if minutes is None else dict(minutes=minutes)),
                   **{k: v for k, v in results.items() if k not in ("per_class", "code_digits", "class_shares")})
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

    def judge(self):
        """Which judge measures this run, in words; None when none does (Pix2Pix, measuring off)."""
        return describe(self.measuring[1]) if self.measuring else None

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
