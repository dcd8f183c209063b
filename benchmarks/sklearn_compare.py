"""annfast.sklearn vs scikit-learn's own MLPRegressor on the painting network.

Run from the repository root::

    python -m benchmarks.sklearn_compare                 # about 2 minutes
    python -m benchmarks.sklearn_compare --sgd-epochs 1 --adam-epochs 2   # quick look

Workload: the tutorial's painting net, 2 inputs (row, column in [0, 1]) ->
10 hidden layers of 100 relu units -> 3 outputs (r, g, b in [0, 1]), on
scikit-learn's china.jpg resized to 100x100 (10,000 samples).

Two settings, each run by both libraries with identical hyperparameters and the
same ``random_state`` (so both start from the same weights, see the same shuffles
and compute the same updates: the final max |weight difference| is printed as a
check that both did the same work):

* per-sample SGD: ``solver='sgd', batch_size=1, momentum=0, learning_rate_init=0.01``;
* scikit-learn's defaults: ``solver='adam', batch_size='auto'`` (200);
* L-BFGS: scikit-learn's defaults but ``solver='lbfgs'`` (``max_iter=200``; less
  with ``--lbfgs-iter``), timed per whole ``fit``; with ``--lbfgs-weights`` also
  the same fit with ``sample_weight`` (uniform in [0.5, 1.5), seeded).

Protocol: one process, one thread (BLAS pools limited with threadpoolctl);
``--cpu-time`` times the process' CPU time instead of the wall clock (steadier
on a shared, loaded machine: one thread's CPU time is the work it did).
L-BFGS: whole fits, interleaved (annfast, scikit-learn, ...) ``--lbfgs-fits``
times; the speed-up is the median of the per-fit ratios.
Epochs run through ``partial_fit`` and are interleaved (annfast, scikit-learn,
annfast, ...) so load changes on a shared machine hit both alike; the speed-up
is the median over epochs of the per-epoch time ratio.  PSNR is measured after
the last epoch from each library's own ``predict``.
"""

import argparse
import platform
import shlex
import sys
import time
import warnings

import numpy as np
from sklearn import neural_network as skl
from threadpoolctl import threadpool_limits

from annfast import paint
from annfast.sklearn import MLPRegressor

HIDDEN = (100,) * 10
SETTINGS = {
    "per-sample SGD": {"solver": "sgd", "batch_size": 1, "momentum": 0.0,
                       "learning_rate_init": 0.01},
    "Adam, scikit-learn defaults": {},
}


def painting_data(size, dtype=np.float64):
    image = paint.load_image(None, size)
    X = paint.pixel_coordinates(*image.shape[:2]).astype(dtype)
    return image, X, (image.reshape(-1, 3) / 255.0).astype(dtype)


def psnr_of(estimator, image, X):
    painted = np.round(np.clip(estimator.predict(X), 0, 1) * 255).astype(np.uint8)
    return paint.psnr(image, painted.reshape(image.shape))


def compare(label, settings, epochs, image, X, Y, seed):
    """Train both libraries ``epochs`` epochs, interleaved; return a result dict."""
    models = {
        "annfast": MLPRegressor(hidden_layer_sizes=HIDDEN,
                                random_state=np.random.RandomState(seed), **settings),
        "scikit-learn": skl.MLPRegressor(hidden_layer_sizes=HIDDEN,
                                         random_state=np.random.RandomState(seed), **settings),
    }
    seconds = {name: [] for name in models}
    for epoch in range(epochs):
        for name, model in models.items():
            start = clock()
            model.partial_fit(X, Y)
            seconds[name].append(clock() - start)
        print(f"  {label}: epoch {epoch + 1}/{epochs}  "
              + "  ".join(f"{n} {s[-1]:.3f} s" for n, s in seconds.items()), file=sys.stderr)
    return _result(label, epochs, seconds, models["annfast"], models["scikit-learn"], image, X)


def _result(label, epochs, seconds, ours, theirs, image, X):
    """The result dict of one comparison: paired speed-up, PSNRs, weight gap."""
    diff = max(float(np.max(np.abs(a - b)))
               for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_))
    ratios = np.array(seconds["scikit-learn"]) / np.array(seconds["annfast"])
    return {
        "label": label,
        "epochs": epochs,
        "annfast_s": float(np.median(seconds["annfast"])),
        "sklearn_s": float(np.median(seconds["scikit-learn"])),
        "speedup": float(np.median(ratios)),
        "speedup_range": (float(ratios.min()), float(ratios.max())),
        "psnr_annfast": psnr_of(ours, image, X),
        "psnr_sklearn": psnr_of(theirs, image, X),
        "max_weight_diff": diff,
    }


