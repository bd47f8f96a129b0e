"""Unconditional GAN for Fashion-MNIST: random clothing from random noise.

Goodfellow et al., "Generative Adversarial Networks" (2014), with the DCGAN-style layers of the
classic Keras tutorial: a two-convolution discriminator and a generator that upsamples a 7x7
map twice with transposed convolutions.

Run it:
    python scripts/gan_fashion.py                                 # 100 epochs, the tutorial's run
    python scripts/gan_fashion.py --epochs 1 --steps-per-epoch 20 # a quick check

How long: 0.29 s a step at batch 128 on a 2-core CPU (scripts/benchmark.py), so about 2.5
minutes an epoch and 4 hours for 100 epochs; on a GPU, not measured yet.

Writes to outputs/gan_fashion/: a 10x10 grid and a generator snapshot every EVAL_EVERY epochs
(generated_plot_e010.png, generator_e010.h5), the final generator.h5, losses.csv and
losses.png, and the architecture plots.

Every constant below can also be set for one run by a flag of its name: --learning-rate 0.0001,
--latent-dim 64; N_EPOCHS and N_BATCH keep the tutorials' --epochs and --batch-size. All of them
are recorded in run.json and the checkpoint.

Keras 3: the discriminator is made trainable before each of its own updates and frozen before
each composite update, from the first step; the tutorial's freeze-once pattern never trains it
on Keras 3 (README, "What Keras 3 changes").
"""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import keras
import numpy as np
from keras import layers

import gan_cli as cli
import gan_data as gd
import gan_run as gr
import gan_utils as gu


LATENT_DIM = 100
N_EPOCHS = 100
N_BATCH = 128
EVAL_EVERY = 10  # epochs between summaries: a grid, a generator snapshot, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (README)
GRID_SIZE = 10  # the grid's rows and columns


def define_discriminator(in_shape=(28, 28, 1), learning_rate=LEARNING_RATE, beta_1=BETA_1):
    model = keras.Sequential([
        keras.Input(shape=in_shape),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.4),
        layers.Dense(1, activation="sigmoid", dtype="float32"),
    ], name="discriminator")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss="binary_crossentropy", optimizer=opt, metrics=["accuracy"])
    return model


def define_generator(latent_dim):
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(128 * 7 * 7),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), activation="tanh", padding="same", dtype="float32"),
    ], name="generator")


def define_gan(g_model, d_model, learning_rate=LEARNING_RATE, beta_1=BETA_1):
    gu.freeze_discriminator(d_model)
    model = keras.Sequential([g_model, d_model], name="gan")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss="binary_crossentropy", optimizer=opt)
    return model


def load_real_samples(data_dir=None):
    """Training images of Fashion-MNIST in [-1, 1]."""
    images, _ = gd.load_dataset("fashion_mnist", data_dir)
    return gd.scale_images(images)


def generate_fake_samples(g_model, latent_dim, n_samples):
    x_input = gu.generate_latent_points(latent_dim, n_samples)
    X = g_model.predict_on_batch(x_input)
    y = np.zeros((n_samples, 1), dtype="float32")
    return X, y


def summarize_performance(epoch, g_model, out_dir, settings):
    """A GRID_SIZE x GRID_SIZE grid of generated images."""
    X, _ = generate_fake_samples(g_model, settings.latent_dim, settings.grid_size ** 2)
    gu.save_grid(X, out_dir / f"generated_plot_e{epoch:03d}.png", settings.grid_size, title=f"epoch {epoch}")


def train(g_model, d_model, gan_model, dataset, settings):
    latent_dim, n_batch = settings.latent_dim, settings.n_batch
    half_batch = n_batch // 2
    y_gan = np.ones((n_batch, 1), dtype="float32")
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset), loss_names=["d_real", "d_fake", "g"],
                 generator_info=dict(kind="gan", dataset="fashion_mnist", latent_dim=latent_dim, n_classes=0,
                                     class_names=[]))
    for i in run.epochs():
        for j in run.steps():
            X_real, y_real = gu.generate_real_samples(dataset, half_batch)
            gu.unfreeze_discriminator(d_model)
            d_loss1, _ = d_model.train_on_batch(X_real, y_real)
            X_fake, y_fake = generate_fake_samples(g_model, latent_dim, half_batch)
            d_loss2, _ = d_model.train_on_batch(X_fake, y_fake)
            X_gan = gu.generate_latent_points(latent_dim, n_batch)
            gu.freeze_discriminator(d_model)
            g_loss = gan_model.train_on_batch(X_gan, y_gan)
            run.log_step(d_loss1, d_loss2, g_loss)
        run.summarize(summarize_performance, settings)
    run.finish()


def main(argv=None):
    settings = gr.parse_settings(globals(), argv)
    out_dir = gr.prepare_run(settings)
    dataset = load_real_samples(settings.data_dir)
    d_model = define_discriminator(dataset.shape[1:], settings.learning_rate, settings.beta_1)
    g_model = define_generator(settings.latent_dim)
    gan_model = define_gan(g_model, d_model, settings.learning_rate, settings.beta_1)
    gu.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, settings)


if __name__ == "__main__":
    cli.run_main(main)
