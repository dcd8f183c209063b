"""``keras.utils``: ``to_categorical``, ``normalize`` and ``set_random_seed``, as in Keras."""

import numbers

import numpy as np

from annfast._validation import check_scalar
from annfast.keras import _naming

__all__ = ["set_random_seed", "to_categorical", "normalize"]


def set_random_seed(seed):
    """Seed every random draw of the models created afterwards (initial weights,
    shuffling).  The same seed and the same script give the same bits.

    Parameters
    ----------
    seed : int >= 0
    """
    seed = check_scalar(seed, "seed", low=0, integer=True)
    _naming.set_root_seed(seed)


def to_categorical(x, num_classes=None):
    """One-hot rows for integer class labels: shape ``x.shape + (num_classes,)``
    (a trailing axis of length 1 is dropped first), float64 as Keras.

    Parameters
    ----------
    x : array-like of non-negative integers
    num_classes : int, optional
        Default: ``max(x) + 1``.
    """
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
            raise ValueError("x must hold integer class labels")
    elif arr.dtype.kind not in "biu":
        raise TypeError(f"x must hold integer class labels, got dtype {arr.dtype}")
    labels = arr.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if labels.size and labels.min() < 0:
        raise ValueError(f"x must hold non-negative class labels, got {labels.min()}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"x holds label {labels.max()}, which is not below "
                         f"num_classes={num_classes}")
    out = np.zeros((labels.size, int(num_classes)))
    out[np.arange(labels.size), labels] = 1
    return out.reshape(shape + (int(num_classes),))


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero norms left as 1)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"x must hold numbers, got dtype {arr.dtype}")
    norm = np.atleast_1d(np.linalg.norm(arr, order, axis))
    norm[norm == 0] = 1
    # Keras writes ``axis or -1``, which turns axis=0 into -1 (and then fails to
    # broadcast); axis 0 here means axis 0.
    return arr / np.expand_dims(norm, -1 if axis is None else axis)
