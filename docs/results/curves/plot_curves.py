"""Draws the learning curves in this folder from the runs' metrics.csv files copied beside it.

For each <script>_metrics.csv, <script>_curve.png: the script's primary figure (the one
generator_best.h5 is chosen by) against the run's wall-clock minutes, averaged and raw generator.
For each pair in COMPARED, <name>.png: the same figure by epoch for two runs that differ only in
the averaging rule (their raw generators train identically), the raw generator once. For each
group in SEEDS, <name>.png: the averaged generator's figure by epoch for runs that differ only in
their seed, with the 50% and 90% marks.

    python docs/results/curves/plot_curves.py
"""
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "scripts"))
from ganlib.report import primary_figure  # noqa: E402

RUNS = {  # what each run's title says: its data, seed and judge
    "cgan_fashion": "Fashion-MNIST, seed 7: class agreement by a 91.7% judge",
    "acgan_fashion": "Fashion-MNIST, seed 7: class agreement by a 91.7% judge",
    "gan_fashion": "Fashion-MNIST, seed 7: FID against the test images",
    "infogan_mnist_tutorial": "the tutorial's rule and settings, seed 7: code accuracy by a 99.3% judge",
    "infogan_mnist_seed7": "the default (the paper's rule and settings), seed 7: code accuracy",
    "infogan_mnist_seed8": "the default (the paper's rule and settings), seed 8: code accuracy",
    "infogan_mnist_seed9": "the default (the paper's rule and settings), seed 9: code accuracy",
    "infogan_mnist_tutorial_rule_seed7": "the tutorial's rule, the paper's settings, seed 7: code accuracy",
    "cgan_fashion_batch32_seed7": "batch 32, seed 7: class agreement by the shipped judge",
    "cgan_fashion_batch32_seed7_half_life": "batch 32, seed 7, --ema-half-life 10000: class agreement",
    "cgan_fashion_batch32_seed8": "batch 32, seed 8: class agreement by the shipped judge",
    "cgan_fashion_batch32_seed9": "batch 32, seed 9: class agreement by the shipped judge",
    "cgan_fashion_batch32_seed8_half_life": "batch 32, seed 8, --ema-half-life 10000: class agreement",
    "cgan_fashion_batch32_seed9_half_life": "batch 32, seed 9, --ema-half-life 10000: class agreement",
}
PERCENT = {"class_agreement", "code_accuracy"}
AVERAGE = {f"cgan_fashion_batch32_seed{seed}_half_life": "half-life 10,000 images"
           for seed in (7, 8, 9)}  # the others: --ema-decay 0.999
COMPARED = {f"cgan_fashion_batch32_seed{seed}_averages": (f"cgan_fashion_batch32_seed{seed}",
                                                          f"cgan_fashion_batch32_seed{seed}_half_life")
            for seed in (7, 8, 9)}
SEEDS = {"cgan_fashion_batch32_seeds": [f"cgan_fashion_batch32_seed{seed}" for seed in (7, 8, 9)]}


def read(metrics_csv):
    """(rows, primary figure's column, its scale to the plotted unit) of a run's metrics.csv."""
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    primary = primary_figure(rows[0])[0]
    return rows, primary, 100 if primary in PERCENT else 1


def axis_name(primary, scale):
    return "FID in the judge's features, lower is better" if primary == "fid" else \
        primary.replace("_", " ") + (" (%)" if scale == 100 else "")


def save(fig, ax, name):
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = HERE / f"{name}.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    print(out)


def plot(metrics_csv):
    script = metrics_csv.name.removesuffix("_metrics.csv")
    rows, primary, scale = read(metrics_csv)
    minutes = [float(r["minutes"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    for column, label, style in ((primary, f"averaged generator ({AVERAGE.get(script, 'EMA 0.999')})", "o-"),
                                 (f"raw_{primary}", "raw generator", "s--")):
        values = [float(r[column]) * scale for r in rows]
        ax.plot(minutes, values, style, label=label)
    for r, x in zip(rows, minutes):
        ax.annotate(r["epoch"], (x, float(r[primary]) * scale), textcoords="offset points",
                    xytext=(0, 7), ha="center", fontsize=7)
    ax.set(title=f"{script}, {RUNS.get(script, '')}", xlabel="wall-clock minutes (resumed parts included)",
           ylabel=axis_name(primary, scale))
    save(fig, ax, f"{script}_curve")


def plot_compared(name, runs):
    fig, ax = plt.subplots(figsize=(7, 4))
    for position, run in enumerate(runs):
        rows, primary, scale = read(HERE / f"{run}_metrics.csv")
        epochs = [int(r["epoch"]) for r in rows]
        if position == 0:
            ax.plot(epochs, [float(r[f"raw_{primary}"]) * scale for r in rows], "s--", color="gray",
                    label="raw generator")
        ax.plot(epochs, [float(r[primary]) * scale for r in rows], "o-",
                label=f"averaged generator ({AVERAGE.get(run, 'EMA 0.999')})")
    ax.set(title=f"{runs[0]}: the averaging rules", xlabel="epoch", ylabel=axis_name(primary, scale))
    save(fig, ax, name)


def plot_seeds(name, runs):
    fig, ax = plt.subplots(figsize=(7, 4))
    for run in runs:
        rows, primary, scale = read(HERE / f"{run}_metrics.csv")
        ax.plot([int(r["epoch"]) for r in rows], [float(r[primary]) * scale for r in rows], "o-",
                label=f"seed {run.rsplit('seed', 1)[1]}")
    for mark in (50, 90):
        ax.axhline(mark, color="gray", linewidth=0.8, linestyle=":")
    ax.set(title=f"{runs[0].rsplit('_seed', 1)[0]}: the averaged generator "
                 f"({AVERAGE.get(runs[0], 'EMA 0.999')}), {len(runs)} seeds",
           xlabel="epoch", ylabel=axis_name(primary, scale))
    save(fig, ax, name)


if __name__ == "__main__":
    for metrics_csv in sorted(HERE.glob("*_metrics.csv")):
        plot(metrics_csv)
    for name, runs in COMPARED.items():
        plot_compared(name, runs)
    for name, runs in SEEDS.items():
        plot_seeds(name, runs)
