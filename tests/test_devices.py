"""--devices (data parallel through keras.distribution, JAX) and --mixed-precision."""
import json

import keras
import numpy as np
import pytest

import cgan_fashion
from ganlib import cli, tutorial as gu
from conftest import run_script, settings_of

# Two devices sum each gradient in two halves and add them: float32 rounding in another order
# (measured: 6e-8 for cgan, 2.4e-6 for acgan, after two steps). A batch that was not split, or a
# device given the whole batch, changes the losses by 1e-2 or more.
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def two_device_run(tiny_data, tmp_path_factory):
    pytest.importorskip("jax")
    out = tmp_path_factory.mktemp("devices")
    check = run_script(["tests/support/devicecheck.py", tiny_data, out], backend="jax",
                       env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert check.returncode == 0, check.stderr[-3000:]
    return json.loads(check.stdout.strip().splitlines()[-1]), out


@pytest.mark.slow
@pytest.mark.extended
@pytest.mark.parametrize("script", ["cgan_fashion", "acgan_fashion"])
def test_two_devices_give_one_devices_losses_and_keep_both_switches(two_device_run, script):
    found, _ = two_device_run
    assert found["devices"] == ["cpu:0", "cpu:1"] and found["all"] == 2
    assert found[script]["losses"] >= 10 and found[script]["max_rel_diff"] < TOLERANCE


@pytest.mark.slow
@pytest.mark.extended
def test_a_two_device_run_resumes_and_its_generator_samples_on_one_device(two_device_run):
    found, out = two_device_run
    assert found["first"] == [0, ""] and found["resumed"] == [0, ""]
    losses = (out / "resumed" / "losses.csv").read_text().splitlines()[1:]
    assert [line.split(",")[:2] for line in losses] == [["1", "1"], ["1", "2"], ["2", "1"], ["2", "2"]]
    g_model, info = gu.load_generator(out / "resumed" / "generator.h5")
    assert info["epoch"] == 2
    images = g_model.predict_on_batch([np.zeros((3, 100), "float32"), np.arange(3)])
    assert images.shape == (3, 28, 28, 1) and np.abs(images).max() <= 1


@pytest.mark.slow
@pytest.mark.extended
def test_device_refusals_are_one_line(two_device_run):
    found, _ = two_device_run
    assert found["odd_batch"] == [2, "error: --batch-size 6 does not split over 2 devices: each discriminator "
                                     "update takes half a batch, so use a multiple of 4\n"]
    assert found["too_many"] == [2, "error: --devices 3: this machine has 2 (cpu:0, cpu:1)\n"]


@pytest.mark.parametrize("argv,message", [
    (["--devices", "2"], "--devices 2: data-parallel training runs on the JAX backend here (KERAS_BACKEND=jax)"),
    (["--devices", "0"], "--devices: 0 must be 1 or more"),
    (["--devices", "many"], "--devices: 'many' is neither a number of devices nor 'all'"),
    (["--mixed-precision"], "--mixed-precision: this machine has no GPU or TPU"),
    (["--mixed-precision", "float8"], "argument --mixed-precision: invalid choice: 'float8'"),
])
@pytest.mark.slow
def test_tensorflow_and_cpu_refusals_are_one_line(argv, message, tiny_data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(cgan_fashion.main, ["--data-dir", str(tiny_data), "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1, err


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
def test_mixed_precision_scales_both_losses_and_keeps_outputs_float32(mixed_float16, tiny_data, tmp_path):
    settings = settings_of(cgan_fashion, "--eval-samples", 0, "--epochs", 1, "--batch-size", 8, "--steps-per-epoch", 2,
                           "--out", tmp_path, "--data-dir", tiny_data)
    g_model, d_model, gan_model, _ = cgan_fashion.define_models(settings)
    cgan_fashion.train(g_model, d_model, gan_model, cgan_fashion.load_real_samples(settings), settings)
    assert any(layer.compute_dtype == "float16" for layer in g_model.layers)
    assert g_model.output.dtype == d_model.output.dtype == "float32"
    for model in (d_model, gan_model):
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    losses = np.loadtxt(tmp_path / "losses.csv", delimiter=",", skiprows=1)[:, 2:]
    assert np.isfinite(losses).all()
    with np.load(tmp_path / "checkpoint.npz") as f:
        assert json.loads(str(f["meta"]))["settings"]["precision"] == "mixed_float16"
