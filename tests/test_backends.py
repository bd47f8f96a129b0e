"""Every training script trains on PyTorch: a few compiled steps each, in one process, and the
generator each one saves loads and draws here."""
import numpy as np
import pytest

import datafiles
from conftest import TRAINING_SCRIPTS, run_script
from ganlib import data as gd
from ganlib.kinds import KINDS
from runchecks import generator_images, read_generator_info, read_losses


@pytest.mark.slow
@pytest.mark.extended
def test_every_script_trains_on_pytorch(tiny_data, tmp_path):
    pytest.importorskip("torch")
    maps = tmp_path / "maps"
    datafiles.write_maps_folder(maps, broken=False)
    run = run_script(["tests/support/backendcheck.py", tiny_data, maps, tmp_path / "runs"], backend="torch")
    assert run.returncode == 0, run.stderr[-3000:]
    for script in TRAINING_SCRIPTS:
        out = tmp_path / "runs" / script
        rows = read_losses(out)
        losses = np.array([[float(v) for k, v in row.items() if k not in ("epoch", "step")] for row in rows])
        assert len(rows) == 2 and np.isfinite(losses).all(), script
        assert not np.array_equal(losses[0], losses[1]), script  # the second step saw trained weights
        info = read_generator_info(out / "generator.h5")
        kind = KINDS[info["kind"]]
        if kind.inputs is None:  # Pix2Pix: a satellite image in, a map out
            shape = gd.MAPS_IMAGE_SHAPE
            inputs = np.zeros((1, *shape), "float32")
        else:
            shape = tuple(info["image_shape"])
            inputs, _ = kind.inputs(info, 2, np.random.default_rng(0))
        images = generator_images(out / "generator.h5", inputs)
        assert images.shape[1:] == shape and np.abs(images).max() <= 1, script
