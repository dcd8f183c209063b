"""Checks shared by every public entry point.

Each function raises ValueError or TypeError whose message names the argument
and what was expected, and each runs before any model state changes.
"""

import numbers
import os

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)

#: Largest parameter count a network may have (16 GiB of float64).  Beyond it the
#: allocation would fail anyway; refusing early gives a clear message instead.
MAX_PARAMS = 1 << 31


def check_dtype(dtype, argument="dtype"):
    """Return np.float32 or np.float64 for a float dtype spec."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{argument} must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{argument} must be float32 or float64, got {dt}")
    return dt.type


def check_layers(layers, argument="layers"):
    """Return layer sizes as a tuple of ints: at least 2, each >= 1.

    ``layers`` is a list, tuple, range or 1-D integer array; the total number of
    weights and biases must not exceed ``MAX_PARAMS``.
    """
    if isinstance(layers, np.ndarray) and layers.ndim != 1:
        raise ValueError(f"{argument} must be a 1-D list of layer sizes, got an array of "
                         f"shape {layers.shape}")
    if not isinstance(layers, (list, tuple, range, np.ndarray)):
        raise TypeError(f"{argument} must be a list of layer sizes, e.g. [784, 32, 10]; "
                        f"got {type(layers).__name__} {layers!r:.80}")
    sizes = []
    for i, n in enumerate(layers):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"{argument}[{i}] must be an integer, got {n!r}")
        if n < 1:
            raise ValueError(f"{argument}[{i}] must be >= 1, got {n}")
        sizes.append(int(n))
    if len(sizes) < 2:
        raise ValueError(f"{argument} needs at least 2 sizes (inputs and outputs), got {sizes}")
    total = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if total > MAX_PARAMS:
        raise ValueError(f"{argument}={sizes} needs {total} parameters; at most {MAX_PARAMS} "
                         "are supported")
    return tuple(sizes)


def check_bool(value, argument):
    """Return value as a bool: True/False (numpy bools included) or the integers 0/1.

    Anything else is a TypeError: strings such as ``"no"`` are truthy, so
    accepting any object would silently turn an option on."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{argument} must be True or False, got {value!r}")


def check_choice(value, argument, choices):
    """Return value if it is one of ``choices``.  The one wording for an unknown
    option, whatever the front end: "argument='x' is not valid; expected one
    of: 'a', 'b'"."""
    expected = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a string, one of: {expected}; got {value!r:.80}")
    if value not in choices:
        raise ValueError(f"{argument}={value!r} is not valid; expected one of: {expected}")
    return value


def check_named(identifier, argument, table, base, where):
    """An instance of ``base`` as given, or a new one for a name in ``table``
    (name -> class): how Keras-style ``compile`` takes its losses and optimizers."""
    if isinstance(identifier, base):
        return identifier
    if not isinstance(identifier, str):
        raise TypeError(f"{argument} must be a name or an instance from {where}, got "
                        f"{identifier!r:.80}")
    return table[check_choice(identifier, argument, tuple(table))]()


def check_random_state(seed, argument="seed"):
    """Return a numpy Generator from None, a non-negative int or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        check_scalar(seed, argument, low=0, integer=True)
    return np.random.default_rng(seed)


def check_path(path, argument="path"):
    """Return path as str (str, bytes decoded, or os.PathLike), else raise TypeError."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{argument} must be a file name (str or os.PathLike), got "
                        f"{type(path).__name__} {path!r:.80}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError(f"{argument} must not be empty")
    return path


