"""Both Fashion-MNIST scripts train the right weights in the right update, and write their outputs."""
import csv

import keras
import numpy as np
import pytest

import cgan_fashion
import gan_fashion
import gan_common as gc
import switchcheck
from conftest import SMALL_EVAL, run_script

SCRIPTS = ["gan_fashion", "cgan_fashion"]
JAX_SCRIPTS = SCRIPTS + ["dcgan_cifar10"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_discriminator_trains_in_its_own_update_and_is_frozen_in_the_composite(script, tiny_data, tmp_path):
    switchcheck.assert_switch_works(switchcheck.run_and_record(script, tiny_data, tmp_path))


def test_the_tutorial_pattern_alone_would_not_train_the_discriminator(tiny_data, tmp_path):
    """The check above can fail: without the switch, Keras 3 leaves the discriminator untouched."""
    d_model = gan_fashion.define_discriminator()
    gan_model = gan_fashion.define_gan(gan_fashion.define_generator(gan_fashion.LATENT_DIM), d_model)
    assert gan_model is not None and not d_model.trainable
    before = switchcheck.snapshot(d_model.weights)
    images = gc.scale_images(gc.load_dataset("fashion_mnist", tiny_data)[0][:8])
    d_model.train_on_batch(images, np.ones((8, 1)))
    assert not any(switchcheck.changed(before, switchcheck.snapshot(d_model.weights)))


def test_label_smoothing_sets_real_targets(tiny_data, tmp_path):
    records = switchcheck.run_and_record("cgan_fashion", tiny_data, tmp_path, steps=1, label_smoothing=0.1)
    real, fake, gan = records
    np.testing.assert_allclose(real["y"], 0.9)
    np.testing.assert_allclose(fake["y"], 0.0)
    np.testing.assert_allclose(gan["y"], 1.0)


def read_losses(out):
    with open(out / "losses.csv") as f:
        return list(csv.DictReader(f))


def generator_images(path, inputs):
    g_model = keras.models.load_model(path, compile=False)
    return np.asarray(g_model.predict_on_batch(inputs))


@pytest.mark.parametrize("script", SCRIPTS)
def test_short_run_writes_outputs_and_a_generator_that_reloads(script, tiny_data, tmp_path):
    module = {"gan_fashion": gan_fashion, "cgan_fashion": cgan_fashion}[script]
    gc.run_main(module.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path), "--epochs", "2",
                              "--steps-per-epoch", "2", "--batch-size", "8", "--eval-every", "1", "--seed", "3"])
    for name in ["generated_plot_e001.png", "generated_plot_e002.png", "generator_e001.h5",
                 "generator_e002.h5", "generator.h5", "losses.csv", "losses.png"]:
        assert (tmp_path / name).stat().st_size > 0, name
    rows = read_losses(tmp_path)
    assert [(r["epoch"], r["step"]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("d_real", "d_fake", "g"))

    info = gc.read_generator_info(tmp_path / "generator.h5")
    assert info["latent_dim"] == 100 and info["image_shape"] == [28, 28, 1] and info["epoch"] == 2
    z_input = np.random.default_rng(0).standard_normal((6, 100)).astype("float32")
    inputs = [z_input, np.arange(6)] if info["n_classes"] else z_input
    final = generator_images(tmp_path / "generator.h5", inputs)
    assert final.shape == (6, 28, 28, 1) and final.min() >= -1 and final.max() <= 1
    np.testing.assert_array_equal(final, generator_images(tmp_path / "generator_e002.h5", inputs))
    assert not np.array_equal(final, generator_images(tmp_path / "generator_e001.h5", inputs))


@pytest.mark.parametrize("dataset,n_classes", [("mnist", 10), ("emnist", 47)])
def test_cgan_trains_on_the_other_datasets(dataset, n_classes, tiny_data, tmp_path):
    gc.run_main(cgan_fashion.main, ["--dataset", dataset, "--data-dir", str(tiny_data), "--out", str(tmp_path),
                                    "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8"])
    info = gc.read_generator_info(tmp_path / "generator.h5")
    assert info["dataset"] == dataset and info["n_classes"] == n_classes == len(info["class_names"])


@pytest.mark.parametrize("argv,message", [
    (["--epochs", "0"], "--epochs: 0 must be 1 or more"),
    (["--batch-size", "-4"], "--batch-size: -4 must be 1 or more"),
    (["--label-smoothing", "1.5"], "--label-smoothing: 1.5 must be at least 0 and below 1"),
    (["--dataset", "svhn"], "--dataset: invalid choice"),
])
def test_bad_flags_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        gc.run_main(cgan_fashion.main, argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--batch-size", "1000"], "--batch-size 1000 is larger than the dataset (64 images)"),
    (["--dataset", "emnist", "--data-dir", "EMPTY"], "EMNIST-balanced (train) not found"),
])
def test_bad_runs_stop_before_training_with_one_line(argv, message, tiny_data, tmp_path, capsys):
    argv = [str(tmp_path) if a == "EMPTY" else a for a in argv]
    data = [] if "--data-dir" in argv else ["--data-dir", str(tiny_data)]
    with pytest.raises(SystemExit) as exit_info:
        gc.run_main(cgan_fashion.main, argv + data + ["--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "losses.csv").exists()


def test_unwritable_output_folder_is_refused(tiny_data, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit):
        gc.run_main(gan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(blocker / "out")])
    assert "cannot write to the output folder" in capsys.readouterr().err


@pytest.mark.parametrize("script", JAX_SCRIPTS)
def test_jax_backend_trains_with_the_switch_and_its_generator_loads_here(script, tiny_data, tmp_path):
    pytest.importorskip("jax")
    check = run_script(["tests/switchcheck.py", script, tiny_data], backend="jax")
    assert check.returncode == 0 and "switch ok on jax" in check.stdout, check.stderr[-2000:]
    # the CIFAR-10 judge's 40 epochs take a minute on JAX's CPU convolutions; TensorFlow's tests measure dcgan
    measuring = ["--eval-samples", "0"] if script == "dcgan_cifar10" else SMALL_EVAL
    run = run_script([f"scripts/{script}.py", "--data-dir", tiny_data, "--out", tmp_path, "--epochs", "1",
                      "--steps-per-epoch", "2", "--batch-size", "8", *measuring], backend="jax")
    assert run.returncode == 0, run.stderr[-2000:]
    info = gc.read_generator_info(tmp_path / "generator.h5")
    z_input = np.zeros((2, 100), "float32")
    images = generator_images(tmp_path / "generator.h5", [z_input, np.array([0, 1])] if info["n_classes"] else z_input)
    assert images.shape == (2, *info["image_shape"]) and np.abs(images).max() <= 1


@pytest.mark.parametrize("script,flags", [("acgan_fashion", []), ("infogan_mnist", ["--n-cont", "2"])])
def test_jax_backend_runs_the_batchnorm_scripts(script, flags, tiny_data, tmp_path):
    pytest.importorskip("jax")
    run = run_script([f"scripts/{script}.py", "--data-dir", tiny_data, "--out", tmp_path, "--epochs", "1",
                      "--steps-per-epoch", "2", "--batch-size", "8", *SMALL_EVAL, *flags], backend="jax")
    assert run.returncode == 0, run.stderr[-2000:]
    info = gc.read_generator_info(tmp_path / "generator.h5")
    assert info["kind"] == script.split("_")[0]
    rows = read_losses(tmp_path)
    assert len(rows) == 2 and all(np.isfinite(float(v)) for r in rows for k, v in r.items() if k not in ("epoch", "step"))
