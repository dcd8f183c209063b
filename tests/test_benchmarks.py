"""The benchmark suite measures equal work: its baselines do annfast's math.

These tests keep the comparison honest: the tutorial-style loop, scikit-learn
and PyTorch, set up as the benchmark sets them up, must train exactly like the
NumPy reference (same forward, same L2 decay, same step), so a speed-up can
never come from one contender doing less.  They also check the report's
arithmetic (paired ratios, exponents) and that rewriting RESULTS.md keeps the
hand-written text.  Timings themselves are never asserted.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from annfast import reference

# benchmarks/ is not installed with annfast: import it from the repository by
# its location.  Putting the repository root on sys.path instead would let the
# source tree's annfast/ shadow the installed one, here and in the worker
# processes of later tests (loky hands them this sys.path).
_BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if "benchmarks" not in sys.modules:
    if not (_BENCH / "__init__.py").is_file():
        pytest.skip(f"no benchmarks/ package beside {Path(__file__).parent}",
                    allow_module_level=True)
    _spec = importlib.util.spec_from_file_location(
        "benchmarks", _BENCH / "__init__.py", submodule_search_locations=[str(_BENCH)])
    sys.modules["benchmarks"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["benchmarks"])

from benchmarks import compare, report  # noqa: E402
from benchmarks import contenders as C  # noqa: E402
from benchmarks.stats import cost_exponent, fmt_rate, paired_ratios, spread  # noqa: E402
from benchmarks.tutorial_loop import TutorialNet  # noqa: E402
from benchmarks.workloads import Task, evaluate, one_hot  # noqa: E402


def tiny_task(output="softmax", n=12, sizes=(6, 5, 4, 3), seed=0):
    """A small classification (softmax) or regression (identity) task."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    if output == "softmax":
        Y = one_hot(rng.integers(0, sizes[-1], n), sizes[-1])
    else:
        Y = rng.random((n, sizes[-1]))
    return Task(name="tiny", title="tiny", sizes=tuple(sizes), hidden="relu", output=output,
                lr=0.1, mu=0.01, X=X, Y=Y, X_eval=X[:5], Y_eval=Y[:5])


def reference_epoch(task, order):
    weights, biases = C.layer_arrays(task, C.initial_params(task))
    acts = [task.hidden] * (len(task.sizes) - 2) + [task.output]
    reference.sgd_epoch(weights, biases, acts, task.loss, task.X, task.Y, order, task.lr,
                        task.mu)
    return weights, biases, reference.predict(weights, biases, acts, task.X)


@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_tutorial_loop_matches_reference(output):
    task = tiny_task(output)
    order = np.random.default_rng(1).permutation(task.n_train)
    weights, biases, _ = reference_epoch(task, order)
    tut = C.Tutorial(task, C.initial_params(task))
    tut.train_epoch(order)
    for i in range(len(weights)):
        np.testing.assert_allclose(tut.net.weights[i], weights[i], rtol=0, atol=1e-12)
        np.testing.assert_allclose(tut.net.biases[i][:, 0], biases[i], rtol=0, atol=1e-12)


def test_tutorial_train_call_matches_reference():
    """The tutorial's own train(): in-place shuffles of the pair list, one step per pair."""
    import random

    task = tiny_task()
    order = list(range(task.n_train))
    random.Random(3).shuffle(order)  # the permutation train(..., seed=3) applies
    weights, biases, _ = reference_epoch(task, np.array(order))
    net = TutorialNet(*C.layer_arrays(task, C.initial_params(task)), task.lr, task.mu)
    pairs = [(x, y.reshape(-1, 1)) for x, y in zip(task.X, task.Y)]
    net.train(pairs, epochs=1, seed=3)
    for i in range(len(weights)):
        np.testing.assert_allclose(net.weights[i], weights[i], rtol=0, atol=1e-12)


