"""Metrics named in ``compile(metrics=[...])``, resolved and reported as Keras does.

'acc' / 'accuracy' become binary, categorical or sparse categorical accuracy
from the shapes (keras/src/trainers/compile_utils.py ``get_metric``): one
output unit -> binary (threshold 0.5); integer labels (y of rank 1, or one
column for several outputs) -> sparse categorical; otherwise categorical.
Each metric is reported under the name the user wrote ('acc' stays 'acc').

Every function takes ``y_true`` as given by the user (float array, 1-D or
2-D) and ``y_pred`` of shape (n, k), and returns the mean over the samples.
"""

import numpy as np

from annfast._validation import check_choice

__all__ = ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "mean_squared_error", "mean_absolute_error", "get"]


def _column(y_true):
    y_true = np.asarray(y_true)
    return y_true.reshape(-1, 1) if y_true.ndim == 1 else y_true


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of outputs with ``(y_pred > threshold) == y_true``."""
    hits = _column(y_true) == (np.asarray(y_pred) > threshold)
    return float(np.mean(np.mean(hits, axis=-1)))


def categorical_accuracy(y_true, y_pred):
    """Fraction of samples whose largest output is the largest target (one-hot y)."""
    return float(np.mean(np.argmax(_column(y_true), axis=-1) == np.argmax(y_pred, axis=-1)))


def sparse_categorical_accuracy(y_true, y_pred):
    """Fraction of samples whose largest output is at the integer label y."""
    labels = np.asarray(y_true).reshape(len(y_pred))
    return float(np.mean(labels == np.argmax(y_pred, axis=-1)))


def mean_squared_error(y_true, y_pred):
    err = np.asarray(y_pred, dtype=np.float64) - _column(y_true)
    return float(np.mean(np.mean(err * err, axis=-1)))


def mean_absolute_error(y_true, y_pred):
    err = np.asarray(y_pred, dtype=np.float64) - _column(y_true)
    return float(np.mean(np.mean(np.abs(err), axis=-1)))


_FIXED = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
}
#: Metric names accepted by ``compile(metrics=...)``.
METRICS = ("acc", "accuracy", *_FIXED)


def check_names(metrics):
    """Return the metric names as a list after checking each one is supported."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of metric names, e.g. ['acc'], got "
                        f"{metrics!r}")
    names = []
    for i, m in enumerate(metrics):
        check_choice(m, f"metrics[{i}]", METRICS)
        if m in names or m == "loss":
            raise ValueError(f"metric {m!r} is listed twice")
        names.append(m)
    return names


def get(name, y_true_shape, n_outputs):
    """Return the function computing metric ``name`` for targets of shape
    ``y_true_shape`` ((n,) or (n, c)) and ``n_outputs`` model outputs."""
    if name in _FIXED:
        return _FIXED[name]
    if n_outputs == 1:
        return binary_accuracy
    if len(y_true_shape) < 2 or y_true_shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy
