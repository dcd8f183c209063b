"""Activations, their backward step and the output deltas: kernels vs the reference."""

import warnings

import numpy as np
import pytest
from conftest import (
    ALL_PAIRS,
    DTYPES,
    MATCHED_PAIRS,
    SOUND_PAIRS,
    assert_matches,
    make_arch,
    make_targets,
)

from annfast import _kernels, reference
from annfast.activations import (
    ACTIVATIONS,
    ALIASES,
    LOSSES,
    OUTPUT_LOSS,
    resolve_activation,
)

# Zero, both sides of it, moderate values and values far past exp's range.
SPECIAL_Z = np.array([-1e3, -40.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 40.0, 1e3])
# Overflow, NaN and division by zero are errors; underflow to 0 is the right answer.
NO_OVERFLOW = {"over": "raise", "invalid": "raise", "divide": "raise"}


def z_values(rng, dtype):
    return np.concatenate([SPECIAL_Z, rng.normal(0.0, 3.0, size=23)]).astype(dtype)


# -- the tables ----------------------------------------------------------------------


def test_activation_table_matches_compiled_codes_and_reference():
    assert ACTIVATIONS == _kernels.ACTIVATION_CODES
    assert set(ACTIVATIONS) == set(reference.ACTIVATIONS)
    assert sorted(ACTIVATIONS.values()) == list(range(len(reference.ACTIVATIONS)))


def test_loss_table_matches_compiled_codes_and_reference():
    assert LOSSES == _kernels.LOSS_CODES
    assert set(LOSSES) == set(reference.LOSSES)
    assert sorted(LOSSES.values()) == list(range(len(reference.LOSSES)))
    # NeuralNet pairs each output with the loss whose delta is a - y.
    matched = {out: loss for loss, out in reference.MATCHED_OUTPUT.items()}
    assert OUTPUT_LOSS.items() <= matched.items()
    assert reference.MATCHED_OUTPUT == _kernels.LOSS_MATCHED_ACT


def test_aliases_resolve_to_known_activations():
    for alias, name in ALIASES.items():
        assert name in ACTIVATIONS
        assert resolve_activation(alias) == name
    for name in ACTIVATIONS:
        assert resolve_activation(name) == name


def test_unknown_activation_name_is_rejected():
    with pytest.raises(ValueError, match="hidden_act='maxout' is not valid; expected one of"):
        resolve_activation("maxout", "hidden_act")
    with pytest.raises(TypeError, match="activation"):
        resolve_activation(3)


# -- forward activation ------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activate_matches_reference(act, dtype, rng):
    z = z_values(rng, dtype)
    if act == "softmax":
        z = z[4:]  # keep one vector; the max-subtraction is checked separately below
    if act == "exponential":
        z = z[np.abs(z) < 50]  # e^z overflows past that; an infinity is no error there
    got = _kernels.py_activate(ACTIVATIONS[act], z)
    assert got.dtype == dtype
    with np.errstate(**NO_OVERFLOW):
        expected = reference.activate(act, z)
    assert expected.dtype == dtype
    assert_matches(got, expected, dtype, act)


