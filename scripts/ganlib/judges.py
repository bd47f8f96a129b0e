"""Judges: a small classifier CNN per dataset. Its penultimate layer (128 units) is the feature
space of FID and KID (metrics_log.py); its classes tell which class or digit a generated image
shows. Fashion-MNIST's and MNIST's ship with the project in judges/ (made by train_judges.py,
checked against the SHA-256 in judges/judges.json whenever loaded), so every machine measures
with the same yardstick. Any other dataset's judge is trained on its real training split on first
use and cached under Keras' home (KERAS_HOME or ~/.keras) in judges/, keyed by a checksum of the
images it learnt from."""
import ganlib.start  # noqa: F401  first: the backend started before Keras loads

import contextlib
import hashlib
import json
import os
import sys
import time
import zlib
from pathlib import Path

import keras
import numpy as np
from keras import layers

from ganlib import data as gd
from ganlib import tutorial as gu
from ganlib.atomic_files import REPO_DIR, UserError, write_text

try:
    import fcntl  # POSIX: a lock that two runs training the same judge wait on
except ImportError:  # Windows: no lock; each judge file is still written whole
    fcntl = None


JUDGE_EPOCHS = {"cifar10": 40}  # every other dataset: DEFAULT_JUDGE_EPOCHS
DEFAULT_JUDGE_EPOCHS = 8
JUDGE_BATCH = 128
SHIPPED_JUDGES_DIR = REPO_DIR / "judges"
SHIPPED_INDEX = "judges.json"
# Seconds a training step of the judge took on a 2-core AMD EPYC with AVX-512 (batch 128, random
# images), to say how long a first training will take: the 28x28 greyscale judge, CIFAR-10's.
JUDGE_STEP_SECONDS = {(28, 28, 1): 0.22, (32, 32, 3): 0.86}


def define_judge(in_shape, n_classes):
    """Conv blocks with BatchNormalization, then the 128-unit feature layer and the classes.
    Colour images (CIFAR-10) get a wider net and flips and shifts, which 80% needs."""
    colour = in_shape[-1] == 3
    inputs = keras.Input(shape=in_shape)
    x = inputs
    if colour:
        x = layers.RandomFlip("horizontal")(x)
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="nearest")(x)
    for filters in (64, 128, 256) if colour else (32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9)(x)  # settled within a short training
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    features = layers.Dense(128, activation="relu", name="features")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="classes", dtype="float32")(layers.Dropout(0.5)(features))
    judge = keras.Model(inputs, outputs, name="judge")
    judge.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return judge


def fingerprint(images):
    """Which training set a judge learnt from: its size and a checksum of its pixels."""
    return f"{len(images)}:{zlib.crc32(np.ascontiguousarray(images).tobytes()):08x}"


def default_judge_dir():
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "judges"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shipped_judges(judges_dir=None):
    """The shipped judges' records, by dataset (judges.json)."""
    index = Path(judges_dir or SHIPPED_JUDGES_DIR) / SHIPPED_INDEX
    if not index.is_file():
        return {}
    try:
        return json.loads(index.read_text())
    except ValueError as error:
        raise UserError(f"{index} is damaged ({error}); restore it with git checkout -- {index}")


def load_shipped_judge(dataset, judges_dir=None):
    """(judge, record) of the judge that ships for `dataset`, its file checked against the SHA-256
    recorded when it was made; None where no judge ships for it."""
    record = shipped_judges(judges_dir).get(dataset)
    if record is None:
        return None
    index = Path(judges_dir or SHIPPED_JUDGES_DIR) / SHIPPED_INDEX
    for field, kind in (("file", str), ("sha256", str), ("test_accuracy", (int, float)), ("test_images", int)):
        if not isinstance(record, dict) or not isinstance(record.get(field), kind):
            raise UserError(f"{index}: the {dataset} entry has no valid '{field}'; restore it with "
                            f"git checkout -- {index}")
    path = Path(judges_dir or SHIPPED_JUDGES_DIR) / record["file"]
    if not path.is_file():
        raise UserError(f"the shipped {dataset} judge {path} is missing; restore it with git checkout -- {path}")
    if sha256(path) != record["sha256"]:
        raise UserError(f"{path} is damaged: its SHA-256 is not the one in {SHIPPED_INDEX}; "
                        f"restore it with git checkout -- {path}")
    judge, _ = gu.load_generator(path, verify=False)
    return judge, dict(record, dataset=dataset, source="shipped")


