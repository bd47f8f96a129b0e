"""A training run around the tutorial's loop (`Run`): its epochs and steps, the compiled step
(step.py), the loss log and progress bar, the checkpoint (checkpoint.py), the averaged generator
(average.py), the summaries and their measures (metrics_log.py), the report (report_page.py) and the
TensorBoard events (tensorboard.py)."""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import os
import platform
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import keras
import numpy as np

from ganlib import cli, atomic_files, run_folder, kinds, metrics_log, tensorboard
from ganlib.average import AveragedGenerator
from ganlib.checkpoint import Checkpoint
from ganlib.cli import Interrupted, count, format_duration
from ganlib.devices import (agree_on_settings, any_process, device_count, has_accelerator, lost_processes, processes,
                            splitting_batches, use_devices, use_precision)
from ganlib.atomic_files import UserError, remove_partial_files
from ganlib.tutorial import in_training_mode, save_generator
from ganlib.losses import LossLog
from ganlib.report_page import PROGRESS_DIR, read_run_info, update_run_info, write_progress_gif, write_report
from ganlib.settings import default_out
from ganlib.step import CompiledStep
from ganlib.images import save_frame

REFRESH_SECONDS = 60  # losses.csv, losses.png and the report are rewritten during an epoch this often,
REFRESH_STEPS = 500  # or after this many steps, whichever comes first


