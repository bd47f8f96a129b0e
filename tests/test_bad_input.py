"""Every bad input a user may type gives one line on stderr and exit status 2, never a traceback.
The bad-input table in docs/interrupting.md lists every case here."""
import importlib
import os
import re

import h5py
import keras
import pytest

import datafiles
from ganlib import cli
from ganlib.saved import GENERATOR_INFO_ATTR
from conftest import REPO, TRAINING_SCRIPTS, run_script, save_untrained

# Refused by the command line of every training script, before anything loads.
EVERY_TRAINING_SCRIPT = [
    (["--epochs", "0"], "--epochs: 0 must be 1 or more"),
    (["--epochs", "-1"], "--epochs: -1 must be 1 or more"),
    (["--epochs", "ten"], "--epochs: 'ten' is not a whole number"),
    (["--epochs", "2.5"], "--epochs: '2.5' is not a whole number"),
    (["--batch-size", "0"], "--batch-size: 0 must be 1 or more"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch: 0 must be 1 or more"),
    (["--eval-every", "-2"], "--eval-every: -2 must be 1 or more"),
    (["--checkpoint-every", "0"], "--checkpoint-every: 0 must be 1 or more"),
    (["--eval-samples", "-1"], "--eval-samples: -1 must be 0 or more"),
    (["--eval-samples", "1000000"], "--eval-samples: 1000000 is over the limit of 50,000"),
    (["--ema-decay", "1"], "--ema-decay: 1.0 must be at least 0 and below 1"),
    (["--ema-decay", "nan"], "--ema-decay: nan is not a finite number"),
    (["--ema-half-life", "-1"], "--ema-half-life: -1 must be 0 or more"),
    (["--seed", "-5"], "--seed: -5 must be 0 or more"),
    (["--seed", "4294967296"], "--seed: 4294967296 is over the limit of 4,294,967,295"),
    (["--seed", "abc"], "--seed: 'abc' is not a whole number"),
    (["--batch-size", "99999999999999999999"], "--batch-size: 99999999999999999999 is over the limit of 2,147,483,647"),
    (["--epohcs", "3"], "unrecognized arguments: --epohcs 3"),
    (["--epoch", "3"], "unrecognized arguments: --epoch 3"),
]

# Placeholders, made in tmp_path: DATA the tiny datasets, EMPTY an empty folder, A_FILE a file,
# TRUNCATED a truncated Fashion-MNIST, CGAN a cgan generator, PLAIN a Keras model that is not one,
# NOT_H5 a text file named .h5, MISSING a path that does not exist, CORRUPT_RUN an output folder
# with a damaged checkpoint.
# The shared flags come from one parser (settings.parse_settings): every case on one script, and one
# case on each of the others to show they use it.
SHARED_CASES = [("cgan_fashion", args, message) for args, message in EVERY_TRAINING_SCRIPT] + \
    [(script, *EVERY_TRAINING_SCRIPT[0]) for script in TRAINING_SCRIPTS if script != "cgan_fashion"]
OTHER_CASES = [
    ("cgan_fashion", ["--batch-size", "1000", "DATA"], "--batch-size 1000 is larger than the dataset (64 images)"),
    ("cgan_fashion", ["--dataset", "svhn"], "argument --dataset: invalid choice: 'svhn'"),
    ("cgan_fashion", ["--latent-dim", "2147483647"], "--latent-dim: 2147483647 is over the limit of 100,000"),
    ("cgan_fashion", ["--label-smoothing", "1"], "--label-smoothing: 1.0 must be at least 0 and below 1"),
    ("cgan_fashion", ["--label-smoothing", "-0.1"], "--label-smoothing: -0.1 must be at least 0 and below 1"),
    ("cgan_fashion", ["--data-dir", "TRUNCATED"], "train-images-idx3-ubyte.gz is corrupt or truncated"),
    ("cgan_fashion", ["--data-dir", "MISSING"], "does not exist"),
    ("cgan_fashion", ["--data-dir", "A_FILE"], "is a file; it should name a folder"),
    ("cgan_fashion", ["--judge-dir", "A_FILE", "DATA"], "is a file; it should name a folder"),
    ("cgan_fashion", ["--dataset", "emnist", "--data-dir", "EMPTY"], "EMNIST-balanced (train) not found"),
    ("cgan_fashion", ["--resume", "--batch-size", "8", "DATA"], "nothing to resume: "),
    ("cgan_fashion", ["--resume", "--batch-size", "8", "--out", "CORRUPT_RUN", "DATA"], "is corrupt or truncated"),
    ("cgan_fashion", ["--out", "A_FILE", "DATA"], "cannot write to the output folder"),
    ("cgan_fashion", ["--out", "A_FILE/run", "DATA"], "a_file is a file, not a folder"),
    ("cgan_fashion", ["--resume", "--fresh", "DATA"], "--resume and --fresh cannot go together"),
    ("cgan_fashion", ["--ema-half-life", "500", "--ema-decay", "0"],
     "--ema-half-life sets the averaged generator's rule, which --ema-decay 0 turns off"),
    ("dcgan_cifar10", ["--classes", "unicorn", "DATA"], "unknown CIFAR-10 class 'unicorn'"),
    ("infogan_mnist", ["--n-cont", "9"], "argument --n-cont: invalid choice: 9"),
    ("infogan_mnist", ["--n-cat", "0"], "--n-cat: 0 must be 1 or more"),
    ("infogan_mnist", ["--n-cat", "100000"], "--n-cat: 100000 is over the limit of 100"),
    ("infogan_mnist", ["--elastic-distortion", "34"],
     "--elastic-distortion distorts the consistency term's copies, which --consistency-weight 0 turns off"),
    ("infogan_mnist", ["--elastic-distortion", "-1"], "--elastic-distortion: -1.0 must be 0 or more"),
    ("acgan_fashion", ["--batchnorm-in-composite", "sometimes"], "invalid choice: 'sometimes'"),
    ("pix2pix_maps", ["--data-dir", "EMPTY"], "the maps dataset is not in"),
    ("pix2pix_maps", ["--direction", "sideways"], "invalid choice: 'sideways'"),
    ("sample", ["MISSING"], "no such file"),
    ("sample", ["EMPTY"], "holds no generator_best.h5 or generator.h5"),
    ("sample", ["NOT_H5"], "is not an .h5 model file"),
    ("sample", ["PLAIN"], "is not a generator saved by these scripts"),
    ("sample", ["CGAN", "--label", "10"], "label 10 is out of range: this generator has classes 0-9"),
    ("sample", ["CGAN", "--label", "Hat"], "unknown class 'Hat'"),
    ("sample", ["CGAN", "--code", "-1"], "--code: -1 must be 0 or more"),
    ("sample", ["CGAN", "--code", "3"], "--code is for infogan generators; this one is cgan"),
    ("sample", ["CGAN", "--image", "NOT_H5"], "--image is for pix2pix generators; this one is cgan"),
    ("sample", ["CGAN", "--n", "-3"], "--n: -3 must be 1 or more"),
    ("sample", ["CGAN", "--n", "100000"], "--n: 100000 is over the limit of 100"),
    ("sample", ["CGAN", "--point", "nan"], "--point: nan is not a finite number"),
    ("sample", ["CGAN", "--point", "x"], "--point: 'x' is not a number"),
    ("sample", ["CGAN", "--seed", "-5"], "--seed: -5 must be 0 or more"),
    ("sample", ["CGAN", "--out", "EMPTY"], "is a folder; name an image file (.png, .jpg or .jpeg)"),
    ("sample", ["CGAN", "--out", "grid.gif"], "images are written as .png, .jpg or .jpeg, not .gif"),
    ("sample", ["CGAN", "--out", "A_FIFO"], "is not a regular file (a device, FIFO or socket); name a file to write"),
    ("sample", ["CHANGED_CGAN"], "is damaged: its weights are not the ones saved"),
    ("evaluate", ["CGAN", "--samples", "0"], "--samples: 0 must be 1 or more"),
    ("evaluate", ["CGAN", "--samples", "1000000"], "--samples: 1000000 is over the limit of 50,000"),
    ("evaluate", ["CGAN", "--seed", "-1"], "--seed: -1 must be 0 or more"),
    ("evaluate", ["CGAN", "--judge-dir", "A_FILE"], "is a file; it should name a folder"),
    ("evaluate", ["MISSING"], "no such file"),
    ("evaluate", ["EMPTY"], "holds no generator_best.h5 or generator.h5"),
    ("evaluate", ["PLAIN"], "is not a generator saved by these scripts"),
    ("report", ["MISSING"], "no such folder"),
    ("report", ["EMPTY"], "holds no training run (no losses.csv, no sample grids)"),
    ("benchmark", ["nope"], "no benchmark for nope"),
    ("benchmark", ["--rounds", "0"], "--rounds: 0 must be 1 or more"),
    ("benchmark", ["--matmul-size", "100000"], "--matmul-size: 100000 is over the limit of 8,192"),
    ("benchmark", ["--batch-size", "100000"], "--batch-size: 100000 is over the limit of 50,000"),
    ("benchmark", ["--backend", "theano"], "argument --backend: invalid choice: 'theano'"),
    ("launch", ["--processes", "1000", "--", "scripts/cgan_fashion.py"], "--processes: 1000 is over the limit of 64"),
]
CASES = SHARED_CASES + OTHER_CASES
PLACEHOLDERS = {"DATA": "", "EMPTY": "an empty folder", "A_FILE": "a file", "TRUNCATED": "a truncated dataset",
                "CGAN": "a generator", "PLAIN": "a Keras model, not a generator", "NOT_H5": "a text file named .h5",
                "MISSING": "a missing path", "A_FILE/run": "a folder inside a file", "A_FIFO": "a FIFO named .png",
                "CHANGED_CGAN": "a generator whose weights were changed",
                "CORRUPT_RUN": "a folder with a damaged checkpoint.npz"}


def places(tmp_path, tiny_data, args):
    """The placeholders the case uses, made, and their paths."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file").write_text("")
    (tmp_path / "notes.h5").write_text("not a model")
    if "CGAN" in args:
        save_untrained("cgan_fashion", tmp_path / "cgan.h5")
    if "PLAIN" in args:
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(tmp_path / "plain.h5")
    if "TRUNCATED" in args:
        datafiles.write_fashion_mnist(tmp_path / "truncated")
        path = tmp_path / "truncated" / "fashion-mnist" / "train-images-idx3-ubyte.gz"
        path.write_bytes(path.read_bytes()[:500])
    if "A_FIFO" in args:
        os.mkfifo(tmp_path / "fifo.png")
    if "CHANGED_CGAN" in args:
        save_untrained("cgan_fashion", tmp_path / "changed.h5")
        with h5py.File(tmp_path / "changed.h5", "a") as f:
            f.attrs[GENERATOR_INFO_ATTR] = f.attrs[GENERATOR_INFO_ATTR].replace('"weights_sha256": "',
                                                                               '"weights_sha256": "0')
    if "CORRUPT_RUN" in args:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "checkpoint.npz").write_bytes(b"PK\x03\x04 half a zip")
    return {"DATA": ["--data-dir", str(tiny_data)], "EMPTY": [str(tmp_path / "empty")],
            "A_FILE": [str(tmp_path / "a_file")], "TRUNCATED": [str(tmp_path / "truncated")],
            "MISSING": [str(tmp_path / "missing")], "NOT_H5": [str(tmp_path / "notes.h5")],
            "CGAN": [str(tmp_path / "cgan.h5")], "PLAIN": [str(tmp_path / "plain.h5")],
            "CORRUPT_RUN": [str(tmp_path / "run")], "A_FILE/run": [str(tmp_path / "a_file" / "run")],
            "A_FIFO": [str(tmp_path / "fifo.png")], "CHANGED_CGAN": [str(tmp_path / "changed.h5")]}


def bad_input_table():
    """The documents' table of these cases."""
    rows = ["| script | input | the line says |", "|---|---|---|"]
    shared = ", ".join(f"`{' '.join(args)}`" for args, _ in EVERY_TRAINING_SCRIPT)
    rows.append(f"| every training script | {shared} | the flag, the value and the rule, e.g. "
                f"`{EVERY_TRAINING_SCRIPT[12][1]}` |")
    for script, args, message in OTHER_CASES:
        words, literal = [], []
        for arg in args + [None]:
            if arg in PLACEHOLDERS or arg is None:
                words += [f"`{' '.join(literal)}`"] if literal else []
                words += [f"*{PLACEHOLDERS[arg]}*"] if arg and PLACEHOLDERS[arg] else []
                literal = []
            else:
                literal.append(arg)
        rows.append(f"| {script} | {' '.join(words)} | `{message}` |")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("script,args,message", CASES, ids=[f"{s} {' '.join(a)}" for s, a, _ in CASES])
def test_bad_input_is_one_line_and_exit_status_2(script, args, message, tiny_data, tmp_path, capsys):
    module = importlib.import_module(script)
    paths = places(tmp_path, tiny_data, args)
    argv = [part for arg in args for part in paths.get(arg, [arg])]
    if script in TRAINING_SCRIPTS and "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(module.main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1, err


def test_the_documents_list_every_case():
    table = bad_input_table()
    page = REPO / "docs" / "interrupting.md"
    assert table in page.read_text(), f"the bad-input table in {page} should read:\n{table}"


@pytest.mark.parametrize("backend,message", [
    ("theano", "KERAS_BACKEND=theano is not a backend these scripts train on: use tensorflow, jax or torch"),
    ("torch", "KERAS_BACKEND=torch, but torch is not installed: pip install torch"),
])
def test_an_unknown_or_missing_backend_is_named_before_keras_loads(backend, message):
    if backend == "torch" and importlib.util.find_spec("torch") is not None:
        pytest.skip("PyTorch is installed here")
    result = run_script(["scripts/cgan_fashion.py", "--epochs", "1"], backend=backend)
    assert result.returncode == 2 and result.stderr == f"error: {message}" + result.stderr[len(message) + 7:]
    assert re.fullmatch(r"error: [^\n]+\n", result.stderr) and "installed here: tensorflow" in result.stderr


@pytest.mark.parametrize("script", ["acgan_fashion", "sample", "evaluate", "benchmark", "report"])
def test_help_opens_with_the_docstring_and_gives_each_default_once(script, capsys):
    module = importlib.import_module(script)
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(module.main, ["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert exit_info.value.code == 0
    assert " ".join(module.__doc__.split("\n\n")[0].split()) in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert not re.search(r"default[^()]*\) \(default", text), text
    if script == "acgan_fashion":
        assert "--ema-decay EMA_DECAY" in text and "(default: 0.999)" in text
        assert f"epochs to train, in all (default: {module.N_EPOCHS})" in text
