"""Pix2Pix for the Berkeley maps pairs: satellite photo to Google map, or map to satellite photo.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks" (2017), as the
classic Keras tutorial builds it: a U-Net generator with skip connections, and a 70x70
PatchGAN discriminator that scores each 70x70 patch of the (source, target) pair, giving a
16x16 map of scores for a 256x256 image. The generator's loss is the adversarial loss plus 100
times the mean absolute error to the real target.

Data: the `maps` archive (data/README.md), unpacked into data/ or the folder given with
--data-dir. The first run prepares it: each 1200x600 pair resized to 256x512 and split in two,
saved beside it as maps_256.npz and maps_256_val.npz (scripts/prepare_maps.py does only that).

Run it:
    python scripts/pix2pix_maps.py                                   # 100 epochs, satellite to map
    python scripts/pix2pix_maps.py --direction map2sat               # the tutorial's second model
    python scripts/pix2pix_maps.py --epochs 1 --steps-per-epoch 10   # a quick check

Writes to outputs/pix2pix_<direction>/: at each summary three validation pairs in rows of
source, generated and target and a generator snapshot; generator.h5 at the end, and the files
every run writes (README). How long: docs/speed.md.

What differs from the tutorial, and why:
- Keras 3 reads `trainable` when it first traces a train function: the discriminator is made
  trainable before its own updates and frozen before the composite's (docs/keras3.md), its
  BatchNormalization as acgan_fashion.py's docstring explains (BATCHNORM_IN_COMPOSITE).
- The generator always runs as in training, as in the paper and the tutorial: each image
  normalised with its own statistics, dropout as its noise. Its layers are called with
  `training=True`, but Keras 3's predict() overrides that, so every place that draws from it
  goes through tutorial.in_training_mode, one image at a time.
- The three updates run as one compiled program (ganlib/step.py; --eager: one Keras call each),
  and the plots, snapshots and metrics use an average of the generator's weights (EMA_DECAY).
"""
import ganlib.start  # noqa: F401  first: the command line is checked and the backend set before Keras loads

import keras
import numpy as np
from keras import layers

from ganlib import cli, data as gd, tutorial as gu, run as gr, settings as gs
from ganlib.images import save_grid


DIRECTION = "sat2map"  # or "map2sat"
N_EPOCHS = 100
N_BATCH = 1
EVAL_EVERY = 10  # epochs between summaries: translated pairs, a generator snapshot, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
BATCHNORM_IN_COMPOSITE = "batch-statistics"  # or "trainable", "frozen": see the docstring
EMA_DECAY = 0.999  # the averaged generator behind plots, snapshots and metrics; 0: off (the tutorial)
FLAG_TYPES = {"DIRECTION": ["sat2map", "map2sat"]}
FIXED_ON_RESUME = {"DIRECTION"}


def define_discriminator(image_shape=gd.MAPS_IMAGE_SHAPE, learning_rate=LEARNING_RATE, beta_1=BETA_1):
    init = keras.initializers.RandomNormal(stddev=0.02)
    in_src_image = keras.Input(shape=image_shape)
    in_target_image = keras.Input(shape=image_shape)
    d = layers.Concatenate()([in_src_image, in_target_image])
    for filters, strides, batchnorm in ((64, 2, False), (128, 2, True), (256, 2, True), (512, 2, True),
                                        (512, 1, True)):
        d = layers.Conv2D(filters, (4, 4), strides=strides, padding="same", kernel_initializer=init)(d)
        if batchnorm:
            d = layers.BatchNormalization()(d)
        d = layers.LeakyReLU(negative_slope=0.2)(d)
    d = layers.Conv2D(1, (4, 4), padding="same", kernel_initializer=init)(d)
    patch_out = layers.Activation("sigmoid", dtype="float32")(d)
    model = keras.Model([in_src_image, in_target_image], patch_out, name="discriminator")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss="binary_crossentropy", optimizer=opt, loss_weights=[0.5])
    return model


