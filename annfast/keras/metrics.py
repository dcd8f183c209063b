"""Metrics, as strings and objects, computed as Keras 3 computes them.

Every metric object streams like Keras' (``update_state`` per batch,
``result``, ``reset_state``): mean metrics keep a total and a count, the
confusion-matrix metrics (``AUC``, ``Precision``, ``Recall``) keep weighted
counts per threshold (keras/src/metrics/{accuracy,confusion,regression,
probabilistic}_metrics.py and metrics_utils.py).  Streamed over batches or
computed on all predictions at once, the result is the same.

'acc' / 'accuracy' become binary, categorical or sparse categorical accuracy
from the shapes (keras/src/trainers/compile_utils.py ``get_metric``): one
output unit -> binary (threshold 0.5); integer labels (y of rank 1, or one
column for several outputs) -> sparse categorical; otherwise categorical.
A metric given as a string is reported under that string, an object under
its ``name``.

The cross-entropy metrics clip probabilities to [1e-7, 1 - 1e-7] as Keras
does (the training loss clips at the dtype's epsilon, see ``losses``).
"""

import numpy as np

from annfast._validation import check_bool, check_choice, check_scalar
from annfast.keras import _naming

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
           "RootMeanSquaredError", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "AUC", "Precision", "Recall",
           "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
           "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "get"]

EPSILON = 1e-7  # Keras' backend.epsilon()


# -- shapes, as Keras' squeeze_or_expand_to_same_rank ---------------------------------


def _pair(y_true, y_pred):
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.ndim == p.ndim - 1:
        t = t[..., None]
    elif p.ndim == t.ndim - 1:
        p = p[..., None]
    try:
        return np.broadcast_arrays(t, p)
    except ValueError:
        raise ValueError(f"y_true and y_pred have incompatible shapes {t.shape} and "
                         f"{p.shape}") from None


def _labels(y_true, n):
    t = np.asarray(y_true, dtype=np.float64)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    return t.reshape(n)


# -- per-sample functions (Keras' metric functions) -----------------------------------


def accuracy(y_true, y_pred):
    """1 where y_pred equals y_true exactly, per element."""
    t, p = _pair(y_true, y_pred)
    return (t == p).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per sample, the fraction of outputs with ``(y_pred > threshold) == y_true``."""
    t, p = _pair(y_true, y_pred)
    return np.mean(t == (p > threshold), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """1 where the largest output is at the largest target (one-hot y)."""
    t, p = _pair(y_true, y_pred)
    return (np.argmax(t, axis=-1) == np.argmax(p, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where the largest output is at the integer label y."""
    p = np.asarray(y_pred, dtype=np.float64)
    return (_labels(y_true, len(p)) == np.argmax(p, axis=-1)).astype(np.float64)


def _in_top_k(labels, p, k):
    # As Keras' in_top_k: the target's output is at least the k-th largest (ties count).
    k = min(k, p.shape[-1])
    kth = -np.partition(-p, k - 1, axis=-1)[:, k - 1]
    return (p[np.arange(len(p)), labels] >= kth).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    t, p = _pair(y_true, y_pred)
    return _in_top_k(np.argmax(t, axis=-1), p, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    p = np.asarray(y_pred, dtype=np.float64)
    return _in_top_k(_labels(y_true, len(p)).astype(np.int64), p, k)


def mean_squared_error(y_true, y_pred):
    t, p = _pair(y_true, y_pred)
    return np.mean((p - t) ** 2, axis=-1)


def mean_absolute_error(y_true, y_pred):
    t, p = _pair(y_true, y_pred)
    return np.mean(np.abs(p - t), axis=-1)


def binary_crossentropy(y_true, y_pred):
    t, p = _pair(y_true, y_pred)
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), axis=-1)


def categorical_crossentropy(y_true, y_pred):
    t, p = _pair(y_true, y_pred)
    p = np.clip(p / np.sum(p, axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
    return -np.sum(t * np.log(p), axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred):
    p = np.asarray(y_pred, dtype=np.float64)
    labels = _labels(y_true, len(p)).astype(np.int64)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), labels] = 1
    return categorical_crossentropy(onehot, p)


# -- streaming metric objects ----------------------------------------------------------


