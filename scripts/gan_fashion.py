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
EVAL_EVERY = 10
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (README)
BETA_1 = 0.5
GRID_SIZE = 10


def define_discriminator(in_shape=(28, 28, 1)):
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
    opt = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
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


def define_gan(g_model, d_model):
    d_model.trainable = False
    model = keras.Sequential([g_model, d_model], name="gan")
    opt = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
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


def summarize_performance(epoch, g_model, latent_dim, out_dir):
    """A 10x10 grid of generated images, and a generator snapshot."""
    snapshot = out_dir / f"generator_e{epoch:03d}.h5"
    X, _ = generate_fake_samples(g_model, latent_dim, GRID_SIZE * GRID_SIZE)
    gu.save_grid(X, out_dir / f"generated_plot_e{epoch:03d}.png", GRID_SIZE, title=f"epoch {epoch}")
    save_generator(g_model, snapshot, latent_dim, epoch)
    return snapshot


def save_generator(g_model, path, latent_dim, epoch):
    image_shape = list(g_model.compute_output_shape((None, latent_dim))[1:])
    gu.save_generator(g_model, path, kind="gan", latent_dim=latent_dim, n_classes=0, class_names=[],
                      image_shape=image_shape, dataset="fashion_mnist", epoch=epoch)


def train(g_model, d_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH,
          *, steps_per_epoch=None, eval_every=EVAL_EVERY, ema_decay=EMA_DECAY, out_dir=gr.default_out("gan_fashion"),
          options=None):
    bat_per_epo = steps_per_epoch or len(dataset) // n_batch
    half_batch = n_batch // 2
    y_gan = np.ones((n_batch, 1), dtype="float32")
    run = gr.Run(out_dir, g_model, d_model, gan_model, n_images=len(dataset), loss_names=["d_real", "d_fake", "g"], ema_decay=ema_decay,
                 options=options, settings=dict(script="gan_fashion", dataset="fashion_mnist", latent_dim=latent_dim,
                                                batch_size=n_batch))
    for i in run.epochs(n_epochs):
        for j in run.steps(bat_per_epo):
            X_real, y_real = gu.generate_real_samples(dataset, half_batch)
            d_model.trainable = True
            d_loss1, _ = d_model.train_on_batch(X_real, y_real)
            X_fake, y_fake = generate_fake_samples(g_model, latent_dim, half_batch)
            d_loss2, _ = d_model.train_on_batch(X_fake, y_fake)
            X_gan = gu.generate_latent_points(latent_dim, n_batch)
            d_model.trainable = False
            g_loss = gan_model.train_on_batch(X_gan, y_gan)
            run.log_step(d_loss1, d_loss2, g_loss)
        if run.summary_due(eval_every):
            snapshot = summarize_performance(i + 1, run.sample_generator(), latent_dim, run.out_dir)
            run.record_summary(snapshot)
    save_generator(run.sample_generator(), run.out_dir / "generator.h5", latent_dim, n_epochs)
    run.finish()


def main(argv=None):
    parser = gr.make_parser(__doc__, epochs=N_EPOCHS, batch_size=N_BATCH, eval_every=EVAL_EVERY,
                            ema_decay=EMA_DECAY, checkpoint_every=CHECKPOINT_EVERY)
    args = parser.parse_args(argv)
    out_dir = gr.prepare_run(args, "gan_fashion")
    dataset = load_real_samples(args.data_dir)
    gr.check_batch(args.batch_size, len(dataset))
    d_model = define_discriminator(dataset.shape[1:])
    g_model = define_generator(LATENT_DIM)
    gan_model = define_gan(g_model, d_model)
    gu.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, LATENT_DIM, args.epochs, args.batch_size,
          steps_per_epoch=args.steps_per_epoch, eval_every=args.eval_every, ema_decay=args.ema_decay,
          out_dir=out_dir, options=gr.RunOptions.from_args(args))


if __name__ == "__main__":
    cli.run_main(main)
