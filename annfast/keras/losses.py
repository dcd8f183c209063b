"""Keras losses mapped onto the kernel's losses.

Per sample, with k outputs a and targets y, Keras 3's definitions (the mean
over the outputs where Keras takes it; eps = 1e-7, Keras' probability clip)::

    mean_squared_error       mean_k (a - y)^2                     kernel 'mse' x 2/k
    mean_absolute_error      mean_k |a - y|                       kernel 'mae' x 1/k
    huber                    mean_k of d^2/2 or delta |d| - delta^2/2   'huber' x 1/k
    log_cosh                 mean_k log cosh (a - y)              kernel 'logcosh' x 1/k
    mean_absolute_percentage_error  100 mean_k |a - y| / max(|y|, eps)   'mape' x 1/k
    mean_squared_logarithmic_error  mean_k (log1p(max(a, eps)) - log1p(max(y, eps)))^2
                                                                  kernel 'msle' x 1/k
    poisson                  mean_k [a - y log(a + eps)]          kernel 'poisson' x 1/k
    kl_divergence            sum_k y log(y / a), both clipped     kernel 'kld'
    hinge / squared_hinge    mean_k max(1 - y a, 0) (squared)     x 1/k
    binary_crossentropy      -mean_k [y log p + (1-y) log(1-p)]   'bce' / 'bce_logits' x 1/k
    categorical_crossentropy -sum_k y log p                       'ce' / 'ce_logits'
    sparse_categorical_...   the same on one-hot(y)

The kernel's ``loss_scale`` multiplies both the loss and the output delta, so
the gradient is Keras' gradient of its loss; the probability losses run with
the kernel's ``prob_eps`` = 1e-7, Keras' clip (zero gradient where the clip is
active, a categorical output rescaled to sum to one), so any output
activation trains as in Keras.  The batch loss is the mean over the batch
(Keras' "sum_over_batch_size"): a sample weight multiplies its sample's loss
and the batch still divides by its length.

``per_sample`` is the one Python formula of each loss (evaluate, validation,
the loss functions); training reports the kernel's own sums.
"""

import numpy as np

from annfast._validation import as_float_array, check_bool, check_choice, check_scalar

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "Huber", "LogCosh", "Poisson",
           "KLDivergence", "Hinge", "SquaredHinge", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "get",
           "mean_squared_error", "mean_absolute_error", "huber", "log_cosh", "poisson",
           "kl_divergence", "hinge", "squared_hinge", "binary_crossentropy",
           "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
           "categorical_crossentropy", "sparse_categorical_crossentropy"]

#: Keras' epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON].
EPSILON = 1e-7


