"""The measures, on NumPy arrays: FID and KID between two sets of features; precision, recall,
density and coverage, per class and over all; class agreement and class coverage, InfoGAN's code
accuracy and the spread of Q's reading of real digits; and Pix2Pix's L1, PSNR and SSIM.

NumPy and SciPy only: the kinds (kinds.py) read their figures from here without loading Keras.
"""
import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.optimize import linear_sum_assignment

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PSNR_CAP = 100.0  # dB, what identical images score instead of infinity
SSIM_SIGMA = 1.5  # Wang et al. (2004): an 11x11 Gaussian window, K1 = 0.01, K2 = 0.03
PR_NEIGHBOURS = 3  # improved precision and recall (Kynkaanniemi et al. 2019, arXiv 1904.06991)
DC_NEIGHBOURS = 5  # density and coverage (Naeem et al. 2020, arXiv 2002.09797)
DISTANCE_ROWS = 1000  # rows of a distance matrix computed at once: 10,000 x 10,000 would take 800 MB


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


def _squared_distances(a, b):
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0)


def neighbour_radii(features, k):
    """Each vector's squared distance to its k-th nearest neighbour among the others."""
    radii = np.empty(len(features))
    for start in range(0, len(features), DISTANCE_ROWS):
        distances = _squared_distances(features[start:start + DISTANCE_ROWS], features)
        radii[start:start + DISTANCE_ROWS] = np.partition(distances, k, axis=1)[:, k]  # column 0: itself
    return radii


def manifold_figures(real_features, fake_features, k):
    """Precision, recall, density and coverage of fake vectors against real ones, each real (and,
    for recall, each fake) vector's ball reaching its k-th nearest neighbour: precision, the share
    of fakes inside some real ball; recall, the share of real vectors inside some fake ball; density,
    the mean count of real balls holding a fake, over k; coverage, the share of real balls holding
    a fake. The comparisons are strict, as in the prdc package."""
    real, fake = np.asarray(real_features, "float64"), np.asarray(fake_features, "float64")
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"precision and recall at k={k} need more than {k} vectors on each side, "
                         f"got {len(real)} real and {len(fake)} generated")
    real_radii, fake_radii = neighbour_radii(real, k), neighbour_radii(fake, k)
    fake_in_real_balls = np.zeros(len(fake))
    real_in_fake_balls, real_ball_holds_fake = np.zeros(len(real), bool), np.zeros(len(real), bool)
    for start in range(0, len(real), DISTANCE_ROWS):
        rows = slice(start, start + DISTANCE_ROWS)
        distances = _squared_distances(real[rows], fake)
        inside = distances < real_radii[rows, None]
        fake_in_real_balls += inside.sum(0)
        real_ball_holds_fake[rows] = inside.any(1)
        real_in_fake_balls[rows] = (distances < fake_radii[None, :]).any(1)
    return dict(precision=float(np.mean(fake_in_real_balls > 0)), recall=float(real_in_fake_balls.mean()),
                density=float(fake_in_real_balls.mean() / k), coverage=float(real_ball_holds_fake.mean()))


def both_axes(real_features, fake_features):
    """Fidelity and coverage of one set against another: improved precision and recall (k=3) and
    density and coverage (k=5)."""
    pr = manifold_figures(real_features, fake_features, PR_NEIGHBOURS)
    dc = manifold_figures(real_features, fake_features, DC_NEIGHBOURS)
    return dict(precision=pr["precision"], recall=pr["recall"], density=dc["density"], coverage=dc["coverage"])


def per_class_axes(real_features, real_groups, fake_features, fake_groups, n_groups):
    """both_axes and FID within each class, of fakes grouped as asked for (or as matched) against the
    real vectors of that class: ({figure: mean over classes, "intra_fid": the mean of the classes'
    FIDs}, {figure: [value per class]}). A class with too few vectors on either side gets NaN and is
    left out of the means."""
    per_class = {name: [] for name in ("precision", "recall", "density", "coverage", "fid")}
    real_groups, fake_groups = np.asarray(real_groups), np.asarray(fake_groups)
    for group in range(n_groups):
        real, fake = real_features[real_groups == group], fake_features[fake_groups == group]
        if min(len(real), len(fake)) <= DC_NEIGHBOURS:
            for values in per_class.values():
                values.append(float("nan"))
            continue
        for name, value in both_axes(real, fake).items():
            per_class[name].append(value)
        per_class["fid"].append(frechet_distance(real, fake))
    means = {name: float(np.nanmean(values)) if not np.all(np.isnan(values)) else float("nan")
             for name, values in per_class.items()}
    means["intra_fid"] = means.pop("fid")
    return means, per_class


def harmonic_mean_of_shares(*pairs):
    """2ab/(a+b) (for two) of each value over its ceiling, each share capped at 1: a figure that is
    high only when every axis is near its ceiling."""
    shares = [min(1.0, max(0.0, value / ceiling)) if ceiling > 0 else 0.0 for value, ceiling in pairs]
    return 0.0 if min(shares) == 0 else float(len(shares) / sum(1 / s for s in shares))


def reading_spread(probabilities):
    """How a model that reads images into n values (InfoGAN's Q) spreads real images over them,
    from its softmax outputs: (the entropy of the share of images each value is the argmax of, in
    nats: log n when even; the largest share; the mutual information between image and value,
    H(mean p) - mean H(p), log n when every image is read with certainty and the values are even)."""
    p = np.clip(np.asarray(probabilities, "float64"), 1e-12, 1)
    shares = np.bincount(np.argmax(p, axis=1), minlength=p.shape[1]) / len(p)
    drawn = shares[shares > 0]
    marginal = p.mean(0)
    information = -np.sum(marginal * np.log(marginal)) + np.mean(np.sum(p * np.log(p), axis=1))
    return float(-np.sum(drawn * np.log(drawn))), float(shares.max()), float(information)


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


def matched_classes(counts):
    """The one-to-one matching of code values to classes that gets the most right (Hungarian
    algorithm), from code_counts' table: each value's class, -1 for a value left unmatched."""
    codes, classes = linear_sum_assignment(counts, maximize=True)
    class_of = np.full(len(counts), -1)
    class_of[codes] = classes
    return class_of


def code_accuracy(codes, classes, n_codes, n_classes):
    """How well a categorical code works as a classifier, its values matched to classes."""
    counts = code_counts(codes, classes, n_codes, n_classes)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(codes))


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
