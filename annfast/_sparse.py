"""Sparse inputs: one validated route from any scipy.sparse format to CSR arrays,
and when to take the sparse first-layer path.

scipy's compiled conversions (``tocsr``, ``toarray``, ``sum_duplicates``) trust
each format's index structures: a hand-edited lil row, coo coordinate or csr
``indptr`` makes them read or write out of bounds and crash the interpreter.
``as_csr`` therefore reads every format's own structures with NumPy, checks
them, and builds canonical CSR itself; no scipy conversion ever sees X.

Per-sample SGD on inputs that are mostly zeros (the tutorial's binarised
pixels, one-hot features) only needs the first-layer weights of the non-zero
inputs; the compiled ``train_sparse`` touches nothing else.  The dense kernel
streams every weight with SIMD loads, so the sparse path only wins when the
inputs really are sparse: it is taken when at most ``SPARSE_DENSITY`` of the
input values are non-zero (binarised MNIST: 19%).
"""

import itertools
import numbers

import numpy as np

from annfast import _kernels

#: Largest fraction of non-zero inputs for which training takes the sparse path.
SPARSE_DENSITY = 0.25

#: Largest row or column count accepted (index arithmetic stays far from int64 overflow).
MAX_DIM = 1 << 40


def is_scipy_sparse(X):
    # Looked up on the class: scipy's nnz property itself trusts the structures.
    return hasattr(type(X), "tocsr") and hasattr(type(X), "nnz")


def as_csr(X, dtype, argument="X"):
    """Canonical CSR arrays ``(data, indices, indptr)`` of the scipy.sparse X.

    X may be any scipy.sparse matrix or array: csr, csc, coo, lil, dok, dia or
    bsr.  The result is C-contiguous ``dtype`` / int64 / int64, freshly
    allocated (X is never written nor kept), with the column indices of each
    row sorted, duplicates summed and stored zeros dropped.  Each format's own
    index structures are checked here, in NumPy, before anything trusts them.

    Raises
    ------
    TypeError
        X's dtype is not real numeric (complex, object, text), or a lil/dok
        entry is not a number.
    ValueError
        X is not 2-D with at least one row and one column; an index is
        negative, out of range or not an integer; the index arrays disagree in
        length; ``indptr`` does not start at 0, decreases or overruns; or a
        value is NaN, infinite or too large for ``dtype``.
    """
    dtype = np.dtype(dtype)
    shape = _checked_shape(X, argument)
    _check_value_dtype(np.dtype(X.dtype), argument)
    fmt = getattr(X, "format", None)
    builders = {"csr": _from_compressed, "csc": _from_compressed, "coo": _from_coo,
                "lil": _from_lil, "dok": _from_dok, "dia": _from_dia, "bsr": _from_bsr}
    if fmt not in builders:
        raise TypeError(f"{argument} is a sparse matrix of unsupported format {fmt!r}; "
                        f"expected one of {', '.join(builders)}")
    try:
        built = builders[fmt](X, shape, fmt)
    except (_Broken, AttributeError, IndexError, ValueError) as exc:
        # numpy's own complaints (ragged index lists, a missing attribute) mean
        # the same: a structure scipy would have trusted is broken.
        raise ValueError(f"{argument} is not a valid sparse matrix ({fmt}): {exc}") from None
    except _WrongType as exc:
        raise TypeError(f"{argument} must hold real numbers: {exc}") from None
    if built[0] == "canonical":  # a csr matrix already canonical: nothing to do
        _, data, indices, indptr = built
    else:
        data, indices, indptr = _canonical(built[0], built[1:], shape)
    data = _cast_finite(data, dtype, argument)
    # Stored zeros (bsr and dia padding, cancelled duplicates, values below the
    # dtype's range) go, so equal values give the same arrays, and the same
    # training bits, whatever the format, dense included.
    nonzero = data != 0
    if not nonzero.all():
        kept = np.zeros(data.size + 1, dtype=np.int64)
        np.cumsum(nonzero, out=kept[1:])
        data, indices, indptr = data[nonzero], indices[nonzero], kept[indptr]
    return data, indices, indptr


