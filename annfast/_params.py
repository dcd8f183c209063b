"""The flat parameter buffer: layout, per-layer views, initialisation, packing.

All parameters live in one 1-D array, per layer W (n_out, n_in) row-major then
b (n_out,), which is the layout csrc/af.h documents.  The public
``weights``/``biases`` lists are views into it.
"""

import numpy as np


def n_params(sizes):
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def layer_offsets(sizes):
    """Yield (w_start, b_start, b_stop, n_out, n_in) for each layer."""
    off = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        yield off, off + n_out * n_in, off + n_out * (n_in + 1), n_out, n_in
        off += n_out * (n_in + 1)


def views(params, sizes, bias_shape="column"):
    """Return (weights, biases): lists of views into params.

    weights[l] has shape (n_out, n_in); biases[l] (n_out, 1) for
    ``bias_shape='column'`` (the tutorial's layout) or (n_out,) for 'flat'.
    """
    weights, biases = [], []
    for w0, b0, b1, n_out, n_in in layer_offsets(sizes):
        weights.append(params[w0:b0].reshape(n_out, n_in))
        b = params[b0:b1]
        biases.append(b.reshape(n_out, 1) if bias_shape == "column" else b)
    return weights, biases


INITS = ("xavier", "glorot_uniform", "he", "normal")


def init_params(sizes, init, rng, dtype):
    """Return a new flat buffer with weights drawn by ``init`` and zero biases.

    'xavier': normal(0, sqrt(2 / (n_in + n_out))), as the tutorial's text;
    'glorot_uniform': uniform(+-sqrt(6 / (n_in + n_out))), Keras' default;
    'he': normal(0, sqrt(2 / n_in)); 'normal': normal(0, 0.1), the tutorial's code.
    Draws are float64, then cast, so float32 and float64 nets start alike.
    """
    params = np.zeros(n_params(sizes), dtype=dtype)
    for w0, b0, _, n_out, n_in in layer_offsets(sizes):
        shape = (n_out, n_in)
        if init == "xavier":
            w = rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=shape)
        elif init == "glorot_uniform":
            limit = np.sqrt(6.0 / (n_in + n_out))
            w = rng.uniform(-limit, limit, size=shape)
        elif init == "he":
            w = rng.normal(0.0, np.sqrt(2.0 / n_in), size=shape)
        elif init == "normal":
            w = rng.normal(0.0, 0.1, size=shape)
        else:
            raise ValueError(f"init={init!r} is not known; expected one of: {', '.join(INITS)}")
        params[w0:b0] = w.ravel()
    return params


def pack(weights, biases, sizes, dtype, names=("weights", "biases")):
    """Return a new flat buffer holding the given per-layer arrays.

    Accepts biases of shape (n_out, 1) or (n_out,).  Raises ValueError naming
    the offending entry on a wrong count, shape or a non-finite value.
    """
    wname, bname = names
    n_layers = len(sizes) - 1
    if len(weights) != n_layers or len(biases) != n_layers:
        raise ValueError(f"{wname} and {bname} must hold {n_layers} arrays each, "
                         f"got {len(weights)} and {len(biases)}")
    params = np.empty(n_params(sizes), dtype=dtype)
    for l, (w0, b0, b1, n_out, n_in) in enumerate(layer_offsets(sizes)):
        w = np.asarray(weights[l])
        b = np.asarray(biases[l])
        if w.shape != (n_out, n_in):
            raise ValueError(f"{wname}[{l}] must have shape {(n_out, n_in)}, got {w.shape}")
        if b.shape not in ((n_out, 1), (n_out,)):
            raise ValueError(f"{bname}[{l}] must have shape {(n_out, 1)}, got {b.shape}")
        if w.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
            raise TypeError(f"{wname}[{l}] and {bname}[{l}] must be real numbers")
        params[w0:b0] = w.ravel()
        params[b0:b1] = b.ravel()
    if not np.isfinite(params).all():
        raise ValueError(f"{wname}/{bname} contain NaN or infinity")
    return params
