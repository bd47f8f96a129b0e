"""DCGAN for CIFAR-10: small colour photographs (planes, cars, birds, horses...) from noise.

Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks" (2015), as the classic Keras tutorial builds it for 32x32
colour images: a strided-convolution discriminator and a generator that upsamples a 4x4 map
three times with transposed convolutions.

Run it:
    python scripts/dcgan_cifar10.py                                  # 200 epochs
    python scripts/dcgan_cifar10.py --classes horse                  # horses only
    python scripts/dcgan_cifar10.py --epochs 1 --steps-per-epoch 20  # a quick check

Writes to outputs/dcgan_cifar10/: at each summary the discriminator's accuracy on real and
generated images (accuracy.csv, as the tutorial prints it), a GRID_SIZE x GRID_SIZE colour grid
and a generator snapshot; generator.h5 at the end, and the files every run writes (README, "What
a run writes"). How long: docs/speed.md.

What differs from the tutorial, and why:
- Keras 3 reads `trainable` when it first traces a model's train function, not at compile, so
  the tutorial's freeze-once pattern never trains the discriminator: it is made trainable
  before each of its own updates and frozen before each composite update (docs/keras3.md).
- The three updates run as one compiled program (ganlib/step.py); --eager runs them as the
  tutorial does, one Keras call each.
- The grids, snapshots and metrics use an average of the generator's weights (EMA_DECAY).
"""
import ganlib.start  # noqa: F401  first: the command line is checked and the backend set before Keras loads

import keras
import numpy as np
from keras import layers

from ganlib import cli, data as gd, atomic_files as gf, tutorial as gu, run as gr, settings as gs
from ganlib.images import save_grid

CLASSES = []  # CIFAR-10 classes to train on, such as ["horse"] (--classes horse,deer); empty: all ten
LATENT_DIM = 100
N_EPOCHS = 200
N_BATCH = 128
EVAL_EVERY = 10  # epochs between summaries: a grid, a generator snapshot, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (the tutorial)
ACCURACY_SAMPLES = 150  # real and generated images behind the discriminator's accuracy at each summary
GRID_SIZE = 7  # the grid's rows and columns
FLAG_TYPES = {"CLASSES": cli.comma_list}
FIXED_ON_RESUME = {"CLASSES"}


def define_discriminator(in_shape=(32, 32, 3), learning_rate=LEARNING_RATE, beta_1=BETA_1):
    model = keras.Sequential([
        keras.Input(shape=in_shape),
        layers.Conv2D(64, (3, 3), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"),
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
        layers.Dense(256 * 4 * 4),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((4, 4, 256)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(3, (3, 3), activation="tanh", padding="same", dtype="float32"),
    ], name="generator")


def define_gan(g_model, d_model, *, learning_rate=LEARNING_RATE, beta_1=BETA_1):
    gu.freeze_discriminator(d_model)
    model = keras.Sequential([g_model, d_model], name="gan")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss="binary_crossentropy", optimizer=opt)
    return model


def define_models(settings):
    """(generator, discriminator, composite, extra models: none) as main() trains them."""
    d_model = define_discriminator(learning_rate=settings.learning_rate, beta_1=settings.beta_1)
    g_model = define_generator(settings.latent_dim)
    return g_model, d_model, define_gan(g_model, d_model, learning_rate=settings.learning_rate, beta_1=settings.beta_1), {}


def load_real_samples(settings, split="train"):
    """CIFAR-10 images of the chosen classes in the split, in [-1, 1]."""
    images, labels = gd.load_dataset("cifar10", settings.data_dir, split)
    images, _ = gd.select_classes(images, labels, "cifar10", settings.classes)
    return gd.scale_images(images)


def generate_fake_samples(g_model, inputs):
    """The images the generator makes from latent points, and their targets."""
    X = g_model.predict_on_batch(inputs)
    return X, gu.fake_targets(X)


def summarize_performance(epoch, g_model, d_model, dataset, settings):
    """The discriminator's accuracy on real and fake images (accuracy.csv), and a grid."""
    n_samples, grid_size = settings.accuracy_samples, settings.grid_size
    X_real, y_real = gu.generate_real_samples(dataset, n_samples)
    _, acc_real = d_model.evaluate(X_real, y_real, verbose=0)
    x_fake, y_fake = generate_fake_samples(g_model, gu.generate_latent_points(settings.latent_dim, n_samples))
    _, acc_fake = d_model.evaluate(x_fake, y_fake, verbose=0)
    print(f"accuracy real: {acc_real:.0%}, fake: {acc_fake:.0%}")
    gf.write_epoch_row(settings.out / "accuracy.csv", ["epoch", "accuracy_real", "accuracy_fake"],
                       [epoch, f"{acc_real:.4f}", f"{acc_fake:.4f}"])
    save_grid(x_fake[:grid_size * grid_size], settings.out / f"generated_plot_e{epoch:03d}.png", grid_size,
              title=f"epoch {epoch}")


def generator_info(settings):
    """What the saved generators are (ganlib/kinds.py), for sample.py and evaluate.py."""
    return dict(kind="dcgan", dataset="cifar10", latent_dim=settings.latent_dim, n_classes=0, class_names=[],
                trained_on=list(settings.classes) or gd.CIFAR10_CLASSES)


def train(g_model, d_model, gan_model, dataset, settings):
    latent_dim, n_batch = settings.latent_dim, settings.n_batch
    half_batch = n_batch // 2
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset), loss_names=["d_real", "d_fake", "g"],
                 generator_info=generator_info(settings))
    y_gan = np.ones((n_batch, 1), dtype="float32")

    @run.compiled
    def train_step(X_real, y_real, z_fake, X_gan):
        gu.unfreeze_discriminator(d_model)
        d_loss1, _ = d_model.train_on_batch(X_real, y_real)
        X_fake, y_fake = generate_fake_samples(g_model, z_fake)
        d_loss2, _ = d_model.train_on_batch(X_fake, y_fake)
        gu.freeze_discriminator(d_model)
        g_loss = gan_model.train_on_batch(X_gan, y_gan)
        return d_loss1, d_loss2, g_loss

    with run:
        for i in run.epochs():
            for j in run.steps():
                X_real, y_real = gu.generate_real_samples(dataset, half_batch)
                z_fake = gu.generate_latent_points(latent_dim, half_batch)
                X_gan = gu.generate_latent_points(latent_dim, n_batch)
                run.log_step(train_step(X_real, y_real, z_fake, X_gan))
            run.summarize(summarize_performance, d_model, dataset, settings)
        run.finish()


def main(argv=None):
    settings = gs.parse_settings(globals(), argv)
    dataset = load_real_samples(settings)
    gr.prepare_run(settings, generator_info(settings))
    g_model, d_model, gan_model, _ = define_models(settings)
    gu.plot_architectures(settings.out, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, settings)


if __name__ == "__main__":
    cli.run_main(main)
