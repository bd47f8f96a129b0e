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

DATASET = "fashion_mnist"
LATENT_DIM = 100
N_EPOCHS = 100
N_BATCH = 128
EVAL_EVERY = 10
CHECKPOINT_EVERY = 1  # epochs; a checkpoint is also written on Ctrl-C
LEARNING_RATE = 0.0002
BETA_1 = 0.5
LABEL_SMOOTHING = 0.0  # 0.1 makes the discriminator's real targets 0.9
EMA_DECAY = 0.999  # the averaged generator behind grids, snapshots and metrics; 0: off (README)


def define_discriminator(in_shape=(28, 28, 1), n_classes=10):
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
    opt = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
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


def define_gan(g_model, d_model):
    d_model.trainable = False
    gen_noise, gen_label = g_model.input
    gan_output = d_model([g_model.output, gen_label])
    model = keras.Model([gen_noise, gen_label], gan_output, name="gan")
    opt = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1)
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


def summarize_performance(epoch, g_model, latent_dim, class_names, out_dir, dataset=DATASET):
    """A grid with one class per column, and a generator snapshot."""
    snapshot = out_dir / f"generator_e{epoch:03d}.h5"
    gu.save_class_grid(g_model, latent_dim, class_names, out_dir / f"generated_plot_e{epoch:03d}.png",
                       f"epoch {epoch}")
    save_generator(g_model, snapshot, latent_dim, class_names, epoch, dataset)
    return snapshot


def save_generator(g_model, path, latent_dim, class_names, epoch, dataset):
    gu.save_generator(g_model, path, kind="cgan", latent_dim=latent_dim, n_classes=len(class_names),
                      class_names=class_names, image_shape=list(g_model.output.shape[1:]),
                      dataset=dataset, epoch=epoch)


def train(g_model, d_model, gan_model, dataset, latent_dim, n_epochs=N_EPOCHS, n_batch=N_BATCH,
          *, steps_per_epoch=None, eval_every=EVAL_EVERY, ema_decay=EMA_DECAY, label_smoothing=LABEL_SMOOTHING,
          class_names=gd.FASHION_CLASSES, dataset_name=DATASET, out_dir=gr.default_out("cgan_fashion"), options=None):
    n_classes = len(class_names)
    bat_per_epo = steps_per_epoch or len(dataset[0]) // n_batch
    half_batch = n_batch // 2
    y_gan = np.ones((n_batch, 1), dtype="float32")
    run = gr.Run(out_dir, g_model, d_model, gan_model, n_images=len(dataset[0]), loss_names=["d_real", "d_fake", "g"], ema_decay=ema_decay,
                 options=options, settings=dict(script="cgan_fashion", dataset=dataset_name, latent_dim=latent_dim,
                                                n_classes=n_classes, batch_size=n_batch))
    for i in run.epochs(n_epochs):
        for j in run.steps(bat_per_epo):
            [X_real, labels_real], y_real = gu.generate_real_samples(dataset, half_batch, 1.0 - label_smoothing)
            d_model.trainable = True
            d_loss1, _ = d_model.train_on_batch([X_real, labels_real], y_real)
            [X_fake, labels], y_fake = generate_fake_samples(g_model, latent_dim, half_batch, n_classes)
            d_loss2, _ = d_model.train_on_batch([X_fake, labels], y_fake)
            [z_input, labels_input] = gu.generate_latent_points(latent_dim, n_batch, n_classes)
            d_model.trainable = False
            g_loss = gan_model.train_on_batch([z_input, labels_input], y_gan)
            run.log_step(d_loss1, d_loss2, g_loss)
        if run.summary_due(eval_every):
            snapshot = summarize_performance(i + 1, run.sample_generator(), latent_dim, class_names, run.out_dir,
                                             dataset_name)
            run.record_summary(snapshot)
    save_generator(run.sample_generator(), run.out_dir / "generator.h5", latent_dim, class_names, n_epochs,
                   dataset_name)
    run.finish()


def main(argv=None):
    parser = gr.make_parser(__doc__, epochs=N_EPOCHS, batch_size=N_BATCH, eval_every=EVAL_EVERY,
                            ema_decay=EMA_DECAY, checkpoint_every=CHECKPOINT_EVERY)
    parser.add_argument("--dataset", choices=["fashion_mnist", "mnist", "emnist"], default=DATASET)
    parser.add_argument("--label-smoothing", type=cli.fraction, default=LABEL_SMOOTHING,
                        help="real targets become 1 - this for the discriminator")
    args = parser.parse_args(argv)
    out_name = "cgan_fashion" if args.dataset == "fashion_mnist" else f"cgan_{args.dataset}"
    out_dir = gr.prepare_run(args, out_name)
    dataset, class_names = load_real_samples(args.dataset, args.data_dir)
    gr.check_batch(args.batch_size, len(dataset[0]))
    d_model = define_discriminator(dataset[0].shape[1:], len(class_names))
    g_model = define_generator(LATENT_DIM, len(class_names))
    gan_model = define_gan(g_model, d_model)
    gu.plot_architectures(out_dir, d_model, g_model, gan_model)
    train(g_model, d_model, gan_model, dataset, LATENT_DIM, args.epochs, args.batch_size,
          steps_per_epoch=args.steps_per_epoch, eval_every=args.eval_every,
          ema_decay=args.ema_decay, label_smoothing=args.label_smoothing, class_names=class_names,
          dataset_name=args.dataset, out_dir=out_dir, options=gr.RunOptions.from_args(args))


if __name__ == "__main__":
    cli.run_main(main)
