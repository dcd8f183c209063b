"""scipy.sparse inputs of every format, valid and hand-broken, through every front end.

scipy's compiled conversions trust each format's index structures, so a
hand-edited lil row, dok key, dia offset or bsr/csr/coo index used to crash
the interpreter (or train on uninitialised memory) as soon as a front end
converted the matrix.  ``annfast._sparse.as_csr`` now checks every format's
structures in NumPy first.  The broken cases run in one child process that
announces each case before running it, so a crash names its case instead of
taking pytest down.
"""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sp = pytest.importorskip("scipy.sparse")

from annfast import NeuralNet  # noqa: E402
from annfast._sparse import as_csr  # noqa: E402
from annfast._validation import check_sparse  # noqa: E402

FORMATS = ("csr", "csc", "coo", "lil", "dok", "dia", "bsr")

# Each broken matrix is built by code run in the child: (name, code, exception, fragment).
# E is the valid 4x3 starting point, np.eye(4, 3).
BROKEN = [
    ("lil-row-huge", "X = sp.lil_matrix(E); X.rows[0] = [10**9]; X.data[0] = [1.0]",
     "ValueError", "outside [0, 3)"),
    ("lil-row-negative", "X = sp.lil_matrix(E); X.rows[0] = [-1]; X.data[0] = [1.0]",
     "ValueError", "holds -1, outside [0, 3)"),
    ("lil-row-longer-than-data", "X = sp.lil_matrix(E); X.rows[0] = [0, 1, 2]",
     "ValueError", "row 0 lists 3 column indices but 1 values"),
    ("lil-row-float-index", "X = sp.lil_matrix(E); X.rows[1] = [0.5]",
     "ValueError", "is not an integer"),
    ("lil-row-beyond-int64", "X = sp.lil_matrix(E); X.rows[1] = [2**70]",
     "ValueError", "64 bits"),
    ("lil-rows-not-list", "X = sp.lil_matrix(E); X.rows[2] = 7", "ValueError",
     "must be lists"),
    ("lil-value-nan", "X = sp.lil_matrix(E); X.data[0] = [float('nan')]", "ValueError",
     "contains NaN"),
    ("lil-value-text", "X = sp.lil_matrix(E); X.data[0] = ['a']", "TypeError",
     "must hold real numbers"),
    ("lil-array-row-huge", "X = sp.lil_array(E); X.rows[3] = [10**9]; X.data[3] = [1.0]",
     "ValueError", "outside [0, 3)"),
    ("dok-key-huge", "X = sp.dok_matrix(E); X._dict[(0, 10**9)] = 1.0", "ValueError",
     "a column in the keys holds 1000000000"),
    ("dok-key-negative", "X = sp.dok_matrix(E); X._dict[(-1, 0)] = 1.0", "ValueError",
     "a row in the keys holds -1"),
    ("dok-key-float", "X = sp.dok_matrix(E); X._dict[(0.5, 0)] = 1.0", "ValueError",
     "is not an integer"),
    ("dok-key-not-pair", "X = sp.dok_array(E); X._dict[3] = 1.0", "ValueError",
     "not a (row, column) pair"),
    ("dok-value-inf", "X = sp.dok_matrix(E); X[1, 1] = np.inf", "ValueError",
     "infinity"),
    ("dia-offset-huge", "X = sp.dia_matrix(E); X.offsets[0] = 10**9", "ValueError",
     "offset 1000000000 lies outside"),
    ("dia-offsets-short", "X = sp.dia_matrix(E); X.offsets = np.array([0, 1])",
     "ValueError", "1 diagonals but offsets lists 2"),
    ("bsr-index-huge", "X = sp.bsr_matrix(E, blocksize=(2, 1)); X.indices[0] = 10**9",
     "ValueError", "outside [0, 3)"),
    ("bsr-indptr-overrun", "X = sp.bsr_matrix(E, blocksize=(2, 1)); X.indptr[-1] = 10**6",
     "ValueError", "indptr ends at 1000000"),
    ("coo-col-huge", "X = sp.coo_matrix(E); X.col[0] = 10**9", "ValueError",
     "col holds 1000000000"),
    ("coo-row-negative", "X = sp.coo_array(E); X.coords[0][0] = -1", "ValueError",
     "row holds -1"),
    ("coo-lengths-differ", "X = sp.coo_matrix(E); X.row = X.row[:2]", "ValueError",
     "different lengths"),
    ("csr-indptr-overrun", "X = sp.csr_matrix(E); X.indptr[1] = 10**6", "ValueError",
     "indptr"),
    ("csr-index-negative", "X = sp.csr_array(E); X.indices[0] = -1", "ValueError",
     "holds -1"),
    ("csr-indices-ragged", "X = sp.csr_matrix(E); X.indices = [[0], [1, 2], [0]]",
     "ValueError", "is not a valid sparse matrix (csr)"),
    ("lil-rows-missing", "X = sp.lil_matrix(E); del X.rows", "ValueError",
     "is not a valid sparse matrix (lil)"),
    ("csc-index-huge", "X = sp.csc_matrix(E); X.indices[0] = 10**9", "ValueError",
     "outside [0, 4)"),
    ("complex-dtype", "X = sp.lil_matrix(E.astype(complex))", "TypeError", "complex"),
    ("coo-3d", "X = sp.coo_array(np.ones((4, 3, 2)))", "ValueError", "must be a 2-D matrix"),
    ("coo-1d", "X = sp.coo_array(np.ones(3))", "ValueError", "must be a 2-D matrix"),
]

