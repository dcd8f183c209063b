"""The tutorial's list of (x, y) pairs read straight into CSR (one compiled pass):
the same arrays, and the same training bits, as stacking the rows first; every
row the pass does not take goes the general way, with the same errors."""

import numpy as np
import pytest

from annfast import NeuralNet, _engine, _kernels, _sparse

SOURCE_DTYPES = (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                 np.int64, np.uint64, np.float32, np.float64)


def _rows(rng, n=40, d=30, density=0.2, dtype=np.int64):
    X = (rng.random((n, d)) < density) * rng.integers(1, 100, (n, d))
    if np.dtype(dtype).kind == "f":
        X = X * rng.uniform(-2, 2, (n, d))
    return X.astype(dtype)


@pytest.mark.parametrize("out", [np.float32, np.float64])
@pytest.mark.parametrize("source", SOURCE_DTYPES)
@pytest.mark.parametrize("column", [False, True], ids=["(d,)", "(d,1)"])
def test_vectors_give_the_csr_of_the_stacked_rows(out, source, column):
    rng = np.random.default_rng(1)
    X = _rows(rng, dtype=source)
    X[5] = 0  # an empty row
    xs = tuple(x.reshape(-1, 1) if column else x.copy() for x in X)
    got = _kernels.csr_from_vectors(xs, X.shape[1], 0.5, out)
    assert got is not None
    expected = _sparse.csr_arrays(X.astype(out), out)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def test_bool_bytes_other_than_one_are_true():
    x = np.zeros(8, dtype=np.uint8)
    x[[1, 4]] = [1, 7]
    got = _kernels.csr_from_vectors((x.view(np.bool_),), 8, 1.0, np.float64)
    np.testing.assert_array_equal(got[0], [1.0, 1.0])
    np.testing.assert_array_equal(got[1], [1, 4])


@pytest.mark.parametrize("make", [
    lambda X: tuple(np.ones_like(X)),  # 100% non-zero
    lambda X: tuple(list(x) for x in X),  # lists, not arrays
    lambda X: tuple(np.asfortranarray(X)),  # strided rows
    lambda X: tuple(x.astype(np.float32) if i else x for i, x in enumerate(X)),  # mixed
    lambda X: tuple(x.astype(">f8") for x in X),  # byte-swapped
    lambda X: tuple(x.astype(np.float16) for x in X),  # a dtype not read here
    lambda X: tuple(x[:-1] for x in X),  # wrong length
    lambda X: tuple(np.where(np.arange(len(x)) == 3, np.nan, x) for x in X),  # NaN
    lambda X: tuple(x * 1e300 for x in X.astype(float)),  # finite in float64, not float32
], ids=["dense", "lists", "strided", "mixed", "swapped", "float16", "length", "nan", "big"])
def test_rows_the_pass_does_not_take_give_none(make):
    X = _rows(np.random.default_rng(2))
    assert _kernels.csr_from_vectors(make(X), X.shape[1], 0.5, np.float32) is None


def test_a_list_denser_than_the_limit_is_refused():
    X = np.ones((64, 10), dtype=np.int64)
    assert _kernels.csr_from_vectors(tuple(X), 10, 0.25, np.float64) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("source", [np.int64, np.bool_, np.float64])
def test_train_on_pairs_gives_the_bits_of_fit_on_the_stacked_arrays(dtype, source):
    rng = np.random.default_rng(3)
    X = (_rows(rng, n=120, d=50, density=0.15) != 0).astype(source)  # binarised, as the tutorial
    labels = rng.integers(0, 4, len(X))
    pairs = [(x, np.eye(4)[k].reshape(4, 1)) for x, k in zip(X, labels)]
    inputs = _engine.inputs_from_vectors(tuple(X), dtype, 50, "x")
    assert inputs is not None and inputs.dense is None  # the pass was taken
    a = NeuralNet([50, 8, 4], 0.05, 0.01, dtype=dtype, seed=5)
    a.train(pairs, epochs=3, verbose=False)
    b = NeuralNet([50, 8, 4], 0.05, 0.01, dtype=dtype, seed=5)
    b.fit(X.astype(np.float64), labels, epochs=3)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)
    assert a.test(pairs) == b.test(pairs)


def test_pairs_with_bad_inputs_keep_their_errors():
    rng = np.random.default_rng(4)
    X = _rows(rng, n=20, d=12)
    y = np.eye(3)[rng.integers(0, 3, 20)].reshape(20, 3, 1)
    net = NeuralNet([12, 5, 3], seed=0)
    bad = [(x.astype(float), t) for x, t in zip(X, y)]
    bad[7][0][2] = np.nan
    with pytest.raises(ValueError, match="training_data inputs contains NaN"):
        net.train(bad, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="11 features per sample, but the model takes 12"):
        net.train([(x[:-1], t) for x, t in zip(X, y)], epochs=1, verbose=False)
    with pytest.raises(ValueError, match="do not all have the same length"):
        net.train([(x[:11] if i == 3 else x, t) for i, (x, t) in enumerate(zip(X, y))],
                  epochs=1, verbose=False)
    with pytest.raises(TypeError, match="complex"):
        net.train([(x.astype(complex), t) for x, t in zip(X, y)], epochs=1, verbose=False)
