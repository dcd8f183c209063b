"""Property-based tests (hypothesis): the kernels agree with annfast.reference
on random architectures, activations, dtypes, layouts and values (extremes
included), and no call, however wrong, crashes the interpreter.

Agreement is judged against an error bound derived from the magnitudes
involved (``forward_error_bound``), so it holds for values from 1e-30 to 1e30;
when the float64 reference itself overflows for the dtype, only the absence
of a crash and a sane status are asserted.

The profile ``annfast`` (deadline None, bounded examples, derandomized so CI
runs are repeatable) keeps this file well under 30 s;
``ANNFAST_HYPOTHESIS_EXAMPLES=1000`` multiplies the search for a deeper run.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from annfast import NeuralNet, _kernels, _params, reference
from annfast.activations import ACTIVATIONS, LOSSES

settings.register_profile(
    "annfast",
    deadline=None,
    max_examples=int(os.environ.get("ANNFAST_HYPOTHESIS_EXAMPLES", "80")),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("annfast")

DTYPES = (np.float32, np.float64)
HIDDEN = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
OUTPUTS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
CLASSIC_LOSSES = ("mse", "bce", "ce")
#: (loss, output) pairs that are sound to train: cross-entropies need outputs in (0, 1).
SOUND = tuple((loss, out) for loss in CLASSIC_LOSSES for out in OUTPUTS
              if loss == "mse" or out in ("sigmoid", "softmax"))
EXTREMES = (0.0, -0.0, 1.0, -1.0, 1e30, -1e30, 1e-30, -1e-30, 1e-300, 3e38, -3e38)

# -- strategies --------------------------------------------------------------------------

sizes_st = st.lists(st.integers(1, 64), min_size=2, max_size=6)  # 1-5 weight layers


@st.composite
def problems(draw, pairs=SOUND, extremes=True, max_rows=6):
    """A random network and data: (sizes, act names, loss, dtype, params, X, Y).

    Values come from a NumPy generator seeded by hypothesis (continuous values,
    so kinks such as relu at 0 are hit only on purpose), scaled by a drawn
    magnitude, with a few drawn extreme values written over them.
    """
    sizes = draw(sizes_st)
    hidden = draw(st.sampled_from(HIDDEN))
    loss, out = draw(st.sampled_from(pairs))
    dtype = draw(st.sampled_from(DTYPES))
    n = draw(st.integers(1, max_rows))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-3, 0.1, 1.0, 3.0] + ([1e15] if extremes else [])))
    params = _params.init_params(sizes, "xavier", rng, np.float64) * scale
    X = rng.normal(size=(n, sizes[0])) * draw(st.sampled_from([0.0, 1e-6, 1.0, 10.0]))
    if extremes:
        for target in (params, X.reshape(-1)):
            spots = draw(st.lists(st.tuples(st.integers(0, target.size - 1),
                                            st.sampled_from(EXTREMES)), max_size=3))
            for i, v in spots:
                target[i] = v
    with np.errstate(over="ignore"):
        params, X = params.astype(dtype), X.astype(dtype)
    assume(np.isfinite(params).all() and np.isfinite(X).all())
    k = sizes[-1]
    if loss == "mse":
        Y = rng.normal(size=(n, k))
    elif loss == "ce" and k > 1:
        Y = np.eye(k)[rng.integers(0, k, size=n)]
    else:
        Y = rng.uniform(size=(n, k))
    names = [hidden] * (len(sizes) - 2) + [out]
    return sizes, names, loss, dtype, params, np.ascontiguousarray(X), Y.astype(dtype)


def make_arch(sizes, names, loss):
    return _kernels.Arch(sizes, [ACTIVATIONS[a] for a in names], LOSSES[loss])


def ref_copy(params, sizes, dtype=None):
    weights, biases = _params.views(params if dtype is None else params.astype(dtype), sizes,
                                    bias_shape="flat")
    return [w.copy() for w in weights], [b.copy() for b in biases]


def forward_error_bound(params, sizes, names, x, eps):
    """A bound on |kernel(x) - exact(x)| for one sample, from the magnitudes.

    Each layer adds a rounding error of about n_in * eps times |W| |a| + |b|
    (the dot product) plus a few eps of the output (the activation); errors
    of the input propagate through |W| with Lipschitz constant <= 1 (2 for
    softmax, in the max norm).  Returns (exact float64 output, bound, largest
    magnitude |W| |a| + |b| met on the way), any of them possibly non-finite.
    """
    weights, biases = ref_copy(params, sizes, np.float64)
    outs = reference.forward(weights, biases, names, x.astype(np.float64))
    err = np.zeros(sizes[0])
    largest = 0.0
    for W, b, a_in, a_out, name in zip(weights, biases, outs[:-1], outs[1:], names):
        mag = np.abs(W) @ np.abs(a_in) + np.abs(b)
        largest = max(largest, float(mag.max()))
        err_z = (W.shape[1] + 2) * eps * mag + np.abs(W) @ err
        err = np.full_like(a_out, 2 * err_z.max()) if name == "softmax" else err_z
        err = err + 4 * eps * np.abs(a_out) + eps * 4  # activation rounding (exp, tanh)
    return outs[-1], err, largest


# -- forward --------------------------------------------------------------------------------


@PROFILE
@given(problems(pairs=tuple(("mse", out) for out in OUTPUTS)))
def test_forward_agrees_with_reference(problem):
    sizes, names, loss, dtype, params, X, _ = problem
    arch = make_arch(sizes, names, loss)
    out = np.full((len(X), sizes[-1]), np.nan, dtype=dtype)
    with np.errstate(all="ignore"):
        _kernels.forward(arch, params, X, out)
    eps = np.finfo(dtype).eps
    big = float(np.finfo(dtype).max) / 16
    for i, x in enumerate(X):
        with np.errstate(all="ignore"):
            exact, bound, largest = forward_error_bound(params, sizes, names, x, eps)
        if names[-1] in ("sigmoid", "softmax"):
            finite = out[i][np.isfinite(out[i])]
            assert np.all((finite >= 0) & (finite <= 1)), "probabilities out of [0, 1]"
        if not (largest < big and np.all(bound < big) and np.all(np.abs(exact) < big)):
            continue  # the dtype overflows on the way: only no-crash is asserted
        assert np.all(np.isfinite(out[i])), f"row {i}: {out[i]} not finite, exact {exact}"
        diff = np.abs(out[i].astype(np.float64) - exact)
        assert np.all(diff <= 4 * bound + 1e-300), (
            f"row {i}: kernel {out[i]}, exact {exact}, bound {bound}")


@PROFILE
@given(problems(pairs=(("mse", "identity"), ("ce", "softmax"), ("bce", "sigmoid")),
                extremes=False, max_rows=5),
       st.sampled_from(["C", "F", "strided", "read-only", "int"]))
def test_public_predict_accepts_every_layout(problem, layout):
    sizes, names, loss, dtype, params, X, _ = problem
    out_name = names[-1]
    hidden = names[0] if len(names) > 1 else "relu"
    net = NeuralNet(sizes, activation=hidden, output=out_name, dtype=dtype, seed=0)
    net._set_params(params.copy())
    if layout == "int":
        X = np.round(X * 3)
    expected = np.empty((len(X), sizes[-1]), dtype=dtype)
    _kernels.forward(make_arch(sizes, names, loss), params, np.ascontiguousarray(X, dtype),
                     expected)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=X.dtype)
        wide[:, ::2] = X
        X = wide[:, ::2]
    elif layout == "read-only":
        X = X.copy()
        X.setflags(write=False)
    elif layout == "int":
        X = X.astype(np.int32)
    assert net.predict_proba(X).tobytes() == expected.tobytes()


# -- training and gradients -------------------------------------------------------------------


def assert_close(actual, expected, dtype, what, rtol=None):
    rtol = rtol if rtol is not None else {np.float32: 2e-3, np.float64: 1e-9}[dtype]
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    diff = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
    assert diff <= rtol * scale, f"{what}: max diff {diff:.3g} > {rtol * scale:.3g}"


@PROFILE
@given(problems(extremes=False), st.sampled_from([1e-3, 0.01, 0.1]),
       st.sampled_from([0.0, 1e-3, 0.05]))
def test_train_epoch_agrees_with_reference(problem, lr, mu):
    sizes, names, loss, dtype, params, X, Y = problem
    arch = make_arch(sizes, names, loss)
    order = np.arange(len(X))[::-1].copy()
    weights, biases = ref_copy(params, sizes)
    with np.errstate(all="ignore"):
        ref_loss = reference.sgd_epoch(weights, biases, names, loss, X, Y, order, lr, mu)
    assume(all(np.isfinite(w).all() for w in weights + biases))
    work = params.copy()
    status, loss_sum, done, _ = _kernels.train(arch, work, np.empty(0, dtype), X, Y, order,
                                               1, "sgd", lr, mu)
    assert status == _kernels.OK and done == len(X)
    expected = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in
                               zip(weights, biases)])
    assert_close(work, expected, dtype, "params after one epoch")
    assert_close(loss_sum / len(X), ref_loss, dtype, "mean loss", rtol=1e-3 if
                 dtype == np.float32 else 1e-8)


@PROFILE
@given(problems(extremes=False))
def test_gradient_agrees_with_reference(problem):
    sizes, names, loss, dtype, params, X, Y = problem
    arch = make_arch(sizes, names, loss)
    grad, loss_sum = _kernels.gradient(arch, params, X, Y)
    weights, biases = ref_copy(params, sizes, np.float64)
    total = np.zeros(params.size)
    ref_loss = 0.0
    with np.errstate(all="ignore"):
        for x, y in zip(X.astype(np.float64), Y.astype(np.float64)):
            gw, gb, value = reference.backprop(weights, biases, names, loss, x, y)
            total += np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(gw, gb)])
            ref_loss += value
    assume(np.isfinite(total).all())
    # float32 kernels against the float64 reference: compare relative to magnitude.
    assert_close(grad, total, dtype, "gradient", rtol=2e-3 if dtype == np.float32 else 1e-8)
    assert_close(loss_sum, ref_loss, dtype, "loss", rtol=2e-3 if dtype == np.float32 else 1e-8)


@PROFILE
@given(problems(pairs=tuple((loss, out) for loss in CLASSIC_LOSSES for out in OUTPUTS)),
       st.integers(1, 4), st.sampled_from(sorted(_kernels.OPTIMIZER_CODES)),
       st.sampled_from([1e-2, 1.0, 1e6]))
def test_training_on_extremes_never_crashes_and_stops_cleanly(problem, batch_size, optimizer,
                                                             lr):
    """Any values: the status is OK or E_NONFINITE; on E_NONFINITE the
    parameters are exactly those after the batches before the offending sample."""
    sizes, names, loss, dtype, params, X, Y = problem
    arch = make_arch(sizes, names, loss)
    order = np.tile(np.arange(len(X)), 2)
    state = np.zeros(_kernels.opt_state_size(optimizer, arch.n_params), dtype)
    work = params.copy()
    with np.errstate(all="ignore"):
        status, loss_sum, done, t = _kernels.train(arch, work, state, X, Y, order, batch_size,
                                                   optimizer, lr, 1e-3)
    assert status in (_kernels.OK, _kernels.E_NONFINITE)
    assert 0 <= done <= len(order)
    assert t >= 0
    if status == _kernels.OK:
        assert done == len(order)
        assert np.isfinite(loss_sum)
    else:
        assert done < len(order)
        # Replay the batches completed before the offending one: same bits.
        replay = params.copy()
        replay_state = np.zeros_like(state)
        whole = (done // batch_size) * batch_size
        with np.errstate(all="ignore"):
            s2, _, d2, _ = _kernels.train(arch, replay, replay_state, X, Y, order[:whole],
                                          batch_size, optimizer, lr, 1e-3)
        assert s2 == _kernels.OK and d2 == whole
        assert replay.tobytes() == work.tobytes()


# -- wrong calls raise, never crash ---------------------------------------------------------

MUTATIONS = (
    "params-short", "params-long", "params-empty", "params-2d", "params-f-strided",
    "params-dtype", "params-read-only", "X-features", "X-dtype", "X-fortran", "X-1d",
    "X-list", "Y-rows", "Y-cols", "Y-dtype", "out-shape", "out-read-only", "out-dtype",
    "order-high", "order-negative", "order-int32", "order-float", "order-2d",
    "state-short-adam", "state-dtype", "batch-zero", "optimizer-unknown",
)


def functions_for(mutation):
    if mutation == "params-read-only":
        return ("train",)  # forward and gradient only read params
    target = mutation.split("-")[0]
    return {"params": ("forward", "train", "gradient"), "X": ("forward", "train", "gradient"),
            "Y": ("train", "gradient"), "out": ("forward",)}.get(target, ("train",))


WRONG_CALLS = [(m, f) for m in MUTATIONS for f in functions_for(m)]


@pytest.mark.parametrize("mutation, function", WRONG_CALLS,
                         ids=[f"{f}-{m}" for m, f in WRONG_CALLS])
@settings(PROFILE, max_examples=max(3, PROFILE.max_examples // 8))
@given(problem=problems(pairs=(("mse", "identity"), ("ce", "softmax")), extremes=False))
def test_wrong_kernel_calls_raise_and_write_nothing(problem, mutation, function):
    sizes, names, loss, dtype, params, X, Y = problem
    arch = make_arch(sizes, names, loss)
    other = np.float32 if dtype == np.float64 else np.float64
    n = len(X)
    args = {"params": params.copy(), "X": X, "Y": Y, "out": np.zeros((n, sizes[-1]), dtype),
            "order": np.arange(n, dtype=np.int64), "state": np.zeros(2 * arch.n_params, dtype),
            "batch": 1, "optimizer": "sgd"}
    target, _, change = mutation.partition("-")
    if target == "params":
        p = args["params"]
        args["params"] = {
            "short": p[:-1], "long": np.append(p, 0).astype(dtype), "empty": p[:0],
            "2d": p.reshape(1, -1), "f-strided": np.repeat(p, 2)[::2],
            "dtype": p.astype(other), "read-only": p.copy(),
        }[change]
        if change == "read-only":
            args["params"].setflags(write=False)
    elif target == "X":
        args["X"] = {"features": np.zeros((n, sizes[0] + 1), dtype), "dtype": X.astype(other),
                     "fortran": np.asfortranarray(np.repeat(np.repeat(X, 2, 0), 2, 1)[::2, ::2]),
                     "1d": X.ravel(), "list": X.tolist()}[change]
        if change == "fortran":
            assume(not args["X"].flags.c_contiguous)  # a (1, 1) array is both C and F
    elif target == "Y":
        args["Y"] = {"rows": Y[:-1] if n > 1 else np.zeros((2, sizes[-1]), dtype),
                     "cols": np.zeros((n, sizes[-1] + 1), dtype),
                     "dtype": Y.astype(other)}[change]
    elif target == "out":
        args["out"] = {"shape": np.zeros((n, sizes[-1] + 1), dtype), "read-only": args["out"],
                       "dtype": args["out"].astype(other)}[change]
        if change == "read-only":
            args["out"].setflags(write=False)
    else:
        if target == "order":
            args["order"] = {"high": np.full(n, n, np.int64), "negative": np.full(n, -1, np.int64),
                             "int32": args["order"].astype(np.int32),
                             "float": args["order"].astype(np.float64),
                             "2d": args["order"].reshape(1, -1)}[change]
        elif target == "state":
            if change == "short-adam":
                args["state"], args["optimizer"] = args["state"][:-1], "adam"
            else:
                args["state"] = args["state"].astype(other)
        elif target == "batch":
            args["batch"] = 0
        else:
            args["optimizer"] = "adamx"
    before = args["params"].tobytes() if isinstance(args["params"], np.ndarray) else None
    with pytest.raises((ValueError, TypeError, IndexError, BufferError)):
        if function == "forward":
            _kernels.forward(arch, args["params"], args["X"], args["out"])
        elif function == "gradient":
            _kernels.gradient(arch, args["params"], args["X"], args["Y"])
        else:
            _kernels.train(arch, args["params"], args["state"], args["X"], args["Y"],
                           args["order"], args["batch"], args["optimizer"], 0.1)
    if before is not None:
        assert args["params"].tobytes() == before


@PROFILE
@given(problems(pairs=(("mse", "identity"),), extremes=False))
def test_zero_length_calls_are_no_ops(problem):
    sizes, names, loss, dtype, params, X, Y = problem
    arch = make_arch(sizes, names, loss)
    work = params.copy()
    out = np.empty((0, sizes[-1]), dtype)
    _kernels.forward(arch, work, X[:0], out)
    grad, value = _kernels.gradient(arch, work, X[:0], Y[:0])
    assert value == 0.0 and not grad.any()
    status, total, done, t = _kernels.train(arch, work, np.empty(0, dtype), X, Y,
                                            np.empty(0, np.int64), 1, "sgd", 0.1)
    assert (status, total, done, t) == (_kernels.OK, 0.0, 0, 0)
    status, _, done, _ = _kernels.train(arch, work, np.empty(0, dtype), X[:0], Y[:0],
                                        np.empty(0, np.int64), 1, "sgd", 0.1)
    assert (status, done) == (_kernels.OK, 0)
    assert work.tobytes() == params.tobytes()


@PROFILE
@given(st.lists(st.integers(-3, 2**40), min_size=0, max_size=7),
       st.lists(st.integers(-2, 9), min_size=0, max_size=7), st.integers(-2, 5))
def test_arch_rejects_bad_descriptions(sizes, acts, loss):
    ok = (len(sizes) >= 2 and all(s >= 1 for s in sizes) and len(acts) == len(sizes) - 1
          and all(0 <= a < len(ACTIVATIONS) for a in acts) and 0 <= loss < len(LOSSES)
          and sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])) < 2**62)
    if ok:
        arch = _kernels.Arch(sizes, acts, loss)
        assert arch.n_params == _params.n_params(sizes)
    else:
        with pytest.raises((ValueError, OverflowError)):
            _kernels.Arch(sizes, acts, loss)
