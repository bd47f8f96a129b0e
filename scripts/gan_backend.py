"""Settings the Keras backend needs before Keras loads. Every module imports this one first.

TensorFlow's oneDNN kernels made a step 3.3x faster on a CPU without AVX-512 (README, "Speed"),
and must be turned on before TensorFlow is imported.
"""
import logging
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _QuietKnownWarnings(logging.Filter):
    """.h5 is the format users load, and measuring predicts batches of several sizes: Keras'
    'legacy format' warning at every snapshot and TensorFlow's retracing warning are noise."""

    def filter(self, record):
        message = record.getMessage()
        return "saving your model as an HDF5 file" not in message and "triggered tf.function retracing" not in message


for _logger in ("absl", "tensorflow"):
    logging.getLogger(_logger).addFilter(_QuietKnownWarnings())
