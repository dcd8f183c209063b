"""Micro-benchmarks of each compiled kernel for small, medium and large layers.

Each benchmark times one call of one kernel on ``BATCH`` rows (see conftest):
forward, activation + its derivative (the ``py_`` test helpers, one vector),
backprop (``gradient``: forward, backward and the summed gradient) and the
per-sample update (``train`` with batch_size=1: forward, backward and the fused
SGD + L2 step for each row); and, on the tutorial's binarised MNIST images, the
sparse path's conversion to CSR and one epoch of its kernel.  Grouped by kernel
so that ``--benchmark-compare`` lines up the same kernel across runs.
"""

import numpy as np
import pytest

from annfast import _kernels, _params
from annfast.activations import ACTIVATIONS, LOSSES
from benchmarks.conftest import BATCH

pytestmark = pytest.mark.benchmark(max_time=0.5)


@pytest.mark.benchmark(group="forward")
def test_forward(benchmark, one_layer):
    d = one_layer
    benchmark(_kernels.forward, d["arch"], d["params"], d["X"], d["out"])
    assert np.isfinite(d["out"]).all()


@pytest.mark.benchmark(group="activation+derivative")
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "softmax"])
def test_activation_and_derivative(benchmark, act, layer, dtype):
    n = layer[1]
    z = np.random.default_rng(0).normal(size=n).astype(dtype)
    g = np.ones(n, dtype=dtype)
    code = ACTIVATIONS[act]

    def both():
        a = _kernels.py_activate(code, z)
        return _kernels.py_act_backward(code, a, g)

    d = benchmark(both)
    assert d.shape == (n,)


@pytest.mark.benchmark(group="backprop (gradient)")
def test_backprop(benchmark, one_layer):
    d = one_layer
    grad, loss = benchmark(_kernels.gradient, d["arch"], d["params"], d["X"], d["Y"])
    assert grad.shape == d["params"].shape and np.isfinite(loss)


@pytest.mark.benchmark(group="update (train, batch_size=1)")
def test_update(benchmark, one_layer):
    d = one_layer
    # A tiny step keeps the weights bounded however many rounds the calibration runs.
    status, loss, done, _ = benchmark(_kernels.train, d["arch"], d["params"], d["state"],
                                      d["X"], d["Y"], d["order"], 1, "sgd", 1e-6, 1e-4)
    assert status == _kernels.OK and done == BATCH


@pytest.fixture(scope="module")
def binarised():
    """The tutorial's 3,500 binarised training images and one-hot targets."""
    from benchmarks.workloads import mnist_task

    task = mnist_task(True)
    return task.X, task.Y


@pytest.mark.benchmark(group="sparse inputs: dense rows to CSR (3,500 binarised images)")
def test_csr_from_dense(benchmark, binarised, dtype):
    from annfast import _sparse

    X = np.ascontiguousarray(binarised[0], dtype=dtype)
    data, indices, indptr, all_finite = benchmark(_kernels.csr_from_dense, X,
                                                  _sparse.SPARSE_DENSITY)
    assert all_finite and indptr[-1] == np.count_nonzero(X)


@pytest.mark.benchmark(group="sparse inputs: one epoch of [784, 32, 10] (3,500 binarised)")
def test_train_sparse_epoch(benchmark, binarised, dtype):
    X, Y = (np.ascontiguousarray(a, dtype=dtype) for a in binarised)
    sizes = [784, 32, 10]
    arch = _kernels.Arch(sizes, [ACTIVATIONS["relu"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = _params.init_params(sizes, "xavier", np.random.default_rng(0), dtype)
    data, indices, indptr, _ = _kernels.csr_from_dense(X)
    order = np.random.default_rng(1).permutation(len(X))
    # The tutorial's step and decay: the weights stay bounded over any number of rounds.
    status, loss, done = benchmark(_kernels.train_sparse, arch, params, data, indices, indptr,
                                   Y, order, 0.05, 0.01 / len(X))
    assert status == _kernels.OK and done == len(X)


@pytest.mark.benchmark(group="prediction: 10,000 dense MNIST rows through [784, 32, 10]")
@pytest.mark.parametrize("path", ["kernel", "numpy-matmul"])
def test_prediction(benchmark, dtype, path):
    """The compiled forward pass against the NumPy forward pass through BLAS
    (what annfast's prediction takes below AVX-512; force a level with
    ANNFAST_SIMD to compare them there)."""
    from benchmarks.workloads import mnist_splits

    (X, _), (Xh, _) = mnist_splits(False)
    X = np.ascontiguousarray(np.concatenate([X, Xh, X, Xh])[:10_000], dtype=dtype)
    sizes = [784, 32, 10]
    arch = _kernels.Arch(sizes, [ACTIVATIONS["relu"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = _params.init_params(sizes, "xavier", np.random.default_rng(0), dtype)
    if path == "kernel":
        out = np.empty((len(X), 10), dtype=dtype)
        assert benchmark(_kernels.forward, arch, params, X, out) is True
    else:
        from annfast import _engine

        network = _engine.Network(sizes, ["relu", "softmax"], "ce", dtype)
        out = np.empty((len(X), 10), dtype=dtype)
        benchmark(_engine._forward_blas, network, params, X, out)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