@pytest.mark.parametrize("output", ["softmax", "identity"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_plain_c_matches_reference(output, sparse):
    """The plain C reference rows do annfast's math, dense or through the sparse
    first layer (mostly-zero inputs), to rounding."""
    if C.PlainCF64.skip_reason():
        pytest.skip(C.PlainCF64.skip_reason())
    task = tiny_task(output)
    if sparse:
        keep = np.zeros(task.X.shape, dtype=bool)  # one non-zero input per sample
        keep[np.arange(task.n_train), np.random.default_rng(4).integers(0, 6, task.n_train)] = 1
        task.X[~keep] = 0.0
    order = np.random.default_rng(1).permutation(task.n_train)
    weights, biases, out = reference_epoch(task, order)
    plain = C.PlainCF64(task, C.initial_params(task))
    assert (plain.net.indices is not None) == sparse
    plain.train_epoch(order)
    np.testing.assert_allclose(plain.net.params, np.concatenate(
        [np.concatenate([w.ravel(), b]) for w, b in zip(weights, biases)]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(plain.outputs(task.X), out, rtol=0, atol=1e-12)


def test_tutorial_feedforward_is_a_distribution():
    task = tiny_task()
    net = TutorialNet(*C.layer_arrays(task, C.initial_params(task)), 0.1, 0.0)
    out = net.feedforward(task.X[0])
    assert out.shape == (3, 1)
    np.testing.assert_allclose(out.sum(), 1.0)


@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_sklearn_settings_match_reference(output):
    """MLP(solver='sgd', batch_size=1, momentum=0, alpha=mu) takes annfast's step."""
    task = tiny_task(output)
    contender = C.Sklearn(task, C.initial_params(task))
    est = contender.est
    contender.train_epoch(None)  # scikit-learn only builds its weights in a first call
    weights, biases = C.layer_arrays(task, C.initial_params(task))
    est.coefs_ = [w.T.copy() for w in weights]
    est.intercepts_ = [b.copy() for b in biases]
    est.shuffle = False  # so that it visits the samples in order, as the reference below
    contender.train_epoch(None)
    ref_w, ref_b, ref_out = reference_epoch(task, np.arange(task.n_train))
    for i in range(len(ref_w)):
        np.testing.assert_allclose(est.coefs_[i].T, ref_w[i], rtol=0, atol=1e-12)
        np.testing.assert_allclose(est.intercepts_[i], ref_b[i], rtol=0, atol=1e-12)
    np.testing.assert_allclose(contender.outputs(task.X), ref_out, rtol=0, atol=1e-12)


@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_torch_settings_match_reference(output):
    pytest.importorskip("torch")
    task = tiny_task(output)
    order = np.random.default_rng(2).permutation(task.n_train)
    _, _, ref_out = reference_epoch(task, order)
    contender = C.TorchF64(task, C.initial_params(task))
    contender.train_epoch(order)
    np.testing.assert_allclose(contender.outputs(task.X), ref_out, rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fann_starts_from_the_given_weights(dtype):
    from benchmarks import fann

    lib = fann.load(dtype)
    if lib is None:
        pytest.skip(f"FANN (lib{fann.LIBRARIES[dtype]}) is not installed")
    task = tiny_task()
    weights, biases = C.layer_arrays(task, C.initial_params(task))
    net = fann.FannNet(lib, task.sizes, weights, biases, 0.1, True, dtype)
    # FANN's symmetric sigmoid is tanh(z / 2) and its sigmoid the logistic function
    # at the default steepness 0.5.
    a = task.X
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T + b
        a = np.tanh(z / 2) if i < len(weights) - 1 else 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(net.outputs(task.X), a, rtol=0,
                               atol=1e-12 if dtype == np.float64 else 1e-5)


def test_annfast_contender_starts_from_the_given_weights_with_the_task_decay():
    task = tiny_task()
    params = C.initial_params(task) * 0.5  # not what NeuralNet would draw itself
    contender = C.AnnfastF64(task, params)
    # NeuralNet decays by reg_lambda / n per sample: the contender makes that mu.
    assert contender.net.reg_lambda / task.n_train == pytest.approx(task.mu)
    weights, biases = C.layer_arrays(task, params)
    expected = reference.predict(weights, biases, ["relu", "relu", "softmax"], task.X)
    np.testing.assert_allclose(contender.outputs(task.X), expected, rtol=0, atol=1e-12)


def test_numpy_matmul_forward_matches_reference():
    task = tiny_task()
    params = C.initial_params(task)
    weights, biases = C.layer_arrays(task, params)
    expected = reference.predict(weights, biases, ["relu", "relu", "softmax"], task.X)
    for cls in (C.NumpyMatmulF64, C.NumpyMatmulF32):
        out = cls(task, params).outputs(task.X.astype(cls.dtype))
        np.testing.assert_allclose(out, expected, rtol=1e-5 if cls.dtype == np.float32 else 1e-12)


def test_evaluate_formulas():
    task = tiny_task()
    perfect = task.Y * (1 - 1e-12) + 1e-13
    loss, acc = evaluate(task, perfect, task.Y_eval)
    assert loss < 1e-9 and acc == 1.0
    uniform = np.full_like(task.Y, 1 / 3)
    assert evaluate(task, uniform, task.Y_eval)[0] == pytest.approx(np.log(3))
    reg = tiny_task("identity")
    loss, acc = evaluate(reg, reg.Y + 0.5, None)
    assert acc is None and loss == pytest.approx(0.5 * 3 * 0.25)


def test_paired_ratios_and_spread():
    assert paired_ratios([1.0, 2.0, 4.0], [3.0, 4.0, 4.0]) == [3.0, 2.0, 1.0]
    assert spread([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)
    assert fmt_rate(123456.0) == "123,000"


def test_cost_exponent_recovers_a_power_law():
    n = np.array([1e3, 1e4, 1e5, 1e6])
    assert cost_exponent(n, 3e-9 * n**1.0) == pytest.approx(1.0)
    assert cost_exponent(n, 2e-7 * n**0.5) == pytest.approx(0.5)
    assert np.isnan(cost_exponent([10], [1.0]))


def test_run_training_interleaves_and_reports(monkeypatch):
    task = tiny_task()
    classes = [C.AnnfastF64, C.Reference, C.Tutorial]
    calls = []
    for cls in classes:
        original = cls.train_epoch

        def spy(self, order, original=original):
            calls.append(self.key)
            return original(self, order)

        monkeypatch.setattr(cls, "train_epoch", spy)
    w = compare.run_training(task, classes, repeats=2)
    keys = [c.key for c in classes]
    assert calls == keys * 3  # warm-up, then A B C A B C
    assert w["epochs"] == 3 and list(w["results"]) == keys
    for r in w["results"].values():
        assert len(r["seconds"]) == 2 and all(s > 0 for s in r["seconds"])
    # Fed the same orders, the reference and the tutorial loop end identical.
    assert w["results"]["reference"]["loss"] == pytest.approx(w["results"]["tutorial"]["loss"],
                                                              rel=1e-9)
    json.dumps(w)  # everything is JSON-serialisable
    table = report.workload_table(w)
    assert "annfast float64 | " in table and "1.00x [1.00-1.00]" in table
    annfast = w["results"]["annfast-f64"]
    inner = annfast["in_loop_seconds"]  # fit's own epoch times lie within the call's
    assert len(inner) == 2 and all(0 < a <= b for a, b in zip(inner, annfast["seconds"]))
    assert "inside fit's epoch loop" in report.in_loop_note(w)


def test_targets_rows_report_shortfall():
    results = {"annfast-f64": {"seconds": [1.0, 1.0]}, "tutorial": {"seconds": [6.0, 5.0]},
               "annfast-f32": {"seconds": [0.5, 0.5]}}
    doc = {"workloads": {"mnist-dense": {"results": results}}}
    rows = {(r[0], r[1]): r for r in report.targets_rows(doc)}
    f64 = rows[("[784, 32, 10] dense inputs, x tutorial-style loop", "float64")]
    assert f64[3].startswith("5.50x") and "needs 2.18x more" in f64[5]
    f32 = rows[("[784, 32, 10] dense inputs, x tutorial-style loop", "float32")]
    assert f32[3].startswith("11.0x") and "missed" in f32[5] and f32[4] == ""
    # With fit's in-loop times the second figure appears, and the status says so.
    results["annfast-f64"]["in_loop_seconds"] = [0.4, 0.4]
    f64 = {(r[0], r[1]): r for r in report.targets_rows(doc)}[
        ("[784, 32, 10] dense inputs, x tutorial-style loop", "float64")]
    assert f64[4].startswith("13.8x") and f64[5].endswith("met inside fit's loop")
    torch_row = rows[("[784, 32, 10] dense inputs, x PyTorch per-sample", "float64")]
    assert torch_row[3] == "not measured"


def test_update_results_keeps_hand_written_text(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Title\n\nHand-written notes.\n")
    report.update_results(path, "first table")
    report.update_results(path, "second table")
    text = path.read_text()
    assert text.startswith("# Title\n\nHand-written notes.\n")
    assert "second table" in text and "first table" not in text
    assert text.count(report.BEGIN) == 1 and text.count(report.END) == 1


#: Round machine limits (GFLOP/s, GB/s, bytes) for the bound arithmetic below.
LIMITS = {"simd": "avx2", "trials": 1,
          "float64": {"fma_gflops": 10.0, "fma_chains": 12},
          "float32": {"fma_gflops": 20.0, "fma_chains": 12},
          "bandwidth": {"l1_read": 200.0, "l1_rmw": 200.0, "l2_read": 100.0, "l2_rmw": 80.0,
                        "mem_read": 20.0},
          "cache": {"l1": 32 * 1024, "l2": 1024 * 1024, "l3": 32 * 1024 ** 2}}


def test_per_sample_bound_counts_one_read_and_one_read_modify_write():
    from benchmarks import bounds

    # [100, 20, 5]: 2,100 weights and 25 biases, 17,000 float64 bytes: past half of L1.
    b = bounds.per_sample((100, 20, 5), 8, LIMITS)
    assert b["level"] == "l2"
    assert b["forward_flop_s"] == pytest.approx(2 * 2100 / 10e9)
    assert b["forward_byte_s"] == pytest.approx((2125 * 8 + 100 * 8) / 100e9)
    assert b["backward_flop_s"] == pytest.approx((2 * 2100 + 2 * 100) / 10e9)
    assert b["backward_byte_s"] == pytest.approx(2 * 2125 * 8 / 80e9)
    # flops take longer than bytes in both phases on this slow FMA unit.
    assert b["limit"] == "FMA"
    assert b["samples_per_s"] == pytest.approx(1 / ((4200 + 4400) / 10e9))
    # float32 halves the bytes (L1 now) and doubles the peak.
    b32 = bounds.per_sample((100, 20, 5), 4, LIMITS)
    assert b32["level"] == "l1" and b32["samples_per_s"] == pytest.approx(
        2 * b["samples_per_s"])


def test_sparse_bound_touches_only_the_non_zero_columns():
    from benchmarks import bounds

    limits = {**LIMITS, "float64": {"fma_gflops": 1e6, "fma_chains": 12}}  # bytes alone decide
    b = bounds.per_sample((784, 32, 10), 8, limits, nnz=151)
    touched = 151 * 32 + 320 + 42
    assert b["limit"] == "bandwidth" and b["level"] == "l2"  # all of W1 is the working set
    assert b["forward_byte_s"] == pytest.approx((touched * 8 + 151 * 16) / 100e9)
    assert b["backward_byte_s"] == pytest.approx(2 * touched * 8 / 80e9)
    dense = bounds.per_sample((784, 32, 10), 8, limits)
    assert dense["samples_per_s"] < b["samples_per_s"] / 4


def test_minibatch_and_prediction_bounds():
    from benchmarks import bounds

    sizes = (2, 100, 100, 3)  # 10,500 weights, 203 biases; 10,300 past the first layer
    assert bounds.minibatch_flops(sizes, 200) == pytest.approx(
        4 * 10500 + 2 * 10300 + 10 * 10703 / 200)
    assert bounds.fraction_of_peak(1000.0, 5e6, "float64", LIMITS) == pytest.approx(0.5)
    p = bounds.prediction((784, 32, 10), 8, LIMITS)
    assert p["flop_s"] == pytest.approx(2 * 25408 / 10e9)
    assert p["byte_s"] == pytest.approx(784 * 8 / 20e9)
    assert p["limit"] == "FMA" and p["samples_per_s"] == pytest.approx(1 / p["flop_s"])


def test_bound_rows_give_fractions_and_target_status():
    from benchmarks import bounds

    sizes = [784, 32, 10]
    bound = bounds.per_sample(sizes, 8, LIMITS)["samples_per_s"]
    n = 1000
    fast = n / (0.96 * bound)  # seconds per epoch at 96% of the bound
    w = {"title": "dense", "sizes": sizes, "n_train": n, "density": 0.8, "results": {
        "annfast-f64": {"dtype": "float64", "seconds": [2 * fast, 2 * fast],
                        "samples_per_s": [n / (2 * fast)] * 2,
                        "in_loop_seconds": [fast, fast]},
        "tutorial": {"dtype": "float64", "seconds": [20 * fast, 30 * fast],
                     "samples_per_s": [n / (20 * fast), n / (30 * fast)]}}}
    pb = bounds.prediction(sizes, 4, LIMITS)["samples_per_s"]
    pred = {"title": "predict", "sizes": sizes, "n_train": 100, "density": 1.0, "results": {
        "annfast-f32": {"dtype": "float32", "seconds": [1.0], "samples_per_s": [pb / 2]},
        "numpy-matmul-f32": {"dtype": "float32", "seconds": [1.1], "samples_per_s": [1.0]}}}
    doc = {"limits": LIMITS, "workloads": {"mnist-dense": w, "predict": pred,
                                           "tutorial-train-call": w}}
    rows = report.bound_rows(doc)
    assert len(rows) == 2  # the script's call has no bound
    dense, predict = rows
    assert dense[3].endswith("(48%; best 48%)") and dense[4].endswith("(96%; best 96%)")
    assert dense[5].startswith("12.5x") and dense[7] == "met"  # judged inside fit's loop
    assert predict[3].endswith("(50%; best 50%)") and predict[5].startswith("1.10x")
    assert predict[7] == "unmet"  # 1.1x is short of 1.2x
    # Without limits (an older JSON) the report renders as before.
    assert report.bound_rows({"workloads": doc["workloads"]}) == []
    assert report.limits_section({"workloads": doc["workloads"]}) == ""
    assert "| dense | float64 |" in report.limits_section(doc)


def test_limits_loops_run_and_report_positive_rates():
    from benchmarks import limits

    simd = next((s for s in ("avx2", "avx512") if limits.CPU_FLAG[s] in limits.cpu_flags()),
                None)
    if simd is None or limits.load(np.float64, simd) is None:
        pytest.skip("no AVX2 CPU or no C compiler")
    doc = limits.measure(simd, trials=1, target_seconds=1e-4)
    assert doc["float64"]["fma_gflops"] > 0 and doc["float32"]["fma_gflops"] > 0
    assert all(doc["bandwidth"][k] > 0 for k in ("l1_read", "l1_rmw", "l2_read", "l2_rmw",
                                                 "mem_read"))
    assert "peak FMA float64" in limits.table(doc)
