"""Batch prediction through BLAS: one matrix product per layer, not one
matrix-vector product per sample.  The same activations as csrc/af_activation.

Where the AVX-512 kernels run, the compiled forward pass (blocks of four samples
times four outputs in vector registers) is faster than OpenBLAS on these
narrow layers, and takes every batch; see ``use_blas``."""

import numpy as np

from annfast import _kernels

#: Batches at least this large go through BLAS (below AVX-512); smaller ones
#: through the kernel.
BLAS_MIN_BATCH = 32


def use_blas(n_samples, isa):
    """Whether a batch of n_samples rows should go through BLAS rather than the
    compiled forward pass running at instruction-set level ``isa``.

    Measured on [784, 32, 10] over 10,000 rows, one thread
    (``python -m pytest benchmarks --benchmark-only -k prediction``, with
    ``ANNFAST_SIMD=avx2`` for the second figures): the AVX-512 kernel takes
    0.69x (float64) and 0.90x (float32) of the time of the NumPy forward pass
    through OpenBLAS, the AVX2 one 1.17x and 1.40x."""
    return n_samples >= BLAS_MIN_BATCH and isa < _kernels.ISA_NAMES["avx512"]


def _activate_inplace(name, Z, slope):
    if name == "relu":
        np.maximum(Z, 0, out=Z)  # inputs and weights are finite: no NaN to keep
    elif name == "leaky_relu":
        np.multiply(Z, Z.dtype.type(slope), out=Z, where=Z < 0)
    elif name == "sigmoid":
        # exp of non-positive numbers only, as the kernel: no overflow.
        E = np.exp(-np.abs(Z))
        np.divide(np.where(Z >= 0, 1, E), 1 + E, out=Z)
    elif name == "tanh":
        np.tanh(Z, out=Z)
    elif name == "softmax":
        Z -= Z.max(axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=1, keepdims=True)
    elif name != "identity":
        # The other activations are element-wise: the kernel's, over all of Z at
        # once (leaky_relu's slope is the only parameter the front ends set).
        flat = np.ascontiguousarray(Z).reshape(-1)
        Z[...] = _kernels.py_activate(_kernels.ACTIVATION_CODES[name], flat).reshape(Z.shape)


def forward_blas(weights, biases, acts, slope, X, check_input=None):
    """Network output for every row of X (n, n_in): Z = A W^T + b per layer.

    ``check_input(X)``, if given, is called only when the first layer's products
    are not all finite.  With finite weights a NaN or infinity anywhere in a row
    of X makes that row's every product non-finite (inf * 0 is NaN), so this
    proves X finite at 1/n_out of the cost of scanning X itself.
    """
    # Like the compiled kernels, no floating-point warnings: a non-finite X is
    # reported by check_input, an overflow shows in the outputs.
    with np.errstate(all="ignore"):
        return _forward(weights, biases, acts, slope, X, check_input)


def _forward(weights, biases, acts, slope, X, check_input):
    A = X
    for layer, (W, b, act) in enumerate(zip(weights, biases, acts)):
        Z = A @ W.T
        if layer == 0 and check_input is not None and not np.isfinite(Z.sum()):
            check_input(X)  # raises for a non-finite X; a mere overflow goes on
        Z += b.reshape(1, -1)
        _activate_inplace(act, Z, slope)
        A = Z
    return A
