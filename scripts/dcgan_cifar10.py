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


CLASSES = []  # CIFAR-10 class names to train on, such as ["horse"]; empty: all ten
LATENT_DIM = 100
N_EPOCHS = 200
N_BATCH = 128
EVAL_EVERY = 10
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (README)
BETA_1 = 0.5
N_EVAL_SAMPLES = 150
GRID_SIZE = 7


def define_discriminator(in_shape=(32, 32, 3)):
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
    opt = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
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


def define_gan(g_model, d_model):
    d_model.trainable = False
    model = keras.Sequential([g_model, d_model], name="gan")
    opt = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
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


def summarize_performance(epoch, g_model, d_model, dataset, latent_dim, out_dir, classes=CLASSES,
                          n_samples=N_EVAL_SAMPLES):
    """The discriminator's accuracy on real and fake images, a 7x7 grid, a generator snapshot."""
    snapshot = out_dir / f"generator_e{epoch:03d}.h5"
    X_real, y_real = gu.generate_real_samples(dataset, n_samples)
    _, acc_real = d_model.evaluate(X_real, y_real, verbose=0)
    x_fake, y_fake = generate_fake_samples(g_model, latent_dim, n_samples)
    _, acc_fake = d_model.evaluate(x_fake, y_fake, verbose=0)
    print(f"accuracy real: {acc_real:.0%}, fake: {acc_fake:.0%}")
    gf.write_epoch_row(out_dir / "accuracy.csv", ["epoch", "accuracy_real", "accuracy_fake"],
                      [epoch, f"{acc_real:.4f}", f"{acc_fake:.4f}"])
    gu.save_grid(x_fake[:GRID_SIZE * GRID_SIZE], out_dir / f"generated_plot_e{epoch:03d}.png", GRID_SIZE,
                 title=f"epoch {epoch}")
    save_generator(g_model, snapshot, latent_dim, epoch, classes)
    return snapshot


def save_generator(g_model, path, latent_dim, epoch, classes=CLASSES):
    gu.save_generator(g_model, path, kind="dcgan", latent_dim=latent_dim, n_classes=0, class_names=[],
                      image_shape=[32, 32, 3], dataset="cifar10",
                      trained_on=list(classes) or gd.CIFAR10_CLASSES, epoch=epoch)


def train(g_model, d_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH,
          *, steps_per_epoch=None, eval_every=EVAL_EVERY, ema_decay=EMA_DECAY, classes=CLASSES,
          out_dir=gr.default_out("dcgan_cifar10"), options=None):
    bat_per_epo = steps_per_epoch or len(dataset) // n_batch
    half_batch = n_batch // 2
    y_gan = np.ones((n_batch, 1), dtype="float32")
    run = gr.Run(out_dir, g_model, d_model, gan_model, n_images=len(dataset), loss_names=["d_real", "d_fake", "g"], ema_decay=ema_decay,
                 options=options, settings=dict(script="dcgan_cifar10", dataset="cifar10", classes=list(classes),
                                                latent_dim=latent_dim, batch_size=n_batch))
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
            snapshot = summarize_performance(i + 1, run.sample_generator(), d_model, dataset, latent_dim, run.out_dir,
                                             classes)
            run.record_summary(snapshot)
    save_generator(run.sample_generator(), run.out_dir / "generator.h5", latent_dim, n_epochs, classes)
    run.finish()


def main(argv=None):
    parser = gr.make_parser(__doc__, epochs=N_EPOCHS, batch_size=N_BATCH, eval_every=EVAL_EVERY,
                            ema_decay=EMA_DECAY, checkpoint_every=CHECKPOINT_EVERY)
    parser.add_argument("--classes", type=lambda text: [c.strip() for c in text.split(",") if c.strip()],
                        default=CLASSES, help="comma-separated class names, such as horse,deer (default: all)")
    args = parser.parse_args(argv)
    out_dir = gr.prepare_run(args, "dcgan_cifar10")
    dataset = load_real_samples(args.classes, args.data_dir)
    gr.check_batch(args.batch_size, len(dataset))
    d_model = define_discriminator()
    g_model = define_generator(LATENT_DIM)
    gan_model = define_gan(g_model, d_model)
    gu.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, LATENT_DIM, args.epochs, args.batch_size,
          steps_per_epoch=args.steps_per_epoch, eval_every=args.eval_every, classes=args.classes,
          ema_decay=args.ema_decay, out_dir=out_dir, options=gr.RunOptions.from_args(args))


if __name__ == "__main__":
    cli.run_main(main)
