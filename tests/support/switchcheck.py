"""Watches every update inside a script's own train() and checks which weights moved.

Used in-process (TensorFlow) and as `python tests/support/switchcheck.py SCRIPT DATA_DIR [OUT_DIR]` under
any other Keras backend (OUT_DIR keeps what the run wrote, in OUT_DIR/run).
"""
import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[2] / "scripts")]

import ganlib.start  # noqa: E402,F401  first: the backend started before Keras loads
import keras  # noqa: E402

from ganlib import settings as gs  # noqa: E402


BATCHNORM_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance")
# Which BatchNormalization weights of the discriminator a composite update may move, per choice
# of tutorial.freeze_discriminator.
MOVED_BY_COMPOSITE = {"batch-statistics": ("moving_mean", "moving_variance"),
                      "trainable": BATCHNORM_WEIGHTS, "frozen": ()}


def snapshot(variables):
    return [keras.ops.convert_to_numpy(v.value).copy() for v in variables]


def changed(before, after):
    """For each variable, whether any element differs."""
    return [not np.array_equal(b, a) for b, a in zip(before, after)]


def watch_updates(d_model, g_model, gan_model, spied=None, **others):
    """Wrap both models' train_on_batch (and those of `spied`, {kind: model}) to record which
    weights (moving statistics too) each call moved, in the discriminator ("d"), the generator
    ("g") and any model passed by keyword."""
    watched = {"d": list(d_model.weights), "g": list(g_model.weights)}
    watched.update({key: list(model.weights) for key, model in others.items()})
    records = []

    def spy(model, kind):
        original = model.train_on_batch

        def train_on_batch(x, y, *args, **kwargs):
            before = {key: snapshot(variables) for key, variables in watched.items()}
            result = original(x, y, *args, **kwargs)
            record = dict(kind=kind, y=y, result=result)
            for key, variables in watched.items():
                record[f"{key}_moved"] = changed(before[key], snapshot(variables))
                record[f"{key}_names"] = [v.path for v in variables]
            records.append(record)
            return result

        model.train_on_batch = train_on_batch

    spy(d_model, "d")
    spy(gan_model, "gan")
    for kind, model in (spied or {}).items():
        spy(model, kind)
    return records


def moved_names(record, key):
    """The names of the weights of model `key` ("d", "g", ...) that a recorded update moved."""
    return {name for name, moved in zip(record[f"{key}_names"], record[f"{key}_moved"]) if moved}


def assert_switch_works(records, composite_moves=()):
    """Each discriminator update moves all of D and none of G; each composite update moves all of
    G and, of D, only the weights whose names end in `composite_moves` (MOVED_BY_COMPOSITE)."""
    d_calls = [r for r in records if r["kind"] == "d"]
    gan_calls = [r for r in records if r["kind"] == "gan"]
    assert d_calls and gan_calls
    for r in d_calls:
        frozen = [n for n, moved in zip(r["d_names"], r["d_moved"]) if not moved]
        assert not frozen, f"discriminator update left these weights unchanged: {frozen}"
        assert not any(r["g_moved"]), "discriminator update moved the generator"
    for r in gan_calls:
        moved = [n for n, m in zip(r["d_names"], r["d_moved"]) if m and not n.endswith(tuple(composite_moves))]
        assert not moved, f"composite update moved discriminator weights: {moved}"
        still = [n for n, m in zip(r["g_names"], r["g_moved"]) if not m]
        assert not still, f"composite update left these generator weights unchanged: {still}"


def run_and_record(script_name, data_dir, out_dir, steps=2, n_batch=8, flags=(), spied=None, watched=None):
    """Build the script's models, run its train() briefly with the spies on, return the records.
    `spied` and `watched`: {record key: name of one of the script's extra models} whose updates
    are recorded too, and whose weights are watched. --eager: the spies watch each update as its
    own Keras call (the compiled step is the same training: tests/test_step.py)."""
    script = importlib.import_module(script_name)
    # --out naming a folder still to make, the way a notebook calls train()
    settings = gs.parse_settings(vars(script), ["--epochs", "1", "--batch-size", str(n_batch), "--steps-per-epoch",
                                                str(steps), "--eval-samples", "0", "--out", str(Path(out_dir) / "run"),
                                                "--data-dir", str(data_dir), "--eager", *flags])
    g_model, d_model, gan_model, extras = script.define_models(settings)
    records = watch_updates(d_model, g_model, gan_model,
                            spied={key: extras[name] for key, name in (spied or {}).items() if extras[name]},
                            **{key: extras[name] for key, name in (watched or {}).items()})
    script.train(g_model, d_model, gan_model, script.load_real_samples(settings), settings, **extras)
    assert (Path(out_dir) / "run" / "generator.h5").is_file()
    return records


if __name__ == "__main__":
    script_name, data_dir, *kept = sys.argv[1:]
    with tempfile.TemporaryDirectory() as scratch:
        assert_switch_works(run_and_record(script_name, data_dir, kept[0] if kept else scratch))
    print(f"switch ok on {keras.backend.backend()}")
