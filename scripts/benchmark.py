"""Seconds per training step: each script's own loop next to the tutorial's loop, in one process,
and how much of the machine's matrix-product rate the loop reaches.

    python scripts/benchmark.py                      # every script it knows, at its default batch
    python scripts/benchmark.py cgan_fashion --rounds 5 --steps 30
    python scripts/benchmark.py --backend jax        # also: tensorflow (default), torch
    python scripts/benchmark.py --overhead           # what a step costs besides its arithmetic
    python scripts/benchmark.py --backend jax --devices 2   # this loop on 1 and on 2 devices (JAX)
    python scripts/benchmark.py cgan_fashion --backend jax --processes 2   # on 1 process and on 2

The tutorial's loop is ported with only what Keras 3 needs to run it correctly
(`learning_rate=` and the trainable switch): `predict()` for the fake half, float64 latent
points, a printed line per step. The script's loop is its own train(), its updates compiled as
one step (ganlib/step.py). Both train the same architectures on random images of the dataset's
shape and size (speed does not depend on what the pictures show), in rounds after a warm-up
round that is not counted: the tutorial's rounds, then the script's, each round of the
script's an epoch of one call of its train(), timed from its first step to the end of its last,
losses read back and variables written (the first epoch, which compiles, is the warm-up).

The work of a step is counted from the models' layer shapes: 2 operations per multiply-add of
every Dense, Conv2D and Conv2DTranspose (element-wise layers, a few percent, are left out); a
model whose weights train costs 3 forward passes (forward, gradients of inputs and of weights),
the frozen discriminator inside the composite 2 (gradients pass through it). Divided by the step
time and by the rate of large float32 matrix products measured on the same backend, it says how
much of the machine the loop uses.

--overhead takes the arithmetic out, to show what a step costs besides it, which is what a
GPU's step is made of: each script's layers with at most OVERHEAD_FILTERS filters, at batch
OVERHEAD_BATCH, the bare tutorial loop (its three train_on_batch calls with predict_on_batch),
the script's loop with --eager (one Keras call per update, as the tutorial) and compiled.
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

import ganlib.start  # noqa: E402,F401  first: the backend started before Keras loads

import contextlib  # noqa: E402
import importlib  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from numpy import ones, zeros  # noqa: E402
from numpy.random import randint, randn  # noqa: E402

from ganlib import cli, data as gd, devices, atomic_files as gf, run as gr, settings as gs  # noqa: E402
from ganlib.kinds import KINDS  # noqa: E402

MAX_MATMUL_SIZE = 8192  # 256 MiB a float32 matrix; larger ones only risk running out of memory
DATASET_SIZE = 50000  # Fashion-MNIST has 60,000 training images, CIFAR-10 50,000: either gives the same step time
OVERHEAD_FILTERS = 4  # --overhead: each convolution's filters at most
OVERHEAD_BATCH = 2


def tutorial_train_gan(g_model, d_model, gan_model, dataset, n_steps, n_batch, latent_dim, predict=None):
    """The unconditional tutorials' loop (gan_fashion, dcgan_cifar10) as they wrote it."""
    half_batch = int(n_batch / 2)
    for j in range(n_steps):
        X_real = dataset[randint(0, dataset.shape[0], half_batch)]
        y_real = ones((half_batch, 1))
        d_model.trainable = True
        d_loss1, _ = d_model.train_on_batch(X_real, y_real)
        X_fake = (predict or g_model.predict)(randn(latent_dim * half_batch).reshape(half_batch, latent_dim))
        y_fake = zeros((half_batch, 1))
        d_loss2, _ = d_model.train_on_batch(X_fake, y_fake)
        X_gan = randn(latent_dim * n_batch).reshape(n_batch, latent_dim)
        y_gan = ones((n_batch, 1))
        d_model.trainable = False
        g_loss = gan_model.train_on_batch(X_gan, y_gan)
        print(">%d, %d/%d, d1=%.3f, d2=%.3f g=%.3f" % (1, j + 1, n_steps, d_loss1, d_loss2, g_loss))


def tutorial_train_cgan(g_model, d_model, gan_model, dataset, n_steps, n_batch, latent_dim, predict=None):
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
        X_fake = (predict or g_model.predict)([z_input, labels_fake])
        y_fake = zeros((half_batch, 1))
        d_loss2, _ = d_model.train_on_batch([X_fake, labels_fake], y_fake)
        z_input = randn(latent_dim * n_batch).reshape(n_batch, latent_dim)
        labels_input = randint(0, 10, n_batch)
        y_gan = ones((n_batch, 1))
        d_model.trainable = False
        g_loss = gan_model.train_on_batch([z_input, labels_input], y_gan)
        print(">%d, %d/%d, d1=%.3f, d2=%.3f g=%.3f" % (1, j + 1, n_steps, d_loss1, d_loss2, g_loss))


