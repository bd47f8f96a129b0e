"""InfoGAN for MNIST: a GAN that discovers, without labels, a control code for the digit shown
(and, with N_CONT = 2, codes for slant and width).

Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets" (2016). The generator's input is noise, a one-hot categorical code
and N_CONT continuous codes; an auxiliary model Q shares the discriminator's feature layers and
learns to recover the codes from a generated image (the mutual-information term).

Run it:
    python scripts/infogan_mnist.py                                  # 100 epochs, the paper's settings
    python scripts/infogan_mnist.py --preset tutorial                # the classic Keras tutorial's InfoGAN
    python scripts/infogan_mnist.py --epochs 1 --steps-per-epoch 20  # a quick check

Writes to outputs/infogan_mnist/: at each summary a grid with one row per categorical value,
one sweep grid per continuous code, snapshots of the generator and of Q (q_model_e010.h5);
the final generator.h5 and q_model.h5, and the files every run writes (README). How soon: code
accuracy 64-76% after epoch 2 and 89.9-99.7% after epoch 15 on three seeds; figures and curves,
and every setting measured: docs/results.md and docs/experiments.md.

What differs from the tutorial, and why (--preset tutorial puts back the six settings):
- The paper's settings, which measured 78% code accuracy after 3 epochs against the tutorial's
  57%: its layers (LAYERS), its update rule (UPDATE_RULE "reference": the discriminator's update
  on fakes also trains Q, through define_info_discriminator; "tutorial": Q trains only in the
  composite update), a uniform noise prior, a faster generator (G_LEARNING_RATE) and two
  continuous codes, learnt with a mean-squared error (the Gaussian log-likelihood at a fixed
  spread, which an early Q cannot game) weighted by LAMBDA_CONT.
- Keras 3 reads `trainable` when it first traces a train function: the discriminator is made
  trainable before its own updates and frozen before the composite's (docs/keras3.md), its
  BatchNormalization as acgan_fashion.py's docstring explains (BATCHNORM_IN_COMPOSITE).
- Fakes are made in training mode, as the composite update makes them: with the tutorial's
  inference-mode fakes no digits appeared in 5 epochs.
- The updates run as one compiled program (ganlib/step.py; --eager: one Keras call each), and
  the grids, snapshots and metrics use an average of the generator's weights (EMA_DECAY).
- generator_best.h5 is chosen without labels, by how surely and how evenly Q reads real digits
  (q_information, docs/quality.md), since InfoGAN's point is to learn without them.

Beyond the paper, one flag each: --consistency-weight W trains Q to read a real digit and a
shifted, turned, zoomed copy of it alike (Elastic-InfoGAN, Ojha et al. 2019), so Q learns from
real digits too; --consistency-form information trains the two readings' mutual information
instead (IIC, Ji et al. 2019); --elastic-distortion 34 also distorts the copy elastically
(Simard et al. 2003), the augmentation Elastic-InfoGAN is named after; --batch-size 128 is the
official code's batch.
"""
import ganlib.start  # noqa: F401  first: the command line is checked and the backend set before Keras loads

import keras
import numpy as np
from keras import layers

from ganlib import cli, data as gd, inputs as gi, run as gr, settings as gs, tutorial as gu
from ganlib.images import save_grid

