"""Rebuild a run's report.html and progress.gif from its output folder.

    python scripts/report.py outputs/cgan_fashion        # then open outputs/cgan_fashion/report.html

Works on a finished run, on one still training (its own next summary rewrites both), and on a
folder from a run older than the reports (the animation is then made of its sample grids). It
loads neither Keras nor TensorFlow, so it takes a moment even on a busy machine.
"""
from pathlib import Path

from ganlib.cli import ArgumentParser, run_main
from ganlib.atomic_files import UserError
from ganlib.report_page import write_progress_gif, write_report


def main(argv=None):
    parser = ArgumentParser(__doc__)
    parser.add_argument("out_dir", help="a training script's output folder (or its report.html)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir)
    if out_dir.name == "report.html" and not out_dir.is_dir():
        out_dir = out_dir.parent
    if not out_dir.is_dir():
        raise UserError(f"no such folder: {out_dir}")
    if not any(out_dir.glob("losses.csv")) and not any(out_dir.glob("generated_plot_e*.png")):
        raise UserError(f"{out_dir} holds no training run (no losses.csv, no sample grids)")
    gif = write_progress_gif(out_dir)
    page = write_report(out_dir)
    print(f"wrote {page}" + (f" and {gif}" if gif else " (no grids yet, so no progress.gif)"))


if __name__ == "__main__":
    run_main(main)
