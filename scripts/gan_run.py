"""A training run around the tutorial's loop (`Run`): the loss log and progress bar, the
checkpoint (gan_checkpoint.py), the moving-average generator, the quality log
(gan_metrics.py); and the command line every training script shares."""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import gan_metrics as gm  # noqa: E402
from gan_checkpoint import Checkpoint, Interrupted, stop_requests_handled  # noqa: E402
import gan_utils as gu  # noqa: E402
from gan_devices import add_flags as add_device_flags, device_count, splitting_batches, use_devices, use_precision  # noqa: E402,E501
from gan_files import REPO_DIR, ArgumentParser, UserError, atomic_write, one_line, remove_partial_files, write_csv  # noqa: E402
from gan_report import PROGRESS_DIR, read_run_info, save_frame, update_run_info, write_progress_gif, write_report  # noqa: E402,E501

EVAL_SAMPLES = 2000  # generated images behind each summary's metrics (gan_metrics.py)
EMA_WARMUP = 10  # the average's decay at update t (from 1) is min(decay, t / (EMA_WARMUP + t - 1))
BATCHNORM_BATCHES = 20  # batches that re-estimate the averaged generator's BatchNormalization statistics
BATCHNORM_BATCH_SIZE = 256
PROGRESS_IMAGES = 64  # images in each progress.gif frame (Pix2Pix: PROGRESS_PAIRS pairs)
PROGRESS_COLUMNS = 8
PROGRESS_PAIRS = 3