def as_csr_matrix(X, argument="X"):
    """X as a validated, canonical scipy CSR matrix (csr_array for a sparse array).

    Floating dtypes are kept; integers and booleans become float64."""
    import scipy.sparse as sp

    dtype = np.dtype(X.dtype) if np.dtype(X.dtype) in (np.float32, np.float64) else np.float64
    shape = _checked_shape(X, argument)
    data, indices, indptr = as_csr(X, dtype, argument)
    cls = sp.csr_array if isinstance(X, getattr(sp, "sparray", ())) else sp.csr_matrix
    out = cls((data, indices, indptr), shape=shape)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


class _Broken(Exception):
    """A structural defect; as_csr reports it as a ValueError naming the argument."""


class _WrongType(Exception):
    """Values that are not real numbers; as_csr reports a TypeError naming the argument."""


def _checked_shape(X, argument):
    try:
        shape = tuple(X.shape)
    except TypeError:
        raise ValueError(f"{argument} has no valid shape: {X.shape!r}") from None
    if len(shape) != 2:
        raise ValueError(f"{argument} must be a 2-D matrix, got a sparse array of shape {shape}")
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise ValueError(f"{argument} has a shape that is not two integers: {shape}")
    if not 0 < shape[0] <= MAX_DIM or not 0 < shape[1] <= MAX_DIM:
        raise ValueError(f"{argument} must be a non-empty 2-D matrix with at most {MAX_DIM} "
                         f"rows and columns, got shape {shape}")
    return int(shape[0]), int(shape[1])


def _check_value_dtype(dt, argument):
    if dt.kind == "c":
        raise TypeError(f"{argument} must be real numbers, got complex dtype {dt}")
    if dt.kind not in "biuf":
        raise TypeError(f"{argument} must be numeric, got dtype {dt}")


