"""Render a comparison run (the JSON document of compare.py) as Markdown and PNG."""

import os
import re

import numpy as np

from benchmarks import bounds
from benchmarks.machine import machine_line
from benchmarks.stats import fmt_rate, fmt_ratio, fmt_spread, paired_ratios, spread

BASE = "annfast-f64"

#: The performance issue's targets: (workload, what, fast key, slow key, target, stretch).
TARGETS = (
    ("mnist-dense", "[784, 32, 10] dense inputs, x tutorial-style loop",
     "annfast-f64", "tutorial", 12.0, 18.0),
    ("mnist-dense", "[784, 32, 10] dense inputs, x tutorial-style loop",
     "annfast-f32", "tutorial", 20.0, None),
    ("mnist-binary", "[784, 32, 10] binarised MNIST, x tutorial-style loop",
     "annfast-f64", "tutorial", 45.0, None),
    ("mnist-binary", "[784, 32, 10] binarised MNIST, x tutorial-style loop",
     "annfast-f32", "tutorial", 65.0, None),
    ("painting", "[2, 100x10, 3] painting net, x tutorial-style loop",
     "annfast-f64", "tutorial", 11.0, None),
    ("painting", "[2, 100x10, 3] painting net, x tutorial-style loop",
     "annfast-f32", "tutorial", 16.0, None),
    ("mnist-dense", "[784, 32, 10] dense inputs, x PyTorch per-sample",
     "annfast-f64", "torch-f64", 40.0, None),
    ("mnist-dense", "[784, 32, 10] dense inputs, x PyTorch per-sample",
     "annfast-f32", "torch-f32", 60.0, None),
    ("tutorial-train-call", "tutorial script's 5-epoch train() call, binarised, x the "
     "tutorial class's", "annfast-f64", "tutorial", 25.0, None),
    ("tutorial-train-call", "tutorial script's 5-epoch train() call, binarised, x the "
     "tutorial class's", "annfast-f32", "tutorial", 25.0, None),
    ("predict", "prediction of 10,000 samples, x NumPy matmul forward",
     "annfast-f64", "numpy-matmul-f64", 1.0, None),
    ("predict", "prediction of 10,000 samples, x NumPy matmul forward",
     "annfast-f32", "numpy-matmul-f32", 1.0, None),
)
THREADS_TARGET = 1.8


def _ratio_spread(results, fast, slow):
    """Paired per-repeat speed-ups of fast over slow: (median, min, max) or None."""
    if fast not in results or slow not in results:
        return None
    return spread(paired_ratios(results[fast]["seconds"], results[slow]["seconds"]))


def _status(measured, target, stretch=None):
    if measured >= target:
        if stretch and measured >= stretch:
            return "met, stretch met"
        return "met" + (f" (stretch {stretch:g}x: needs {stretch / measured:.2f}x more)"
                        if stretch else "")
    return f"missed: needs {target / measured:.2f}x more"


def _fmt_ratio_spread(r):
    med, lo, hi = r
    return f"{fmt_ratio(med)}x [{fmt_ratio(lo)}-{fmt_ratio(hi)}]"


def targets_rows(doc):
    """[(what, dtype, target, per call, in fit's loop, status)] for every target.

    ``per call`` times annfast's whole ``fit(X, Y, epochs=1)`` call, input
    checks and conversion included; ``in fit's loop`` only its epoch loop, what
    each epoch of a ``fit(epochs=k)`` costs.  The status is judged on the first,
    the conservative figure, and says when only the second meets the target.
    """
    rows = []
    for workload, what, fast, slow, target, stretch in TARGETS:
        w = doc["workloads"].get(workload)
        if w is None:  # the workload was left out of this run
            continue
        r = _ratio_spread(w["results"], fast, slow)
        dtype = "float32" if fast.endswith("f32") else "float64"
        tgt = f">= {target:g}x" + (f" (stretch {stretch:g}x)" if stretch else "")
        if r is None:
            rows.append((what, dtype, tgt, "not measured", "", f"{slow} or {fast} not run"))
            continue
        inner = w["results"][fast].get("in_loop_seconds")
        loop = None
        if inner and len(inner) == len(w["results"][fast]["seconds"]):
            loop = spread(paired_ratios(inner, w["results"][slow]["seconds"]))
        status = _status(r[0], target, stretch)
        if loop and r[0] < target <= loop[0]:
            status += "; met inside fit's loop"
        rows.append((what, dtype, tgt, _fmt_ratio_spread(r),
                     _fmt_ratio_spread(loop) if loop else "", status))
    threads = doc.get("threads")
    if threads:
        for dtype, t in threads["times"].items():
            r = spread(paired_ratios(t["parallel"], t["serial"]))
            rows.append(("two models in two threads, x one thread", dtype,
                         f">= {THREADS_TARGET:g}x", _fmt_ratio_spread(r), "",
                         _status(r[0], THREADS_TARGET)))
    return rows


