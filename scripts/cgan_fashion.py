"""Conditional GAN for Fashion-MNIST: ask for a class (a dress, a sandal) and get one.

Mirza and Osindero, "Conditional Generative Adversarial Nets" (2014), as the classic Keras
tutorial builds it: the class label goes through an Embedding(50) and a Dense layer into one
extra channel of the discriminator's input and one extra 7x7 map in the generator.

Run it:
    python scripts/cgan_fashion.py                                 # 100 epochs
    python scripts/cgan_fashion.py --epochs 2 --steps-per-epoch 100 # a quick look
    python scripts/cgan_fashion.py --dataset mnist                 # also: emnist (EMNIST-balanced, 47 classes)

Writes to outputs/cgan_fashion/ (outputs/cgan_<dataset>/ for the others): a grid with one class
per column and a generator snapshot at each summary, generator.h5 at the end, and the files
every run writes (README, "What a run writes"). How long: docs/speed.md. How soon (docs/results.md):
class agreement 40-46% after epoch 1 (chance is 10%) and 74-81% after epoch 2 on three seeds,
about 90% at epoch 10; with the tutorial's batch of 128 it takes 4 epochs to reach half.

What differs from the tutorial, and why:
- Keras 3 reads `trainable` when it first traces a model's train function, not at compile, so
  the tutorial's freeze-once pattern never trains the discriminator: it is made trainable
  before each of its own updates and frozen before each composite update (docs/keras3.md).
- The three updates run as one compiled program (ganlib/step.py); --eager runs them as the
  tutorial does, one Keras call each.
- The grids, snapshots and metrics use an average of the generator's weights (EMA_DECAY).
- A batch of 32, not 128: four times the updates an epoch (on a CPU at about the same minutes
  an epoch) reach 50% class agreement by epoch 2, not 4 (docs/experiments.md). --batch-size 128 is
  the tutorial's.

Beyond the tutorial, one flag: --mode-seeking-weight W adds MSGAN's mode-seeking term (Mao et al.
2019) to the generator's loss, against generators that draw too few of each class's images.
"""
import ganlib.start  # noqa: F401  first: the command line is checked and the backend set before Keras loads

import keras
import numpy as np
from keras import layers

from ganlib import cli, data as gd, tutorial as gu, run as gr, settings as gs

DATASET = "fashion_mnist"  # or "mnist", "emnist" (EMNIST-balanced, 47 classes)
LATENT_DIM = 100
N_EPOCHS = 100
N_BATCH = 32  # the tutorial's 128 gives a quarter of the updates an epoch and starts at chance
EVAL_EVERY = 10  # epochs between summaries: a grid, a generator snapshot, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
LABEL_SMOOTHING = 0.0  # 0.1 makes the discriminator's real targets 0.9
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (the tutorial)
MODE_SEEKING_WEIGHT = 0.0  # MSGAN's term: two latent points of one class should give images as far apart; 0: off (the tutorial)
FLAG_TYPES = {"DATASET": ["fashion_mnist", "mnist", "emnist"], "LABEL_SMOOTHING": cli.fraction}
FIXED_ON_RESUME = {"DATASET", "MODE_SEEKING_WEIGHT"}


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


def define_gan(g_model, d_model, *, learning_rate=LEARNING_RATE, beta_1=BETA_1, mode_seeking_weight=MODE_SEEKING_WEIGHT):
    """The composite update. With a mode-seeking weight it takes two latent points for each label,
    [noise, other noise, labels], and adds MSGAN's term (Mao et al. 2019, arXiv 1903.05628) to the
    generator's loss: the inverse of how far apart the pair's images are for how far apart their
    points are, so that a generator drawing one image per class pays for it."""
    gu.freeze_discriminator(d_model)
    gen_noise, gen_label = g_model.input
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    if not mode_seeking_weight:
        gan_output = d_model([g_model.output, gen_label])
        model = keras.Model([gen_noise, gen_label], gan_output, name="gan")
        model.compile(loss="binary_crossentropy", optimizer=opt)
        return model
    other_noise = keras.Input(shape=gen_noise.shape[1:])
    images, other_images = g_model([gen_noise, gen_label]), g_model([other_noise, gen_label])
    source = layers.Concatenate(name="source")([d_model([images, gen_label]), d_model([other_images, gen_label])])
    spread = PairSpread(name="mode_seeking")([images, other_images, gen_noise, other_noise])
    model = keras.Model([gen_noise, other_noise, gen_label], [source, spread], name="gan")
    model.compile(loss=["binary_crossentropy", mode_seeking_loss], loss_weights=[1.0, mode_seeking_weight],
                  optimizer=opt)
    return model


class PairSpread(layers.Layer):
    """For each pair of one label: the mean distance between its two images over the mean distance
    between their latent points."""

    def call(self, inputs):
        images, other_images, noise, other_noise = inputs
        image_distance = keras.ops.mean(keras.ops.abs(images - other_images), axis=(1, 2, 3))
        noise_distance = keras.ops.mean(keras.ops.abs(noise - other_noise), axis=1)
        return keras.ops.expand_dims(image_distance / noise_distance, -1)


