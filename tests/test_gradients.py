"""``_kernels.gradient`` (backprop) against central finite differences and the reference."""

import numpy as np
import pytest
from conftest import (
    ALL_PAIRS,
    DTYPES,
    SOUND_PAIRS,
    assert_matches,
    flatten,
    make_arch,
    make_data,
    random_params,
    ref_layers,
)

from annfast import _kernels, reference
from annfast.activations import ACTIVATIONS

SHAPES = {"one-hidden": [3, 5, 4], "two-hidden": [3, 5, 4, 2], "one-unit": [2, 1, 1, 3]}


def reference_loss(params, sizes, acts, loss, X, Y, slope, loss_scale):
    """Summed loss of the reference network, the function being differentiated."""
    weights, biases = ref_layers(params, sizes)
    total = 0.0
    for x, y in zip(X, Y):
        out = reference.forward(weights, biases, acts, x, slope)[-1]
        total += reference.output_delta(loss, acts[-1], out, y, slope, loss_scale)[1]
    return total


def central_differences(f, params, h=1e-6):
    grad = np.empty_like(params)
    for i in range(params.size):
        step = np.zeros_like(params)
        step[i] = h
        grad[i] = (f(params + step) - f(params - step)) / (2 * h)
    return grad


def check_gradient(sizes, hidden, loss, out, rng, slope=0.1, loss_scale=1.0, n=4):
    arch, acts = make_arch(sizes, hidden, out, loss, slope, loss_scale)
    params = random_params(sizes, np.float64, rng, scale=1.5, bias_scale=0.3)
    X, Y = make_data(rng, n, sizes, loss, np.float64)
    grad, loss_sum = _kernels.gradient(arch, params, X, Y)

    def f(p):
        return reference_loss(p, sizes, acts, loss, X, Y, slope, loss_scale)

    numeric = central_differences(f, params)
    assert loss_sum == pytest.approx(f(params), rel=1e-12)
    # Norm-wise relative error, plus an element-wise check that no entry is off.
    rel_error = np.linalg.norm(grad - numeric) / np.linalg.norm(numeric)
    assert rel_error <= 1e-6, f"relative error {rel_error:.3g}"
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    return grad


@pytest.mark.parametrize(("loss", "out"), SOUND_PAIRS)
@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_gradient_matches_finite_differences(hidden, loss, out, rng):
    check_gradient(SHAPES["one-hidden"], hidden, loss, out, rng)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("hidden", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_gradient_deeper_and_one_unit_nets(shape, hidden, rng):
    for loss, out in [("ce", "softmax"), ("mse", "identity")]:
        check_gradient(SHAPES[shape], hidden, loss, out, rng)


@pytest.mark.parametrize("loss_scale", [0.5, 2.0 / 3])
@pytest.mark.parametrize(("loss", "out"), SOUND_PAIRS)
def test_gradient_with_loss_scale(loss, out, loss_scale, rng):
    grad = check_gradient(SHAPES["two-hidden"], "tanh", loss, out, rng, loss_scale=loss_scale)
    # The scale multiplies the whole gradient.
    arch, _ = make_arch(SHAPES["two-hidden"], "tanh", out, loss)
    params = random_params(SHAPES["two-hidden"], np.float64, np.random.default_rng(0),
                           scale=1.5, bias_scale=0.3)
    X, Y = make_data(np.random.default_rng(0), 4, SHAPES["two-hidden"], loss, np.float64)
    unscaled, _ = _kernels.gradient(arch, params, X, Y)
    scaled_arch, _ = make_arch(SHAPES["two-hidden"], "tanh", out, loss, loss_scale=loss_scale)
    scaled, _ = _kernels.gradient(scaled_arch, params, X, Y)
    np.testing.assert_allclose(scaled, loss_scale * unscaled, rtol=1e-12, atol=1e-15)
    assert np.all(np.isfinite(grad))


def test_gradient_leaky_slope(rng):
    check_gradient(SHAPES["two-hidden"], "leaky_relu", "mse", "leaky_relu", rng, slope=0.25)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("loss", "out"), ALL_PAIRS)
def test_gradient_equals_summed_reference_backprop(loss, out, dtype, rng):
    """Every pairing, sound or not, computes the reference's chain rule."""
    sizes = SHAPES["two-hidden"]
    arch, acts = make_arch(sizes, "sigmoid", out, loss)
    params = random_params(sizes, dtype, rng)
    X, Y = make_data(rng, 5, sizes, loss, dtype)
    grad, loss_sum = _kernels.gradient(arch, params, X, Y)
    assert grad.dtype == dtype
    weights, biases = ref_layers(params, sizes)
    expected = np.zeros(params.size)
    ref_loss = 0.0
    for x, y in zip(X, Y):
        gw, gb, value = reference.backprop(weights, biases, acts, loss, x, y)
        expected += flatten(gw, gb)
        ref_loss += value
    assert_matches(grad, expected, dtype, f"gradient {loss}+{out}")
    assert loss_sum == pytest.approx(ref_loss, rel=1e-5 if dtype == np.float32 else 1e-12)


def test_gradient_leaves_params_alone_and_is_additive(rng):
    sizes = SHAPES["one-hidden"]
    arch, _ = make_arch(sizes, "relu", "softmax", "ce")
    params = random_params(sizes, np.float64, rng)
    X, Y = make_data(rng, 6, sizes, "ce", np.float64)
    before = params.copy()
    whole, whole_loss = _kernels.gradient(arch, params, X, Y)
    first, first_loss = _kernels.gradient(arch, params, X[:2], Y[:2])
    rest, rest_loss = _kernels.gradient(arch, params, X[2:], Y[2:])
    np.testing.assert_array_equal(params, before)
    np.testing.assert_allclose(whole, first + rest, rtol=1e-13, atol=1e-15)
    assert whole_loss == pytest.approx(first_loss + rest_loss, rel=1e-14)
    empty, empty_loss = _kernels.gradient(arch, params, X[:0], Y[:0])
    assert empty_loss == 0.0 and not empty.any()
