"""Side-by-side comparison of annfast with NumPy, scikit-learn, PyTorch and FANN.

Run from the repository root::

    python -m benchmarks.compare --quick      # under a minute, small epochs
    python -m benchmarks.compare              # the full run behind RESULTS.md
    python -m benchmarks.compare --results    # ... and rewrite RESULTS.md + plots
    python -m benchmarks.compare --render benchmarks/out/compare.json   # re-render

Workloads: the tutorial net [784, 32, 10] on dense and on binarised MNIST, the
painting net [2, 100x10, 3], the tutorial script's whole train() call, a width
and a depth sweep, prediction of 10,000 samples, two models in two threads,
and memory (tracemalloc, peak RSS in subprocesses).  See benchmarks/RESULTS.md.

Protocol: one process, one thread for every contender (BLAS and OpenMP pools
limited with threadpoolctl, ``torch.set_num_threads(1)``).  For each workload
every contender first trains one untimed warm-up epoch, then the timed epochs
are interleaved A B C A B C ... so that load changes on a shared machine hit
all contenders alike; each figure is a median with its min-max over the
repeats, and the ratios are computed per repeat between neighbours in time.
After the last epoch every contender's loss and accuracy are computed with the
same formulas, so nobody can win by doing less work.

Output: a Markdown report on stdout (also ``benchmarks/out/compare.md``), every
repeat in JSON (``benchmarks/out/compare.json`` or ``--json PATH``) and PNG
plots (``benchmarks/out/*.png``; with ``--results`` also ``benchmarks/plots/``).
"""

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from benchmarks import contenders as C
from benchmarks import memory, report
from benchmarks import workloads as W
from benchmarks.machine import _git_commit, kernels_stamp, machine_info, machine_line
from benchmarks.stats import cost_exponent, spread

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "out")

#: Run sizes.  "full" trains on the whole tutorial split (3,500 images) and the
#: whole 100 x 100 image; "quick" keeps every workload but shrinks the epochs.
MODES = {
    "full": {"repeats": 5, "mnist_n": None, "painting_n": None, "sweep_n": 300,
             "sweep_min_seconds": 0.05,
             "widths": W.WIDTHS, "depths": W.DEPTHS, "predict_n": 10_000,
             "threads_n": None, "traced_sizes": (1000, 3500), "rss_sizes": (1000, 10_000),
             "rss_epochs": 5},
    "quick": {"repeats": 5, "mnist_n": 500, "painting_n": 300, "sweep_n": 100,
              "sweep_min_seconds": 0.02,
              "widths": (16, 64, 256), "depths": (1, 3, 10), "predict_n": 10_000,
              "threads_n": 2000, "traced_sizes": (300, 900), "rss_sizes": (1000, 10_000),
              "rss_epochs": None},
}


_T0 = time.perf_counter()


def log(*args):
    """Progress on stderr, with the seconds elapsed since the start."""
    print(f"[{time.perf_counter() - _T0:6.1f} s]", *args, file=sys.stderr, flush=True)


def _load_thread_pools():
    """Import every library that brings a thread pool, so that the limit reaches it.

    threadpoolctl only limits the pools loaded when the limit is set: scipy's
    own OpenBLAS (scikit-learn, annfast's BLAS paths) or PyTorch's OpenMP,
    loaded later by a contender, would run with one thread per core.
    """
    import scipy.linalg  # noqa: F401  (scipy's OpenBLAS)

    with contextlib.suppress(ImportError):
        import sklearn.neural_network  # noqa: F401
    return C._torch()


def single_thread():
    """Context limiting every thread pool (BLAS, OpenMP, PyTorch) to one thread."""
    torch = _load_thread_pools()
    if torch is not None:
        torch.set_num_threads(1)
    stack = contextlib.ExitStack()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log("threadpoolctl is not installed: BLAS threads are NOT limited "
            "(pip install threadpoolctl)")
    else:
        stack.enter_context(threadpool_limits(limits=1))
    return stack