#: The clock: time.perf_counter (wall) or time.process_time (--cpu-time).
clock = time.perf_counter


def compare_lbfgs(max_iter, fits, image, X, Y, seed, sample_weight=None):
    """Whole L-BFGS fits by both libraries, interleaved; return a result dict."""
    settings = {"hidden_layer_sizes": HIDDEN, "solver": "lbfgs", "max_iter": max_iter}
    classes = {"annfast": MLPRegressor, "scikit-learn": skl.MLPRegressor}
    seconds = {name: [] for name in classes}
    models = {}
    for fit in range(fits):
        for name, cls in classes.items():
            model = cls(random_state=np.random.RandomState(seed), **settings)
            start = clock()
            model.fit(X, Y, sample_weight=sample_weight)
            seconds[name].append(clock() - start)
            models[name] = model
        print(f"  L-BFGS: fit {fit + 1}/{fits}  "
              + "  ".join(f"{n} {s[-1]:.3f} s" for n, s in seconds.items()), file=sys.stderr)
    ours, theirs = models["annfast"], models["scikit-learn"]
    weighted = "" if sample_weight is None else ", sample_weight"
    label = f"L-BFGS, scikit-learn defaults{weighted} (n_iter_ {ours.n_iter_} / {theirs.n_iter_})"
    return _result(label, f"{fits} fits", seconds, ours, theirs, image, X)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sklearn_compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sgd-epochs", type=int, default=2)
    parser.add_argument("--adam-epochs", type=int, default=5)
    parser.add_argument("--lbfgs-iter", type=int, default=200,
                        help="max_iter of the L-BFGS fits (default: scikit-learn's 200)")
    parser.add_argument("--lbfgs-fits", type=int, default=1,
                        help="whole L-BFGS fits per library (default: 1)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU time (process_time) instead of the wall clock")
    parser.add_argument("--lbfgs-weights", action="store_true",
                        help="also time the L-BFGS fits with sample_weight")
    parser.add_argument("--only", choices=("sgd", "adam", "lbfgs"), action="append",
                        help="run only these settings (repeatable; default: all)")
    parser.add_argument("--size", type=int, default=100, help="image side (default: 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="data type of X and y; both libraries then train in it")
    args = parser.parse_args(argv)
    global clock
    clock = time.process_time if args.cpu_time else time.perf_counter
    image, X, Y = painting_data(args.size, np.dtype(args.dtype).type)
    epochs = {"per-sample SGD": args.sgd_epochs, "Adam, scikit-learn defaults": args.adam_epochs}
    results = []
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keys = {"per-sample SGD": "sgd", "Adam, scikit-learn defaults": "adam"}
        for label, settings in SETTINGS.items():
            if args.only is None or keys[label] in args.only:
                results.append(compare(label, settings, epochs[label], image, X, Y,
                                       args.seed))
        if args.only is None or "lbfgs" in args.only:
            results.append(compare_lbfgs(args.lbfgs_iter, args.lbfgs_fits, image, X, Y,
                                         args.seed))
            if args.lbfgs_weights:
                weights = np.random.default_rng(args.seed).uniform(0.5, 1.5, len(X))
                results.append(compare_lbfgs(args.lbfgs_iter, args.lbfgs_fits, image, X, Y,
                                             args.seed, weights.astype(X.dtype)))

    import sklearn

    import annfast

    command = "python -m benchmarks.sklearn_compare " + shlex.join(sys.argv[1:] if argv is None
                                                                    else argv)
    print(f"### annfast {annfast.__version__} vs scikit-learn {sklearn.__version__}: painting "
          f"net [2, 100x10, 3], {len(X)} samples, {args.dtype}\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}; one process, one thread; "
          f"{'CPU' if args.cpu_time else 'wall'} time.\n")
    print("| setting | epochs | annfast s/epoch (L-BFGS: s/fit) | scikit-learn s/epoch (s/fit) "
          "| speed-up (min-max) "
          "| PSNR annfast | PSNR scikit-learn | max weight diff |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        lo, hi = r["speedup_range"]
        print(f"| {r['label']} | {r['epochs']} | {r['annfast_s']:.3f} | {r['sklearn_s']:.3f} | "
              f"{r['speedup']:.2f}x ({lo:.2f}-{hi:.2f}) | {r['psnr_annfast']:.2f} dB | "
              f"{r['psnr_sklearn']:.2f} dB | {r['max_weight_diff']:.1e} |")
    print(f"\nCommand: `{command.strip()}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
