"""The workloads of the bounds table, small and fixed, for callgrind's counts.

Where a figure stays far from its bound (benchmarks/RESULTS.md), these show
where the instructions go, repeatably on a shared machine::

    valgrind --tool=callgrind --callgrind-out-file=OUT python -m benchmarks.bound_profiles \\
        WORKLOAD DTYPE
    callgrind_annotate OUT | head -30

WORKLOAD: ``dense`` (per-sample SGD, [784, 32, 10], 1,000 dense rows),
``sparse`` (the same on 1,000 binarised rows through the sparse first layer),
``painting`` (per-sample SGD, [2, 100x10, 3], 1,000 pixels), ``minibatch``
(annfast.sklearn's MLPRegressor at scikit-learn's defaults, Adam, batch 200,
[2, 100x10, 3], 2,000 pixels), ``predict`` (NeuralNet.predict of 10,000 dense
rows); DTYPE: ``f64`` or ``f32``.  Each trains or predicts twice: run with a
third argument ``1`` to do it once and subtract, which leaves one pass without
the start-up.  ANNFAST_SIMD picks the instruction set as usual.
"""

import sys

import numpy as np


def main(argv):
    import scipy.linalg  # noqa: F401  (its OpenBLAS, loaded before the limit)
    from threadpoolctl import threadpool_limits

    import annfast  # noqa: F401

    with threadpool_limits(limits=1):  # as benchmarks.compare: one BLAS thread
        _run(argv)


def _run(argv):
    which, dtype_name = argv[0], argv[1]
    passes = int(argv[2]) if len(argv) > 2 else 2
    dtype = np.float32 if dtype_name == "f32" else np.float64
    from annfast import NeuralNet

    rng = np.random.default_rng(0)
    if which in ("dense", "sparse", "predict"):
        n = 10_000 if which == "predict" else 1000
        X = rng.random((n, 784)) if which != "sparse" else (rng.random((n, 784)) < 0.19) * 1.0
        X = X.astype(dtype)
        Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
        net = NeuralNet([784, 32, 10], 0.05, 0.01, dtype=dtype, seed=0)
        for _ in range(passes):
            if which == "predict":
                net.predict(X)
            else:
                net.fit(X, Y, epochs=1)
    elif which == "painting":
        X, Y = rng.random((1000, 2)).astype(dtype), rng.random((1000, 3)).astype(dtype)
        net = NeuralNet([2] + [100] * 10 + [3], 0.01, 0.0, dtype=dtype, seed=0,
                        output="identity")
        for _ in range(passes):
            net.fit(X, Y, epochs=1)
    elif which == "minibatch":
        from annfast.sklearn import MLPRegressor  # only here: scikit-learn is slow to load

        X, Y = rng.random((2000, 2)).astype(dtype), rng.random((2000, 3)).astype(dtype)
        est = MLPRegressor(hidden_layer_sizes=(100,) * 10, random_state=0, dtype=dtype)
        for _ in range(passes):
            est.partial_fit(X, Y)
    else:
        raise SystemExit(f"unknown workload {which!r}; see the module docstring")


if __name__ == "__main__":
    main(sys.argv[1:])