class Loss:
    """A loss: its Keras name, the kernel loss that computes it and its options."""

    kernel_loss = "mse"
    name = "loss"

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        # Training divides each batch by its length: Keras' default is the one reduction.
        check_choice(reduction, "reduction", ("sum_over_batch_size",))
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"name must be a string, got {name!r:.60}")
            self.name = name

    def scale(self, k):
        """loss_scale for the kernel, for k outputs (Keras' mean over the outputs)."""
        return 1.0 / k

    def arch_options(self):
        """Keyword arguments of ``_engine.Network`` (``_kernels.Arch``) for this loss."""
        return {}

    def targets(self, y, k, dtype, argument="y"):
        """Return the (n, k) float target array the kernel trains on.

        A 1-D y is taken as one column when k == 1."""
        Y = as_float_array(_as_2d(y, argument), argument, dtype)
        if Y.shape[1] != k:
            raise ValueError(f"{argument} has {Y.shape[1]} values per sample but the model has "
                             f"{k} outputs ({self.name}); for integer class labels use "
                             "loss='sparse_categorical_crossentropy'")
        return Y

    def _elementwise(self, Y, out):
        raise NotImplementedError  # every concrete loss defines it (or per_sample)

    def per_sample(self, Y, out):
        """Per-sample losses (float64, shape (n,)) of outputs ``out`` (of the model's
        dtype) for targets ``Y`` (as ``targets`` returns them), as Keras computes them."""
        self._dtype = np.asarray(out).dtype
        Y = np.asarray(Y, dtype=np.float64)
        out = np.asarray(out, dtype=np.float64)
        with np.errstate(all="ignore"):
            return np.mean(self._elementwise(Y, out), axis=-1)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Mean loss over the samples (weighted, divided by the number of samples)."""
        y_pred = np.asarray(y_pred)
        dtype = y_pred.dtype if y_pred.dtype in (np.float32, np.float64) else np.float64
        out = as_float_array(_as_2d(y_pred, "y_pred"), "y_pred", dtype)
        Y = self.targets(y_true, out.shape[1], dtype, "y_true")
        if len(Y) != len(out):
            raise ValueError(f"y_true and y_pred have {len(Y)} and {len(out)} samples")
        losses = self.per_sample(Y, out)
        if sample_weight is not None:
            losses = losses * check_sample_weight(sample_weight, len(losses))
        return float(np.mean(losses))

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _as_2d(y, argument):
    arr = np.asarray(y)
    if arr.ndim == 1:
        return arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{argument} must be 1-D or 2-D, got shape {arr.shape}")
    return arr


def check_sample_weight(sample_weight, n, argument="sample_weight"):
    """sample_weight as n finite, non-negative float64 values, not all zero."""
    w = np.asarray(sample_weight)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"{argument} needs one weight per sample ({n}), got shape {w.shape}")
    w = as_float_array(w.reshape(-1, 1), argument, np.float64)[:, 0]
    if (w < 0).any():
        raise ValueError(f"{argument} must be >= 0, got a minimum of {w.min():g}")
    if n and not w.any():
        raise ValueError(f"{argument} is all zeros: no sample would count")
    return w


def _bounds(dtype):
    """Keras' clip bounds as the model's dtype holds them (1 - 1e-7 is 1 - 2^-23 in
    float32), where Keras and the kernel compute them."""
    t = np.dtype(dtype).type if np.dtype(dtype) in (np.float32, np.float64) else np.float64
    return float(t(EPSILON)), float(t(1) - t(EPSILON))


def _clip(p, dtype):
    low, high = _bounds(dtype)
    return np.clip(p, low, high)


class MeanSquaredError(Loss):
    """``mean((y - a)^2)`` over the outputs; 'mse', 'mean_squared_error'."""

    kernel_loss = "mse"
    name = "mean_squared_error"

    def scale(self, k):
        return 2.0 / k  # the kernel's mse is half the sum

    def _elementwise(self, Y, out):
        return (out - Y) ** 2


class MeanAbsoluteError(Loss):
    """``mean(|y - a|)`` over the outputs; 'mae', 'mean_absolute_error'."""

    kernel_loss = "mae"
    name = "mean_absolute_error"

    def _elementwise(self, Y, out):
        return np.abs(out - Y)


class MeanAbsolutePercentageError(Loss):
    """``100 mean(|y - a| / max(|y|, eps))`` over the outputs; 'mape',
    'mean_absolute_percentage_error'."""

    kernel_loss = "mape"
    name = "mean_absolute_percentage_error"

    def _elementwise(self, Y, out):
        t = np.dtype(self._dtype).type if self._dtype in (np.float32, np.float64) else np.float64
        return 100.0 * np.abs(out - Y) / np.maximum(np.abs(Y), float(t(EPSILON)))


class MeanSquaredLogarithmicError(Loss):
    """``mean((log1p(max(a, eps)) - log1p(max(y, eps)))^2)`` over the outputs; 'msle',
    'mean_squared_logarithmic_error'."""

    kernel_loss = "msle"
    name = "mean_squared_logarithmic_error"

    def _elementwise(self, Y, out):
        t = np.dtype(self._dtype).type if self._dtype in (np.float32, np.float64) else np.float64
        eps = float(t(EPSILON))
        return (np.log1p(np.maximum(out, eps)) - np.log1p(np.maximum(Y, eps))) ** 2


class Huber(Loss):
    """Huber loss with threshold ``delta`` (> 0, default 1.0); 'huber'."""

    kernel_loss = "huber"
    name = "huber_loss"

    def __init__(self, delta=1.0, name=None, reduction="sum_over_batch_size"):
        super().__init__(name, reduction)
        self.delta = check_scalar(delta, "delta", low=0, low_inclusive=False)

    def arch_options(self):
        return {"huber_delta": check_scalar(self.delta, "delta", low=0, low_inclusive=False)}

    def _elementwise(self, Y, out):
        d = np.abs(out - Y)
        h = self.delta
        return np.where(d <= h, 0.5 * d * d, h * d - 0.5 * h * h)

    def get_config(self):
        return {"delta": self.delta, **super().get_config()}


class LogCosh(Loss):
    """``mean(log cosh(a - y))`` over the outputs; 'log_cosh', 'logcosh'."""

    kernel_loss = "logcosh"
    name = "log_cosh"

    def _elementwise(self, Y, out):
        x = out - Y
        return x + np.logaddexp(0.0, -2.0 * x) - np.log(2.0)  # stable for large |x|


class Poisson(Loss):
    """``mean(a - y log(a + eps))`` over the outputs; 'poisson'."""

    kernel_loss = "poisson"
    name = "poisson"

    def arch_options(self):
        return {"prob_eps": EPSILON}

    def targets(self, y, k, dtype, argument="y"):
        Y = super().targets(y, k, dtype, argument)
        if Y.size and Y.min() < 0:
            raise ValueError(f"{argument} must be >= 0 (counts) for the poisson loss")
        return Y

    def _elementwise(self, Y, out):
        return out - Y * np.log(out + EPSILON)


class KLDivergence(Loss):
    """``sum(y log(y / a))`` over the outputs, both clipped to [eps, 1];
    'kl_divergence', 'kld'."""

    kernel_loss = "kld"
    name = "kl_divergence"

    def scale(self, k):
        return 1.0

    def arch_options(self):
        return {"prob_eps": EPSILON}

    def per_sample(self, Y, out):
        low = _bounds(np.asarray(out).dtype)[0]
        y = np.clip(np.asarray(Y, dtype=np.float64), low, 1.0)
        p = np.clip(np.asarray(out, dtype=np.float64), low, 1.0)
        return np.sum(y * np.log(y / p), axis=-1)


def _hinge_labels(Y, argument, name):
    """Keras' rule: labels that are all 0 or 1 become -1 or 1; others are used as
    they are.  The kernel reads a 0 label as -1, so a 0 among other values (which
    Keras would keep as 0) is refused rather than trained differently."""
    if Y.size and np.isin(Y, (0.0, 1.0)).all():
        return 2 * Y - 1
    if (Y == 0).any():
        raise ValueError(f"{argument} mixes 0 with values other than 1 for the {name} loss; "
                         "give labels -1/1 (or 0/1, which become -1/1)")
    return Y


class Hinge(Loss):
    """``mean(max(1 - y a, 0))`` over the outputs, labels -1/1 (0/1 become -1/1);
    'hinge'."""

    kernel_loss = "hinge"
    name = "hinge"

    def targets(self, y, k, dtype, argument="y"):
        return _hinge_labels(super().targets(y, k, dtype, argument), argument, self.name)

    def _elementwise(self, Y, out):
        return np.maximum(1.0 - Y * out, 0.0)


class SquaredHinge(Hinge):
    """``mean(max(1 - y a, 0)^2)`` over the outputs; 'squared_hinge'."""

    kernel_loss = "squared_hinge"
    name = "squared_hinge"

    def _elementwise(self, Y, out):
        return np.maximum(1.0 - Y * out, 0.0) ** 2


class _Crossentropy(Loss):
    """The options shared by the cross-entropies."""

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None,
                 reduction="sum_over_batch_size"):
        super().__init__(name, reduction)
        self.from_logits = check_bool(from_logits, "from_logits")
        self.label_smoothing = check_scalar(label_smoothing, "label_smoothing", low=0, high=1)

    @property
    def kernel_loss(self):
        return self._kernel + ("_logits" if self.from_logits else "")

    def arch_options(self):
        return {"label_smoothing": check_scalar(self.label_smoothing, "label_smoothing",
                                                low=0, high=1),
                "prob_eps": EPSILON}

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                **super().get_config()}


class BinaryCrossentropy(_Crossentropy):
    """``-mean(y log p + (1-y) log(1-p))`` over the outputs, p = a clipped to
    [eps, 1 - eps] (or sigmoid(a) with ``from_logits``); 'binary_crossentropy'."""

    _kernel = "bce"
    name = "binary_crossentropy"

    def _elementwise(self, Y, out):
        y = Y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            return np.maximum(out, 0.0) - out * y + np.log1p(np.exp(-np.abs(out)))
        p = _clip(out, self._dtype)
        return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


class CategoricalCrossentropy(_Crossentropy):
    """``-sum(y log p)`` over the outputs (one-hot y), p the outputs rescaled to sum
    to one and clipped (or softmax(a) with ``from_logits``);
    'categorical_crossentropy'."""

    _kernel = "ce"
    name = "categorical_crossentropy"

    def scale(self, k):
        return 1.0

    def per_sample(self, Y, out):
        dtype = np.asarray(out).dtype
        Y = np.asarray(Y, dtype=np.float64)
        out = np.asarray(out, dtype=np.float64)
        k = Y.shape[-1]
        y = Y * (1.0 - self.label_smoothing) + self.label_smoothing / k
        with np.errstate(all="ignore"):
            if self.from_logits:
                top = out.max(axis=-1, keepdims=True)
                log_p = out - top - np.log(np.sum(np.exp(out - top), axis=-1, keepdims=True))
            else:
                log_p = np.log(_clip(out / np.sum(out, axis=-1, keepdims=True), dtype))
            return -np.sum(y * log_p, axis=-1)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy on integer labels y in [0, k);
    'sparse_categorical_crossentropy'."""

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size"):
        super().__init__(from_logits=from_logits, name=name, reduction=reduction)

    def get_config(self):
        return {"from_logits": self.from_logits, "name": self.name}

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


