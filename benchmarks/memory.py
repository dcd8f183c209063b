"""Memory cost of training: traced allocations per sample and peak RSS.

* :func:`traced_bytes` runs one epoch under ``tracemalloc`` (after a warm-up
  epoch) and reports the peak of memory allocated on top of what was live
  before, divided by the number of samples.  An implementation that allocates
  nothing per sample scores ~0; one that builds an index array per epoch
  scores ~8 (one int64 per sample).
* :func:`peak_rss` trains in a fresh subprocess (``python -m benchmarks.memory``)
  so that runs cannot inherit each other's high-water mark; it resets the
  kernel's high-water mark after the data is built, so the figure is the
  growth caused by training alone (Linux; elsewhere the raw maximum RSS).
  The data there is synthetic 0/1 pixels with MNIST's density.
"""

import argparse
import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np

from annfast import NeuralNet, _kernels
from benchmarks.workloads import TUTORIAL_LR, TUTORIAL_REG_LAMBDA, TUTORIAL_SIZES, mnist_splits


def mnist_rows(n, dtype=np.float64, binarize=True):
    """(X, Y) with n rows of the MNIST training split, repeated if n is larger."""
    (X, y), _ = mnist_splits(binarize)
    idx = np.arange(n) % len(X)
    Y = np.zeros((n, TUTORIAL_SIZES[-1]), dtype=dtype)
    Y[np.arange(n), y[idx]] = 1
    return np.ascontiguousarray(X[idx], dtype=dtype), Y


def _net(dtype):
    return NeuralNet(list(TUTORIAL_SIZES), TUTORIAL_LR, TUTORIAL_REG_LAMBDA, dtype=dtype,
                     seed=0)


def _traced_peak(fn):
    """Peak bytes allocated while fn() runs, above what was live before it."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def _traced_epoch(n, dtype):
    """Traced peak bytes of (fit 1 epoch, fit 5 epochs, bare kernel call) on n samples."""
    X, Y = mnist_rows(n, dtype)
    net = _net(dtype)
    net.fit(X, Y, epochs=1)  # warm-up: first-call allocations do not count
    fit1 = _traced_peak(lambda: net.fit(X, Y, epochs=1))
    fit5 = _traced_peak(lambda: net.fit(X, Y, epochs=5))
    arch = net._arch()
    params = net._params.copy()
    state = np.empty(0, dtype=dtype)
    order = np.arange(n, dtype=np.int64)
    mu = TUTORIAL_REG_LAMBDA / n

    def bare():
        _kernels.train(arch, params, state, X, Y, order, 1, "sgd", TUTORIAL_LR, mu)

    bare()
    return fit1, fit5, _traced_peak(bare)


def traced_bytes(sizes=(1000, 3500), dtype=np.float64):
    """Traced bytes of one training epoch of the tutorial net, per sample and per call.

    Measured at two epoch sizes n1 < n2; the slope (b2 - b1) / (n2 - n1) is what
    each extra sample costs and the intercept what each call costs whatever its
    size (scratch and gradient buffers, O(n_params)).  Three paths: ``fit``,
    ``NeuralNet.fit(X, Y, epochs=1)`` on prepared arrays (the public path);
    ``fit_5_epochs``, the same with 5 epochs (its peak must not grow with the
    epochs); ``kernel``, one bare ``_kernels.train`` call with a prepared order.

    Returns a dict ``{path: {"bytes": [b1, b2], "per_sample": slope,
    "per_call": intercept}}`` plus the sizes and dtype.
    """
    n1, n2 = sizes
    m1, m2 = _traced_epoch(n1, dtype), _traced_epoch(n2, dtype)
    result = {"sizes": [n1, n2], "dtype": np.dtype(dtype).name}
    for i, path in enumerate(("fit", "fit_5_epochs", "kernel")):
        b1, b2 = m1[i], m2[i]
        slope = (b2 - b1) / (n2 - n1)
        result[path] = {"bytes": [b1, b2], "per_sample": slope, "per_call": b1 - slope * n1}
    return result


def _status_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm():
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def synthetic_rows(n, dtype=np.float64, density=0.19, seed=0):
    """(X, Y) shaped like the binarised MNIST rows: 0/1 pixels, ``density`` of them 1.

    Memory does not depend on the values, and this avoids loading the data set
    in every measuring subprocess.
    """
    rng = np.random.default_rng(seed)
    X = (rng.random((n, TUTORIAL_SIZES[0])) < density).astype(dtype)
    Y = np.zeros((n, TUTORIAL_SIZES[-1]), dtype=dtype)
    Y[np.arange(n), rng.integers(0, TUTORIAL_SIZES[-1], n)] = 1
    return X, Y


def _measure_rss(n, epochs, dtype):
    """In this process: build the data, warm up, then train and report RSS (kB)."""
    X, Y = synthetic_rows(n, dtype)
    net = _net(dtype)
    net.fit(X[:10], Y[:10], epochs=1)  # import-time and first-call costs
    baseline = _status_kb("VmRSS")
    reset = _reset_hwm()
    net.fit(X, Y, epochs=epochs)
    peak = _status_kb("VmHWM")
    if peak is None:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"n_samples": n, "epochs": epochs, "dtype": np.dtype(dtype).name,
            "data_kb": (X.nbytes + Y.nbytes) // 1024, "rss_before_kb": baseline,
            "peak_rss_kb": peak, "growth_kb": (peak - baseline) if reset and baseline else None,
            "hwm_reset": reset}


def peak_rss(n, epochs=1, dtype="float64"):
    """Run :func:`_measure_rss` in a fresh interpreter and return its dict."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "benchmarks.memory", "--samples", str(n),
           "--epochs", str(epochs), "--dtype", dtype]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Peak RSS of one training run (JSON).")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    args = parser.parse_args(argv)
    print(json.dumps(_measure_rss(args.samples, args.epochs, np.dtype(args.dtype).type)))


if __name__ == "__main__":
    main()
