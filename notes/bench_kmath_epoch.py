"""Per-sample SGD epochs of a [784, 32, 10] net on random binarised rows.

    python notes/bench_kmath_epoch.py f64 relu 25 none    # best and median wall time
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python notes/bench_kmath_epoch.py f64 relu 6 none  # instruction count

Arguments: dtype (f32|f64), hidden activation, epochs, sample weights (none|ones).
Instructions per epoch = (count at N epochs - count at 1 epoch) / (N - 1): on a
shared machine wall times swing by 2x, instruction counts do not.
"""
import sys
import time

import numpy as np

from annfast import _kernels

dtype = np.float32 if sys.argv[1] == "f32" else np.float64
hidden, epochs, weights = sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
X = (rng.random((3500, 784)) < 0.2).astype(dtype)
Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 3500)]
# Codes, not names, and no sample_weight argument unless asked: the script also
# runs on builds from before the activation tables.
codes = _kernels.ACTIVATION_CODES
arch = _kernels.Arch([784, 32, 10], [codes[hidden], codes["softmax"]], _kernels.LOSS_CODES["ce"])
p0 = rng.normal(0, 0.05, arch.n_params).astype(dtype)
extra = {} if weights == "none" else {"sample_weight": np.ones(len(X))}
times = []
for _ in range(epochs):
    p = p0.copy()
    order = rng.permutation(len(X))
    t = time.perf_counter()
    _kernels.train(arch, p, np.empty(0, dtype), X, Y, order, 1, "sgd", 0.01, 1e-5, **extra)
    times.append(time.perf_counter() - t)
print(f"{sys.argv[1]} {hidden} weights={weights}: best {min(times) * 1e3:.2f} ms, "
      f"median {np.median(times) * 1e3:.2f} ms per epoch")
