"""``annfast.keras.backend``: ``clear_session``, ``epsilon`` and ``floatx``, as in Keras."""

from annfast.keras import _naming

__all__ = ["clear_session", "epsilon", "floatx"]


def clear_session():
    """Reset the counters behind automatic names ('dense', 'dense_1', ...)."""
    _naming.reset_names()


def epsilon():
    """Keras' fuzz factor, 1e-7 (what the metrics clip probabilities to)."""
    return 1e-7


def floatx():
    """The default float type of new models, 'float32' as in Keras."""
    return "float32"
