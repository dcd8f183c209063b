"""One prediction block, [784, 32, 10]: the compiled forward pass at AVX2 and at
AVX-512 against NumPy's forward (OpenBLAS) and its first-layer GEMM alone.

    python -m benchmarks.predict_block            # 1,964 rows: annfast's block size here
    python -m benchmarks.predict_block --rows 10000 --calls 20

Interleaved calls in one process, one BLAS thread; each figure is the best
call (a kernel's speed, not the neighbours' share of the machine), in GFLOP/s
of the network's multiply-adds (two flops each) and as a ratio to the NumPy
forward.  Benchmarks only.
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from annfast import _kernels

SIZES = [784, 32, 10]


def measure(rows, calls, dtype, rng):
    """{name: best seconds} for one dtype."""
    W1 = (rng.normal(size=(32, 784)) * 0.05).astype(dtype)
    b1 = rng.normal(size=32).astype(dtype)
    W2 = (rng.normal(size=(10, 32)) * 0.1).astype(dtype)
    b2 = rng.normal(size=10).astype(dtype)
    params = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    X = ((rng.random((rows, 784)) > 0.8) - 0.1).astype(dtype)
    out = np.empty((rows, 10), dtype=dtype)

    def numpy_forward():
        z = X @ W1.T
        z += b1
        np.maximum(z, 0, out=z)
        z2 = z @ W2.T
        z2 += b2
        z2 -= z2.max(axis=1, keepdims=True)
        np.exp(z2, out=z2)
        z2 /= z2.sum(axis=1, keepdims=True)
        return z2

    fns = {"NumPy forward": numpy_forward, "its GEMM X @ W1.T alone": lambda: X @ W1.T}
    for isa in ("avx2", "avx512"):
        if _kernels.ISA_NAMES[isa] <= _kernels.CPU_ISA:
            arch = _kernels.Arch(SIZES, ["relu", "softmax"], "ce", isa=_kernels.ISA_NAMES[isa])
            fns[f"annfast {isa}"] = lambda arch=arch: _kernels.forward(arch, params, X, out)
    best = dict.fromkeys(fns, np.inf)
    for f in fns.values():
        f()
    for _ in range(calls):
        for name, f in fns.items():
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.predict_block",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1964)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args(argv)
    flops = 2 * (784 * 32 + 32 * 10) * args.rows
    rng = np.random.default_rng(0)
    print("| dtype | contender | best ms | GFLOP/s | x NumPy forward |")
    print("|---|---|---:|---:|---:|")
    with threadpool_limits(1):
        for dtype in (np.float64, np.float32):
            best = measure(args.rows, args.calls, dtype, rng)
            base = best["NumPy forward"]
            for name, s in best.items():
                print(f"| {np.dtype(dtype).name} | {name} | {1e3 * s:.2f} | "
                      f"{flops / s / 1e9:.1f} | {base / s:.2f}x |")


if __name__ == "__main__":
    main()
