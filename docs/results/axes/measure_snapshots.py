"""Measures every snapshot of a run on both axes, as a training summary now does, into a CSV, and
draws the curves: for runs made before a summary measured both axes, or to measure again.

    python docs/results/axes/measure_snapshots.py RUN_FOLDER NAME [--samples 2000] [--data-dir DIR]

Writes NAME_axes.csv and NAME_axes.png beside this file: for each generator_eNNN.h5 of the run
(and its q_model_eNNN.h5, for InfoGAN), the figures metrics.csv holds, with their ceilings. An
epoch whose row in the run's metrics.csv already holds both axes, at the same sample size, is
taken from there instead of measured again.
"""
import argparse
import csv
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "scripts"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ganlib import kinds as gk, metrics_log, readback, tutorial as gu  # noqa: E402
from ganlib.judges import describe  # noqa: E402
from ganlib.saved import read_generator_info  # noqa: E402


def measure(run, samples, data_dir):
    snapshots = sorted(run.glob("generator_e*.h5"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
    info = read_generator_info(snapshots[0])
    measuring = metrics_log.load_measuring_data(info["dataset"], None, data_dir)
    evaluator = metrics_log.evaluator_for(info, None, data_dir, measuring=measuring)
    q_evaluator = None
    if gk.KINDS[info["kind"]].companions:
        q_info = dict(info, kind=gk.KINDS[info["kind"]].companions["q_model"])
        q_evaluator = metrics_log.evaluator_for(q_info, None, data_dir, measuring=measuring)
    measured = {int(r["epoch"]): {k: float(v) for k, v in r.items() if v and k not in ("epoch", "minutes")}
                for r in readback.metrics_rows(run / "metrics.csv")}
    rows = []
    for path in snapshots:
        epoch = int(re.findall(r"\d+", path.stem)[-1])
        earlier = measured.get(epoch, {})
        if "precision" in earlier and earlier.get("samples") == samples and not math.isnan(earlier["precision"]):
            rows.append(dict(epoch=epoch, **earlier))
            continue
        model, _ = gu.load_generator(path)
        row = dict(epoch=epoch, **metrics_log.figures_of(evaluator(model, samples)))
        q_path = path.with_name(path.name.replace("generator", "q_model"))
        if q_evaluator is not None and q_path.is_file():
            row.update(metrics_log.figures_of(q_evaluator(gu.load_generator(q_path)[0])))
        print(", ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
        rows.append(row)
    return rows, evaluator.judge_info


def draw(rows, name, judge_info):
    """Each figure by epoch beside its ceiling: the real images' own figure, and for the judge's
    reading the judge's accuracy on real test images."""
    epochs = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for column, colour in (("class_agreement", "C0"), ("code_accuracy", "C0"), ("precision", "C2"),
                           ("recall", "C3"), ("q_accuracy", "C1")):
        if column in rows[0]:
            ax.plot(epochs, [r[column] for r in rows], "o-", color=colour, label=column.replace("_", " "))
            if f"real_{column}" in rows[0]:
                ax.axhline(rows[-1][f"real_{column}"], color=colour, linestyle="--", linewidth=0.8,
                           label=f"{column} of real training images")
            elif column in ("class_agreement", "code_accuracy"):
                ax.axhline(judge_info["test_accuracy"], color=colour, linestyle="--", linewidth=0.8,
                           label="the judge on real test images")
    ax.set(xlabel="epoch", ylim=(0, 1), xticks=epochs)
    ax.set_title(f"{name}: {int(rows[0]['samples']):,} samples, {describe(judge_info).split(' (')[0]}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(HERE / f"{name}_axes.png", dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    rows, judge_info = measure(args.run, args.samples, args.data_dir)
    with open(HERE / f"{args.name}_axes.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), restval="")
        writer.writeheader()
        writer.writerows({k: f"{v:.6g}" for k, v in r.items()} for r in rows)
    draw(rows, args.name, judge_info)


if __name__ == "__main__":
    main()
