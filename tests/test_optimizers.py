"""The batch path of ``_kernels.train`` and its optimizers against a NumPy model.

``numpy_train`` below restates the update rules of csrc/af.h in plain NumPy on
top of ``annfast.reference.backprop``; the kernel must agree with it to 1e-10
(float64) after several batches, across calls that carry the optimizer state.
"""

import numpy as np
import pytest
from conftest import (
    DTYPES,
    assert_matches,
    flatten,
    make_arch,
    make_data,
    random_params,
    ref_layers,
)

from annfast import _kernels, _params, reference

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
SIZES = [4, 6, 3]
HYPER = {"momentum": 0.9, "beta1": 0.8, "beta2": 0.99, "rho": 0.85, "epsilon": 1e-7}


def weight_mask(sizes):
    """True for the weights in the flat buffer, False for the biases (not decayed)."""
    mask = np.zeros(_params.n_params(sizes), dtype=bool)
    for w0, b0, _, _, _ in _params.layer_offsets(sizes):
        mask[w0:b0] = True
    return mask


def numpy_train(sizes, acts, loss, params, state, X, Y, order, batch_size, optimizer, lr,
                l2=0.0, momentum=0.0, beta1=0.9, beta2=0.999, rho=0.9, epsilon=1e-8, t=0):
    """The rules of af.h, one batch at a time; returns (params, state, t, loss_sum)."""
    c = params.dtype.type  # compute in the parameters' precision, as the kernel does
    params, state = params.copy(), state.copy()
    n = params.size
    first, second = state[:n], state[n:]  # velocity or Adam's m; Adam's v or RMSprop's v
    is_weight = weight_mask(sizes)
    loss_sum = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        weights, biases = ref_layers(params, sizes)
        grad = np.zeros(n, dtype=params.dtype)
        for i in batch:
            gw, gb, value = reference.backprop(weights, biases, acts, loss, X[i], Y[i])
            grad += flatten(gw, gb)
            loss_sum += value
        m = c(len(batch))
        g = np.where(is_weight, (grad + c(l2) * params) / m, grad / m)
        if optimizer == "sgd":
            params -= c(lr) * g
        elif optimizer == "momentum":
            first[:] = c(momentum) * first - c(lr) * g
            params += first
        elif optimizer == "nesterov":
            first[:] = c(momentum) * first - c(lr) * g
            params += c(momentum) * first - c(lr) * g
        elif optimizer == "adam":
            t += 1
            lr_t = c(lr * np.sqrt(1.0 - beta2**t) / (1.0 - beta1**t))
            first[:] = c(beta1) * first + (c(1) - c(beta1)) * g
            second[:] = c(beta2) * second + (c(1) - c(beta2)) * (g * g)
            params += -lr_t * first / (np.sqrt(second) + c(epsilon))
        elif optimizer == "rmsprop":
            first[:] = c(rho) * first + (c(1) - c(rho)) * (g * g)
            params -= c(lr) * g / np.sqrt(first + c(epsilon))
        else:
            raise ValueError(optimizer)
    return params, state, t, loss_sum


def setup(rng, dtype, n=22, loss="ce", out="softmax", hidden="tanh"):
    arch, acts = make_arch(SIZES, hidden, out, loss)
    params = random_params(SIZES, dtype, rng)
    X, Y = make_data(rng, n, SIZES, loss, dtype)
    state = np.zeros(2 * params.size, dtype=dtype)
    return arch, acts, params, state, X, Y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("batch_size", [1, 4, 7])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_train_matches_numpy_rules(optimizer, batch_size, l2, dtype, rng):
    arch, acts, params, state, X, Y = setup(rng, dtype)
    lr = 0.01 if optimizer in ("adam", "rmsprop") else 0.1
    order = np.concatenate([rng.permutation(len(X)), rng.permutation(len(X))])
    hyper = {"lr": lr, "l2": l2, **HYPER}
    if optimizer == "rmsprop":
        hyper["momentum"] = 0.0  # the plain rule here; with momentum: test_optimizer_rules
    exp_params, exp_state, exp_t = params.copy(), state.copy(), 0
    got_t = 0
    # Two calls: the optimizer memory and t carry over from the first into the second.
    for part in (order[:12], order[12:]):
        status, loss_sum, done, got_t = _kernels.train(arch, params, state, X, Y, part,
                                                       batch_size, optimizer, t=got_t,
                                                       **hyper)
        assert (status, done) == (_kernels.OK, len(part))
        exp_params, exp_state, exp_t, exp_loss = numpy_train(
            SIZES, acts, "ce", exp_params, exp_state, X, Y, part, batch_size, optimizer,
            t=exp_t, **hyper)
        assert loss_sum == pytest.approx(exp_loss, rel=1e-4 if dtype == np.float32 else 1e-10)
    assert got_t == exp_t
    assert_matches(params, exp_params, dtype, f"{optimizer} params")
    assert_matches(state, exp_state, dtype, f"{optimizer} state")
    # The comparison is not vacuous: the parameters moved.
    assert np.max(np.abs(params - random_params(SIZES, dtype, np.random.default_rng(0)))) > 1e-3


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_t_counts_adam_batches_only(optimizer, rng):
    arch, _, params, state, X, Y = setup(rng, np.float64)
    order = np.arange(len(X))  # 22 samples in batches of 5: 5 batches, the last of 2
    *_, t = _kernels.train(arch, params, state, X, Y, order, 5, optimizer, 0.01, t=3)
    assert t == (3 + 5 if optimizer == "adam" else 3)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_split_calls_equal_one_call_bitwise(optimizer, rng):
    arch, _, params, state, X, Y = setup(rng, np.float64)
    order = rng.permutation(len(X))
    p1, s1 = params.copy(), state.copy()
    *_, t1 = _kernels.train(arch, p1, s1, X, Y, order, 3, optimizer, 0.05, 0.1, **HYPER)
    p2, s2, t2 = params.copy(), state.copy(), 0
    for part in (order[:9], order[9:15], order[15:]):  # cut at batch boundaries
        *_, t2 = _kernels.train(arch, p2, s2, X, Y, part, 3, optimizer, 0.05, 0.1, t=t2,
                                **HYPER)
    assert t1 == t2
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(s1, s2)


