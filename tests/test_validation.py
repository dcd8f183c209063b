"""The shared validation layer (annfast/_validation.py).

Accepted inputs are converted (and the caller's array is never touched);
rejected ones raise ValueError/TypeError naming the argument.  The end-to-end
tests check that every accepted layout trains to the same bits as the plain
C-contiguous float64 array.
"""

import os
import pathlib

import numpy as np
import pytest

from annfast import NeuralNet
from annfast._validation import (
    MAX_PARAMS,
    as_float_array,
    check_bool,
    check_choice,
    check_dtype,
    check_finite,
    check_layers,
    check_n_features,
    check_path,
    check_random_state,
    check_same_length,
    check_scalar,
    check_sparse,
)

BASE = np.arange(24, dtype=np.float64).reshape(6, 4) / 7.0 - 1.0


def layouts():
    """(name, array) pairs holding the values of BASE (or a cast of them)."""
    f_order = np.asfortranarray(BASE)
    read_only = BASE.copy()
    read_only.setflags(write=False)
    wide = np.zeros((12, 8))
    wide[::2, ::2] = BASE
    strided = wide[::2, ::2]
    reversed_rows = BASE[::-1].copy()[::-1]
    return [
        ("c-float64", BASE.copy()),
        ("fortran", f_order),
        ("read-only", read_only),
        ("strided", strided),
        ("negative-strides", reversed_rows),
        ("list", BASE.tolist()),
        ("object-floats", BASE.astype(object)),
        ("transposed-view", np.ascontiguousarray(BASE.T).T),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, X", layouts(), ids=[n for n, _ in layouts()])
def test_layouts_are_converted_not_touched(name, X, dtype):
    original = np.array(X, dtype=object if name == "object-floats" else None, copy=True)
    out = as_float_array(X, "X", dtype)
    assert out.dtype == dtype
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, BASE.astype(dtype))
    # The caller's data is unchanged and never aliased writeably by a converted copy.
    np.testing.assert_array_equal(np.asarray(X, dtype=object), original)


@pytest.mark.parametrize("dtype_in", [np.int8, np.int32, np.int64, np.uint8, np.uint64,
                                      np.bool_, np.float16, np.float32, np.float64])
def test_real_dtypes_are_accepted(dtype_in):
    X = (np.arange(12).reshape(3, 4) % 2).astype(dtype_in)
    out = as_float_array(X, "X", np.float64)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.arange(12).reshape(3, 4) % 2)


@pytest.mark.parametrize("X, exc, fragment", [
    (np.ones((2, 2), dtype=complex), TypeError, "A must be real numbers, got complex"),
    (np.array([["1", "2"]]), TypeError, "A must be numeric, got dtype <U1"),
    (np.array([[b"1", b"2"]]), TypeError, "A must be numeric, got dtype |S1"),
    (np.array([[1.0, "x"]], dtype=object), TypeError, "A must hold numbers only, got str"),
    (np.array([[1.0, None]], dtype=object), TypeError, "A must hold numbers only"),
    (np.array([[{}, 1.0]], dtype=object), TypeError,
     "float() argument must be a string or a real number"),  # sklearn check_dtype_object
    (np.zeros((2, 2), dtype="timedelta64[s]"), TypeError, "A must be numeric"),
    (np.zeros((2, 2), dtype=[("a", float)]), TypeError, "A must be numeric"),
    ([[1, 2], [3]], ValueError, "A could not be read as a numeric array"),
    (np.ones(3), ValueError, "A must be a 2-D array, got shape (3,)"),
    (np.ones((1, 2, 3)), ValueError, "A must be a 2-D array, got shape (1, 2, 3)"),
    (5.0, ValueError, "A must be a 2-D array, got shape ()"),
    (np.empty((0, 4)), ValueError, "A is empty"),
    (np.empty((4, 0)), ValueError, "A is empty"),
    (np.array([[1.0, np.nan]]), ValueError, "A contains NaN"),
    (np.array([[1.0, -np.inf]]), ValueError, "A contains infinity"),
])
def test_rejected_arrays(X, exc, fragment):
    with pytest.raises(exc) as info:
        as_float_array(X, "A", np.float64)
    assert fragment in str(info.value)


def test_value_too_large_for_float32():
    with pytest.raises(ValueError, match="too large for float32"):
        as_float_array([[1e39, 0.0]], "X", np.float32)
    # ... but fine in float64.
    assert as_float_array([[1e39, 0.0]], "X", np.float64)[0, 0] == 1e39