def tutorial_train_acgan(g_model, d_model, gan_model, dataset, n_steps, n_batch, latent_dim, predict=None):
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
        X_fake = (predict or g_model.predict)([z_input, labels_fake])
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


def tutorial_train_infogan(g_model, d_model, gan_model, dataset, n_steps, n_batch, latent_dim, predict=None,
                           n_cat=10):
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
        X_fake = (predict or g_model.predict)(z_input)
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


def tutorial_train_pix2pix(g_model, d_model, gan_model, dataset, n_steps, n_batch, predict=None):
    """pix2pix_maps's loop as the tutorial wrote it, with the trainable switch Keras 3 needs."""
    n_patch = d_model.output_shape[1]
    trainA, trainB = dataset
    for i in range(n_steps):
        ix = randint(0, trainA.shape[0], n_batch)
        X_realA, X_realB = trainA[ix], trainB[ix]
        y_real = ones((n_batch, n_patch, n_patch, 1))
        X_fakeB = (predict or g_model.predict)(X_realA)
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


# For each script: its tutorial loop, random data of its dataset's shape, and the flags that give
# the layers its tutorial loop trains (InfoGAN's tutorial has no continuous codes).
BENCHMARKS = {
    "gan_fashion": (tutorial_train_gan, lambda: random_gan_data((28, 28, 1)), ()),
    "cgan_fashion": (tutorial_train_cgan, lambda: random_cgan_data((28, 28, 1)), ()),
    "dcgan_cifar10": (tutorial_train_gan, lambda: random_gan_data((32, 32, 3)), ()),
    "acgan_fashion": (tutorial_train_acgan, lambda: random_cgan_data((28, 28, 1)), ()),
    "infogan_mnist": (tutorial_train_infogan, lambda: random_gan_data((28, 28, 1)), ("--n-cont", "0", "--layers",
                                                                                      "tutorial")),
    "pix2pix_maps": (tutorial_train_pix2pix, lambda: [random_gan_data((256, 256, 3), 64) for _ in range(2)], ()),
}


def batch_split(script):
    """2 where each discriminator update of the script takes half a batch, 1 where it takes a whole."""
    return KINDS[script.generator_info(gs.parse_settings(vars(script), []))["kind"]].batch_split


@contextlib.contextmanager
def narrow_convolutions(most=OVERHEAD_FILTERS):
    """While models are built: every Conv2D and Conv2DTranspose with at most `most` filters."""
    wide = layers.Conv2D, layers.Conv2DTranspose

    class Conv2D(wide[0]):
        def __init__(self, filters, *args, **kwargs):
            super().__init__(min(filters, most), *args, **kwargs)

    class Conv2DTranspose(wide[1]):
        def __init__(self, filters, *args, **kwargs):
            super().__init__(min(filters, most), *args, **kwargs)

    layers.Conv2D, layers.Conv2DTranspose = Conv2D, Conv2DTranspose
    try:
        yield
    finally:
        layers.Conv2D, layers.Conv2DTranspose = wide


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


@contextlib.contextmanager
def timed_epochs(after_each=None):
    """Seconds a step of each epoch a Run trains while the block runs, from its first step to the
    end of its last (its losses read back and its variables written); `after_each()`, if given,
    runs between epochs, outside the timing."""
    seconds, original = [], gr.Run.steps

    def steps(run):
        started, n = time.perf_counter(), 0
        for step in original(run):
            n += 1
            yield step
        seconds.append((time.perf_counter() - started) / n)
        if after_each:
            after_each()

    gr.Run.steps = steps
    try:
        yield seconds
    finally:
        gr.Run.steps = original


def hidden_output():
    return contextlib.redirect_stdout(open(os.devnull, "w"))