@pytest.mark.parametrize("dtype", DTYPES)
def test_activate_exact_values(dtype):
    z = np.array([-2.0, -0.0, 0.0, 3.0], dtype=dtype)
    code = ACTIVATIONS
    np.testing.assert_array_equal(_kernels.py_activate(code["identity"], z), z)
    np.testing.assert_array_equal(_kernels.py_activate(code["relu"], z), [0, 0, 0, 3])
    np.testing.assert_allclose(_kernels.py_activate(code["leaky_relu"], z), [-0.2, 0, 0, 3],
                               rtol=1e-6)
    # The slope is an argument, not a constant.
    np.testing.assert_allclose(_kernels.py_activate(code["leaky_relu"], z, 0.3),
                               [-0.6, 0, 0, 3], rtol=1e-6)
    assert _kernels.py_activate(code["sigmoid"], z)[2] == 0.5
    assert _kernels.py_activate(code["tanh"], z)[2] == 0.0
    np.testing.assert_allclose(_kernels.py_activate(code["softmax"], np.zeros(4, dtype)),
                               np.full(4, 0.25), rtol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_tanh_saturate_without_overflow(dtype):
    z = np.array([-1e3, -1e2, 1e2, 1e3], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        sig = _kernels.py_activate(ACTIVATIONS["sigmoid"], z)
        tanh = _kernels.py_activate(ACTIVATIONS["tanh"], z)
        ref = reference.activate("sigmoid", z)
    assert np.all(np.isfinite(sig)) and np.all((sig >= 0) & (sig <= 1))
    np.testing.assert_array_equal(sig[[0, 3]], [0.0, 1.0])
    np.testing.assert_array_equal(tanh[[0, 3]], [-1.0, 1.0])
    assert_matches(sig, ref, dtype, "sigmoid")


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_huge_inputs_is_max_subtracted(dtype):
    z = np.array([1e3, 999.0, -1e3, 0.0], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(**NO_OVERFLOW):
        warnings.simplefilter("error")
        a = _kernels.py_activate(ACTIVATIONS["softmax"], z)
    e = np.exp(-1.0)
    np.testing.assert_allclose(a, [1 / (1 + e), e / (1 + e), 0.0, 0.0], rtol=1e-6, atol=1e-30)
    assert abs(float(a.sum()) - 1.0) <= 4 * np.finfo(dtype).eps
    # Shifting every input by a constant changes nothing.
    shifted = _kernels.py_activate(ACTIVATIONS["softmax"], z - dtype(500.0))
    np.testing.assert_allclose(shifted, a, rtol=1e-6, atol=1e-30)


# -- backward step --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_act_backward_matches_reference(act, dtype, rng):
    z = z_values(rng, dtype)
    if act == "softmax":
        z = z[4:]
    if act == "exponential":
        z = z[np.abs(z) < 50]
    a = reference.activate(act, z)
    g = rng.normal(0.0, 1.0, size=z.shape).astype(dtype)
    got = _kernels.py_act_backward(ACTIVATIONS[act], a, g, z=z)
    assert got.dtype == dtype
    assert_matches(got, reference.act_backward(act, a, g, z=z), dtype, act)
    # Saturated sigmoid/tanh units pass no gradient, and nothing overflows.
    assert np.all(np.isfinite(got))


def test_act_backward_at_zero_and_saturation():
    code = ACTIVATIONS
    g = np.array([2.0, 2.0, 2.0])
    a_relu = np.array([0.0, 0.0, 5.0])  # outputs of z = -3, 0, 5
    np.testing.assert_array_equal(_kernels.py_act_backward(code["relu"], a_relu, g), [0, 0, 2])
    a_leaky = np.array([-0.3, 0.0, 5.0])
    np.testing.assert_allclose(_kernels.py_act_backward(code["leaky_relu"], a_leaky, g, 0.1),
                               [0.2, 0.2, 2.0], rtol=1e-15)
    a_sig = np.array([0.0, 0.5, 1.0])  # sigmoid(-1e3), sigmoid(0), sigmoid(1e3)
    np.testing.assert_array_equal(_kernels.py_act_backward(code["sigmoid"], a_sig, g),
                                  [0.0, 0.5, 0.0])
    a_tanh = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(_kernels.py_act_backward(code["tanh"], a_tanh, g),
                                  [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(_kernels.py_act_backward(code["identity"], a_tanh, g), g)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_act_backward_matches_finite_differences(act, rng):
    """J^T g from the outputs equals the gradient of z -> <g, act(z)>."""
    z = rng.normal(0.0, 2.0, size=7)
    # Stay away from the kinks (relu's 0, relu6's 6, the hard ones' +-3).
    for kink in (0.0, 6.0, 3.0, -3.0):
        z[np.abs(z - kink) < 1e-3] = kink + 0.5
    g = rng.normal(0.0, 1.0, size=7)
    code, h = ACTIVATIONS[act], 1e-6
    numeric = np.empty_like(z)
    for j in range(z.size):
        step = np.zeros_like(z)
        step[j] = h
        plus = g @ _kernels.py_activate(code, z + step)
        minus = g @ _kernels.py_activate(code, z - step)
        numeric[j] = (plus - minus) / (2 * h)
    analytic = _kernels.py_act_backward(code, _kernels.py_activate(code, z), g, z=z)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# -- output deltas --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss_scale", [1.0, 0.25])
@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize(("loss", "out"), ALL_PAIRS)
def test_output_delta_matches_reference(loss, out, k, loss_scale, dtype, rng):
    arch, _ = make_arch([3, k], out, out, loss, slope=0.1, loss_scale=loss_scale)
    for _ in range(3):
        a = reference.activate(out, rng.normal(0.0, 2.0, size=k).astype(dtype))
        y = make_targets(rng, 1, k, loss, dtype)[0]
        delta, value = _kernels.py_output_delta(arch, a, y)
        ref_delta, ref_value = reference.output_delta(loss, out, a, y, 0.1, loss_scale)
        assert delta.dtype == dtype
        assert_matches(delta, ref_delta, dtype, f"delta {loss}+{out}")
        assert value == pytest.approx(ref_value, rel=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize(("loss", "out"), MATCHED_PAIRS)
def test_matched_output_delta_is_a_minus_y(loss, out, rng):
    arch, _ = make_arch([2, 3], out, out, loss)
    a = reference.activate(out, rng.normal(size=3))
    y = make_targets(rng, 1, 3, loss, np.float64)[0]
    delta, value = _kernels.py_output_delta(arch, a, y)
    np.testing.assert_array_equal(delta, a - y)
    if loss == "mse":
        expected = 0.5 * np.sum((a - y) ** 2)
    elif loss == "bce":
        expected = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
    else:
        expected = -np.log(a[np.argmax(y)])
    assert value == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_clipped_at_eps():
    arch, _ = make_arch([2, 3], "softmax", "softmax", "ce")
    a = np.array([0.0, 1.0, 0.0])
    _, value = _kernels.py_output_delta(arch, a, np.array([1.0, 0.0, 0.0]))
    assert value == pytest.approx(-np.log(np.finfo(np.float64).eps), rel=1e-12)


@pytest.mark.parametrize("loss_scale", [1.0, 0.5])
@pytest.mark.parametrize(("loss", "out"), SOUND_PAIRS)
def test_output_delta_is_dloss_dz(loss, out, loss_scale, rng):
    """The delta is the derivative of the loss with respect to the pre-activation."""
    arch, _ = make_arch([2, 4], out, out, loss, loss_scale=loss_scale)
    z = rng.normal(0.0, 1.0, size=4)
    y = make_targets(rng, 1, 4, loss, np.float64)[0]
    code, h = ACTIVATIONS[out], 1e-6

    def loss_at(zz):
        return _kernels.py_output_delta(arch, _kernels.py_activate(code, zz), y)[1]

    numeric = np.array([(loss_at(z + h * e) - loss_at(z - h * e)) / (2 * h) for e in np.eye(4)])
    delta, _ = _kernels.py_output_delta(arch, _kernels.py_activate(code, z), y)
    np.testing.assert_allclose(delta, numeric, rtol=1e-6, atol=1e-8)