def test_state_changes_the_step(rng):
    """A non-zero velocity is used: starting from it gives a different result."""
    arch, _, params, state, X, Y = setup(rng, np.float64)
    order = np.arange(len(X))
    p_zero, p_warm = params.copy(), params.copy()
    warm = np.full_like(state, 0.01)
    _kernels.train(arch, p_zero, state.copy(), X, Y, order, 4, "momentum", 0.1, momentum=0.9)
    _kernels.train(arch, p_warm, warm, X, Y, order, 4, "momentum", 0.1, momentum=0.9)
    assert not np.allclose(p_zero, p_warm)


def test_full_batch_sgd_is_one_gradient_step(rng):
    """batch_size >= n: p <- p - lr (grad + l2 W) / n, with grad from _kernels.gradient."""
    arch, _, params, _, X, Y = setup(rng, np.float64, n=10)
    grad, loss = _kernels.gradient(arch, params, X, Y)
    expected = params - 0.2 * np.where(weight_mask(SIZES), grad + 0.5 * params, grad) / 10
    status, loss_sum, done, _ = _kernels.train(arch, params, np.empty(0), X, Y, np.arange(10),
                                               64, "sgd", 0.2, 0.5)
    assert (status, done) == (_kernels.OK, 10)
    assert loss_sum == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(params, expected, rtol=0, atol=1e-14)


def test_batch_of_one_matches_the_fused_path(rng):
    """Plain SGD with batch_size 1 takes the fused path; momentum 0 takes the batch
    path; both compute W - lr (delta a^T + l2 W)."""
    arch, _, params, state, X, Y = setup(rng, np.float64)
    order = rng.permutation(len(X))
    fused, batched = params.copy(), params.copy()
    _kernels.train(arch, fused, np.empty(0), X, Y, order, 1, "sgd", 0.1, 0.05)
    _kernels.train(arch, batched, state, X, Y, order, 1, "momentum", 0.1, 0.05, momentum=0.0)
    np.testing.assert_allclose(fused, batched, rtol=0, atol=1e-13)


def test_first_adam_step_moves_each_parameter_by_about_lr(rng):
    """With zero moments, step 1 is -lr g / (|g| + eps / sqrt(1 - beta2)) ~ -lr sign(g)."""
    arch, _, params, state, X, Y = setup(rng, np.float64, n=8)
    grad, _ = _kernels.gradient(arch, params, X, Y)
    start = params.copy()
    _kernels.train(arch, params, state, X, Y, np.arange(8), 8, "adam", 1e-3, epsilon=1e-12)
    step = params - start
    big = np.abs(grad) > 1e-6
    np.testing.assert_allclose(step[big], -1e-3 * np.sign(grad[big]), rtol=1e-4)
    np.testing.assert_allclose(state[:params.size], 0.1 * grad / 8, rtol=1e-12, atol=1e-18)


def test_nonfinite_sample_keeps_completed_batches(rng):
    arch, acts, params, state, X, Y = setup(rng, np.float64, n=12, loss="mse", out="identity",
                                            hidden="identity")
    order = rng.permutation(12)
    X[order[6], 0] = np.inf  # second batch of 4 is cut short at position 6
    expected, exp_state, _, _ = numpy_train(SIZES, acts, "mse", params, state, X, Y,
                                            order[:4], 4, "momentum", 0.1, momentum=0.9)
    weights, biases = ref_layers(params, SIZES)
    ref_loss = sum(reference.backprop(weights, biases, acts, "mse", X[i], Y[i])[2]
                   for i in order[:4])
    status, loss_sum, done, _ = _kernels.train(arch, params, state, X, Y, order, 4,
                                               "momentum", 0.1, momentum=0.9)
    assert status == _kernels.E_NONFINITE
    assert done == 6
    assert_matches(params, expected, np.float64, "params after the first batch")
    assert_matches(state, exp_state, np.float64, "velocity after the first batch")
    # The loss sum covers every finite sample seen: the first batch and 2 more.
    after = ref_layers(expected, SIZES)
    extra = sum(reference.backprop(*after, acts, "mse", X[i], Y[i])[2] for i in order[4:6])
    assert loss_sum == pytest.approx(ref_loss + extra, rel=1e-12)


def test_train_rejects_bad_optimizer_arguments(rng):
    arch, _, params, state, X, Y = setup(rng, np.float64)
    before = params.copy()
    order = np.arange(len(X))
    with pytest.raises(ValueError, match="optimizer"):
        _kernels.train(arch, params, state, X, Y, order, 1, "adagrad2")
    with pytest.raises(ValueError, match="batch_size"):
        _kernels.train(arch, params, state, X, Y, order, 0, "sgd")
    with pytest.raises(ValueError, match="opt_state"):
        _kernels.train(arch, params, state[:-1], X, Y, order, 2, "adam")
    np.testing.assert_array_equal(params, before)
