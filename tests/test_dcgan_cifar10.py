"""DCGAN on CIFAR-10: the switch, both on-disk forms, class selection, and sampling in colour."""
import csv

import keras
import numpy as np
import pytest

import datafiles
import dcgan_cifar10
from ganlib import cli, data as gd, judges as gj
from ganlib.saved import read_generator_info
import runchecks
import sample
import switchcheck
from conftest import metrics_columns, save_untrained, settings_of


def test_discriminator_trains_in_its_own_update_and_is_frozen_in_the_composite(tiny_data, tmp_path):
    switchcheck.assert_switch_works(switchcheck.run_and_record("dcgan_cifar10", tiny_data, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("form", ["folder", "archive"])
def test_short_run_reads_cifar_and_writes_outputs(form, tmp_path, capsys, monkeypatch):
    # No CIFAR-10 judge ships: this test's own, cached apart from the session's, trains for two epochs
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setitem(gj.JUDGE_EPOCHS, "cifar10", 2)
    data = tmp_path / "data"
    if form == "folder":
        datafiles.write_cifar10_folder(data / "cifar-10-batches-py", datafiles.cifar_batches())
    else:
        datafiles.write_cifar10_archive(data / "cifar-10-python.tar.gz", datafiles.cifar_batches())
    out = tmp_path / "out"
    cli.run_main(dcgan_cifar10.main, ["--data-dir", str(data), "--out", str(out), "--epochs", "1",
                                     "--steps-per-epoch", "2", "--batch-size", "8"])
    assert "accuracy real: " in capsys.readouterr().out
    for name in ["generated_plot_e001.png", "generator_e001.h5", "generator.h5", "losses.csv"]:
        assert (out / name).stat().st_size > 0, name
    with open(out / "accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["epoch"] == "1"
    assert {"accuracy_real", "accuracy_fake"} <= set(rows[0])
    g_model = keras.models.load_model(out / "generator.h5", compile=False)
    images = np.asarray(g_model.predict_on_batch(np.random.randn(5, 100).astype("float32")))
    assert images.shape == (5, 32, 32, 3) and images.min() >= -1 and images.max() <= 1
    assert read_generator_info(out / "generator.h5")["trained_on"] == gd.CIFAR10_CLASSES
    assert metrics_columns(out) == ["epoch", "minutes", "samples", "fid", "kid", "class_kl", "precision", "recall",
                                    "density", "coverage", "real_precision", "real_recall", "real_density",
                                    "real_coverage", "raw_fid"]
    if form == "folder":
        runchecks.check_report(out, summaries=1)


def test_classes_keeps_only_the_classes_asked_for(tiny_data):
    batches = datafiles.cifar_batches()
    images = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = np.concatenate([batches[f"data_batch_{i}"][1] for i in range(1, 6)])
    def load(*classes):
        return dcgan_cifar10.load_real_samples(settings_of(dcgan_cifar10, "--data-dir", tiny_data,
                                                           "--classes", ",".join(classes)))

    horses = load("horse")
    np.testing.assert_array_equal(horses, gd.scale_images(images[labels == 7]))
    two = load("horse", "ship")
    assert len(two) == np.isin(labels, [7, 8]).sum() and len(two) > len(horses)
    assert len(load()) == len(images)


@pytest.fixture(scope="module")
def dcgan_generator(tmp_path_factory):
    path = tmp_path_factory.mktemp("dcgan") / "generator.h5"
    return save_untrained("dcgan_cifar10", path)


@pytest.mark.parametrize("flags,count", [(["--n", "3"], 9), (["--point", "0.75"], 1),
                                         (["--interpolate", "--n", "5"], 5)])
def test_sample_draws_colour_images(dcgan_generator, tmp_path, flags, count):
    array = tmp_path / "images.npy"
    cli.run_main(sample.main, [str(dcgan_generator), "--out", str(tmp_path / "s.png"), "--save-array", str(array), *flags])
    images = np.load(array)
    assert images.shape == (count, 32, 32, 3) and (tmp_path / "s.png").stat().st_size > 0


def test_sample_refuses_labels_for_the_unconditional_dcgan(dcgan_generator, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.run_main(sample.main, [str(dcgan_generator), "--label", "horse", "--out", str(tmp_path / "s.png")])
    assert stop.value.code == 2
    assert "--label is for cgan, acgan generators; this one is dcgan" in capsys.readouterr().err


def test_the_discriminator_accuracies_are_its_hits_on_real_and_on_fake_images(tmp_path):
    """A discriminator that calls every image real: right on all real images, on no fakes."""
    says_real = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                                  keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros",
                                                     bias_initializer=keras.initializers.Constant(5.0))])
    says_real.compile(loss="binary_crossentropy", metrics=["accuracy"])
    settings = settings_of(dcgan_cifar10, "--accuracy-samples", 30, "--grid-size", 2, "--out", tmp_path)
    settings.out = tmp_path
    dataset = np.zeros((10, 32, 32, 3), "float32")
    dcgan_cifar10.summarize_performance(4, dcgan_cifar10.define_generator(100), says_real, dataset, settings)
    with open(tmp_path / "accuracy.csv") as f:
        assert list(csv.DictReader(f)) == [dict(epoch="4", accuracy_real="1.0000", accuracy_fake="0.0000")]
    assert (tmp_path / "generated_plot_e004.png").stat().st_size > 0
