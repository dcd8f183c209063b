"""Sparse inputs: when to take the sparse first-layer path, and its CSR arrays.

Per-sample SGD on inputs that are mostly zeros (the tutorial's binarised
pixels, one-hot features) only needs the first-layer weights of the non-zero
inputs; the compiled ``train_sparse`` touches nothing else.  The dense kernel
streams every weight with SIMD loads, so the sparse path only wins when the
inputs really are sparse: it is taken when at most ``SPARSE_DENSITY`` of the
input values are non-zero (binarised MNIST: 19%).
"""

import numpy as np

from annfast import _kernels

#: Largest fraction of non-zero inputs for which training takes the sparse path.
SPARSE_DENSITY = 0.25


def is_scipy_sparse(X):
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def csr_arrays(X, dtype, argument="X"):
    """(data, indices, indptr) of X as C-contiguous dtype / int64 / int64 arrays.

    X is a dense 2-D array or a scipy.sparse matrix (converted to canonical CSR:
    duplicates summed).  Raises ValueError on non-finite values."""
    if is_scipy_sparse(X):
        csr = X.tocsr(copy=True)
        csr.sum_duplicates()
        data = np.ascontiguousarray(csr.data, dtype=dtype)
        indices = np.ascontiguousarray(csr.indices, dtype=np.int64)
        indptr = np.ascontiguousarray(csr.indptr, dtype=np.int64)
        return _checked(argument, data, indices, indptr, np.isfinite(data).all())
    return _checked(argument, *_kernels.csr_from_dense(np.ascontiguousarray(X, dtype=dtype)))


def sparse_rows(X, dtype, argument="X"):
    """CSR arrays of X when it is scipy.sparse or at most SPARSE_DENSITY non-zero
    (one pass, stopping early on dense data); otherwise None.  Raises ValueError
    when the CSR arrays hold a NaN or an infinity (the pass proves the rest of X
    finite); a None says nothing about finiteness."""
    if is_scipy_sparse(X):
        return csr_arrays(X, dtype, argument)
    csr = _kernels.csr_from_dense(np.ascontiguousarray(X, dtype=dtype), SPARSE_DENSITY)
    return None if csr is None else _checked(argument, *csr)


def _checked(argument, data, indices, indptr, all_finite):
    if not all_finite:
        raise ValueError(f"{argument} contains NaN or infinity; every value must be finite")
    return data, indices, indptr
