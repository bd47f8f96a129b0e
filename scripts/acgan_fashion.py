"""Auxiliary-classifier GAN (AC-GAN) for Fashion-MNIST: a generator that draws the class asked for,
and a discriminator that also tells which class an image shows.

Odena, Olah and Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs" (2016), as
the classic Keras tutorial builds it: the discriminator has two heads, real-or-fake (binary
cross-entropy) and the clothing class (sparse categorical cross-entropy), and the generator is
trained against both.

Run it:
    python scripts/acgan_fashion.py                                  # 100 epochs, the tutorial's run
    python scripts/acgan_fashion.py --epochs 1 --steps-per-epoch 20  # a quick check

How long: 0.18 s a step at batch 64 on a 2-core CPU (scripts/benchmark.py), so about 3 minutes
an epoch and 5 hours for 100 epochs; on a GPU, not measured yet.

Writes to outputs/acgan_fashion/: every EVAL_EVERY epochs a 10x10 grid with one named class
per column (generated_plot_e010.png), a generator snapshot (generator_e010.h5) and the
discriminator's class-head accuracy on the real test images (printed, and kept in
class_accuracy.csv); the final generator.h5, losses.csv (both heads' losses of every update:
dr, df and g, as the tutorial prints them) and losses.png, and the architecture plots.

Keras 3: the discriminator is made trainable before each of its own updates and frozen before
each composite update, from the first step; the tutorial's freeze-once pattern never trains it
on Keras 3 (README, "What Keras 3 changes").

BatchNormalization in the composite update (BATCHNORM_IN_COMPOSITE). The tutorial freezes every
discriminator layer but BatchNormalization. On Keras 3 a frozen BatchNormalization runs on its
moving statistics, while a trainable one normalises with the batch's statistics and is also
updated by the generator's step. The three choices (gan_utils.freeze_discriminator):
  - "batch-statistics" (default): in the generator's step the discriminator normalises the
    fake batch with that batch's statistics, exactly as in its own update on a fake
    half-batch, but nothing the generator's loss says reaches the discriminator's weights
    (only the moving statistics, which Keras updates whenever batch statistics are used).
    The generator is trained against the discriminator that was actually trained.
  - "trainable", the tutorial's: the same, but the generator's loss also trains the
    discriminator's gamma and beta. It gives the composite a lever: it can lower the
    generator's loss by moving those weights instead of improving the generator.
  - "frozen": the discriminator runs on moving averages of real-only and fake-only batches in
    the generator's step, which is not the function it was trained to be.
The fakes the discriminator sees are made by the generator in training mode, as in the
composite update (gan_utils.in_training_mode); the tutorial's predict() makes them in inference
mode, and with those the InfoGAN discriminator learned to reject fakes the generator was never
scored on, and nothing trained (infogan_mnist.py's docstring).
Measured here, two epochs on Fashion-MNIST each, same seed (README, "Results so far"): with
training-mode fakes, "batch-statistics" and "trainable" both drew varied, recognisable items in
most columns by epoch 2 (class head 81.3% and 82.0% on the real test images), too close to
choose between on so short a run; the default is the one that keeps the generator's loss out
of the discriminator. "frozen", run before that fix (inference-mode fakes), collapsed at once:
every row of a column the same blotch after epochs 1 and 2.
The tests pin, weight by weight, which discriminator weights each choice lets the composite
update change.
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


LATENT_DIM = 100
N_EPOCHS = 100
N_BATCH = 64
EVAL_EVERY = 10  # epochs between summaries: a grid, a generator snapshot, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
BATCHNORM_IN_COMPOSITE = "batch-statistics"  # or "trainable", "frozen": see the docstring
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (README)
LOSSES = ["binary_crossentropy", "sparse_categorical_crossentropy"]


def define_discriminator(in_shape=(28, 28, 1), n_classes=10, learning_rate=LEARNING_RATE, beta_1=BETA_1):
    init = keras.initializers.RandomNormal(stddev=0.02)
    in_image = keras.Input(shape=in_shape)
    fe = layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same", kernel_initializer=init)(in_image)
    fe = layers.LeakyReLU(negative_slope=0.2)(fe)
    fe = layers.Dropout(0.5)(fe)
    for filters, strides in ((64, 1), (128, 2), (256, 1)):
        fe = layers.Conv2D(filters, (3, 3), strides=strides, padding="same", kernel_initializer=init)(fe)
        fe = layers.BatchNormalization()(fe)
        fe = layers.LeakyReLU(negative_slope=0.2)(fe)
        fe = layers.Dropout(0.5)(fe)
    fe = layers.Flatten()(fe)
    out1 = layers.Dense(1, activation="sigmoid", name="source", dtype="float32")(fe)
    out2 = layers.Dense(n_classes, activation="softmax", name="label", dtype="float32")(fe)
    model = keras.Model(in_image, [out1, out2], name="discriminator")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss=LOSSES, optimizer=opt)
    return model


def define_generator(latent_dim, n_classes=10):
    init = keras.initializers.RandomNormal(stddev=0.02)
    in_label = keras.Input(shape=(1,))
    li = layers.Embedding(n_classes, 50)(in_label)
    li = layers.Dense(7 * 7, kernel_initializer=init)(li)
    li = layers.Reshape((7, 7, 1))(li)
    in_lat = keras.Input(shape=(latent_dim,))
    gen = layers.Dense(384 * 7 * 7, kernel_initializer=init)(in_lat)
    gen = layers.Activation("relu")(gen)
    gen = layers.Reshape((7, 7, 384))(gen)
    merge = layers.Concatenate()([gen, li])
    gen = layers.Conv2DTranspose(192, (5, 5), strides=(2, 2), padding="same", kernel_initializer=init)(merge)
    gen = layers.BatchNormalization()(gen)
    gen = layers.Activation("relu")(gen)
    gen = layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", kernel_initializer=init)(gen)
    out_layer = layers.Activation("tanh", dtype="float32")(gen)
    return keras.Model([in_lat, in_label], out_layer, name="generator")


def define_gan(g_model, d_model, batchnorm=BATCHNORM_IN_COMPOSITE, learning_rate=LEARNING_RATE, beta_1=BETA_1):
    gu.freeze_discriminator(d_model, batchnorm)
    source, label = d_model(g_model.output)
    # Named outputs: both would be called "discriminator", and Keras would then report one
    # head's loss twice instead of each head's loss.
    gan_output = [layers.Identity(name="source")(source), layers.Identity(name="label")(label)]
    model = keras.Model(g_model.input, gan_output, name="gan")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss=LOSSES, optimizer=opt)
    return model


def load_real_samples(data_dir=None, split="train"):
    """[images in [-1, 1], labels] of Fashion-MNIST."""
    images, labels = gd.load_dataset("fashion_mnist", data_dir, split)
    return [gd.scale_images(images), labels]


def generate_fake_samples(g_model, latent_dim, n_samples, n_classes=10):
    z_input, labels_input = gu.generate_latent_points(latent_dim, n_samples, n_classes)
    images = g_model.predict_on_batch([z_input, labels_input])
    y = np.zeros((n_samples, 1), dtype="float32")
    return [images, labels_input], y


def class_head_accuracy(d_model, test_dataset):
    """How often the discriminator's class head names the right class of a real test image."""
    images, labels = test_dataset
    _, class_probs = d_model.predict(images, batch_size=500, verbose=0)
    return float(np.mean(np.argmax(class_probs, axis=1) == labels))


