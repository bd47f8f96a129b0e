"""The conditional Fashion-MNIST GAN: the switch, label smoothing, the other datasets, its flags."""
import numpy as np
import pytest

import cgan_fashion
import gan_cli as cli
import gan_utils as gu
import runchecks
import switchcheck


def test_discriminator_trains_in_its_own_update_and_is_frozen_in_the_composite(tiny_data, tmp_path):
    switchcheck.assert_switch_works(switchcheck.run_and_record("cgan_fashion", tiny_data, tmp_path))


@pytest.mark.slow
def test_label_smoothing_sets_real_targets(tiny_data, tmp_path):
    records = switchcheck.run_and_record("cgan_fashion", tiny_data, tmp_path, steps=1, label_smoothing=0.1)
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
    info = gu.read_generator_info(tmp_path / "generator.h5")
    assert info["dataset"] == dataset and info["n_classes"] == n_classes == len(info["class_names"])


@pytest.mark.parametrize("argv,message", [
    (["--epochs", "0"], "--epochs: 0 must be 1 or more"),
    (["--batch-size", "-4"], "--batch-size: -4 must be 1 or more"),
    (["--label-smoothing", "1.5"], "--label-smoothing: 1.5 must be at least 0 and below 1"),
    (["--dataset", "svhn"], "--dataset: invalid choice"),
])
def test_bad_flags_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(cgan_fashion.main, argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--batch-size", "1000"], "--batch-size 1000 is larger than the dataset (64 images)"),
    (["--dataset", "emnist", "--data-dir", "EMPTY"], "EMNIST-balanced (train) not found"),
])
def test_bad_runs_stop_before_training_with_one_line(argv, message, tiny_data, tmp_path, capsys):
    argv = [str(tmp_path) if a == "EMPTY" else a for a in argv]
    data = [] if "--data-dir" in argv else ["--data-dir", str(tiny_data)]
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(cgan_fashion.main, argv + data + ["--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "losses.csv").exists()


@pytest.mark.slow
def test_jax_backend_trains_with_the_switch_and_its_generator_loads_here(tiny_data, tmp_path):
    pytest.importorskip("jax")
    runchecks.check_jax_run("cgan_fashion", tiny_data, tmp_path, command_line=True)
