"""Seconds per training step: each script's own loop next to the tutorial's loop, in one process,
and how much of the machine's matrix-product rate the loop reaches.

    python scripts/benchmark.py                      # every script it knows, at its default batch
    python scripts/benchmark.py cgan_fashion --rounds 5 --steps 30
    python scripts/benchmark.py --backend jax        # also: tensorflow (default), torch
    python scripts/benchmark.py --backend jax --devices 2   # this loop on 1 and on 2 devices (JAX)
    python scripts/benchmark.py cgan_fashion --backend jax --processes 2   # on 1 process and on 2

The tutorial's loop is ported with only what Keras 3 needs to run it correctly
(`learning_rate=` and the trainable switch): `predict()` for the fake half, float64 latent
points, a printed line per step. Both loops train the same architectures on random images of
the dataset's shape and size (speed does not depend on what the pictures show), in alternating
rounds after a warm-up round that is not counted. A step's time is the gap between consecutive
composite updates, so it holds everything the loop does in a step and nothing it does between
epochs. Printed output of both loops goes to /dev/null while they are timed.

The work of a step is counted from the models' layer shapes: 2 operations per multiply-add of
every Dense, Conv2D and Conv2DTranspose (element-wise layers, a few percent, are left out); a
model whose weights train costs 3 forward passes (forward, gradients of inputs and of weights),
the frozen discriminator inside the composite 2 (gradients pass through it). Divided by the step
time and by the rate of large float32 matrix products measured on the same backend, it says how
much of the machine the loop uses.
"""
import argparse
import os
import sys

BACKENDS = ["tensorflow", "jax", "torch"]


def backend_flag(argv):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--backend", choices=BACKENDS, default=None)
    return pre.parse_known_args(argv)[0].backend


if __name__ == "__main__":
    _backend = backend_flag(sys.argv[1:])
    if _backend:  # Keras reads the backend once, when it is imported
        os.environ["KERAS_BACKEND"] = _backend

import gan_backend  # noqa: E402,F401  first of the rest: it configures TensorFlow before Keras loads it

import contextlib
import importlib
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers
from numpy import ones, zeros
from numpy.random import randint, randn

import gan_cli as cli
import gan_data as gd
import gan_devices
import gan_run as gr
import gan_files as gf

MAX_MATMUL_SIZE = 8192  # 256 MiB a float32 matrix; larger ones only risk running out of memory
DATASET_SIZE = 50000  # Fashion-MNIST has 60,000 training images, CIFAR-10 50,000: either gives the same step time


def tutorial_train_gan(g_model, d_model, gan_model, dataset, n_steps, n_batch, latent_dim):
    """The unconditional tutorials' loop (gan_fashion, dcgan_cifar10) as they wrote it."""
    half_batch = int(n_batch / 2)
    for j in range(n_steps):
        X_real = dataset[randint(0, dataset.shape[0], half_batch)]
        y_real = ones((half_batch, 1))
        d_model.trainable = True
        d_loss1, _ = d_model.train_on_batch(X_real, y_real)
        X_fake = g_model.predict(randn(latent_dim * half_batch).reshape(half_batch, latent_dim))
        y_fake = zeros((half_batch, 1))
        d_loss2, _ = d_model.train_on_batch(X_fake, y_fake)
        X_gan = randn(latent_dim * n_batch).reshape(n_batch, latent_dim)
        y_gan = ones((n_batch, 1))
        d_model.trainable = False
        g_loss = gan_model.train_on_batch(X_gan, y_gan)
        print(">%d, %d/%d, d1=%.3f, d2=%.3f g=%.3f" % (1, j + 1, n_steps, d_loss1, d_loss2, g_loss))


def tutorial_train_cgan(g_model, d_model, gan_model, dataset, n_steps, n_batch, latent_dim):
    """cgan_fashion's loop as the tutorial wrote it."""
    half_batch = int(n_batch / 2)
    images, labels = dataset
    for j in range(n_steps):
        ix = randint(0, images.shape[0], half_batch)
        X_real, labels_real = images[ix], labels[ix]
        y_real = ones((half_batch, 1))
        d_model.trainable = True
        d_loss1, _ = d_model.train_on_batch([X_real, labels_real], y_real)
        z_input = randn(latent_dim * half_batch).reshape(half_batch, latent_dim)
        labels_fake = randint(0, 10, half_batch)
        X_fake = g_model.predict([z_input, labels_fake])
        y_fake = zeros((half_batch, 1))
        d_loss2, _ = d_model.train_on_batch([X_fake, labels_fake], y_fake)
        z_input = randn(latent_dim * n_batch).reshape(n_batch, latent_dim)
        labels_input = randint(0, 10, n_batch)
        y_gan = ones((n_batch, 1))
        d_model.trainable = False
        g_loss = gan_model.train_on_batch([z_input, labels_input], y_gan)
        print(">%d, %d/%d, d1=%.3f, d2=%.3f g=%.3f" % (1, j + 1, n_steps, d_loss1, d_loss2, g_loss))


