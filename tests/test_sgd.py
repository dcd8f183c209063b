"""Per-sample SGD (the fused path of ``_kernels.train``) against the reference, and
determinism of training."""

import numpy as np
import pytest
from conftest import (
    DTYPES,
    HIDDEN_ACTIVATIONS,
    MATCHED_PAIRS,
    SOUND_PAIRS,
    assert_matches,
    flatten,
    make_arch,
    make_data,
    random_params,
    ref_layers,
)

from annfast import NeuralNet, _kernels, reference

# (sizes, samples): a small net, one with 1-unit layers, a deep and a wide one.
ARCHITECTURES = {
    "small": ([5, 7, 4], 30),
    "thin": ([3, 1, 2], 30),
    "deep": ([2, 100, 100, 100, 3], 16),
    "wide": ([784, 256, 10], 8),
}
EMPTY = {np.float32: np.empty(0, np.float32), np.float64: np.empty(0, np.float64)}


def train_both(sizes, hidden, loss, out, dtype, rng, n, epochs=2, lr=0.05, reg=0.01,
               slope=0.1, loss_scale=1.0):
    """Train the kernel and the reference from the same start over the same orders.

    Returns (kernel params, reference params (flat), kernel losses, reference losses),
    the losses being per-epoch sums."""
    arch, acts = make_arch(sizes, hidden, out, loss, slope, loss_scale)
    params = random_params(sizes, dtype, rng)
    X, Y = make_data(rng, n, sizes, loss, dtype)
    # Keep |x|^2 moderate on wide inputs, or per-sample SGD at this rate diverges.
    X *= dtype(min(1.0, 2.0 / np.sqrt(sizes[0])))
    weights, biases = ref_layers(params, sizes)
    mu = reg / n
    got_losses, ref_losses = [], []
    for _ in range(epochs):
        order = rng.permutation(n)
        status, loss_sum, done, _ = _kernels.train(arch, params, EMPTY[dtype], X, Y, order,
                                                    1, "sgd", lr, mu)
        assert (status, done) == (_kernels.OK, n)
        got_losses.append(loss_sum)
        ref_losses.append(n * reference.sgd_epoch(weights, biases, acts, loss, X, Y, order,
                                                  lr, mu, slope, loss_scale))
    return params, flatten(weights, biases), got_losses, ref_losses


