"""The run around the loop: a diverging loss stops it and keeps the last snapshot."""
import keras
import numpy as np
import pytest

import gan_fashion
from ganlib import atomic_files as gf
from conftest import settings_of, snapshots


def test_a_nan_loss_stops_the_run_and_keeps_the_last_snapshot(tiny_data, tmp_path):
    """--eager, so that one update's loss can be made nan; the check itself reads the losses as
    the compiled step leaves them (tests/test_step.py: the same values)."""
    settings = settings_of(gan_fashion, "--eval-samples", 0, "--epochs", 3, "--batch-size", 8, "--steps-per-epoch", 2,
                           "--eval-every", 1, "--out", tmp_path, "--data-dir", tiny_data, "--eager")
    g_model, d_model, gan_model, _ = gan_fashion.define_models(settings)
    calls = []
    original = d_model.train_on_batch

    def train_on_batch(x, y):
        calls.append(1)
        result = original(x, y)
        return [float("nan"), result[1]] if len(calls) == 8 else result  # epoch 2, step 2, fake half

    d_model.train_on_batch = train_on_batch
    with pytest.raises(gf.UserError, match=r"loss d_fake became nan at epoch 2, step 2: training diverged"):
        gan_fashion.train(g_model, d_model, gan_model, gan_fashion.load_real_samples(settings), settings)
    assert snapshots(tmp_path) == ["generator_e001.h5"]
    keras.models.load_model(tmp_path / "generator_e001.h5", compile=False)
    with np.load(tmp_path / "checkpoint.npz") as f:
        assert '"epoch": 1' in str(f["meta"])
    assert "diverged: loss d_fake became nan at epoch 2, step 2" in (tmp_path / "report.html").read_text()
