"""Training speed of the annfast build at hand, to compare its C kernel variants.

    python -m benchmarks.variant_speed                        # this build, best level
    ANNFAST_SIMD=baseline python -m benchmarks.variant_speed  # its SSE2 baseline

Run it under each build (the default one, then one made with
``ANNFAST_PORTABLE=1 pip install .``, as MSVC builds always are) and divide the
figures.  One epoch of the tutorial net [784, 32, 10] through ``NeuralNet.fit``
on the MNIST subset, dense pixels and binarised (sparse path), float64 and
float32; the best of ``--rounds`` epochs, one thread, since the fastest round
is the one least disturbed by other work on the machine.
"""

import argparse
import re
import time

import numpy as np

from annfast import _kernels
from benchmarks import contenders as C
from benchmarks.compare import single_thread
from benchmarks.workloads import mnist_task


def variant():
    """The variant string csrc/af_kernels.c embeds in the compiled module."""
    with open(_kernels.__file__, "rb") as f:
        found = re.search(rb"annfast kernel variant: ([^\0]*)\0", f.read())
    return found.group(1).decode() if found else "unknown"


def best_epoch_seconds(task, cls, rounds):
    contender = cls(task, C.initial_params(task))
    order = np.random.default_rng(0).permutation(task.n_train)
    contender.train_epoch(order)  # warm-up
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        contender.train_epoch(order)
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"variant: {variant()}; level: {_kernels.isa_name(_kernels.DEFAULT_ISA)}")
    with single_thread():
        for binarize in (False, True):
            task = mnist_task(binarize)
            for cls in (C.AnnfastF64, C.AnnfastF32):
                s = best_epoch_seconds(task, cls, args.rounds)
                inputs = "binarised" if binarize else "dense"
                print(f"{inputs:9s} {cls.label:16s} {task.n_train / s:10,.0f} samples/s")


if __name__ == "__main__":
    main()
