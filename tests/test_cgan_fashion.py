"""The conditional Fashion-MNIST GAN: the switch, label smoothing, the other datasets, its flags."""
import numpy as np
import pytest

import cgan_fashion
from ganlib import cli
from ganlib.saved import read_generator_info
import runchecks
import switchcheck


def test_discriminator_trains_in_its_own_update_and_is_frozen_in_the_composite(tiny_data, tmp_path):
    switchcheck.assert_switch_works(switchcheck.run_and_record("cgan_fashion", tiny_data, tmp_path))


@pytest.mark.slow
def test_label_smoothing_sets_real_targets(tiny_data, tmp_path):
    records = switchcheck.run_and_record("cgan_fashion", tiny_data, tmp_path, steps=1, flags=["--label-smoothing", "0.1"])
    real, fake, gan = records
    np.testing.assert_allclose(real["y"], 0.9)
    np.testing.assert_allclose(fake["y"], 0.0)
    np.testing.assert_allclose(gan["y"], 1.0)


@pytest.mark.slow
def test_short_run_writes_outputs_and_a_generator_that_reloads(tiny_data, tmp_path):
    runchecks.check_short_fashion_run(cgan_fashion, tiny_data, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("dataset,n_classes", [("mnist", 10), ("emnist", 47)])
def test_cgan_trains_on_the_other_datasets(dataset, n_classes, tiny_data, tmp_path):
    cli.run_main(cgan_fashion.main, ["--dataset", dataset, "--data-dir", str(tiny_data), "--out", str(tmp_path),
                                    "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8"])
    info = read_generator_info(tmp_path / "generator.h5")
    assert info["dataset"] == dataset and info["n_classes"] == n_classes == len(info["class_names"])


@pytest.mark.slow
@pytest.mark.extended
def test_jax_backend_trains_with_the_switch_and_its_generator_loads_here(tiny_data, tmp_path):
    pytest.importorskip("jax")
    runchecks.check_jax_run("cgan_fashion", tiny_data, tmp_path, command_line=True)


@pytest.mark.slow
def test_the_mode_seeking_term_trains_the_generator_alone_on_pairs_of_one_label(tiny_data, tmp_path):
    """--mode-seeking-weight: the composite takes two latent points for each label, its update
    still moves the whole generator and none of the discriminator, and the term is logged."""
    records = switchcheck.run_and_record("cgan_fashion", tiny_data, tmp_path, flags=["--mode-seeking-weight", "1"])
    switchcheck.assert_switch_works(records)
    for record in (r for r in records if r["kind"] == "gan"):
        source_targets, unused = record["y"]
        assert source_targets.shape == (4, 2) and unused.shape == (4, 1)
        total, source, spread = (float(v) for v in record["result"])
        assert spread > 0 and total == pytest.approx(source + spread, rel=1e-4)
    header = (tmp_path / "run" / "losses.csv").read_text().splitlines()[0]
    assert header == "epoch,step,d_real,d_fake,g,mode_seeking"


def test_the_mode_seeking_term_is_high_for_a_pair_drawn_alike_and_low_for_a_pair_far_apart():
    """PairSpread and mode_seeking_loss worked by hand: the mean image distance over the mean
    latent distance, pair by pair, and its inverse."""
    noise = np.zeros((2, 4), "float32")
    other_noise = np.full((2, 4), 2.0, "float32")
    images = np.zeros((2, 3, 3, 1), "float32")
    other_images = np.stack([np.zeros((3, 3, 1)), np.ones((3, 3, 1))]).astype("float32")
    spread = np.asarray(cgan_fashion.PairSpread()([images, other_images, noise, other_noise]))
    np.testing.assert_allclose(spread, [[0.0], [0.5]])
    loss = np.asarray(cgan_fashion.mode_seeking_loss(None, spread))
    np.testing.assert_allclose(loss, [[1e5], [2.0]], rtol=1e-4)
