"""What sample weights cost per epoch: paired timings in one process.

    python -m benchmarks.sample_weight_cost [--rounds 15] [--painting-rounds 5] [--cpu-time]

Kernel epochs of [784, 32, 10] on 3,500 binarised rows (dense X, float64),
each setting three ways: no weights; weights of one by Keras' rule
(``sample_weight=ones``); weights in [0.5, 1.5) by scikit-learn's rule
(``weight_divisor='sum'``).  Then scikit-learn's defaults (Adam, batch 200) on
the painting net [2, 100x10, 3] through ``annfast.sklearn.MLPRegressor.partial_fit``
with and without ``sample_weight``.

Protocol: one thread (threadpoolctl), the variants of a setting interleaved
round by round so that load changes on a shared machine hit them alike; the
cost is the median over rounds of the per-round ratio to no weights.
``--cpu-time`` times the process' CPU time instead of the wall clock (steadier on
a loaded machine).
"""

import argparse
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from annfast import _kernels

#: time.perf_counter, or time.process_time with --cpu-time.
clock = time.perf_counter

SETTINGS = [("per-sample sgd", 1, "sgd"), ("sgd, batch 32", 32, "sgd"),
            ("adam, batch 200", 200, "adam")]


def kernel_rows(rounds, rng):
    X = (rng.random((3500, 784)) < 0.2).astype(np.float64)
    Y = np.eye(10)[rng.integers(0, 10, 3500)]
    arch = _kernels.Arch([784, 32, 10], ["relu", "softmax"], "ce")
    p0 = rng.normal(0, 0.05, arch.n_params)
    variants = {"none": {}, "ones (Keras' rule)": {"sample_weight": np.ones(len(X))},
                "random (scikit-learn's rule)": {"sample_weight": rng.uniform(0.5, 1.5, len(X)),
                                                 "weight_divisor": "sum"}}
    rows = []
    for label, batch, optimizer in SETTINGS:
        state0 = np.zeros(_kernels.opt_state_size(optimizer, arch.n_params))
        times = {v: [] for v in variants}
        for _ in range(rounds):
            order = rng.permutation(len(X))
            for name, extra in variants.items():
                params, state = p0.copy(), state0.copy()
                start = clock()
                _kernels.train(arch, params, state, X, Y, order, batch, optimizer, 0.01, 1e-5,
                               **extra)
                times[name].append(clock() - start)
        base = np.array(times["none"])
        for name in variants:
            ratio = np.array(times[name]) / base
            rows.append((label, name, float(np.median(times[name])) * 1e3,
                         float(np.median(ratio)), float(ratio.min()), float(ratio.max())))
    return rows


def painting_rows(rounds, rng):
    from benchmarks.sklearn_compare import HIDDEN, painting_data

    from annfast.sklearn import MLPRegressor

    _, X, Y = painting_data(100)
    w = rng.uniform(0.5, 1.5, len(X))
    models = {"none": (MLPRegressor(hidden_layer_sizes=HIDDEN, random_state=0), None),
              "random (scikit-learn's rule)": (MLPRegressor(hidden_layer_sizes=HIDDEN, random_state=0), w)}
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name, (model, weights) in models.items():
            start = clock()
            model.partial_fit(X, Y, sample_weight=weights)
            times[name].append(clock() - start)
    base = np.array(times["none"])
    rows = []
    for name in models:
        ratio = np.array(times[name]) / base
        rows.append(("painting net, Adam, batch 200 (estimator)", name,
                     float(np.median(times[name])) * 1e3, float(np.median(ratio)),
                     float(ratio.min()), float(ratio.max())))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sample_weight_cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--painting-rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU time (process_time) instead of the wall clock")
    args = parser.parse_args(argv)
    global clock
    clock = time.process_time if args.cpu_time else time.perf_counter
    rng = np.random.default_rng(args.seed)
    with threadpool_limits(limits=1):
        rows = kernel_rows(args.rounds, rng)
        if args.painting_rounds > 0:
            rows += painting_rows(args.painting_rounds, rng)
    print("| setting | weights | ms/epoch (median) | time / no weights (min-max) |")
    print("|---|---|---:|---:|")
    for label, name, ms, ratio, lo, hi in rows:
        print(f"| {label} | {name} | {ms:.1f} | {ratio:.3f} ({lo:.3f}-{hi:.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
