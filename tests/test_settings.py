"""A script's settings: its constants as flags, checked and helped by their comments, presets."""
import importlib

import pytest

import cgan_fashion
from ganlib import settings as gs
from conftest import TRAINING_SCRIPTS, settings_of


@pytest.mark.parametrize("name", TRAINING_SCRIPTS)
def test_without_flags_the_settings_are_the_constants_read_from_the_scripts_source(name):
    """The settings a run parses from the script's globals are the constants its command line is
    checked with before Keras loads, read from the source alone (settings.read_script)."""
    script = importlib.import_module(name)
    settings = settings_of(script)
    _, constants, flag_types, fixed, presets, out_name = gs.read_script(script.__file__)
    assert settings.constants() == constants and set(flag_types) == set(getattr(script, "FLAG_TYPES", {}))
    assert settings.n_epochs == script.N_EPOCHS and settings.n_batch == script.N_BATCH and settings.script == name
    assert out_name(settings) and set(fixed) <= set(constants)


def test_every_constant_is_a_flag_of_its_name_checked_and_helped_by_its_comment(capsys):
    import infogan_mnist
    settings = settings_of(infogan_mnist, "--epochs", 3, "--learning-rate", "0.001", "--update-rule", "tutorial",
                           "--n-cont", 0, "--lambda-cont", "1", "--layers", "tutorial")
    assert (settings.n_epochs, settings.learning_rate, settings.update_rule) == (3, 0.001, "tutorial")
    assert settings.constants()["N_CONT"] == 0 and settings.constants()["LAMBDA_CONT"] == 1.0
    assert settings.by_flag()["--layers"] == "tutorial" and settings.by_flag()["--epochs"] == 3
    with pytest.raises(SystemExit) as stop:
        settings_of(infogan_mnist, "--update-rule", "paper")
    assert stop.value.code == 2 and "argument --update-rule: invalid choice: 'paper'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        settings_of(infogan_mnist, "--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--lambda-cont LAMBDA_CONT the weight of their loss (the paper's); the tutorial: 1.0 (default: 0.5)" in help_text
    assert "--epochs N_EPOCHS epochs to train, in all (default: 100)" in help_text
    assert "--latent-dim LATENT_DIM size of the generator's latent input (default: 62)" in help_text


def test_a_preset_sets_its_constants_unless_the_command_line_sets_them_itself():
    import infogan_mnist
    tutorial = settings_of(infogan_mnist, "--preset", "tutorial")
    assert {name: getattr(tutorial, name.lower()) for name in infogan_mnist.PRESETS["tutorial"]} == \
        infogan_mnist.PRESETS["tutorial"]
    assert settings_of(infogan_mnist, "--preset", "tutorial", "--n-cont", "2").n_cont == 2
    assert settings_of(infogan_mnist).update_rule == infogan_mnist.UPDATE_RULE


def test_every_flag_has_help_and_its_default(capsys):
    with pytest.raises(SystemExit):
        settings_of(cgan_fashion, "--help")
    text = capsys.readouterr().out
    flags = [line.split()[0] for line in text.splitlines() if line.startswith("  --")]
    described = " ".join(text.split())
    for flag in flags:
        after = described.split(flag, 1)[1].split(" --", 1)[0]
        assert len(after.split()) > 2, f"{flag} has no help"


def test_a_list_constant_is_a_comma_separated_flag():
    import dcgan_cifar10
    assert settings_of(dcgan_cifar10, "--classes", "horse, deer").classes == ["horse", "deer"]
    assert settings_of(dcgan_cifar10).classes == []