#: Issue 18's targets: the fraction of the bound annfast must reach, per workload
#: (minibatch: of the FMA peak), and the baseline its speed-up is quoted against.
BOUND_TARGETS = {"mnist-dense": 0.90, "mnist-binary": 0.60, "painting": 0.80,
                 "minibatch": 0.70}
BOUND_BASELINES = {"mnist-dense": "tutorial", "mnist-binary": "tutorial",
                   "painting": "tutorial", "minibatch": "sklearn-adam",
                   "predict": "numpy-matmul-{}"}
#: Prediction's target is a speed-up: annfast over NumPy's BLAS forward.
PREDICT_TARGET = 1.2


def workload_bound(name, w, dtype, limits):
    """(bound in samples/s, what sets it) of workload w for dtype, or None for a
    workload without a bound (the sweeps, the tutorial script's call)."""
    sizes, itemsize = w["sizes"], np.dtype(dtype).itemsize
    if name in ("mnist-dense", "painting"):
        b = bounds.per_sample(sizes, itemsize, limits)
    elif name == "mnist-binary":
        b = bounds.per_sample(sizes, itemsize, limits, nnz=w["density"] * sizes[0])
    elif name == "predict":
        b = bounds.prediction(sizes, itemsize, limits)
    elif name == "minibatch":
        flops = bounds.minibatch_flops(sizes, w.get("batch_size", 200))
        return limits[dtype]["fma_gflops"] * 1e9 / flops, "FMA"
    else:
        return None
    return b["samples_per_s"], f"{b['limit']}" + (f", {b['level'].upper()}"
                                                  if b.get("level") else "")


def bound_rows(doc):
    """[(workload, dtype, bound, per call, in fit's loop, speed-up, target, status)].

    Fractions are of the workload's bound (benchmarks.bounds), from this run's
    limits.  The status of a bound target is judged on the rate inside fit's
    loop where there is one (the bounds count no input conversion), else per
    call; prediction's on its paired speed-up over NumPy's forward.
    """
    limits = doc.get("limits")
    if not limits:
        return []
    rows = []
    for name, w in doc["workloads"].items():
        for key in ("annfast-f64", "annfast-f32"):
            r = w["results"].get(key)
            if r is None or name not in BOUND_BASELINES:
                continue
            found = workload_bound(name, w, r["dtype"], limits)
            if found is None:
                continue
            bound, limit = found
            call, _, call_best = spread(r["samples_per_s"])
            frac_call = call / bound
            inner = r.get("in_loop_seconds")
            frac_loop = w["n_train"] / spread(inner)[0] / bound if inner else None
            # The limits are each the best of many trials: so is this, beside the median.
            best_loop = w["n_train"] / min(inner) / bound if inner else None
            base = BOUND_BASELINES[name].format("f64" if r["dtype"] == "float64" else "f32")
            ratio = _ratio_spread(w["results"], key, base)
            speed = "n/a" if ratio is None else f"{_fmt_ratio_spread(ratio)} x {base}"
            if name == "predict":
                target = f">= {PREDICT_TARGET:g}x {base}"
                status = "not measured" if ratio is None else (
                    "met" if ratio[0] >= PREDICT_TARGET else "unmet")
            else:
                goal = BOUND_TARGETS[name]
                judged = frac_loop if frac_loop is not None else frac_call
                target = f">= {100 * goal:.0f}% of " + ("the FMA peak" if name == "minibatch"
                                                        else "the bound")
                status = "met" if judged >= goal else "unmet"
            rows.append((w.get("title", name), r["dtype"],
                         f"{fmt_rate(bound)} ({limit})",
                         f"{fmt_rate(call)} ({100 * frac_call:.0f}%; best "
                         f"{100 * call_best / bound:.0f}%)",
                         "" if frac_loop is None else
                         f"{fmt_rate(frac_loop * bound)} ({100 * frac_loop:.0f}%; best "
                         f"{100 * best_loop:.0f}%)",
                         speed, target, status))
    return rows


