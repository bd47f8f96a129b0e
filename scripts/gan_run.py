"""A training run around the tutorial's loop (`Run`): the loss log and progress bar, the
checkpoint (gan_checkpoint.py), the moving-average generator, the quality log
(gan_metrics.py); and the command line every training script shares."""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import argparse
import os
import platform
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

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
from gan_cli import (MAX_SEED, STOP, ArgumentParser, Interrupted, check_folders, comma_list, format_duration,  # noqa: E402
                     fraction, int_up_to, non_negative_float, non_negative_int, positive_float, positive_int,
                     resume_command, seed)
import gan_utils as gu  # noqa: E402
from gan_devices import (add_flags as add_device_flags, agree_on_settings, any_process, device_count,  # noqa: E402
                         feed_own_rows, splitting_batches, use_devices, use_precision)
import gan_files as gf  # noqa: E402
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


class Run:
    """One training run. train() keeps the tutorial's loop, with `epochs()` and `steps()` as its
    loops, `log_step()` after the updates and `summarize()` at the end of each epoch; `finish()`
    saves generator.h5. `settings` (parse_settings) hold the script's constants and flags;
    `generator_info`: what the saved generators are (gan_kinds.py), given once; `companions`:
    {file stem: (model, info)} saved beside each generator (InfoGAN's Q). EMA_DECAY 0 turns the
    averaged generator off. The run keeps report.html and progress.gif (gan_report.py) up to
    date at each summary, at the end, and when it stops early."""

    def __init__(self, settings, g_model, d_model, gan_model, *, loss_names, n_images, generator_info,
                 extra_models=(), companions=None, batchnorm_inputs=None, pairs=None):
        check_batch(settings.n_batch, n_images)
        self.settings, self.g_model, self.n_images, self.pairs = settings, g_model, n_images, pairs
        self.out_dir = Path(settings.out) if settings.out else default_out(settings.script)
        self.generator_info = dict(generator_info, image_shape=list(g_model.outputs[0].shape[1:]))
        self.companions = companions or {}
        if gf.WRITER:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        remove_partial_files(self.out_dir)
        self.log = LossLog(self.out_dir, loss_names)
        self.quality = gm.QualityLog(self.out_dir, settings.eval_samples, settings.data_dir, pairs=pairs,
                                     resume=settings.resume, judge_dir=settings.judge_dir)
        self.quality.prepare(generator_info.get("dataset"))
        self.average = AveragedGenerator(g_model, settings.ema_decay, batchnorm_inputs) if settings.ema_decay else None
        models = [g_model, d_model, *extra_models] + ([self.average.model] if self.average else [])
        discriminators = [d_model] + [m for m in extra_models if getattr(m, "optimizer", None) is not None]
        feed_own_rows([*discriminators, gan_model])
        fixed = {name: value for name, value in settings.recorded().items() if name in FIXED_ON_RESUME}
        self.checkpoint = Checkpoint(self.out_dir, self.log, models, discriminators, gan_model, resume=settings.resume,
                                     batchnorm=getattr(settings, "batchnorm_in_composite", "frozen"),
                                     settings=dict(fixed, script=settings.script, dataset=generator_info.get("dataset"),
                                                   precision=keras.mixed_precision.global_policy().name),
                                     constants=settings.constants())
        # Every variable so far (models, average, a resumed run's optimizers) was made under the
        # run's distribution (gan_devices.use_devices); from here it is in force only in steps().
        self.distribution = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        self._start_report()
        self.epoch = self.step = self.steps_per_epoch = 0
        self.n_epochs = settings.n_epochs

    def epochs(self):
        """The epochs still to train (from 0) of N_EPOCHS; a checkpoint after every CHECKPOINT_EVERY."""
        for self.epoch in range(self.checkpoint.epoch, self.n_epochs):
            yield self.epoch
            self.checkpoint.epoch_done(self.epoch, self.n_epochs, self.settings.checkpoint_every)

    def steps(self):
        """This epoch's steps still to train (--steps-per-epoch, or one pass over the training
        images), with a progress bar; on Ctrl-C a checkpoint after the step."""
        n_steps = self.settings.steps_per_epoch or self.n_images // self.settings.n_batch
        first = self.checkpoint.first_step(self.epoch)
        if self.epoch == self.checkpoint.epoch:
            self._header(n_steps)
        self.steps_per_epoch = n_steps
        self.log.start_epoch(self.epoch + 1, self.n_epochs, n_steps, first)
        refreshed, refreshed_at = time.time(), first
        with splitting_batches(self.distribution):
            for self.step in range(first, n_steps):
                yield self.step
                STOP["requested"] = any_process(STOP["requested"])  # every process stops after the same step
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

    def summary_due(self):
        """Every EVAL_EVERY epochs, after the first (a first look within minutes) and the last."""
        return (self.epoch == 0 or (self.epoch + 1) % self.settings.eval_every == 0
                or self.epoch + 1 == self.n_epochs)

    def sample_generator(self):
        """The generator the grids, snapshots and metrics show: the average, when it is on."""
        return self.average.for_sampling() if self.average else self.g_model

    def summarize(self, summarize_performance, *args):
        """At the end of an epoch, when a summary is due: the script's
        `summarize_performance(epoch, g_model, out_dir, *args)` (its grids), a generator snapshot
        (generator_e010.h5), the metrics, the progress frame and animation, and the report."""
        if not self.summary_due():
            return
        epoch, g_model = self.epoch + 1, self.sample_generator()
        summarize_performance(epoch, g_model, self.out_dir, *args)
        snapshot = self.save_generators(f"_e{epoch:03d}", epoch)
        raw = self.g_model if self.average else None
        q_model = self.companions.get("q_model", (None,))[0]
        self.quality.record(epoch, g_model, self.generator_info, snapshot, raw_model=raw, q_model=q_model,
                            minutes=self.checkpoint.seconds() / 60)
        self._draw_progress()
        self._report(state="running")

    def save_generators(self, suffix, epoch):
        """generator<suffix>.h5 (the sample generator) and its companions; the generator's path."""
        path = self.out_dir / f"generator{suffix}.h5"
        gu.save_generator(self.sample_generator(), path, **self.generator_info, epoch=epoch)
        for stem, (model, info) in self.companions.items():
            gu.save_generator(model, self.out_dir / f"{stem}{suffix}.h5", **info, epoch=epoch)
        return path

    def finish(self):
        """The end of train(): generator.h5, the report, and Keras' distribution as it was found."""
        self.save_generators("", self.n_epochs)
        keras.distribution.set_distribution(self.distribution)
        self._report(state="finished")
        print(f"generator saved to {self.out_dir / 'generator.h5'}; report: {self.out_dir / 'report.html'}")
        self.quality.report()

    def _start_report(self):
        if not gf.WRITER:
            return
        earlier = read_run_info(self.out_dir) if self.settings.resume else {}
        update_run_info(self.out_dir, script=self.settings.script, command=shlex.join(["python", *sys.argv]),
                        started=earlier.get("started", time.strftime("%Y-%m-%d %H:%M:%S")),
                        machine=f"{platform.machine()}, {os.cpu_count()} cores",
                        backend=f"{keras.backend.backend()}, {device_count(self.distribution)} device(s), "
                                f"{keras.mixed_precision.global_policy().name}",
                        hyperparameters=self.settings.recorded(), constants=self.settings.constants(),
                        judge=self.quality.judge(),
                        state="starting")

    def _report(self, **fields):
        """run.json and report.html brought up to date: process 0's, in a run of several."""
        if not gf.WRITER:
            return
        update_run_info(self.out_dir, seconds=self.checkpoint.seconds(), updated=time.strftime("%Y-%m-%d %H:%M:%S"),
                        steps_total=self.steps_per_epoch * self.n_epochs, **fields)
        write_report(self.out_dir)

    def _draw_progress(self):
        """The same inputs through the sample generator at every summary: a frame of progress.gif.
        Pix2Pix: the first validation pairs, source, translation and target in rows."""
        g_model = self.sample_generator()
        if self.pairs is not None:
            sources, targets = (part[:PROGRESS_PAIRS] for part in self.pairs)
            translate = gu.in_training_mode(g_model)  # as the script draws it: pix2pix_maps.py
            made = np.concatenate([translate.predict_on_batch(x[None]) for x in sources])
            images, n_cols = np.concatenate([sources, made, targets]), len(sources)
        else:
            inputs, n_cols = progress_inputs(self.generator_info, np.random.default_rng(0))
            images = g_model.predict(inputs, batch_size=256, verbose=0)
        save_frame(images, n_cols, self.out_dir / PROGRESS_DIR / f"e{self.epoch + 1:03d}.png")
        if gf.WRITER:
            write_progress_gif(self.out_dir)

    def _header(self, n_steps):
        dataset = self.generator_info.get("dataset")
        dataset = f" on {dataset}" if dataset else ""
        images = f"{self.n_images:,} training images, " if self.n_images else ""
        start = f", from epoch {self.epoch + 1} step {self.checkpoint.step + 1}" if self.epoch or self.checkpoint.step else ""
        print(f"{self.settings.script}{dataset}: {images}batch {self.settings.n_batch}, {n_steps} "
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


# A constant that is a number, a string or a truth value becomes a flag: --lower-case-name (the
# tutorials' names for two), checked by SHARED_CONSTANTS or the script's FLAG_TYPES entry (a type,
# or a list of choices) or else by its value's type, with the comment on its line as help unless
# SHARED_CONSTANTS gives one; a list is a flag only where FLAG_TYPES names it.
TUTORIAL_FLAGS = {"N_EPOCHS": "--epochs", "N_BATCH": "--batch-size"}
SHARED_CONSTANTS = {
    "N_EPOCHS": (positive_int, "epochs to train, in all"),
    "N_BATCH": (positive_int, "images a step"),
    "EVAL_EVERY": (positive_int, "epochs between summaries: metrics, sample grids and generator snapshots"),
    "CHECKPOINT_EVERY": (positive_int, "epochs between checkpoints (one is also written on Ctrl-C)"),
    "EMA_DECAY": (fraction, "decay of the generator's moving average, which the grids, snapshots and metrics use; "
                            "0 turns it off (the tutorial)"),
    "LATENT_DIM": (positive_int, None),
    "LEARNING_RATE": (positive_float, None),
    "BETA_1": (fraction, "Adam's first-moment decay"),
    "BATCHNORM_IN_COMPOSITE": (gu.BATCHNORM_CHOICES, "see the script's docstring"),
}
TYPE_OF_VALUE = {bool: None, int: non_negative_int, float: non_negative_float, str: str}
# Settings a resumed run must share with its checkpoint: they shape the models, the data, or
# what the checkpoint's state means. The rest may be edited between sessions.
FIXED_ON_RESUME = {"dataset", "classes", "direction", "latent_dim", "n_cat", "n_cont", "layers", "noise_prior",
                   "update_rule", "n_batch", "batchnorm_in_composite", "ema_decay"}


class Settings(SimpleNamespace):
    """A run's settings: the training script's constants under their lower-case names (N_BATCH is
    `n_batch`), as the flags left them, the run's own flags (out, seed, resume, data_dir, ...),
    and `script`, the script's name."""

    def constants(self):
        """{CONSTANT: value}: the script's constants, edits from the command line included."""
        return {name.upper(): getattr(self, name) for name in self._constant_names}

    def recorded(self):
        """Every setting, as run.json and the report show them."""
        return {name: str(value) if isinstance(value, Path) else value for name, value in vars(self).items()
                if not name.startswith("_") and value is not None}


def script_constants(script):
    """{NAME: value} of a script's settings: its UPPER_CASE constants that are numbers, strings,
    truth values, lists or tuples (as lists)."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in script.items()
            if name.isupper() and isinstance(value, (bool, int, float, str, list, tuple))}


def constant_comments(path):
    """{NAME: the comment on its line} in a script's source."""
    found = re.findall(r"^([A-Z][A-Z0-9_]*) = [^#\n]*#\s*(.+)$", Path(path).read_text(), re.M)
    return dict(found)


def add_constant_flag(parser, name, value, script_types, comments):
    check, help_text = SHARED_CONSTANTS.get(name, (None, None))
    flag = TUTORIAL_FLAGS.get(name, "--" + name.lower().replace("_", "-"))
    check = script_types.get(name, check) or TYPE_OF_VALUE.get(type(value), comma_list)
    help_text = help_text or comments.get(name, "")
    dest = name.lower()
    if isinstance(value, bool):
        parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=value, help=help_text)
    elif isinstance(check, (list, tuple, range)):
        choices = [str(c) for c in check]
        convert = type(value)
        parser.add_argument(flag, dest=dest, choices=[convert(c) for c in choices], type=convert, default=value,
                            metavar="{" + ",".join(choices) + "}" if len(choices) < 8 else None, help=help_text)
    else:
        parser.add_argument(flag, dest=dest, type=check, default=value, help=help_text)


