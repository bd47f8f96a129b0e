"""A training run around the tutorial's loop (`Run`): the loss log and progress bar, the
checkpoint (gan_checkpoint.py), the moving-average generator, the quality log
(gan_metrics.py); and the command line every training script shares."""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl  # POSIX: the output folder's lock
except ImportError:  # Windows: no lock; the other refusals still stand
    fcntl = None

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import gan_metrics as gm  # noqa: E402
from gan_checkpoint import Checkpoint, saved_epoch  # noqa: E402
from gan_cli import (MAX_SEED, ArgumentParser, Interrupted, check_folders, format_duration, fraction, int_up_to,  # noqa: E402
                     positive_int, resume_command, seed)
import gan_utils as gu  # noqa: E402
from gan_devices import add_flags as add_device_flags, device_count, splitting_batches, use_devices, use_precision  # noqa: E402,E501
from gan_kinds import progress_inputs  # noqa: E402
from gan_files import REPO_DIR, UserError, atomic_write, remove_partial_files, write_csv  # noqa: E402
from gan_report import PROGRESS_DIR, read_run_info, save_frame, update_run_info, write_progress_gif, write_report  # noqa: E402,E501

EVAL_SAMPLES = 2000  # generated images behind each summary's metrics (gan_metrics.py)
EMA_WARMUP = 10  # the average's decay at update t (from 1) is min(decay, t / (EMA_WARMUP + t - 1))
BATCHNORM_BATCHES = 20  # batches that re-estimate the averaged generator's BatchNormalization statistics
BATCHNORM_BATCH_SIZE = 256
PROGRESS_PAIRS = 3  # Pix2Pix's progress frames; every other kind's: gan_kinds.progress_inputs
RUN_LOCK = ".run.lock"  # in the output folder, held by the run writing there
EARLIER_PREFIX = "earlier-"  # --fresh moves an earlier run's files into earlier-<date>-<time>/
_HELD_LOCKS = {}  # this process's output-folder locks by folder, open until it exits
REFRESH_SECONDS = 60  # losses.csv, losses.png and the report are rewritten during an epoch this often,
REFRESH_STEPS = 500  # or after this many steps, whichever comes first


def script_constants(script):
    """The UPPER_CASE settings at the top of a training script, as they are in this run: every one
    is recorded in run.json and the checkpoint, and a resume names those edited since."""
    module = sys.modules.get(script)
    if module is None or Path(getattr(module, "__file__", "")).stem != script:
        module = sys.modules["__main__"]
    if Path(getattr(module, "__file__", "")).stem != script:
        return {}
    return {name: list(value) if isinstance(value, tuple) else value for name, value in vars(module).items()
            if name.isupper() and isinstance(value, (bool, int, float, str, list, tuple))}


class ResumedProgbar(keras.utils.Progbar):
    """Keras' progress bar, whose time estimate counts only the steps this session ran: a bar
    resumed at step `first` would otherwise take the steps before it as done in no time."""

    def __init__(self, target, first, **kwargs):
        super().__init__(target, **kwargs)
        self.first = first

    def _estimate_step_duration(self, current, now):
        return super()._estimate_step_duration(current - self.first, now)


