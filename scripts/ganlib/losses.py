"""Every step's losses: kept on the device while the loop runs, read back at each refresh of the
progress bar (or every FLUSH_STEPS steps), checked for divergence, and written as losses.csv,
losses.png and TensorBoard scalars."""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import time
from pathlib import Path

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ganlib import cli  # noqa: E402
from ganlib.atomic_files import UserError, atomic_write, write_csv  # noqa: E402

FLUSH_SECONDS = 0.5  # how often the losses are read back from the device: the progress bar's refresh
FLUSH_STEPS = 100  # or after this many steps, whichever comes first


class ResumedProgbar(keras.utils.Progbar):
    """Keras' progress bar, whose time estimate counts only the steps this session ran: a bar
    resumed at step `first` would otherwise take the steps before it as done in no time."""

    def __init__(self, target, first, **kwargs):
        super().__init__(target, **kwargs)
        self.first = first

    def _estimate_step_duration(self, current, now):
        return super()._estimate_step_duration(current - self.first, now)


class LossLog:
    """`rows`: [epoch, step, *losses] of every step read back; `pending`: those still on the device."""

    def __init__(self, out_dir, names, events=None):
        self.out_dir, self.names, self.events = Path(out_dir), list(names), events
        self.rows, self.pending = [], []
        self.progbar, self.flushed_at = None, time.time()

    def start_epoch(self, epoch, n_epochs, steps, first=0):
        print(f"Epoch {epoch}/{n_epochs}")
        # Keras' bar redraws itself with ANSI codes: in a file or a pipe, one plain line an epoch instead
        self.progbar = ResumedProgbar(steps, first, stateful_metrics=self.names,
                                      verbose=cli.progress_verbosity())

    def add(self, epoch, step, losses):
        self.pending.append((epoch, step, losses))

    def due(self):
        return len(self.pending) >= FLUSH_STEPS or (self.pending and time.time() - self.flushed_at >= FLUSH_SECONDS)

    def flush(self):
        """The pending losses read back, checked and shown; a loss that is not finite stops the run."""
        self.flushed_at = time.time()
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        for epoch, step, losses in pending:
            values = np.ravel(keras.ops.convert_to_numpy(losses)).astype(float)
            for name, value in zip(self.names, values):
                if not np.isfinite(value):
                    raise UserError(f"loss {name} became {value} at epoch {epoch}, step {step}: training "
                                    f"diverged and stopped; the snapshots and checkpoint in {self.out_dir} "
                                    "are from before it")
            self.rows.append([epoch, step, *values])
            self.progbar.update(step, values=list(zip(self.names, values)))
        if self.events:
            self.events.losses(len(self.rows), self.names, np.array([row[2:] for row in self.rows[-len(pending):]]))

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
