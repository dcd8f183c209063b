"""Neuron, the tutorial's perceptron, against hand values and the reference."""

import numpy as np
import pytest

from annfast import Neuron, reference

NEURON_ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")


def test_tutorial_example():
    # z = 0.7 * 1 + 0.6 * 0.5 + 1.4 * -1 - 0.1 = -0.5; leaky relu: max(0.1 z, z) = -0.05
    perceptron = Neuron(n_inputs=3, bias=-0.1, weights=[0.7, 0.6, 1.4])
    out = perceptron([1.0, 0.5, -1.0])
    assert isinstance(out, float)
    assert out == pytest.approx(-0.05, abs=1e-15)
    # A positive z passes unchanged: 0.7 + 0.6 + 1.4 - 0.1 = 2.6
    assert perceptron([1.0, 1.0, 1.0]) == pytest.approx(2.6, abs=1e-15)


def test_batch_call_equals_single_calls(rng):
    neuron = Neuron(4, bias=0.3, weights=[0.5, -1.0, 0.25, 2.0])
    X = rng.normal(size=(9, 4))
    out = neuron(X)
    assert out.shape == (9,)
    np.testing.assert_array_equal(out, [neuron(x) for x in X])


@pytest.mark.parametrize("activation", NEURON_ACTIVATIONS)
def test_every_activation_matches_reference(activation, rng):
    w = rng.normal(size=5)
    neuron = Neuron(5, bias=-0.2, weights=w, activation=activation)
    X = rng.normal(0.0, 2.0, size=(12, 5))
    expected = reference.activate(activation, X @ w - 0.2)
    np.testing.assert_allclose(neuron(X), expected, rtol=1e-12, atol=1e-14)


def test_leaky_slope_is_used():
    neuron = Neuron(1, weights=[1.0], leaky_slope=0.3)
    assert neuron([-2.0]) == pytest.approx(-0.6, abs=1e-15)


def test_random_weights_are_seeded_and_in_unit_interval():
    a, b = Neuron(6, seed=7), Neuron(6, seed=7)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert np.all((a.weights >= 0) & (a.weights < 1))
    assert not np.array_equal(a.weights, Neuron(6, seed=8).weights)
    assert a.bias == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="weights"):
        Neuron(3, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="softmax"):
        Neuron(3, activation="softmax")
    with pytest.raises(ValueError, match="activation"):
        Neuron(3, activation="maxout")
    with pytest.raises(ValueError, match="n_inputs"):
        Neuron(0)
    neuron = Neuron(3, weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="xs"):
        neuron([1.0, 2.0])
    with pytest.raises(ValueError, match="xs"):
        neuron([1.0, np.nan, 2.0])
