"""Every optimizer, clipping, weight decay and the per-layer penalties of
``_kernels.train`` against ``annfast.reference.minibatch_epoch`` (plain NumPy):
1e-10 in float64 after whole epochs, two calls carrying the state and t, on the
per-sample path (batches below GEMM_MIN_BATCH) and the GEMM path, at every SIMD
level this CPU runs."""

import numpy as np
import pytest
from conftest import DTYPES, assert_matches, flatten, make_data, random_params, ref_layers

from annfast import _kernels, reference
from annfast.activations import ACTIVATIONS, LOSSES

SIZES = [4, 6, 3]
ISAS = tuple(range(_kernels.CPU_ISA + 1))
PENALTIES = np.array([[1e-3, 2e-2, 5e-3, 0.0], [0.0, 1e-2, 0.0, 3e-2]])

#: (optimizer, options) pairs: each new rule, each flag, and the shared features
#: (clipping, weight decay, penalties) on old and new rules.
CONFIGS = [
    ("adagrad", {"lr": 0.1, "epsilon": 1e-7, "initial_accumulator_value": 0.1}),
    ("adagrad", {"lr": 0.1, "epsilon": 1e-7, "initial_accumulator_value": 0.0}),
    ("adadelta", {"lr": 1.0, "rho": 0.9, "epsilon": 1e-6}),
    ("adamax", {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-7}),
    ("nadam", {"lr": 0.02, "beta1": 0.85, "beta2": 0.99, "epsilon": 1e-7}),
    ("adamw", {"lr": 0.02, "weight_decay": 0.3, "epsilon": 1e-7}),
    ("adam", {"lr": 0.02, "amsgrad": True, "beta2": 0.9, "epsilon": 1e-7}),
    ("adamw", {"lr": 0.02, "amsgrad": True, "weight_decay": 0.1, "epsilon": 1e-7}),
    ("rmsprop", {"lr": 0.01, "rho": 0.8, "momentum": 0.7, "epsilon": 1e-7}),
    ("rmsprop", {"lr": 0.01, "rho": 0.8, "centered": True, "epsilon": 1e-7}),
    ("rmsprop", {"lr": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True, "epsilon": 1e-7}),
    ("sgd", {"lr": 0.2, "clipnorm": 0.05}),
    ("momentum", {"lr": 0.1, "momentum": 0.9, "global_clipnorm": 0.1}),
    ("nesterov", {"lr": 0.1, "momentum": 0.9, "clipvalue": 0.02, "l2": 0.3}),
    ("adam", {"lr": 0.02, "clipvalue": 0.01, "epsilon": 1e-7}),
    ("sgd", {"lr": 0.2, "penalties": PENALTIES}),
    ("sgd", {"lr": 0.2, "weight_decay": 0.5}),
    ("rmsprop", {"lr": 0.01, "epsilon": 1e-7, "penalties": PENALTIES, "clipnorm": 0.1,
                 "weight_decay": 0.2}),
    ("nadam", {"lr": 0.02, "penalties": PENALTIES, "global_clipnorm": 0.2, "l2": 0.1,
               "epsilon": 1e-7}),
    ("adam", {"lr": 0.02, "epsilon": 1e-7}),
    ("rmsprop", {"lr": 0.01, "epsilon": 1e-7}),
]
IDS = ["-".join([name] + [k for k in opts if k not in ("lr", "epsilon")])
       for name, opts in CONFIGS]
#: Options that change the result only when they act: the test checks they did.
ACTING = ("clipnorm", "global_clipnorm", "clipvalue", "weight_decay", "penalties")


def kernel_state_to_reference(optimizer, state, params, options):
    """The reference's {slot: [per variable]} state from the kernel's flat slots."""
    n = params.size
    flags = {k: options[k] for k in ("amsgrad", "momentum", "centered") if k in options}
    out = {}
    for k, name in enumerate(reference.optimizer_slots(optimizer, **flags)):
        flat = state[k * n:(k + 1) * n].copy()
        if name == "accumulator":  # the kernel keeps A less its starting value
            flat = flat + options.get("initial_accumulator_value", 0.1)
        w, b = ref_layers(flat.astype(params.dtype), SIZES)
        out[name] = [v for pair in zip(w, b) for v in pair]
    return out


def reference_state_to_flat(state, n):
    slots = [np.concatenate([v.ravel() for v in arrays]) for k, arrays in state.items()
             if k != "u_product"]
    return np.concatenate(slots) if slots else np.zeros(0)


