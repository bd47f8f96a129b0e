"""The figures the README and the docstrings quote agree with the CSVs in docs/results/ they come from."""
import csv
import re

import pytest

from conftest import REPO

CURVES = REPO / "docs" / "results" / "curves"
CGAN_SEEDS = [CURVES / f"cgan_fashion_batch32_seed{seed}_metrics.csv" for seed in (7, 8, 9)]


def agreement_at(path, epoch):
    with open(path, newline="") as f:
        return next(float(row["class_agreement"]) for row in csv.DictReader(f) if int(row["epoch"]) == epoch)


def span(values):
    """"40-46%": the lowest and the highest, as whole percentages rounded half up."""
    low, high = (int(100 * v + 0.5 + 1e-9) for v in (min(values), max(values)))
    return f"{low}-{high}%"


@pytest.mark.parametrize("epoch", [1, 2])
def test_the_cgan_figures_after_one_and_two_epochs_are_the_three_seeds_csvs(epoch):
    quoted = span([agreement_at(path, epoch) for path in CGAN_SEEDS])
    readme = " ".join((REPO / "README.md").read_text().split())
    docstring = " ".join((REPO / "scripts" / "cgan_fashion.py").read_text().split('"""')[1].split())
    assert (f"A full epoch draws clothes of the class asked for {quoted}" if epoch == 1
            else f"two epochs {quoted} (three seeds)") in readme
    assert f"{quoted} after epoch {epoch}" in docstring


def test_each_grid_in_the_readme_results_is_of_the_epoch_its_row_quotes():
    for row in (line for line in (REPO / "README.md").read_text().splitlines() if "<img src=\"docs/results/" in line):
        grid_epoch = int(re.search(r"_e(\d{3})\.png", row).group(1))
        quoted_epochs = {int(e) for e in re.findall(r"at epoch (\d+)", row)}
        assert not quoted_epochs or grid_epoch in quoted_epochs, row
        assert (REPO / re.search(r'src="([^"]+)"', row).group(1)).is_file(), row
