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
import gan_common as gc  # first: it configures TensorFlow before Keras loads it

import keras
import numpy as np
from keras import layers

import gan_metrics as gm

LATENT_DIM = 100
N_EPOCHS = 100
N_BATCH = 128
EVAL_EVERY = 10
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
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
        layers.Dense(1, activation="sigmoid"),
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
        layers.Conv2D(1, (7, 7), activation="tanh", padding="same"),
    ], name="generator")


def define_gan(g_model, d_model):
    d_model.trainable = False
    model = keras.Sequential([g_model, d_model], name="gan")
    opt = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
    model.compile(loss="binary_crossentropy", optimizer=opt)
    return model


def load_real_samples(data_dir=None):
    """Training images of Fashion-MNIST in [-1, 1]."""
    images, _ = gc.load_dataset("fashion_mnist", data_dir)
    return gc.scale_images(images)


def generate_fake_samples(g_model, latent_dim, n_samples):
    x_input = gc.generate_latent_points(latent_dim, n_samples)
    X = g_model.predict_on_batch(x_input)
    y = np.zeros((n_samples, 1), dtype="float32")
    return X, y


def summarize_performance(epoch, g_model, latent_dim, out_dir):
    """A 10x10 grid of generated images, and a generator snapshot."""
    snapshot = out_dir / f"generator_e{epoch:03d}.h5"
    X, _ = generate_fake_samples(g_model, latent_dim, GRID_SIZE * GRID_SIZE)
    gc.save_grid(X, out_dir / f"generated_plot_e{epoch:03d}.png", GRID_SIZE, title=f"epoch {epoch}")
    save_generator(g_model, snapshot, latent_dim, epoch)
    return snapshot


def save_generator(g_model, path, latent_dim, epoch):
    image_shape = list(g_model.compute_output_shape((None, latent_dim))[1:])
    gc.save_generator(g_model, path, kind="gan", latent_dim=latent_dim, n_classes=0, class_names=[],
                      image_shape=image_shape, dataset="fashion_mnist", epoch=epoch)


def train(g_model, d_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH,
          *, steps_per_epoch=None, eval_every=EVAL_EVERY, resume=False, checkpoint_every=CHECKPOINT_EVERY,
          quality=None, out_dir=gc.default_out("gan_fashion")):
    bat_per_epo = steps_per_epoch or len(dataset) // n_batch
    half_batch = n_batch // 2
    y_gan = np.ones((n_batch, 1), dtype="float32")
    log = gc.LossLog(out_dir, ["d_real", "d_fake", "g"])
    quality = quality or gm.QualityLog(out_dir, samples=0)  # main() passes the measuring one
    checkpoint = gc.Checkpoint(out_dir, log, [g_model, d_model], d_model, gan_model, resume=resume,
                               settings=dict(script="gan_fashion", latent_dim=latent_dim, batch_size=n_batch))
    for i in range(checkpoint.epoch, n_epochs):
        log.start_epoch(i + 1, n_epochs, bat_per_epo)
        for j in range(checkpoint.first_step(i), bat_per_epo):
            X_real, y_real = gc.generate_real_samples(dataset, half_batch)
            d_model.trainable = True
            d_loss1, _ = d_model.train_on_batch(X_real, y_real)
            X_fake, y_fake = generate_fake_samples(g_model, latent_dim, half_batch)
            d_loss2, _ = d_model.train_on_batch(X_fake, y_fake)
            X_gan = gc.generate_latent_points(latent_dim, n_batch)
            d_model.trainable = False
            g_loss = gan_model.train_on_batch(X_gan, y_gan)
            log.step(i + 1, j + 1, d_loss1, d_loss2, g_loss)
            checkpoint.step_done(i, j)
        log.save()
        if (i + 1) % eval_every == 0 or i + 1 == n_epochs:
            snapshot = summarize_performance(i + 1, g_model, latent_dim, out_dir)
            quality.record(i + 1, g_model, snapshot)
        checkpoint.epoch_done(i, n_epochs, checkpoint_every)
    save_generator(g_model, out_dir / "generator.h5", latent_dim, n_epochs)
    print(f"generator saved to {out_dir / 'generator.h5'}")
    quality.report()


def main(argv=None):
    parser = gc.make_parser(__doc__, epochs=N_EPOCHS, batch_size=N_BATCH, eval_every=EVAL_EVERY,
                            checkpoint_every=CHECKPOINT_EVERY)
    args = parser.parse_args(argv)
    out_dir = gc.prepare_run(args, "gan_fashion")
    dataset = load_real_samples(args.data_dir)
    gc.check_batch(args.batch_size, len(dataset))
    d_model = define_discriminator(dataset.shape[1:])
    g_model = define_generator(LATENT_DIM)
    gan_model = define_gan(g_model, d_model)
    gc.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, LATENT_DIM, args.epochs, args.batch_size,
          steps_per_epoch=args.steps_per_epoch, eval_every=args.eval_every, out_dir=out_dir,
          resume=args.resume, checkpoint_every=args.checkpoint_every,
          quality=gm.QualityLog(out_dir, args.eval_samples, args.data_dir, resume=args.resume))


if __name__ == "__main__":
    gc.run_main(main)