def test_empty_allowed_when_asked():
    assert as_float_array(np.empty((0, 3)), "y", np.float64, allow_empty=True).shape == (0, 3)


def test_sparse_like_input_is_densified():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    out = as_float_array(scipy_sparse.csr_matrix(BASE), "X", np.float64)
    np.testing.assert_array_equal(out, BASE)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layout_trains_to_the_same_bits(dtype):
    y = np.array([0, 1, 2, 1, 0, 2])

    def train(X, labels):
        net = NeuralNet([4, 5, 3], learning_rate=0.1, dtype=dtype, seed=7)
        net.fit(X, labels, epochs=3)
        return net._params.tobytes(), net.predict_proba(X).tobytes()

    expected = train(BASE, y)
    for name, X in layouts():
        assert train(X, y) == expected, name
    labels_f = np.asfortranarray(np.eye(3)[y])  # one-hot targets, Fortran-ordered
    labels_f.setflags(write=False)
    assert train(BASE, labels_f) == expected
    assert train(BASE, y.astype(np.uint8)) == expected
    assert train(BASE, y.astype(np.float32)) == expected


def test_float16_and_int_inputs_train_like_their_float64_values():
    Xi = (np.arange(24).reshape(6, 4) % 3).astype(np.int16)
    y = np.array([0, 1, 0, 1, 1, 0])
    a = NeuralNet([4, 2], seed=0).fit(Xi, y, epochs=2)
    b = NeuralNet([4, 2], seed=0).fit(Xi.astype(np.float16), y, epochs=2)
    c = NeuralNet([4, 2], seed=0).fit(Xi.astype(np.float64), y, epochs=2)
    assert a._params.tobytes() == b._params.tobytes() == c._params.tobytes()


# -- scalar and name helpers -------------------------------------------------------------


def test_check_dtype():
    assert check_dtype("float32") is np.float32
    assert check_dtype(np.dtype("f8")) is np.float64
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got float16"):
        check_dtype(np.float16)
    with pytest.raises(TypeError, match="my_dtype must be float32"):
        check_dtype(object(), "my_dtype")


def test_check_layers():
    assert check_layers([3, np.int64(4), np.uint8(2)]) == (3, 4, 2)
    assert check_layers(np.array([3, 2])) == (3, 2)
    assert check_layers(range(2, 4)) == (2, 3)
    for bad, exc in [({3, 2}, TypeError), ("32", TypeError), (None, TypeError),
                     (5, TypeError), ([3, None], TypeError), ([3, 1.0], TypeError)]:
        with pytest.raises(exc, match="sizes"):
            check_layers(bad, "sizes")
    with pytest.raises(ValueError, match=f"at most {MAX_PARAMS}"):
        check_layers([1 << 16, 1 << 16])


def test_check_scalar_ranges():
    assert check_scalar(np.float32(0.5), "a", low=0, high=1) == 0.5
    assert check_scalar(np.int64(3), "n", integer=True) == 3
    assert isinstance(check_scalar(2, "a"), float)
    with pytest.raises(ValueError, match="a must be > 0, got 0.0"):
        check_scalar(0, "a", low=0, low_inclusive=False)
    with pytest.raises(ValueError, match="a must be < 1, got 1.0"):
        check_scalar(1, "a", high=1, high_inclusive=False)
    with pytest.raises(ValueError, match="a must be <= 1"):
        check_scalar(1.5, "a", high=1)
    with pytest.raises(TypeError, match="a must be a real number"):
        check_scalar(True, "a")
    with pytest.raises(TypeError, match="a must be a real number"):
        check_scalar(1 + 2j, "a")
    with pytest.raises(TypeError, match="n must be an integer"):
        check_scalar(np.float64(3.0), "n", integer=True)
    with pytest.raises(ValueError, match="a must be finite"):
        check_scalar(float("-inf"), "a")


def test_check_bool():
    assert check_bool(True, "b") is True
    assert check_bool(np.bool_(False), "b") is False
    assert check_bool(1, "b") is True and check_bool(0, "b") is False
    for bad in ("no", "False", 2, -1, None, 0.0, [True]):
        with pytest.raises(TypeError, match="flag must be True or False"):
            check_bool(bad, "flag")


