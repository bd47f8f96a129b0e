"""Q alone on real digits: infogan_mnist.py's Q (the discriminator's shared layers and Q's head)
trained only on the information form of the consistency term, no generator, and read on the 10,000
real test digits every 250 steps (values matched to digits). It shows which digits Q's clustering
of real digits separates on its own, before any generated digit pulls at it.

    python docs/results/screening/q_clustering_probe.py --seed 9 --steps 2000 --batch 64
    python docs/results/screening/q_clustering_probe.py --seed 9 --steps 2000 --batch 64 --over-clustering 50
    python docs/results/screening/q_clustering_probe.py --seed 9 --steps 2000 --batch 64 --elastic

--over-clustering K adds IIC's auxiliary head of K values beside Q's ten, on the same features,
trained on the same term (Ji et al. 2019). --elastic adds an elastic distortion after the
script's turns, zooms and shifts (Simard et al. 2003's: a random field smoothed by a Gaussian of
4 pixels, scaled by 34), the augmentation Elastic-InfoGAN is named after. MNIST is read from
--data-dir as the scripts read it.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

import infogan_mnist as im  # noqa: E402
from ganlib import data as gd, measures  # noqa: E402


def gaussian_taps(sigma):
    radius = int(round(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return taps / taps.sum()


def elastic_distortion(images, noise, alpha=34.0, sigma=4.0, fill=-1.0):
    """Each image resampled (bilinear, `fill` outside) along its `noise` (batch, height, width, 2:
    rows, columns) smoothed by the Gaussian and scaled by alpha; infogan_mnist.py's
    ElasticDistortion does the same in keras.ops (tests/test_infogan_mnist.py compares them)."""
    n, height, width, _ = images.shape
    taps = gaussian_taps(sigma)
    field = np.moveaxis(noise, 3, 1)
    for axis in (2, 3):
        field = np.apply_along_axis(lambda line: np.convolve(line, taps, mode="same"), axis, field)
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    y, x = rows + alpha * field[:, 0], columns + alpha * field[:, 1]
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    wy, wx = y - y0, x - x0
    padded = np.pad(images[..., 0], ((0, 0), (1, 2), (1, 2)), constant_values=fill)
    batch = np.arange(n)[:, None, None]

    def pixel(yy, xx):
        return padded[batch, np.clip(yy, -1, height) + 1, np.clip(xx, -1, width) + 1]

    out = ((1 - wy) * (1 - wx) * pixel(y0, x0) + (1 - wy) * wx * pixel(y0, x0 + 1)
           + wy * (1 - wx) * pixel(y0 + 1, x0) + wy * wx * pixel(y0 + 1, x0 + 1))
    return out[..., None].astype(images.dtype)


def define_clustering(q_model, over_clustering):
    """The consistency update of infogan_mnist.py's information form, and, with over_clustering,
    IIC's auxiliary head trained on the same pairs."""
    if not over_clustering:
        return im.define_consistency(q_model, 1.0, "information")
    features = keras.Model(q_model.input, q_model.get_layer("category").input)
    category = keras.Model(q_model.input, q_model.outputs[0])
    auxiliary = layers.Dense(over_clustering, activation="softmax", dtype="float32", name="over_clustering")
    real, augmented = keras.Input(shape=(28, 28, 1)), keras.Input(shape=(28, 28, 1))
    readings = layers.Concatenate()([category(real), category(augmented)])
    auxiliary_readings = layers.Concatenate()([auxiliary(features(real)), auxiliary(features(augmented))])
    model = keras.Model([real, augmented], [readings, auxiliary_readings])
    model.compile(loss=[im.mutual_information_loss] * 2,
                  optimizer=keras.optimizers.Adam(learning_rate=im.LEARNING_RATE, beta_1=im.BETA_1))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--over-clustering", type=int, default=0)
    parser.add_argument("--elastic", action="store_true")
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    train_images = gd.scale_images(gd.load_dataset("mnist", args.data_dir, "train")[0])
    test_images, test_labels = gd.load_dataset("mnist", args.data_dir, "test")
    test_images = gd.scale_images(test_images)
    _, q_model = im.define_discriminator()
    model = define_clustering(q_model, args.over_clustering)
    augment = im.define_augmentation()
    targets = [np.zeros((args.batch, 2 * n), "float32") for n in [im.N_CAT] + [args.over_clustering] * bool(args.over_clustering)]
    rng = np.random.default_rng(args.seed)
    start = time.time()
    for step in range(1, args.steps + 1):
        real = train_images[rng.integers(0, len(train_images), args.batch)]
        augmented = np.asarray(augment(real, training=True))
        if args.elastic:
            augmented = elastic_distortion(augmented, np.moveaxis(rng.uniform(-1, 1, (args.batch, 2, 28, 28)), 1, 3))
        model.train_on_batch([real, augmented], targets)
        if step % 250 == 0 or step == args.steps:
            codes = np.asarray(q_model.predict(test_images, batch_size=500, verbose=0)[0]).argmax(axis=1)
            counts = measures.code_counts(codes, test_labels, im.N_CAT, 10)
            shares = np.bincount(codes, minlength=im.N_CAT) / len(codes)
            print(f"step {step}: Q on the real test digits {measures.code_accuracy(codes, test_labels, im.N_CAT, 10):.2%}, "
                  f"largest share {shares.max():.1%}, values unused {int(np.sum(shares == 0))} "
                  f"({time.time() - start:.0f} s)", flush=True)
    print("\n".join(measures.code_digits(counts, [str(d) for d in range(10)])))


if __name__ == "__main__":
    main()