def _index_array(a, what):
    """a as a 1-D int64 array; a non-integer array is a structural defect."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise _Broken(f"{what} must be 1-D, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise _Broken(f"{what} must hold integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise _Broken(f"{what} holds an index beyond int64")
    return arr.astype(np.int64)


def _value_array(a, what, ndim=1):
    arr = np.asarray(a)
    if arr.ndim != ndim:
        raise _Broken(f"{what} must be {ndim}-D, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "biuf":
        raise _WrongType(f"{what} has dtype {arr.dtype}")
    return arr


def _in_range(idx, n, what):
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise _Broken(f"{what} holds {bad}, outside [0, {n})")


def _from_compressed(X, shape, fmt):
    """csr and csc: indptr over the major axis, indices along the minor one."""
    n_major, n_minor = shape if fmt == "csr" else shape[::-1]
    indptr = _index_array(X.indptr, "indptr")
    indices = _index_array(X.indices, "indices")
    data = _value_array(X.data, "data")
    if indptr.size != n_major + 1:
        raise _Broken(f"indptr has {indptr.size} entries, expected {n_major + 1}")
    if indptr[0] != 0:
        raise _Broken(f"indptr starts at {indptr[0]}, not 0")
    if (np.diff(indptr) < 0).any():
        raise _Broken("indptr decreases")
    nnz = int(indptr[-1])
    if nnz > indices.size or nnz > data.size:
        raise _Broken(f"indptr ends at {nnz}, beyond the {indices.size} indices and "
                      f"{data.size} values")
    indices, data = indices[:nnz], data[:nnz]
    _in_range(indices, n_minor, "indices")
    if fmt == "csr":
        # Canonical already when indices increase strictly within every row
        # (the step across a row boundary is set to 1 so it always passes).
        steps = np.diff(indices)
        starts = indptr[1:-1]
        steps[starts[(starts > 0) & (starts < nnz)] - 1] = 1
        if (steps > 0).all():
            return ("canonical", data, indices, indptr)  # _index_array copied the indices
    return (fmt, data, indices, indptr)


def _from_coo(X, shape, fmt):
    coords = X.coords if hasattr(X, "coords") else (X.row, X.col)
    if len(coords) != 2:
        raise _Broken(f"expected 2 coordinate arrays, got {len(coords)}")
    rows = _index_array(coords[0], "row")
    cols = _index_array(coords[1], "col")
    data = _value_array(X.data, "data")
    if not rows.size == cols.size == data.size:
        raise _Broken(f"row, col and data have different lengths ({rows.size}, {cols.size}, "
                      f"{data.size})")
    _in_range(rows, shape[0], "row")
    _in_range(cols, shape[1], "col")
    return ("coo", rows, cols, data)


def _from_lil(X, shape, fmt):
    rows_obj, data_obj = np.asarray(X.rows, dtype=object), np.asarray(X.data, dtype=object)
    if rows_obj.shape != (shape[0],) or data_obj.shape != (shape[0],):
        raise _Broken(f"rows and data must hold one list per row ({shape[0]}), got shapes "
                      f"{rows_obj.shape} and {data_obj.shape}")
    lengths = np.empty(shape[0], dtype=np.int64)
    for i, (r, d) in enumerate(zip(rows_obj, data_obj)):
        try:
            n_r, n_d = len(r), len(d)
        except TypeError:
            raise _Broken(f"row {i}: rows[{i}] and data[{i}] must be lists") from None
        if n_r != n_d:
            raise _Broken(f"row {i} lists {n_r} column indices but {n_d} values")
        lengths[i] = n_r
    cols = _listed(itertools.chain.from_iterable(rows_obj), "column index", integer=True)
    vals = _listed(itertools.chain.from_iterable(data_obj), "value", integer=False)
    _in_range(cols, shape[1], "a column index in rows")
    rows = np.repeat(np.arange(shape[0], dtype=np.int64), lengths)
    return ("coo", rows, cols, vals)


def _from_dok(X, shape, fmt):
    keys, values = [], []
    for key, value in X.items():
        if not isinstance(key, tuple) or len(key) != 2:
            raise _Broken(f"key {key!r:.40} is not a (row, column) pair")
        keys.append(key)
        values.append(value)
    flat = _listed(itertools.chain.from_iterable(keys), "key", integer=True)
    vals = _listed(values, "value", integer=False)
    rows, cols = flat[0::2], flat[1::2]
    _in_range(rows, shape[0], "a row in the keys")
    _in_range(cols, shape[1], "a column in the keys")
    return ("coo", rows, cols, vals)


def _listed(items, what, integer):
    """Python objects from lil/dok lists as one array: int64 indices or real values."""
    items = list(items)
    if not items:
        return np.empty(0, dtype=np.int64 if integer else np.float64)
    try:
        arr = np.asarray(items)
    except (ValueError, TypeError, OverflowError):
        arr = np.asarray(items, dtype=object)
    if integer:
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            bad = next((v for v in items if isinstance(v, (bool, np.bool_))
                        or not isinstance(v, numbers.Integral)), None)
            raise _Broken(f"{what} {bad!r:.40} is not an integer" if bad is not None
                          else f"a {what} does not fit in 64 bits")
        if arr.dtype.kind == "u" and arr.max() > np.iinfo(np.int64).max:
            raise _Broken(f"a {what} does not fit in 64 bits")
        return arr.astype(np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "c":
            raise _WrongType("a value is complex; values must be real numbers")
        bad = next((v for v in items if not isinstance(v, (numbers.Real, np.bool_))), None)
        raise _WrongType(f"a value is {type(bad).__name__} {bad!r:.40}, not a number"
                         if bad is not None else f"values must be numbers, got dtype {arr.dtype}")
    with np.errstate(over="ignore"):
        return arr.astype(np.float64)


def _from_dia(X, shape, fmt):
    """Diagonal k holds, at column j, the value of row j - offsets[k] (scipy's layout)."""
    data = _value_array(X.data, "data", ndim=2)
    offsets = _index_array(X.offsets, "offsets")
    if data.shape[0] != offsets.size:
        raise _Broken(f"data has {data.shape[0]} diagonals but offsets lists {offsets.size}")
    n_rows, n_cols = shape
    outside = (offsets <= -n_rows) | (offsets >= n_cols)
    if outside.any():
        raise _Broken(f"offset {offsets[outside][0]} lies outside the {n_rows}x{n_cols} matrix")
    width = min(data.shape[1], n_cols)
    cols = np.tile(np.arange(width, dtype=np.int64), offsets.size)
    rows = cols - np.repeat(offsets, width)
    vals = data[:, :width].ravel()
    keep = (rows >= 0) & (rows < n_rows) & (vals != 0)  # scipy drops the padding's zeros
    return ("coo", rows[keep], cols[keep], vals[keep])


def _from_bsr(X, shape, fmt):
    data = _value_array(X.data, "data", ndim=3)
    indices = _index_array(X.indices, "indices")
    indptr = _index_array(X.indptr, "indptr")
    r, c = data.shape[1:]
    if r < 1 or c < 1 or shape[0] % r or shape[1] % c:
        raise _Broken(f"blocks of {r}x{c} do not tile the shape {shape}")
    n_brows, n_bcols = shape[0] // r, shape[1] // c
    if indptr.size != n_brows + 1:
        raise _Broken(f"indptr has {indptr.size} entries, expected {n_brows + 1}")
    if indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise _Broken("indptr must start at 0 and never decrease")
    nnz = int(indptr[-1])
    if nnz > indices.size or nnz > data.shape[0]:
        raise _Broken(f"indptr ends at {nnz}, beyond the {indices.size} block indices and "
                      f"{data.shape[0]} blocks")
    indices, data = indices[:nnz], data[:nnz]
    _in_range(indices, n_bcols, "indices")
    return ("bsr", data, indices, indptr)


def _canonical(kind, arrays, shape):
    """CSR arrays, rows' indices sorted and duplicates summed, of validated
    structures: ("coo", rows, cols, values) or (csr/csc/bsr, data, indices, indptr).

    The arrays are the copies the builders checked, so scipy's compiled
    conversion may now run on them: it sums duplicates as scipy always has."""
    import scipy.sparse as sp

    if kind == "coo":
        rows, cols, vals = arrays
        matrix = sp.coo_matrix((_summable(vals), (rows, cols)), shape=shape)
    else:
        data, indices, indptr = arrays
        cls = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "bsr": sp.bsr_matrix}[kind]
        matrix = cls((_summable(data), indices, indptr), shape=shape)
    csr = matrix.tocsr(copy=True)  # a csr built on X's own data must not be summed in place
    csr.sum_duplicates()  # also sorts each row's indices
    return (csr.data, np.ascontiguousarray(csr.indices, dtype=np.int64),
            np.ascontiguousarray(csr.indptr, dtype=np.int64))


