"""The run around the loop: settings from the constants, the averaged generator and its warm-up,
a diverging loss."""
import importlib

import keras
import numpy as np
import pytest

import cgan_fashion
import gan_fashion
from ganlib import cli, files as gf, settings as gs
from ganlib.average import AveragedGenerator
from conftest import TRAINING_SCRIPTS, settings_of, snapshots


@pytest.mark.parametrize("name", TRAINING_SCRIPTS)
def test_without_flags_the_settings_are_the_constants_read_from_the_scripts_source(name):
    """The settings a run parses from the script's globals are the constants its command line is
    checked with before Keras loads, read from the source alone (settings.read_script)."""
    script = importlib.import_module(name)
    settings = settings_of(script)
    _, constants, flag_types, fixed, presets, out_name = gs.read_script(script.__file__)
    assert settings.constants() == constants and set(flag_types) == set(getattr(script, "FLAG_TYPES", {}))
    assert settings.n_epochs == script.N_EPOCHS and settings.n_batch == script.N_BATCH and settings.script == name
    assert out_name(settings) and set(fixed) <= set(constants)


def test_every_constant_is_a_flag_of_its_name_checked_and_helped_by_its_comment(capsys):
    import infogan_mnist
    settings = settings_of(infogan_mnist, "--epochs", 3, "--learning-rate", "0.001", "--update-rule", "tutorial",
                           "--n-cont", 0, "--lambda-cont", "1", "--layers", "tutorial")
    assert (settings.n_epochs, settings.learning_rate, settings.update_rule) == (3, 0.001, "tutorial")
    assert settings.constants()["N_CONT"] == 0 and settings.constants()["LAMBDA_CONT"] == 1.0
    assert settings.by_flag()["--layers"] == "tutorial" and settings.by_flag()["--epochs"] == 3
    with pytest.raises(SystemExit) as stop:
        settings_of(infogan_mnist, "--update-rule", "paper")
    assert stop.value.code == 2 and "argument --update-rule: invalid choice: 'paper'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        settings_of(infogan_mnist, "--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--lambda-cont LAMBDA_CONT the weight of their loss (the paper's); the tutorial: 1.0 (default: 0.5)" in help_text
    assert "--epochs N_EPOCHS epochs to train, in all (default: 100)" in help_text
    assert "--latent-dim LATENT_DIM size of the generator's latent input (default: 62)" in help_text


def test_a_preset_sets_its_constants_unless_the_command_line_sets_them_itself():
    import infogan_mnist
    tutorial = settings_of(infogan_mnist, "--preset", "tutorial")
    assert {name: getattr(tutorial, name.lower()) for name in infogan_mnist.PRESETS["tutorial"]} == \
        infogan_mnist.PRESETS["tutorial"]
    assert settings_of(infogan_mnist, "--preset", "tutorial", "--n-cont", "2").n_cont == 2
    assert settings_of(infogan_mnist).update_rule == infogan_mnist.UPDATE_RULE


def test_every_flag_has_help_and_its_default(capsys):
    with pytest.raises(SystemExit):
        settings_of(cgan_fashion, "--help")
    text = capsys.readouterr().out
    flags = [line.split()[0] for line in text.splitlines() if line.startswith("  --")]
    described = " ".join(text.split())
    for flag in flags:
        after = described.split(flag, 1)[1].split(" --", 1)[0]
        assert len(after.split()) > 2, f"{flag} has no help"


def test_a_list_constant_is_a_comma_separated_flag():
    import dcgan_cifar10
    assert settings_of(dcgan_cifar10, "--classes", "horse, deer").classes == ["horse", "deer"]
    assert settings_of(dcgan_cifar10).classes == []


def test_the_average_follows_the_weights_with_a_warm_up_and_a_decay():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    average = AveragedGenerator(model, 0.9)
    kernel = model.trainable_weights[0]
    expected = keras.ops.convert_to_numpy(kernel)
    for t in range(1, 40):
        kernel.assign(np.full((2, 1), float(t)))
        average.update(t)
        decay = min(0.9, t / (t + 9))  # the documented warm-up (docs/quality.md)
        expected = decay * expected + (1 - decay) * t
    averaged = keras.ops.convert_to_numpy(average.for_sampling().trainable_weights[0])
    np.testing.assert_allclose(averaged, expected, rtol=1e-5)
    assert 20 < averaged.min() < 38  # behind the weights (39), but past the warm-up's pull


def test_the_half_life_rule_halves_an_update_s_weight_every_half_life_of_images():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    kernel = model.trainable_weights[0]
    kernel.assign(np.full((2, 1), 3.0))
    average = AveragedGenerator(model, 0.999, half_life=100, images_per_update=10)

    def averaged():
        return float(keras.ops.convert_to_numpy(average.for_sampling().trainable_weights[0]).mean())

    average.update(1)  # the ramp: after one update the average is the weights
    np.testing.assert_allclose(averaged(), 3.0, rtol=1e-5)
    kernel.assign(np.zeros((2, 1)))
    for t in range(2, 1001):  # past the ramp (5% of 1000 updates' 10,000 images is 500, above 100)
        average.update(t)
    assert abs(averaged()) < 1e-6
    kernel.assign(np.ones((2, 1)))
    for t in range(1001, 1011):  # 100 images: one half-life
        average.update(t)
    np.testing.assert_allclose(averaged(), 0.5, rtol=1e-4)


def run_flags(tiny_data, out, *flags):
    return ["--data-dir", str(tiny_data), "--out", str(out), "--epochs", "2", "--steps-per-epoch", "2",
            "--batch-size", "8", "--eval-every", "1", "--seed", "5", *flags]


def generator_weights(path):
    return keras.models.load_model(path, compile=False).get_weights()


@pytest.mark.slow
@pytest.mark.parametrize("script", ["cgan_fashion", pytest.param("acgan_fashion", marks=pytest.mark.extended)])
def test_the_average_leaves_training_unchanged_and_decay_zero_is_the_tutorial(script, tiny_data, tmp_path):
    module = importlib.import_module(script)
    cli.run_main(module.main, run_flags(tiny_data, tmp_path / "averaged"))
    cli.run_main(module.main, run_flags(tiny_data, tmp_path / "tutorial", "--ema-decay", "0"))
    averaged, tutorial = tmp_path / "averaged", tmp_path / "tutorial"
    assert (averaged / "losses.csv").read_text() == (tutorial / "losses.csv").read_text()
    header = (averaged / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["epoch", "minutes"] and header[-1] == "raw_class_agreement"
    assert "raw_class_agreement" not in (tutorial / "metrics.csv").read_text()
    different = [not np.array_equal(a, b) for a, b in zip(generator_weights(averaged / "generator.h5"),
                                                           generator_weights(tutorial / "generator.h5"))]
    assert any(different)


def test_with_decay_zero_the_saved_generator_is_the_trained_one(tiny_data, tmp_path):
    settings = settings_of(cgan_fashion, "--eval-samples", 0, "--epochs", 1, "--batch-size", 8, "--steps-per-epoch", 2,
                           "--ema-decay", 0, "--out", tmp_path, "--data-dir", tiny_data)
    g_model, d_model, gan_model, _ = cgan_fashion.define_models(settings)
    cgan_fashion.train(g_model, d_model, gan_model, cgan_fashion.load_real_samples(settings), settings)
    for a, b in zip(generator_weights(tmp_path / "generator.h5"), g_model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_snapshot(tiny_data, tmp_path):
    """--eager, so that one update's loss can be made nan; the check itself reads the losses as
    the compiled step leaves them (tests/test_step.py: the same values)."""
    settings = settings_of(gan_fashion, "--eval-samples", 0, "--epochs", 3, "--batch-size", 8, "--steps-per-epoch", 2,
                           "--eval-every", 1, "--out", tmp_path, "--data-dir", tiny_data, "--eager")
    g_model, d_model, gan_model, _ = gan_fashion.define_models(settings)
    calls = []
    original = d_model.train_on_batch

    def train_on_batch(x, y):
        calls.append(1)
        result = original(x, y)
        return [float("nan"), result[1]] if len(calls) == 8 else result  # epoch 2, step 2, fake half

    d_model.train_on_batch = train_on_batch
    with pytest.raises(gf.UserError, match=r"loss d_fake became nan at epoch 2, step 2: training diverged"):
        gan_fashion.train(g_model, d_model, gan_model, gan_fashion.load_real_samples(settings), settings)
    assert snapshots(tmp_path) == ["generator_e001.h5"]
    keras.models.load_model(tmp_path / "generator_e001.h5", compile=False)
    with np.load(tmp_path / "checkpoint.npz") as f:
        assert '"epoch": 1' in str(f["meta"])
    assert "diverged: loss d_fake became nan at epoch 2, step 2" in (tmp_path / "report.html").read_text()