def thread_pools():
    """{library: threads} of every pool threadpoolctl sees, plus PyTorch's."""
    pools = {}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"threadpoolctl": "not installed"}
    for info in threadpool_info():
        name = f"{info.get('internal_api')} ({os.path.basename(info.get('filepath', ''))})"
        pools[name] = info.get("num_threads")
    torch = C._torch()
    if torch is not None:
        pools["torch intra-op"] = torch.get_num_threads()
    return pools


def _timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def run_training(task, classes, repeats, evaluate=True, min_seconds=0.0):
    """Train every contender on task, interleaved; return the workload's result dict.

    With ``min_seconds`` > 0 (the sweeps, where only speed is reported), a
    contender whose warm-up epoch was shorter than that runs several epochs per
    timed repeat, so that timer resolution and scheduler noise do not swamp
    sub-millisecond epochs; ``seconds`` are always per epoch.  With the default
    0, every contender trains exactly ``repeats + 1`` epochs.
    """
    params = C.initial_params(task)
    built = [cls(task, params) for cls in classes]
    rng = np.random.default_rng(W.SEED)
    n = task.n_train
    order = rng.permutation(n)
    passes = {}
    for c in built:  # warm-up epoch: caches, lazy imports, first-call allocations
        warm = _timed(c.train_epoch, order)
        passes[c.key] = int(min(50, max(1, np.ceil(min_seconds / max(warm, 1e-9)))))
    seconds = {c.key: [] for c in built}
    for c in built:
        if hasattr(c, "in_loop_seconds"):
            c.in_loop_seconds.clear()  # keep the timed epochs only
    for _ in range(repeats):
        order = rng.permutation(n)  # the same order for all who take one
        for c in built:
            k = passes[c.key]
            seconds[c.key].append(_timed(_epochs, c, order, k) / k)
    results = {}
    for c in built:
        entry = {"label": c.label, "dtype": np.dtype(c.dtype).name,
                 "seconds": seconds[c.key], "samples_per_s": [n / s for s in seconds[c.key]],
                 "epochs_per_repeat": passes[c.key]}
        if hasattr(c, "in_loop_seconds"):
            entry["in_loop_seconds"] = list(c.in_loop_seconds)
        if evaluate:
            out_eval = c.outputs(task.X_eval) if task.is_classifier else None
            entry["loss"], entry["accuracy"] = W.evaluate(task, c.outputs(task.X), out_eval)
        results[c.key] = entry
    return {"name": task.name, "title": task.title, "sizes": list(task.sizes),
            "n_train": n, "n_weights": task.n_weights, "density": task.density,
            "lr": task.lr, "mu": task.mu, "epochs": repeats + 1, "results": results}


def _epochs(contender, order, k):
    for _ in range(k):
        contender.train_epoch(order)


def run_prediction(n_pred, repeats):
    """Time outputs() on n_pred MNIST rows for every prediction contender."""
    task = W.mnist_task(False, n_train=500, name="predict")
    X_all = np.concatenate([task.X, task.X_eval, W.mnist_splits(False)[0][0]])
    Xp = np.ascontiguousarray(np.resize(X_all, (n_pred, X_all.shape[1])))
    classes, _ = C.available(C.PREDICTION)
    params = C.initial_params(task)
    built = [cls(task, params) for cls in classes]
    inputs = {}
    order = np.arange(task.n_train)
    for c in built:
        if c.trains:  # a fitted model (scikit-learn needs one); speed does not depend on it
            c.train_epoch(order)
        inputs[c.key] = np.ascontiguousarray(Xp, dtype=c.dtype)  # cast outside the timings
        c.outputs(inputs[c.key][:100])
    seconds = {c.key: [] for c in built}
    for _ in range(repeats):
        for c in built:
            seconds[c.key].append(_timed(c.outputs, inputs[c.key]))
    results = {c.key: {"label": c.label, "dtype": np.dtype(c.dtype).name,
                       "seconds": seconds[c.key],
                       "samples_per_s": [n_pred / s for s in seconds[c.key]]} for c in built}
    return {"name": "predict", "title": f"prediction of {n_pred:,} samples, [784, 32, 10]",
            "sizes": list(task.sizes), "n_train": n_pred, "n_weights": task.n_weights,
            "density": float(np.count_nonzero(Xp) / Xp.size), "results": results}