class Loops:
    """One script's loops on the same random data: the tutorial's, and the script's own train()
    (compiled, or with --eager), each on models of its own."""

    def __init__(self, name, n_batch, n_steps, narrow=False):
        self.script = importlib.import_module(name)
        self.tutorial_train, make_data, self.flags = BENCHMARKS[name]
        self.n_batch, self.n_steps, self.narrow = n_batch or self.script.N_BATCH, n_steps, narrow
        self.dataset = make_data()
        self.settings = self._settings(1)
        self.batch_split = batch_split(self.script)
        self.tutorial_models = self._models()
        # Removed when the Loops are (or at exit): each round's run folder holds a checkpoint
        self._scratch = tempfile.TemporaryDirectory(prefix=f"benchmark_{name}_")
        self.out_dir = Path(self._scratch.name)
        g_model, d_model, gan_model, _ = self.tutorial_models
        d_batch = self.n_batch // self.batch_split
        self.flops = step_flops(g_model, d_model, gan_model, self.n_batch, d_batch)

    def _settings(self, epochs, *flags):
        return gs.parse_settings(vars(self.script), ["--epochs", str(epochs), "--batch-size", str(self.n_batch),
                                                     "--steps-per-epoch", str(self.n_steps), "--eval-samples", "0",
                                                     "--eval-every", "1000", "--checkpoint-every", "1000",
                                                     *self.flags, *flags])

    def _models(self):
        with narrow_convolutions() if self.narrow else contextlib.nullcontext():
            return self.script.define_models(self.settings)

    def tutorial_round(self):
        """Seconds a step of one round of the tutorial's loop (bare with --overhead: predict_on_batch)."""
        g_model, d_model, gan_model, _ = self.tutorial_models
        latent = (self.settings.latent_dim,) if hasattr(self.settings, "latent_dim") else ()
        started = time.perf_counter()
        with hidden_output():
            self.tutorial_train(g_model, d_model, gan_model, self.dataset, self.n_steps, self.n_batch, *latent,
                                predict=g_model.predict_on_batch if self.narrow else None)
        return (time.perf_counter() - started) / self.n_steps

    def script_loop(self, rounds, *flags, between=None):
        """Seconds a step of each epoch of the script's own train() after the first (which compiles),
        an epoch being a round; `between()` runs after each epoch."""
        settings = self._settings(rounds + 1, "--out", str(self.out_dir / f"run{time.perf_counter_ns()}"), *flags)
        g_model, d_model, gan_model, extras = self._models()
        with timed_epochs(between) as seconds, hidden_output():
            self.script.train(g_model, d_model, gan_model, self.dataset, settings, **extras)
        return seconds[1:]


def benchmark(name, n_batch, n_steps, rounds, loops=("tutorial", "script"), narrow=False):
    """(batch, operations per step, {loop: mean seconds per step over the timed rounds}) for the
    loops asked for: "tutorial", "script" (compiled) and "eager" (the script's, --eager). A round
    of the tutorial's loop follows each epoch of the others, so that the loops compared share the
    machine's moments."""
    bench = Loops(name, n_batch, n_steps, narrow)
    tutorial, between = [], None
    if "tutorial" in loops:
        bench.tutorial_round()  # the warm-up: Keras traces its train functions
        between = lambda: tutorial.append(bench.tutorial_round())  # noqa: E731
    seconds = {label: bench.script_loop(rounds, *(["--eager"] if label == "eager" else []), between=between)
               for label in loops if label != "tutorial"}
    if tutorial:
        seconds["tutorial"] = tutorial
    return bench.n_batch, bench.flops, {label: float(np.mean(values)) for label, values in seconds.items()}


def overhead(names, args):
    """What a step costs besides its arithmetic: milliseconds a step at 4 filters and batch 2."""
    print(f"each convolution at most {OVERHEAD_FILTERS} filters, batch {OVERHEAD_BATCH} (or the script's own, if smaller): what is left "
          "of a step is what it costs besides its arithmetic\n")
    print("| script | bare tutorial loop ms/step | this loop, --eager, ms/step | this loop, compiled, ms/step | "
          "compiled / tutorial | --eager / compiled |")
    print("|---|---|---|---|---|---|")
    for name in names:
        batch = min(OVERHEAD_BATCH, importlib.import_module(name).N_BATCH)
        _, _, ms = benchmark(name, batch, args.steps, args.rounds, ("tutorial", "eager", "script"), narrow=True)
        print(f"| {name} | {ms['tutorial'] * 1e3:.1f} | {ms['eager'] * 1e3:.1f} | {ms['script'] * 1e3:.1f} | "
              f"{ms['script'] / ms['tutorial']:.2f} | {ms['eager'] / ms['script']:.1f}x |", flush=True)