def run_both(optimizer, options, batch_size, dtype, isa, rng, parts=2):
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"],
                         isa=isa)
    acts = ["tanh", "softmax"]
    params = random_params(SIZES, dtype, rng)
    X, Y = make_data(rng, 17, SIZES, "ce", dtype)
    flags = {k: options[k] for k in ("amsgrad", "momentum", "centered") if k in options}
    state = np.zeros(_kernels.opt_state_size(optimizer, params.size, **flags), dtype)
    ref_opts = {k: v for k, v in options.items() if k not in ("lr", "l2", "penalties",
                                                            "initial_accumulator_value")}
    weights, biases = ref_layers(params, SIZES)
    variables = [v for pair in zip(weights, biases) for v in pair]
    ref_state = reference.new_optimizer_state(
        optimizer, variables, **flags,
        initial_accumulator_value=options.get("initial_accumulator_value", 0.1))
    order = np.concatenate([rng.permutation(len(X)), rng.permutation(len(X))])
    cuts = np.array_split(order, parts)
    t = ref_t = 0
    losses = []
    for part in cuts:
        status, loss_sum, done, t = _kernels.train(arch, params, state, X, Y, part, batch_size,
                                                   optimizer, t=t, **options)
        assert (status, done) == (_kernels.OK, len(part))
        ref_loss, ref_t = reference.minibatch_epoch(
            weights, biases, acts, "ce", X, Y, part, batch_size, optimizer, ref_state,
            t=ref_t, lr=options["lr"], l2=options.get("l2", 0.0),
            penalties=options.get("penalties"), **ref_opts)
        losses.append((loss_sum, ref_loss))
    return params, state, t, flatten(weights, biases), ref_state, ref_t, losses


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [1, 3, 5])  # per-sample, small batch, GEMM
@pytest.mark.parametrize("optimizer, options", CONFIGS, ids=IDS)
def test_kernel_matches_reference(optimizer, options, batch_size, dtype, rng):
    for isa in ISAS:
        params, state, t, ref_params, ref_state, ref_t, losses = run_both(
            optimizer, options, batch_size, dtype, isa, np.random.default_rng(isa))
        where = f"{optimizer} isa={isa}"
        assert t == ref_t
        assert_matches(params, ref_params, dtype, f"{where} params")
        n = params.size
        flat_ref = reference_state_to_flat(ref_state, n)
        if optimizer == "adagrad":  # the kernel's slot is A less its starting value
            flat_ref = flat_ref - options["initial_accumulator_value"]
        assert_matches(state[:flat_ref.size], flat_ref.astype(dtype), dtype, f"{where} state")
        if optimizer == "nadam":
            assert state[-1] == pytest.approx(ref_state["u_product"],
                                              rel=1e-6 if dtype == np.float32 else 1e-14)
        for got, expected in losses:
            assert got == pytest.approx(expected, rel=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("optimizer, options",
                         [c for c in CONFIGS if any(k in c[1] for k in ACTING)],
                         ids=[i for i, c in zip(IDS, CONFIGS) if any(k in c[1] for k in ACTING)])
def test_options_act(optimizer, options, rng):
    """Clipping, decay and penalties each change the result (the agreement above
    is not vacuous), and the penalties add to the reported loss."""
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = random_params(SIZES, np.float64, rng)
    X, Y = make_data(rng, 17, SIZES, "ce", np.float64)
    flags = {k: options[k] for k in ("amsgrad", "momentum", "centered") if k in options}
    size = _kernels.opt_state_size(optimizer, params.size, **flags)
    plain = {k: v for k, v in options.items() if k not in ACTING}
    with_opts, without = params.copy(), params.copy()
    _, loss_with, *_ = _kernels.train(arch, with_opts, np.zeros(size), X, Y, np.arange(17), 4,
                                      optimizer, **options)
    _, loss_without, *_ = _kernels.train(arch, without, np.zeros(size), X, Y, np.arange(17), 4,
                                         optimizer, **plain)
    for name in ACTING:
        if name in options:
            one = {**plain, name: options[name]}
            alone = params.copy()
            _kernels.train(arch, alone, np.zeros(size), X, Y, np.arange(17), 4, optimizer,
                           **one)
            assert np.max(np.abs(alone - without)) > 1e-6, f"{name} had no effect"
    if "penalties" in options:
        assert loss_with > loss_without


def test_lr_schedule_between_calls(rng):
    """A learning rate set per call (a schedule run from Python) with t carried:
    equals the reference stepping the same rates."""
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = random_params(SIZES, np.float64, rng)
    X, Y = make_data(rng, 12, SIZES, "ce", np.float64)
    for optimizer in ("adam", "nadam", "adamax"):
        p = params.copy()
        w, b = ref_layers(params, SIZES)
        ref_vars = [v for pair in zip(w, b) for v in pair]
        state = np.zeros(_kernels.opt_state_size(optimizer, p.size))
        ref_state = reference.new_optimizer_state(optimizer, ref_vars)
        t = ref_t = 0
        for step, lr in enumerate([0.05, 0.03, 0.01, 0.005]):
            batch = np.arange(3 * step, 3 * step + 3)
            *_, t = _kernels.train(arch, p, state, X, Y, batch, 3, optimizer, lr, t=t)
            _, ref_t = reference.minibatch_epoch(w, b, ["tanh", "softmax"], "ce", X, Y, batch,
                                                 3, optimizer, ref_state, t=ref_t, lr=lr)
        assert t == ref_t == 4
        assert_matches(p, flatten(w, b), np.float64, f"{optimizer} scheduled")


def test_penalty_gradient_equals_central_differences(rng):
    """One full-batch SGD step with penalties moves p by lr * the gradient of
    (mean loss + penalties), the gradient taken by central differences."""
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = random_params(SIZES, np.float64, rng)
    X, Y = make_data(rng, 8, SIZES, "ce", np.float64)

    def objective(p):
        _, loss = _kernels.gradient(arch, p, X, Y)
        w, b = ref_layers(p, SIZES)
        value, _ = reference.regularization([v for pair in zip(w, b) for v in pair], PENALTIES)
        return loss / len(X) + value

    h = 1e-6
    numeric = np.array([(objective(params + h * e) - objective(params - h * e)) / (2 * h)
                        for e in np.eye(params.size)])
    stepped = params.copy()
    _, loss_sum, *_ = _kernels.train(arch, stepped, np.zeros(0), X, Y, np.arange(8), 8, "sgd",
                                     0.1, penalties=PENALTIES)
    np.testing.assert_allclose((params - stepped) / 0.1, numeric, rtol=0, atol=1e-7)
    assert loss_sum / len(X) == pytest.approx(objective(params), rel=1e-12)


@pytest.mark.parametrize("optimizer, options", CONFIGS, ids=IDS)
def test_state_size_rule(optimizer, options, rng):
    """opt_state_size counts the reference's slots; one value short is refused,
    before anything changes."""
    flags = {k: options[k] for k in ("amsgrad", "momentum", "centered") if k in options}
    n = 51  # the parameters of SIZES
    slots = reference.optimizer_slots(optimizer, **flags)
    need = _kernels.opt_state_size(optimizer, n, **flags)
    assert need == n * len(slots) + (optimizer == "nadam")
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    assert arch.n_params == n
    params = random_params(SIZES, np.float64, rng)
    X, Y = make_data(rng, 5, SIZES, "ce", np.float64)
    before = params.copy()
    if need:
        with pytest.raises(ValueError, match=f"opt_state needs {need} values"):
            _kernels.train(arch, params, np.zeros(need - 1), X, Y, np.arange(5), 2, optimizer,
                           **options)
        np.testing.assert_array_equal(params, before)
    status, *_ = _kernels.train(arch, params, np.zeros(need), X, Y, np.arange(5), 2, optimizer,
                                **options)
    assert status == _kernels.OK


BAD = [
    ({"optimizer": "lion"}, "optimizer must be one of .*'adadelta'.*'nadam'"),
    ({"lr": -0.1}, "lr must be"),
    ({"lr": float("nan")}, "lr must be"),
    ({"l2": -1.0}, "l2 must be"),
    ({"optimizer": "adam", "epsilon": -1e-8}, "epsilon must be"),
    ({"optimizer": "adam", "beta1": 1.0}, "beta1 must be"),
    ({"optimizer": "nadam", "beta2": -0.1}, "beta2 must be"),
    ({"optimizer": "rmsprop", "rho": 1.0}, "rho must be"),
    ({"optimizer": "adadelta", "rho": float("inf")}, "rho must be"),
    ({"optimizer": "rmsprop", "momentum": 1.5}, "momentum must be"),
    ({"optimizer": "momentum", "momentum": -0.5}, "momentum must be"),
    ({"optimizer": "adagrad", "initial_accumulator_value": -1.0},
     "initial_accumulator_value must be"),
    ({"optimizer": "sgd", "amsgrad": True}, "amsgrad"),
    ({"optimizer": "adam", "centered": True}, "centered"),
    ({"weight_decay": -0.1}, "weight_decay must be"),
    ({"clipnorm": -1.0}, "clipnorm must be"),
    ({"global_clipnorm": float("nan")}, "global_clipnorm must be"),
    ({"clipvalue": -0.5}, "clipvalue must be"),
    ({"clipvalue": 0.5, "clipnorm": 1.0}, "only one of clipvalue"),
    ({"penalties": np.zeros((3, 4))}, r"penalties must have shape \(2, 4\)"),
    ({"penalties": np.zeros(8)}, r"penalties must have shape \(2, 4\)"),
    ({"penalties": -PENALTIES}, "penalties must be finite and >= 0"),
    ({"penalties": np.full((2, 4), np.nan)}, "penalties must be finite and >= 0"),
    ({"t": -1}, "t .* must be >= 0"),
]


@pytest.mark.parametrize("kwargs, message", BAD, ids=[m.split(" ")[0] + str(i)
                                                      for i, (_, m) in enumerate(BAD)])
def test_bad_optimizer_arguments_raise_before_any_change(kwargs, message, rng):
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = random_params(SIZES, np.float64, rng)
    X, Y = make_data(rng, 6, SIZES, "ce", np.float64)
    state = np.ones(3 * params.size + 1)
    before, state_before = params.copy(), state.copy()
    args = {"optimizer": "sgd", "lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        _kernels.train(arch, params, state, X, Y, np.arange(6), 2, **args)
    np.testing.assert_array_equal(params, before)
    np.testing.assert_array_equal(state, state_before)


def test_opt_state_size_rejects_bad_names():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        _kernels.opt_state_size("adagrad2", 10)
    with pytest.raises(ValueError, match="n_params"):
        _kernels.opt_state_size("adam", -1)
    with pytest.raises(ValueError, match="centered"):
        _kernels.opt_state_size("adam", 10, centered=True)