#: Epochs of the tutorial script's train() call (issue 4, item 6).
SCRIPT_EPOCHS = 5


def run_train_call(n_train, repeats):
    """The tutorial script's whole ``train(training_data, epochs=5)`` call.

    Both sides get the tutorial's own data: a list of (x, y) pairs with x the
    binarised pixels as an int array of shape (784,) and y a one-hot float
    column (10, 1), as the script builds them.  annfast's ``NeuralNet.train``
    converts the list itself (part of its time); the tutorial class trains on it
    directly.  Each timed repeat is one whole call.
    """
    from annfast import NeuralNet
    from benchmarks.tutorial_loop import TutorialNet

    task = W.mnist_task(True, n_train=n_train, name="tutorial-train-call")
    params = C.initial_params(task)
    weights, biases = C.layer_arrays(task, params)

    def pairs():
        return [(x.astype(int), y.reshape(-1, 1)) for x, y in zip(task.X, task.Y)]

    calls, outputs = {}, {}
    tut = TutorialNet(weights, biases, task.lr, task.mu)
    tut_data = pairs()
    calls["tutorial"] = ("tutorial class's train()", lambda: tut.train(tut_data, SCRIPT_EPOCHS))
    outputs["tutorial"] = lambda X: np.array([tut.feedforward(x)[:, 0] for x in X])
    for key, dtype in (("annfast-f64", np.float64), ("annfast-f32", np.float32)):
        net = NeuralNet(list(task.sizes), task.lr, W.TUTORIAL_REG_LAMBDA, dtype=dtype, seed=W.SEED)
        for i, (w, b) in enumerate(zip(weights, biases)):
            net.weights[i][...] = w
            net.biases[i][...] = b.reshape(-1, 1)
        data = pairs()
        calls[key] = (f"annfast {np.dtype(dtype).name} NeuralNet.train()",
                      lambda net=net, data=data: net.train(data, epochs=SCRIPT_EPOCHS,
                                                           verbose=False))
        outputs[key] = net.predict_proba
    keys = ["annfast-f64", "annfast-f32", "tutorial"]
    for key in keys:  # warm-up call
        calls[key][1]()
    seconds = {key: [] for key in keys}
    for _ in range(repeats):
        for key in keys:
            seconds[key].append(_timed(calls[key][1]))
    n = task.n_train * SCRIPT_EPOCHS
    results = {}
    for key in keys:
        loss, acc = W.evaluate(task, outputs[key](task.X), outputs[key](task.X_eval))
        results[key] = {"label": calls[key][0], "dtype": "float32" if key.endswith("f32")
                        else "float64", "seconds": seconds[key],
                        "samples_per_s": [n / s for s in seconds[key]], "loss": loss,
                        "accuracy": acc}
    # n_train here counts the samples of one call (epochs x pairs), the unit of the rates.
    return {"name": task.name, "sizes": list(task.sizes), "n_train": n,
            "title": f"the tutorial script's train(training_data, epochs={SCRIPT_EPOCHS}) "
                     f"call on {task.n_train:,} binarised (x, y) pairs",
            "n_weights": task.n_weights, "density": task.density, "lr": task.lr,
            "mu": task.mu, "epochs": (repeats + 1) * SCRIPT_EPOCHS,
            "epochs_per_call": SCRIPT_EPOCHS, "results": results}


