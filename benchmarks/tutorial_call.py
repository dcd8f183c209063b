"""Issue 18's list-input target, paired: the tutorial script's whole
``train(training_data, epochs=5)`` call on its 3,500 binarised (x, y) pairs
(x an int64 (784,) array of 0/1, y a (10, 1) column), annfast against the
tutorial class, through compare's own workload (``run_train_call``: the calls
interleaved, annfast float64, float32, tutorial, once per repeat).

    python -m benchmarks.tutorial_call [--repeats 7]
    ANNFAST_SIMD=avx2 python -m benchmarks.tutorial_call

Prints each repeat's speed-up (tutorial time / annfast time of the same
repeat) and their median, min and max; then, paired the same way, what the
conversion of the list costs: the one compiled pass into CSR against the
general path (stack the rows with NumPy, cast, then the CSR pass).
"""

import argparse
import time

import numpy as np

from benchmarks.compare import run_train_call
from benchmarks.workloads import TUTORIAL_SIZES, mnist_task


def _conversion(repeats):
    from annfast import NeuralNet

    task = mnist_task(True)
    pairs = [(x.astype(int), y.reshape(-1, 1)) for x, y in zip(task.X, task.Y)]
    net = NeuralNet(list(TUTORIAL_SIZES), seed=0)
    xs = tuple(x for x, _ in pairs)

    def one_pass():
        return net._as_dataset(pairs, "training_data")

    def general():
        inputs = net._stacked_inputs(xs, "training_data")
        return inputs.sparse_rows()

    times = {"one pass": [], "general": []}
    for r in range(repeats + 1):
        for name, fn in (("one pass", one_pass), ("general", general))[::1 if r % 2 else -1]:
            t0 = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - t0)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    from annfast import _kernels

    print(f"annfast SIMD level {_kernels.isa_name(_kernels.DEFAULT_ISA)!r}")
    run = run_train_call(None, args.repeats)
    tut = np.array(run["results"]["tutorial"]["seconds"])
    for key in ("annfast-f64", "annfast-f32"):
        s = np.array(run["results"][key]["seconds"])
        ratio = tut / s
        print(f"{key}: call {np.median(s) * 1e3:.1f} ms [{s.min() * 1e3:.1f}-{s.max() * 1e3:.1f}]"
              f", tutorial {np.median(tut):.2f} s; speed-up median {np.median(ratio):.1f}x "
              f"[{ratio.min():.1f}-{ratio.max():.1f}] over {len(ratio)} pairs: "
              + " ".join(f"{r:.1f}" for r in ratio))
    conv = _conversion(args.repeats)
    a, b = np.array(conv["one pass"]), np.array(conv["general"])
    print(f"list to CSR (float64): one pass {np.median(a) * 1e3:.1f} ms "
          f"[{a.min() * 1e3:.1f}-{a.max() * 1e3:.1f}], general path {np.median(b) * 1e3:.1f} ms "
          f"[{b.min() * 1e3:.1f}-{b.max() * 1e3:.1f}], paired ratio {np.median(b / a):.1f}x")


if __name__ == "__main__":
    main()
