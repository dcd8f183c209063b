"""Issue 18's sparse target, measured paired: annfast's ``fit(epochs=5)`` on
binarised MNIST [784, 32, 10] against plain C kernels doing the same 5 epochs.

    python -m benchmarks.sparse_vs_c [--rounds 9] [--dtype f64,f32]
    ANNFAST_SIMD=avx2 python -m benchmarks.sparse_vs_c

Instruction counts (repeatable where wall-clock times are not): the count of
one contender's ``fit(epochs=5)`` is the difference between ``--rounds 2``
and ``--rounds 1``:

    valgrind --tool=callgrind --callgrind-out-file=cg.out \
        python -m benchmarks.sparse_vs_c --dtype f64 --count annfast --rounds 2

Contenders, each timed once per round, in an order that rotates every round
(one process, so all see the same load; the ratio of each round is the pair):

* ``annfast``: ``NeuralNet.fit(X, Y, epochs=5)`` on the 3,500 binarised
  training rows already in its dtype: the call a user makes, its per-call
  checks and the conversion to CSR included.
* ``plain-c``: benchmarks/plain_c.c's sparse first layer (widths at run time),
  CSR built once outside the timing.
* ``fixed-32``: benchmarks/plain_c_fixed.c, the issue's reference kernel
  (hidden width 32 and 10 outputs fixed at compile time, sums in registers,
  CSR built once outside the timing), at ``-march=native`` and, as the AVX2
  machine's compiler would build it, ``-march=native -mno-avx512f``.

All C is built with ``-O3 -ffast-math`` (see benchmarks/plain_c.py for why).
Prints the rate of each contender and annfast's speed-up over each C kernel:
median and min-max over the rounds.
"""

import argparse
import ctypes
import hashlib
import os
import shutil
import subprocess
import time

import numpy as np

from benchmarks import plain_c
from benchmarks.contenders import initial_params, layer_arrays
from benchmarks.workloads import SEED, mnist_task

HERE = os.path.dirname(os.path.abspath(__file__))
FIXED_SOURCE = os.path.join(HERE, "plain_c_fixed.c")
MARCH = {"native": ["-march=native"], "native-avx2": ["-march=native", "-mno-avx512f"]}


def load_fixed(dtype, march, hidden=32, outputs=10):
    """benchmarks/plain_c_fixed.c compiled for dtype and march (a MARCH key), or None."""
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        return None
    c_name, _ = plain_c.C_TYPES[dtype]
    flags = ["-O3", *MARCH[march], "-ffast-math", "-fPIC", f"-DH={hidden}",
             f"-DK={outputs}", f"-DTYPE={c_name}"]
    with open(FIXED_SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read() + " ".join(flags).encode()).hexdigest()[:12]
    out_dir = os.path.join(HERE, "out")
    os.makedirs(out_dir, exist_ok=True)
    lib_path = os.path.join(out_dir, f"plain_c_fixed_{c_name}_{digest}.so")
    if not os.path.exists(lib_path):
        plain_c.build(cc, flags, FIXED_SOURCE, lib_path)
    lib = ctypes.CDLL(lib_path)
    p = ctypes.c_void_p
    lib.plain_c_fixed_epoch.restype = ctypes.c_double
    lib.plain_c_fixed_epoch.argtypes = [ctypes.c_int64, p, p, p, p, p, p, ctypes.c_int64,
                                        ctypes.c_double, ctypes.c_double, p]
    return lib


class FixedC:
    def __init__(self, lib, task, params, csr, dtype):
        self.lib, self.task = lib, task
        self.params = np.ascontiguousarray(params, dtype=dtype)
        self.data, self.indices, self.indptr = (np.ascontiguousarray(a) for a in csr)
        self.Y = np.ascontiguousarray(task.Y, dtype=dtype)
        self.wt = np.zeros(task.sizes[0] * task.sizes[1], dtype=dtype)

    def train_epoch(self, order):
        return self.lib.plain_c_fixed_epoch(
            self.task.sizes[0], self.params.ctypes.data, self.indptr.ctypes.data,
            self.indices.ctypes.data, self.data.ctypes.data, self.Y.ctypes.data,
            order.ctypes.data, len(order), self.task.lr, self.task.mu, self.wt.ctypes.data)


def contenders(task, dtype, epochs):
    """{name: zero-argument callable running `epochs` epochs}."""
    from annfast import NeuralNet, _sparse

    params = initial_params(task)
    X = np.ascontiguousarray(task.X, dtype=dtype)
    Y = np.ascontiguousarray(task.Y, dtype=dtype)
    net = NeuralNet(list(task.sizes), task.lr, task.mu * task.n_train, dtype=dtype, seed=SEED)
    weights, biases = layer_arrays(task, params)
    for i, (w, b) in enumerate(zip(weights, biases)):
        net.weights[i][...] = w
        net.biases[i][...] = b.reshape(-1, 1)
    csr = _sparse.csr_arrays(task.X, dtype)
    rng = np.random.default_rng(SEED)
    orders = [rng.permutation(task.n_train).astype(np.int64) for _ in range(epochs)]
    runs = {"annfast": lambda: net.fit(X, Y, epochs=epochs)}
    lib = plain_c.load(dtype)
    if lib is not None:
        pc = plain_c.PlainCNet(lib, task.sizes, params, True, task.X, task.Y, csr, task.lr,
                               task.mu, dtype)
        runs["plain-c"] = lambda: [pc.train_epoch(o) for o in orders]
    for march in MARCH:
        flib = load_fixed(dtype, march)
        if flib is not None:
            fc = FixedC(flib, task, params, csr, dtype)
            runs[f"fixed-32 {march}"] = lambda fc=fc: [fc.train_epoch(o) for o in orders]
    return runs


def measure(runs, rounds):
    names = list(runs)
    times = {name: [] for name in names}
    for name in names:  # warm-up
        runs[name]()
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dtype", default="f64,f32")
    parser.add_argument("--count", metavar="CONTENDER", help="for callgrind: build every "
                        "contender, then run only this one --rounds times, untimed")
    args = parser.parse_args(argv)
    from annfast import _kernels

    task = mnist_task(True)
    if args.count:
        for name in args.dtype.split(","):
            run = contenders(task, {"f64": np.float64, "f32": np.float32}[name],
                             args.epochs)[args.count]
            for _ in range(args.rounds):
                run()
        return
    print(f"binarised MNIST {list(task.sizes)}, {task.n_train} rows, density "
          f"{task.density:.3f}; annfast SIMD level {_kernels.isa_name(_kernels.DEFAULT_ISA)!r}; "
          f"{args.rounds} rounds of fit(epochs={args.epochs})")
    for name in args.dtype.split(","):
        dtype = {"f64": np.float64, "f32": np.float32}[name]
        times = measure(contenders(task, dtype, args.epochs), args.rounds)
        n = task.n_train * args.epochs
        print(f"\n{name}: samples/s, median [min-max]")
        for c, ts in times.items():
            rates = n / np.array(ts)
            print(f"  {c:22s} {np.median(rates):>10,.0f} [{rates.min():,.0f}-{rates.max():,.0f}]")
        base = np.array(times["annfast"])
        for c, ts in times.items():
            if c == "annfast":
                continue
            ratio = np.array(ts) / base
            print(f"  annfast / {c:18s} {np.median(ratio):.2f}x "
                  f"[{ratio.min():.2f}-{ratio.max():.2f}]")


if __name__ == "__main__":
    main()
