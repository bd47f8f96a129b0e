"""Each training script a few compiled steps on the Keras backend of this process, in one process
so the backend loads once: `KERAS_BACKEND=torch python tests/support/backendcheck.py DATA_DIR MAPS_DIR OUT_DIR`.
Each run goes to OUT_DIR/SCRIPT; the test reads what they wrote."""
import importlib
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2] / "scripts"), str(Path(__file__).resolve().parent),
                str(Path(__file__).resolve().parents[1])]  # the scripts, the support modules, conftest

from conftest import TRAINING_SCRIPTS  # noqa: E402
from ganlib import cli  # noqa: E402

# AC-GAN's average re-measures its BatchNormalization statistics on 5,120 images at each
# summary, and PyTorch's transposed convolutions on a CPU take over a second a batch of them
WITHOUT_AVERAGE = {"acgan_fashion"}

data_dir, maps_dir, out_dir = sys.argv[1:4]
for script in TRAINING_SCRIPTS:
    module = importlib.import_module(script)
    cli.run_main(module.main, ["--data-dir", maps_dir if script == "pix2pix_maps" else data_dir,
                               "--out", str(Path(out_dir) / script), "--epochs", "1", "--steps-per-epoch", "2",
                               "--batch-size", "1" if script == "pix2pix_maps" else "8", "--eval-samples", "0",
                               "--seed", "3", *(["--ema-decay", "0"] if script in WITHOUT_AVERAGE else [])])
