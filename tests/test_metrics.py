"""The quality measures on cases with known answers, and the metrics a training run keeps."""
import csv
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import cgan_fashion
import datafiles
from ganlib import cli, data as gd, measures, metrics_log
from ganlib.kinds import KINDS


@pytest.fixture(scope="module")
def features():
    return np.random.default_rng(0).standard_normal((1500, 16))


def test_fid_and_kid_of_a_set_against_itself_are_about_zero(features):
    assert abs(measures.frechet_distance(features, features)) < 1e-9
    self_kid = measures.kernel_distance(features, features, subsets=20, subset_size=500)
    shifted_kid = measures.kernel_distance(features, features + 0.3, subsets=20, subset_size=500)
    assert abs(self_kid) < shifted_kid / 10  # subsets are drawn at random: near 0, not exactly


def test_fid_of_a_shift_is_the_squared_shift_and_both_grow_with_it(features):
    shifts = [0.1, 0.3, 1.0]
    fids = [measures.frechet_distance(features, features + s) for s in shifts]
    kids = [measures.kernel_distance(features, features + s, subsets=20, subset_size=500) for s in shifts]
    np.testing.assert_allclose(fids, [16 * s ** 2 for s in shifts], rtol=1e-6)
    assert kids[0] < kids[1] < kids[2]


def test_fid_and_kid_grow_as_images_are_blurred():
    images, _ = datafiles.patterned_images(600, (28, 28, 1), 10)
    images = gd.scale_images(images)

    def pixel_features(batch):  # every 4th pixel: 49 numbers an image
        return batch[:, ::4, ::4, 0].reshape(len(batch), -1)

    reference = pixel_features(images)
    blurred = [pixel_features(gaussian_filter(images, sigma=(0, s, s, 0))) for s in (0.5, 1.0, 2.0)]
    fids = [measures.frechet_distance(reference, b) for b in blurred]
    kids = [measures.kernel_distance(reference, b, subsets=10, subset_size=300) for b in blurred]
    assert 0 < fids[0] < fids[1] < fids[2]
    assert kids[0] < kids[1] < kids[2]


def test_class_agreement_is_one_when_every_class_is_recognised_and_zero_when_permuted():
    wanted = np.arange(100) % 10
    overall, per_class = measures.class_agreement(wanted, wanted, 10)
    assert overall == 1.0 and per_class == [1.0] * 10
    overall, per_class = measures.class_agreement((wanted + 1) % 10, wanted, 10)
    assert overall == 0.0 and per_class == [0.0] * 10
    overall, _ = measures.class_agreement(np.where(wanted < 3, wanted, 0), wanted, 10)
    assert overall == pytest.approx(0.3)


def test_code_matching_recovers_a_permutation_and_finds_nothing_in_noise():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 10, 1000)
    assert measures.code_accuracy(codes, rng.permutation(10)[codes], 10, 10) == 1.0
    assert measures.code_accuracy(codes, rng.integers(0, 10, 1000), 10, 10) < 0.2
    half_right = np.where(np.arange(1000) % 2 == 0, (codes + 3) % 10, rng.integers(0, 10, 1000))
    assert 0.5 <= measures.code_accuracy(codes, half_right, 10, 10) < 0.6


class StubQ:
    """A Q model whose categorical code is a known function of each image's label, which the
    image carries as its pixel value."""

    def __init__(self, code_of_label, certainty=1.0):
        self.code_of_label, self.certainty = code_of_label, certainty

    def predict(self, images, batch_size, verbose):
        labels = np.rint((images[:, 0, 0, 0] + 1) * 127.5).astype(int)
        codes = np.full((len(images), 10), (1 - self.certainty) / 9)
        codes[np.arange(len(images)), self.code_of_label[labels]] = self.certainty
        return [codes, np.zeros((len(images), 1))]


def split_of_labels(rng, n):
    labels = rng.permutation(np.arange(n) % 10)
    return np.broadcast_to(labels[:, None, None, None], (n, 28, 28, 1)).astype("uint8"), labels


def test_q_as_a_classifier_of_real_images_is_matched_one_to_one_to_the_labels():
    rng = np.random.default_rng(3)
    test, train = split_of_labels(rng, 500), split_of_labels(rng, 1000)
    info = dict(kind="infogan_q", dataset="mnist", n_cat=10)
    q_on_test = metrics_log.evaluator_for(info, None, measuring=(None, None, train, test))
    assert q_on_test(StubQ(rng.permutation(10)))["q_accuracy"] == 1.0
    merged = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 4])  # 9s read as 4s, as InfoGAN runs do
    assert q_on_test(StubQ(merged))["q_accuracy"] == pytest.approx(np.mean(test[1] != 9))


