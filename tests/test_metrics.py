"""The quality measures on cases with known answers, the judges' cache, and evaluate.py end to end."""
import csv
import json

import keras
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import cgan_fashion
import datafiles
import dcgan_cifar10
import evaluate
import gan_common as gc
import gan_fashion
import gan_metrics as gm
import infogan_mnist
import pix2pix_maps


@pytest.fixture(scope="module")
def features():
    return np.random.default_rng(0).standard_normal((1500, 16))


def test_fid_and_kid_of_a_set_against_itself_are_about_zero(features):
    assert abs(gm.frechet_distance(features, features)) < 1e-9
    self_kid = gm.kernel_distance(features, features, subsets=20, subset_size=500)
    shifted_kid = gm.kernel_distance(features, features + 0.3, subsets=20, subset_size=500)
    assert abs(self_kid) < shifted_kid / 10  # subsets are drawn at random: near 0, not exactly


def test_fid_of_a_shift_is_the_squared_shift_and_both_grow_with_it(features):
    shifts = [0.1, 0.3, 1.0]
    fids = [gm.frechet_distance(features, features + s) for s in shifts]
    kids = [gm.kernel_distance(features, features + s, subsets=20, subset_size=500) for s in shifts]
    np.testing.assert_allclose(fids, [16 * s ** 2 for s in shifts], rtol=1e-6)
    assert kids[0] < kids[1] < kids[2]


def test_fid_and_kid_grow_as_images_are_blurred():
    images, _ = datafiles.patterned_images(600, (28, 28, 1), 10)
    images = gc.scale_images(images)

    def pixel_features(batch):  # every 4th pixel: 49 numbers an image
        return batch[:, ::4, ::4, 0].reshape(len(batch), -1)

    reference = pixel_features(images)
    blurred = [pixel_features(gaussian_filter(images, sigma=(0, s, s, 0))) for s in (0.5, 1.0, 2.0)]
    fids = [gm.frechet_distance(reference, b) for b in blurred]
    kids = [gm.kernel_distance(reference, b, subsets=10, subset_size=300) for b in blurred]
    assert 0 < fids[0] < fids[1] < fids[2]
    assert kids[0] < kids[1] < kids[2]


def test_class_agreement_is_one_when_every_class_is_recognised_and_zero_when_permuted():
    wanted = np.arange(100) % 10
    overall, per_class = gm.class_agreement(wanted, wanted, 10)
    assert overall == 1.0 and per_class == [1.0] * 10
    overall, per_class = gm.class_agreement((wanted + 1) % 10, wanted, 10)
    assert overall == 0.0 and per_class == [0.0] * 10
    overall, _ = gm.class_agreement(np.where(wanted < 3, wanted, 0), wanted, 10)
    assert overall == pytest.approx(0.3)


def test_code_matching_recovers_a_permutation_and_finds_nothing_in_noise():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 10, 1000)
    assert gm.code_accuracy(codes, rng.permutation(10)[codes], 10, 10) == 1.0
    assert gm.code_accuracy(codes, rng.integers(0, 10, 1000), 10, 10) < 0.2
    half_right = np.where(np.arange(1000) % 2 == 0, (codes + 3) % 10, rng.integers(0, 10, 1000))
    assert 0.5 <= gm.code_accuracy(codes, half_right, 10, 10) < 0.6


def test_l1_psnr_and_ssim_on_known_images():
    images = np.random.default_rng(2).uniform(-1, 1, (4, 32, 32, 3))
    assert gm.mean_l1(images, images) == 0
    assert gm.mean_psnr(images, images) == gm.PSNR_CAP  # identical: capped, not infinite
    assert gm.mean_ssim(images, images) == pytest.approx(1.0)
    shifted = images + 0.2  # 0.1 on [0, 1]: MSE 0.01, so exactly 20 dB
    assert gm.mean_l1(shifted, images) == pytest.approx(0.2)
    assert gm.mean_psnr(shifted, images) == pytest.approx(20.0)
    noisy = [images + np.random.default_rng(3).normal(0, s, images.shape) for s in (0.05, 0.2)]
    assert 1 > gm.mean_ssim(noisy[0], images) > gm.mean_ssim(noisy[1], images)
    assert gm.mean_psnr(noisy[0], images) > gm.mean_psnr(noisy[1], images)


def fashion_splits(data_dir):
    return [gc.load_dataset("fashion_mnist", data_dir, split) for split in ("train", "test")]


