"""Adding a GAN of a new kind touches its script and one entry in kinds.py: a toy script of a toy
kind, in a folder of its own, trains, and sample.py, evaluate.py and the report take its generator
with no other edit."""
import importlib
import json
import sys

import numpy as np
import pytest

import evaluate
import sample
from ganlib import cli, drawing, inputs as gi, kinds
from conftest import TRAINING_SCRIPTS, settings_of

TOY_SCRIPT = '''"""A toy GAN of dense layers, to show what adding a kind takes."""
import ganlib.start  # noqa: F401

import keras
import numpy as np
from keras import layers

from ganlib import cli, data as gd, tutorial as gu, run as gr, settings as gs
from ganlib.images import save_grid

LATENT_DIM = 8
N_EPOCHS = 1
N_BATCH = 8
EVAL_EVERY = 1
CHECKPOINT_EVERY = 1
LEARNING_RATE = 0.0002
BETA_1 = 0.5
EMA_DECAY = 0.0


def define_models(settings):
    d_model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    d_model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(settings.learning_rate))
    g_model = keras.Sequential([keras.Input((settings.latent_dim,)), layers.Dense(784, activation="tanh"),
                                layers.Reshape((28, 28, 1))], name="generator")
    gu.freeze_discriminator(d_model)
    gan_model = keras.Sequential([g_model, d_model])
    gan_model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(settings.learning_rate))
    return g_model, d_model, gan_model, {}


def summarize_performance(epoch, g_model, d_model, dataset, settings):
    images = g_model.predict_on_batch(gu.generate_latent_points(settings.latent_dim, 4))
    save_grid(images, settings.out / f"generated_plot_e{epoch:03d}.png", 2)


def train(g_model, d_model, gan_model, dataset, settings):
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset), loss_names=["d", "g"],
                 generator_info=dict(kind="toy", dataset="fashion_mnist", latent_dim=settings.latent_dim))
    half, y_gan = settings.n_batch // 2, np.ones((settings.n_batch, 1), "float32")

    @run.compiled
    def train_step(X, y, z_fake, z):
        gu.unfreeze_discriminator(d_model)
        fakes = g_model.predict_on_batch(z_fake)
        d_loss = d_model.train_on_batch(keras.ops.concatenate([X, fakes]), keras.ops.concatenate([y, 0 * y]))
        gu.freeze_discriminator(d_model)
        return d_loss, gan_model.train_on_batch(z, y_gan)

    with run:
        for i in run.epochs():
            for j in run.steps():
                X, y = gu.generate_real_samples(dataset, half)
                z_fake = gu.generate_latent_points(settings.latent_dim, half)
                run.log_step(train_step(X, y, z_fake, gu.generate_latent_points(settings.latent_dim, settings.n_batch)))
            run.summarize(summarize_performance, d_model, dataset, settings)
        run.finish()


def main(argv=None):
    settings = gs.parse_settings(globals(), argv)
    gr.prepare_run(settings, dict(kind="toy"))
    g_model, d_model, gan_model, _ = define_models(settings)
    train(g_model, d_model, gan_model, gd.scale_images(gd.load_dataset("fashion_mnist", settings.data_dir)[0]), settings)
'''


@pytest.fixture
def toy_kind(monkeypatch):
    """The one entry a kind of noise-in, image-out generator needs, drawn four to a row."""
    monkeypatch.setitem(kinds.KINDS, "toy", kinds.Kind("fid", True, inputs=gi.unconditional_inputs,
                                                       figures=kinds.coverage_figures, columns=lambda info: 4,
                                                       sample=drawing.sample_latent(drawing.draw_unconditional)))


@pytest.mark.slow
def test_a_toy_kind_and_script_train_and_every_tool_takes_its_generator(toy_kind, tiny_data, tmp_path, monkeypatch,
                                                                          capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "toy_gan.py").write_text(TOY_SCRIPT)
    monkeypatch.syspath_prepend(str(folder))
    toy = importlib.import_module("toy_gan")
    out = tmp_path / "run"
    cli.run_main(toy.main, ["--data-dir", str(tiny_data), "--out", str(out), "--steps-per-epoch", "3",
                            "--eval-samples", "20"])
    assert json.loads((out / "run.json").read_text())["generator"]["kind"] == "toy"
    assert (out / "progress" / "e001.png").is_file() and "fid" in (out / "metrics.csv").read_text()
    assert "The same inputs drawn at every summary." in (out / "report.html").read_text()
    cli.run_main(sample.main, [str(out), "--n", "3", "--save-array", str(tmp_path / "drawn.npy")])
    assert np.load(tmp_path / "drawn.npy").shape == (9, 28, 28, 1)
    cli.run_main(evaluate.main, [str(out / "generator.h5"), "--samples", "30", "--data-dir", str(tiny_data)])
    said = capsys.readouterr().out
    assert "| FID |" in said and "classes drawn (the judge's reading)" in said
    sys.modules.pop("toy_gan")


@pytest.mark.parametrize("script", TRAINING_SCRIPTS)
def test_every_script_saves_a_generator_of_a_kind_the_kinds_know(script):
    module = importlib.import_module(script)
    info = module.generator_info(settings_of(module))
    kind = kinds.KINDS[info["kind"]]
    assert kind.generator and set(kind.companions) <= {"q_model"}
    if kind.measured_on == "samples":
        inputs, asked = kind.inputs(info, 12, np.random.default_rng(0))
        assert len(asked) == 12