#: scikit-learn's default minibatch (batch_size='auto' is min(200, n_samples)).
MINIBATCH_SIZE = 200


def run_minibatch(n_train, repeats):
    """Epochs of scikit-learn's defaults (Adam, batch 200) on the painting net:
    annfast.sklearn's MLPRegressor and scikit-learn's, float64, one
    ``partial_fit`` (one epoch) per timed repeat, interleaved.  Both start from
    the same random_state; the report puts annfast's rate against the FMA peak
    (benchmarks.bounds.minibatch_flops)."""
    from sklearn import neural_network as skl

    from annfast.sklearn import MLPRegressor

    task = W.painting_task(n_train=n_train, name="minibatch")
    hidden = tuple(task.sizes[1:-1])
    models = {"annfast-f64": ("annfast.sklearn MLPRegressor (Adam, batch 200)",
                              MLPRegressor(hidden_layer_sizes=hidden,
                                           random_state=np.random.RandomState(W.SEED))),
              "sklearn-adam": ("scikit-learn MLPRegressor (Adam, batch 200)",
                               skl.MLPRegressor(hidden_layer_sizes=hidden,
                                                random_state=np.random.RandomState(W.SEED)))}
    for _, model in models.values():  # warm-up epoch
        model.partial_fit(task.X, task.Y)
    seconds = {key: [] for key in models}
    for _ in range(repeats):
        for key, (_, model) in models.items():
            seconds[key].append(_timed(model.partial_fit, task.X, task.Y))
    n = task.n_train
    results = {}
    for key, (label, model) in models.items():
        loss, _ = W.evaluate(task, model.predict(task.X), None)
        results[key] = {"label": label, "dtype": "float64", "seconds": seconds[key],
                        "samples_per_s": [n / s for s in seconds[key]], "loss": loss,
                        "accuracy": None}
    return {"name": "minibatch", "title": f"[2, 100x{len(hidden)}, 3] painting net at "
            "scikit-learn's defaults: Adam, batch 200",
            "sizes": list(task.sizes), "n_train": n, "n_weights": task.n_weights,
            "density": task.density, "epochs": repeats + 1, "batch_size": MINIBATCH_SIZE,
            "results": results}


def run_threads(task, repeats):
    """Two annfast models trained in two threads vs one after the other.

    Returns {dtype: {"serial": [...], "parallel": [...]}} seconds for two epochs'
    worth of work (one per model); throughput ratio = serial / parallel.
    """
    out = {}
    params = C.initial_params(task)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for cls in (C.AnnfastF64, C.AnnfastF32):
            a, b = cls(task, params), cls(task, params)
            a.train_epoch(None)
            b.train_epoch(None)

            def serial(a=a, b=b):
                a.train_epoch(None)
                b.train_epoch(None)

            def parallel(a=a, b=b):
                for f in [pool.submit(a.train_epoch, None), pool.submit(b.train_epoch, None)]:
                    f.result()

            times = {"serial": [], "parallel": []}
            for _ in range(repeats):
                times["serial"].append(_timed(serial))
                times["parallel"].append(_timed(parallel))
            out[np.dtype(cls.dtype).name] = times
    return {"title": f"two {list(task.sizes)} models, {task.n_train:,} samples each, "
                     "2 threads vs 1", "n_train": task.n_train, "times": out}


def run_sweep(tasks, classes, repeats, min_seconds):
    """Speed only at each sweep point; see run_training for ``min_seconds``."""
    points = []
    for task in tasks:
        log(f"  {task.name}: {list(task.sizes)[:3]}{'...' if len(task.sizes) > 3 else ''}")
        points.append(run_training(task, classes, repeats, evaluate=False,
                                   min_seconds=min_seconds))
    return points