def scaling(names, args):
    """The script's own loop on one device and on --devices, one after the other, and how much of
    the N-fold speed the devices reach."""
    count = args.devices
    print(f"| script | batch | devices | s/step, 1 device | s/step, {count} devices | steps/s | images/s | "
          "scaling efficiency |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        n_batch, _, one = benchmark(name, args.batch_size, args.steps, args.rounds, loops=("script",))
        devices.use_devices(count, n_batch, batch_split(importlib.import_module(name)))
        count = devices.device_count(keras.distribution.distribution())
        _, _, several = benchmark(name, n_batch, args.steps, args.rounds, loops=("script",))
        keras.distribution.set_distribution(None)
        one, several = one["script"], several["script"]
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
        n_batch, _, one = benchmark(name, args.batch_size, args.steps, args.rounds, loops=("script",))
        command = [sys.executable, str(Path(__file__).with_name("launch.py")), "--processes", str(count), "--",
                   __file__, name, "--batch-size", str(n_batch), "--steps", str(args.steps), "--rounds",
                   str(args.rounds), "--seed", str(args.seed)]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
        found = [line.split(STEP_TIME)[1] for line in done.stdout.splitlines() if line.startswith("[0] " + STEP_TIME)]
        if done.returncode or not found:
            last = (done.stdout.strip().splitlines() or ["no output"])[-1]
            raise gf.UserError(f"{name} on {count} processes failed (status {done.returncode}): {last}")
        one, several = one["script"], float(found[0])
        print(f"| {name} | {n_batch} | {count} | {one:.3f} | {several:.3f} | {1 / several:.2f} | "
              f"{n_batch / several:.1f} | {one / several / count:.0%} |", flush=True)


def one_of_several_processes(args):
    """In each process of a processes_scaling run: the loop's seconds a step on every device of
    every process."""
    name = args.scripts[0]
    devices.use_devices(None, args.batch_size, batch_split(importlib.import_module(name)))
    _, _, seconds = benchmark(name, args.batch_size, args.steps, args.rounds, loops=("script",))
    print(f"{STEP_TIME}{seconds['script']}", flush=True)


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
    parser.add_argument("--overhead", action="store_true",
                        help=f"what a step costs besides its arithmetic: each script's layers at {OVERHEAD_FILTERS} "
                             f"filters, batch {OVERHEAD_BATCH}, the bare tutorial loop, --eager and compiled")
    parser.add_argument("--processes", type=cli.positive_int, default=1,
                        help="also time the script's loop on this many processes of this machine (JAX)")
    gs.add_device_flags(parser)
    args = parser.parse_args(argv)
    if args.backend and args.backend != keras.backend.backend():
        raise gf.UserError(f"Keras already runs on {keras.backend.backend()}: give --backend on the command "
                           "line of benchmark.py, or set KERAS_BACKEND")
    unknown = sorted(set(args.scripts) - set(BENCHMARKS))
    if unknown:
        raise gf.UserError(f"no benchmark for {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.processes > 1 and (keras.backend.backend() != "jax" or args.devices not in (None, 1)):
        raise gf.UserError("--processes: a run of several processes trains on JAX (--backend jax), each process on "
                           "its own devices (no --devices)")
    devices.check_devices(args.devices)
    keras.utils.set_random_seed(args.seed)
    if devices.processes()[1] > 1:
        return one_of_several_processes(args)
    devices.use_precision(args.mixed_precision, cpu_allowed=True)  # measuring it on a CPU is knowing
    dtype = keras.mixed_precision.global_policy().compute_dtype
    print(machine_line())
    rate = matmul_rate(args.matmul_size, dtype)
    print(f"matrix-product rate: {rate / 1e9:.1f} GFLOP/s ({dtype}, {args.matmul_size}x{args.matmul_size})")
    print(f"{args.rounds} rounds of {args.steps} steps each, after one warm-up round; a round of the tutorial's "
          "loop after each epoch of the script's\n")
    names = args.scripts or BENCHMARKS
    if args.overhead:
        return overhead(names, args)
    if args.processes > 1:
        return processes_scaling(names, args)
    if devices.check_devices(args.devices) != 1:
        return scaling(names, args)
    print("| script | batch | GFLOP/step | tutorial loop s/step | this loop s/step | speed-up | steps/s | "
          "images/s | GFLOP/s | of matmul rate |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        n_batch, flops, seconds = benchmark(name, args.batch_size, args.steps, args.rounds)
        tutorial, own = seconds["tutorial"], seconds["script"]
        print(f"| {name} | {n_batch} | {flops / 1e9:.2f} | {tutorial:.3f} | {own:.3f} | {tutorial / own:.2f}x | "
              f"{1 / own:.2f} | {n_batch / own:.1f} | {flops / own / 1e9:.1f} | {flops / own / rate:.0%} |",
              flush=True)


if __name__ == "__main__":
    cli.run_main(main)