def parse_settings(script, argv=None, extra_flags=None):
    """The settings of a run of the training script whose globals() are `script`: every constant
    at its top (script_constants), overridable by a flag of its own (N_EPOCHS: --epochs, N_BATCH:
    --batch-size, LEARNING_RATE: --learning-rate), and the flags every run has. `extra_flags(parser)`
    adds a script's own flags that are not settings."""
    name = Path(script["__file__"]).stem
    parser = ArgumentParser(script["__doc__"])
    constants = script_constants(script)
    comments = constant_comments(script["__file__"])
    script_types = script.get("FLAG_TYPES", {})
    for constant, value in constants.items():
        if type(value) in TYPE_OF_VALUE or constant in script_types:  # others, such as shapes, are not flags
            add_constant_flag(parser, constant, value, script_types, comments)
    parser.add_argument("--steps-per-epoch", type=positive_int, default=None,
                        help="steps per epoch (default: one pass over the dataset)")
    parser.add_argument("--data-dir", default=None, help="a folder holding the dataset files")
    parser.add_argument("--out", default=None, help=f"output folder (default: outputs/{name}/)")
    parser.add_argument("--seed", type=seed, default=None, help=f"seed for repeatable runs (0 to {MAX_SEED})")
    parser.add_argument("--resume", action="store_true", help="go on from the output folder's checkpoint")
    parser.add_argument("--fresh", action="store_true",
                        help="start over in an output folder that holds a run, moving its files into a dated "
                             "subfolder first")
    parser.add_argument("--eval-samples", type=int_up_to(gm.MAX_SAMPLES, minimum=0), default=EVAL_SAMPLES,
                        help="images (Pix2Pix: validation pairs) measured at each summary into metrics.csv, "
                             f"at most {gm.MAX_SAMPLES:,}; 0 skips the measuring and the judge")
    parser.add_argument("--judge-dir", default=None,
                        help="where judges for datasets without a shipped one are cached "
                             "(default: judges/ under KERAS_HOME or ~/.keras)")
    add_device_flags(parser)
    if extra_flags:
        extra_flags(parser)
    settings = Settings(script=name, **{constant.lower(): value for constant, value in constants.items()})
    vars(settings).update(vars(parser.parse_args(argv)))
    settings._constant_names = [constant.lower() for constant in constants]
    return settings


