"""Pix2Pix for the Berkeley maps pairs: satellite photo to Google map, or map to satellite photo.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks" (2017), as the
classic Keras tutorial builds it: a U-Net generator with skip connections, and a 70x70
PatchGAN discriminator that scores each 70x70 patch of the (source, target) pair, giving a
16x16 map of scores for a 256x256 image. The generator's loss is the adversarial loss plus 100
times the mean absolute error to the real target.

Data: the `maps` archive (1096 training pairs, 1098 validation pairs; each JPEG is 1200x600,
satellite on the left, map on the right) from
http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/maps.tar.gz, unpacked into data/ (giving
data/maps/train/) or into the folder given with --data-dir. The script prepares it on first
use: each pair resized to 256x512 and split in two 256x256 images, saved beside the folder as
maps_256.npz (training) and maps_256_val.npz (validation).

Run it:
    python scripts/pix2pix_maps.py --prepare                         # only prepare the arrays
    python scripts/pix2pix_maps.py                                   # 100 epochs, satellite to map
    python scripts/pix2pix_maps.py --direction map2sat               # the tutorial's second model
    python scripts/pix2pix_maps.py --epochs 1 --steps-per-epoch 10   # a quick check

How long: 0.58 s a step at batch 1 on a 2-core CPU (scripts/benchmark.py), so about 11 minutes
an epoch of 1096 pairs and 18 hours for 100 epochs; on a GPU, not measured yet.

Writes to outputs/pix2pix_<direction>/: every EVAL_EVERY epochs a plot of three validation
pairs in rows of source, generated and target (generated_plot_e010.png) and a generator
snapshot (generator_e010.h5); the final generator.h5, losses.csv and losses.png, and the
architecture plots.

BatchNormalization and dropout in the generator run as in training wherever this collection
runs it: when it is trained, when it makes fakes for the discriminator, when the plots are
drawn and when sample.py translates. As in the paper and the tutorial, each image is then
normalised with its own statistics (so images are translated one at a time, as at batch 1 in
training) and dropout is the generator's noise: the same input translated twice gives slightly
different images. The layers are called with `training=True`, saved with the model, so loading
generator.h5 and calling `g_model(x)` does the same. But Keras 3's `predict()` and
`predict_on_batch()` pass training=False, which overrides it: they give the inference-mode
generator (moving statistics, no dropout), which the tutorial never trained against. The
scripts go through `gan_utils.in_training_mode(g_model)`, whose predictions keep training mode.

Keras 3: the discriminator is made trainable before each of its own updates and frozen before
each composite update, from the first step; the tutorial's freeze-once pattern never trains it
on Keras 3 (README, "What Keras 3 changes"). Its BatchNormalization layers run
on the batch's statistics in the composite update, as in its own updates, but the generator's
loss does not train them (BATCHNORM_IN_COMPOSITE "batch-statistics"; the tutorial's
"trainable" also trains their gamma and beta there; acgan_fashion.py's docstring explains the
choices). No long Pix2Pix run has compared them here. The tests pin which weights each update
moves.
"""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import keras
import numpy as np
from keras import layers

import gan_cli as cli
import gan_data as gd
import gan_run as gr
import gan_utils as gu


DIRECTION = "sat2map"  # or "map2sat"
IMAGE_SHAPE = gd.MAPS_IMAGE_SHAPE
N_EPOCHS = 100
N_BATCH = 1
EVAL_EVERY = 10  # epochs between summaries: translated pairs, a generator snapshot, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
BATCHNORM_IN_COMPOSITE = "batch-statistics"  # or "trainable", "frozen": see the docstring
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (README)
FLAG_TYPES = {"DIRECTION": ["sat2map", "map2sat"]}


def define_discriminator(image_shape=IMAGE_SHAPE, learning_rate=LEARNING_RATE, beta_1=BETA_1):
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


def define_generator(image_shape=IMAGE_SHAPE):
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


def define_gan(g_model, d_model, image_shape=IMAGE_SHAPE, batchnorm=BATCHNORM_IN_COMPOSITE,
               learning_rate=LEARNING_RATE, beta_1=BETA_1):
    gu.freeze_discriminator(d_model, batchnorm)
    in_src = keras.Input(shape=image_shape)
    gen_out = g_model(in_src)
    dis_out = d_model([in_src, gen_out])
    # Named outputs, so that Keras reports each loss under its own name.
    outputs = [layers.Identity(name="patch")(dis_out), layers.Identity(name="image")(gen_out)]
    model = keras.Model(in_src, outputs, name="gan")
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    model.compile(loss=["binary_crossentropy", "mae"], optimizer=opt, loss_weights=[1, 100])
    return model


