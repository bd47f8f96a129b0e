"""Conditional GAN for Fashion-MNIST: ask for a class (a dress, a sandal) and get one.

Mirza and Osindero, "Conditional Generative Adversarial Nets" (2014), as the classic Keras
tutorial builds it: the class label goes through an Embedding(50) and a Dense layer into one
extra channel of the discriminator's input and one extra 7x7 map in the generator.

Run it:
    python scripts/cgan_fashion.py                                 # 100 epochs, the tutorial's run
    python scripts/cgan_fashion.py --epochs 1 --steps-per-epoch 20 # a quick check
    python scripts/cgan_fashion.py --dataset mnist                 # also: emnist (47 classes)

How long: 0.31 s a step at batch 128 on a 2-core CPU (scripts/benchmark.py), so about 2.5
minutes an epoch and 4 hours for 100 epochs; on a GPU, not measured yet.

Writes to outputs/cgan_fashion/ (outputs/cgan_<dataset>/ for the others): a 10-row grid with
one class per column and a generator snapshot every EVAL_EVERY epochs
(generated_plot_e010.png, generator_e010.h5), the final generator.h5, losses.csv and
losses.png, and the architecture plots.

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

DATASET = "fashion_mnist"  # or "mnist", "emnist" (letters)
LATENT_DIM = 100
N_EPOCHS = 100
N_BATCH = 128
EVAL_EVERY = 10  # epochs between summaries: a grid, a generator snapshot, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
LABEL_SMOOTHING = 0.0  # 0.1 makes the discriminator's real targets 0.9
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (README)
FLAG_TYPES = {"DATASET": ["fashion_mnist", "mnist", "emnist"], "LABEL_SMOOTHING": cli.fraction}


def define_discriminator(in_shape=(28, 28, 1), n_classes=10, learning_rate=LEARNING_RATE, beta_1=BETA_1):
    in_label = keras.Input(shape=(1,))
    li = layers.Embedding(n_classes, 50)(in_label)
    li = layers.Dense(in_shape[0] * in_shape[1])(li)
    li = layers.Reshape((in_shape[0], in_shape[1], 1))(li)
    in_image = keras.Input(shape=in_shape)
    merge = layers.Concatenate()([in_image, li])
    fe = layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same")(merge)
    fe = layers.LeakyReLU(negative_slope=0.2)(fe)
    fe = layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same")(fe)
    fe = layers.LeakyReLU(negative_slope=0.2)(fe)
    fe = layers.Flatten()(fe)
    fe = layers.Dropout(0.4)(fe)
    out_layer = layers.Dense(1, activation="sigmoid", dtype="float32")(fe)
    model = keras.Model([in_image, in_label], out_layer, name="discriminator")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss="binary_crossentropy", optimizer=opt, metrics=["accuracy"])
    return model


def define_generator(latent_dim, n_classes=10):
    in_label = keras.Input(shape=(1,))
    li = layers.Embedding(n_classes, 50)(in_label)
    li = layers.Dense(7 * 7)(li)
    li = layers.Reshape((7, 7, 1))(li)
    in_lat = keras.Input(shape=(latent_dim,))
    gen = layers.Dense(128 * 7 * 7)(in_lat)
    gen = layers.LeakyReLU(negative_slope=0.2)(gen)
    gen = layers.Reshape((7, 7, 128))(gen)
    merge = layers.Concatenate()([gen, li])
    gen = layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same")(merge)
    gen = layers.LeakyReLU(negative_slope=0.2)(gen)
    gen = layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same")(gen)
    gen = layers.LeakyReLU(negative_slope=0.2)(gen)
    out_layer = layers.Conv2D(1, (7, 7), activation="tanh", padding="same", dtype="float32")(gen)
    return keras.Model([in_lat, in_label], out_layer, name="generator")


def define_gan(g_model, d_model, learning_rate=LEARNING_RATE, beta_1=BETA_1):
    gu.freeze_discriminator(d_model)
    gen_noise, gen_label = g_model.input
    gan_output = d_model([g_model.output, gen_label])
    model = keras.Model([gen_noise, gen_label], gan_output, name="gan")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss="binary_crossentropy", optimizer=opt)
    return model


def load_real_samples(dataset=DATASET, data_dir=None):
    """[images in [-1, 1], labels] of the training split, and the class names."""
    images, labels = gd.load_dataset(dataset, data_dir)
    return [gd.scale_images(images), labels], gd.DATASETS[dataset]["classes"]


def generate_fake_samples(g_model, latent_dim, n_samples, n_classes=10):
    z_input, labels_input = gu.generate_latent_points(latent_dim, n_samples, n_classes)
    images = g_model.predict_on_batch([z_input, labels_input])
    y = np.zeros((n_samples, 1), dtype="float32")
    return [images, labels_input], y


def summarize_performance(epoch, g_model, out_dir, settings):
    """A grid with one class per column."""
    gu.save_class_grid(g_model, settings.latent_dim, gd.DATASETS[settings.dataset]["classes"],
                       out_dir / f"generated_plot_e{epoch:03d}.png", f"epoch {epoch}")


def train(g_model, d_model, gan_model, dataset, settings):
    latent_dim, n_batch = settings.latent_dim, settings.n_batch
    class_names = gd.DATASETS[settings.dataset]["classes"]
    n_classes = len(class_names)
    half_batch = n_batch // 2
    y_gan = np.ones((n_batch, 1), dtype="float32")
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset[0]), loss_names=["d_real", "d_fake", "g"],
                 generator_info=dict(kind="cgan", dataset=settings.dataset, latent_dim=latent_dim, n_classes=n_classes,
                                     class_names=class_names))
    for i in run.epochs():
        for j in run.steps():
            [X_real, labels_real], y_real = gu.generate_real_samples(dataset, half_batch, 1.0 - settings.label_smoothing)
            gu.unfreeze_discriminator(d_model)
            d_loss1, _ = d_model.train_on_batch([X_real, labels_real], y_real)
            [X_fake, labels], y_fake = generate_fake_samples(g_model, latent_dim, half_batch, n_classes)
            d_loss2, _ = d_model.train_on_batch([X_fake, labels], y_fake)
            [z_input, labels_input] = gu.generate_latent_points(latent_dim, n_batch, n_classes)
            gu.freeze_discriminator(d_model)
            g_loss = gan_model.train_on_batch([z_input, labels_input], y_gan)
            run.log_step(d_loss1, d_loss2, g_loss)
        run.summarize(summarize_performance, settings)
    run.finish()


def main(argv=None):
    settings = gr.parse_settings(globals(), argv)
    out_dir = gr.prepare_run(settings, "cgan_fashion" if settings.dataset == "fashion_mnist" else f"cgan_{settings.dataset}")
    dataset, class_names = load_real_samples(settings.dataset, settings.data_dir)
    d_model = define_discriminator(dataset[0].shape[1:], len(class_names), settings.learning_rate, settings.beta_1)
    g_model = define_generator(settings.latent_dim, len(class_names))
    gan_model = define_gan(g_model, d_model, settings.learning_rate, settings.beta_1)
    gu.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, settings)


if __name__ == "__main__":
    cli.run_main(main)
