"""evaluate.py end to end: the table, the JSON, every kind of generator, and its refusals."""
import json

import csv

import keras
import pytest

import cgan_fashion
import datafiles
import dcgan_cifar10
import evaluate
from ganlib import cli, data as gd, measures
import gan_fashion
from ganlib import judges as gj
import infogan_mnist
import pix2pix_maps
from conftest import save_untrained, settings_of


@pytest.fixture(scope="module")
def tiny_generators(tiny_data, tmp_path_factory):
    """A one-step generator of each image kind in one outputs folder."""
    root = tmp_path_factory.mktemp("outputs")
    common = ["--data-dir", str(tiny_data), "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8",
              "--eval-samples", "30"]
    for name, module in [("gan", gan_fashion), ("cgan", cgan_fashion), ("infogan", infogan_mnist)]:
        cli.run_main(module.main, common + ["--out", str(root / name)])
    return root


def run_evaluate(generator, *flags):
    cli.run_main(evaluate.main, [str(generator), "--samples", "50", *flags])


@pytest.mark.slow
def test_evaluate_prints_the_table_and_writes_json(tiny_generators, tiny_data, capsys):
    generator = tiny_generators / "cgan" / "generator.h5"
    run_evaluate(generator, "--data-dir", str(tiny_data))
    out = capsys.readouterr().out
    assert "training the" not in out and "measured by the shipped Fashion-MNIST judge" in out
    assert "| measure (50 samples vs 20 real test images) | this model | real training images " \
           "| uniform noise |" in out
    assert "| recall (k=3; mean over classes" in out and "| intra-FID |" in out
    assert "| FID |" in out and "| KID (squared MMD in the judge's features, not x1000) |" in out and "| class agreement |" in out
    assert "class agreement per class: T-shirt/top" in out
    report = json.loads((generator.parent / "generator_metrics.json").read_text())
    assert report["results"]["samples"] == 50 and set(report["results"]["per_class"]) == set(gd.FASHION_CLASSES)
    real, noise = report["references"].values()
    assert real["fid"] < noise["fid"] and report["judge"]["dataset"] == "fashion_mnist"
    assert set(report["results"]["per_class_recall"]) == set(gd.FASHION_CLASSES)


@pytest.mark.slow
def test_evaluate_measures_infogan_codes_and_unconditional_generators(tiny_generators, tiny_data, capsys):
    run_evaluate(tiny_generators / "infogan" / "generator.h5", "--data-dir", str(tiny_data))
    report = json.loads((tiny_generators / "infogan" / "generator_metrics.json").read_text())
    assert 0.1 <= report["results"]["code_accuracy"] <= 1  # the best matching gets at least chance
    counts = report["results"]["code_digits"]
    assert len(counts) == 10 and sum(map(sum, counts)) == 50
    assert "the judge's digits for each code value:\n  code 0: " in capsys.readouterr().out
    run_evaluate(tiny_generators / "infogan" / "q_model.h5", "--data-dir", str(tiny_data))
    assert "| measure (real test images (20); the spread: 64 training images) | this model |" in capsys.readouterr().out
    q_report = json.loads((tiny_generators / "infogan" / "q_model_metrics.json").read_text())
    assert q_report["info"]["kind"] == "infogan_q" and q_report["results"]["q_accuracy"] >= 0.1
    run_evaluate(tiny_generators / "gan" / "generator.h5", "--data-dir", str(tiny_data),
                 "--json", str(tiny_generators / "gan.json"))
    results = json.loads((tiny_generators / "gan.json").read_text())["results"]
    assert set(results) == {"samples", "fid", "kid", "class_kl", "class_shares", "precision", "recall", "density",
                            "coverage", "real_precision", "real_recall", "real_density", "real_coverage"}
    assert list(results["class_shares"]) == gd.FASHION_CLASSES
    assert sum(results["class_shares"].values()) == pytest.approx(1)
    assert "classes drawn (the judge's reading): T-shirt/top " in capsys.readouterr().out