def record_shipped_judge(judges_dir, dataset, path, info):
    """Adds (or replaces) a judge's record in judges.json: its file, SHA-256 and how it was made."""
    index = shipped_judges(judges_dir)
    index[dataset] = dict(file=Path(path).name, sha256=sha256(path),
                          **{k: v for k, v in info.items() if k not in ("kind", "dataset")})
    write_text(Path(judges_dir) / SHIPPED_INDEX, json.dumps(index, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def _locked(path, what):
    """Held by one process at a time: a second run that needs the same judge says it waits, waits,
    then finds it. The wait polls, so Ctrl-C stops it at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for another run to finish training the {what} (lock {path}); "
                      "Ctrl-C stops", flush=True)
                while True:
                    time.sleep(0.5)
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        pass
        yield


def load_judge(dataset, judges_dir, train, test):
    """(judge, info) for a dataset, given its (images, labels) splits: the shipped judge where there
    is one; else the cached judge trained on these very training images; else a new one, trained
    now, tested on the test split and cached in `judges_dir`."""
    shipped = load_shipped_judge(dataset)
    if shipped is not None:
        return shipped
    (train_images, train_labels), (test_images, test_labels) = train, test
    judges_dir = Path(judges_dir or default_judge_dir())
    key = fingerprint(train_images)
    path = judges_dir / f"{dataset}-{key.replace(':', '-')}.h5"
    with _locked(judges_dir / f".{dataset}.lock", f"{gd.DATASETS[dataset]['title']} judge"):
        if path.is_file():
            judge, info = gu.load_generator(path)
            if info.get("fingerprint") == key:
                return judge, dict(info, source="trained on this machine")
        print(f"No {gd.DATASETS[dataset]['title']} judge ships with these scripts, so one is trained now to measure "
              f"the generated images, once per machine (cached in {judges_dir}); --eval-samples 0 skips "
              "measuring and the judge.", flush=True)
        judge, info = train_judge(dataset, path, (train_images, train_labels), (test_images, test_labels))
        return judge, dict(info, source="trained on this machine")


def judge_epochs(dataset):
    return JUDGE_EPOCHS.get(dataset, DEFAULT_JUDGE_EPOCHS)


def expected_minutes(dataset, n_images):
    steps = -(-n_images // JUDGE_BATCH) * judge_epochs(dataset)
    return steps * JUDGE_STEP_SECONDS[gd.DATASETS[dataset]["shape"]] / 60


def train_judge(dataset, path, train, test):
    """A judge trained on the `train` split, tested on `test`, saved to `path`: (judge, info)."""
    (train_images, train_labels), (test_images, test_labels) = train, test
    title = gd.DATASETS[dataset]["title"]
    epochs = judge_epochs(dataset)
    print(f"training the {title} judge: {epochs} epochs on {len(train_images):,} images, about "
          f"{max(1, round(expected_minutes(dataset, len(train_images)))):,} min on a 2-core CPU", flush=True)
    judge = define_judge(train_images.shape[1:], len(gd.DATASETS[dataset]["classes"]))
    judge.fit(gd.scale_images(train_images), train_labels, batch_size=JUDGE_BATCH, epochs=epochs,
              verbose=1 if sys.stdout.isatty() else 2)
    _, accuracy = judge.evaluate(gd.scale_images(test_images), test_labels, batch_size=500, verbose=0)
    info = gu.save_generator(judge, path, kind="judge", dataset=dataset, test_accuracy=float(accuracy),
                             test_images=len(test_images), epochs=epochs, fingerprint=fingerprint(train_images),
                             trained=time.strftime("%Y-%m-%d"))
    print(f"{title} judge: {accuracy:.2%} right on the {len(test_images):,} real test images; saved to {path}")
    return judge, info


def describe(info):
    """One line on which judge measured: "the shipped MNIST judge (99.3% on 10,000 test images, ...)"."""
    title = gd.DATASETS[info["dataset"]]["title"]
    where = f"the shipped {title} judge" if info.get("source") == "shipped" else f"a {title} judge trained on this machine"
    digest = f", SHA-256 {info['sha256'][:12]}" if info.get("sha256") else ""
    return f"{where} ({info['test_accuracy']:.2%} on {info['test_images']:,} real test images{digest})"


def features_and_classes(judge):
    """A model giving the judge's feature layer and its class probabilities at once."""
    return keras.Model(judge.inputs, [judge.get_layer("features").output, judge.output])


def judge_outputs(judge_model, images, verbose=0):
    """(features, predicted classes) of images in [-1, 1]."""
    features, probabilities = judge_model.predict(np.asarray(images, "float32"), batch_size=500, verbose=verbose)
    return features, np.argmax(probabilities, axis=1)


def load_inception(image_shape):
    """InceptionV3's 2048 pool features, as the standard FID uses them, for images of image_shape
    in [-1, 1] (the range InceptionV3 expects) resized to 299x299. Downloads the ImageNet weights."""
    inputs = keras.Input(shape=image_shape)
    resized = layers.Resizing(299, 299)(inputs)
    inception = keras.applications.InceptionV3(include_top=False, weights="imagenet", pooling="avg")
    return keras.Model(inputs, inception(resized), name="inception_features")
