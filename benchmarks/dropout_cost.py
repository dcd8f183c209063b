"""What dropout costs per epoch: one process alternates epochs with and without
dropout 0.2 on the hidden layer of [784, 32, 10] (3,500 binarised rows, the
workload of ``instruction_counts epoch``), so that a shared machine's drift
hits both alike, and prints the median of the paired time ratios.

    python -m benchmarks.dropout_cost [PAIRS] [BATCH]

BATCH 1 (the default) is the per-sample kernel; 32 the GEMM minibatch path.
"""

import sys
import time

import numpy as np


def main(argv):
    from annfast import _kernels

    pairs = int(argv[0]) if argv else 30
    batch = int(argv[1]) if len(argv) > 1 else 1
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        X = (rng.random((3500, 784)) < 0.2).astype(dtype)
        Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 3500)]
        arch = _kernels.Arch([784, 32, 10], ["relu", "softmax"], "ce")
        p0 = rng.normal(0, 0.05, arch.n_params).astype(dtype)
        order = rng.permutation(len(X))
        times = {"none": [], "dropout": []}
        for pair in range(pairs + 1):
            # Alternate which goes first, so neither always follows the other.
            kinds = ("none", "dropout") if pair % 2 else ("dropout", "none")
            for kind in kinds:
                extra = {} if kind == "none" else {"dropout": [0.2], "dropout_seed": pair}
                p = p0.copy()
                start = time.perf_counter()
                _kernels.train(arch, p, np.empty(0, dtype), X, Y, order, batch, "sgd", 0.01,
                               1e-5, **extra)
                if pair:  # the first pair warms up
                    times[kind].append(time.perf_counter() - start)
        ratio = np.median(np.array(times["dropout"]) / np.array(times["none"]))
        print(f"{np.dtype(dtype).name} batch {batch}: no dropout "
              f"{1e3 * np.median(times['none']):.1f} ms/epoch, dropout 0.2 "
              f"{1e3 * np.median(times['dropout']):.1f} ms/epoch, median paired ratio "
              f"{ratio:.3f} ({pairs} pairs)")


if __name__ == "__main__":
    main(sys.argv[1:])