def test_the_judge_is_trained_once_tested_and_retrained_only_for_other_data(tiny_data, tmp_path, capsys):
    judge, info = gm.load_judge("fashion_mnist", tmp_path, *fashion_splits(tiny_data))
    assert "training the Fashion-MNIST judge" in capsys.readouterr().out
    assert info["test_images"] == 20 and 0 <= info["test_accuracy"] <= 1
    assert judge.get_layer("features").units == 128
    stamp = (tmp_path / "fashion_mnist.h5").stat().st_mtime_ns
    _, again = gm.load_judge("fashion_mnist", tmp_path, *fashion_splits(tiny_data))
    assert again == info and "training" not in capsys.readouterr().out
    assert (tmp_path / "fashion_mnist.h5").stat().st_mtime_ns == stamp
    other = tmp_path / "other"
    datafiles.write_fashion_mnist(other, n=48)
    gm.load_judge("fashion_mnist", tmp_path, *fashion_splits(other))
    assert "was trained on other fashion_mnist images" in capsys.readouterr().out


def test_a_judge_learns_far_beyond_chance_when_the_classes_can_be_told_apart(tmp_path):
    """The tiny patterned images differ by brightness per class: a working judge learns that
    (8 epochs of 16 steps reached 84% and more in runs here; chance is 10%)."""
    keras.utils.set_random_seed(0)
    data = tmp_path / "data"
    datafiles.write_fashion_mnist(data, n=2000, n_test=200)
    _, info = gm.load_judge("fashion_mnist", tmp_path / "judges", *fashion_splits(data))
    assert info["test_accuracy"] > 0.5


def run_cgan(tiny_data, out, *flags):
    gc.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "3",
                                    "--steps-per-epoch", "2", "--batch-size", "8", "--eval-every", "1",
                                    "--eval-samples", "60", "--seed", "1", *flags])


def read_metrics(out):
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_training_writes_metrics_and_keeps_the_best_generator(tiny_data, tmp_path, capsys):
    out = tmp_path / "cgan"
    run_cgan(tiny_data, out)
    rows = read_metrics(out)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(r["samples"] == "60" and float(r["fid"]) > 0 and 0 <= float(r["class_agreement"]) <= 1 for r in rows)
    best = max(rows, key=lambda r: (float(r["class_agreement"]), -int(r["epoch"])))
    best_file = out / "generator_best.h5"
    assert best_file.read_bytes() == (out / f"generator_e{int(best['epoch']):03d}.h5").read_bytes()
    assert f"best generator: epoch {best['epoch']} (class_agreement" in capsys.readouterr().out
    assert (tmp_path / "judges" / "fashion_mnist.h5").is_file()  # beside the run's folder


def test_measuring_leaves_training_unchanged_and_is_skipped_with_eval_samples_zero(tiny_data, tmp_path):
    run_cgan(tiny_data, tmp_path / "measured" / "cgan")
    run_cgan(tiny_data, tmp_path / "unmeasured" / "cgan", "--eval-samples", "0")
    assert not (tmp_path / "unmeasured" / "cgan" / "metrics.csv").exists()
    assert not (tmp_path / "unmeasured" / "judges").exists()
    losses = [(tmp_path / run / "cgan" / "losses.csv").read_text() for run in ("measured", "unmeasured")]
    assert losses[0] == losses[1]


def test_resumed_run_keeps_earlier_rows_and_the_best_of_the_whole_run(tiny_data, tmp_path):
    out = tmp_path / "cgan"
    gc.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "1",
                                    "--steps-per-epoch", "2", "--batch-size", "8", "--eval-samples", "60"])
    first = read_metrics(out)
    (out / "generator_e001.h5").rename(out / "kept_e001.h5")
    gc.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "2",
                                    "--steps-per-epoch", "2", "--batch-size", "8", "--eval-samples", "60",
                                    "--resume"])
    rows = read_metrics(out)
    assert rows[0] == first[0] and [r["epoch"] for r in rows] == ["1", "2"]
    if float(rows[1]["class_agreement"]) > float(rows[0]["class_agreement"]):
        assert (out / "generator_best.h5").read_bytes() == (out / "generator_e002.h5").read_bytes()
    else:
        assert (out / "generator_best.h5").read_bytes() == (out / "kept_e001.h5").read_bytes()


