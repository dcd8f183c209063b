"""Every activation and every loss on every training path, against the reference,
central differences and PyTorch autograd.

A configuration is (hidden activation, output activation, loss, options).  Each
is trained for whole epochs by the per-sample kernel (af_sgd), the sparse-input
kernel (af_sgd_sparse), the minibatch kernel (af_train, batch 3) and the BLAS
minibatch kernel (af_train_gemm, batch 5), in float32 and float64, at every
instruction-set level, and compared with ``annfast.reference`` trained in the
same sample order.
"""

import numpy as np
import pytest
from conftest import DTYPES, assert_matches, flatten, random_params, ref_layers

from annfast import _kernels, _sparse, reference

ISAS = list(range(_kernels.CPU_ISA + 1))
KERAS_EPS = 1e-7
#: Non-default activation parameters, so that the per-layer values are exercised.
PARAMS = {"leaky_relu": 0.3, "elu": 0.7}

# (hidden, output, loss, options): every activation as hidden and output layer...
ACTIVATION_CONFIGS = [(act, act, "mse", {}) for act in reference.ACTIVATIONS]
# ...and every loss with a matched and an unmatched output, and its options.
LOSS_CONFIGS = [
    ("tanh", "identity", "mae", {}),
    ("relu", "tanh", "mae", {}),
    ("tanh", "identity", "huber", {"huber_delta": 0.5}),
    ("gelu", "softsign", "huber", {"huber_delta": 2.0}),
    ("tanh", "identity", "logcosh", {}),
    ("silu", "selu", "logcosh", {}),
    ("tanh", "exponential", "poisson", {}),
    ("tanh", "softplus", "poisson", {}),
    ("tanh", "exponential", "poisson", {"prob_eps": KERAS_EPS}),
    ("tanh", "softmax", "kld", {}),
    ("elu", "softmax", "kld", {"prob_eps": KERAS_EPS}),
    ("tanh", "identity", "hinge", {}),
    ("relu", "tanh", "hinge", {}),
    ("tanh", "identity", "squared_hinge", {}),
    ("hard_silu", "gelu_tanh", "squared_hinge", {}),
    ("tanh", "identity", "bce_logits", {}),
    ("tanh", "identity", "bce_logits", {"label_smoothing": 0.1}),
    ("tanh", "identity", "ce_logits", {}),
    ("relu", "identity", "ce_logits", {"label_smoothing": 0.2}),
    ("tanh", "sigmoid", "bce", {"label_smoothing": 0.1}),
    ("tanh", "sigmoid", "bce", {"prob_eps": KERAS_EPS}),
    ("tanh", "hard_sigmoid", "bce", {"prob_eps": KERAS_EPS}),
    ("tanh", "softmax", "ce", {"label_smoothing": 0.1}),
    ("tanh", "softmax", "ce", {"prob_eps": KERAS_EPS}),
    ("tanh", "sigmoid", "ce", {"prob_eps": KERAS_EPS}),
    ("tanh", "sigmoid", "ce", {}),
    ("relu6", "hard_sigmoid", "mse", {}),
    ("tanh", "identity", "mape", {}),
    ("relu", "softplus", "mape", {}),
    ("tanh", "softplus", "msle", {}),
    ("tanh", "identity", "msle", {}),  # negative outputs: the clip's zero gradient
]
CONFIGS = ACTIVATION_CONFIGS + LOSS_CONFIGS


def config_id(config):
    hidden, out, loss, opts = config
    extra = ",".join(f"{k}={v}" for k, v in opts.items())
    return f"{hidden}-{out}-{loss}" + (f"[{extra}]" if extra else "")


def targets(loss, rng, n, k):
    """Targets in each loss' domain."""
    if loss in ("mse", "mae", "huber", "logcosh"):
        return rng.normal(0.0, 1.0, size=(n, k))
    if loss == "mape":  # away from 0 (a zero target's 1e9 gradient is tested on its own)
        return rng.choice([-1.0, 1.0], size=(n, k)) * rng.uniform(0.5, 2.0, size=(n, k))
    if loss == "msle":  # with zeros and negatives: the epsilon floor of the logs
        return np.maximum(rng.normal(1.0, 1.5, size=(n, k)), -0.5)
    if loss in ("bce", "bce_logits"):
        return rng.uniform(0.0, 1.0, size=(n, k))
    if loss in ("ce", "ce_logits"):
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss == "kld":
        return rng.dirichlet(np.ones(k), size=n)
    if loss == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(float)
    if loss in ("hinge", "squared_hinge"):  # Keras' 0/1 labels and -1/1 labels
        return rng.choice([-1.0, 0.0, 1.0], size=(n, k))
    raise AssertionError(loss)