def limits_section(doc):
    """The machine's limits and every workload against its bound, or '' without
    limits in doc."""
    from benchmarks.limits import table as limits_table

    limits = doc.get("limits")
    if not limits:
        return ""
    out = [limits_table(limits), "",
           "Bounds (benchmarks/bounds.py): per-sample SGD reads the parameters it "
           "touches once forward and reads-modifies-writes them once backward, each "
           "phase at the slower of the FMA peak and the bandwidth of the cache holding "
           "the parameters; minibatch training at the FMA peak alone; prediction at the "
           "FMA peak or the memory bandwidth streaming the inputs.  Percentages are "
           "annfast's median rate over the bound, and its best repeat's (the limits "
           "are best-of figures too; on a loaded machine the median is the "
           "neighbours' as much as annfast's).  Targets are judged on the median.", ""]
    rows = bound_rows(doc)
    if rows:
        out.append(_table(["workload", "dtype", "bound samples/s (set by)", "annfast per call",
                           "in fit's loop", "paired speed-up", "target (issue 18)",
                           "status"], rows))
    return "\n".join(out)


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def workload_table(w):
    """Markdown table of one workload: speed, paired speed-up of annfast f64, quality."""
    results = w["results"]
    has_quality = any("loss" in r for r in results.values())
    header = ["contender", "samples/s median [min-max]", "annfast f64 speed-up"]
    if has_quality:
        header += ["final training loss", "held-out accuracy"]
    rows = []
    for key, r in results.items():
        ratio = _ratio_spread(results, BASE, key)
        row = [r["label"], fmt_spread(r["samples_per_s"]),
               "n/a" if ratio is None else
               f"{fmt_ratio(ratio[0])}x [{fmt_ratio(ratio[1])}-{fmt_ratio(ratio[2])}]"]
        if has_quality:
            acc = r.get("accuracy")
            row += [f"{r['loss']:.4f}" if "loss" in r else "",
                    "-" if acc is None else f"{100 * acc:.1f}%"]
        rows.append(row)
    return _table(header, rows)


def in_loop_note(w):
    """One sentence: annfast's rate inside fit's epoch loop vs per whole fit call."""
    parts = []
    for key, r in w["results"].items():
        inner = r.get("in_loop_seconds")
        if not inner:
            continue
        wall, _, _ = spread(r["seconds"])
        loop, _, _ = spread(inner)
        parts.append(f"{r['label']} {fmt_rate(w['n_train'] / loop)} samples/s "
                     f"({100 * (1 - loop / wall):.0f}% of each call outside the loop)")
    if not parts:
        return ""
    return ("annfast is timed per `NeuralNet.fit(X, Y, epochs=1)` call, which also checks "
            "and converts the inputs (a cost paid once per call, not per epoch, by "
            "`fit(epochs=k)`); inside fit's epoch loop alone: " + "; ".join(parts) + ".")


def _workload_heading(w):
    per_call = w.get("epochs_per_call")
    if per_call:
        calls = w["epochs"] // per_call
        parts = [f"{w['n_train'] // per_call:,} samples per epoch, {per_call} epochs per call, "
                 f"{calls} calls (1 warm-up + {calls - 1} timed), samples/s over each call"]
    else:
        parts = [f"{w['n_train']:,} samples per epoch"]
    if "epochs" in w and not per_call:
        parts.append(f"{w['epochs']} epochs (1 warm-up + {w['epochs'] - 1} timed)")
    parts.append(f"{100 * w['density']:.0f}% non-zero inputs")
    if "lr" in w:
        parts.append(f"lr {w['lr']:g}, L2 mu {w['mu']:.3g} per sample")
    return f"### {w['title']}\n\n" + ", ".join(parts) + "."


def sweep_table(points, param):
    """Median samples/s of every contender at every sweep point."""
    keys = list(points[0]["results"])
    labels = [points[0]["results"][k]["label"] for k in keys]
    header = [param, "weights"] + labels
    rows = []
    for p in points:
        value = p["name"].split("-", 1)[1]
        rows.append([value, f"{p['n_weights']:,}"]
                    + [fmt_rate(spread(p["results"][k]["samples_per_s"])[0]) for k in keys])
    return _table(header, rows)