LATENT_DIM = 62
N_CAT = 10  # values of the categorical code
LAMBDA_CAT = 1.0  # the weight of Q's loss on the categorical code (the paper's and the tutorial's; 2 measured no better)
N_CONT = 2  # continuous codes (the paper's); the tutorial: 0
LAMBDA_CONT = 0.5  # the weight of their loss (the paper's); the tutorial: 1.0
CONSISTENCY_WEIGHT = 0.0  # Q's reading of a real digit and of a shifted, turned, zoomed copy agree (Elastic-InfoGAN); 0: off (the paper's)
CONSISTENCY_FORM = "agreement"  # or "information": the two readings' mutual information (IIC), which a single value cannot satisfy
ELASTIC_DISTORTION = 0.0  # the copy is also distorted elastically, this strong (Simard et al. 2003's alpha: 34); 0: not
UPDATE_RULE = "reference"  # or "tutorial": which updates Q's loss trains (see the docstring)
LAYERS = "paper"  # or "tutorial": the layer shapes (see the docstring)
NOISE_PRIOR = "uniform"  # or "normal" (the tutorial's): the prior of the noise inputs
N_EPOCHS = 100
N_BATCH = 64
EVAL_EVERY = 10  # epochs between summaries: grids, snapshots of G and Q, metrics
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002  # the discriminator's and Q's
G_LEARNING_RATE = 0.001  # the generator's (the paper's); the tutorial: 0.0002
BETA_1 = 0.5
BATCHNORM_IN_COMPOSITE = "batch-statistics"  # or "trainable", "frozen": see the docstring
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (the tutorial)
PRESET = "paper"  # "tutorial": the tutorial's InfoGAN, the six settings of PRESETS at once
PRESETS = {"tutorial": {"UPDATE_RULE": "tutorial", "LAYERS": "tutorial", "NOISE_PRIOR": "normal",
                        "G_LEARNING_RATE": 0.0002, "N_CONT": 0, "LAMBDA_CONT": 1.0}}
# A code value needs samples of its own: more than 100 values (the data has 10 digits) rarely helps.
FLAG_TYPES = {"N_CAT": cli.int_up_to(100), "N_CONT": range(0, 6), "UPDATE_RULE": ["reference", "tutorial"],
              "LAYERS": ["tutorial", "paper"], "NOISE_PRIOR": ["normal", "uniform"], "PRESET": ["paper", "tutorial"],
              "CONSISTENCY_FORM": ["agreement", "information"]}
FIXED_ON_RESUME = {"N_CAT", "N_CONT", "LAYERS", "NOISE_PRIOR", "UPDATE_RULE", "CONSISTENCY_WEIGHT", "CONSISTENCY_FORM",
                   "ELASTIC_DISTORTION"}


