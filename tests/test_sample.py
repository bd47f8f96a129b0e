"""sample.py draws every mode from a saved generator and refuses bad input in one line."""
import h5py
import keras
import numpy as np
import pytest

from ganlib import cli
from ganlib.saved import GENERATOR_INFO_ATTR
import sample
from conftest import run_script, save_untrained


@pytest.fixture(scope="module")
def generators(tmp_path_factory):
    """An untrained conditional and unconditional generator, saved as the scripts save them."""
    folder = tmp_path_factory.mktemp("generators")
    save_untrained("cgan_fashion", folder / "cgan.h5")
    save_untrained("gan_fashion", folder / "gan.h5")
    return folder


def draw(generator, tmp_path, *flags):
    array = tmp_path / "images.npy"
    cli.run_main(sample.main, [str(generator), "--out", str(tmp_path / "out.png"),
                              "--save-array", str(array), "--seed", "0", *flags])
    assert (tmp_path / "out.png").stat().st_size > 0
    return np.load(array)


@pytest.mark.parametrize("kind,flags,shape", [
    ("cgan", [], (100, 28, 28, 1)),
    ("cgan", ["--n", "3", "--label", "Dress"], (9, 28, 28, 1)),
    ("cgan", ["--n", "2", "--per-class"], (20, 28, 28, 1)),
    ("cgan", ["--point", "0.75", "--label", "5"], (1, 28, 28, 1)),
    ("cgan", ["--interpolate", "--n", "4"], (4, 28, 28, 1)),
    ("gan", ["--n", "4"], (16, 28, 28, 1)),
    ("gan", ["--point", "0.75"], (1, 28, 28, 1)),
    ("gan", ["--interpolate", "--n", "5"], (5, 28, 28, 1)),
])
def test_every_mode_writes_png_and_array(generators, tmp_path, kind, flags, shape):
    images = draw(generators / f"{kind}.h5", tmp_path, *flags)
    assert images.shape == shape and images.min() >= -1 and images.max() <= 1


def test_label_by_name_or_number_is_respected(generators, tmp_path):
    dress_by_name = draw(generators / "cgan.h5", tmp_path, "--label", "dress", "--n", "2")
    dress_by_number = draw(generators / "cgan.h5", tmp_path, "--label", "3", "--n", "2")
    sandal = draw(generators / "cgan.h5", tmp_path, "--label", "5", "--n", "2")
    np.testing.assert_array_equal(dress_by_name, dress_by_number)
    assert not np.allclose(dress_by_name, sandal)


def test_point_is_the_generator_at_the_filled_vector(generators, tmp_path):
    image = draw(generators / "gan.h5", tmp_path, "--point", "0.75")
    g_model = keras.models.load_model(generators / "gan.h5", compile=False)
    expected = g_model.predict_on_batch(np.full((1, 100), 0.75, "float32"))
    np.testing.assert_allclose(image, expected, atol=1e-6)


def test_interpolation_moves_from_one_end_to_the_other(generators, tmp_path):
    images = draw(generators / "gan.h5", tmp_path, "--interpolate", "--n", "6")
    steps = [np.abs(images[k + 1] - images[k]).mean() for k in range(5)]
    assert np.abs(images[-1] - images[0]).mean() > max(steps)


@pytest.fixture
def not_generators(tmp_path):
    damaged = tmp_path / "damaged.h5"
    with h5py.File(damaged, "w") as f:
        f.attrs[GENERATOR_INFO_ATTR] = '{"kind": "gan", "latent_dim": 100, "n_classes": 0, "class_names": []}'
    return tmp_path


@pytest.mark.parametrize("target,flags,message", [  # the rest are in test_bad_input.py
    ("damaged.h5", [], "could not be loaded as a Keras model"),
    ("cgan", ["--label", "-1"], "label -1 is out of range"),
    ("gan", ["--label", "1"], "--label is for cgan, acgan generators; this one is gan"),
    ("gan", ["--per-class"], "--per-class is for cgan, acgan generators; this one is gan"),
    ("gan", ["--sweep", "0"], "--sweep is for infogan generators; this one is gan"),
    ("cgan", ["--label", "Dress", "--per-class"], "--per-class cannot go with --label: --per-class draws every class"),
    ("cgan", ["--sweep", "1", "--code", "2"], "--sweep cannot go with --code: a sweep draws one row per code value"),
    ("cgan", ["--sweep", "0", "--n", "5"], "--sweep cannot go with --n: a sweep's rows are the code values"),
    ("gan", ["--point", "0.5", "--n", "3"], "--point cannot go with --n: --point draws the one image"),
    ("cgan", ["--label", "Ankle", "boot"], 'unrecognized arguments: boot (a class name with a space needs quotes: '
                                           '--label "Ankle boot")'),
])
def test_bad_input_is_one_line_and_nonzero(generators, not_generators, target, flags, message, capsys):
    path = generators / f"{target}.h5" if target in ("cgan", "gan") else not_generators / target
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(sample.main, [str(path), "--out", str(not_generators / "x.png"), *flags])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err


@pytest.mark.slow
def test_command_line_error_has_no_traceback(tmp_path):
    result = run_script(["scripts/sample.py", tmp_path / "missing.h5"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"error: no such file: {tmp_path / 'missing.h5'}"



@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_generator_saved_on_tensorflow_samples_the_same_images_on_another_backend(backend, generators, tmp_path):
    pytest.importorskip(backend)
    point = ["--point", "0.5", "--label", "Dress"]
    here = draw(generators / "cgan.h5", tmp_path, *point)
    there = tmp_path / f"{backend}.npy"
    result = run_script(["scripts/sample.py", generators / "cgan.h5", *point, "--out", tmp_path / f"{backend}.png",
                         "--save-array", there], backend=backend)
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(np.load(there), here, atol=1e-5)


def test_save_array_names_the_file_numpy_writes(generators, tmp_path, capsys):
    cli.run_main(sample.main, [str(generators / "gan.h5"), "--out", str(tmp_path / "grid.png"), "--n", "2",
                               "--save-array", str(tmp_path / "images")])
    assert f"wrote {tmp_path / 'images.npy'} (4, 28, 28, 1)" in capsys.readouterr().out
    assert np.load(tmp_path / "images.npy").shape == (4, 28, 28, 1)