def exponent_table(exps, sweeps):
    header = ["contender"] + [f"{s} sweep" for s in sweeps] + ["all points"]
    rows = [[d["label"]] + [f"{d[s]:.2f}" for s in list(sweeps) + ["all"]]
            for d in exps.values()]
    return _table(header, rows)


def memory_section(mem):
    out = ["Traced bytes (tracemalloc) of training epochs of the tutorial net, after a "
           "warm-up epoch, at two epoch sizes: `per sample` is the slope between them "
           "(what each extra sample costs), `per call` the intercept (buffers whose size "
           "depends on the network, not the data).", ""]
    rows = []
    names = {"fit": "`NeuralNet.fit(X, Y, epochs=1)`",
             "fit_5_epochs": "`NeuralNet.fit(X, Y, epochs=5)`",
             "kernel": "`_kernels.train` (one call, prepared order)"}
    for t in mem["traced"]:
        for path, name in names.items():
            d = t[path]
            rows.append([name, t["dtype"], f"{d['per_sample']:.1f}",
                         f"{d['per_call'] / 1024:.1f} KiB",
                         " / ".join(f"{b / 1024:.0f} KiB" for b in d["bytes"])])
    sizes = mem["traced"][0]["sizes"]
    out.append(_table(["path", "dtype", "bytes per sample", "bytes per call",
                       f"peak at {sizes[0]:,} / {sizes[1]:,} samples"], rows))
    out += ["", "Peak RSS of `NeuralNet.fit` on the tutorial net, each in a fresh process; "
            "the high-water mark is reset after the data is built, so `growth` is what "
            "training itself adds.", ""]
    rows = [[f"{r['n_samples']:,}", r["epochs"], f"{r['data_kb'] / 1024:.1f} MiB",
             f"{r['rss_before_kb'] / 1024:.1f} MiB", f"{r['peak_rss_kb'] / 1024:.1f} MiB",
             "n/a" if r["growth_kb"] is None else f"{r['growth_kb'] / 1024:.1f} MiB"]
            for r in mem["rss"]]
    out.append(_table(["samples", "epochs", "data (X, Y)", "RSS before training",
                       "peak RSS", "growth"], rows))
    return "\n".join(out)


def threads_section(threads):
    rows = []
    for dtype, t in threads["times"].items():
        ratio = spread(paired_ratios(t["parallel"], t["serial"]))
        rows.append([dtype, fmt_spread(t["serial"], lambda v: f"{v:.3f}"),
                     fmt_spread(t["parallel"], lambda v: f"{v:.3f}"),
                     f"{fmt_ratio(ratio[0])}x [{fmt_ratio(ratio[1])}-{fmt_ratio(ratio[2])}]"])
    return (f"{threads['title']}: seconds to train both, one after the other vs at once.\n\n"
            + _table(["dtype", "serial s", "2 threads s", "throughput ratio"], rows))


