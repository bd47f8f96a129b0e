import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
JAX_CACHE = Path(tempfile.mkdtemp(prefix="gan-tests-jax-cache-"))
atexit.register(shutil.rmtree, JAX_CACHE, True)
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "support"))

import datafiles  # noqa: E402
from ganlib import data as gd, tutorial as gu, settings as gs  # noqa: E402
from ganlib.kinds import KINDS  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def keras_home(tmp_path_factory):
    """One Keras home for the whole session, module-scoped fixtures included: its judges/ is
    trained once per tiny dataset, as on a user's machine, and it holds no dataset."""
    home = tmp_path_factory.mktemp("keras_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(home))
        yield home


@pytest.fixture(autouse=True)
def no_outside_data(tmp_path_factory, monkeypatch):
    """Tests see only the data they write: no Keras dataset cache, system folder, data/ or network."""
    empty = tmp_path_factory.mktemp("empty")
    monkeypatch.setattr(gd, "SYSTEM_DATA_DIR", empty / "system")
    monkeypatch.setattr(gd, "LOCAL_DATA_DIR", empty / "local")
    monkeypatch.setattr(gs, "EVAL_SAMPLES", 40)  # --eval-samples' default: tiny runs measure 40 images

    def no_network():
        raise ConnectionError("no network in tests")

    for spec in gd.DATASETS.values():
        if spec["download"] is not None:
            monkeypatch.setitem(spec, "download", no_network)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """One folder with every dataset, in Keras' cache layout."""
    root = tmp_path_factory.mktemp("data")
    datafiles.write_fashion_mnist(root)
    datafiles.write_mnist_npz(root)
    datafiles.write_emnist_balanced(root)
    datafiles.write_cifar10_folder(root / "cifar-10-batches-py", datafiles.cifar_batches())
    return root


# The training scripts, each a tutorial's GAN (docs/layout.md); every other list derives from it.
TRAINING_SCRIPTS = ["gan_fashion", "cgan_fashion", "dcgan_cifar10", "acgan_fashion", "infogan_mnist", "pix2pix_maps"]


def settings_of(script, *flags):
    """A training script's settings with these flags, as its main() parses them."""
    return gs.parse_settings(vars(script), list(map(str, flags)))


def save_untrained(script_name, path):
    """An untrained generator of a training script, saved with what its runs store in one (its
    generator_info, whose kind kinds.py knows)."""
    script = importlib.import_module(script_name)
    settings = settings_of(script)
    g_model, *_ = script.define_models(settings)
    info = script.generator_info(settings)
    assert info["kind"] in KINDS
    gu.save_generator(g_model, path, **info, image_shape=list(g_model.outputs[0].shape[1:]), epoch=0)
    return path


@pytest.fixture(scope="session")
def cgan_generator(tmp_path_factory):
    """An untrained conditional generator, saved as cgan_fashion.py saves one."""
    return save_untrained("cgan_fashion", tmp_path_factory.mktemp("generator") / "cgan.h5")


def snapshots(out):
    """The generator snapshots a run left, by name."""
    return sorted(p.name for p in out.glob("generator_e*.h5"))


def metrics_columns(out):
    """The header of a run's metrics.csv, after checking the run kept a best generator."""
    assert (out / "generator_best.h5").stat().st_size > 0
    return (out / "metrics.csv").read_text().splitlines()[0].split(",")


SMALL_EVAL = ["--eval-samples", "40"]  # what EVAL_SAMPLES is in tests, for scripts run as a user does


def run_script(args, backend=None, timeout=600, env=None):
    """Run a script as a user does, on the given Keras backend (default: TensorFlow). JAX keeps
    what it compiles in one folder for the session: runs of the same models compile them once."""
    env = {**os.environ, "KERAS_BACKEND": backend or "tensorflow", "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", **(env or {})}
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