_CLASSES = (MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
            MeanSquaredLogarithmicError, Huber, LogCosh, Poisson, KLDivergence,
            Hinge, SquaredHinge, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)

#: Strings accepted by ``compile(loss=...)``, as Keras spells them.
LOSSES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber,
    "log_cosh": LogCosh, "logcosh": LogCosh,
    "poisson": Poisson,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "hinge": Hinge, "squared_hinge": SquaredHinge,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def _function(cls, doc, name):
    def loss_function(y_true, y_pred):
        y_pred = np.asarray(y_pred)
        dtype = y_pred.dtype if y_pred.dtype in (np.float32, np.float64) else np.float64
        out = as_float_array(_as_2d(y_pred, "y_pred"), "y_pred", dtype)
        loss = cls()
        Y = loss.targets(y_true, out.shape[1], dtype, "y_true")
        if len(Y) != len(out):
            raise ValueError(f"y_true and y_pred have {len(Y)} and {len(out)} samples")
        return loss.per_sample(Y, out)

    loss_function.__doc__ = f"Per-sample {doc} losses, shape (n,) (as Keras' function)."
    loss_function._loss_class = cls
    loss_function.__name__ = loss_function.__qualname__ = name
    return loss_function


mean_squared_error = mse = _function(MeanSquaredError, "mean squared error",
                                     "mean_squared_error")
