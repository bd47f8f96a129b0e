"""The measures, on NumPy arrays: FID and KID between two sets of features, class agreement and
class coverage, InfoGAN's code accuracy, and Pix2Pix's L1, PSNR and SSIM.

NumPy and SciPy only: the kinds (kinds.py) read their figures from here without loading Keras.
"""
import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.optimize import linear_sum_assignment

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PSNR_CAP = 100.0  # dB, what identical images score instead of infinity
SSIM_SIGMA = 1.5  # Wang et al. (2004): an 11x11 Gaussian window, K1 = 0.01, K2 = 0.03


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
