"""Judges: a small classifier CNN per dataset, trained on its real training split once per
machine and cached under Keras' home (KERAS_HOME or ~/.keras) in judges/, keyed by a checksum of
the images it learnt from. Its penultimate layer (128 units) is the feature space of FID and KID
(gan_metrics.py); its classes tell which class or digit a generated image shows."""
import gan_backend  # noqa: F401  first: it configures TensorFlow before Keras loads it

import contextlib
import os
import zlib
from pathlib import Path

import keras
import numpy as np
from keras import layers

import gan_data as gd
import gan_utils as gu

try:
    import fcntl  # POSIX: a lock that two runs training the same judge wait on
except ImportError:  # Windows: no lock; each judge file is still written whole
    fcntl = None


JUDGE_EPOCHS = {"cifar10": 40}  # every other dataset: DEFAULT_JUDGE_EPOCHS
DEFAULT_JUDGE_EPOCHS = 8
JUDGE_BATCH = 128


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


@contextlib.contextmanager
def _locked(path):
    """Held by one process at a time: a second run that needs the same judge waits, then finds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def load_judge(dataset, judges_dir, train, test):
    """(judge, info) for a dataset, given its (images, labels) splits: the cached judge trained on
    these very training images, else a new one, trained now, tested on the test split and cached."""
    (train_images, train_labels), (test_images, test_labels) = train, test
    judges_dir = Path(judges_dir or default_judge_dir())
    key = fingerprint(train_images)
    path = judges_dir / f"{dataset}-{key.replace(':', '-')}.h5"
    with _locked(judges_dir / f".{dataset}.lock"):
        if path.is_file():
            judge, info = gu.load_generator(path)
            if info.get("fingerprint") == key:
                return judge, info
        return _train_judge(dataset, path, key, (train_images, train_labels), (test_images, test_labels))


def _train_judge(dataset, path, key, train, test):
    (train_images, train_labels), (test_images, test_labels) = train, test
    title = gd.DATASETS[dataset]["title"]
    epochs = JUDGE_EPOCHS.get(dataset, DEFAULT_JUDGE_EPOCHS)
    print(f"training the {title} judge that measures the generated images ({epochs} epochs on "
          f"{len(train_images)} images; once per machine, then cached in {path.parent})")
    judge = define_judge(train_images.shape[1:], len(gd.DATASETS[dataset]["classes"]))
    judge.fit(gd.scale_images(train_images), train_labels, batch_size=JUDGE_BATCH, epochs=epochs, verbose=1)
    _, accuracy = judge.evaluate(gd.scale_images(test_images), test_labels, batch_size=500, verbose=0)
    info = dict(kind="judge", dataset=dataset, test_accuracy=float(accuracy), test_images=len(test_images),
                epochs=epochs, fingerprint=key)
    gu.save_generator(judge, path, **info)
    print(f"{title} judge: {accuracy:.2%} right on the {len(test_images)} real test images; saved to {path}")
    return judge, info


def features_and_classes(judge):
    """A model giving the judge's feature layer and its class probabilities at once."""
    return keras.Model(judge.inputs, [judge.get_layer("features").output, judge.output])


def judge_outputs(judge_model, images):
    """(features, predicted classes) of images in [-1, 1]."""
    features, probabilities = judge_model.predict(np.asarray(images, "float32"), batch_size=500, verbose=0)
    return features, np.argmax(probabilities, axis=1)


def load_inception(image_shape):
    """InceptionV3's 2048 pool features, as the standard FID uses them, for images of image_shape
    in [-1, 1] (the range InceptionV3 expects) resized to 299x299. Downloads the ImageNet weights."""
    inputs = keras.Input(shape=image_shape)
    resized = layers.Resizing(299, 299)(inputs)
    inception = keras.applications.InceptionV3(include_top=False, weights="imagenet", pooling="avg")
    return keras.Model(inputs, inception(resized), name="inception_features")
