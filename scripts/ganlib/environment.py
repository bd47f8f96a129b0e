"""What the backend needs settled before Keras loads, standard library only: TensorFlow's options
(oneDNN on, its C++ logs quieter), which backend Keras will use, and one line for a backend or a
Keras that is not installed here, given before anything else is imported (ganlib.start, backend.py).

TensorFlow's oneDNN kernels made a step 3.3x faster on a CPU without AVX-512 (docs/speed.md),
and must be turned on before TensorFlow is imported. GAN_SHOW_BACKEND_LOGS=1 leaves TensorFlow's
logs as they would be (docs/interrupting.md).
"""
import importlib.util
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
if os.environ.get("GAN_SHOW_BACKEND_LOGS") != "1":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

INSTALL = {"tensorflow": "pip install tensorflow", "jax": 'pip install "jax[cpu]" (or "jax[cuda12]")',
           "torch": "pip install torch"}  # the backends that train; Keras' numpy and openvino only predict


def chosen_backend():
    """KERAS_BACKEND, else the backend in Keras' keras.json, else TensorFlow, as Keras decides."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def backend_problem(name):
    """One line on why Keras cannot train on backend `name` here, or None when it can."""
    installed = [b for b in INSTALL if importlib.util.find_spec(b) is not None]
    choices = f"installed here: {', '.join(installed) or 'none'}"
    venv = (f"is not installed for {sys.executable}: is the virtual environment active? "
            f"(. .venv/bin/activate); else pip install -r requirements.txt ({choices})")
    if importlib.util.find_spec("keras") is None:
        return f"Keras {venv}"
    if name in INSTALL and name not in installed and not os.environ.get("KERAS_BACKEND"):
        return f"{name}, Keras' backend, {venv}"
    if name not in INSTALL:
        return f"KERAS_BACKEND={name} is not a backend these scripts train on: use tensorflow, jax or torch ({choices})"
    if name not in installed:
        return f"KERAS_BACKEND={name}, but {name} is not installed: {INSTALL[name]}, or use another backend ({choices})"
    return None


SHOW_LOGS = os.environ.get("GAN_SHOW_BACKEND_LOGS") == "1"