def mode_seeking_loss(_, spread):
    """MSGAN's term, taken pair by pair (each row of the batch holds one pair, so a batch split
    over devices keeps its pairs whole): lowest when the pairs' images are far apart."""
    return 1.0 / (spread + 1e-5)


def define_models(settings):
    """(generator, discriminator, composite, extra models: none) as main() trains them."""
    n_classes = len(gd.DATASETS[settings.dataset]["classes"])
    d_model = define_discriminator(n_classes=n_classes, learning_rate=settings.learning_rate, beta_1=settings.beta_1)
    g_model = define_generator(settings.latent_dim, n_classes)
    gan_model = define_gan(g_model, d_model, learning_rate=settings.learning_rate, beta_1=settings.beta_1,
                           mode_seeking_weight=settings.mode_seeking_weight)
    return g_model, d_model, gan_model, {}


def load_real_samples(settings, split="train"):
    """[images in [-1, 1], labels] of the dataset's split."""
    images, labels = gd.load_dataset(settings.dataset, settings.data_dir, split)
    return [gd.scale_images(images), labels]


def generate_fake_samples(g_model, inputs):
    """[images the generator makes from [latent points, labels], the labels], and their targets."""
    z_input, labels_input = inputs
    images = g_model.predict_on_batch([z_input, labels_input])
    return [images, labels_input], gu.fake_targets(images)


def summarize_performance(epoch, g_model, d_model, dataset, settings):
    """A grid with one class per column."""
    gu.save_class_grid(g_model, settings.latent_dim, gd.DATASETS[settings.dataset]["classes"],
                       settings.out / f"generated_plot_e{epoch:03d}.png", f"epoch {epoch}")


def generator_info(settings):
    """What the saved generators are (ganlib/kinds.py), for sample.py and evaluate.py."""
    class_names = gd.DATASETS[settings.dataset]["classes"]
    return dict(kind="cgan", dataset=settings.dataset, latent_dim=settings.latent_dim, n_classes=len(class_names),
                class_names=class_names)


def train(g_model, d_model, gan_model, dataset, settings):
    latent_dim, n_batch = settings.latent_dim, settings.n_batch
    n_classes = len(gd.DATASETS[settings.dataset]["classes"])
    half_batch = n_batch // 2
    mode_seeking = settings.mode_seeking_weight > 0
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset[0]),
                 loss_names=["d_real", "d_fake", "g"] + (["mode_seeking"] if mode_seeking else []),
                 generator_info=generator_info(settings))
    y_gan = np.ones((n_batch, 1), dtype="float32")
    # With the mode-seeking term a row of the composite's batch is a pair of images: as many images.
    y_pairs = [np.ones((half_batch, 2), dtype="float32"), np.zeros((half_batch, 1), dtype="float32")]

    @run.compiled
    def train_step(X_real, labels_real, y_real, z_fake, labels_fake, z_input, labels_input, *other_noise):
        gu.unfreeze_discriminator(d_model)
        d_loss1, _ = d_model.train_on_batch([X_real, labels_real], y_real)
        [X_fake, labels], y_fake = generate_fake_samples(g_model, [z_fake, labels_fake])
        d_loss2, _ = d_model.train_on_batch([X_fake, labels], y_fake)
        gu.freeze_discriminator(d_model)
        if mode_seeking:
            _, g_loss, spread_loss = gan_model.train_on_batch([z_input, *other_noise, labels_input], y_pairs)
            return d_loss1, d_loss2, g_loss, spread_loss
        g_loss = gan_model.train_on_batch([z_input, labels_input], y_gan)
        return d_loss1, d_loss2, g_loss

    with run:
        for i in run.epochs():
            for j in run.steps():
                [X_real, labels_real], y_real = gu.generate_real_samples(dataset, half_batch, 1.0 - settings.label_smoothing)
                z_fake, labels_fake = gu.generate_latent_points(latent_dim, half_batch, n_classes)
                if mode_seeking:
                    z_input, labels_input = gu.generate_latent_points(latent_dim, half_batch, n_classes)
                    other_noise = [gu.generate_latent_points(latent_dim, half_batch)]
                else:
                    z_input, labels_input = gu.generate_latent_points(latent_dim, n_batch, n_classes)
                    other_noise = []
                run.log_step(train_step(X_real, labels_real, y_real, z_fake, labels_fake, z_input, labels_input,
                                        *other_noise))
            run.summarize(summarize_performance, d_model, dataset, settings)
        run.finish()


def main(argv=None):
    settings = gs.parse_settings(globals(), argv)
    dataset = load_real_samples(settings)
    gr.prepare_run(settings, generator_info(settings),
                   out_name="cgan_fashion" if settings.dataset == "fashion_mnist" else f"cgan_{settings.dataset}")
    g_model, d_model, gan_model, _ = define_models(settings)
    gu.plot_architectures(settings.out, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, settings)


if __name__ == "__main__":
    cli.run_main(main)