def problem(config, dtype, rng, sizes=(6, 5, 3), n=12):
    hidden, out, loss, opts = config
    acts = [hidden] * (len(sizes) - 2) + [out]
    slope = [PARAMS.get(a, 0.0) for a in acts]
    X = rng.normal(0.0, 1.0, size=(n, sizes[0]))
    X[rng.random(X.shape) < 0.4] = 0.0  # zeros, for the sparse path
    Y = targets(loss, rng, n, sizes[-1])
    params = random_params(list(sizes), np.float64, rng, scale=0.7, bias_scale=0.2)
    return (list(sizes), acts, slope, X.astype(dtype), np.ascontiguousarray(Y, dtype=dtype),
            params.astype(dtype))


def make(config, sizes, acts, slope, isa=None, loss_scale=1.0):
    _, _, loss, opts = config
    return _kernels.Arch(sizes, acts, loss, slope, loss_scale, isa, **opts)


def reference_train(params, sizes, acts, slope, config, X, Y, order, lr, l2, batch,
                    loss_scale=1.0, sample_weight=None):
    """The reference's epochs in float64: per-sample SGD with decay (batch 1) or
    minibatches whose step is lr * (sum of gradients + l2 W) / batch length."""
    _, _, loss, opts = config
    W, B = ref_layers(params.astype(np.float64), sizes)
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    total = 0.0
    if batch == 1:
        total = len(order) * reference.sgd_epoch(W, B, acts, loss, X, Y, order, lr, l2, slope,
                                                 loss_scale, sample_weight, **opts)
        return flatten(W, B), total
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        gw = [np.zeros_like(w) for w in W]
        gb = [np.zeros_like(b) for b in B]
        for i in rows:
            weight = 1.0 if sample_weight is None else sample_weight[i]
            dw, db, value = reference.backprop(W, B, acts, loss, X[i], Y[i], slope, loss_scale,
                                               weight, **opts)
            total += value
            for j in range(len(W)):
                gw[j] += dw[j]
                gb[j] += db[j]
        for j in range(len(W)):
            W[j] -= lr * (gw[j] + l2 * W[j]) / len(rows)
            B[j] -= lr * gb[j] / len(rows)
    return flatten(W, B), total


def kernel_train(arch, params, X, Y, order, lr, l2, path, sample_weight=None):
    got = params.copy()
    if path == "sparse":
        data, indices, indptr = _sparse.csr_arrays(X, X.dtype)
        status, total, done = _kernels.train_sparse(arch, got, data, indices, indptr, Y, order,
                                                    lr, l2, sample_weight=sample_weight)
    else:
        batch = {"sgd": 1, "batch": 3, "gemm": 5}[path]
        state = np.zeros(2 * arch.n_params, dtype=X.dtype)
        status, total, done, _ = _kernels.train(arch, got, state, X, Y, order, batch, "sgd",
                                                lr, l2, sample_weight=sample_weight)
    assert (status, done) == (_kernels.OK, len(order))
    return got, total


PATHS = ("sgd", "sparse", "batch", "gemm")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_training_matches_reference_on_every_path_and_isa(config, dtype, path):
    rng = np.random.default_rng(3)
    sizes, acts, slope, X, Y, params = problem(config, dtype, rng)
    order = np.concatenate([rng.permutation(len(X)), rng.permutation(len(X))])  # 2 epochs
    lr, l2 = 0.05, 0.01
    batch = {"sgd": 1, "sparse": 1, "batch": 3, "gemm": 5}[path]
    expected, expected_loss = reference_train(params, sizes, acts, slope, config, X, Y, order,
                                              lr, l2, batch)
    assert np.all(np.isfinite(expected))
    assert np.max(np.abs(expected - params)) > 1e-3  # training really moved the weights
    for isa in ISAS:
        got, total = kernel_train(make(config, sizes, acts, slope, isa), params, X, Y, order,
                                  lr, l2, path)
        assert_matches(got, expected, dtype, f"{config_id(config)} {path} isa={isa}")
        rel = 1e-4 if dtype == np.float32 else 1e-10
        assert total == pytest.approx(expected_loss, rel=rel, abs=rel)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", reference.ACTIVATIONS)
