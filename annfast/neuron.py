"""Neuron: the tutorial's single perceptron, evaluated by the compiled kernels."""

import numpy as np

from annfast import _engine
from annfast._validation import MAX_PARAMS, as_float_array, check_random_state, check_scalar
from annfast.activations import resolve_activation


class Neuron:
    """One neuron: ``f(xs @ weights + bias)``.

    Parameters
    ----------
    n_inputs : int
        Number of inputs (>= 1).
    bias : float, default 0.0
    weights : sequence of float, optional
        ``n_inputs`` weights; drawn uniformly from [0, 1) when omitted, as the tutorial.
    activation : str, default 'leaky_relu'
        leaky_relu (slope 0.1, the tutorial's ``max(0.1 x, x)``), relu, sigmoid,
        tanh or identity.
    seed : int or None
        Seeds the random weights.

    Calling it on one input vector returns a float; on a 2-D batch, an array.

    >>> Neuron(3, bias=-0.1, weights=[0.7, 0.6, 1.4])([1.0, 0.5, -1.0])
    -0.05
    """

    def __init__(self, n_inputs, bias=0.0, weights=None, activation="leaky_relu", *, seed=None,
                 leaky_slope=0.1):
        n_inputs = check_scalar(n_inputs, "n_inputs", low=1, high=MAX_PARAMS - 1,
                                integer=True)
        bias = check_scalar(bias, "bias")
        activation = resolve_activation(activation)
        if activation == "softmax":
            raise ValueError("activation='softmax' is meaningless for a single neuron")
        leaky_slope = check_scalar(leaky_slope, "leaky_slope", low=0)
        if weights is None:
            ws = check_random_state(seed).random(n_inputs)
        else:
            ws = as_float_array(weights, "weights", np.float64, ndim=1)
            if ws.shape != (n_inputs,):
                raise ValueError(f"weights must hold n_inputs={n_inputs} values, got {ws.size}")
        self.n_inputs = n_inputs
        self.b = bias
        self.ws = ws
        self.activation = activation
        self.leaky_slope = leaky_slope

    @property
    def bias(self):
        return self.b

    @property
    def weights(self):
        return self.ws

    def __call__(self, xs):
        try:
            X = np.asarray(xs)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"xs could not be read as a numeric array: {exc}") from None
        single = X.ndim == 1
        X = as_float_array(X.reshape(1, -1) if single else X, "xs", np.float64)
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"xs has {X.shape[1]} values per sample, the neuron has "
                             f"{self.n_inputs} inputs")
        params = self._checked_params()
        # A network of one unit; the loss plays no part in a prediction.
        network = _engine.Network([self.n_inputs, 1], [self.activation], "mse", np.float64,
                                  self.leaky_slope)
        out = _engine.predict(network, params, _engine.as_inputs(X, np.float64, "xs"))
        return float(out[0, 0]) if single else out[:, 0]

    def _checked_params(self):
        """weights then bias as one float64 buffer, re-validated: b and ws are public
        attributes, and a NaN or a wrong-sized ws must not reach the kernel."""
        bias = check_scalar(self.b, "bias (Neuron.b)")
        ws = as_float_array(self.ws, "weights (Neuron.ws)", np.float64, ndim=1)
        if ws.shape != (self.n_inputs,):
            raise ValueError(f"weights (Neuron.ws) must hold n_inputs={self.n_inputs} values, "
                             f"got shape {ws.shape}")
        return np.concatenate([ws, [bias]])

    def __repr__(self):
        return (f"Neuron({self.n_inputs}, bias={self.b}, weights={self.ws.tolist()}, "
                f"activation={self.activation!r})")
