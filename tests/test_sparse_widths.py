"""The sparse first layer at the hidden widths it specialises (1, 2, 4 or 8 SIMD
vectors: 4 to 128 units, depending on the instruction set and dtype) and at
widths around them, against the reference, at every compiled instruction set;
with rows of every non-zero count modulo the eight sums the kernel keeps in
flight, empty rows included."""

import numpy as np
import pytest
from conftest import DTYPES, assert_matches, flatten

from annfast import NeuralNet, _kernels, _params, _sparse, reference
from annfast.activations import ACTIVATIONS, LOSSES

ISAS = list(range(_kernels.CPU_ISA + 1))
WIDTHS = (1, 2, 3, 4, 8, 16, 24, 32, 48, 64, 128)


def _problem(n_in, k, dtype, rng, n=24):
    X = np.zeros((n, n_in))
    for i in range(n):  # row i holds i % 10 non-zeros (0 to 9), one row all non-zero
        nnz = n_in if i == n - 1 else i % 10
        X[i, rng.choice(n_in, nnz, replace=False)] = rng.uniform(-1, 1, nnz)
    X[3, :3] = 1  # binarised-style ones among the rest
    Y = np.eye(k)[rng.integers(0, k, n)]
    return X.astype(dtype), Y.astype(dtype)


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("depth", [2, 3])
def test_sparse_width_matches_reference(isa, dtype, width, depth):
    rng = np.random.default_rng(width * 10 + depth)
    sizes = [20, width, 5] if depth == 2 else [20, width, 6, 5]
    acts = ["relu"] * (depth - 1) + ["softmax"]
    arch = _kernels.Arch(sizes, [ACTIVATIONS[a] for a in acts], LOSSES["ce"], isa=isa)
    X, Y = _problem(sizes[0], sizes[-1], dtype, rng)
    params = _params.init_params(sizes, "xavier", rng, dtype)
    order = np.concatenate([rng.permutation(len(X)), rng.permutation(len(X))])
    lr, mu = 0.05, 0.2  # a strong decay: the lazy scale moves
    W, B = _params.views(params.astype(np.float64), sizes, "flat")
    W, B = [w.copy() for w in W], [b.copy() for b in B]
    reference.sgd_epoch(W, B, acts, "ce", X.astype(np.float64), Y.astype(np.float64), order,
                        lr, mu)
    got = params.copy()
    status, _, done = _kernels.train_sparse(arch, got, *_sparse.csr_arrays(X, dtype), Y, order,
                                            lr, mu)
    assert status == _kernels.OK and done == len(order)
    assert_matches(got, flatten(W, B), dtype, f"{_kernels.isa_name(isa)} width {width}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_same_bits_at_a_specialised_width(dtype):
    rng = np.random.default_rng(0)
    X = (rng.random((200, 64)) < 0.15).astype(dtype)
    y = rng.integers(0, 10, 200)
    runs = []
    for _ in range(2):
        net = NeuralNet([64, 32, 10], 0.05, 0.01, dtype=dtype, seed=3)
        net.fit(X, y, epochs=3)
        runs.append(np.concatenate([w.ravel() for w in net.weights + net.biases]))
    np.testing.assert_array_equal(runs[0], runs[1])
