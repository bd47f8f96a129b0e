"""checkpoint.npz and --resume, and stopping cleanly on Ctrl-C or SIGTERM: the step in hand is
finished, a checkpoint written, and the run ends naming it."""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from ganlib import atomic_files
from ganlib.cli import Interrupted
from ganlib.atomic_files import UserError, arrays_digest, atomic_write
from ganlib.readback import checkpoint_arrays
from ganlib.tutorial import freeze_discriminator, unfreeze_discriminator

# Checkpoints written before these settings took their constants' names still resume.
RENAMED_SETTINGS = {"batch_size": "n_batch", "batchnorm": "batchnorm_in_composite"}


class Checkpoint:
    """checkpoint.npz in the output folder: every model's variables (weights, moving statistics,
    dropout seeds), every optimizer's state (the discriminator's, the composite's, and that of any
    other model compiled for a discriminator-side update, such as InfoGAN's reference rule), NumPy's random state, the loss log, the epoch and
    step to go on from, the time taken so far, and the settings a resumed run must share."""

    def __init__(self, out_dir, log, models, discriminators, gan_model, settings, resume=False, batchnorm="frozen",
                 constants=None, flag=lambda name: name):
        self.path = Path(out_dir) / "checkpoint.npz"
        self.log, self.models, self.settings, self.constants = log, models, dict(settings), dict(constants or {})
        self.flag = flag
        self.discriminators = list(discriminators)
        self.optimizers = [m.optimizer for m in self.discriminators] + [gan_model.optimizer]
        self.epoch, self.step, self.seconds_before = 0, 0, 0.0
        if atomic_files.writes_here():
            check_disk(out_dir, models)
        if resume:
            self._build_optimizers(gan_model, batchnorm)
            self._restore()
        self.started = time.time()

    def _build_optimizers(self, gan_model, batchnorm):
        """With the trainable weights each model trains in the loop, so their state lines up."""
        for model in self.discriminators:
            unfreeze_discriminator(model)
            model.optimizer.build(model.trainable_variables)
        for model in self.discriminators:
            freeze_discriminator(model, batchnorm)
        gan_model.optimizer.build(gan_model.trainable_variables)

    def _variables(self):
        groups = [m.variables for m in self.models] + [o.variables for o in self.optimizers]
        return [v for group in groups for v in group]

    def _restore(self):
        if not self.path.is_file():
            raise UserError(f"nothing to resume: no checkpoint in {self.path.parent}")
        variables = self._variables()
        meta, values, rng, rows = checkpoint_arrays(self.path, [tuple(v.shape) for v in variables],
                                                    len(self.log.names), self._check_settings)
        if "digest" in meta and meta["digest"] != arrays_digest([*values, *rng, rows]):
            raise UserError(f"{self.path} is damaged: its contents are not the ones saved (their checksum differs)")
        if "digest" not in meta:
            print(f"note: {self.path} carries no checksum (saved by an older version), so it is not checked")
        learning_rates = [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in self.optimizers]
        for variable, value in zip(variables, values):
            variable.assign(value)
        for optimizer, rate in zip(self.optimizers, learning_rates):  # an edited LEARNING_RATE takes effect
            optimizer.learning_rate = rate
        np.random.set_state((str(rng[0]), rng[1], int(rng[2]), int(rng[3]), float(rng[4])))
        self.log.rows = [[int(r[0]), int(r[1]), *map(float, r[2:])] for r in rows]
        self.epoch, self.step, self.seconds_before = meta["epoch"], meta["step"], meta.get("seconds", 0.0)
        print(f"resuming from {self.path}: epoch {self.epoch + 1}, step {self.step + 1}")

    def _check_settings(self, meta):
        """The checkpoint's script and settings against this run's, before its arrays are read."""
        recorded = meta.get("constants", {})
        if any(old in meta["settings"] for old in RENAMED_SETTINGS):
            for old, new in RENAMED_SETTINGS.items():
                if old in meta["settings"]:
                    meta["settings"][new] = meta["settings"].pop(old)
            # Such a checkpoint recorded the file's constants, not the run's: only its settings are the run's.
            recorded = {name.upper(): value for name, value in meta["settings"].items() if name.upper() in recorded}
        made_by = meta["settings"].get("script")
        if made_by != self.settings.get("script"):
            raise UserError(f"cannot resume: {self.path} was made by {made_by}, not {self.settings.get('script')}; "
                            "choose another --out")
        for key in sorted(meta["settings"]):  # a setting newer than the checkpoint: it had the old default
            if meta["settings"].get(key) != self.settings.get(key):
                flag = self.flag(key)
                raise UserError(f"cannot resume: the checkpoint was made with {flag} {meta['settings'].get(key)}, "
                                f"this run has {flag} {self.settings.get(key)}")
        edited = [f"{name} {recorded[name]!r} -> {value!r}" for name, value in self.constants.items()
                  if name in recorded and recorded[name] != value]
        if edited:
            print(f"resuming with settings edited since the checkpoint: {', '.join(edited)}")

    def save(self, epoch, step):
        """The state from which training goes on at `step` (from 0) of `epoch` (from 0)."""
        variables = self._variables()
        arrays = {f"v{k}": keras.ops.convert_to_numpy(v.value) for k, v in enumerate(variables)}
        arrays.update({f"rng{k}": np.asarray(part) for k, part in enumerate(np.random.get_state())})
        arrays["losses"] = np.array(self.log.rows, dtype="float64").reshape(len(self.log.rows), -1)
        meta = dict(epoch=epoch, step=step, settings=self.settings, constants=self.constants,
                    n_variables=len(variables), seconds=self.seconds(), digest=arrays_digest(arrays.values()))
        atomic_write(self.path, lambda tmp: np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays))

    def seconds(self):
        """Wall-clock seconds the run has taken, earlier sessions of a resumed run included."""
        return self.seconds_before + time.time() - self.started

    def first_step(self, epoch):
        return self.step if epoch == self.epoch else 0

    def stop_after(self, epoch, step, code=130):
        """On a stop request, after the step: a checkpoint, then Interrupted (exit status `code`)."""
        self.save(epoch, step + 1)
        raise Interrupted(f"interrupted at epoch {epoch + 1}, step {step + 1}: checkpoint written to "
                          f"{self.path}; go on with --resume", code)

    def epoch_done(self, epoch, n_epochs, every):
        if (epoch + 1) % every == 0 or epoch + 1 == n_epochs:
            self.save(epoch + 1, 0)


def check_disk(out_dir, models):
    """Room for a generator snapshot and a checkpoint (weights and two Adam moments), before training."""
    needed = 4 * sum(int(np.prod(v.shape)) for m in models for v in m.variables) * 4
    free = shutil.disk_usage(out_dir).free
    if free < needed:
        raise UserError(f"not enough disk space in {out_dir}: {free / 1e6:.0f} MB free, a snapshot and a "
                        f"checkpoint need about {needed / 1e6:.0f} MB")