def define_encoder_block(layer_in, n_filters, batchnorm=True):
    init = keras.initializers.RandomNormal(stddev=0.02)
    g = layers.Conv2D(n_filters, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(layer_in)
    if batchnorm:
        g = layers.BatchNormalization()(g, training=True)
    return layers.LeakyReLU(negative_slope=0.2)(g)


def decoder_block(layer_in, skip_in, n_filters, dropout=True):
    init = keras.initializers.RandomNormal(stddev=0.02)
    g = layers.Conv2DTranspose(n_filters, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(layer_in)
    g = layers.BatchNormalization()(g, training=True)
    if dropout:
        g = layers.Dropout(0.5)(g, training=True)
    g = layers.Concatenate()([g, skip_in])
    return layers.Activation("relu")(g)


def define_generator(image_shape=gd.MAPS_IMAGE_SHAPE):
    init = keras.initializers.RandomNormal(stddev=0.02)
    in_image = keras.Input(shape=image_shape)
    e1 = define_encoder_block(in_image, 64, batchnorm=False)
    e2 = define_encoder_block(e1, 128)
    e3 = define_encoder_block(e2, 256)
    e4 = define_encoder_block(e3, 512)
    e5 = define_encoder_block(e4, 512)
    e6 = define_encoder_block(e5, 512)
    e7 = define_encoder_block(e6, 512)
    b = layers.Conv2D(512, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(e7)
    b = layers.Activation("relu")(b)
    d1 = decoder_block(b, e7, 512)
    d2 = decoder_block(d1, e6, 512)
    d3 = decoder_block(d2, e5, 512)
    d4 = decoder_block(d3, e4, 512, dropout=False)
    d5 = decoder_block(d4, e3, 256, dropout=False)
    d6 = decoder_block(d5, e2, 128, dropout=False)
    d7 = decoder_block(d6, e1, 64, dropout=False)
    g = layers.Conv2DTranspose(3, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(d7)
    out_image = layers.Activation("tanh", dtype="float32")(g)
    return keras.Model(in_image, out_image, name="generator")


def define_gan(g_model, d_model, *, learning_rate=LEARNING_RATE, beta_1=BETA_1, batchnorm=BATCHNORM_IN_COMPOSITE):
    gu.freeze_discriminator(d_model, batchnorm)
    in_src = keras.Input(shape=g_model.input.shape[1:])
    gen_out = g_model(in_src)
    dis_out = d_model([in_src, gen_out])
    # Named outputs, so that Keras reports each loss under its own name.
    outputs = [layers.Identity(name="patch")(dis_out), layers.Identity(name="image")(gen_out)]
    model = keras.Model(in_src, outputs, name="gan")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss=["binary_crossentropy", "mae"], optimizer=opt, loss_weights=[1, 100])
    return model


def define_models(settings):
    """(generator, discriminator, composite, extra models: none) as main() trains them."""
    d_model = define_discriminator(learning_rate=settings.learning_rate, beta_1=settings.beta_1)
    g_model = define_generator()
    gan_model = define_gan(g_model, d_model, learning_rate=settings.learning_rate, beta_1=settings.beta_1,
                           batchnorm=settings.batchnorm_in_composite)
    return g_model, d_model, gan_model, {}


def load_real_samples(settings, split="train"):
    """[source images, target images] in [-1, 1], preparing the arrays first when missing; None
    when the split is not there (maps/val/ is optional)."""
    return gd.load_maps(settings.data_dir, split, settings.direction)


def generate_fake_samples(g_model, inputs, *, n_patch=16):
    """The translations of the source images `inputs`, and their targets: a patch of zeros each."""
    X = g_model.predict_on_batch(inputs)
    return X, gu.fake_targets(X, (n_patch, n_patch, 1))


def summarize_performance(epoch, g_model, d_model, dataset, settings, *, n_samples=3):
    """Three pairs in rows of source, generated and target. Each image is translated alone, as in
    training at batch 1 and in sample.py: BatchNormalization runs on the batch's statistics, so a
    batch of three would give other images."""
    [X_realA, X_realB], _ = gu.generate_real_samples(dataset, n_samples)
    g_training = gu.in_training_mode(g_model)
    X_fakeB = np.concatenate([g_training.predict_on_batch(x[None]) for x in X_realA])
    save_grid(np.concatenate([X_realA, X_fakeB, X_realB]), settings.out / f"generated_plot_e{epoch:03d}.png",
              n_samples, title=f"epoch {epoch}: source, generated, target")


def generator_info(settings):
    """What the saved generators are (ganlib/kinds.py), for sample.py and evaluate.py."""
    return dict(kind="pix2pix", dataset="maps", direction=settings.direction, n_classes=0, class_names=[])


def train(g_model, d_model, gan_model, dataset, settings, *, val_dataset=None):
    n_patch = d_model.output.shape[1]
    n_batch, batchnorm = settings.n_batch, settings.batchnorm_in_composite
    g_training = gu.in_training_mode(g_model)
    # No BatchNormalization statistics to re-estimate for the average: the generator always
    # normalises with each image's own statistics (define_encoder_block).
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset[0]),
                 loss_names=["d_real", "d_fake", "g", "g_patch", "g_l1"], pairs=val_dataset or dataset,
                 generator_info=generator_info(settings))
    y_real = np.ones((n_batch, n_patch, n_patch, 1), dtype="float32")

    @run.compiled
    def train_step(X_realA, X_realB):
        X_fakeB, y_fake = generate_fake_samples(g_training, X_realA, n_patch=n_patch)
        gu.unfreeze_discriminator(d_model)
        d_loss1 = d_model.train_on_batch([X_realA, X_realB], y_real)
        d_loss2 = d_model.train_on_batch([X_realA, X_fakeB], y_fake)
        gu.freeze_discriminator(d_model, batchnorm)
        g_loss, g_patch, g_l1 = gan_model.train_on_batch(X_realA, [y_real, X_realB])
        return d_loss1, d_loss2, g_loss, g_patch, g_l1

    with run:
        for i in run.epochs():
            for j in run.steps():
                [X_realA, X_realB], _ = gu.generate_real_samples(dataset, n_batch)
                run.log_step(train_step(X_realA, X_realB))
            run.summarize(summarize_performance, d_model, val_dataset or dataset, settings)
        run.finish()


def main(argv=None):
    settings = gs.parse_settings(globals(), argv)
    dataset = load_real_samples(settings)
    val_dataset = load_real_samples(settings, "val")
    gr.prepare_run(settings, generator_info(settings), out_name=f"pix2pix_{settings.direction}")
    if val_dataset is None:
        print("note: no validation pairs (maps/val/), so the plots and metrics.csv use training pairs")
    g_model, d_model, gan_model, _ = define_models(settings)
    gu.plot_architectures(settings.out, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, settings, val_dataset=val_dataset)


if __name__ == "__main__":
    cli.run_main(main)