class Run:
    """One training run. train() keeps the tutorial's loop: `compiled(train_step)` once, then, in
    `with run:`, `epochs()` and `steps()` as its loops, `log_step(losses)` after each step and
    `summarize()` at the end of each epoch; `finish()` saves generator.h5. Inside `with run:`,
    Ctrl-C or SIGTERM asks the loop to stop after its step, with a checkpoint (again: at once),
    and a failure is told in run.json and the report before it reaches the terminal.
    `settings` (settings.py) hold the script's constants and flags, and the output folder's lock; `generator_info`: what the saved generators are (kinds.py),
    given once; `companions`: {file stem: model} saved beside each generator (InfoGAN's Q);
    `extra_models`: the other models the step trains or reads. EMA_DECAY 0 turns the averaged
    generator off. The run keeps report.html, progress.gif and the TensorBoard events up to date."""

    def __init__(self, settings, g_model, d_model, gan_model, **parts):
        """A run refused here (a checkpoint that does not fit, a judge that cannot be read) gives
        its output folder's lock back at once."""
        try:
            self._start(settings, g_model, d_model, gan_model, **parts)
        except BaseException:
            settings.release_folder()
            raise

    def _start(self, settings, g_model, d_model, gan_model, *, loss_names, n_images, generator_info,
               extra_models=(), companions=None, batchnorm_inputs=None, pairs=None):
        if settings.n_batch > n_images:
            raise UserError(f"--batch-size {settings.n_batch} is larger than the dataset ({n_images} images)")
        self.settings, self.g_model, self.n_images, self.pairs = settings, g_model, n_images, pairs
        self.out_dir = settings.out = Path(settings.out) if settings.out else default_out(settings.script)
        self.generator_info = dict(generator_info, image_shape=list(g_model.outputs[0].shape[1:]))
        self.kind = kinds.KINDS[self.generator_info["kind"]]
        self.companions = dict(companions or {})
        if atomic_files.writes_here():
            self.out_dir.mkdir(parents=True, exist_ok=True)
        remove_partial_files(self.out_dir)
        self.events = tensorboard.Events(self.out_dir)
        self.log = LossLog(self.out_dir, loss_names, self.events)
        self.quality = metrics_log.QualityLog(self.out_dir, settings.eval_samples, settings.data_dir, pairs=pairs,
                                              resume=settings.resume, judge_dir=settings.judge_dir)
        self.quality.prepare(generator_info.get("dataset"))
        self.average = (AveragedGenerator(g_model, settings.ema_decay, batchnorm_inputs, settings.ema_half_life,
                                          settings.n_batch) if settings.ema_decay else None)
        models = [g_model, d_model, *extra_models] + ([self.average.model] if self.average else [])
        self.trainers = [d_model] + [m for m in extra_models if getattr(m, "optimizer", None) is not None] + [gan_model]
        self.models = [g_model, d_model, gan_model, *extra_models]
        self.checkpoint = Checkpoint(self.out_dir, self.log, models, self.trainers[:-1], gan_model,
                                     resume=settings.resume, batchnorm=getattr(settings, "batchnorm_in_composite", "frozen"),
                                     settings=dict(settings.fixed_on_resume(), script=settings.script,
                                                   dataset=generator_info.get("dataset"),
                                                   precision=keras.mixed_precision.global_policy().name),
                                     constants=settings.constants(), flag=settings.flag)
        # Every variable so far (models, average, a resumed run's optimizers) was made under the
        # run's distribution (devices.use_devices); from here it is in force only in steps().
        self.distribution = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        self.step_function = None
        self.epoch = self.step = self.steps_per_epoch = 0
        self.n_epochs = settings.n_epochs
        self.training = self.stop_requested = self.ended = False
        self.stop_status = 130
        self._signal_handlers = {}
        self._start_report()
        self.events.start(settings, len(self.log.rows))

    def compiled(self, train_step):
        """The script's step function, run as one compiled program (step.py); call it with the
        step's inputs."""
        self.step_function = CompiledStep(train_step, self.trainers, self.models, self.average,
                                          eager=self.settings.eager, distribution=self.distribution,
                                          process=processes(), jit_compile=has_accelerator())
        return lambda *inputs: self.step_function(*inputs, updates=len(self.log.rows) + len(self.log.pending) + 1)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._signal_handlers = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, error_type, error, traceback):
        for sig, handler in self._signal_handlers.items():
            signal.signal(sig, handler)
        try:
            return self._tell_how_it_ended(error)
        finally:
            self.settings.release_folder()

    def _tell_how_it_ended(self, error):
        if error is None or self.ended or isinstance(error, Interrupted):
            return False
        if isinstance(error, KeyboardInterrupt):
            self._ended_as("interrupted", "stopped at once, without a checkpoint of this step: the last one is kept",
                           resume_command=cli.resume_command())
            return False
        if not isinstance(error, (UserError, OSError)):
            self._stop_if_a_process_was_lost()
        line = cli.failure_line(error, self.settings.n_batch)
        self._ended_as("failed", line)
        if cli.out_of_memory(error):
            raise UserError(line) from error
        return False

    def _request_stop(self, signum, frame):
        """While the loop trains, Ctrl-C or SIGTERM asks it to stop after the current step;
        otherwise, or when asked twice, it stops at once (every file is written atomically)."""
        if not self.training or self.stop_requested:
            raise cli.stopping_now(signum)
        self.stop_requested, self.stop_status = True, cli.exit_status(signum)
        print("\nstopping after this step, to write a checkpoint (again to stop at once)", file=sys.stderr)

    def _stop_if_a_process_was_lost(self):
        """In a run of several processes, a step that failed because another process is gone
        (killed, out of memory, its machine down): one line naming it, and exit status 3 at once.
        The last checkpoint stays as it was; JAX's shutdown would wait for the lost one."""
        index, n_processes = processes()
        lost = lost_processes() if n_processes > 1 else []
        if not lost:
            return
        names = ("process " if len(lost) == 1 else "processes ") + ", ".join(map(str, lost))
        self._ended_as("lost a process", f"{names} of {n_processes} stopped")
        print(f"\nerror: {names} of {n_processes} stopped (no answer); process {index} stops too. "
              f"The last checkpoint is kept: start every process again with --resume", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(3)

    def epochs(self):
        """The epochs still to train (from 0) of N_EPOCHS; a checkpoint after every CHECKPOINT_EVERY."""
        self.training = True
        for self.epoch in range(self.checkpoint.epoch, self.n_epochs):
            yield self.epoch
            self.settle()
            self.log.save()
            self.checkpoint.epoch_done(self.epoch, self.n_epochs, self.settings.checkpoint_every)
        self.training = False

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
                self.stop_requested = any_process(self.stop_requested)  # every process stops after the same step
                if self.stop_requested:
                    self.settle()
                    self.log.save()  # the report then counts every step trained, however early the stop
                    try:
                        self.checkpoint.stop_after(self.epoch, self.step, self.stop_status)
                    except Interrupted:
                        self._report(state="interrupted", resume_command=cli.resume_command())
                        raise
                if self.log.due():
                    self._flush()
                if self.step + 1 < n_steps and (self.step + 1 - refreshed_at >= REFRESH_STEPS
                                                or time.time() - refreshed > REFRESH_SECONDS):
                    self._flush()
                    self.log.save()
                    self._report(state="running")
                    refreshed, refreshed_at = time.time(), self.step + 1
        self.settle()
        if self.epoch == self.checkpoint.epoch and n_steps > first and self.epoch + 1 < self.n_epochs:
            self._estimate(n_steps - first, n_steps)

    def log_step(self, losses):
        """A step's losses, kept on the device until the next refresh of the progress bar."""
        self.log.add(self.epoch + 1, self.step + 1, losses)

    def settle(self):
        """Every step's losses read back and checked, and the Keras variables up to date: before
        anything reads a weight or writes a file."""
        self._flush()
        if self.step_function is not None:
            self.step_function.sync()

    def _flush(self):
        try:
            self.log.flush()
        except UserError as error:
            self._ended_as("diverged", str(error))
            raise

    def summary_due(self):
        """Every EVAL_EVERY epochs, after the first (a first look within minutes) and the last."""
        return (self.epoch == 0 or (self.epoch + 1) % self.settings.eval_every == 0
                or self.epoch + 1 == self.n_epochs)

    def sample_generator(self):
        """The generator the grids, snapshots and metrics show: the average, when it is on."""
        self.settle()
        return self.average.for_sampling() if self.average else self.g_model

    def summarize(self, summarize_performance, *args, **kwargs):
        """At the end of an epoch, when a summary is due: the script's
        `summarize_performance(epoch, g_model, *args, **kwargs)` (its grids), a generator snapshot
        (generator_e010.h5), the metrics, the progress frame and animation, and the report."""
        if not self.summary_due():
            return
        epoch, g_model = self.epoch + 1, self.sample_generator()
        print(f"summary of epoch {epoch}: grids, snapshot{', measures' if self.settings.eval_samples else ''}",
              flush=True)
        summarize_performance(epoch, g_model, *args, **kwargs)
        snapshot = self.save_generators(f"_e{epoch:03d}", epoch)
        row = self.quality.record(epoch, g_model, self.generator_info, snapshot,
                                  raw_model=self.g_model if self.average else None, companions=self.companions,
                                  minutes=self.checkpoint.seconds() / 60)
        self._draw_progress(g_model)
        self.events.summary(len(self.log.rows), row, sorted(self.out_dir.glob(f"generated_*_e{epoch:03d}.png")))
        self.log.save()
        self._report(state="running")

    def save_generators(self, suffix, epoch):
        """generator<suffix>.h5 (the sample generator) and its companions; the generator's path."""
        path = self.out_dir / f"generator{suffix}.h5"
        save_generator(self.sample_generator(), path, **self.generator_info, epoch=epoch)
        for stem, model in self.companions.items():
            companion = dict(self.generator_info, kind=self.kind.companions[stem], epoch=epoch)
            save_generator(model, self.out_dir / f"{stem}{suffix}.h5", **companion)
        return path

    def finish(self):
        """The end of train(): generator.h5, the report, and Keras' distribution as it was found."""
        self.save_generators("", self.n_epochs)
        keras.distribution.set_distribution(self.distribution)
        self._report(state="finished")
        self.events.close()
        self.ended = True
        print(f"generator saved to {self.out_dir / 'generator.h5'}; report: {self.out_dir / 'report.html'}")
        self.quality.report()
        self._say_if_at_chance()

    def _say_if_at_chance(self):
        """A short run whose figure is still about chance is told so, and where to read how soon it
        leaves it, so that blobs are not taken for a failure."""
        last = self.quality.rows[-1] if self.quality.rows else None
        if last is None or self.kind.chance is None or self.kind.primary not in last:
            return
        chance = self.kind.chance(self.generator_info)
        if last[self.kind.primary] < 2 * chance:
            print(f"{self.kind.primary.replace('_', ' ')} {last[self.kind.primary]:.3f} is about chance ({chance:.2f}), "
                  f"as expected after {len(self.log.rows):,} steps: the images are still blobs. How many epochs "
                  f"{self.settings.script} takes to draw what is asked: its docstring, \"How soon\" (docs/results.md)")

    def _ended_as(self, state, line, **fields):
        """run.json and the report told how the run ended, as far as the disk allows: this runs on
        the way out of a failure (a full disk among them), so it never raises."""
        self.ended = True
        try:
            self.events.close()
            self._report(state=state, message=line, **fields)
        except (OSError, UserError):
            pass

    def _start_report(self):
        if not atomic_files.writes_here():
            return
        earlier = read_run_info(self.out_dir) if self.settings.resume else {}
        update_run_info(self.out_dir, script=self.settings.script, command=shlex.join(["python", *sys.argv]),
                        started=earlier.get("started", time.strftime("%Y-%m-%d %H:%M:%S")),
                        machine=f"{platform.machine()}, {os.cpu_count()} cores",
                        backend=f"{keras.backend.backend()}, {device_count(self.distribution)} device(s), "
                                f"{keras.mixed_precision.global_policy().name}",
                        settings=self.settings.by_flag(), generator=self.generator_info,
                        judge=self.quality.judge(), judge_accuracy=self.quality.judge_accuracy(), state="starting",
                        message=None)

    def _report(self, **fields):
        """run.json and report.html brought up to date: process 0's, in a run of several."""
        if not atomic_files.writes_here():
            return
        update_run_info(self.out_dir, seconds=self.checkpoint.seconds(), updated=time.strftime("%Y-%m-%d %H:%M:%S"),
                        steps_total=self.steps_per_epoch * self.n_epochs, **fields)
        write_report(self.out_dir)

    def _draw_progress(self, g_model):
        """The same inputs through the sample generator at every summary: a frame of progress.gif."""
        model = in_training_mode(g_model) if self.kind.in_training_mode else g_model
        images, n_cols = self.kind.progress(self.generator_info, lambda x: np.asarray(model.predict_on_batch(x)),
                                            np.random.default_rng(0), self.pairs)
        save_frame(images, n_cols, atomic_files.own_folder(self.out_dir / PROGRESS_DIR) / f"e{self.epoch + 1:03d}.png")
        if atomic_files.writes_here():
            write_progress_gif(self.out_dir)

    def _header(self, n_steps):
        dataset = self.generator_info.get("dataset")
        dataset = f" on {dataset}" if dataset else ""
        start = f", from epoch {self.epoch + 1} step {self.checkpoint.step + 1}" if self.epoch or self.checkpoint.step else ""
        print(f"{self.settings.script}{dataset}: {self.n_images:,} training images, batch {self.settings.n_batch}, "
              f"{count(n_steps, 'step')} an epoch, {count(self.n_epochs, 'epoch')}{start}; writing to {self.out_dir}")

    def _estimate(self, steps_timed, n_steps):
        """After the first epoch of this session: the time the run will take at its step rate."""
        seconds = (time.time() - self.checkpoint.started) / steps_timed
        left = seconds * ((self.n_epochs - self.epoch - 1) * n_steps)
        print(f"{seconds:.3g} s a step: about {format_duration(left)} more for the "
              f"{count(self.n_epochs - self.epoch - 1, 'epoch')} left (summaries not counted)")


def prepare_run(settings, generator_info, out_name=None):
    """Before the models are built: in a run of several processes, the same settings everywhere;
    the devices and precision they compute in, the seed, folders that are folders, and an output
    folder that can be written (settings.out, default outputs/<out_name or script>/; in a run of
    several processes, process 0's). `generator_info`: what the script's generator is (its kind
    says how a batch splits between the discriminator's updates)."""
    agree_on_settings(settings)
    use_precision(settings.mixed_precision)
    use_devices(settings.devices, settings.n_batch, kinds.KINDS[generator_info["kind"]].batch_split,
                flag=settings.flag("n_batch"))
    if settings.seed is not None:
        keras.utils.set_random_seed(settings.seed)
    settings.out = Path(settings.out) if settings.out else default_out(out_name or settings.script)
    settings.hold_folder(run_folder.prepare(settings.out, resume=settings.resume, fresh=settings.fresh,
                                            epochs=settings.n_epochs))