@pytest.fixture(scope="module")
def tiny_generators(tiny_data, tmp_path_factory):
    """A one-step generator of each image kind, and their judges, in one outputs folder."""
    root = tmp_path_factory.mktemp("outputs")
    common = ["--data-dir", str(tiny_data), "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8",
              "--eval-samples", "30"]
    for name, module in [("gan", gan_fashion), ("cgan", cgan_fashion), ("infogan", infogan_mnist)]:
        gc.run_main(module.main, common + ["--out", str(root / name)])
    return root


def run_evaluate(generator, judges, *flags):
    gc.run_main(evaluate.main, [str(generator), "--judges-dir", str(judges), "--samples", "50", *flags])


def test_evaluate_prints_the_table_and_writes_json(tiny_generators, tiny_data, capsys):
    generator = tiny_generators / "cgan" / "generator.h5"
    run_evaluate(generator, tiny_generators / "judges", "--data-dir", str(tiny_data))
    out = capsys.readouterr().out
    assert "training the" not in out  # the judge the training run made is reused
    assert "| measure (50 samples vs 20 real test images) | generator | real training images (floor) " \
           "| uniform noise (ceiling) |" in out
    assert "| FID |" in out and "| KID |" in out and "| class agreement |" in out
    assert "class agreement per class: T-shirt/top" in out
    report = json.loads((generator.parent / "generator_metrics.json").read_text())
    assert report["results"]["samples"] == 50 and set(report["results"]["per_class"]) == set(gc.FASHION_CLASSES)
    floor, ceiling = report["references"].values()
    assert floor["fid"] < ceiling["fid"] and report["judge"]["dataset"] == "fashion_mnist"


def test_evaluate_measures_infogan_codes_and_unconditional_generators(tiny_generators, tiny_data, capsys):
    run_evaluate(tiny_generators / "infogan" / "generator.h5", tiny_generators / "judges", "--data-dir", str(tiny_data))
    report = json.loads((tiny_generators / "infogan" / "generator_metrics.json").read_text())
    assert 0.1 <= report["results"]["code_accuracy"] <= 1  # the best matching gets at least chance
    run_evaluate(tiny_generators / "gan" / "generator.h5", tiny_generators / "judges", "--data-dir", str(tiny_data),
                 "--json", str(tiny_generators / "gan.json"))
    results = json.loads((tiny_generators / "gan.json").read_text())["results"]
    assert set(results) == {"samples", "fid", "kid"}


def test_evaluate_says_in_one_line_when_inception_weights_cannot_be_had(tiny_data, tmp_path, capsys, monkeypatch):
    gc.run_main(dcgan_cifar10.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path / "dcgan"), "--epochs", "1",
                                     "--steps-per-epoch", "1", "--batch-size", "8", "--eval-samples", "0"])

    def no_network(*args, **kwargs):
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", no_network)
    run_evaluate(tmp_path / "dcgan" / "generator.h5", tmp_path / "judges", "--data-dir", str(tiny_data), "--inception")
    out = capsys.readouterr().out
    assert "Inception FID: not measured: Keras could not load the ImageNet InceptionV3 weights " \
           "(ConnectionError: no network in tests)" in out
    assert json.loads((tmp_path / "dcgan" / "generator_metrics.json").read_text())["inception_fid"] is None


def test_evaluate_measures_pix2pix_against_the_identity_baseline(tmp_path, capsys):
    datafiles.write_maps_folder(tmp_path, broken=False)
    gc.run_main(pix2pix_maps.main, ["--data-dir", str(tmp_path), "--out", str(tmp_path / "p2p"), "--epochs", "1",
                                    "--steps-per-epoch", "1"])
    assert [r["pairs"] for r in read_metrics(tmp_path / "p2p")] == ["2"]
    run_evaluate(tmp_path / "p2p" / "generator.h5", tmp_path / "judges", "--data-dir", str(tmp_path))
    out = capsys.readouterr().out
    assert "| measure (2 validation pairs) | generator | identity (the source itself) |" in out
    report = json.loads((tmp_path / "p2p" / "generator_metrics.json").read_text())
    identity = report["references"]["identity (the source itself)"]
    assert identity["l1"] == pytest.approx(gm.mean_l1(*pix2pix_maps.load_real_samples(tmp_path, "val")))
    assert set(report["results"]) == {"pairs", "l1", "psnr", "ssim"}


def test_evaluate_refuses_a_model_that_is_not_a_generator(tiny_generators, capsys):
    with pytest.raises(SystemExit) as stop:
        run_evaluate(tiny_generators / "judges" / "fashion_mnist.h5", tiny_generators / "judges")
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().endswith("fashion_mnist.h5 is a judge model, not a generator")