def exponents(sweeps):
    """{contender: {sweep: p, 'all': p}}: cost exponents fitted over the sweep points."""
    result = {}
    for sweep_name, points in sweeps.items():
        for p in points:
            for key, r in p["results"].items():
                med, _, _ = spread(r["seconds"])
                d = result.setdefault(key, {"label": r["label"], "points": []})
                d["points"].append((sweep_name, p["n_weights"], med / p["n_train"]))
    for d in result.values():
        for sweep_name in list(sweeps) + ["all"]:
            pts = [pt for pt in d["points"] if sweep_name in ("all", pt[0])]
            d[sweep_name] = cost_exponent([pt[1] for pt in pts], [pt[2] for pt in pts])
    return result


def _measure_limits():
    """benchmarks.limits at the SIMD level annfast runs, or None (with a log line)
    when it runs a generic variant or nothing can build the loops."""
    from benchmarks import limits

    simd = limits.annfast_simd()
    if simd is None:
        log("limits: annfast runs a generic variant here; no bounds")
        return None
    log(f"limits: peak FMA and cache bandwidth, {simd}")
    try:
        return limits.measure(simd)
    except RuntimeError as e:
        log(f"limits: {e}; no bounds")
        return None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description="annfast vs NumPy, scikit-learn and PyTorch, side by side, one thread.")
    parser.add_argument("--quick", action="store_true",
                        help="small epochs and sweeps: under a minute")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per contender (default 5; at least 5 for the "
                             "report's medians)")
    parser.add_argument("--only", default=None,
                        help="comma-separated contender keys to run (annfast-f64 is always "
                             f"kept): {', '.join(c.key for c in C.TRAINING)}")
    parser.add_argument("--skip", default="",
                        help="comma-separated parts to leave out: limits, training, painting, "
                             "script, minibatch, predict, sweeps, threads, memory")
    parser.add_argument("--json", default=None, help="write the JSON here instead of "
                        "benchmarks/out/compare.json")
    parser.add_argument("--no-plots", action="store_true", help="do not draw PNG plots")
    parser.add_argument("--render", metavar="JSON", default=None,
                        help="measure nothing: render the report (and plots, and with "
                             "--results RESULTS.md) from a JSON file of an earlier run")
    parser.add_argument("--results", action="store_true",
                        help="also rewrite the generated part of benchmarks/RESULTS.md and "
                             "the plots in benchmarks/plots/")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.render:
        with open(args.render) as f:
            publish(json.load(f), args)
        return
    mode = "quick" if args.quick else "full"
    cfg = dict(MODES[mode])
    if args.repeats is not None:
        if args.repeats < 1:
            raise SystemExit("--repeats must be >= 1")
        cfg["repeats"] = args.repeats
    repeats = cfg["repeats"]
    skip = {s for s in args.skip.split(",") if s}
    only = None
    if args.only:
        only = {k for k in args.only.split(",") if k} | {"annfast-f64"}
        unknown = only - set(C.BY_KEY)
        if unknown:
            raise SystemExit(f"--only: unknown contender(s) {sorted(unknown)}; "
                             f"known: {sorted(C.BY_KEY)}")
    command = "python -m benchmarks.compare" + "".join(" " + shlex.quote(a) for a in argv)
    t_start = time.perf_counter()

    classes, skipped = C.available(C.TRAINING, only)
    for key, reason in skipped.items():
        log(f"{key}: {reason}")
    doc = {"command": command, "mode": mode, "settings": {k: list(v) if isinstance(v, tuple)
                                                          else v for k, v in cfg.items()},
           "skipped": skipped, "workloads": {}, "sweeps": {}}

    with single_thread():
        doc["machine"] = machine_info()
        doc["machine"]["thread_pools"] = thread_pools()
        log(machine_line(doc["machine"]))
        many = {k: v for k, v in doc["machine"]["thread_pools"].items() if v != 1}
        if many:
            log(f"WARNING: thread pools not limited to one thread: {many}")
        if "limits" not in skip:
            doc["limits"] = _measure_limits()
        tasks = []
        if "training" not in skip:
            tasks += [W.mnist_task(False, n_train=cfg["mnist_n"]),
                      W.mnist_task(True, n_train=cfg["mnist_n"])]
        if "painting" not in skip:
            tasks.append(W.painting_task(n_train=cfg["painting_n"]))
        for task in tasks:
            log(f"training: {task.title}, {task.n_train:,} samples x {repeats + 1} epochs")
            doc["workloads"][task.name] = run_training(task, classes, repeats)
        if "script" not in skip:
            log(f"tutorial script: train() calls of {SCRIPT_EPOCHS} epochs")
            doc["workloads"]["tutorial-train-call"] = run_train_call(cfg["mnist_n"], repeats)
        if "minibatch" not in skip:
            log("minibatch: scikit-learn's defaults (Adam, batch 200), painting net")
            doc["workloads"]["minibatch"] = run_minibatch(cfg["painting_n"], repeats)
        if "predict" not in skip:
            log(f"prediction: {cfg['predict_n']:,} samples")
            doc["workloads"]["predict"] = run_prediction(cfg["predict_n"], repeats)
        if "sweeps" not in skip:
            log(f"width sweep: [784, h, 10], {cfg['sweep_n']} samples per epoch")
            doc["sweeps"]["width"] = run_sweep(W.width_sweep(cfg["sweep_n"], cfg["widths"]),
                                               classes, repeats, cfg["sweep_min_seconds"])
            log(f"depth sweep: [2, 100 x d, 3], {cfg['sweep_n']} samples per epoch")
            doc["sweeps"]["depth"] = run_sweep(W.depth_sweep(cfg["sweep_n"], cfg["depths"]),
                                               classes, repeats, cfg["sweep_min_seconds"])
            doc["exponents"] = exponents(doc["sweeps"])
        if "threads" not in skip:
            log("threads: two models at once")
            doc["threads"] = run_threads(W.mnist_task(False, n_train=cfg["threads_n"]), repeats)
        if "memory" not in skip:
            log("memory: tracemalloc and peak RSS (subprocesses)")
            rss_runs = [(n, 1) for n in cfg["rss_sizes"]]
            if cfg["rss_epochs"]:  # peak memory must not depend on the number of epochs
                rss_runs.append((cfg["rss_sizes"][-1], cfg["rss_epochs"]))
            doc["memory"] = {
                "traced": [memory.traced_bytes(cfg["traced_sizes"], dtype)
                           for dtype in (np.float64, np.float32)],
                "rss": [memory.peak_rss(n, epochs) for n, epochs in rss_runs],
            }
    doc["seconds_total"] = time.perf_counter() - t_start
    doc["machine"]["load_average_end"] = list(os.getloadavg())
    # annfast is an editable install that may change during a long run: say so.
    doc["machine"]["annfast_git_end"] = _git_commit()
    doc["machine"]["kernels_built_end"] = kernels_stamp()

    os.makedirs(OUT_DIR, exist_ok=True)
    json_path = args.json or os.path.join(OUT_DIR, "compare.json")
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=1)
    publish(doc, args)
    log(f"JSON: {json_path}; total {doc['seconds_total']:.0f} s")


def publish(doc, args):
    """Write the Markdown (stdout, out/compare.md), the plots and, with --results,
    RESULTS.md and benchmarks/plots/."""
    os.makedirs(OUT_DIR, exist_ok=True)
    plots = {}
    if not args.no_plots and doc["sweeps"]:
        plot_dirs = [OUT_DIR] + ([os.path.join(HERE, "plots")] if args.results else [])
        plots = report.plot_sweeps(doc, plot_dirs)
    text = report.markdown(doc, plots)
    with open(os.path.join(OUT_DIR, "compare.md"), "w") as f:
        f.write(text)
    print(text)
    if args.results:
        report.update_results(os.path.join(HERE, "RESULTS.md"),
                              report.markdown(doc, plots, plot_prefix="plots/"))
        log("updated benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
