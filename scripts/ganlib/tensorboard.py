"""TensorBoard event files in each run folder's tensorboard/ (`tensorboard --logdir outputs`): the
losses at each refresh of the progress bar, the metrics and the sample grids at each summary,
and the run's settings as text. Written by tensorboardX, which needs no TensorFlow; steps count
the run's training steps, so a resumed run goes on where its checkpoint was (events a killed
session wrote after the checkpoint are dropped), and only process 0 of a run of several writes."""
from pathlib import Path

import numpy as np
from PIL import Image

from ganlib import atomic_files

FOLDER = "tensorboard"


class Events:
    def __init__(self, out_dir):
        self.out_dir, self.writer = Path(out_dir), None

    def start(self, settings, step):
        """The writer, after training step `step` (0 for a new run: its checkpoint's for a resumed
        one, whose later events, from a session killed after it, are dropped), and the settings."""
        if not atomic_files.writes_here():
            return
        from tensorboardX import SummaryWriter
        folder = atomic_files.own_folder(self.out_dir / FOLDER)
        self.writer = SummaryWriter(str(folder), purge_step=step + 1 if step else None)
        table = "| setting | value |\n|---|---|\n" + "\n".join(f"| {flag} | {value} |"
                                                          for flag, value in settings.by_flag().items())
        self.writer.add_text("settings", table, step)

    def losses(self, step, names, values):
        """The losses read back since the last refresh, their mean at the last one's step."""
        if self.writer is not None:
            for name, value in zip(names, np.mean(values, axis=0)):
                self.writer.add_scalar(f"loss/{name}", float(value), step)

    def summary(self, step, row, grids):
        """A summary's metrics (its metrics.csv row, or None) and grids (PNG paths)."""
        if self.writer is None:
            return
        for name, value in (row or {}).items():
            if name not in ("epoch", "minutes"):
                self.writer.add_scalar(f"metrics/{name}", float(value), step)
        for path in grids:
            with Image.open(path) as picture:
                pixels = np.asarray(picture.convert("RGB"))
            self.writer.add_image(path.stem.rsplit("_e", 1)[0], pixels, step, dataformats="HWC")
        self.writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
