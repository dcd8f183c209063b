"""What an activation costs per epoch on the painting net: paired timings in one process.

    python -m benchmarks.activation_cost [--rounds 9] [--size 64] [--cpu-time]
                                         [--activations relu,gelu,tanh]

Per-sample SGD epochs (the kernels' ``train`` at batch size 1) of the painting
net [2, 100 x 10, 3] with an identity output and squared error, on the pixel
coordinates of a ``--size`` x ``--size`` image, float64.  Every hidden layer
uses the activation under test; the first one listed is the baseline.

Protocol: one thread (threadpoolctl); the activations interleaved round by
round, each from the same initial weights and the same sample order, so that
load changes on a shared machine hit them alike; the cost is the median over
rounds of the per-round ratio to the baseline.  ``--cpu-time`` times the
process' CPU time instead of the wall clock (steadier on a loaded machine).
"""

import argparse
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from annfast import _kernels

HIDDEN = (100,) * 10


def rows(activations, rounds, size, seed, clock):
    from benchmarks.sklearn_compare import painting_data

    _, X, Y = painting_data(size)
    X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
    sizes = [X.shape[1], *HIDDEN, Y.shape[1]]
    rng = np.random.default_rng(seed)
    archs = {a: _kernels.Arch(sizes, [a] * len(HIDDEN) + ["identity"], "mse")
             for a in activations}
    n_params = archs[activations[0]].n_params
    p0 = rng.normal(0, 0.1, n_params)
    times = {a: [] for a in activations}
    for _ in range(rounds):
        order = rng.permutation(len(X))
        for a, arch in archs.items():
            params = p0.copy()
            start = clock()
            _kernels.train(arch, params, np.empty(0), X, Y, order, 1, "sgd", 1e-3, 0.0)
            times[a].append(clock() - start)
    base = np.array(times[activations[0]])
    out = []
    for a in activations:
        ratio = np.array(times[a]) / base
        out.append((a, float(np.median(times[a])) * 1e3, float(np.median(ratio)),
                    float(ratio.min()), float(ratio.max())))
    return len(X), out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.activation_cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--activations", default="relu,gelu,tanh")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU time (process_time) instead of the wall clock")
    args = parser.parse_args(argv)
    activations = [a.strip() for a in args.activations.split(",") if a.strip()]
    if len(activations) < 2:
        parser.error("--activations needs a baseline and at least one other")
    clock = time.process_time if args.cpu_time else time.perf_counter
    with threadpool_limits(limits=1):
        n, table = rows(activations, args.rounds, args.size, args.seed, clock)
    print(f"painting net [2, 100 x 10, 3], per-sample SGD, float64, {n} samples per epoch, "
          f"{_kernels.isa_name(_kernels.DEFAULT_ISA)} kernels")
    print(f"| hidden activation | ms/epoch (median) | time / {activations[0]} (min-max) |")
    print("|---|---:|---:|")
    for a, ms, ratio, lo, hi in table:
        print(f"| {a} | {ms:.1f} | {ratio:.3f} ({lo:.3f}-{hi:.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
