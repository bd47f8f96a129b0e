"""The figures the README and the docstrings quote agree with the CSVs in docs/results/ they come from."""
import csv
import re

import pytest

from conftest import REPO

CURVES = REPO / "docs" / "results" / "curves"
CGAN_SEEDS = [CURVES / f"cgan_fashion_batch32_seed{seed}_metrics.csv" for seed in (7, 8, 9)]


ACGAN_SEEDS = [REPO / "docs" / "results" / "screening" / f"acgan_batch32_fake_class_weight0_seed{seed}_metrics.csv"
               for seed in (7, 8, 9)]
INFOGAN_SEEDS = [CURVES / f"infogan_mnist_seed{seed}_metrics.csv" for seed in (7, 8, 9)]
ACGAN_AXES = {seed: REPO / "docs" / "results" / "axes" / f"acgan_fashion_seed{seed}_metrics.csv" for seed in (7, 8, 9)}


def agreement_at(path, epoch, column="class_agreement"):
    with open(path, newline="") as f:
        return next(float(row[column]) for row in csv.DictReader(f) if int(row["epoch"]) == epoch)


def span(values, decimals=0):
    """"40-46%": the lowest and the highest, as percentages rounded half up."""
    low, high = (int(10 ** decimals * 100 * v + 0.5 + 1e-9) / 10 ** decimals for v in (min(values), max(values)))
    return f"{low:.{decimals}f}-{high:.{decimals}f}%"


def docstring(script):
    return " ".join((REPO / "scripts" / f"{script}.py").read_text().split('"""')[1].split())


@pytest.mark.parametrize("epoch", [1, 2])
def test_the_cgan_figures_after_one_and_two_epochs_are_the_three_seeds_csvs(epoch):
    quoted = span([agreement_at(path, epoch) for path in CGAN_SEEDS])
    readme = " ".join((REPO / "README.md").read_text().split())
    assert (f"A full epoch draws clothes of the class asked for {quoted}" if epoch == 1
            else f"two epochs {quoted} (three seeds)") in readme
    assert f"{quoted} after epoch {epoch}" in docstring("cgan_fashion")


def test_the_acgan_and_infogan_docstrings_quote_their_three_seeds_csvs():
    acgan = span([agreement_at(path, 3) for path in ACGAN_SEEDS])
    assert f"class agreement {acgan} after epoch 3 on three seeds" in docstring("acgan_fashion")
    early = span([agreement_at(path, 2, "code_accuracy") for path in INFOGAN_SEEDS])
    late = span([agreement_at(path, 15, "code_accuracy") for path in INFOGAN_SEEDS], decimals=1)
    assert f"code accuracy {early} after epoch 2 and {late} after epoch 15 on three seeds" in docstring("infogan_mnist")


def test_each_grid_in_the_readme_results_is_of_the_epoch_its_row_quotes():
    for row in (line for line in (REPO / "README.md").read_text().splitlines() if "<img src=\"docs/results/" in line):
        grid_epoch = int(re.search(r"_e(\d{3})\.png", row).group(1))
        quoted_epochs = {int(e) for e in re.findall(r"at epoch (\d+)", row)}
        assert not quoted_epochs or grid_epoch in quoted_epochs, row
        assert (REPO / re.search(r'src="([^"]+)"', row).group(1)).is_file(), row


@pytest.mark.parametrize("paths,epochs,heading", [(CGAN_SEEDS, (1, 2, 3, 10), "## `cgan_fashion`"),
                                                  (ACGAN_SEEDS, (1, 2, 3, 7), "## `acgan_fashion`")])
def test_the_results_page_tables_are_the_seeds_csvs(paths, epochs, heading):
    section = (REPO / "docs" / "results.md").read_text().split(heading)[1]
    row = next(line for line in section.splitlines() if line.startswith("| class agreement, seeds 7 / 8 / 9"))
    cells = [cell.strip() for cell in row.strip("|").split("|")[1:]]

    def shown(path, epoch):
        try:
            return f"{int(1000 * agreement_at(path, epoch) + 0.5 + 1e-9) / 10:.1f}"
        except StopIteration:  # a seed that was not run that far
            return "-"

    assert cells == [" / ".join(shown(path, epoch) for path in paths) + ("%" if shown(paths[-1], epoch) != "-" else "")
                     for epoch in epochs]