class LossLog:
    """Per-step losses, written as losses.csv and losses.png, and shown on a progress bar."""

    def __init__(self, out_dir, names):
        self.out_dir = Path(out_dir)
        self.names = list(names)
        self.rows = []
        self.progbar = None

    def start_epoch(self, epoch, n_epochs, steps, first=0):
        print(f"Epoch {epoch}/{n_epochs}")
        self.progbar = ResumedProgbar(steps, first, stateful_metrics=self.names)

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
        self.quality = gm.QualityLog(self.out_dir, options.eval_samples, options.data_dir, pairs=pairs,
                                     resume=options.resume, judge_dir=options.judge_dir)
        self.quality.prepare(settings.get("dataset"))
        self.average = AveragedGenerator(g_model, ema_decay, batchnorm_inputs) if ema_decay else None
        models = [g_model, d_model, *extra_models] + ([self.average.model] if self.average else [])
        precision = keras.mixed_precision.global_policy().name
        self.constants = script_constants(settings.get("script"))
        self.checkpoint = Checkpoint(self.out_dir, self.log, models, d_model, gan_model, resume=options.resume,
                                     batchnorm=batchnorm, settings=dict(settings, ema_decay=ema_decay,
                                                                        precision=precision),
                                     constants=self.constants)
        # Every variable so far (models, average, a resumed run's optimizers) was made under the
        # run's distribution (gan_devices.use_devices); from here it is in force only in steps().
        self.distribution = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        self._start_report(settings, options)
        self.epoch = self.step = self.n_epochs = self.steps_per_epoch = 0

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
        self.steps_per_epoch = n_steps
        self.log.start_epoch(self.epoch + 1, self.n_epochs, n_steps, first)
        refreshed, refreshed_at = time.time(), first
        with splitting_batches(self.distribution):
            for self.step in range(first, n_steps):
                yield self.step
                try:
                    self.checkpoint.step_done(self.epoch, self.step)
                except Interrupted:
                    self._report(state="interrupted", resume_command=resume_command())
                    raise
                if self.step + 1 < n_steps and (self.step + 1 - refreshed_at >= REFRESH_STEPS
                                                or time.time() - refreshed > REFRESH_SECONDS):
                    self.log.save()
                    self._report(state="running")
                    refreshed, refreshed_at = time.time(), self.step + 1
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
        """Every `eval_every` epochs, after the first (a first look within minutes) and the last."""
        return self.epoch == 0 or (self.epoch + 1) % eval_every == 0 or self.epoch + 1 == self.n_epochs

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
                        hyperparameters=dict(settings, **flags), constants=self.constants, judge=self.quality.judge(),
                        state="starting")

    def _report(self, **fields):
        update_run_info(self.out_dir, seconds=self.checkpoint.seconds(), updated=time.strftime("%Y-%m-%d %H:%M:%S"),
                        steps_total=self.steps_per_epoch * self.n_epochs, **fields)
        write_report(self.out_dir)

    def _draw_progress(self, snapshot):
        """The same inputs through the sample generator at every summary: a frame of progress.gif.
        Pix2Pix: the first validation pairs, source, translation and target in rows."""
        info = gu.read_generator_info(snapshot)
        g_model = self.sample_generator()
        if self.pairs is not None:
            sources, targets = (part[:PROGRESS_PAIRS] for part in self.pairs)
            translate = gu.in_training_mode(g_model)  # as the script draws it: pix2pix_maps.py
            made = np.concatenate([translate.predict_on_batch(x[None]) for x in sources])
            images, n_cols = np.concatenate([sources, made, targets]), len(sources)
        else:
            inputs, n_cols = progress_inputs(info, np.random.default_rng(0))
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
    parser.add_argument("--fresh", action="store_true",
                        help="start over in an output folder that holds a run, moving its files into a dated "
                             "subfolder first")
    parser.add_argument("--checkpoint-every", type=positive_int, default=checkpoint_every,
                        help="epochs between checkpoints (one is also written on Ctrl-C)")
    parser.add_argument("--eval-samples", type=int_up_to(gm.MAX_SAMPLES, minimum=0), default=EVAL_SAMPLES,
                        help="images (Pix2Pix: validation pairs) measured at each summary into metrics.csv, "
                             f"at most {gm.MAX_SAMPLES:,}; 0 skips the measuring and the judge")
    parser.add_argument("--ema-decay", type=fraction, default=ema_decay,
                        help="decay of the generator's moving average, which the grids, snapshots and metrics "
                             "use; 0 turns it off (the tutorial)")
    parser.add_argument("--judge-dir", default=None,
                        help="where judges for datasets without a shipped one are cached "
                             "(default: judges/ under KERAS_HOME or ~/.keras)")
    add_device_flags(parser)
    return parser


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
    blocking = next((folder for folder in [out, *out.parents] if folder.exists() and not folder.is_dir()), None)
    if blocking is not None:
        raise UserError(f"cannot write to the output folder {out}: {blocking} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out).close()
    except OSError as error:
        raise UserError(f"cannot write to the output folder {out} ({error.strerror})")
    claim_output_folder(out, resume=args.resume, fresh=args.fresh, epochs=args.epochs)
    return out


def claim_output_folder(out, *, resume, fresh, epochs):
    """One run per output folder. A lock held for the run's life (the system releases it however
    the process ends) refuses a second run into the folder, naming the first. A run found there is
    never overwritten: --resume goes on with it, --fresh moves its files aside into a dated
    subfolder; without either it is refused. --resume of a run already at --epochs writes nothing."""
    lock = _HELD_LOCKS.get(out.resolve()) or open(out / RUN_LOCK, "a+")
    if fcntl is not None and out.resolve() not in _HELD_LOCKS:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "a process that has not said which"
            lock.close()
            raise UserError(f"{out} is in use by another run ({holder}); wait for it to end or choose another --out")
    checkpoint = out / "checkpoint.npz"
    if resume and fresh:
        raise UserError("--resume and --fresh cannot go together: --resume continues the run in the folder, "
                        "--fresh starts over")
    if fresh:
        moved = move_earlier_run(out)
        if moved:
            print(f"--fresh: the earlier run's files are in {moved}")
    elif checkpoint.is_file() and not resume:
        finished = read_run_info(out).get("state") == "finished"
        raise UserError(f"{out} holds {'a finished' if finished else 'an unfinished'} run: add --resume to "
                        f"{'train it further (with a larger --epochs)' if finished else 'continue it'}, or "
                        "--fresh to start over (its files are moved aside, not deleted)")
    elif checkpoint.is_file() and (done := saved_epoch(checkpoint)) is not None and done >= epochs:
        print(f"the run in {out} is already at epoch {done} (--epochs {epochs}): nothing to train; "
              "give a larger --epochs to go on")
        sys.exit(0)
    lock.seek(0)
    lock.truncate()
    lock.write(f"process {os.getpid()}: {shlex.join(['python', *sys.argv])}, "
               f"started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    lock.flush()
    _HELD_LOCKS[out.resolve()] = lock


def move_earlier_run(out):
    """Every file and folder of an earlier run in `out` into out/earlier-<date>-<time>/, or None
    when there was nothing to move."""
    entries = [p for p in out.iterdir() if p.name != RUN_LOCK and not p.name.startswith(EARLIER_PREFIX)]
    if not entries:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    earlier = out / f"{EARLIER_PREFIX}{stamp}"
    for k in range(1, 1000):
        if not earlier.exists():
            break
        earlier = out / f"{EARLIER_PREFIX}{stamp}-{k}"
    earlier.mkdir()
    for entry in entries:
        entry.rename(earlier / entry.name)
    return earlier


def check_batch(n_batch, n_images):
    if n_batch > n_images:
        raise UserError(f"--batch-size {n_batch} is larger than the dataset ({n_images} images)")


