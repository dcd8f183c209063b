"""Upper bounds on each workload's speed from the machine's own limits.

A bound is the speed a kernel would reach if it did only the work it cannot
avoid, at the machine's measured peak (:mod:`benchmarks.limits`): so a
fraction of the bound means the same on any machine, where a speed-up over
another library depends on that library.

Per-sample SGD (:func:`per_sample`), per sample, as issue 18 counts it:

- forward: the weights and biases it touches are read once (and the input
  row), ``2 x weights`` flops (one multiply-add per weight);
- backward: the same parameters are read, modified and written once (the
  step and the L2 decay fused), ``2 x weights`` flops for the step plus
  ``2 x weights`` of every layer but the first for the deltas sent back;
- each phase takes the longer of its flops at the peak FMA rate and its bytes
  at the bandwidth of the cache that holds all the parameters (L1 if they fit,
  else L2; past L2 the L2 figure is kept, and the bound is optimistic).

With a sparse first layer (``nnz`` non-zero inputs) only ``nnz`` columns of
the first layer are touched, the lazy decay deferring the rest; the input is
``nnz`` values and their int64 indices.

Minibatch training is bounded by the FMA peak alone (:func:`minibatch_flops`),
prediction (:func:`prediction`) by its flops and by streaming the inputs from
memory, once.  Every function takes ``limits``, a :func:`benchmarks.limits.measure`
result, and returns plain numbers, so the report can be re-rendered from JSON.
"""

INDEX_BYTES = 8


def n_weights(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def n_params(sizes):
    return n_weights(sizes) + sum(sizes[1:])


def _level(limits, nbytes):
    """'l1' when nbytes fit in half of L1 (the rest holds the activations and
    the input), else 'l2'."""
    return "l1" if nbytes <= limits["cache"]["l1"] // 2 else "l2"


def per_sample(sizes, itemsize, limits, nnz=None):
    """The bound of per-sample SGD on a network of ``sizes``.

    ``itemsize``: 8 (float64) or 4 (float32); ``nnz``: non-zero inputs per
    sample through the sparse first layer, or None for dense rows.  Returns a
    dict: ``samples_per_s``, and per phase the seconds by flops and by bytes
    (``forward_flop_s``, ``forward_byte_s``, ``backward_flop_s``,
    ``backward_byte_s``), ``level`` (the cache whose bandwidth counts) and
    ``limit`` ('bandwidth' or 'FMA', whichever sets the bound).
    """
    sizes = list(sizes)
    dtype = "float64" if itemsize == 8 else "float32"
    peak = limits[dtype]["fma_gflops"] * 1e9
    bw = limits["bandwidth"]
    level = _level(limits, n_params(sizes) * itemsize)
    first_in = sizes[0] if nnz is None else nnz
    touched_w = first_in * sizes[1] + n_weights(sizes[1:])
    touched = touched_w + sum(sizes[1:])
    in_bytes = sizes[0] * itemsize if nnz is None else nnz * (itemsize + INDEX_BYTES)
    fwd_flop = 2.0 * touched_w / peak
    fwd_byte = (touched * itemsize + in_bytes) / (bw[f"{level}_read"] * 1e9)
    bwd_flop = (2.0 * touched_w + 2.0 * n_weights(sizes[1:])) / peak
    bwd_byte = 2.0 * touched * itemsize / (bw[f"{level}_rmw"] * 1e9)
    seconds = max(fwd_flop, fwd_byte) + max(bwd_flop, bwd_byte)
    by_bytes = fwd_byte >= fwd_flop and bwd_byte >= bwd_flop
    return {"samples_per_s": 1.0 / seconds, "forward_flop_s": fwd_flop,
            "forward_byte_s": fwd_byte, "backward_flop_s": bwd_flop,
            "backward_byte_s": bwd_byte, "level": level,
            "limit": "bandwidth" if by_bytes else "FMA"}


def minibatch_flops(sizes, batch_size, optimizer_flops=10):
    """Flops per training sample of minibatch training: the forward (2 x weights),
    the weight gradient (2 x weights) and the deltas of every layer but the
    first (2 x those weights), plus ``optimizer_flops`` per parameter per step
    (Adam: two moments, a square root, a division: about 10) over the batch."""
    w = n_weights(sizes)
    return 4.0 * w + 2.0 * n_weights(list(sizes)[1:]) + optimizer_flops * n_params(sizes) \
        / batch_size


def fraction_of_peak(samples_per_s, flops_per_sample, dtype, limits):
    """The fraction of the FMA peak that samples_per_s of flops_per_sample each is."""
    return samples_per_s * flops_per_sample / (limits[dtype]["fma_gflops"] * 1e9)


def prediction(sizes, itemsize, limits):
    """The bound of batch prediction: ``samples_per_s`` and ``limit``.  The
    weights stay in cache across a block of rows; every input row is read from
    memory once; the flops are one multiply-add per weight."""
    dtype = "float64" if itemsize == 8 else "float32"
    flop = 2.0 * n_weights(sizes) / (limits[dtype]["fma_gflops"] * 1e9)
    byte = sizes[0] * itemsize / (limits["bandwidth"]["mem_read"] * 1e9)
    return {"samples_per_s": 1.0 / max(flop, byte), "flop_s": flop, "byte_s": byte,
            "limit": "FMA" if flop >= byte else "bandwidth"}
