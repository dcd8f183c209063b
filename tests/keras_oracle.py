"""Real Keras 3 on the PyTorch backend, as the oracle of the Keras front-end tests.

Importing this module skips the calling test module when Keras (or torch) is
not installed.  The backend is chosen before Keras is imported.
"""

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
torch = pytest.importorskip("torch")
real_keras = pytest.importorskip("keras")
if real_keras.backend.backend() != "torch":  # pragma: no cover - a caller chose another
    pytest.skip("the Keras oracle runs on the torch backend", allow_module_level=True)
torch.set_num_threads(1)


def to_numpy(value):
    """A Keras result (tensor, variable or float) as a float or array."""
    return real_keras.ops.convert_to_numpy(value)