def markdown(doc, plots=None, plot_prefix=""):
    """The whole report as Markdown.  ``plots``: {name: file name} to embed."""
    m = doc["machine"]
    load = m.get("load_average") or [float("nan")] * 3
    load_end = m.get("load_average_end") or [float("nan")] * 3
    out = ["## Machine and command", "",
           f"Machine: {machine_line(m)}", "",
           f"Command: `{doc['command']}` ({doc['mode']} mode, {doc['settings']['repeats']} "
           f"timed repeats per figure after a warm-up; {doc['seconds_total']:.0f} s in all; "
           f"1-minute load average {load[0]:.2f} at the start, {load_end[0]:.2f} at the end).",
           ""]
    git_end, built_end = m.get("annfast_git_end"), m.get("kernels_built_end")
    if (git_end and git_end != m.get("annfast_git")) or (
            built_end and built_end != m.get("kernels_built")):
        out += [f"**Warning:** annfast changed during the run (git {m.get('annfast_git')}, "
                f"kernels built {m.get('kernels_built')} at the start; git {git_end}, "
                f"kernels built {built_end} at the end): the figures mix two versions.", ""]
    for key, reason in doc.get("skipped", {}).items():
        out.append(f"- {key}: {reason}")
    if doc.get("skipped"):
        out.append("")
    rows = targets_rows(doc)
    if rows:
        out += ["## Performance targets (issue 4)", "",
                "Speed-ups are paired: the median [min-max] over repeats of the ratio of "
                "the two contenders' times in the same repeat.  `per call` times "
                "annfast's whole call: `fit(X, Y, epochs=1)` (input checks and conversion "
                "included), or for the tutorial script the whole `train(pairs, epochs=5)`; "
                "`in fit's loop` times fit's epoch loop only, what each epoch of a "
                "`fit(epochs=k)` costs.  The status is judged on the per-call figure.", "",
                _table(["workload", "dtype", "target", "per call", "in fit's loop",
                        "status"], rows), ""]
    section = limits_section(doc)
    if section:
        out += ["## Against the machine's limits", "", section, ""]
    out += ["## Training throughput", "",
            "Per-sample SGD, one thread each.  `annfast f64 speed-up` = how many times "
            "faster annfast float64 trained than that contender, paired per repeat.", ""]
    for name, w in doc["workloads"].items():
        if name == "predict":
            continue
        out += [_workload_heading(w), "", workload_table(w), ""]
        note = in_loop_note(w)
        if note:
            out += [note, ""]
    if "predict" in doc["workloads"]:
        w = doc["workloads"]["predict"]
        out += ["## Prediction", "", f"### {w['title']}", "", workload_table(w), ""]
    if doc.get("sweeps"):
        out += ["## Cost growth", "",
                "Exponent p of time per sample ~ (number of weights)^p, least squares on "
                "log-log over the sweep points (p = 1: cost proportional to the weights; "
                "p < 1: fixed per-sample overhead still dominates).", "",
                exponent_table(doc["exponents"], doc["sweeps"]), ""]
        params = {"width": "h in [784, h, 10] (dense MNIST)",
                  "depth": "d in [2, 100 x d, 3] (painting data)"}
        for sweep, points in doc["sweeps"].items():
            min_ms = 1000 * doc["settings"].get("sweep_min_seconds", 0)
            out += [f"### Throughput vs {sweep} (samples/s, median; "
                    f"{points[0]['n_train']:,} samples per epoch, several epochs per timed "
                    f"repeat where one lasts under {min_ms:.0f} ms)", "",
                    sweep_table(points, params.get(sweep, sweep)), ""]
            if plots and sweep in plots:
                out += [f"![throughput vs {sweep}]({plot_prefix}{plots[sweep]})", ""]
    if doc.get("threads"):
        out += ["## Two models in two threads", "", threads_section(doc["threads"]), ""]
    if doc.get("memory"):
        out += ["## Memory", "", memory_section(doc["memory"]), ""]
    return "\n".join(out)


def plot_sweeps(doc, directories):
    """Draw throughput vs width and vs depth (log-log, min-max bars) into each directory.

    Returns {sweep name: file name}; nothing if matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    names = {}
    xlabels = {"width": "hidden width h of [784, h, 10]",
               "depth": "hidden layers d of [2, 100 x d, 3]"}
    for sweep, points in doc["sweeps"].items():
        fig, ax = plt.subplots(figsize=(9.5, 4.8))
        x = [int(p["name"].split("-", 1)[1]) for p in points]
        for key in points[0]["results"]:
            stats = np.array([spread(p["results"][key]["samples_per_s"]) for p in points])
            med, lo, hi = stats.T
            ax.errorbar(x, med, yerr=[med - lo, hi - med], marker="o", capsize=3,
                        label=points[0]["results"][key]["label"])
        ax.set_xscale("log", base=2 if sweep == "width" else 10)
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels([str(v) for v in x])
        ax.set_xlabel(xlabels.get(sweep, sweep))
        ax.set_ylabel("training samples per second (one thread)")
        ax.set_title(f"Per-sample SGD throughput vs {sweep} (median, min-max)")
        ax.grid(True, which="both", alpha=0.3)
        # Outside the axes: the lines cover the whole plot area.
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        name = f"{sweep}.png"
        for d in directories:
            os.makedirs(d, exist_ok=True)
            fig.savefig(os.path.join(d, name), dpi=110)
        plt.close(fig)
        names[sweep] = name
    return names


BEGIN = "<!-- compare:begin (generated by python -m benchmarks.compare --results) -->"
END = "<!-- compare:end -->"


def update_results(path, text):
    """Replace the generated block of RESULTS.md with text; keep the hand-written rest."""
    block = f"{BEGIN}\n\n{text.rstrip()}\n\n{END}"
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = "# annfast benchmark results\n\n"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else \
        old.rstrip() + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(new)