@pytest.mark.slow
def test_evaluate_says_in_one_line_when_inception_weights_cannot_be_had(tiny_data, tmp_path, capsys, monkeypatch):
    # No CIFAR-10 judge ships: this test's own, cached apart from the session's, trains for one epoch
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setitem(gj.JUDGE_EPOCHS, "cifar10", 1)
    cli.run_main(dcgan_cifar10.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path / "dcgan"), "--epochs", "1",
                                     "--steps-per-epoch", "1", "--batch-size", "8", "--eval-samples", "0"])

    def no_network(*args, **kwargs):
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", no_network)
    run_evaluate(tmp_path / "dcgan" / "generator.h5", "--data-dir", str(tiny_data), "--inception")
    out = capsys.readouterr().out
    assert "Inception FID: not measured: Keras could not load the ImageNet InceptionV3 weights " \
           "(ConnectionError: no network in tests)" in out
    assert json.loads((tmp_path / "dcgan" / "generator_metrics.json").read_text())["inception_fid"] is None


@pytest.mark.slow
@pytest.mark.extended
def test_evaluate_measures_pix2pix_against_the_identity_baseline(tmp_path, capsys):
    datafiles.write_maps_folder(tmp_path, broken=False)
    cli.run_main(pix2pix_maps.main, ["--data-dir", str(tmp_path), "--out", str(tmp_path / "p2p"), "--epochs", "1",
                                    "--steps-per-epoch", "1"])
    assert [r["pairs"] for r in csv.DictReader(open(tmp_path / "p2p" / "metrics.csv"))] == ["2"]
    run_evaluate(tmp_path / "p2p" / "generator.h5", "--data-dir", str(tmp_path))
    out = capsys.readouterr().out
    assert "| measure (2 validation pairs) | this model | identity (the source itself) |" in out
    report = json.loads((tmp_path / "p2p" / "generator_metrics.json").read_text())
    identity = report["references"]["identity (the source itself)"]
    assert identity["l1"] == pytest.approx(measures.mean_l1(*pix2pix_maps.load_real_samples(settings_of(pix2pix_maps, "--data-dir", tmp_path), "val")))
    assert set(report["results"]) == {"pairs", "l1", "psnr", "ssim"}


@pytest.mark.slow
def test_evaluate_refuses_a_model_that_is_not_a_generator(capsys):
    judge = gj.SHIPPED_JUDGES_DIR / "fashion_mnist.h5"
    with pytest.raises(SystemExit) as stop:
        run_evaluate(judge)
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f"{judge.name} is a judge model, not a generator")


@pytest.mark.slow
def test_cas_trains_a_classifier_on_generated_images_and_tests_it_on_real_ones(tiny_generators, tiny_data, capsys):
    generator = tiny_generators / "cgan" / "generator.h5"
    run_evaluate(generator, "--data-dir", str(tiny_data), "--cas", "--cas-images", "40", "--json",
                 str(tiny_generators / "cas.json"))
    out = capsys.readouterr().out
    assert "training a classifier on 40 generated images for 8 epochs" in out
    cas = json.loads((tiny_generators / "cas.json").read_text())["cas"]
    assert 0 <= cas["generated"] <= 1 and cas["real"] == gj.load_shipped_judge("fashion_mnist")[1]["test_accuracy"]
    assert f"Classification Accuracy Score: {cas['generated']:.1%} on the 20 real test images" in out


@pytest.mark.parametrize("flags,message", [(["--cas"], "--cas measures generators that take a class (cgan, acgan); "
                                                       "this file is a gan model"),
                                           (["--cas-images", "10"], "--cas measures generators that take a class")])
def test_cas_is_refused_for_generators_without_classes(tmp_path, flags, message, capsys):
    with pytest.raises(SystemExit) as stop:
        run_evaluate(save_untrained("gan_fashion", tmp_path / "generator.h5"), *flags)
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_folder_is_measured_on_the_data_its_run_recorded(tiny_generators, tiny_data, capsys):
    """Offline, with the data in a folder only run.json names, `evaluate.py RUN` needs no flag."""
    run_evaluate(tiny_generators / "infogan")
    out = capsys.readouterr().out
    assert f"data: {tiny_data}, the folder the run was given (run.json)" in out
    assert json.loads((tiny_generators / "infogan" / "generator_best_metrics.json").read_text())["results"]["samples"] == 50
