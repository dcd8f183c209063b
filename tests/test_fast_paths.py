"""The performance paths against the reference: every compiled ISA variant, the
sparse first layer (CSR and automatic), lazy decay, and BLAS prediction."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import DTYPES, HIDDEN_ACTIVATIONS, MATCHED_PAIRS, assert_matches, flatten

from annfast import NeuralNet, _engine, _kernels, _params, _sparse, reference
from annfast.activations import ACTIVATIONS, LOSSES

ISAS = list(range(_kernels.CPU_ISA + 1))
ARCHS = {"shallow": [12, 5], "two": [30, 17, 6], "deep": [9, 20, 20, 20, 4], "wide": [64, 70, 3]}


def _problem(sizes, loss, dtype, rng, n=50, density=0.3):
    X = rng.random((n, sizes[0]))
    X[rng.random(X.shape) > density] = 0  # mostly zeros, like binarised pixels
    k = sizes[-1]
    if loss == "ce":
        Y = np.eye(k)[rng.integers(0, k, n)]
    elif loss == "bce":
        Y = (rng.random((n, k)) < 0.5).astype(float)
    else:
        Y = rng.normal(size=(n, k))
    return X.astype(dtype), Y.astype(dtype)


def _reference_epochs(params, sizes, acts, loss, X, Y, order, lr, mu):
    W, B = _params.views(params.astype(np.float64), sizes, "flat")
    W, B = [w.copy() for w in W], [b.copy() for b in B]
    reference.sgd_epoch(W, B, acts, loss, X.astype(np.float64), Y.astype(np.float64), order,
                        lr, mu)
    return flatten(W, B)


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_every_isa_and_path_matches_reference(isa, dtype, arch, hidden, sparse):
    rng = np.random.default_rng(7)
    sizes = ARCHS[arch]
    loss, out = MATCHED_PAIRS[len(hidden) % len(MATCHED_PAIRS)]
    acts = [hidden] * (len(sizes) - 2) + [out]
    kernel_arch = _kernels.Arch(sizes, [ACTIVATIONS[a] for a in acts], LOSSES[loss], isa=isa)
    X, Y = _problem(sizes, loss, dtype, rng)
    params = _params.init_params(sizes, "xavier", rng, dtype)
    order = np.concatenate([rng.permutation(len(X)), rng.permutation(len(X))])  # 2 epochs
    lr, mu = 0.05, 0.2  # a strong decay, so the lazy scale really moves
    expected = _reference_epochs(params, sizes, acts, loss, X, Y, order, lr, mu)
    got = params.copy()
    if sparse:
        data, indices, indptr = _sparse.csr_arrays(X, dtype)
        status, _, done = _kernels.train_sparse(kernel_arch, got, data, indices, indptr, Y,
                                                order, lr, mu)
    else:
        status, _, done, _ = _kernels.train(kernel_arch, got, np.empty(0, dtype), X, Y, order,
                                            1, "sgd", lr, mu)
    assert status == _kernels.OK and done == len(order)
    assert_matches(got, expected, dtype, f"{_kernels.isa_name(isa)} {arch} {hidden}")


def test_lazy_decay_survives_underflow_of_the_scale():
    """A decay of (1 - 0.5) per sample halves the scale each step: after ~100 steps it
    would underflow the 1e-30 floor many times over, so it must be folded on the way."""
    rng = np.random.default_rng(3)
    sizes = [6, 5, 2]
    arch = _kernels.Arch(sizes, [ACTIVATIONS["tanh"], ACTIVATIONS["identity"]], LOSSES["mse"])
    X, Y = _problem(sizes, "mse", np.float64, rng, n=40, density=1.0)
    params = _params.init_params(sizes, "xavier", rng, np.float64)
    order = np.tile(np.arange(40), 10)  # 400 steps: scale 0.5**400 without folding
    expected = _reference_epochs(params, sizes, ["tanh", "identity"], "mse", X, Y, order,
                                 0.1, 5.0)
    got = params.copy()
    _kernels.train(arch, got, np.empty(0), X, Y, order, 1, "sgd", 0.1, 5.0)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_sparse_and_dense_paths_agree_and_touch_only_nonzero_inputs():
    rng = np.random.default_rng(5)
    sizes = [40, 8, 3]
    arch = _kernels.Arch(sizes, [ACTIVATIONS["relu"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    X, Y = _problem(sizes, "ce", np.float64, rng, n=30)
    X[:, 7] = 0  # input 7 is never seen: without decay its weights must stay bitwise
    params = _params.init_params(sizes, "xavier", rng, np.float64)
    order = rng.permutation(30)
    dense, sparse = params.copy(), params.copy()
    _kernels.train(arch, dense, np.empty(0), X, Y, order, 1, "sgd", 0.1, 0.0)
    _kernels.train_sparse(arch, sparse, *_sparse.csr_arrays(X, np.float64), Y, order, 0.1, 0.0)
    np.testing.assert_allclose(sparse, dense, rtol=0, atol=1e-12)
    W0 = _params.views(sparse, sizes)[0][0]
    np.testing.assert_array_equal(W0[:, 7], _params.views(params, sizes)[0][0][:, 7])


def test_train_sparse_rejects_malformed_csr_without_crashing():
    sizes = [4, 3, 2]
    arch = _kernels.Arch(sizes, [1, 5], LOSSES["ce"])
    params = np.zeros(arch.n_params)
    Y = np.eye(2)[[0, 1]]
    order = np.arange(2)
    good = (np.ones(3), np.array([0, 1, 3], dtype=np.int64), np.array([0, 2, 3], dtype=np.int64))
    _kernels.train_sparse(arch, params.copy(), *good, Y, order)
    bad_calls = {
        "index out of range": (np.ones(3), np.array([0, 1, 4]), np.array([0, 2, 3])),
        "negative index": (np.ones(3), np.array([0, -1, 2]), np.array([0, 2, 3])),
        "indptr decreasing": (np.ones(3), np.array([0, 1, 2]), np.array([0, 3, 2])),
        "indptr past the end": (np.ones(3), np.array([0, 1, 2]), np.array([0, 2, 5])),
        "data/indices length": (np.ones(2), np.array([0, 1, 2]), np.array([0, 2, 3])),
        "rows vs Y": (np.ones(3), np.array([0, 1, 2]), np.array([0, 1, 2, 3])),
    }
    for what, (data, indices, indptr) in bad_calls.items():
        with pytest.raises((ValueError, IndexError)):
            _kernels.train_sparse(arch, params.copy(), data, indices.astype(np.int64),
                                  indptr.astype(np.int64), Y, order)
        assert what  # each case above raised
    with pytest.raises(IndexError):
        _kernels.train_sparse(arch, params.copy(), *good, Y, np.array([0, 2], dtype=np.int64))


def test_neuralnet_takes_the_sparse_path_automatically_and_accepts_scipy_csr():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(11)
    X = (rng.random((200, 50)) < 0.1).astype(float)
    assert np.count_nonzero(X) / X.size <= _sparse.SPARSE_DENSITY
    y = rng.integers(0, 4, 200)
    runs = []
    for data in (X, scipy_sparse.csr_matrix(X)):
        net = NeuralNet([50, 16, 4], seed=0)
        net.fit(data, y, epochs=2)
        runs.append(net._params.copy())
    np.testing.assert_array_equal(runs[0], runs[1])  # the same kernel either way
    # ... and the same math as the reference, epoch by epoch, in the same order.
    net = NeuralNet([50, 16, 4], seed=0)
    start = net._params.copy()
    order = np.random.default_rng(5).permutation(200)
    net._rng = np.random.default_rng(5)
    net.fit(X, y, epochs=1)
    expected = _reference_epochs(start, [50, 16, 4], ["relu", "softmax"], "ce", X,
                                 np.eye(4)[y], order, 0.05, 0.01 / 200)
    assert_matches(net._params, expected, np.float64, "NeuralNet sparse path")
    proba = net.predict_proba(scipy_sparse.csr_matrix(X))
    np.testing.assert_allclose(proba, net.predict_proba(X), rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("loss_out", MATCHED_PAIRS, ids=lambda p: "+".join(p))
def test_blas_prediction_matches_the_kernel(dtype, hidden, loss_out):
    rng = np.random.default_rng(2)
    sizes = [10, 12, 9, 3]
    acts = [hidden, hidden, loss_out[1]]
    params = _params.init_params(sizes, "xavier", rng, dtype)
    X = (rng.normal(size=(_engine.BLAS_MIN_BATCH + 5, 10)) * 3).astype(dtype)
    X[0, :] = 40  # saturating values
    out = np.empty((len(X), 3), dtype=dtype)
    network = _engine.Network(sizes, acts, loss_out[0], dtype)
    _kernels.forward(network.arch, params, X, out)
    got = np.empty_like(out)
    assert _engine._forward_blas(network, params, X, got)
    assert got.dtype == dtype
    assert_matches(got, out, dtype, "BLAS forward")


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [[10, 12, 9, 3], [37, 8, 5], [5, 4]])
def test_forward_gives_each_row_the_same_bits_alone_or_in_any_batch(dtype, sizes, isa):
    """The batch forward pass runs blocks of samples; a row's outputs must not
    depend on which block (or none) it fell in, nor on the others' values."""
    rng = np.random.default_rng(3)
    acts = ["relu"] * (len(sizes) - 2) + ["softmax"]
    arch = _kernels.Arch(sizes, [ACTIVATIONS[a] for a in acts], LOSSES["ce"],
                         isa=isa)
    params = _params.init_params(sizes, "xavier", rng, dtype)
    X = rng.normal(size=(11, sizes[0])).astype(dtype)
    whole = np.empty((11, sizes[-1]), dtype=dtype)
    assert _kernels.forward(arch, params, X, whole) is True
    for start in range(11):
        part = np.empty((11 - start, sizes[-1]), dtype=dtype)
        _kernels.forward(arch, params, np.ascontiguousarray(X[start:]), part)
        np.testing.assert_array_equal(part, whole[start:])
    # The training forward pass (one sample at a time) agrees too.
    weights, biases = _params.views(params.astype(np.float64), sizes, "flat")
    ref = reference.predict(weights, biases, acts, X.astype(np.float64))
    assert_matches(whole, ref, dtype, "blocked forward")


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_forward_reports_non_finite_first_layer_sums(bad, isa):
    arch = _kernels.Arch([7, 5, 2], [ACTIVATIONS["relu"], ACTIVATIONS["softmax"]],
                         LOSSES["ce"], isa=isa)
    params = _params.init_params([7, 5, 2], "xavier", np.random.default_rng(0), np.float64)
    for n in (1, 4, 9):
        X = np.ones((n, 7))
        out = np.empty((n, 2))
        assert _kernels.forward(arch, params, X, out) is True
        X[n - 1, 6] = bad
        assert _kernels.forward(arch, params, X, out) is False