def check_scalar(value, argument, *, low=None, high=None, low_inclusive=True,
                 high_inclusive=True, integer=False):
    """Return value as float (or int) after checking its type and range."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a real number"
        raise TypeError(f"{argument} must be {what}, got {value!r}")
    value = int(value) if integer else float(value)
    if not integer and not np.isfinite(value):
        raise ValueError(f"{argument} must be finite, got {value}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{argument} must be {op} {low}, got {value}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{argument} must be {op} {high}, got {value}")
    return value


def as_float_array(X, argument, dtype, *, ndim=2, allow_empty=False, finite=True):
    """Return X as a C-contiguous array of dtype with ndim dimensions.

    Accepts ints, bools, float16/32/64, read-only, Fortran-ordered or strided
    input, and object arrays holding only real numbers (scikit-learn's
    ``check_dtype_object``); these are converted, the caller's array untouched.
    Rejects strings, complex numbers and other objects (TypeError), wrong
    dimensions, NaN/inf (or values too large for dtype) and empty arrays (ValueError).

    Returns
    -------
    ndarray of shape X.shape, dtype ``dtype``, C-contiguous and writeable only if
    it is a copy (never written by annfast).
    """
    if is_sparse(X):
        X = check_sparse(X, argument).toarray()  # checked first: toarray trusts the indices
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{argument} could not be read as a numeric array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{argument} must be real numbers, got complex dtype {arr.dtype}")
    if kind == "O":
        # Numbers boxed as objects convert exactly; anything else (None, str,
        # dicts, nested lists) is an error rather than a silent NaN or parse.
        bad = next((v for v in arr.flat if not isinstance(v, (numbers.Real, np.bool_))),
                   _NOTHING)
        if bad is not _NOTHING:
            raise TypeError(f"{argument} must hold numbers only, got {type(bad).__name__} "
                            f"{bad!r:.40} (float() argument must be a string or a real number, "
                            f"not {type(bad).__name__!r})")
        arr = arr.astype(np.float64)
    elif kind in "USV":
        raise TypeError(f"{argument} must be numeric, got dtype {arr.dtype}; convert text "
                        "to numbers first")
    elif kind not in "biuf":
        raise TypeError(f"{argument} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        hint = " (reshape a single sample with x.reshape(1, -1))" if arr.ndim == 1 else ""
        raise ValueError(f"{argument} must be a {ndim}-D array, got shape {arr.shape}{hint}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{argument} is empty (shape {arr.shape}); at least one sample and "
                         "one feature are required")
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if finite:  # finite=False: the caller proves finiteness more cheaply itself
        check_finite(arr, argument)  # also catches values too large for dtype
    return arr


_NOTHING = object()


def is_sparse(X):
    """True for scipy.sparse matrices and arrays (without importing scipy)."""
    # On the class: evaluating scipy's nnz property would already trust the structures.
    return all(hasattr(type(X), name) for name in ("tocsr", "nnz", "format"))


def check_sparse(X, argument):
    """Return the scipy.sparse X as a validated, canonical CSR matrix.

    Every format is accepted (csr, csc, coo, lil, dok, dia, bsr; matrices and
    arrays).  scipy's compiled routines (``toarray``, ``tocsr``,
    ``sum_duplicates``) trust the index structures, so ``annfast._sparse.as_csr``
    checks them in NumPy and builds the CSR arrays itself before any of them
    runs.  Raises TypeError for a non-real dtype and ValueError for a broken
    structure, a shape that is not 2-D with at least one row and one column,
    or NaN/inf among the values.
    """
    from annfast._sparse import as_csr_matrix  # _sparse imports the compiled module

    return as_csr_matrix(X, argument)


def check_finite(arr, argument):
    """Raise ValueError if arr holds NaN or infinity (after a cast: a value too large)."""
    # Fast path: a finite sum proves every value finite without a boolean temporary
    # the size of arr; only an infinite or NaN sum needs the element-wise look.
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.dtype.kind == "f" and np.isfinite(np.sum(arr)):  # an overflow just falls through
            return
    if not np.isfinite(arr).all():
        what = ("NaN" if np.isnan(arr).any()
                else f"infinity or a value too large for {np.dtype(arr.dtype).name}")
        raise ValueError(f"{argument} contains {what}; every value must be finite")


def check_n_features(X, n_features, argument="X"):
    if X.shape[1] != n_features:
        raise ValueError(f"{argument} has {X.shape[1]} features per sample, but the model "
                         f"takes {n_features}")


def check_same_length(X, Y, x_name="X", y_name="y"):
    if len(X) != len(Y):
        raise ValueError(f"{x_name} and {y_name} have inconsistent numbers of samples: "
                         f"{len(X)} and {len(Y)}")