def tutorial_train_acgan(g_model, d_model, gan_model, dataset, n_steps, n_batch, latent_dim):
    """acgan_fashion's loop as the tutorial wrote it, with the trainable switch Keras 3 needs."""
    half_batch = int(n_batch / 2)
    images, labels = dataset
    for i in range(n_steps):
        ix = randint(0, images.shape[0], half_batch)
        X_real, labels_real = images[ix], labels[ix]
        y_real = ones((half_batch, 1))
        for layer in d_model.layers:
            layer.trainable = True
        _, d_r1, d_r2 = d_model.train_on_batch(X_real, [y_real, labels_real])
        z_input = randn(latent_dim * half_batch).reshape(half_batch, latent_dim)
        labels_fake = randint(0, 10, half_batch)
        X_fake = g_model.predict([z_input, labels_fake])
        y_fake = zeros((half_batch, 1))
        _, d_f, d_f2 = d_model.train_on_batch(X_fake, [y_fake, labels_fake])
        z_input = randn(latent_dim * n_batch).reshape(n_batch, latent_dim)
        z_labels = randint(0, 10, n_batch)
        y_gan = ones((n_batch, 1))
        for layer in d_model.layers:
            if not isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        _, g_1, g_2 = gan_model.train_on_batch([z_input, z_labels], [y_gan, z_labels])
        print(">%d, dr[%.3f,%.3f], df[%.3f,%.3f], g[%.3f,%.3f]" % (i + 1, d_r1, d_r2, d_f, d_f2, g_1, g_2))


def tutorial_train_infogan(g_model, d_model, gan_model, dataset, n_steps, n_batch, latent_dim, n_cat=10):
    """infogan_mnist's loop as the tutorial wrote it, with the trainable switch Keras 3 needs."""
    half_batch = int(n_batch / 2)
    for i in range(n_steps):
        X_real = dataset[randint(0, dataset.shape[0], half_batch)]
        y_real = ones((half_batch, 1))
        for layer in d_model.layers:
            layer.trainable = True
        d_loss1 = d_model.train_on_batch(X_real, y_real)
        cat_codes = keras.utils.to_categorical(randint(0, n_cat, half_batch), num_classes=n_cat)
        z_input = np.hstack((randn(latent_dim * half_batch).reshape(half_batch, latent_dim), cat_codes))
        X_fake = g_model.predict(z_input)
        y_fake = zeros((half_batch, 1))
        d_loss2 = d_model.train_on_batch(X_fake, y_fake)
        cat_codes = keras.utils.to_categorical(randint(0, n_cat, n_batch), num_classes=n_cat)
        z_input = np.hstack((randn(latent_dim * n_batch).reshape(n_batch, latent_dim), cat_codes))
        y_gan = ones((n_batch, 1))
        for layer in d_model.layers:
            if not isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        _, g_1, g_2 = gan_model.train_on_batch(z_input, [y_gan, cat_codes])
        print(">%d, d[%.3f,%.3f], g[%.3f] q[%.3f]" % (i + 1, d_loss1, d_loss2, g_1, g_2))


def tutorial_train_pix2pix(g_model, d_model, gan_model, dataset, n_steps, n_batch):
    """pix2pix_maps's loop as the tutorial wrote it, with the trainable switch Keras 3 needs."""
    n_patch = d_model.output_shape[1]
    trainA, trainB = dataset
    for i in range(n_steps):
        ix = randint(0, trainA.shape[0], n_batch)
        X_realA, X_realB = trainA[ix], trainB[ix]
        y_real = ones((n_batch, n_patch, n_patch, 1))
        X_fakeB = g_model.predict(X_realA)
        y_fake = zeros((len(X_fakeB), n_patch, n_patch, 1))
        for layer in d_model.layers:
            layer.trainable = True
        d_loss1 = d_model.train_on_batch([X_realA, X_realB], y_real)
        d_loss2 = d_model.train_on_batch([X_realA, X_fakeB], y_fake)
        for layer in d_model.layers:
            if not isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        g_loss, _, _ = gan_model.train_on_batch(X_realA, [y_real, X_realB])
        print(">%d, d1[%.3f] d2[%.3f] g[%.3f]" % (i + 1, d_loss1, d_loss2, g_loss))