def assert_losses_match(got, expected, dtype):
    """Per-epoch loss sums agree relative to the first epoch's (later ones may be ~0)."""
    rel = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, expected, rtol=rel, atol=rel * abs(expected[0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("loss", "out"), MATCHED_PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("arch_name", sorted(ARCHITECTURES))
def test_two_epochs_match_reference(arch_name, hidden, loss, out, dtype, rng):
    sizes, n = ARCHITECTURES[arch_name]
    got, expected, got_losses, ref_losses = train_both(sizes, hidden, loss, out, dtype, rng, n)
    assert_matches(got, expected, dtype, f"params after 2 epochs ({arch_name})")
    # The training actually moved the parameters (so the comparison means something).
    start = random_params(sizes, dtype, np.random.default_rng(0))
    assert np.max(np.abs(got.astype(float) - start)) > 1e-4
    assert_losses_match(got_losses, ref_losses, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("loss", "out"), [p for p in SOUND_PAIRS if p not in MATCHED_PAIRS])
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_two_epochs_unmatched_pairs_match_reference(hidden, loss, out, dtype, rng):
    got, expected, got_losses, ref_losses = train_both([5, 7, 4], hidden, loss, out, dtype,
                                                       rng, 30)
    assert_matches(got, expected, dtype, f"{hidden} -> {out} + {loss}")
    assert_losses_match(got_losses, ref_losses, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_slope_and_loss_scale_reach_the_kernel(dtype, rng):
    got, expected, _, _ = train_both([4, 6, 6, 3], "leaky_relu", "mse", "identity", dtype, rng,
                                     25, slope=0.3, loss_scale=2.0 / 3)
    assert_matches(got, expected, dtype, "slope 0.3, loss_scale 2/3")
    # A different slope is a different computation: the check above can fail.
    other, _, _, _ = train_both([4, 6, 6, 3], "leaky_relu", "mse", "identity", dtype,
                                np.random.default_rng(0), 25, slope=0.1, loss_scale=2.0 / 3)
    assert np.max(np.abs(other.astype(float) - got)) > 1e-6


def test_one_step_worked_by_hand():
    """A [2, 2, 1] relu net with identity output and squared error, one sample.

    W1 = [[0.1, 0.2], [0.3, -0.4]], b1 = [0, 0.1], W2 = [[0.5, -0.6]], b2 = [0.2]
    x = [1, 2], y = [1], lr = 0.1, decay mu = 0.01.

    Forward:  z1 = [0.1 + 0.4 + 0, 0.3 - 0.8 + 0.1] = [0.5, -0.4], a1 = [0.5, 0]
              z2 = 0.5 * 0.5 - 0.6 * 0 + 0.2 = 0.45 = a2
              loss = 0.5 * (0.45 - 1)^2 = 0.15125
    Backward: d2 = a2 - y = -0.55
              gW2 = d2 * a1 = [-0.275, 0],  gb2 = -0.55
              d1 = (W2^T d2) * relu'(z1) = [0.5 * -0.55, -0.6 * -0.55] * [1, 0]
                 = [-0.275, 0]                 (W2 from *before* the step)
              gW1 = d1 x^T = [[-0.275, -0.55], [0, 0]],  gb1 = [-0.275, 0]
    Update W <- W - lr (g + mu W), b <- b - lr g:
      W2 = [0.5 - 0.1 (-0.275 + 0.005), -0.6 - 0.1 (0 - 0.006)] = [0.527, -0.5994]
      b2 = 0.2 - 0.1 (-0.55) = 0.255
      W1 = [[0.1 - 0.1 (-0.275 + 0.001), 0.2 - 0.1 (-0.55 + 0.002)],
            [0.3 - 0.1 (0 + 0.003),      -0.4 - 0.1 (0 - 0.004)]]
         = [[0.1274, 0.2548], [0.2997, -0.3996]]
      b1 = [0 - 0.1 (-0.275), 0.1 - 0] = [0.0275, 0.1]
    """
    arch, _ = make_arch([2, 2, 1], "relu", "identity", "mse")
    params = np.array([0.1, 0.2, 0.3, -0.4, 0.0, 0.1, 0.5, -0.6, 0.2])
    X, Y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    status, loss_sum, done, _ = _kernels.train(arch, params, EMPTY[np.float64], X, Y,
                                               np.array([0]), 1, "sgd", 0.1, 0.01)
    assert (status, done) == (_kernels.OK, 1)
    assert loss_sum == pytest.approx(0.15125, abs=1e-15)
    expected = [0.1274, 0.2548, 0.2997, -0.3996, 0.0275, 0.1, 0.527, -0.5994, 0.255]
    np.testing.assert_allclose(params, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("loss", "out"), SOUND_PAIRS)
def test_one_step_matches_reference(loss, out, dtype, rng):
    sizes = [4, 5, 3]
    arch, acts = make_arch(sizes, "tanh", out, loss)
    params = random_params(sizes, dtype, rng)
    X, Y = make_data(rng, 1, sizes, loss, dtype)
    weights, biases = ref_layers(params, sizes)
    _, loss_sum, _, _ = _kernels.train(arch, params, EMPTY[dtype], X, Y, np.array([0]), 1,
                                       "sgd", 0.3, 0.02)
    ref_loss = reference.sgd_step(weights, biases, acts, loss, X[0], Y[0], 0.3, 0.02)
    assert_matches(params, flatten(weights, biases), dtype, "one step")
    assert loss_sum == pytest.approx(ref_loss, rel=1e-6 if dtype == np.float32 else 1e-12)


def test_nonfinite_loss_stops_before_the_offending_sample(rng):
    """Sample 3 of the order holds inf: the kernel reports it and keeps the first 3 steps."""
    sizes = [3, 4, 2]
    arch, acts = make_arch(sizes, "identity", "identity", "mse")
    params = random_params(sizes, np.float64, rng)
    X, Y = make_data(rng, 6, sizes, "mse", np.float64)
    order = np.array([5, 0, 2, 4, 1, 3])
    X[order[3], 1] = np.inf
    weights, biases = ref_layers(params, sizes)
    status, loss_sum, done, _ = _kernels.train(arch, params, EMPTY[np.float64], X, Y, order,
                                               1, "sgd", 0.05, 0.0)
    assert status == _kernels.E_NONFINITE
    assert done == 3
    ref_loss = sum(reference.sgd_step(weights, biases, acts, "mse", X[i], Y[i], 0.05)
                   for i in order[:3])
    assert loss_sum == pytest.approx(ref_loss, rel=1e-12)
    assert_matches(params, flatten(weights, biases), np.float64, "params after 3 steps")


def test_train_checks_order_and_sizes(rng):
    sizes = [3, 4, 2]
    arch, _ = make_arch(sizes, "relu", "identity", "mse")
    params = random_params(sizes, np.float64, rng)
    X, Y = make_data(rng, 4, sizes, "mse", np.float64)
    before = params.copy()
    with pytest.raises(IndexError, match="order"):
        _kernels.train(arch, params, EMPTY[np.float64], X, Y, np.array([0, 4]))
    with pytest.raises(IndexError, match="order"):
        _kernels.train(arch, params, EMPTY[np.float64], X, Y, np.array([-1]))
    with pytest.raises(ValueError, match="Y has shape"):
        _kernels.train(arch, params, EMPTY[np.float64], X, Y[:3], np.arange(3))
    np.testing.assert_array_equal(params, before)
    # An empty order is a no-op.
    assert _kernels.train(arch, params, EMPTY[np.float64], X, Y,
                          np.empty(0, np.int64))[:3] == (_kernels.OK, 0.0, 0)
    np.testing.assert_array_equal(params, before)


# -- determinism --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_training_is_deterministic(dtype, rng):
    sizes = [6, 9, 4]
    arch, _ = make_arch(sizes, "relu", "softmax", "ce")
    start = random_params(sizes, dtype, rng)
    X, Y = make_data(rng, 40, sizes, "ce", dtype)
    order = rng.permutation(40)
    runs = []
    for _ in range(2):
        params = start.copy()
        _kernels.train(arch, params, EMPTY[dtype], X, Y, order, 1, "sgd", 0.1, 1e-3)
        runs.append(params)
    np.testing.assert_array_equal(runs[0], runs[1])


def digits_arrays(n=200):
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data[:n] / 16.0, digits.target[:n]


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_gives_identical_bits(dtype):
    X, y = digits_arrays()
    nets = [NeuralNet([64, 16, 10], dtype=dtype, seed=42) for _ in range(2)]
    for net in nets:
        assert net.weights[0].dtype == dtype
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(a, b)
    for net in nets:
        net.fit(X, y, epochs=2)  # shuffled with the net's own generator
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(nets[0].predict_proba(X), nets[1].predict_proba(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_different_seeds_differ(dtype):
    X, y = digits_arrays()
    a = NeuralNet([64, 16, 10], dtype=dtype, seed=1)
    b = NeuralNet([64, 16, 10], dtype=dtype, seed=2)
    assert not np.array_equal(a.weights[0], b.weights[0])
    # Same start, different shuffles: the trained weights differ too.
    c = NeuralNet([64, 16, 10], dtype=dtype, seed=3)
    d = NeuralNet([64, 16, 10], dtype=dtype, seed=4)
    for w_c, w_d, b_c, b_d in zip(c.weights, d.weights, c.biases, d.biases):
        w_d[...] = w_c
        b_d[...] = b_c
    c.fit(X, y, epochs=1)
    d.fit(X, y, epochs=1)
    assert not np.array_equal(c.weights[0], d.weights[0])
