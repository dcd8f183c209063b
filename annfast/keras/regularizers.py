"""Keras' weight regularizers: L1, L2 and L1L2 as penalties the kernel adds.

A regularizer on a Dense layer's kernel or bias adds ``l1 sum|w| + l2 sum w^2``
to every batch's loss (Keras' ``model.losses``); the kernel adds the gradient
of that term to the batch gradient and the term itself to the reported loss.
Strings: 'l1' (L1(0.01)), 'l2' (L2(0.01)), 'l1_l2' (L1L2(0.01, 0.01)); 'l1l2'
and 'L1L2' are Keras' class with its defaults (both 0).
"""

from annfast._validation import check_choice, check_scalar

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize", "deserialize"]


class Regularizer:
    """Base class: an l1 and an l2 factor, both finite and >= 0."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = check_scalar(l1, "l1", low=0)
        self.l2 = check_scalar(l2, "l2", low=0)

    def factors(self):
        """(l1, l2), re-validated (the attributes are public)."""
        return check_scalar(self.l1, "l1", low=0), check_scalar(self.l2, "l2", low=0)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 sum|w| + l2 sum w^2`` (defaults 0.0, as Keras' class)."""


class L1(Regularizer):
    """``l1 sum|w|``."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 sum w^2``."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


#: Strings accepted for ``kernel_regularizer`` / ``bias_regularizer``.
REGULARIZERS = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01),
                "L1": L1, "L2": L2, "L1L2": L1L2, "l1l2": L1L2}  # the last two: zeros, as Keras
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier, argument="regularizer"):
    """A Regularizer (or None) for None, a name or an instance."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if not isinstance(identifier, str):
        raise TypeError(f"{argument} must be None, a name or an instance from "
                        f"annfast.keras.regularizers, got {identifier!r:.80}")
    return REGULARIZERS[check_choice(identifier, argument, tuple(REGULARIZERS))]()


def penalty_row(kernel_regularizer, bias_regularizer):
    """One layer's (kernel_l1, kernel_l2, bias_l1, bias_l2) for the kernel."""
    k1, k2 = kernel_regularizer.factors() if kernel_regularizer is not None else (0.0, 0.0)
    b1, b2 = bias_regularizer.factors() if bias_regularizer is not None else (0.0, 0.0)
    return (k1, k2, b1, b2)


def serialize(regularizer):
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(description):
    if description is None:
        return None
    class_name = description["class_name"]
    if class_name not in _CLASSES:
        raise ValueError(f"unknown regularizer class {class_name!r:.60}")
    return _CLASSES[class_name](**description["config"])
