"""Automatic layer and model names ('dense', 'dense_1', ...), and the seed source.

Keras numbers auto-named objects per prefix for the whole session; so do we.
Models draw their random generator from one process-wide source that
``annfast.keras.utils.set_random_seed`` reseeds, so that a seeded script builds
and trains the same model bit for bit.
"""

import itertools
import threading

import numpy as np

_lock = threading.Lock()
_counters = {}
_root_rng = None


def unique_name(prefix):
    """Return ``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ..."""
    with _lock:
        counter = _counters.setdefault(prefix, itertools.count())
        n = next(counter)
    return prefix if n == 0 else f"{prefix}_{n}"


def reset_names():
    with _lock:
        _counters.clear()


def set_root_seed(seed):
    global _root_rng
    with _lock:
        _root_rng = np.random.default_rng(seed)


def new_generator():
    """A Generator for one model: from the global seed if one was set, else fresh entropy."""
    with _lock:
        if _root_rng is None:
            return np.random.default_rng()
        return np.random.default_rng(int(_root_rng.integers(0, 2**63 - 1)))