class Metric:
    """Base class: ``update_state(y_true, y_pred)``, ``result()``, ``reset_state()``;
    calling a metric updates it and returns the result."""

    _direction = "up"

    def __init__(self, name=None, dtype=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        self.name = name if name is not None else _naming.unique_name(_snake(type(self)))
        self.dtype = dtype
        self.reset_state()

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _snake(cls):
    name = cls.__name__
    known = {"AUC": "auc"}
    if name in known:
        return known[name]
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out


def _check_weights(sample_weight, n):
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must hold one weight per sample ({n}), got shape "
                         f"{np.shape(sample_weight)}")
    return w


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state``."""

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=np.float64)
        w = _check_weights(sample_weight, len(values)) if values.ndim else None
        if w is None:
            self.total += float(np.sum(values))
            self.count += values.size
        else:
            w = w.reshape((-1,) + (1,) * (values.ndim - 1))
            self.total += float(np.sum(values * w))
            self.count += float(np.sum(np.broadcast_to(w, values.shape)))

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, name=None, dtype=None, direction="up", **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        self._direction = direction
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self):
        return {"name": self.name, **self._fn_kwargs}


def _wrapper(cls_name, fn, default_name, direction, doc, params=()):
    """A MeanMetricWrapper subclass with Keras' name and keyword arguments."""

    def __init__(self, name=default_name, dtype=None, **kwargs):
        unknown = set(kwargs) - {p for p, _ in params}
        if unknown:
            raise TypeError(f"{cls_name} does not support {', '.join(sorted(unknown))}; the "
                            f"supported arguments are: name, dtype"
                            + "".join(f", {p}" for p, _ in params))
        values = {p: kwargs.get(p, default) for p, default in params}
        for p, value in values.items():
            if p == "threshold":
                values[p] = check_scalar(value, "threshold")
            elif p == "k":
                values[p] = check_scalar(value, "k", low=1, integer=True)
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, direction=direction,
                                   **values)

    return type(cls_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc,
                                                 "__module__": __name__})


Accuracy = _wrapper("Accuracy", accuracy, "accuracy", "up",
                    "How often predictions equal labels exactly.")
BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy", "up",
                          "How often (y_pred > threshold) equals binary labels.",
                          (("threshold", 0.5),))
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy,
                               "categorical_accuracy", "up",
                               "How often the largest output matches one-hot labels.")
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                     "sparse_categorical_accuracy", "up",
                                     "How often the largest output matches integer labels.")
TopKCategoricalAccuracy = _wrapper("TopKCategoricalAccuracy", top_k_categorical_accuracy,
                                   "top_k_categorical_accuracy", "up",
                                   "How often the one-hot target is among the k largest "
                                   "outputs.", (("k", 5),))
SparseTopKCategoricalAccuracy = _wrapper("SparseTopKCategoricalAccuracy",
                                         sparse_top_k_categorical_accuracy,
                                         "sparse_top_k_categorical_accuracy", "up",
                                         "How often the integer target is among the k largest "
                                         "outputs.", (("k", 5),))
MeanSquaredError = _wrapper("MeanSquaredError", mean_squared_error, "mean_squared_error",
                            "down", "Mean of the squared errors.")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error",
                             "down", "Mean of the absolute errors.")


def _probabilistic(cls_name, fn, default_name):
    base = _wrapper(cls_name, fn, default_name, "down", "")

    def __init__(self, name=default_name, dtype=None, from_logits=False, label_smoothing=0,
                 **kwargs):
        if from_logits:
            raise ValueError(f"{cls_name}(from_logits=True) is not supported yet: annfast has "
                             "no from_logits loss; put the activation in the last layer")
        if label_smoothing:
            raise ValueError(f"{cls_name}(label_smoothing={label_smoothing!r}) is not "
                             "supported yet; only 0 is")
        base.__init__(self, name=name, dtype=dtype, **kwargs)

    return type(cls_name, (base,), {"__init__": __init__, "__module__": __name__,
                                    "__doc__": f"Mean {default_name} (Keras' clipping)."})


BinaryCrossentropy = _probabilistic("BinaryCrossentropy", binary_crossentropy,
                                    "binary_crossentropy")
CategoricalCrossentropy = _probabilistic("CategoricalCrossentropy", categorical_crossentropy,
                                         "categorical_crossentropy")
