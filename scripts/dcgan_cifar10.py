"""DCGAN for CIFAR-10: small colour photographs (planes, cars, birds, horses...) from noise.

Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks" (2015), as the classic Keras tutorial builds it for 32x32
colour images: a strided-convolution discriminator and a generator that upsamples a 4x4 map
three times with transposed convolutions.

Run it:
    python scripts/dcgan_cifar10.py                                  # 200 epochs, the tutorial's run
    python scripts/dcgan_cifar10.py --classes horse                  # horses only
    python scripts/dcgan_cifar10.py --epochs 1 --steps-per-epoch 20  # a quick check

How long: 0.42 s a step at batch 128 on a 2-core CPU (scripts/benchmark.py), so about 2.7
minutes an epoch on all ten classes and 9 hours for 200 epochs; on a GPU, not measured yet.

Writes to outputs/dcgan_cifar10/: every EVAL_EVERY epochs the discriminator's accuracy on 150
real and 150 generated images (printed, and kept in accuracy.csv), a 7x7 colour grid
(generated_plot_e010.png) and a generator snapshot (generator_e010.h5); the final
generator.h5, losses.csv and losses.png, and the architecture plots.

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
import gan_files as gf
import gan_run as gr
import gan_utils as gu


CLASSES = []  # CIFAR-10 classes to train on, such as ["horse"] (--classes horse,deer); empty: all ten
LATENT_DIM = 100
N_EPOCHS = 200
N_BATCH = 128
EVAL_EVERY = 10  # epochs between summaries: a grid, a generator snapshot, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (README)
N_EVAL_SAMPLES = 150  # real and fake images behind the discriminator's accuracy at each summary
GRID_SIZE = 7  # the grid's rows and columns
FLAG_TYPES = {"CLASSES": cli.comma_list}


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


def define_gan(g_model, d_model, learning_rate=LEARNING_RATE, beta_1=BETA_1):
    gu.freeze_discriminator(d_model)
    model = keras.Sequential([g_model, d_model], name="gan")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss="binary_crossentropy", optimizer=opt)
    return model


def load_real_samples(classes=CLASSES, data_dir=None):
    """CIFAR-10 training images of the chosen classes, in [-1, 1]."""
    images, labels = gd.load_dataset("cifar10", data_dir)
    images, _ = gd.select_classes(images, labels, "cifar10", classes)
    return gd.scale_images(images)


def generate_fake_samples(g_model, latent_dim, n_samples):
    x_input = gu.generate_latent_points(latent_dim, n_samples)
    X = g_model.predict_on_batch(x_input)
    y = np.zeros((n_samples, 1), dtype="float32")
    return X, y


def summarize_performance(epoch, g_model, out_dir, d_model, dataset, settings):
    """The discriminator's accuracy on real and fake images (accuracy.csv), and a grid."""
    n_samples, grid_size = settings.n_eval_samples, settings.grid_size
    X_real, y_real = gu.generate_real_samples(dataset, n_samples)
    _, acc_real = d_model.evaluate(X_real, y_real, verbose=0)
    x_fake, y_fake = generate_fake_samples(g_model, settings.latent_dim, n_samples)
    _, acc_fake = d_model.evaluate(x_fake, y_fake, verbose=0)
    print(f"accuracy real: {acc_real:.0%}, fake: {acc_fake:.0%}")
    gf.write_epoch_row(out_dir / "accuracy.csv", ["epoch", "accuracy_real", "accuracy_fake"],
                       [epoch, f"{acc_real:.4f}", f"{acc_fake:.4f}"])
    gu.save_grid(x_fake[:grid_size * grid_size], out_dir / f"generated_plot_e{epoch:03d}.png", grid_size,
                 title=f"epoch {epoch}")


def train(g_model, d_model, gan_model, dataset, settings):
    latent_dim, n_batch = settings.latent_dim, settings.n_batch
    half_batch = n_batch // 2
    y_gan = np.ones((n_batch, 1), dtype="float32")
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset), loss_names=["d_real", "d_fake", "g"],
                 generator_info=dict(kind="dcgan", dataset="cifar10", latent_dim=latent_dim, n_classes=0, class_names=[],
                                     trained_on=list(settings.classes) or gd.CIFAR10_CLASSES))
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
        run.summarize(summarize_performance, d_model, dataset, settings)
    run.finish()


def main(argv=None):
    settings = gr.parse_settings(globals(), argv)
    out_dir = gr.prepare_run(settings)
    dataset = load_real_samples(settings.classes, settings.data_dir)
    d_model = define_discriminator(learning_rate=settings.learning_rate, beta_1=settings.beta_1)
    g_model = define_generator(settings.latent_dim)
    gan_model = define_gan(g_model, d_model, settings.learning_rate, settings.beta_1)
    gu.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, settings)


if __name__ == "__main__":
    cli.run_main(main)
