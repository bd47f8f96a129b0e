"""The averaged generator: its warm-up, its decay rules, and training left as it was."""
import importlib

import keras
import numpy as np
import pytest

import cgan_fashion
from ganlib import cli
from ganlib.average import AveragedGenerator
from conftest import settings_of


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