# Each front end: (name, code that makes `model` (fitted or not), code calling it on X).
FRONT_ENDS = [
    ("NeuralNet.fit", "model = NeuralNet([3, 4, 2], seed=0)",
     "model.fit(X, [0, 1, 0, 1], epochs=1)"),
    ("NeuralNet.predict", "model = fitted_net()", "model.predict(X)"),
    ("MLPClassifier.fit", "model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, "
     "random_state=0)", "model.fit(X, [0, 1, 0, 1])"),
    ("MLPClassifier.predict", "model = fitted_est(MLPClassifier, [0, 1, 0, 1])",
     "model.predict(X)"),
    ("MLPRegressor.fit", "model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, "
     "random_state=0)", "model.fit(X, [0.0, 1.0, 2.0, 3.0])"),
    ("MLPRegressor.predict", "model = fitted_est(MLPRegressor, [0.0, 1.0, 2.0, 3.0])",
     "model.predict(X)"),
    ("Sequential.fit", "model = keras_model()", "model.fit(X, np.zeros((4, 2)), verbose=0)"),
    ("Sequential.predict", "model = keras_model()", "model.predict(X, verbose=0)"),
]

CHILD = r'''
import json, pickle, sys, warnings
import numpy as np, scipy.sparse as sp
warnings.simplefilter("ignore")
from annfast import NeuralNet, keras
from annfast.sklearn import MLPClassifier, MLPRegressor

E = np.eye(4, 3)
D = np.random.default_rng(0).normal(size=(8, 3))

def fitted_net():
    net = NeuralNet([3, 4, 2], seed=0)
    net.fit(D, np.arange(8) % 2, epochs=1)
    return net

def fitted_est(cls, y):
    est = cls(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    return est.fit(D[:4], y)

def keras_model():
    m = keras.Sequential()
    m.add(keras.layers.Dense(2, input_dim=3))
    m.compile(loss="mse", optimizer="adam")
    m.fit(D, np.zeros((8, 2)), epochs=1, verbose=0)
    return m

def state(model):
    return pickle.dumps(model)

for name, build, front, make, call in json.loads(sys.argv[1]):
    print("START", name, front, flush=True)
    exec(make)
    before = state(model)
    exec(build)
    try:
        exec(call)
        outcome = {"raised": None}
    except Exception as exc:
        outcome = {"raised": type(exc).__name__, "message": str(exc)}
    outcome["unchanged"] = state(model) == before
    print("RESULT", json.dumps([name, front, outcome]), flush=True)
print("DONE", flush=True)
'''


def _run_child(jobs):
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(jobs)],
                          capture_output=True, text=True, timeout=600)
    results, started = {}, None
    for line in proc.stdout.splitlines():
        if line.startswith("START "):
            started = line[6:]
        elif line.startswith("RESULT "):
            name, front, outcome = json.loads(line[7:])
            results[name, front] = outcome
    return proc, results, started