SparseCategoricalCrossentropy = _probabilistic("SparseCategoricalCrossentropy",
                                               sparse_categorical_crossentropy,
                                               "sparse_categorical_crossentropy")


class RootMeanSquaredError(Mean):
    """sqrt of the mean of the squared errors over every output."""

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _pair(y_true, y_pred)
        super().update_state((p - t) ** 2, sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))


class _Confusion(Metric):
    """Weighted true/false positive/negative counts at each threshold."""

    def _thresholds_reset(self):
        shape = (len(self._thresholds),)
        self.true_positives = np.zeros(shape)
        self.false_positives = np.zeros(shape)
        self.true_negatives = np.zeros(shape)
        self.false_negatives = np.zeros(shape)

    def reset_state(self):
        self._thresholds_reset()

    def _count(self, labels, preds, weights):
        """Add counts for flat label weights (labels), predictions and sample weights."""
        order = np.argsort(preds, kind="stable")
        p_sorted = preds[order]
        pos_w = (labels * weights)[order]
        neg_w = ((1 - labels) * weights)[order]
        # Weighted sums of the predictions strictly above each threshold.
        cut = np.searchsorted(p_sorted, self._thresholds, side="right")
        pos_above = np.concatenate([np.cumsum(pos_w[::-1])[::-1], [0.0]])[cut]
        neg_above = np.concatenate([np.cumsum(neg_w[::-1])[::-1], [0.0]])[cut]
        self.true_positives += pos_above
        self.false_positives += neg_above
        self.false_negatives += pos_w.sum() - pos_above
        self.true_negatives += neg_w.sum() - neg_above


def _confusion_inputs(y_true, y_pred, sample_weight, top_k=None, class_id=None):
    t, p = _pair(y_true, y_pred)
    w = _check_weights(sample_weight, len(t))
    if top_k is not None:
        kth = -np.partition(-p, min(top_k, p.shape[-1]) - 1, axis=-1)[..., [min(top_k,
                                                                              p.shape[-1]) - 1]]
        p = np.where(p >= kth, p, -1e10)  # Keras' NEG_INF outside the top k
    if class_id is not None:
        if p.ndim < 2 or not 0 <= class_id < p.shape[-1]:
            raise ValueError(f"class_id={class_id} needs y_pred of shape (n, num_classes) with "
                             f"more than {class_id} classes, got shape {p.shape}")
        t, p = t[..., class_id:class_id + 1], p[..., class_id:class_id + 1]
    weights = np.ones_like(p) if w is None else np.broadcast_to(
        w.reshape((-1,) + (1,) * (p.ndim - 1)), p.shape)
    return t.reshape(-1), p.reshape(-1), np.asarray(weights, dtype=np.float64).reshape(-1)