def load_real_samples(data_dir=None, split="train", direction=DIRECTION):
    """[source images, target images] in [-1, 1], preparing the arrays first when missing; None
    when the split is not there (maps/val/ is optional)."""
    return gd.load_maps(data_dir, split, direction)


def generate_real_samples(dataset, n_samples, patch_shape):
    [X1, X2], _ = gu.generate_real_samples(dataset, n_samples)
    y = np.ones((n_samples, patch_shape, patch_shape, 1), dtype="float32")
    return [X1, X2], y


def generate_fake_samples(g_model, samples, patch_shape):
    X = g_model.predict_on_batch(samples)
    y = np.zeros((len(X), patch_shape, patch_shape, 1), dtype="float32")
    return X, y


def summarize_performance(epoch, g_model, out_dir, dataset, n_samples=3):
    """Three pairs in rows of source, generated and target. Each image is translated alone, as in
    training at batch 1 and in sample.py: BatchNormalization runs on the batch's statistics, so a
    batch of three would give other images."""
    [X_realA, X_realB], _ = generate_real_samples(dataset, n_samples, 1)
    g_training = gu.in_training_mode(g_model)
    X_fakeB = np.concatenate([g_training.predict_on_batch(x[None]) for x in X_realA])
    gu.save_grid(np.concatenate([X_realA, X_fakeB, X_realB]), out_dir / f"generated_plot_e{epoch:03d}.png",
                 n_samples, title=f"epoch {epoch}: source, generated, target")


def train(g_model, d_model, gan_model, dataset, settings, val_dataset=None):
    n_patch = d_model.output.shape[1]
    n_batch, batchnorm = settings.n_batch, settings.batchnorm_in_composite
    g_training = gu.in_training_mode(g_model)
    # No BatchNormalization statistics to re-estimate for the average: the generator always
    # normalises with each image's own statistics (define_encoder_block).
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset[0]),
                 loss_names=["d_real", "d_fake", "g", "g_patch", "g_l1"], pairs=val_dataset or dataset,
                 generator_info=dict(kind="pix2pix", dataset="maps", direction=settings.direction, n_classes=0,
                                     class_names=[]))
    for i in run.epochs():
        for j in run.steps():
            [X_realA, X_realB], y_real = generate_real_samples(dataset, n_batch, n_patch)
            X_fakeB, y_fake = generate_fake_samples(g_training, X_realA, n_patch)
            gu.unfreeze_discriminator(d_model)
            d_loss1 = d_model.train_on_batch([X_realA, X_realB], y_real)
            d_loss2 = d_model.train_on_batch([X_realA, X_fakeB], y_fake)
            gu.freeze_discriminator(d_model, batchnorm)
            g_loss, g_patch, g_l1 = gan_model.train_on_batch(X_realA, [y_real, X_realB])
            run.log_step(d_loss1, d_loss2, g_loss, g_patch, g_l1)
        run.summarize(summarize_performance, val_dataset or dataset)
    run.finish()


def add_prepare_flag(parser):
    parser.add_argument("--prepare", action="store_true", help="only prepare the arrays from maps/ and stop")


def main(argv=None):
    settings = gr.parse_settings(globals(), argv, add_prepare_flag)
    if settings.prepare:
        gd.prepare_maps(gd.find_maps(settings.data_dir))
        return
    out_dir = gr.prepare_run(settings, f"pix2pix_{settings.direction}", batch_split=1)
    dataset = load_real_samples(settings.data_dir, "train", settings.direction)
    val_dataset = load_real_samples(settings.data_dir, "val", settings.direction)
    if val_dataset is None:
        print("note: no validation pairs (maps/val/), so the plots and metrics.csv use training pairs")
    d_model = define_discriminator(learning_rate=settings.learning_rate, beta_1=settings.beta_1)
    g_model = define_generator()
    gan_model = define_gan(g_model, d_model, batchnorm=settings.batchnorm_in_composite,
                           learning_rate=settings.learning_rate, beta_1=settings.beta_1)
    gu.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, settings, val_dataset)


if __name__ == "__main__":
    cli.run_main(main)