@pytest.fixture(scope="module")
def broken_results():
    jobs = [[name, build, front, make, call]
            for name, build, _, _ in BROKEN for front, make, call in FRONT_ENDS]
    proc, results, started = _run_child(jobs)
    if proc.returncode != 0 or "DONE" not in proc.stdout:
        pytest.fail(f"the child process died (return code {proc.returncode}) during "
                    f"{started}:\n{proc.stderr[-2000:]}")
    return results


@pytest.mark.parametrize("front", [f[0] for f in FRONT_ENDS])
@pytest.mark.parametrize("name, build, exc, fragment", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_sparse_matrix_is_refused_by_every_front_end(broken_results, name, build, exc,
                                                            fragment, front):
    outcome = broken_results[name, front]
    assert outcome["raised"] == exc, outcome
    assert fragment in outcome["message"], outcome["message"]
    assert " X " in f" {outcome['message']}" or "x " in outcome["message"], \
        "the message names the argument"
    assert outcome["unchanged"], "the model changed before the error"


# -- valid matrices: every format is the same data ----------------------------------------


def sample(fmt, array=False, dtype=np.float64):
    rng = np.random.default_rng(1)
    dense = np.where(rng.random((12, 6)) < 0.3, rng.normal(size=(12, 6)), 0.0).astype(dtype)
    make = getattr(sp, f"{fmt}_array" if array else f"{fmt}_matrix")
    kwargs = {"blocksize": (2, 3)} if fmt == "bsr" else {}
    return dense, make(dense, **kwargs)


@pytest.mark.parametrize("array", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_as_csr_is_canonical_csr_of_the_same_values(fmt, array):
    dense, X = sample(fmt, array)
    data, indices, indptr = as_csr(X, np.float64)
    assert data.dtype == np.float64 and indices.dtype == indptr.dtype == np.int64
    assert all(a.flags.c_contiguous for a in (data, indices, indptr))
    rebuilt = sp.csr_matrix((data, indices, indptr), shape=dense.shape)
    np.testing.assert_array_equal(rebuilt.toarray(), dense)
    for row in range(dense.shape[0]):  # sorted, so no duplicates either
        assert (np.diff(indices[indptr[row]:indptr[row + 1]]) > 0).all()
    data32, _, _ = as_csr(X, np.float32)
    assert data32.dtype == np.float32


@settings(max_examples=60, deadline=None)
@given(n_rows=st.integers(1, 9), n_cols=st.integers(1, 9), nnz=st.integers(0, 40),
       fmt=st.sampled_from(FORMATS + ("raw-csr",)), seed=st.integers(0, 2**32 - 1))
def test_as_csr_agrees_with_scipys_canonical_form(n_rows, n_cols, nnz, fmt, seed):
    # Random triplets with duplicates and explicit zeros, in every format; scipy's
    # canonical CSR (duplicates summed, zeros eliminated, sorted) is the reference.
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, n_rows, nnz), rng.integers(0, n_cols, nnz)
    vals = rng.choice([0.0, 1.0, -2.5, 3.25], nnz)
    if fmt == "raw-csr":  # rows in order, columns unsorted and repeated: as a user may build
        order = np.argsort(rows, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
        X = sp.csr_matrix((vals[order], cols[order], indptr), shape=(n_rows, n_cols))
    else:
        X = sp.coo_matrix((vals, (rows, cols)), shape=(n_rows, n_cols)).asformat(fmt)
    ref = X.tocsr(copy=True)
    ref.sum_duplicates()
    ref.eliminate_zeros()
    ref.sort_indices()
    data, indices, indptr = as_csr(X, np.float64)
    assert indices.tolist() == ref.indices.tolist() and indptr.tolist() == ref.indptr.tolist()
    np.testing.assert_array_equal(data, ref.data)  # sums of these values are exact


def test_duplicates_are_summed_and_unsorted_indices_sorted():
    X = sp.coo_matrix((np.array([1.0, 2.0, 4.0, 8.0]),
                       (np.array([1, 0, 1, 1]), np.array([2, 0, 0, 2]))), shape=(2, 3))
    data, indices, indptr = as_csr(X, np.float64)
    assert data.tolist() == [2.0, 4.0, 9.0]
    assert indices.tolist() == [0, 0, 2] and indptr.tolist() == [0, 1, 3]
    lil = sp.lil_matrix((2, 3))
    lil.rows[0], lil.data[0] = [2, 0, 2], [1.0, 2.0, 3.0]
    data, indices, indptr = as_csr(lil, np.float64)
    assert data.tolist() == [2.0, 4.0] and indices.tolist() == [0, 2]


def test_stored_zeros_are_dropped():
    X = sp.csr_matrix((np.array([0.0, 1.0, -1.0, 1.0, 3.0, 5.0, 0.0, 7.0]),
                       np.array([0, 1, 1, 2, 0, 1, 2, 0]),
                       np.array([0, 0, 4, 4, 7, 8])), shape=(5, 3))
    data, indices, indptr = as_csr(X, np.float64)
    assert data.tolist() == [1.0, 3.0, 5.0, 7.0] and indices.tolist() == [2, 0, 1, 0]
    assert indptr.tolist() == [0, 0, 1, 1, 3, 4]


def test_unsorted_csr_is_sorted_and_the_callers_matrix_is_untouched():
    X = sp.csr_matrix((np.array([1.0, 2.0]), np.array([2, 0]), np.array([0, 2])), shape=(1, 3))
    before = (X.data.copy(), X.indices.copy())
    data, indices, _ = as_csr(X, np.float64)
    assert indices.tolist() == [0, 2] and data.tolist() == [2.0, 1.0]
    assert (X.data == before[0]).all() and (X.indices == before[1]).all()
    data[0] = 99  # the result is a fresh copy
    assert X.data.tolist() == [1.0, 2.0]


def test_duplicates_that_sum_beyond_the_dtype_are_refused():
    X = sp.coo_matrix((np.array([3e38, 3e38]), (np.array([0, 0]), np.array([0, 0]))),
                      shape=(1, 1))
    with pytest.raises(ValueError, match="too large for float32"):
        as_csr(X, np.float32)


def test_integer_and_boolean_matrices_become_floats():
    X = sp.csr_matrix(np.array([[0, 3], [True, 0]], dtype=np.int64))
    assert check_sparse(X, "X").dtype == np.float64
    B = sp.coo_matrix((np.array([True, True]), (np.array([0, 0]), np.array([1, 1]))),
                      shape=(1, 2))
    assert as_csr(B, np.float64)[0].tolist() == [2.0]  # summed, not OR-ed


def test_empty_and_unknown_are_refused():
    with pytest.raises(ValueError, match="non-empty 2-D"):
        as_csr(sp.csr_matrix((0, 3)), np.float64, "Z")
    with pytest.raises(TypeError, match="complex"):
        as_csr(sp.csr_matrix(np.array([[1j]])), np.float64)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_trains_the_same_bits_as_csr(fmt):
    dense, X = sample(fmt)
    y = np.arange(12) % 3
    ref = NeuralNet([6, 5, 3], seed=4).fit(sp.csr_matrix(dense), y, epochs=2)
    net = NeuralNet([6, 5, 3], seed=4).fit(X, y, epochs=2)
    assert net._params.tobytes() == ref._params.tobytes()
    np.testing.assert_array_equal(net.predict_proba(X), net.predict_proba(dense))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_through_the_estimators_and_keras(fmt):
    from annfast import keras
    from annfast.sklearn import MLPClassifier, MLPRegressor

    dense, X = sample(fmt)
    y = np.arange(12) % 2
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    ref = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=3 does not converge
        clf.fit(X, y)
        ref.fit(dense, y)
    for a, b in zip(clf.coefs_, ref.coefs_):
        assert a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(dense))
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y.astype(float))
    np.testing.assert_array_equal(reg.predict(X), reg.predict(dense))
    model = keras.Sequential([keras.layers.Dense(2, input_dim=6)])
    model.compile(loss="mse", optimizer="sgd")
    np.testing.assert_array_equal(model.predict(X, verbose=0), model.predict(dense, verbose=0))