def prepare_run(settings, out_name=None, batch_split=2):
    """Before the models are built: in a run of several processes, the same settings everywhere;
    the devices and precision they compute in, the seed, folders that are folders, and an output
    folder that can be written (settings.out, default outputs/<out_name or script>/; in a run of
    several processes, process 0's). `batch_split`: 2 where each discriminator update takes half a
    batch, 1 where it takes a whole one (gan_devices.use_devices)."""
    agree_on_settings(settings)
    check_folders(data_dir=settings.data_dir, judge_dir=settings.judge_dir)
    use_precision(settings.mixed_precision)
    use_devices(settings.devices, settings.n_batch, batch_split)
    if settings.seed is not None:
        keras.utils.set_random_seed(settings.seed)
    out = Path(settings.out) if settings.out else default_out(out_name or settings.script)
    settings.out = out
    if not gf.WRITER:
        check_run_in_folder(out, resume=settings.resume, fresh=settings.fresh, epochs=settings.n_epochs)
        return out
    blocking = next((folder for folder in [out, *out.parents] if folder.exists() and not folder.is_dir()), None)
    if blocking is not None:
        raise UserError(f"cannot write to the output folder {out}: {blocking} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out).close()
    except OSError as error:
        raise UserError(f"cannot write to the output folder {out} ({error.strerror})")
    claim_output_folder(out, resume=settings.resume, fresh=settings.fresh, epochs=settings.n_epochs)
    return out


def claim_output_folder(out, *, resume, fresh, epochs):
    """One run per output folder. A lock held for the run's life (the system releases it however
    the process ends) refuses a second run into the folder, naming the first. A run found there is
    never overwritten: --resume goes on with it, --fresh moves its files aside into a dated
    subfolder; without either it is refused (check_run_in_folder)."""
    lock = _HELD_LOCKS.get(out.resolve()) or open(out / RUN_LOCK, "a+")
    if fcntl is not None and out.resolve() not in _HELD_LOCKS:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "a process that has not said which"
            lock.close()
            raise UserError(f"{out} is in use by another run ({holder}); wait for it to end or choose another --out")
    check_run_in_folder(out, resume=resume, fresh=fresh, epochs=epochs)
    if fresh:
        moved = move_earlier_run(out)
        if moved:
            print(f"--fresh: the earlier run's files are in {moved}")
    lock.seek(0)
    lock.truncate()
    lock.write(f"process {os.getpid()}: {shlex.join(['python', *sys.argv])}, "
               f"started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    lock.flush()
    _HELD_LOCKS[out.resolve()] = lock


def check_run_in_folder(out, *, resume, fresh, epochs):
    """A run already in `out` goes on only with --resume, and is moved aside only with --fresh;
    --resume of a run already at --epochs writes nothing and ends."""
    checkpoint = out / "checkpoint.npz"
    if resume and fresh:
        raise UserError("--resume and --fresh cannot go together: --resume continues the run in the folder, "
                        "--fresh starts over")
    if fresh:
        return
    if checkpoint.is_file() and not resume:
        finished = read_run_info(out).get("state") == "finished"
        raise UserError(f"{out} holds {'a finished' if finished else 'an unfinished'} run: add --resume to "
                        f"{'train it further (with a larger --epochs)' if finished else 'continue it'}, or "
                        "--fresh to start over (its files are moved aside, not deleted)")
    if checkpoint.is_file() and (done := saved_epoch(checkpoint)) is not None and done >= epochs:
        print(f"the run in {out} is already at epoch {done} (--epochs {epochs}): nothing to train; "
              "give a larger --epochs to go on")
        sys.exit(0)


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
    """A batch the training images can fill."""
    if n_batch > n_images:
        raise UserError(f"--batch-size {n_batch} is larger than the dataset ({n_images} images)")