def random_gan_data(shape, size=DATASET_SIZE):
    return gd.scale_images(np.random.randint(0, 256, (size, *shape), dtype=np.uint8))


def random_cgan_data(shape):
    return [random_gan_data(shape), np.random.randint(0, 10, DATASET_SIZE)]


def own_train_of(script, models, *extra, flags=()):
    """The script's own train() on `models` (g, d, gan), run as its command line would with these
    batches and steps (and `flags`), and without measuring."""
    def own_train(dataset, n_batch, n_steps, out_dir):
        settings = gr.parse_settings(vars(script), ["--epochs", "1", "--batch-size", str(n_batch), "--steps-per-epoch",
                                                    str(n_steps), "--eval-samples", "0", "--out", str(out_dir), *flags])
        script.train(*models, dataset, settings, *extra)

    return own_train


def build_standard(script):
    """(g_model, d_model, gan_model, the script's own train() on them)."""
    g_model, d_model = script.define_generator(script.LATENT_DIM), script.define_discriminator()
    gan_model = script.define_gan(g_model, d_model)
    return g_model, d_model, gan_model, own_train_of(script, (g_model, d_model, gan_model))


def build_infogan(script):
    """The tutorial's layers and codes (no continuous ones), which its loop trains, for both loops;
    the script's own loop with its default UPDATE_RULE: the reference rule trains the fake half
    through a model of its own, Q's head included."""
    d_model, q_model = script.define_discriminator(n_cont=0, layer_shapes="tutorial")
    info_model = script.define_info_discriminator(d_model, q_model, 0) if script.UPDATE_RULE == "reference" else None
    g_model = script.define_generator(script.LATENT_DIM + script.N_CAT, "tutorial")
    gan_model = script.define_gan(g_model, d_model, q_model, 0, discriminator=info_model)
    return g_model, d_model, gan_model, own_train_of(script, (g_model, d_model, gan_model), q_model, info_model,
                                                     flags=["--n-cont", "0", "--layers", "tutorial"])


def build_pix2pix(script):
    d_model, g_model = script.define_discriminator(), script.define_generator()
    gan_model = script.define_gan(g_model, d_model)
    return g_model, d_model, gan_model, own_train_of(script, (g_model, d_model, gan_model))


# For each script: its tutorial loop, random data of its dataset's shape, how its models are built.
BENCHMARKS = {
    "gan_fashion": (tutorial_train_gan, lambda: random_gan_data((28, 28, 1)), build_standard),
    "cgan_fashion": (tutorial_train_cgan, lambda: random_cgan_data((28, 28, 1)), build_standard),
    "dcgan_cifar10": (tutorial_train_gan, lambda: random_gan_data((32, 32, 3)), build_standard),
    "acgan_fashion": (tutorial_train_acgan, lambda: random_cgan_data((28, 28, 1)), build_standard),
    "infogan_mnist": (tutorial_train_infogan, lambda: random_gan_data((28, 28, 1)), build_infogan),
    "pix2pix_maps": (tutorial_train_pix2pix, lambda: [random_gan_data((256, 256, 3), 64) for _ in range(2)],
                     build_pix2pix),
}


def layer_flops(layer):
    """Forward operations of one layer for one sample: 2 per multiply-add of its products."""
    if isinstance(layer, keras.Model):  # G and D inside the composite
        return model_flops(layer)
    if isinstance(layer, layers.Conv2DTranspose):  # each input pixel spreads a kernel over the output
        kernel_h, kernel_w = layer.kernel_size
        _, height, width, channels = layer.input.shape
        return 2 * kernel_h * kernel_w * channels * layer.filters * height * width
    if isinstance(layer, layers.Conv2D):  # each output pixel gathers a kernel from the input
        kernel_h, kernel_w = layer.kernel_size
        _, height, width, _ = layer.output.shape
        return 2 * kernel_h * kernel_w * layer.input.shape[-1] // layer.groups * layer.filters * height * width
    if isinstance(layer, layers.Dense):
        return 2 * layer.input.shape[-1] * layer.units * int(np.prod(layer.output.shape[1:-1]))
    return 0


def model_flops(model):
    return sum(layer_flops(layer) for layer in model.layers)


def step_flops(g_model, d_model, gan_model, n_batch, d_batch):
    """One training step: two D updates on d_batch images (real, then fakes G makes), and the
    composite update on n_batch, G's weights training and gradients passing through D."""
    g_flops, d_flops = model_flops(g_model), model_flops(d_model)
    d_in_gan = model_flops(gan_model) - g_flops
    return 2 * 3 * d_flops * d_batch + g_flops * d_batch + (3 * g_flops + 2 * d_in_gan) * n_batch