class _ThresholdMetric(_Confusion):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        if top_k is not None:
            top_k = check_scalar(top_k, "top_k", low=1, integer=True)
        if class_id is not None:
            class_id = check_scalar(class_id, "class_id", low=0, integer=True)
        if thresholds is None:
            thresholds = 0.5 if top_k is None else -1e10
        if isinstance(thresholds, (list, tuple, np.ndarray)):
            raise ValueError(f"{type(self).__name__}(thresholds=[...]) with several thresholds "
                             "is not supported; give one float")
        self.thresholds = check_scalar(thresholds, "thresholds")
        self.top_k, self.class_id = top_k, class_id
        self._thresholds = np.array([self.thresholds])
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p, w = _confusion_inputs(y_true, y_pred, sample_weight, self.top_k, self.class_id)
        self._count((t != 0).astype(np.float64), p, w)

    def get_config(self):
        return {"name": self.name, "thresholds": self.thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


def _divide_no_nan(a, b):
    return np.divide(a, b, out=np.zeros_like(np.asarray(a, dtype=np.float64)), where=b != 0)


class Precision(_ThresholdMetric):
    """tp / (tp + fp) of the predictions above ``thresholds`` (default 0.5)."""

    def result(self):
        return float(_divide_no_nan(self.true_positives, self.true_positives
                                    + self.false_positives)[0])


class Recall(_ThresholdMetric):
    """tp / (tp + fn) of the predictions above ``thresholds`` (default 0.5)."""

    def result(self):
        return float(_divide_no_nan(self.true_positives, self.true_positives
                                    + self.false_negatives)[0])


class AUC(_Confusion):
    """Area under the ROC or precision-recall curve, from counts at
    ``num_thresholds`` thresholds (Keras' Riemann sums; 'interpolation' on PR is
    Davis & Goadrich's interpolation, as Keras).

    Parameters
    ----------
    num_thresholds : int > 1, default 200
    curve : {'ROC', 'PR'}, default 'ROC'
    summation_method : {'interpolation', 'minoring', 'majoring'}
    name : str, optional
    thresholds : list of float in [0, 1], optional
        Instead of num_thresholds evenly spaced ones.
    from_logits : bool, default False
        Apply a sigmoid to the predictions first.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self.curve = check_choice(str(curve).upper(), "curve", ("ROC", "PR"))
        self.summation_method = check_choice(str(summation_method).lower(),
                                             "summation_method",
                                             ("interpolation", "minoring", "majoring"))
        if multi_label or num_labels is not None or label_weights is not None:
            raise ValueError("AUC(multi_label=True, num_labels, label_weights) is not "
                             "supported; only one curve over every output is")
        self.multi_label = False
        self.from_logits = check_bool(from_logits, "from_logits")
        if thresholds is not None:
            inner = sorted(float(check_scalar(t, "thresholds[i]", low=0, high=1))
                           for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            self.num_thresholds = check_scalar(num_thresholds, "num_thresholds", low=2,
                                               integer=True)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1)
                     for i in range(self.num_thresholds - 2)]
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        super().__init__(name=name, dtype=dtype)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p, w = _confusion_inputs(y_true, y_pred, sample_weight)
        if self.from_logits:
            p = 1 / (1 + np.exp(-p))
        self._count(t, p, w)

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        safe_ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increment = _divide_no_nan(prec_slope * (dtp + intercept * np.log(safe_ratio)),
                                   np.maximum(tp[1:] + fn[1:], 0))
        return float(np.sum(increment))

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def get_config(self):
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "from_logits": self.from_logits}


# -- compile(metrics=...) --------------------------------------------------------------

#: Metric names accepted by ``compile(metrics=...)``: name -> class (None: accuracy by shape).
_NAMED = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "root_mean_squared_error": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "auc": AUC, "precision": Precision, "recall": Recall,
}
_CLASSES = {cls.__name__: cls for cls in set(_NAMED.values())}
METRICS = ("acc", "accuracy", *_NAMED, *sorted(_CLASSES))


def check_metrics(metrics):
    """Return ``[(name, Metric or None), ...]`` after checking each entry: None for
    strings (resolved per fit from the shapes), the object for Metric instances."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, Metric)) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of metric names or objects, e.g. ['acc'], "
                        f"got {metrics!r:.80}")
    entries = []
    for i, m in enumerate(metrics):
        if isinstance(m, Metric):
            name, obj = m.name, m
        else:
            name, obj = check_choice(m, f"metrics[{i}]", METRICS), None
        if name in [n for n, _ in entries] or name == "loss":
            raise ValueError(f"metric {name!r} is listed twice")
        entries.append((name, obj))
    return entries


def check_names(metrics):
    """The metric names of a compile(metrics=...) list (checked)."""
    return [name for name, _ in check_metrics(metrics)]


def _instance(name, y_true_shape, n_outputs):
    if name in _NAMED:
        return _NAMED[name](name=name)
    if name in _CLASSES:
        return _CLASSES[name](name=name)
    if n_outputs == 1:
        return BinaryAccuracy(name=name)
    if len(y_true_shape) < 2 or y_true_shape[-1] == 1:
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


def get(name, y_true_shape, n_outputs, obj=None):
    """Return ``fn(y_true, y_pred) -> float`` computing metric ``name`` (or the
    object ``obj``) from scratch on all the given predictions."""
    metric = obj if obj is not None else _instance(name, y_true_shape, n_outputs)

    def compute(y_true, y_pred, sample_weight=None):
        metric.reset_state()
        metric.update_state(y_true, y_pred, sample_weight)
        return float(metric.result())

    return compute


def direction(name, obj=None):
    """'up' if larger is better for the metric, else 'down'."""
    metric = obj if obj is not None else _instance(name, (0, 2), 2)
    return metric._direction
