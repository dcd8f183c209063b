"""``annfast.keras.backend.clear_session``: restart layer/model auto-naming, as Keras."""

from annfast.keras import _naming

__all__ = ["clear_session"]


def clear_session():
    """Reset the counters behind automatic names ('dense', 'dense_1', ...)."""
    _naming.reset_names()