def matmul_rate(size=2048, dtype="float32", chain=4, repeats=3):
    """Operations per second of size x size matrix products on the current backend: the best of
    a few runs of `chain` products waited for once (a GPU runs them asynchronously)."""
    a = keras.random.normal((size, size), seed=1, dtype=dtype)
    b = keras.random.normal((size, size), seed=2, dtype=dtype) / size ** 0.5  # keeps chained values in range

    def products():
        c = a
        for _ in range(chain):
            c = keras.ops.matmul(c, b)
        return float(keras.ops.convert_to_numpy(keras.ops.sum(c)))

    products()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        products()
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 * chain / best


def step_times(gan_model, run):
    """Gaps between consecutive composite updates while `run()` runs, with its output hidden."""
    stamps = []
    original = gan_model.train_on_batch

    def timed(*args, **kwargs):
        stamps.append(time.perf_counter())
        return original(*args, **kwargs)

    gan_model.train_on_batch = timed
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            run()
    finally:
        gan_model.train_on_batch = original
    return np.diff(stamps)


def benchmark(name, n_batch, n_steps, rounds, loops=("tutorial", "script")):
    """(batch, operations per step, mean seconds per step of the tutorial's loop and of the
    script's over the timed rounds; None for a loop not in `loops`)."""
    script = importlib.import_module(name)
    tutorial_train, make_data, build = BENCHMARKS[name]
    n_batch = n_batch or script.N_BATCH
    dataset = make_data()
    g_model, d_model, gan_model, _ = build(script)
    *_, own_gan_model, own_train = build(script)
    d_batch = n_batch if name == "pix2pix_maps" else n_batch // 2  # Pix2Pix's D sees whole batches
    flops = step_flops(g_model, d_model, gan_model, n_batch, d_batch)
    out_dir = Path(tempfile.mkdtemp(prefix=f"benchmark_{name}_"))

    def tutorial():
        latent = (script.LATENT_DIM,) if hasattr(script, "LATENT_DIM") else ()
        return step_times(gan_model, lambda: tutorial_train(g_model, d_model, gan_model, dataset, n_steps,
                                                            n_batch, *latent))

    def own():
        return step_times(own_gan_model, lambda: own_train(dataset, n_batch, n_steps, out_dir))

    times = {label: [] for label in loops}
    for round_number in range(rounds + 1):
        for label, run in (("tutorial", tutorial), ("script", own)):
            if label in loops:
                gaps = run()
                times[label].extend(gaps if round_number > 0 else [])
    mean = {label: float(np.mean(times[label])) if label in loops else None for label in ("tutorial", "script")}
    return n_batch, flops, mean["tutorial"], mean["script"]