def test_the_readme_results_rows_quote_the_csvs():
    rows = {line.split("|")[1].strip(): line for line in (REPO / "README.md").read_text().splitlines()
            if line.startswith("| `")}
    cgan = rows["`cgan_fashion`, the default batch of 32"]
    tenth = [f"{100 * agreement_at(path, 10):.1f}" for path in CGAN_SEEDS]
    assert f"class agreement **{tenth[0]}, {tenth[1]} and {tenth[2]}%** at epoch 10" in cgan
    acgan = rows["`acgan_fashion`, the defaults (batch 32, class head on real images)"]
    third, seventh = (f"{100 * agreement_at(ACGAN_SEEDS[0], 3):.1f}",
                      [f"{100 * agreement_at(path, 7):g}" for path in ACGAN_SEEDS[1:]])
    assert f"class agreement **{third}%** at epoch 3; **{seventh[0]} and {seventh[1]}%** at epoch 7" in acgan
    ninth = [f"{agreement_at(path, 9, 'recall') / agreement_at(path, 9, 'real_recall'):.2f}" for path in ACGAN_AXES.values()]
    assert f"recall at epoch 9 **{ninth[0]}, {ninth[1]} and {ninth[2]}** of real images'" in acgan


AXES = {seed: REPO / "docs" / "results" / "axes" / f"cgan_fashion_seed{seed}_axes.csv" for seed in (7, 8, 9)}


def csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def axes_rows(seed):
    return csv_rows(AXES[seed])


def both_axes_rows():
    """{first cell: the other cells} of each table row in the results page's "Both axes"."""
    section = (REPO / "docs" / "results.md").read_text().split("## Both axes")[1]
    return {line.split("|")[1].strip(): [cell.strip() for cell in line.strip().strip("|").split("|")[1:]]
            for line in section.splitlines() if line.startswith("| ")}


def percent(value):
    """"90.5%": a fraction as a percentage with one decimal, rounded half up."""
    return f"{int(1000 * float(value) + 0.5 + 1e-9) / 10:.1f}%"


@pytest.mark.parametrize("seed", sorted(AXES))
def test_the_both_axes_table_is_each_seeds_csv(seed):
    rows = axes_rows(seed)
    ceiling = float(rows[0]["real_recall"])
    lines = both_axes_rows()
    assert lines["epoch"] == [row["epoch"] for row in rows]
    assert lines[f"seed {seed}: class agreement"] == [percent(row["class_agreement"]) for row in rows]
    assert lines[f"seed {seed}: recall"] == [f"{float(row['recall']):.2f}" for row in rows]
    assert lines[f"seed {seed}: precision"] == [f"{float(row['precision']):.2f}" for row in rows]
    assert lines[f"seed {seed}: recall over its ceiling"] == [f"{float(row['recall']) / ceiling:.2f}" for row in rows]


@pytest.mark.parametrize("seed", sorted(ACGAN_AXES))
def test_the_acgan_both_axes_table_is_each_seeds_csv(seed):
    rows = csv_rows(ACGAN_AXES[seed])
    ceiling = float(rows[0]["real_recall"])
    lines = both_axes_rows()
    assert lines["AC-GAN, epoch"][:len(rows)] == [row["epoch"] for row in rows]
    assert lines[f"AC-GAN seed {seed}: class agreement"] == [percent(row["class_agreement"]) for row in rows]
    assert lines[f"AC-GAN seed {seed}: precision"] == [f"{float(row['precision']):.2f}" for row in rows]
    assert lines[f"AC-GAN seed {seed}: recall"] == [f"{float(row['recall']):.2f}" for row in rows]
    assert lines[f"AC-GAN seed {seed}: recall over its ceiling"] == [f"{float(row['recall']) / ceiling:.2f}" for row in rows]


def test_the_readme_recall_is_the_seed_7_csv():
    rows = axes_rows(7)
    ceiling = float(rows[0]["real_recall"])
    tenth = rows[-1]
    readme = " ".join((REPO / "README.md").read_text().split())
    assert (f"recall **{float(tenth['recall']):.2f}** at epoch {tenth['epoch']} on seed 7, "
            f"{float(tenth['recall']) / ceiling:.2f} of real images' {ceiling:.2f}") in readme


def q_reading(path):
    """"85.8% at 15 (best 86.0% at 11)": Q's accuracy at a run's last epoch, and its best where higher."""
    rows = [row for row in csv_rows(path) if row.get("q_accuracy")]
    last, best = rows[-1], max(rows, key=lambda row: float(row["q_accuracy"]))
    reading = f"{percent(last['q_accuracy'])} at {last['epoch']}"
    if percent(best["q_accuracy"]) != percent(last["q_accuracy"]):
        reading += f" (best {percent(best['q_accuracy'])} at {best['epoch']})"
    return reading


def test_the_infogan_table_of_everything_tried_is_its_csvs():
    section = (REPO / "docs" / "results.md").read_text().split("## `infogan_mnist`")[1].split("\n## ")[0]
    cells = re.findall(r"\[([^\]]+)\]\((results/[^)]+_metrics\.csv)\)", section)
    assert len(cells) == 21
    for shown, path in cells:
        assert shown == q_reading(REPO / "docs" / path), path