def test_batch_forward_matches_reference_at_every_isa(act, dtype):
    """Prediction (blocks of samples, then one at a time) with act on every layer."""
    rng = np.random.default_rng(2)
    sizes = [9, 7, 6, 5]
    acts = [act] * 3
    slope = [PARAMS.get(act, 0.0) * (j + 1) for j in range(3)]  # a different one per layer
    params = random_params(sizes, dtype, rng, scale=0.8)
    X = rng.normal(size=(11, sizes[0])).astype(dtype)
    W, B = ref_layers(params.astype(np.float64), sizes)
    expected = reference.predict(W, B, acts, X.astype(np.float64), slope)
    for isa in ISAS:
        out = np.empty((11, sizes[-1]), dtype=dtype)
        assert _kernels.forward(_kernels.Arch(sizes, acts, "mse", slope, isa=isa), params, X,
                                out)
        assert_matches(out, expected, dtype, f"{act} forward isa={isa}")


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_gradient_matches_central_differences(config):
    rng = np.random.default_rng(5)
    sizes, acts, slope, X, Y, params = problem(config, np.float64, rng, n=4)
    arch = make(config, sizes, acts, slope, loss_scale=0.5)
    grad, loss_sum = _kernels.gradient(arch, params, X, Y)

    def f(p):
        return _kernels.gradient(arch, p, X, Y)[1]

    h = 1e-6
    numeric = np.array([(f(params + h * e) - f(params - h * e)) / (2 * h)
                        for e in np.eye(params.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    # ...and the loss is the reference's.
    W, B = ref_layers(params, sizes)
    ref = sum(reference.backprop(W, B, acts, config[2], x, y, slope, 0.5, **config[3])[2]
              for x, y in zip(X, Y))
    assert loss_sum == pytest.approx(ref, rel=1e-12)


# -- PyTorch autograd -------------------------------------------------------------------


def torch_act(torch, name, z, param):
    F = torch.nn.functional
    return {
        "identity": lambda: z,
        "relu": lambda: F.relu(z),
        "leaky_relu": lambda: F.leaky_relu(z, param),
        "sigmoid": lambda: torch.sigmoid(z),
        "tanh": lambda: torch.tanh(z),
        "softmax": lambda: torch.softmax(z, dim=-1),
        "elu": lambda: F.elu(z, param),
        "selu": lambda: F.selu(z),
        "softplus": lambda: F.softplus(z, threshold=1e9),
        "softsign": lambda: F.softsign(z),
        "silu": lambda: F.silu(z),
        "gelu": lambda: F.gelu(z),
        "gelu_tanh": lambda: F.gelu(z, approximate="tanh"),
        "hard_sigmoid": lambda: F.hardsigmoid(z),
        "hard_silu": lambda: F.hardswish(z),
        "relu6": lambda: F.relu6(z),
        "exponential": lambda: torch.exp(z),
    }[name]()


def torch_loss(torch, loss, out, z, a, y, opts):
    """Summed per-sample losses as Keras / scikit-learn define them (z: output
    pre-activations, a: outputs).  Sigmoid + BCE and softmax + CE take the loss
    of the logits z, as Keras' TensorFlow backend does (and annfast: a - y)."""
    F = torch.nn.functional
    k = a.shape[-1]
    eps = opts.get("prob_eps", 0.0)
    ls = opts.get("label_smoothing", 0.0)
    if loss in ("bce", "bce_logits"):
        y = y * (1 - ls) + 0.5 * ls
    if loss in ("ce", "ce_logits"):
        y = y * (1 - ls) + ls / k
    if loss == "mse":
        return 0.5 * ((a - y) ** 2).sum()
    if loss == "mae":
        return (a - y).abs().sum()
    if loss == "huber":
        return F.huber_loss(a, y, reduction="sum", delta=opts["huber_delta"])
    if loss == "logcosh":
        d = a - y
        return (d + F.softplus(-2 * d) - np.log(2)).sum()
    if loss == "poisson":
        if eps:  # Keras
            return (a - y * torch.log(a + eps)).sum()
        # scikit-learn's half Poisson deviance
        return (a - y + torch.xlogy(y, y) - y * torch.log(a)).sum()
    if loss == "kld":
        yc = y.clamp(eps, 1)
        return (yc * torch.log(yc / a.clamp(eps, 1))).sum()
    if loss in ("hinge", "squared_hinge"):
        t = torch.where(y == 0, -torch.ones_like(y), y)
        m = F.relu(1 - t * a)
        return m.sum() if loss == "hinge" else (m**2).sum()
    if loss == "bce_logits" or (loss == "bce" and out == "sigmoid"):
        return F.binary_cross_entropy_with_logits(a if loss == "bce_logits" else z, y,
                                                  reduction="sum")
    if loss == "ce_logits" or (loss == "ce" and out == "softmax"):
        return F.cross_entropy(a if loss == "ce_logits" else z, y, reduction="sum")
    lo = eps or np.finfo(np.float64).eps
    if loss == "bce":
        p = a.clamp(lo, 1 - lo)
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).sum()
    if loss == "ce":
        if eps:  # Keras rescales the outputs to sum to one
            a = a / a.sum(dim=-1, keepdim=True)
        return -(y * torch.log(a.clamp(lo, 1 - lo))).sum()
    if loss == "mape":
        return (100 * (a - y).abs() / y.abs().clamp(min=KERAS_EPS)).sum()
    if loss == "msle":
        eps = torch.tensor(KERAS_EPS, dtype=a.dtype)
        return ((torch.log1p(torch.maximum(a, eps)) - torch.log1p(torch.maximum(y, eps))) ** 2
                ).sum()
    raise AssertionError(loss)


@pytest.mark.parametrize("batch", [1, 3, 4], ids=["af_sgd", "af_train", "af_train_gemm"])
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_one_update_matches_torch_autograd(config, batch):
    torch = pytest.importorskip("torch")
    hidden, out, loss, opts = config
    rng = np.random.default_rng(11)
    sizes, acts, slope, X, Y, params = problem(config, np.float64, rng, n=batch)
    lr, loss_scale = 0.1, 0.5
    arch = make(config, sizes, acts, slope, loss_scale=loss_scale)
    got = params.copy()
    state = np.zeros(2 * arch.n_params)
    status, _, _, _ = _kernels.train(arch, got, state, X, Y, np.arange(batch), batch, "sgd", lr)
    assert status == _kernels.OK

    W, B = ref_layers(params, sizes)
    tw = [torch.tensor(w, requires_grad=True) for w in W]
    tb = [torch.tensor(b, requires_grad=True) for b in B]
    a = torch.tensor(X)
    for j, (w, b) in enumerate(zip(tw, tb)):
        z = a @ w.T + b
        a = torch_act(torch, acts[j], z, slope[j])
    value = torch_loss(torch, loss, out, z, a, torch.tensor(Y), opts) * loss_scale / batch
    opt = torch.optim.SGD(tw + tb, lr=lr)
    opt.zero_grad()
    value.backward()
    opt.step()
    expected = flatten([w.detach().numpy() for w in tw], [b.detach().numpy() for b in tb])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


# -- single-sample properties -----------------------------------------------------------


def test_matched_poisson_delta_is_a_minus_y_and_the_value_is_half_deviance():
    arch = _kernels.Arch([2, 3], ["exponential"], "poisson")
    z = np.array([-1.0, 0.5, 2.0])
    a, y = np.exp(z), np.array([0.0, 1.0, 4.0])
    delta, value = _kernels.py_output_delta(arch, a, y)
    np.testing.assert_array_equal(delta, a - y)
    # scikit-learn's half Poisson deviance: xlogy(y, y / a) - y + a.
    expected = np.sum(a - y) + 1.0 * np.log(1.0 / a[1]) + 4.0 * np.log(4.0 / a[2])
    assert value == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("loss", ["bce_logits", "ce_logits"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_from_logits_are_stable_far_out(loss, dtype):
    arch = _kernels.Arch([2, 3], ["identity"], loss)
    logits = np.array([1e4, -1e4, 0.0], dtype=dtype)
    y = np.array([0.0, 1.0, 0.0], dtype=dtype)
    delta, value = _kernels.py_output_delta(arch, logits, y)
    assert np.all(np.isfinite(delta)) and np.isfinite(value)
    if loss == "bce_logits":
        # log(1 + e^-1e4) ~ 0 for the first two terms' "wrong" side: 1e4 each, plus log 2.
        assert value == pytest.approx(1e4 + 1e4 + np.log(2), rel=1e-6)
        np.testing.assert_allclose(delta, [1.0, -1.0, 0.5], rtol=1e-6)
    else:
        assert value == pytest.approx(2e4, rel=1e-6)
        np.testing.assert_allclose(delta, [1.0, -1.0, 0.0], atol=1e-6)


def test_mape_and_msle_floor_at_keras_epsilon():
    # mape divides by max(|y|, 1e-7); msle takes the logs of max(., 1e-7) and has no
    # gradient where the output is below it.
    a, y = np.array([0.5, -0.2, 0.3]), np.array([0.0, 0.4, -1e-9])
    delta, value = reference.output_delta("mape", "identity", a, y)
    np.testing.assert_allclose(delta, [100 / KERAS_EPS, -100 / 0.4, 100 / KERAS_EPS])
    assert value == pytest.approx(100 * (0.5 / KERAS_EPS + 0.6 / 0.4 + 0.3 / KERAS_EPS))
    delta, value = reference.output_delta("msle", "identity", a, np.array([0.1, -3.0, 2.0]))
    e = np.log1p(KERAS_EPS)
    r = [np.log1p(0.5) - np.log1p(0.1), e - e, np.log1p(0.3) - np.log1p(2.0)]
    np.testing.assert_allclose(delta, [2 * r[0] / 1.5, 0.0, 2 * r[2] / 1.3])
    assert value == pytest.approx(sum(v * v for v in r))
    # ...and the kernel's gradient is the reference's at those points.
    for loss, y in (("mape", y), ("msle", np.array([0.1, -3.0, 2.0]))):
        arch = _kernels.Arch([3, 3], ["identity"], loss, [0.0])
        params = np.concatenate([np.eye(3).ravel(), np.zeros(3)])
        grad, total = _kernels.gradient(arch, params, a.reshape(1, 3), y.reshape(1, 3))
        expected, value = reference.output_delta(loss, "identity", a, y)
        np.testing.assert_allclose(grad[9:], expected, rtol=1e-12)
        assert total == pytest.approx(value, rel=1e-12)


def test_keras_clip_gives_zero_gradient_where_active():
    # A linear output with BCE: outside [eps, 1 - eps] the clip is flat.
    arch = _kernels.Arch([2, 3], ["identity"], "bce", prob_eps=KERAS_EPS)
    a = np.array([-0.5, 0.3, 1.5])
    delta, value = _kernels.py_output_delta(arch, a, np.array([1.0, 1.0, 0.0]))
    assert delta[0] == 0 and delta[2] == 0
    assert delta[1] == pytest.approx((0.3 - 1.0) / (0.3 * 0.7), rel=1e-14)
    hi = 1 - KERAS_EPS
    assert value == pytest.approx(-np.log(KERAS_EPS) - np.log(0.3) - np.log(1 - hi), rel=1e-12)
    # annfast's own clip (prob_eps=0) keeps today's gradient at the clipped value.
    legacy, _ = _kernels.py_output_delta(_kernels.Arch([2, 3], ["identity"], "bce"), a,
                                         np.array([1.0, 1.0, 0.0]))
    assert legacy[0] != 0


def test_keras_categorical_rescales_outputs_to_sum_one():
    arch = _kernels.Arch([2, 3], ["sigmoid"], "ce", prob_eps=KERAS_EPS)
    a = np.array([0.2, 0.6, 0.4])
    _, value = _kernels.py_output_delta(arch, a, np.array([0.0, 1.0, 0.0]))
    assert value == pytest.approx(-np.log(0.6 / 1.2), rel=1e-14)


def test_hinge_reads_zero_labels_as_minus_one():
    arch = _kernels.Arch([2, 2], ["identity"], "hinge")
    a = np.array([0.5, 0.5])
    d0, v0 = _kernels.py_output_delta(arch, a, np.array([0.0, 1.0]))
    d1, v1 = _kernels.py_output_delta(arch, a, np.array([-1.0, 1.0]))
    np.testing.assert_array_equal(d0, d1)
    assert v0 == v1 == pytest.approx(1.5 + 0.5)


def test_label_smoothing_moves_targets_towards_uniform():
    a = np.array([0.7, 0.2, 0.1])
    y = np.array([1.0, 0.0, 0.0])
    smooth = _kernels.Arch([2, 3], ["softmax"], "ce", label_smoothing=0.3)
    delta, _ = _kernels.py_output_delta(smooth, a, y)
    np.testing.assert_allclose(delta, a - (y * 0.7 + 0.1), rtol=0, atol=1e-15)
    smooth = _kernels.Arch([2, 3], ["sigmoid"], "bce", label_smoothing=0.3)
    delta, _ = _kernels.py_output_delta(smooth, a, y)
    np.testing.assert_allclose(delta, a - (y * 0.7 + 0.15), rtol=0, atol=1e-15)


def test_activation_parameters_are_per_layer():
    arch = _kernels.Arch([2, 3, 3, 1], ["leaky_relu", "elu", "leaky_relu"], "mse",
                         [0.2, 0.5, 0.0])
    np.testing.assert_array_equal(arch.act_params, [0.2, 0.5, 0.0])
    # A scalar slope is every leaky_relu layer's; elu keeps alpha = 1.
    arch = _kernels.Arch([2, 3, 3, 1], ["leaky_relu", "elu", "leaky_relu"], "mse", 0.05)
    np.testing.assert_array_equal(arch.act_params, [0.05, 1.0, 0.05])
    assert arch.slope == 0.05
    import pickle

    again = pickle.loads(pickle.dumps(_kernels.Arch([2, 1], ["elu"], "huber", [0.4], 0.5,
                                                    huber_delta=0.3, label_smoothing=0.0,
                                                    prob_eps=1e-7)))
    np.testing.assert_array_equal(again.act_params, [0.4])
    assert (again.huber_delta, again.prob_eps, again.loss_scale) == (0.3, 1e-7, 0.5)


def test_pre_activation_room_only_where_needed():
    plain = _kernels.Arch([4, 8, 3], ["relu", "softmax"], "ce")
    assert plain.z_width == 0
    assert plain.scratch_width == plain.sum_width + 2 * plain.max_width
    gelu = _kernels.Arch([4, 8, 3], ["gelu", "softmax"], "ce")
    assert gelu.z_width == gelu.sum_width


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"acts": ["swish"]}, "unknown activation 'swish'; expected one of: identity, relu"),
    ({"acts": [99]}, "unknown activation code 99; expected one of: 0=identity"),
    ({"loss": "focal"}, "unknown loss 'focal'; expected one of: mse, bce, ce, mae"),
    ({"loss": 42}, "unknown loss code 42; expected one of: 0=mse"),
    ({"huber_delta": 0.0}, "huber_delta must be finite and > 0"),
    ({"huber_delta": -1.0}, "huber_delta must be finite and > 0"),
    ({"label_smoothing": 1.5}, r"label_smoothing must be in \[0, 1\]"),
    ({"label_smoothing": -0.1}, r"label_smoothing must be in \[0, 1\]"),
    ({"prob_eps": -1e-7}, r"prob_eps must be in \[0, 0.5\)"),
    ({"acts": ["leaky_relu"], "slope": -0.1}, "slope must be finite and >= 0"),
    ({"acts": ["elu"], "slope": [-1.0]}, "alpha must be finite and >= 0"),
    ({"slope": [0.1, 0.2]}, "one value per layer"),
])
def test_bad_arch_arguments_are_rejected(kwargs, match):
    args = {"sizes": [2, 1], "acts": ["relu"], "loss": "mse"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        _kernels.Arch(**args)


def test_negative_poisson_targets_are_rejected_before_any_update(rng):
    arch = _kernels.Arch([3, 2], ["exponential"], "poisson")
    params = random_params([3, 2], np.float64, rng)
    X = rng.normal(size=(4, 3))
    Y = np.abs(rng.normal(size=(4, 2)))
    Y[2, 1] = -1.0
    before = params.copy()
    with pytest.raises(ValueError, match="Y must be >= 0"):
        _kernels.train(arch, params, np.empty(0), X, Y, np.arange(4))
    data, indices, indptr = _sparse.csr_arrays(X, np.float64)
    with pytest.raises(ValueError, match="Y must be >= 0"):
        _kernels.train_sparse(arch, params, data, indices, indptr, Y, np.arange(4))
    with pytest.raises(ValueError, match="Y must be >= 0"):
        _kernels.gradient(arch, params, X, Y)
    np.testing.assert_array_equal(params, before)


def test_derivatives_that_need_z_refuse_to_run_without_it():
    code = _kernels.ACTIVATION_CODES["gelu"]
    with pytest.raises(ValueError, match="needs z"):
        _kernels.py_act_backward(code, np.zeros(3), np.ones(3))
    arch = _kernels.Arch([2, 3], ["gelu"], "mse")
    with pytest.raises(ValueError, match="needs z"):
        _kernels.py_output_delta(arch, np.zeros(3), np.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", reference.ACTIVATIONS)
def test_blas_prediction_matches_the_kernel_for_every_activation(act, dtype):
    """The engine's NumPy/BLAS forward pass (the registry's vectorised
    activations) computes every activation as the kernel does, including the
    per-layer parameters (leaky slope, elu alpha)."""
    from annfast import _engine

    rng = np.random.default_rng(4)
    sizes = [5, 6, 4]
    params = random_params(sizes, dtype, rng)
    X = (rng.normal(size=(9, 5)) * 3).astype(dtype)
    network = _engine.Network(sizes, [act, act], "mse", dtype, [0.3, 0.7])
    out = np.empty((9, 4), dtype=dtype)
    _kernels.forward(network.arch, params, X, out)
    got = np.empty_like(out)
    _engine._forward_blas(network, params, X, got)
    # float32: two exponential layers amplify a last-bit difference in the
    # first layer's sums (BLAS and the kernel add in different orders).
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(got, out, rtol=tol, atol=tol)


def test_poisson_on_a_relu_output_with_zero_counts_has_a_finite_gradient():
    arch = _kernels.Arch([2, 3], ["relu"], "poisson")
    a, y = np.array([0.0, 0.0, 2.0]), np.array([0.0, 0.0, 1.0])
    delta, value = _kernels.py_output_delta(arch, a, y)
    np.testing.assert_array_equal(delta, [0.0, 0.0, 0.5])  # relu' = 0 at a = 0
    assert value == pytest.approx(2.0 - 1.0 + np.log(0.5), rel=1e-14)


def test_keras_categorical_of_outputs_summing_to_zero_is_not_finite():
    # Nothing to rescale: the loss says so instead of a silent NaN gradient.
    arch = _kernels.Arch([2, 3], ["relu"], "ce", prob_eps=KERAS_EPS)
    _, value = _kernels.py_output_delta(arch, np.zeros(3), np.zeros(3))
    assert not np.isfinite(value)


# -- per-sample weights --------------------------------------------------------------------

WEIGHT_CONFIGS = [("relu", "softmax", "ce", {}),
                  ("gelu", "identity", "huber", {"huber_delta": 0.5}),
                  ("tanh", "exponential", "poisson", {}), ("relu", "sigmoid", "bce", {})]


def sample_weights(rng, n):
    w = rng.uniform(0.0, 2.0, size=n)
    w[::5] = 0.0  # weight 0: the sample only counts in the batch length
    w[1] = 1.0
    return w


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", WEIGHT_CONFIGS, ids=config_id)
def test_sample_weights_match_reference_on_every_path_and_isa(config, dtype, path):
    rng = np.random.default_rng(9)
    sizes, acts, slope, X, Y, params = problem(config, dtype, rng)
    w = sample_weights(rng, len(X))
    order = np.concatenate([rng.permutation(len(X)), rng.permutation(len(X))])
    lr, l2 = 0.05, 0.01
    batch = {"sgd": 1, "sparse": 1, "batch": 3, "gemm": 5}[path]
    expected, expected_loss = reference_train(params, sizes, acts, slope, config, X, Y, order,
                                              lr, l2, batch, sample_weight=w)
    unweighted, _ = reference_train(params, sizes, acts, slope, config, X, Y, order, lr, l2,
                                    batch)
    assert np.max(np.abs(expected - unweighted)) > 1e-3  # the weights matter
    for isa in ISAS:
        got, total = kernel_train(make(config, sizes, acts, slope, isa), params, X, Y, order,
                                  lr, l2, path, sample_weight=w)
        assert_matches(got, expected, dtype, f"{config_id(config)} {path} isa={isa}")
        rel = 1e-4 if dtype == np.float32 else 1e-10
        assert total == pytest.approx(expected_loss, rel=rel, abs=rel)


@pytest.mark.parametrize("config", WEIGHT_CONFIGS, ids=config_id)
def test_weighted_gradient_matches_central_differences_and_unit_weights_change_nothing(config):
    rng = np.random.default_rng(6)
    sizes, acts, slope, X, Y, params = problem(config, np.float64, rng, n=5)
    arch = make(config, sizes, acts, slope)
    w = sample_weights(rng, len(X))
    grad, loss_sum = _kernels.gradient(arch, params, X, Y, sample_weight=w)
    h = 1e-6

    def f(p):
        return _kernels.gradient(arch, p, X, Y, sample_weight=w)[1]

    numeric = np.array([(f(params + h * e) - f(params - h * e)) / (2 * h)
                        for e in np.eye(params.size)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    per_sample = [_kernels.gradient(arch, params, X[i:i + 1], Y[i:i + 1])[1] for i in range(5)]
    assert loss_sum == pytest.approx(np.dot(w, per_sample), rel=1e-12)
    ones, _ = _kernels.gradient(arch, params, X, Y, sample_weight=np.ones(len(X)))
    np.testing.assert_array_equal(ones, _kernels.gradient(arch, params, X, Y)[0])


@pytest.mark.parametrize("batch", [1, 3, 4], ids=["af_sgd", "af_train", "af_train_gemm"])
@pytest.mark.parametrize("config", WEIGHT_CONFIGS, ids=config_id)
def test_weighted_update_matches_torch_autograd(config, batch):
    """Keras' rule: sum of weighted per-sample losses divided by the batch size."""
    torch = pytest.importorskip("torch")
    hidden, out, loss, opts = config
    rng = np.random.default_rng(12)
    sizes, acts, slope, X, Y, params = problem(config, np.float64, rng, n=batch)
    w = rng.uniform(0.2, 2.0, size=batch)
    lr = 0.1
    arch = make(config, sizes, acts, slope)
    got = params.copy()
    status, _, _, _ = _kernels.train(arch, got, np.zeros(2 * arch.n_params), X, Y,
                                     np.arange(batch), batch, "sgd", lr, sample_weight=w)
    assert status == _kernels.OK
    W, B = ref_layers(params, sizes)
    tw = [torch.tensor(m, requires_grad=True) for m in W]
    tb = [torch.tensor(b, requires_grad=True) for b in B]
    value = 0
    for i in range(batch):
        a = torch.tensor(X[i:i + 1])
        for j, (m, b) in enumerate(zip(tw, tb)):
            z = a @ m.T + b
            a = torch_act(torch, acts[j], z, slope[j])
        value = value + w[i] * torch_loss(torch, loss, out, z, a, torch.tensor(Y[i:i + 1]), opts)
    opt = torch.optim.SGD(tw + tb, lr=lr)
    opt.zero_grad()
    (value / batch).backward()
    opt.step()
    expected = flatten([m.detach().numpy() for m in tw], [b.detach().numpy() for b in tb])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("weights", "match"), [
    ([1.0, 2.0], "sample_weight needs 4 values"),
    ([1.0, -1.0, 1.0, 1.0], "finite and >= 0"),
    ([1.0, np.nan, 1.0, 1.0], "finite and >= 0"),
    ([1.0, np.inf, 1.0, 1.0], "finite and >= 0"),
])
def test_bad_sample_weights_are_rejected_before_any_update(weights, match, rng):
    arch = _kernels.Arch([3, 2], ["sigmoid"], "bce")
    params = random_params([3, 2], np.float64, rng)
    X, Y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 2))
    before = params.copy()
    data, indices, indptr = _sparse.csr_arrays(X, np.float64)
    with pytest.raises(ValueError, match=match):
        _kernels.train(arch, params, np.empty(0), X, Y, np.arange(4), sample_weight=weights)
    with pytest.raises(ValueError, match=match):
        _kernels.train(arch, params, np.zeros(2 * arch.n_params), X, Y, np.arange(4), 4,
                       sample_weight=weights)
    with pytest.raises(ValueError, match=match):
        _kernels.train_sparse(arch, params, data, indices, indptr, Y, np.arange(4),
                              sample_weight=weights)
    with pytest.raises(ValueError, match=match):
        _kernels.gradient(arch, params, X, Y, sample_weight=weights)
    np.testing.assert_array_equal(params, before)