mean_absolute_error = mae = _function(MeanAbsoluteError, "mean absolute error",
                                      "mean_absolute_error")
mean_absolute_percentage_error = mape = _function(
    MeanAbsolutePercentageError, "mean absolute percentage error",
    "mean_absolute_percentage_error")
mean_squared_logarithmic_error = msle = _function(
    MeanSquaredLogarithmicError, "mean squared logarithmic error",
    "mean_squared_logarithmic_error")
huber = _function(Huber, "Huber (delta=1)", "huber")
log_cosh = logcosh = _function(LogCosh, "log-cosh", "log_cosh")
poisson = _function(Poisson, "Poisson", "poisson")
kl_divergence = kld = _function(KLDivergence, "Kullback-Leibler divergence", "kl_divergence")
hinge = _function(Hinge, "hinge", "hinge")
squared_hinge = _function(SquaredHinge, "squared hinge", "squared_hinge")
binary_crossentropy = _function(BinaryCrossentropy, "binary cross-entropy",
                                "binary_crossentropy")
categorical_crossentropy = _function(CategoricalCrossentropy, "categorical cross-entropy",
                                     "categorical_crossentropy")
sparse_categorical_crossentropy = _function(SparseCategoricalCrossentropy,
                                            "sparse categorical cross-entropy",
                                            "sparse_categorical_crossentropy")


def get(identifier):
    """Return a Loss for a Keras loss name, one of this module's loss functions or a
    Loss instance."""
    if isinstance(identifier, Loss):
        return identifier
    if callable(identifier) and hasattr(identifier, "_loss_class"):
        return identifier._loss_class()
    if not isinstance(identifier, str):
        raise TypeError(f"loss must be a name, a function or an instance from "
                        f"annfast.keras.losses, got {identifier!r:.80}")
    return LOSSES[check_choice(identifier, "loss", tuple(LOSSES))]()


def serialize(loss):
    """A JSON-able description: the class name and its configuration."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(description):
    """The Loss of ``serialize`` (or of a class name alone: files from before options)."""
    classes = {c.__name__: c for c in _CLASSES}
    if isinstance(description, str):
        description = {"class_name": description, "config": {}}
    class_name = description["class_name"]
    if class_name not in classes:
        raise ValueError(f"unknown loss class {class_name!r:.60}")
    return classes[class_name](**description["config"])