class LossLog:
    """Per-step losses, written as losses.csv and losses.png, and shown on a progress bar."""

    def __init__(self, out_dir, names):
        self.out_dir = Path(out_dir)
        self.names = list(names)
        self.rows = []
        self.progbar = None

    def start_epoch(self, epoch, n_epochs, steps):
        print(f"Epoch {epoch}/{n_epochs}")
        self.progbar = keras.utils.Progbar(steps, stateful_metrics=self.names)

    def step(self, epoch, step, *losses):
        losses = [float(v) for v in losses]
        for name, value in zip(self.names, losses):
            if not np.isfinite(value):
                raise UserError(f"loss {name} became {value} at epoch {epoch}, step {step}: training "
                                f"diverged and stopped; the snapshots and checkpoint in {self.out_dir} "
                                "are from before it")
        self.rows.append([epoch, step, *losses])
        self.progbar.update(step, values=list(zip(self.names, losses)))

    def save(self):
        write_csv(self.out_dir / "losses.csv", ["epoch", "step", *self.names], self.rows)
        fig, ax = plt.subplots(figsize=(8, 4))
        values = np.array([row[2:] for row in self.rows]).reshape(-1, len(self.names))
        for k, name in enumerate(self.names):
            ax.plot(values[:, k], label=name, linewidth=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        atomic_write(self.out_dir / "losses.png", lambda tmp: fig.savefig(tmp, format="png"))
        plt.close(fig)


class AveragedGenerator:
    """An exponential moving average of a generator's weights (Yazici et al. 2019, "The Unusual
    Effectiveness of Averaging in GAN Training"): cleaner samples at no training cost. The
    generator trains exactly as without it; the average follows it after each composite update,
    with a warm-up so that it does not drag the random first weights along."""

    def __init__(self, g_model, decay, batchnorm_inputs=None):
        self.source, self.decay, self.batchnorm_inputs = g_model, decay, batchnorm_inputs
        self.model = keras.models.clone_model(g_model)
        self.model.set_weights(g_model.get_weights())
        self.ready = False

    def update(self, updates):
        """After the generator's `updates`-th update (from 1)."""
        decay = min(self.decay, updates / (EMA_WARMUP + updates - 1))
        for average, weight in zip(self.model.trainable_weights, self.source.trainable_weights):
            average.assign(average * decay + weight * (1 - decay))
        self.ready = False

    def for_sampling(self):
        """The averaged generator, with BatchNormalization statistics that fit its weights."""
        if not self.ready:
            for average, statistic in zip(self.model.non_trainable_weights, self.source.non_trainable_weights):
                average.assign(statistic)
            if self.batchnorm_inputs is not None:
                self._reestimate_batchnorm()
            self.ready = True
        return self.model

    def _reestimate_batchnorm(self):
        """The training generator's moving statistics describe other weights' activations. For a
        generator sampled in inference mode, they are measured again on the averaged weights: the
        mean over BATCHNORM_BATCHES batches (momentum k/(k+1) at batch k averages them equally)."""
        norms = [layer for layer in self.model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
        momenta = [layer.momentum for layer in norms]
        with gm.numpy_random_state_kept():
            for k in range(BATCHNORM_BATCHES):
                for layer in norms:
                    layer.momentum = k / (k + 1)
                self.model(self.batchnorm_inputs(BATCHNORM_BATCH_SIZE), training=True)
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


@dataclass
class RunOptions:
    """What main() passes on to a run from the command line; train() alone uses the defaults.
    `flags`: every flag's value, shown in the report."""
    resume: bool = False
    checkpoint_every: int = 1
    eval_samples: int = 0
    data_dir: str = None
    judge_dir: str = None
    flags: dict = None

    @classmethod
    def from_args(cls, args):
        return cls(args.resume, args.checkpoint_every, args.eval_samples, args.data_dir, args.judge_dir, vars(args))


class Run:
    """One training run. train() keeps the tutorial's loop, with `epochs()` and `steps()` as its
    loops, `log_step()` after the three updates, and `summary_due()`, `sample_generator()` and
    `record_summary()` at each summary. `ema_decay` 0 turns the averaged generator off. The run
    keeps report.html and progress.gif (gan_report.py) up to date at each summary, at the end,
    and when it stops early."""

    def __init__(self, out_dir, g_model, d_model, gan_model, *, loss_names, settings, n_images=None, ema_decay=0.0,
                 options=None, extra_models=(), batchnorm="frozen", batchnorm_inputs=None, pairs=None):
        options = options or RunOptions()
        self.out_dir, self.g_model, self.checkpoint_every = Path(out_dir), g_model, options.checkpoint_every
        self.pairs, self.settings, self.n_images = pairs, settings, n_images
        self.out_dir.mkdir(parents=True, exist_ok=True)
        remove_partial_files(self.out_dir)
        self.log = LossLog(self.out_dir, loss_names)
        self.average = AveragedGenerator(g_model, ema_decay, batchnorm_inputs) if ema_decay else None
        models = [g_model, d_model, *extra_models] + ([self.average.model] if self.average else [])
        precision = keras.mixed_precision.global_policy().name
        self.checkpoint = Checkpoint(self.out_dir, self.log, models, d_model, gan_model, resume=options.resume,
                                     batchnorm=batchnorm, settings=dict(settings, ema_decay=ema_decay,
                                                                        precision=precision))
        # Every variable so far (models, average, a resumed run's optimizers) was made under the
        # run's distribution (gan_devices.use_devices); from here it is in force only in steps().
        self.distribution = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        self._start_report(settings, options)
        self.quality = gm.QualityLog(self.out_dir, options.eval_samples, options.data_dir, pairs=pairs,
                                     resume=options.resume, judge_dir=options.judge_dir)
        self.epoch = self.step = self.n_epochs = 0

    def epochs(self, n_epochs):
        """The epochs still to train (from 0); a checkpoint after each, every `checkpoint_every`."""
        self.n_epochs = n_epochs
        for self.epoch in range(self.checkpoint.epoch, n_epochs):
            yield self.epoch
            self.checkpoint.epoch_done(self.epoch, n_epochs, self.checkpoint_every)

    def steps(self, n_steps):
        """This epoch's steps still to train, with a progress bar; on Ctrl-C a checkpoint after the step."""
        first = self.checkpoint.first_step(self.epoch)
        if self.epoch == self.checkpoint.epoch:
            self._header(n_steps)
        self.log.start_epoch(self.epoch + 1, self.n_epochs, n_steps)
        with splitting_batches(self.distribution):
            for self.step in range(first, n_steps):
                yield self.step
                try:
                    self.checkpoint.step_done(self.epoch, self.step)
                except Interrupted:
                    self._report(state="interrupted", resume_command=resume_command())
                    raise
        self.log.save()
        if self.epoch == self.checkpoint.epoch and n_steps > first and self.epoch + 1 < self.n_epochs:
            self._estimate(n_steps - first, n_steps)

    def log_step(self, *losses):
        try:
            self.log.step(self.epoch + 1, self.step + 1, *losses)
        except UserError as error:
            self._report(state="diverged", message=str(error))
            raise
        if self.average:
            self.average.update(len(self.log.rows))

    def summary_due(self, eval_every):
        return (self.epoch + 1) % eval_every == 0 or self.epoch + 1 == self.n_epochs

    def sample_generator(self):
        """The generator the grids, snapshots and metrics show: the average, when it is on."""
        return self.average.for_sampling() if self.average else self.g_model

    def record_summary(self, snapshot):
        """After the script's own summary (grid, snapshot): the metrics, the progress frame and
        animation, and the report."""
        raw = self.g_model if self.average else None
        self.quality.record(self.epoch + 1, self.sample_generator(), snapshot, raw_model=raw,
                            minutes=self.checkpoint.seconds() / 60)
        self._draw_progress(snapshot)
        write_progress_gif(self.out_dir)
        self._report(state="running")

    def finish(self):
        """The end of train(), which leaves Keras' distribution as it found it."""
        keras.distribution.set_distribution(self.distribution)
        self._report(state="finished")
        print(f"generator saved to {self.out_dir / 'generator.h5'}; report: {self.out_dir / 'report.html'}")
        self.quality.report()

    def _start_report(self, settings, options):
        earlier = read_run_info(self.out_dir) if options.resume else {}
        flags = {k: v for k, v in (options.flags or {}).items() if v is not None}
        update_run_info(self.out_dir, script=settings.get("script"), command=shlex.join(["python", *sys.argv]),
                        started=earlier.get("started", time.strftime("%Y-%m-%d %H:%M:%S")),
                        machine=f"{platform.machine()}, {os.cpu_count()} cores",
                        backend=f"{keras.backend.backend()}, {device_count(self.distribution)} device(s), "
                                f"{keras.mixed_precision.global_policy().name}",
                        hyperparameters=dict(settings, **flags), state="starting")

    def _report(self, **fields):
        update_run_info(self.out_dir, seconds=self.checkpoint.seconds(),
                        updated=time.strftime("%Y-%m-%d %H:%M:%S"), **fields)
        write_report(self.out_dir)

    def _draw_progress(self, snapshot):
        """The same inputs through the sample generator at every summary: a frame of progress.gif.
        Pix2Pix: the first validation pairs, source, translation and target in rows."""
        info = gu.read_generator_info(snapshot)
        g_model = self.sample_generator()
        if info["kind"] == "pix2pix":
            sources, targets = (part[:PROGRESS_PAIRS] for part in self.pairs)
            translate = gu.in_training_mode(g_model)  # as the script draws it: pix2pix_maps.py
            made = np.concatenate([translate.predict_on_batch(x[None]) for x in sources])
            images, n_cols = np.concatenate([sources, made, targets]), len(sources)
        else:
            n_cols = info.get("n_cat") or info["n_classes"] or PROGRESS_COLUMNS
            inputs, _ = gm.generator_inputs(info, n_cols * max(2, PROGRESS_IMAGES // n_cols), np.random.default_rng(0))
            images = g_model.predict(inputs, batch_size=256, verbose=0)
        save_frame(images, n_cols, self.out_dir / PROGRESS_DIR / f"e{self.epoch + 1:03d}.png")

    def _header(self, n_steps):
        dataset = f" on {self.settings['dataset']}" if "dataset" in self.settings else ""
        images = f"{self.n_images:,} training images, " if self.n_images else ""
        start = f", from epoch {self.epoch + 1} step {self.checkpoint.step + 1}" if self.epoch or self.checkpoint.step else ""
        print(f"{self.settings.get('script')}{dataset}: {images}batch {self.settings.get('batch_size')}, {n_steps} "
              f"steps an epoch, {self.n_epochs} epochs{start}; writing to {self.out_dir}")

    def _estimate(self, steps_timed, n_steps):
        """After the first epoch of this session: the time the run will take at its step rate."""
        seconds = (time.time() - self.checkpoint.started) / steps_timed
        left = seconds * ((self.n_epochs - self.epoch - 1) * n_steps)
        print(f"{seconds:.3g} s a step: about {format_duration(left)} more for the "
              f"{self.n_epochs - self.epoch - 1} epochs left (summaries not counted)")


# ---------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------

MAX_SEED = 2**32 - 1  # NumPy's and Keras' seeds are 32-bit


def _whole_number(text, minimum, maximum=None):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} must be {minimum} or more")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"{value} is over the limit of {maximum:,}")
    return value


def positive_int(text):
    return _whole_number(text, 1)


def non_negative_int(text):
    return _whole_number(text, 0)


def int_up_to(maximum, minimum=1):
    """A flag's type: a whole number from `minimum` to `maximum`, named in the error."""
    return lambda text: _whole_number(text, minimum, maximum)


def seed(text):
    return _whole_number(text, 0, MAX_SEED)


def finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def fraction(text):
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 0 and below 1")
    return value


def resume_command():
    """The command line that goes on from this run's checkpoint."""
    argv = ["python", *sys.argv]
    return shlex.join(argv if "--resume" in argv else argv + ["--resume"])


def format_duration(seconds):
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min" if minutes else f"{seconds:.0f} s"


def default_out(name):
    return REPO_DIR / "outputs" / name


def make_parser(doc, *, epochs, batch_size, eval_every, ema_decay, checkpoint_every=1):
    """The flags every training script has, with its top-of-file constants as defaults."""
    parser = ArgumentParser(doc)
    parser.add_argument("--epochs", type=positive_int, default=epochs, help="epochs to train, in all")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size, help="images a step")
    parser.add_argument("--steps-per-epoch", type=positive_int, default=None,
                        help="steps per epoch (default: one pass over the dataset)")
    parser.add_argument("--eval-every", type=positive_int, default=eval_every,
                        help="epochs between summaries: metrics, sample grids and generator snapshots")
    parser.add_argument("--data-dir", default=None, help="a folder holding the dataset files")
    parser.add_argument("--out", default=None, help="output folder (default: outputs/<script>/)")
    parser.add_argument("--seed", type=seed, default=None, help=f"seed for repeatable runs (0 to {MAX_SEED})")
    parser.add_argument("--resume", action="store_true", help="go on from the output folder's checkpoint")
    parser.add_argument("--checkpoint-every", type=positive_int, default=checkpoint_every,
                        help="epochs between checkpoints (one is also written on Ctrl-C)")
    parser.add_argument("--eval-samples", type=int_up_to(gm.MAX_SAMPLES, minimum=0), default=EVAL_SAMPLES,
                        help="images (Pix2Pix: validation pairs) measured at each summary into metrics.csv, "
                             f"at most {gm.MAX_SAMPLES:,}; 0 skips the measuring and the judge")
    parser.add_argument("--ema-decay", type=fraction, default=ema_decay,
                        help="decay of the generator's moving average, which the grids, snapshots and metrics "
                             "use; 0 turns it off (the tutorial)")
    parser.add_argument("--judge-dir", default=None,
                        help="where judges are cached (default: judges/ under KERAS_HOME or ~/.keras)")
    add_device_flags(parser)
    return parser


def check_folders(**flags):
    """Folder flags (data_dir="...") that name an existing file instead of a folder."""
    for flag, path in flags.items():
        if path is not None and Path(path).exists() and not Path(path).is_dir():
            raise UserError(f"--{flag.replace('_', '-')} {path} is a file; it should name a folder")


def prepare_run(args, out_name, batch_split=2):
    """Before the models are built: the devices and precision they compute in, the seed, folders
    that are folders, and an output folder that can be written. `batch_split`: 2 where each
    discriminator update takes half a batch, 1 where it takes a whole one (gan_devices.use_devices)."""
    check_folders(data_dir=args.data_dir, judge_dir=args.judge_dir)
    use_precision(args.mixed_precision)
    use_devices(args.devices, args.batch_size, batch_split)
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    out = Path(args.out) if args.out else default_out(out_name)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out).close()
    except OSError as error:
        raise UserError(f"cannot write to the output folder {out} ({error.strerror})")
    return out


def check_batch(n_batch, n_images):
    if n_batch > n_images:
        raise UserError(f"--batch-size {n_batch} is larger than the dataset ({n_images} images)")


def run_main(main, argv=None):
    """Run `main`: a UserError, or a file that cannot be read or written, becomes one line on
    stderr and exit status 2; Ctrl-C and SIGTERM stop training after the current step, with a
    checkpoint (exit status 130)."""
    started = time.time()
    try:
        with stop_requests_handled():
            main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or one_line(error)}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as stop:
        print(stop, file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print(f"interrupted after {time.time() - started:.0f} s", file=sys.stderr)
        sys.exit(130)