def summarize_performance(epoch, g_model, out_dir, d_model, test_dataset, settings):
    """A grid with one named class per column, and the class head's accuracy on real test images."""
    gu.save_class_grid(g_model, settings.latent_dim, gd.FASHION_CLASSES,
                       out_dir / f"generated_plot_e{epoch:03d}.png", f"epoch {epoch}")
    if test_dataset is not None:
        accuracy = class_head_accuracy(d_model, test_dataset)
        print(f"class-head accuracy on {len(test_dataset[0])} real test images: {accuracy:.1%}")
        gf.write_epoch_row(out_dir / "class_accuracy.csv", ["epoch", "class_head_accuracy"],
                           [epoch, f"{accuracy:.4f}"])


def train(g_model, d_model, gan_model, dataset, settings, test_dataset=None):
    latent_dim, n_batch, batchnorm = settings.latent_dim, settings.n_batch, settings.batchnorm_in_composite
    half_batch = n_batch // 2
    y_gan = np.ones((n_batch, 1), dtype="float32")
    g_training = gu.in_training_mode(g_model)
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset[0]),
                 loss_names=["dr_source", "dr_class", "df_source", "df_class", "g_source", "g_class"],
                 batchnorm_inputs=lambda n: gu.generate_latent_points(latent_dim, n, 10),
                 generator_info=dict(kind="acgan", dataset="fashion_mnist", latent_dim=latent_dim, n_classes=10,
                                     class_names=gd.FASHION_CLASSES))
    for i in run.epochs():
        for j in run.steps():
            [X_real, labels_real], y_real = gu.generate_real_samples(dataset, half_batch)
            gu.unfreeze_discriminator(d_model)
            _, d_r1, d_r2 = d_model.train_on_batch(X_real, [y_real, labels_real])
            [X_fake, labels_fake], y_fake = generate_fake_samples(g_training, latent_dim, half_batch)
            _, d_f, d_f2 = d_model.train_on_batch(X_fake, [y_fake, labels_fake])
            [z_input, z_labels] = gu.generate_latent_points(latent_dim, n_batch, 10)
            gu.freeze_discriminator(d_model, batchnorm)
            _, g_1, g_2 = gan_model.train_on_batch([z_input, z_labels], [y_gan, z_labels])
            run.log_step(d_r1, d_r2, d_f, d_f2, g_1, g_2)
        run.summarize(summarize_performance, d_model, test_dataset, settings)
    run.finish()


def main(argv=None):
    settings = gr.parse_settings(globals(), argv)
    out_dir = gr.prepare_run(settings)
    dataset = load_real_samples(settings.data_dir)
    test_dataset = load_real_samples(settings.data_dir, split="test")
    d_model = define_discriminator(learning_rate=settings.learning_rate, beta_1=settings.beta_1)
    g_model = define_generator(settings.latent_dim)
    gan_model = define_gan(g_model, d_model, settings.batchnorm_in_composite, settings.learning_rate, settings.beta_1)
    gu.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, settings, test_dataset)


if __name__ == "__main__":
    cli.run_main(main)