def _summable(values):
    # Integers would wrap when duplicates are summed and booleans would be OR-ed.
    return values.astype(np.float64) if values.dtype.kind in "biu" else values


def _cast_finite(data, dtype, argument):
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.array(data, dtype=dtype, order="C", copy=True)
    if not np.isfinite(out).all():
        what = ("NaN" if np.isnan(out).any()
                else f"infinity or a value too large for {dtype.name}")
        raise ValueError(f"{argument} contains {what}; every value must be finite")
    return out


def csr_arrays(X, dtype, argument="X"):
    """(data, indices, indptr) of X as C-contiguous dtype / int64 / int64 arrays.

    X is a dense 2-D array or any scipy.sparse matrix (see ``as_csr``).
    Raises ValueError on non-finite values."""
    if is_scipy_sparse(X):
        return as_csr(X, dtype, argument)
    return _checked(argument, *_kernels.csr_from_dense(np.ascontiguousarray(X, dtype=dtype)))


def sparse_rows(X, dtype, argument="X"):
    """CSR arrays of X when it is scipy.sparse or at most SPARSE_DENSITY non-zero
    (one pass, stopping early on dense data); otherwise None.  Raises ValueError
    when the CSR arrays hold a NaN or an infinity (the pass proves the rest of X
    finite); a None says nothing about finiteness."""
    if is_scipy_sparse(X):
        return as_csr(X, dtype, argument)
    csr = _kernels.csr_from_dense(np.ascontiguousarray(X, dtype=dtype), SPARSE_DENSITY)
    return None if csr is None else _checked(argument, *csr)


def _checked(argument, data, indices, indptr, all_finite):
    if not all_finite:
        raise ValueError(f"{argument} contains NaN or infinity; every value must be finite")
    return data, indices, indptr