def test_q_spread_over_real_digits_tells_a_merge_without_labels():
    rng = np.random.default_rng(4)
    info = dict(kind="infogan_q", dataset="mnist", n_cat=10)
    q_on_test = metrics_log.evaluator_for(info, None, measuring=(None, None, split_of_labels(rng, 1000),
                                                                 split_of_labels(rng, 200)))
    separate = q_on_test(StubQ(rng.permutation(10), certainty=0.9))
    merged = q_on_test(StubQ(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 4]), certainty=0.9))
    unsure = q_on_test(StubQ(rng.permutation(10), certainty=0.1))  # every value near 1/10 for every image
    assert separate["q_entropy"] == pytest.approx(np.log(10)) and separate["q_largest_share"] == pytest.approx(0.1)
    assert merged["q_largest_share"] == pytest.approx(0.2) and merged["q_entropy"] < separate["q_entropy"] - 0.1
    assert merged["q_information"] < separate["q_information"] - 0.05
    assert unsure["q_information"] < 0.01 < separate["q_information"]


def test_class_coverage_is_zero_for_even_classes_and_log_k_for_one_class():
    even = np.repeat(np.arange(10), 7)
    assert measures.class_coverage(even, 10)[0] == pytest.approx(0)
    assert measures.class_coverage(np.full(70, 3), 10)[0] == pytest.approx(np.log(10))
    kl, shares = measures.class_coverage(np.array([0, 0, 1, 1]), 10)  # two classes of ten, half each
    assert kl == pytest.approx(np.log(5)) and shares.tolist() == [0.5, 0.5] + [0.0] * 8


def test_code_digits_names_each_code_values_classes():
    counts = measures.code_counts([0, 0, 0, 0, 1, 1], [4, 4, 4, 9, 7, 7], 2, 10)
    assert measures.code_digits(counts, [str(d) for d in range(10)]) == ["code 0: 4 75%, 9 25%", "code 1: 7 100%"]


def test_l1_psnr_and_ssim_on_known_images():
    images = np.random.default_rng(2).uniform(-1, 1, (4, 32, 32, 3))
    assert measures.mean_l1(images, images) == 0
    assert measures.mean_psnr(images, images) == measures.PSNR_CAP  # identical: capped, not infinite
    assert measures.mean_ssim(images, images) == pytest.approx(1.0)
    shifted = images + 0.2  # 0.1 on [0, 1]: MSE 0.01, so exactly 20 dB
    assert measures.mean_l1(shifted, images) == pytest.approx(0.2)
    assert measures.mean_psnr(shifted, images) == pytest.approx(20.0)
    noisy = [images + np.random.default_rng(3).normal(0, s, images.shape) for s in (0.05, 0.2)]
    assert 1 > measures.mean_ssim(noisy[0], images) > measures.mean_ssim(noisy[1], images)
    assert measures.mean_psnr(noisy[0], images) > measures.mean_psnr(noisy[1], images)


def run_cgan(tiny_data, out, *flags):
    cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "3",
                                    "--steps-per-epoch", "2", "--batch-size", "8", "--eval-every", "1",
                                    "--eval-samples", "60", "--seed", "1", *flags])


def read_metrics(out):
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_training_writes_metrics_and_keeps_the_best_generator(tiny_data, tmp_path, capsys):
    out = tmp_path / "cgan"
    run_cgan(tiny_data, out)
    rows = read_metrics(out)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(r["samples"] == "60" and float(r["fid"]) > 0 and 0 <= float(r["class_agreement"]) <= 1 for r in rows)
    # 20 real test images, two a class: too few for the per-class figures, which say so with NaN
    assert all(r["real_recall"] == r["intra_fid"] == "nan" and 0 <= float(r["both_axes"]) <= 1 for r in rows)
    best = max(rows, key=lambda r: (float(r["both_axes"]), -int(r["epoch"])))
    best_file = out / "generator_best.h5"
    assert best_file.read_bytes() == (out / f"generator_e{int(best['epoch']):03d}.h5").read_bytes()
    assert f"best generator: epoch {best['epoch']} (both axes" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.extended
def test_measuring_leaves_training_unchanged_and_is_skipped_with_eval_samples_zero(tiny_data, tmp_path):
    run_cgan(tiny_data, tmp_path / "measured" / "cgan")
    run_cgan(tiny_data, tmp_path / "unmeasured" / "cgan", "--eval-samples", "0")
    assert not (tmp_path / "unmeasured" / "cgan" / "metrics.csv").exists()
    losses = [(tmp_path / run / "cgan" / "losses.csv").read_text() for run in ("measured", "unmeasured")]
    assert losses[0] == losses[1]


@pytest.mark.slow
def test_resumed_run_keeps_earlier_rows_and_the_best_of_the_whole_run(tiny_data, tmp_path):
    out = tmp_path / "cgan"
    cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "1",
                                    "--steps-per-epoch", "2", "--batch-size", "8", "--eval-samples", "60"])
    first = read_metrics(out)
    (out / "generator_e001.h5").rename(out / "kept_e001.h5")
    cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "2",
                                    "--steps-per-epoch", "2", "--batch-size", "8", "--eval-samples", "60",
                                    "--resume"])
    rows = read_metrics(out)
    assert rows[0] == first[0] and [r["epoch"] for r in rows] == ["1", "2"]
    if float(rows[1]["class_agreement"]) > float(rows[0]["class_agreement"]):
        assert (out / "generator_best.h5").read_bytes() == (out / "generator_e002.h5").read_bytes()
    else:
        assert (out / "generator_best.h5").read_bytes() == (out / "kept_e001.h5").read_bytes()


