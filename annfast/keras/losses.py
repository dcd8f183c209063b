"""Keras losses mapped onto the kernel's three losses.

Per sample, with k outputs a and targets y (Keras' definitions, mean over the
outputs where Keras takes it)::

    mean_squared_error        mean_k (a - y)^2             kernel 'mse' (0.5 sum) x 2/k
    binary_crossentropy       -mean_k [y log a + (1-y) log(1-a)]   kernel 'bce' x 1/k
    categorical_crossentropy  -sum_k y log a                kernel 'ce'
    sparse_categorical_...    the same on one-hot(y)        kernel 'ce'

The kernel's ``loss_scale`` multiplies both the loss and the output delta, so
the gradient is exactly Keras' gradient of its loss.  The batch loss is the
mean over the batch (Keras' "sum_over_batch_size" reduction): the kernel
averages the gradient over each batch, and the reported epoch loss is the
sum of the per-sample losses divided by the number of samples.

One documented difference: Keras clips probabilities to [1e-7, 1 - 1e-7]
inside the logarithms; annfast clips to [eps, 1 - eps] with eps the machine
epsilon of the model's dtype (1.2e-7 for float32, 2.2e-16 for float64).  It
only changes the reported loss of saturated outputs; the matched pairs
(sigmoid + binary, softmax + categorical) have the exact delta a - y either way.
"""

import numpy as np

from annfast._validation import as_float_array, check_named
from annfast.activations import per_sample_loss

__all__ = ["MeanSquaredError", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "Loss", "get"]


class Loss:
    """A loss: its Keras name and the kernel loss that computes it."""

    kernel_loss = "mse"
    name = "loss"

    def __init__(self, from_logits=False, name=None):
        if from_logits:
            raise ValueError(f"{type(self).__name__}(from_logits=True) is not supported; put "
                             "the activation in the last Dense layer instead")
        self.from_logits = False
        if name is not None:
            self.name = name

    def scale(self, k):
        """loss_scale for the kernel, for k outputs."""
        return 1.0

    def targets(self, y, k, dtype, argument="y"):
        """Return the (n, k) float target array the kernel trains on.

        A 1-D y is taken as one column when k == 1."""
        Y = as_float_array(_as_2d(y, argument), argument, dtype)
        if Y.shape[1] != k:
            raise ValueError(f"{argument} has {Y.shape[1]} values per sample but the model has "
                             f"{k} outputs ({self.name}); for integer class labels use "
                             "loss='sparse_categorical_crossentropy'")
        return Y

    def per_sample(self, Y, out):
        """Per-sample losses (float64, shape (n,)) of outputs ``out`` for targets ``Y``:
        the kernel's loss (the registry's formula and clipping) times ``scale``."""
        return per_sample_loss(self.kernel_loss, out, Y) * self.scale(out.shape[1])

    def __call__(self, y_true, y_pred):
        """Mean loss over the samples, for arrays of shape (n, k)."""
        y_pred = np.asarray(y_pred)
        dtype = y_pred.dtype if y_pred.dtype in (np.float32, np.float64) else np.float64
        out = as_float_array(_as_2d(y_pred, "y_pred"), "y_pred", dtype)
        Y = self.targets(y_true, out.shape[1], dtype, "y_true")
        if len(Y) != len(out):
            raise ValueError(f"y_true and y_pred have {len(Y)} and {len(out)} samples")
        return float(np.mean(self.per_sample(Y, out)))

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


def _as_2d(y, argument):
    arr = np.asarray(y)
    if arr.ndim == 1:
        return arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{argument} must be 1-D or 2-D, got shape {arr.shape}")
    return arr


class MeanSquaredError(Loss):
    """``mean((y - a)^2)`` over the outputs; 'mse', 'mean_squared_error'."""

    kernel_loss = "mse"
    name = "mean_squared_error"

    def scale(self, k):
        return 2.0 / k



class BinaryCrossentropy(Loss):
    """``-mean(y log a + (1-y) log(1-a))`` over the outputs; 'binary_crossentropy'."""

    kernel_loss = "bce"
    name = "binary_crossentropy"

    def scale(self, k):
        return 1.0 / k



class CategoricalCrossentropy(Loss):
    """``-sum(y log a)`` over the outputs (one-hot y); 'categorical_crossentropy'."""

    kernel_loss = "ce"
    name = "categorical_crossentropy"



class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy on integer labels y in [0, k);
    'sparse_categorical_crossentropy'."""

    name = "sparse_categorical_crossentropy"

    def targets(self, y, k, dtype, argument="y"):
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"{argument} must hold one integer class label per sample, shape "
                             f"(n,) or (n, 1), for {self.name}; got shape {arr.shape}")
        labels = as_float_array(arr.reshape(-1, 1), argument, np.float64)[:, 0]
        if not np.array_equal(labels, np.round(labels)):
            raise ValueError(f"{argument} must hold integer class labels for {self.name}")
        if labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"{argument} labels must be in [0, {k}) for a model with {k} "
                             f"outputs; got range [{labels.min():g}, {labels.max():g}]")
        Y = np.zeros((len(labels), k), dtype=dtype)
        Y[np.arange(len(labels)), labels.astype(np.int64)] = 1
        return Y


#: Strings accepted by ``compile(loss=...)``, as Keras spells them.
LOSSES = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier):
    """Return a Loss for a Keras loss name or a Loss instance."""
    return check_named(identifier, "loss", LOSSES, Loss, "annfast.keras.losses")


def serialize(loss):
    return type(loss).__name__


def deserialize(class_name):
    classes = {c.__name__: c for c in (MeanSquaredError, BinaryCrossentropy,
                                       CategoricalCrossentropy, SparseCategoricalCrossentropy)}
    if class_name not in classes:
        raise ValueError(f"unknown loss class {class_name!r}")
    return classes[class_name]()
