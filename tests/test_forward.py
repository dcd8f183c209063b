"""The forward kernel against the reference, over layer shapes, activations and dtypes."""

import numpy as np
import pytest
from conftest import (
    DTYPES,
    HIDDEN_ACTIVATIONS,
    assert_matches,
    make_arch,
    random_params,
    ref_layers,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from annfast import _kernels, reference
from annfast.activations import ACTIVATIONS, LOSSES

# Includes 1-unit layers at every position, a deep stack and a wide input.
SHAPES = [
    [1, 1],
    [3, 1],
    [1, 4],
    [1, 5, 1],
    [4, 1, 3],
    [5, 8, 8, 2],
    [2, 16, 16, 16, 3],
    [784, 32, 10],
]
OUTPUTS = ("identity", "sigmoid", "softmax", "tanh", "relu", "leaky_relu")


def kernel_forward(arch, params, X):
    out = np.full((len(X), arch.sizes[-1]), np.nan, dtype=X.dtype)
    _kernels.forward(arch, params, X, out)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_forward_matches_reference(sizes, hidden, dtype, rng):
    for out_act in ("softmax", "identity"):
        arch, acts = make_arch(sizes, hidden, out_act, "mse")
        params = random_params(sizes, dtype, rng, scale=1.5)
        X = rng.normal(0.0, 1.0, size=(6, sizes[0])).astype(dtype)
        got = kernel_forward(arch, params, X)
        weights, biases = ref_layers(params, sizes)
        expected = reference.predict(weights, biases, acts, X)
        assert got.dtype == dtype
        assert_matches(got, expected, dtype, f"{sizes} {hidden}->{out_act}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out_act", OUTPUTS)
def test_forward_every_output_activation(out_act, dtype, rng):
    sizes = [4, 6, 3]
    arch, acts = make_arch(sizes, "tanh", out_act, "mse", slope=0.2)
    params = random_params(sizes, dtype, rng, scale=2.0)
    X = rng.normal(0.0, 2.0, size=(9, 4)).astype(dtype)
    weights, biases = ref_layers(params, sizes)
    assert_matches(kernel_forward(arch, params, X),
                   reference.predict(weights, biases, acts, X, slope=0.2), dtype, out_act)


def test_forward_hand_computed():
    # One layer, W = [[1, -2], [0.5, 0.5]], b = [0.5, -1]; x = [2, 1]:
    # z = [2 - 2 + 0.5, 1 + 0.5 - 1] = [0.5, 0.5]; identity gives z itself.
    arch, _ = make_arch([2, 2], "identity", "identity", "mse")
    params = np.array([1.0, -2.0, 0.5, 0.5, 0.5, -1.0])
    out = kernel_forward(arch, params, np.array([[2.0, 1.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(out, [[0.5, 0.5], [0.5, -1.0]])
    # relu hidden layer [2 -> 2 -> 1]: second layer W = [[1, 1]], b = [0]; x = [0, 1]:
    # z1 = [-2 + 0.5, 0.5 - 1] = [-1.5, -0.5] -> relu 0, 0 -> output 0.
    arch2, _ = make_arch([2, 2, 1], "relu", "identity", "mse")
    params2 = np.concatenate([params, [1.0, 1.0, 0.0]])
    out2 = kernel_forward(arch2, params2, np.array([[0.0, 1.0], [2.0, 1.0]]))
    np.testing.assert_array_equal(out2, [[0.0], [1.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_rows_equal_single_rows_bitwise(dtype, rng):
    sizes = [7, 5, 4]
    arch, _ = make_arch(sizes, "sigmoid", "softmax", "ce")
    params = random_params(sizes, dtype, rng)
    X = rng.normal(size=(11, 7)).astype(dtype)
    batch = kernel_forward(arch, params, X)
    for i in range(len(X)):
        np.testing.assert_array_equal(batch[i], kernel_forward(arch, params, X[i:i + 1])[0])


#: Every instruction-set variant this CPU runs.
ISAS = [isa for isa in sorted(_kernels.ISA_NAMES.values()) if isa <= _kernels.CPU_ISA]


@pytest.mark.parametrize("isa", ISAS, ids=_kernels.isa_name)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [[37, 21, 70, 5], [784, 32, 10], [3, 129, 1]],
                         ids=lambda s: "-".join(map(str, s)))
def test_batch_forward_tiles_match_reference_and_single_rows(sizes, dtype, isa, rng):
    """The batch pass (weights transposed into panels, tiles of several rows x
    up to four vectors of outputs, blocks of rows) at every width remainder
    and row remainder: equal to the reference, and each row the same bits as
    through the few-rows path that skips the transposed copy."""
    arch = _kernels.Arch(sizes, [ACTIVATIONS["relu"]] * (len(sizes) - 2)
                         + [ACTIVATIONS["softmax"]], LOSSES["ce"], isa=isa)
    acts = ["relu"] * (len(sizes) - 2) + ["softmax"]
    params = random_params(sizes, dtype, rng)
    X = rng.normal(size=(53, sizes[0])).astype(dtype)  # two full blocks of 24 and 5 rows
    batch = kernel_forward(arch, params, X)
    weights, biases = ref_layers(params.astype(np.float64), sizes)
    assert_matches(batch, reference.predict(weights, biases, acts, X.astype(np.float64)),
                   dtype)
    for i in (0, 1, 23, 24, 47, 52):
        np.testing.assert_array_equal(batch[i], kernel_forward(arch, params, X[i:i + 1])[0])
    np.testing.assert_array_equal(batch[:7], kernel_forward(arch, params, X[:7]))


def test_forward_leaves_inputs_alone_and_accepts_read_only_arrays(rng):
    sizes = [3, 4, 2]
    arch, _ = make_arch(sizes, "relu", "softmax", "ce")
    params = random_params(sizes, np.float64, rng)
    X = rng.normal(size=(5, 3))
    params_before, X_before = params.copy(), X.copy()
    params.setflags(write=False)
    X.setflags(write=False)
    out = kernel_forward(arch, params, X)
    np.testing.assert_array_equal(params, params_before)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)


def test_forward_of_zero_rows_writes_nothing(rng):
    arch, _ = make_arch([3, 2], "relu", "identity", "mse")
    params = random_params([3, 2], np.float64, rng)
    out = np.empty((0, 2))
    _kernels.forward(arch, params, np.empty((0, 3)), out)
    assert out.shape == (0, 2)


def test_forward_checks_every_size(rng):
    arch, _ = make_arch([3, 4, 2], "relu", "identity", "mse")
    params = random_params([3, 4, 2], np.float64, rng)
    X, out = np.zeros((5, 3)), np.zeros((5, 2))
    with pytest.raises(ValueError, match="params"):
        _kernels.forward(arch, params[:-1], X, out)
    with pytest.raises(ValueError, match="X has 2 features"):
        _kernels.forward(arch, params, np.zeros((5, 2)), out)
    with pytest.raises(ValueError, match="expected"):
        _kernels.forward(arch, params, X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="expected"):
        _kernels.forward(arch, params, X, np.zeros((5, 3)))


def test_arch_reports_its_layout():
    arch, _ = make_arch([784, 32, 10], "relu", "softmax", "ce")
    assert arch.n_params == 784 * 32 + 32 + 32 * 10 + 10
    assert list(arch.sizes) == [784, 32, 10]
    assert list(arch.acts) == [ACTIVATIONS["relu"], ACTIVATIONS["softmax"]]
    assert arch.loss == LOSSES["ce"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(sizes=st.lists(st.integers(1, 12), min_size=2, max_size=5),
       hidden=st.sampled_from(HIDDEN_ACTIVATIONS), out_act=st.sampled_from(OUTPUTS),
       n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_forward_matches_reference_on_random_shapes(sizes, hidden, out_act, n, seed):
    rng = np.random.default_rng(seed)
    arch, acts = make_arch(sizes, hidden, out_act, "mse")
    params = random_params(sizes, np.float64, rng, scale=2.0)
    X = rng.normal(0.0, 2.0, size=(n, sizes[0]))
    weights, biases = ref_layers(params, sizes)
    assert_matches(kernel_forward(arch, params, X),
                   reference.predict(weights, biases, acts, X), np.float64, str(sizes))
