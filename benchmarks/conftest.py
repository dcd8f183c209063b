"""Shared sizes and data for the pytest-benchmark micro-benchmarks.

Run them with ``python -m pytest benchmarks --benchmark-only`` from the
repository root (the default ``pytest`` run only collects ``tests/``).  Save a
run with ``--benchmark-autosave`` and compare a later one against it with
``--benchmark-compare`` to see a change's effect on one kernel.
"""

import numpy as np
import pytest

from annfast import _kernels, _params
from annfast.activations import ACTIVATIONS, LOSSES

DTYPES = {"f64": np.float64, "f32": np.float32}

#: One weight layer (n_in, n_out) per size class: a tiny hidden layer, the
#: tutorial's first layer at 4x width, and a layer far beyond the L2 cache.
LAYERS = {"small": (64, 32), "medium": (784, 128), "large": (1024, 1024)}

#: Rows per kernel call for forward/gradient/train: enough that the per-call
#: checks in the Cython layer are a small part of the time.
BATCH = 32


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Every BLAS/OpenMP pool at one thread, as in compare.py (annfast's BLAS paths
    and the NumPy reference would otherwise use every core)."""
    from benchmarks.compare import single_thread

    with single_thread():
        yield


@pytest.fixture(params=list(DTYPES), ids=list(DTYPES))
def dtype(request):
    return DTYPES[request.param]


@pytest.fixture(params=list(LAYERS), ids=[f"{k}-{a}x{b}" for k, (a, b) in LAYERS.items()])
def layer(request):
    return LAYERS[request.param]


@pytest.fixture
def one_layer(layer, dtype):
    """Everything a kernel call needs for one relu layer n_in -> n_out, squared error.

    Returns a dict: arch, params (n_params,), X (BATCH, n_in), Y (BATCH, n_out),
    out (BATCH, n_out), order (BATCH,) int64, empty optimizer state.
    """
    n_in, n_out = layer
    rng = np.random.default_rng(0)
    sizes = [n_in, n_out]
    return {
        "arch": _kernels.Arch(sizes, [ACTIVATIONS["relu"]], LOSSES["mse"]),
        "params": _params.init_params(sizes, "xavier", rng, dtype),
        "X": rng.random((BATCH, n_in)).astype(dtype),
        "Y": rng.random((BATCH, n_out)).astype(dtype),
        "out": np.empty((BATCH, n_out), dtype=dtype),
        "order": np.arange(BATCH, dtype=np.int64),
        "state": np.empty(0, dtype=dtype),
    }