def define_discriminator(n_cat=N_CAT, n_cont=N_CONT, in_shape=(28, 28, 1), layer_shapes=LAYERS,
                         learning_rate=LEARNING_RATE, beta_1=BETA_1):
    """The discriminator and the auxiliary model Q, sharing the feature layers."""
    init = keras.initializers.RandomNormal(stddev=0.02)
    in_image = keras.Input(shape=in_shape)
    d = layers.Conv2D(64, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(in_image)
    d = layers.LeakyReLU(negative_slope=0.1)(d)
    if layer_shapes == "paper":
        d = layers.Conv2D(128, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(d)
        d = layers.BatchNormalization()(d)
        d = layers.LeakyReLU(negative_slope=0.1)(d)
        d = layers.Flatten()(d)
        d = layers.Dense(1024, kernel_initializer=init)(d)
        d = layers.BatchNormalization()(d)
        d = layers.LeakyReLU(negative_slope=0.1)(d)
    else:
        d = layers.Conv2D(128, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(d)
        d = layers.LeakyReLU(negative_slope=0.1)(d)
        d = layers.BatchNormalization()(d)
        d = layers.Conv2D(256, (4, 4), padding="same", kernel_initializer=init)(d)
        d = layers.LeakyReLU(negative_slope=0.1)(d)
        d = layers.BatchNormalization()(d)
        d = layers.Flatten()(d)
    out_classifier = layers.Dense(1, activation="sigmoid", name="source", dtype="float32")(d)
    d_model = keras.Model(in_image, out_classifier, name="discriminator")
    d_model.compile(loss="binary_crossentropy",
                    optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1))
    q = layers.Dense(128)(d)
    q = layers.BatchNormalization()(q)
    q = layers.LeakyReLU(negative_slope=0.1)(q)
    out_codes = [layers.Dense(n_cat, activation="softmax", name="category", dtype="float32")(q)]
    out_codes += [layers.Dense(1, name=f"cont_{k}", dtype="float32")(q) for k in range(n_cont)]
    q_model = keras.Model(in_image, out_codes, name="q_model")
    return d_model, q_model


def define_info_discriminator(d_model, q_model, n_cont=N_CONT, lambda_cat=LAMBDA_CAT, lambda_cont=LAMBDA_CONT,
                              learning_rate=LEARNING_RATE, beta_1=BETA_1):
    """The reference rule's discriminator update on fakes: real-versus-fake and Q's loss together,
    training the shared layers, the discriminator's head and Q's head, with an optimizer of its
    own (the discriminator's serves its update on real images)."""
    model = keras.Model(d_model.input, [d_model.output, *q_model.outputs], name="info_discriminator")
    model.compile(loss=["binary_crossentropy", "categorical_crossentropy"] + ["mse"] * n_cont,
                  loss_weights=[1.0, lambda_cat] + [lambda_cont] * n_cont,
                  optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1))
    return model


def define_consistency(q_model, weight=CONSISTENCY_WEIGHT, form=CONSISTENCY_FORM, learning_rate=LEARNING_RATE,
                       beta_1=BETA_1):
    """Q's consistency update on real digits, which plain InfoGAN never shows Q; trains the shared
    layers and Q's categorical path. "agreement" (Elastic-InfoGAN, Ojha et al. 2019, arXiv
    1910.01112): Q's reading of an augmented digit is trained towards its reading of the digit
    itself. "information" (IIC, Ji et al. 2019, arXiv 1807.06653): the model reads the digit and its
    augmented copy side by side and is trained on mutual_information_loss."""
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
    if form == "agreement":
        model = keras.Model(q_model.input, q_model.outputs[0], name="consistency")
        model.compile(loss="categorical_crossentropy", loss_weights=[weight], optimizer=optimizer)
        return model
    category = keras.Model(q_model.input, q_model.outputs[0], name="category_reading")
    real, augmented = keras.Input(shape=q_model.input.shape[1:]), keras.Input(shape=q_model.input.shape[1:])
    readings = layers.Concatenate(name="readings")([category(real), category(augmented)])
    model = keras.Model([real, augmented], readings, name="consistency")
    model.compile(loss=mutual_information_loss, loss_weights=[weight], optimizer=optimizer)
    return model


def mutual_information_loss(_, readings):
    """Minus the mutual information of the two categorical readings side by side in `readings`,
    estimated from the batch's joint distribution of the pair (IIC). It is lowest, -log(values),
    when the two readings agree and every value is used equally often: reading every digit as one
    value scores 0, so this form cannot collapse the way the agreement does."""
    first, second = keras.ops.split(readings, 2, axis=-1)
    joint = keras.ops.matmul(keras.ops.transpose(first), second) / keras.ops.cast(keras.ops.shape(first)[0], "float32")
    joint = keras.ops.maximum((joint + keras.ops.transpose(joint)) / 2, 1e-7)
    rows = keras.ops.sum(joint, axis=1, keepdims=True)
    columns = keras.ops.sum(joint, axis=0, keepdims=True)
    return -keras.ops.sum(joint * (keras.ops.log(joint) - keras.ops.log(rows) - keras.ops.log(columns)))


def define_augmentation(elastic_distortion=ELASTIC_DISTORTION):
    """Small rotations, zooms and shifts of real digits, and with elastic_distortion an elastic
    distortion after them, as keras layers so every backend runs them."""
    return keras.Sequential([layers.RandomRotation(0.04, fill_value=-1.0, fill_mode="constant"),
                             layers.RandomZoom(0.1, fill_value=-1.0, fill_mode="constant"),
                             layers.RandomTranslation(0.08, 0.08, fill_value=-1.0, fill_mode="constant")]
                            + [ElasticDistortion(elastic_distortion)] * (elastic_distortion > 0),
                            name="augmentation")


class ElasticDistortion(layers.Layer):
    """Simard et al. 2003's elastic distortion of one-channel images: each image resampled
    (bilinear) along its own displacement field, uniform noise in [-1, 1] smoothed by a Gaussian
    of `sigma` pixels and scaled by `alpha`; what comes from outside the image is `fill_value`."""

    def __init__(self, alpha, sigma=4.0, fill_value=-1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.fill_value = alpha, fill_value
        self.seed_generator = keras.random.SeedGenerator(seed)
        radius = int(round(3 * sigma))
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        taps = (taps / taps.sum()).astype("float32")
        # the Gaussian as two depthwise passes (down the rows, then along them), one per field channel
        self.smoothing = [np.tile(taps.reshape(shape), (1, 1, 2, 1)) for shape in ((-1, 1, 1, 1), (1, -1, 1, 1))]

    def call(self, images, training=False):
        if not training:
            return images
        batch, height, width = keras.ops.shape(images)[:3]
        return self.distort(images, keras.random.uniform((batch, height, width, 2), -1.0, 1.0, seed=self.seed_generator))

    def distort(self, images, noise):
        """`images` moved along `noise` (batch, height, width, 2: rows, columns) once smoothed and scaled."""
        field = noise
        for kernel in self.smoothing:
            field = keras.ops.depthwise_conv(field, kernel, padding="same")
        field = self.alpha * field
        batch, height, width = keras.ops.shape(images)[:3]
        rows = keras.ops.arange(height, dtype="float32")[None, :, None] + field[..., 0]
        columns = keras.ops.arange(width, dtype="float32")[None, None, :] + field[..., 1]
        image_index = keras.ops.broadcast_to(keras.ops.arange(batch, dtype="float32")[:, None, None], keras.ops.shape(rows))
        moved = keras.ops.image.map_coordinates(images[..., 0], keras.ops.stack([image_index, rows, columns]), order=1,
                                                fill_mode="constant", fill_value=self.fill_value)
        return moved[..., None]


def define_generator(gen_input_size, layer_shapes=LAYERS):
    init = keras.initializers.RandomNormal(stddev=0.02)
    in_lat = keras.Input(shape=(gen_input_size,))
    if layer_shapes == "paper":
        gen = layers.Dense(1024, kernel_initializer=init)(in_lat)
        gen = layers.BatchNormalization()(gen)
        gen = layers.Activation("relu")(gen)
        gen = layers.Dense(128 * 7 * 7, kernel_initializer=init)(gen)
        gen = layers.BatchNormalization()(gen)
        gen = layers.Activation("relu")(gen)
        gen = layers.Reshape((7, 7, 128))(gen)
    else:
        gen = layers.Dense(512 * 7 * 7, kernel_initializer=init)(in_lat)
        gen = layers.Activation("relu")(gen)
        gen = layers.BatchNormalization()(gen)
        gen = layers.Reshape((7, 7, 512))(gen)
        gen = layers.Conv2D(128, (4, 4), padding="same", kernel_initializer=init)(gen)
        gen = layers.Activation("relu")(gen)
        gen = layers.BatchNormalization()(gen)
    gen = layers.Conv2DTranspose(64, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(gen)
    if layer_shapes == "paper":
        gen = layers.BatchNormalization()(gen)
        gen = layers.Activation("relu")(gen)
    else:
        gen = layers.Activation("relu")(gen)
        gen = layers.BatchNormalization()(gen)
    gen = layers.Conv2DTranspose(1, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init)(gen)
    out_layer = layers.Activation("tanh", dtype="float32")(gen)
    return keras.Model(in_lat, out_layer, name="generator")


def define_gan(g_model, d_model, *, q_model, info_model=None, n_cont=N_CONT, lambda_cat=LAMBDA_CAT, lambda_cont=LAMBDA_CONT,
               g_learning_rate=G_LEARNING_RATE, beta_1=BETA_1, batchnorm=BATCHNORM_IN_COMPOSITE):
    """The composite update. It freezes `info_model` when there is one (the reference rule: Q's
    head trains in the discriminator's update), else `d_model` (the tutorial's rule: Q's head
    trains here)."""
    gu.freeze_discriminator(info_model or d_model, batchnorm)
    d_output = d_model(g_model.output)
    q_outputs = q_model(g_model.output)
    # Named outputs, so that Keras reports each loss under its own name.
    names = ["source", "category"] + [f"cont_{k}" for k in range(n_cont)]
    outputs = [layers.Identity(name=name)(t) for name, t in zip(names, [d_output, *q_outputs])]
    model = keras.Model(g_model.input, outputs, name="gan")
    model.compile(loss=["binary_crossentropy", "categorical_crossentropy"] + ["mse"] * n_cont,
                  loss_weights=[1.0, lambda_cat] + [lambda_cont] * n_cont,
                  optimizer=keras.optimizers.Adam(learning_rate=g_learning_rate, beta_1=beta_1))
    return model


def define_models(settings):
    """(generator, discriminator, composite, extra models: Q and the reference rule's info
    discriminator) as main() trains them."""
    d_model, q_model = define_discriminator(settings.n_cat, settings.n_cont, layer_shapes=settings.layers,
                                            learning_rate=settings.learning_rate, beta_1=settings.beta_1)
    info_model = None
    if settings.update_rule == "reference":
        info_model = define_info_discriminator(d_model, q_model, settings.n_cont, settings.lambda_cat,
                                               settings.lambda_cont, settings.learning_rate, settings.beta_1)
    consistency_model = None
    if settings.consistency_weight > 0:
        consistency_model = define_consistency(q_model, settings.consistency_weight, settings.consistency_form,
                                               settings.learning_rate, settings.beta_1)
    g_model = define_generator(settings.latent_dim + settings.n_cat + settings.n_cont, settings.layers)
    gan_model = define_gan(g_model, d_model, q_model=q_model, info_model=info_model, n_cont=settings.n_cont,
                           lambda_cat=settings.lambda_cat, lambda_cont=settings.lambda_cont,
                           g_learning_rate=settings.g_learning_rate, beta_1=settings.beta_1,
                           batchnorm=settings.batchnorm_in_composite)
    return g_model, d_model, gan_model, dict(q_model=q_model, info_model=info_model,
                                             consistency_model=consistency_model)


def load_real_samples(settings, split="train"):
    """MNIST images of the split, in [-1, 1]."""
    images, _ = gd.load_dataset("mnist", settings.data_dir, split)
    return gd.scale_images(images)


def generate_latent_points(latent_dim, n_cat, n_samples, n_cont=N_CONT, prior=NOISE_PRIOR):
    """[generator input, one-hot categorical codes, continuous codes]."""
    noise = gi.noise(prior, (n_samples, latent_dim))
    codes = np.random.randint(0, n_cat, n_samples)
    cont_codes = np.random.uniform(-1, 1, (n_samples, n_cont)).astype("float32")
    z_input = gi.infogan_input(noise, codes, n_cat, cont_codes)
    return [z_input, z_input[:, latent_dim:latent_dim + n_cat], cont_codes]


def generate_fake_samples(g_model, inputs):
    """The images the generator makes from its inputs, and their targets."""
    images = g_model.predict_on_batch(inputs)
    return images, gu.fake_targets(images)


def summarize_performance(epoch, g_model, d_model, dataset, settings):
    """The per-value grid, and one sweep grid per continuous code."""
    info = generator_info(settings)
    images = g_model.predict_on_batch(gi.code_grid_inputs(info))
    save_grid(images, settings.out / f"generated_plot_e{epoch:03d}.png", 10,
              title=f"epoch {epoch}: one row per categorical value")
    for code in range(settings.n_cont):
        images = g_model.predict_on_batch(gi.sweep_grid_inputs(info, code))
        save_grid(images, settings.out / f"generated_sweep{code}_e{epoch:03d}.png", len(gi.SWEEP),
                  title=f"epoch {epoch}: continuous code {code} from -2 to 2")


def generator_info(settings):
    """What the saved generators are (ganlib/kinds.py), for sample.py and evaluate.py."""
    return dict(kind="infogan", dataset="mnist", latent_dim=settings.latent_dim, n_cat=settings.n_cat,
                n_cont=settings.n_cont, noise=settings.noise_prior, n_classes=0, class_names=[])


def train(g_model, d_model, gan_model, dataset, settings, *, q_model, info_model=None, consistency_model=None):
    """`info_model`: the reference rule's discriminator for fakes (define_info_discriminator);
    None: the tutorial's rule. `consistency_model`: Q's consistency update on augmented real
    digits (define_consistency), or None."""
    latent_dim, n_cat, n_cont, prior = settings.latent_dim, settings.n_cat, settings.n_cont, settings.noise_prior
    n_batch, batchnorm = settings.n_batch, settings.batchnorm_in_composite
    half_batch = n_batch // 2
    g_training = gu.in_training_mode(g_model)
    discriminator = info_model or d_model
    augment = define_augmentation(settings.elastic_distortion) if consistency_model else None
    run = gr.Run(settings, g_model, d_model, gan_model, n_images=len(dataset),
                 extra_models=[q_model] + [m for m in (info_model, consistency_model) if m],
                 loss_names=["d_real", "d_fake", "g", "q_cat"] + [f"q_cont_{k}" for k in range(n_cont)]
                 + (["q_consistency"] if consistency_model else []),
                 batchnorm_inputs=lambda n: generate_latent_points(latent_dim, n_cat, n, n_cont, prior)[0],
                 generator_info=generator_info(settings), companions={"q_model": q_model})
    y_gan = np.ones((n_batch, 1), dtype="float32")
    unused_targets = np.zeros((half_batch, 2 * n_cat), dtype="float32")

    @run.compiled
    def train_step(X_real, y_real, z_fake, cat_fake, cont_fake, z_input, cat_codes, cont_codes, *augmented):
        gu.unfreeze_discriminator(discriminator)
        d_loss1 = d_model.train_on_batch(X_real, y_real)
        X_fake, y_fake = generate_fake_samples(g_training, z_fake)
        if info_model:
            d_loss2 = info_model.train_on_batch(X_fake, [y_fake, cat_fake] + [cont_fake[:, k:k + 1] for k in range(n_cont)])[1]
        else:
            d_loss2 = d_model.train_on_batch(X_fake, y_fake)
        consistency = []
        if consistency_model and len(consistency_model.inputs) == 2:
            consistency = [consistency_model.train_on_batch([X_real, augmented[0]], unused_targets)]
        elif consistency_model:
            consistency = [consistency_model.train_on_batch(augmented[0], consistency_model.predict_on_batch(X_real))]
        gu.freeze_discriminator(discriminator, batchnorm)
        _, g_1, g_2, *q_cont = gan_model.train_on_batch(
            z_input, [y_gan, cat_codes] + [cont_codes[:, k:k + 1] for k in range(n_cont)])
        return d_loss1, d_loss2, g_1, g_2, *q_cont, *consistency

    with run:
        for i in run.epochs():
            for j in run.steps():
                X_real, y_real = gu.generate_real_samples(dataset, half_batch)
                z_fake, cat_fake, cont_fake = generate_latent_points(latent_dim, n_cat, half_batch, n_cont, prior)
                z_input, cat_codes, cont_codes = generate_latent_points(latent_dim, n_cat, n_batch, n_cont, prior)
                augmented = [np.asarray(augment(X_real, training=True))] if augment else []
                run.log_step(train_step(X_real, y_real, z_fake, cat_fake, cont_fake, z_input, cat_codes, cont_codes,
                                        *augmented))
            run.summarize(summarize_performance, d_model, dataset, settings)
        run.finish()


def main(argv=None):
    settings = gs.parse_settings(globals(), argv)
    dataset = load_real_samples(settings)
    gr.prepare_run(settings, generator_info(settings))
    g_model, d_model, gan_model, extras = define_models(settings)
    gu.plot_architectures(settings.out, d_model, g_model, gan_model, *filter(None, extras.values()))
    train(g_model, d_model, gan_model, dataset, settings, **extras)


if __name__ == "__main__":
    cli.run_main(main)