def test_check_choice():
    assert check_choice("warn", "mode", ("raise", "warn")) == "warn"
    with pytest.raises(ValueError, match="mode='Warn' is not valid; expected one of: "
                                         "'raise', 'warn'"):
        check_choice("Warn", "mode", ("raise", "warn"))
    with pytest.raises(TypeError, match="mode must be a string, one of: 'raise', 'warn'; "
                                        "got None"):
        check_choice(None, "mode", ("raise", "warn"))


def test_check_random_state():
    g = np.random.default_rng(1)
    assert check_random_state(g) is g
    assert check_random_state(5).random() == np.random.default_rng(5).random()
    assert isinstance(check_random_state(None), np.random.Generator)
    with pytest.raises(ValueError, match="random_state must be >= 0"):
        check_random_state(-2, "random_state")
    with pytest.raises(TypeError, match="seed must be an integer"):
        check_random_state("1")


def test_check_path():
    assert check_path("a.npz") == "a.npz"
    assert check_path(pathlib.Path("d") / "a.npz") == os.path.join("d", "a.npz")
    assert check_path(b"a.npz") == "a.npz"
    with pytest.raises(TypeError, match="path must be a file name"):
        check_path(3)
    with pytest.raises(ValueError, match="out must not be empty"):
        check_path("", "out")


def test_shape_checks():
    A = np.zeros((3, 2))
    check_n_features(A, 2)
    with pytest.raises(ValueError, match="Z has 2 features per sample, but the model "
                                         "takes 5"):
        check_n_features(A, 5, "Z")
    check_same_length(A, np.zeros(3))
    with pytest.raises(ValueError, match="inconsistent numbers of samples: 3 and 2"):
        check_same_length(A, np.zeros(2))
    check_finite(A, "A")
    with pytest.raises(ValueError, match="B contains NaN"):
        check_finite(np.array([np.nan, np.inf]), "B")


# -- scipy.sparse -------------------------------------------------------------------------


def test_sparse_formats_are_checked_then_densified():
    sparse = pytest.importorskip("scipy.sparse")
    for fmt in ("csr", "csc", "coo", "bsr", "lil", "dok", "dia"):
        X = sparse.random(5, 4, density=0.5, format=fmt, random_state=0)
        np.testing.assert_array_equal(as_float_array(X, "X", np.float64), X.toarray())
        # Every format comes back as a fresh canonical CSR matrix of the same values.
        checked = check_sparse(X, "X")
        assert checked.format == "csr" and checked is not X and checked.has_canonical_format
        np.testing.assert_array_equal(checked.toarray(), X.toarray())


def test_hand_built_sparse_matrices_are_rejected_before_scipy_touches_them():
    # scipy's compiled toarray()/tocsr() trust the indices; these would make them
    # write out of bounds (a segfault), so the check must come first.
    sparse = pytest.importorskip("scipy.sparse")
    csr = sparse.csr_matrix((np.ones(2), np.array([0, 10**7]), np.array([0, 1, 2])),
                            shape=(2, 3))
    negative = sparse.csr_matrix((np.ones(2), np.array([0, 1]), np.array([0, 1, 2])),
                                 shape=(2, 3))
    negative.indices[1] = -5
    bad_ptr = sparse.csr_matrix(np.eye(3))
    bad_ptr.indptr[1] = 7
    coo = sparse.coo_matrix(np.eye(3))
    coo.row[0] = 3
    csc = sparse.csc_matrix(np.eye(3))
    csc.indices[2] = 1_000_000
    for X in (csr, negative, bad_ptr, coo, csc):
        with pytest.raises(ValueError, match="Z is not a valid sparse matrix"):
            as_float_array(X, "Z", np.float64)


def test_sparse_values_and_shapes_are_checked():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match="S contains NaN"):
        check_sparse(sparse.csr_matrix(np.array([[0.0, np.nan]])), "S")
    with pytest.raises(ValueError, match="S contains infinity"):
        check_sparse(sparse.coo_matrix(np.array([[np.inf, 0.0]])), "S")
    with pytest.raises(TypeError, match="S must be real numbers"):
        check_sparse(sparse.csr_matrix(np.array([[1j, 0.0]])), "S")
    with pytest.raises(ValueError, match="S must be a non-empty 2-D matrix"):
        check_sparse(sparse.csr_matrix((0, 3)), "S")
    with pytest.raises(ValueError, match="S must be a non-empty 2-D matrix"):
        check_sparse(sparse.csr_matrix((3, 0)), "S")
