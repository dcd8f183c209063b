"""Checks shared by every public entry point.

Each function raises ValueError or TypeError whose message names the argument
and what was expected, and each runs before any model state changes.
"""

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


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
    """Return layer sizes as a tuple of ints: at least 2, each >= 1."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__"):
        raise TypeError(f"{argument} must be a list of layer sizes, e.g. [784, 32, 10]; "
                        f"got {layers!r}")
    sizes = []
    for i, n in enumerate(layers):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"{argument}[{i}] must be an integer, got {n!r}")
        if n < 1:
            raise ValueError(f"{argument}[{i}] must be >= 1, got {n}")
        sizes.append(int(n))
    if len(sizes) < 2:
        raise ValueError(f"{argument} needs at least 2 sizes (inputs and outputs), got {sizes}")
    return tuple(sizes)


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


def as_float_array(X, argument, dtype, *, ndim=2, allow_empty=False):
    """Return X as a C-contiguous array of dtype with ndim dimensions.

    Accepts ints, bools, float16/32/64, read-only, Fortran-ordered or strided
    input (converted, the caller's array untouched).  Rejects object, string
    and complex data (TypeError), wrong dimensions, NaN/inf and empty arrays
    (ValueError).
    """
    if hasattr(X, "toarray") and hasattr(X, "tocsr"):
        X = X.toarray()  # scipy.sparse: densified until the sparse path exists
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{argument} could not be read as a numeric array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{argument} must be real numbers, got complex dtype {arr.dtype}")
    if kind in "OUSV":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise TypeError(f"{argument} must be numeric, got dtype {arr.dtype} with "
                            "values that are not numbers") from None
    elif kind not in "biuf":
        raise TypeError(f"{argument} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{argument} must be a {ndim}-D array, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{argument} is empty (shape {arr.shape}); at least one sample is "
                         "required")
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=dtype)
    check_finite(arr, argument)  # also catches values too large for dtype
    return arr


def check_finite(arr, argument):
    if not np.isfinite(arr).all():
        what = "NaN" if np.isnan(arr).any() else "infinity"
        raise ValueError(f"{argument} contains {what}; every value must be finite")


def check_n_features(X, n_features, argument="X"):
    if X.shape[1] != n_features:
        raise ValueError(f"{argument} has {X.shape[1]} features per sample, but the network "
                         f"expects {n_features} (layers[0])")


def check_same_length(X, Y, x_name="X", y_name="y"):
    if len(X) != len(Y):
        raise ValueError(f"{x_name} and {y_name} have inconsistent numbers of samples: "
                         f"{len(X)} and {len(Y)}")