class StubGenerator:
    """A "generator" that answers each asked class with images from a fixed pool of that class."""

    def __init__(self, images, labels, one_each=False):
        self.pools = [images[labels == c][:1] if one_each else images[labels == c] for c in range(10)]

    def predict(self, inputs, batch_size, verbose):
        asked = np.asarray(inputs[1])
        turn = [np.sum(asked[:k] == c) for k, c in enumerate(asked)]  # the class's next image
        return gd.scale_images(np.stack([self.pools[c][t % len(self.pools[c])] for c, t in zip(asked, turn)]))


@pytest.fixture(scope="module")
def banded_measuring():
    """A judge that reads banded images' classes, and the splits it measures against."""
    from ganlib import judges as gj
    keras.utils.set_random_seed(0)  # the judge's features, and so the figures, whatever ran before
    train, test = datafiles.banded_images(1000, (28, 28, 1), 10, 0), datafiles.banded_images(500, (28, 28, 1), 10, 1)
    judge = gj.define_judge((28, 28, 1), 10)
    judge.fit(gd.scale_images(train[0]), train[1], batch_size=50, epochs=3, verbose=0)
    accuracy = float(np.mean(np.argmax(judge.predict(gd.scale_images(test[0]), verbose=0), 1) == test[1]))
    return (judge, dict(test_accuracy=accuracy, test_images=500, dataset="fashion_mnist"), train, test)


@pytest.mark.slow
def test_both_axes_controls_reach_the_ceiling_the_floor_and_tell_a_repeated_image(banded_measuring):
    """Held-out real images reach the ceilings; one image repeated per class is recognised but
    covers nothing; an untrained generator sits at the floor."""
    import cgan_fashion
    keras.utils.set_random_seed(1)
    assert banded_measuring[1]["test_accuracy"] >= 0.95  # a judge that knows the classes
    info = dict(kind="cgan", dataset="fashion_mnist", n_classes=10, class_names=gd.FASHION_CLASSES, latent_dim=8)
    evaluator = metrics_log.ImageEvaluator(info, None, measuring=banded_measuring)
    held_out = datafiles.banded_images(500, (28, 28, 1), 10, 2)
    real = evaluator(StubGenerator(*held_out), 500)
    assert real["class_agreement"] >= 0.95 and real["both_axes"] >= 0.85
    assert real["recall"] >= 0.85 * real["real_recall"] and real["precision"] >= 0.85 * real["real_precision"]
    assert real["coverage"] >= 0.85 * real["real_coverage"] and real["real_recall"] >= 0.5
    repeated = evaluator(StubGenerator(*held_out, one_each=True), 500)
    assert repeated["class_agreement"] >= 0.95 and repeated["recall"] <= 0.05 and repeated["coverage"] <= 0.1
    assert repeated["both_axes"] <= 0.1 and repeated["intra_fid"] > 5 * real["intra_fid"]
    untrained = evaluator(cgan_fashion.define_generator(8), 500)
    assert untrained["precision"] <= 0.05 and untrained["recall"] <= 0.05 and untrained["both_axes"] <= 0.1


def test_precision_recall_density_and_coverage_on_points_on_a_line():
    real, fake = np.array([[0.0], [1], [2], [3]]), np.array([[0.5], [10]])
    # Each real point's ball reaches its nearest neighbour (radius 1); each fake's the other fake (9.5)
    assert measures.manifold_figures(real, fake, 1) == dict(precision=0.5, recall=1.0, density=1.0, coverage=0.5)


def test_the_figures_match_the_prdc_package():
    prdc = pytest.importorskip("prdc")
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((700, 16)), rng.normal(0.3, 1.2, (2300, 16))  # more rows than one block
    for k in (3, 5):
        assert measures.manifold_figures(real, fake, k) == pytest.approx(prdc.compute_prdc(real, fake, k))


def test_the_best_conditional_snapshot_is_chosen_on_both_axes_and_an_older_row_loses(tmp_path):
    log = metrics_log.QualityLog(tmp_path, samples=10)
    log.evaluator = SimpleNamespace(kind=KINDS["cgan"], primary="class_agreement", lower_is_better=False)
    log.rows = [dict(epoch=1, class_agreement=0.97),  # a run from before both axes were measured
                dict(epoch=2, class_agreement=0.95, both_axes=0.3),
                dict(epoch=3, class_agreement=0.85, both_axes=0.7),
                dict(epoch=4, class_agreement=0.90, both_axes=0.6)]
    assert log.best()["epoch"] == 3
    pix2pix = metrics_log.QualityLog(tmp_path, samples=10)
    pix2pix.evaluator = SimpleNamespace(kind=KINDS["pix2pix"], primary="l1", lower_is_better=True)
    pix2pix.rows = [dict(epoch=1, l1=0.3), dict(epoch=2, l1=0.2), dict(epoch=3, l1=0.25)]
    assert pix2pix.best()["epoch"] == 2