def scaling(names, args):
    """The script's own loop on one device and on --devices, one after the other, and how much of
    the N-fold speed the devices reach."""
    count = args.devices
    print(f"| script | batch | devices | s/step, 1 device | s/step, {count} devices | steps/s | images/s | "
          "scaling efficiency |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        n_batch, _, _, one = benchmark(name, args.batch_size, args.steps, args.rounds, loops=("script",))
        gan_devices.use_devices(count, n_batch, 1 if name == "pix2pix_maps" else 2)
        count = gan_devices.device_count(keras.distribution.distribution())
        _, _, _, several = benchmark(name, n_batch, args.steps, args.rounds, loops=("script",))
        keras.distribution.set_distribution(None)
        print(f"| {name} | {n_batch} | {count} | {one:.3f} | {several:.3f} | {1 / several:.2f} | "
              f"{n_batch / several:.1f} | {one / several / count:.0%} |", flush=True)


STEP_TIME = "seconds a step: "  # how each process of a --processes run reports its time to the first


def processes_scaling(names, args):
    """The script's own loop in this process, then in --processes processes of this machine
    started by scripts/launch.py, each on its own devices, the batch split between them."""
    count = args.processes
    print(f"{count} processes on this one machine: they share its cores, so the figures show what the processes' "
          "collectives cost, not the speed of more machines\n")
    print(f"| script | batch | processes | s/step, 1 process | s/step, {count} processes | steps/s | images/s | "
          "scaling efficiency |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        n_batch, _, _, one = benchmark(name, args.batch_size, args.steps, args.rounds, loops=("script",))
        command = [sys.executable, str(Path(__file__).with_name("launch.py")), "--processes", str(count), "--",
                   __file__, name, "--batch-size", str(n_batch), "--steps", str(args.steps), "--rounds",
                   str(args.rounds), "--seed", str(args.seed)]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
        found = [line.split(STEP_TIME)[1] for line in done.stdout.splitlines() if line.startswith("[0] " + STEP_TIME)]
        if done.returncode or not found:
            last = (done.stdout.strip().splitlines() or ["no output"])[-1]
            raise gf.UserError(f"{name} on {count} processes failed (status {done.returncode}): {last}")
        several = float(found[0])
        print(f"| {name} | {n_batch} | {count} | {one:.3f} | {several:.3f} | {1 / several:.2f} | "
              f"{n_batch / several:.1f} | {one / several / count:.0%} |", flush=True)


def one_of_several_processes(args):
    """In each process of a processes_scaling run: the loop's seconds a step on every device of
    every process."""
    name = args.scripts[0]
    gan_devices.use_devices(None, args.batch_size, 1 if name == "pix2pix_maps" else 2)
    _, _, _, seconds = benchmark(name, args.batch_size, args.steps, args.rounds, loops=("script",))
    print(f"{STEP_TIME}{seconds}", flush=True)


def machine_line():
    backend = keras.backend.backend()
    versions = f"keras {keras.__version__}, numpy {np.__version__}"
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if module:
        versions += f", {module} {importlib.import_module(module).__version__}"
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return (f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores; "
            f"backend: {backend}; {versions}; TF_ENABLE_ONEDNN_OPTS={onednn}")


def main(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("scripts", nargs="*", help=f"scripts to time: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--batch-size", type=cli.int_up_to(DATASET_SIZE), default=None,
                        help=f"default: each script's own; at most {DATASET_SIZE:,}, the random dataset's size")
    parser.add_argument("--steps", type=cli.positive_int, default=20, help="training steps per round")
    parser.add_argument("--rounds", type=cli.positive_int, default=3, help="timed rounds after the warm-up")
    parser.add_argument("--seed", type=cli.seed, default=0, help="seed of the random data and weights")
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="Keras backend (default: KERAS_BACKEND, else tensorflow)")
    parser.add_argument("--matmul-size", type=cli.int_up_to(MAX_MATMUL_SIZE), default=2048,
                        help=f"side of the matrices that measure the machine's rate, at most {MAX_MATMUL_SIZE}")
    parser.add_argument("--processes", type=cli.positive_int, default=1,
                        help="also time the script's loop on this many processes of this machine (JAX)")
    gan_devices.add_flags(parser)
    args = parser.parse_args(argv)
    if args.backend and args.backend != keras.backend.backend():
        raise gf.UserError(f"Keras already runs on {keras.backend.backend()}: give --backend on the command "
                           "line of benchmark.py, or set KERAS_BACKEND")
    unknown = sorted(set(args.scripts) - set(BENCHMARKS))
    if unknown:
        raise gf.UserError(f"no benchmark for {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.steps < 2:
        raise gf.UserError("--steps must be 2 or more: a step's time is the gap between two steps")
    if args.processes > 1 and (keras.backend.backend() != "jax" or args.devices not in (None, 1)):
        raise gf.UserError("--processes: a run of several processes trains on JAX (--backend jax), each process on "
                           "its own devices (no --devices)")
    gan_devices.check_devices(args.devices)
    keras.utils.set_random_seed(args.seed)
    if gan_devices.processes()[1] > 1:
        return one_of_several_processes(args)
    gan_devices.use_precision(args.mixed_precision, cpu_allowed=True)  # measuring it on a CPU is knowing
    dtype = keras.mixed_precision.global_policy().compute_dtype
    print(machine_line())
    rate = matmul_rate(args.matmul_size, dtype)
    print(f"matrix-product rate: {rate / 1e9:.1f} GFLOP/s ({dtype}, {args.matmul_size}x{args.matmul_size})")
    print(f"{args.rounds} rounds of {args.steps} steps each, alternating, after one warm-up round\n")
    if args.processes > 1:
        return processes_scaling(args.scripts or BENCHMARKS, args)
    if gan_devices.check_devices(args.devices) != 1:
        return scaling(args.scripts or BENCHMARKS, args)
    print("| script | batch | GFLOP/step | tutorial loop s/step | this loop s/step | speed-up | steps/s | "
          "images/s | GFLOP/s | of matmul rate |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.scripts or BENCHMARKS:
        n_batch, flops, tutorial, own = benchmark(name, args.batch_size, args.steps, args.rounds)
        print(f"| {name} | {n_batch} | {flops / 1e9:.2f} | {tutorial:.3f} | {own:.3f} | {tutorial / own:.2f}x | "
              f"{1 / own:.2f} | {n_batch / own:.1f} | {flops / own / 1e9:.1f} | {flops / own / rate:.0%} |",
              flush=True)


if __name__ == "__main__":
    cli.run_main(main)