@pytest.mark.parametrize("value", ["baseline", "AVX2", "bogus", "avx512"])
def test_annfast_simd_environment_variable_forces_or_caps_the_level(value):
    code = "from annfast import _kernels as k; print(k.DEFAULT_ISA, k.CPU_ISA)"
    env = dict(os.environ, ANNFAST_SIMD=value)
    res = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env,
                         capture_output=True, text=True, check=True)
    default, cpu = map(int, res.stdout.split())
    wanted = _kernels.ISA_NAMES.get(value.lower())
    if wanted is None or wanted > cpu:
        assert default == cpu and "ANNFAST_SIMD" in res.stderr
    else:
        assert default == wanted


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size, n", [(4, 4), (32, 5), (8, 21), (200, 37)])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_gemm_batches_match_per_sample_accumulation(dtype, batch_size, n, optimizer):
    """The BLAS batch path (batch_size >= GEMM_MIN_BATCH) against the reference's
    per-sample gradients averaged over each batch, including batches larger than
    the data (the scratch is sized for the largest batch the call can hold)."""
    assert batch_size >= _kernels.GEMM_MIN_BATCH
    rng = np.random.default_rng(batch_size + n)
    sizes = [7, 9, 6, 3]
    acts = ["tanh", "relu", "softmax"]
    arch = _kernels.Arch(sizes, [ACTIVATIONS[a] for a in acts], LOSSES["ce"])
    X, Y = _problem(sizes, "ce", dtype, rng, n=n, density=1.0)
    params = _params.init_params(sizes, "xavier", rng, dtype)
    order = rng.permutation(n)
    got, state = params.copy(), np.zeros(2 * params.size, dtype)
    status, loss, done, t = _kernels.train(arch, got, state, X, Y, order, batch_size,
                                           optimizer, 0.1, l2=0.01)
    assert status == _kernels.OK and done == n
    p = params.astype(np.float64)
    m, v = np.zeros_like(p), np.zeros_like(p)
    is_weight = np.zeros(p.size, dtype=bool)
    for w0, b0, _, _, _ in _params.layer_offsets(sizes):
        is_weight[w0:b0] = True
    for step, start in enumerate(range(0, n, batch_size), 1):
        batch = order[start:start + batch_size]
        W, B = _params.views(p, sizes, "flat")
        grads = [flatten(*reference.backprop(W, B, acts, "ce", X[i].astype(float),
                                             Y[i].astype(float))[:2]) for i in batch]
        g = (np.sum(grads, axis=0) + np.where(is_weight, 0.01 * p, 0)) / len(batch)
        if optimizer == "sgd":
            p = p - 0.1 * g
        else:
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            lr_t = 0.1 * np.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
            p = p - lr_t * m / (np.sqrt(v) + 1e-8)
    assert t == (step if optimizer == "adam" else 0)
    assert_matches(got, p, dtype, f"GEMM {optimizer} batch {batch_size}")


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 7, 8, 9, 16, 17, 30, 784])
def test_csr_from_dense_matches_numpy_and_gives_up_on_dense_data(dtype, d, isa):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(25, d)).astype(dtype)
    X[rng.random(X.shape) < 0.8] = 0
    X[3] = 0          # an empty row
    X[4, :d // 2] = -0.0  # negative zeros are zeros
    X[5] = rng.normal(size=d)  # a full row
    data, indices, indptr, all_finite = _kernels.csr_from_dense(X, isa=isa)
    assert all_finite
    rows, cols = np.nonzero(X)
    np.testing.assert_array_equal(indices, cols)
    np.testing.assert_array_equal(data, X[rows, cols])
    np.testing.assert_array_equal(indptr, np.searchsorted(rows, np.arange(26)))
    assert data.dtype == dtype and indices.dtype == indptr.dtype == np.int64
    assert data.flags.c_contiguous and indices.flags.c_contiguous
    density = np.count_nonzero(X) / X.size
    assert _kernels.csr_from_dense(X, density, isa=isa) is not None
    # Gives up after the first row that crosses the limit.
    assert _kernels.csr_from_dense(X, density / 2 - 1e-9, isa=isa) is None
    assert _kernels.csr_from_dense(X, 0.0, isa=isa) is None
    assert _sparse.sparse_rows(X + 1, dtype) is None  # dense: the dense path is taken


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("dtype", DTYPES)
def test_csr_from_dense_on_random_shapes_and_limits(dtype, isa):
    """None exactly when the non-zeros exceed the limit, else the exact CSR arrays;
    under the sanitizer build this also proves every write stays in bounds."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        n, d = rng.integers(0, 40), rng.integers(0, 40)
        X = np.where(rng.random((n, d)) < rng.random(), rng.normal(size=(n, d)), 0.0)
        X = X.astype(dtype)
        max_density = float(rng.choice([0.0, 0.05, 0.25, 0.5, 1.0, rng.random()]))
        got = _kernels.csr_from_dense(X, max_density, isa=isa)
        if np.count_nonzero(X) > int(max_density * X.size):
            assert got is None
            continue
        data, indices, indptr, all_finite = got
        rows, cols = np.nonzero(X)
        np.testing.assert_array_equal(indices, cols)
        np.testing.assert_array_equal(data, X[rows, cols])
        np.testing.assert_array_equal(indptr, np.searchsorted(rows, np.arange(n + 1)))
        assert all_finite


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
def test_csr_from_dense_judges_the_whole_array_not_its_first_rows(isa):
    """Dense first rows only make it count before writing; the answer is exact."""
    X = np.zeros((64, 10))
    X[:4] = 1.0  # the first sixteenth is full, the whole is 6% non-zero
    data, indices, indptr, _ = _kernels.csr_from_dense(X, 0.25, isa=isa)
    assert data.size == 40 and indptr[-1] == 40
    X[4:16] = 1.0  # now 25% non-zero exactly: still at most max_density
    assert _kernels.csr_from_dense(X, 0.25, isa=isa)[0].size == 160
    X[16, 0] = 1.0
    assert _kernels.csr_from_dense(X, 0.25, isa=isa) is None


@pytest.mark.parametrize("isa", ISAS, ids=[_kernels.isa_name(i) for i in ISAS])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_csr_from_dense_reports_non_finite_values_wherever_they_are(dtype, bad, isa):
    rng = np.random.default_rng(1)
    for d in (3, 8, 16, 37):
        for where in [(0, 0), (2, d - 1), (4, d // 2)]:
            X = rng.normal(size=(5, d)).astype(dtype)
            X[rng.random(X.shape) < 0.7] = 0
            X[where] = bad
            data, indices, indptr, all_finite = _kernels.csr_from_dense(X, isa=isa)
            assert not all_finite, (d, where)
            row = slice(indptr[where[0]], indptr[where[0] + 1])
            np.testing.assert_array_equal(data[row][indices[row] == where[1]], [bad])
    X = np.zeros((40, 37), dtype=dtype)
    X[7, 30] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        _sparse.sparse_rows(X, dtype)


def test_csr_from_dense_of_empty_arrays():
    for shape in [(0, 5), (4, 0), (0, 0)]:
        data, indices, indptr, all_finite = _kernels.csr_from_dense(np.zeros(shape))
        assert data.size == indices.size == 0 and all_finite
        np.testing.assert_array_equal(indptr, np.zeros(shape[0] + 1))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n", [3, _engine.BLAS_MIN_BATCH + 10])
@pytest.mark.parametrize("blas", [False, True], ids=["kernel", "blas"])
def test_prediction_refuses_non_finite_inputs_on_both_paths(bad, n, blas, monkeypatch):
    """Both paths check X through its first-layer sums; make them as forgiving
    as possible (zero weights: inf * 0 is NaN, relu would clip -inf)."""
    monkeypatch.setattr(_engine, "use_blas", lambda *_: blas)
    net = NeuralNet([6, 4, 3], seed=0)
    net.weights[0][:, 2] = 0.0
    X = np.random.default_rng(0).random((n, 6))
    X[n - 1, 2] = bad
    before = net._params.tobytes()
    with pytest.raises(ValueError, match="X contains"):
        net.predict_proba(X)
    with pytest.raises(ValueError, match="X contains"):
        net.predict(X)
    assert net._params.tobytes() == before
    X[n - 1, 2] = 1e300  # finite but huge: products overflow, which is not an input error
    assert net.predict_proba(X).shape == (n, 3)
