"""The math of annfast in plain NumPy, one sample at a time.

This module is the specification: the tests check every compiled kernel
against it, and the benchmarks use it as the "clear NumPy" baseline.  It is
written to be read, not to be fast, and nothing in the fast path imports it.

Conventions (the same as the kernels):

* ``weights[l]`` has shape ``(n_out, n_in)`` and ``biases[l]`` shape ``(n_out,)``;
  ``z = W @ a + b`` and ``a_next = act(z)``.
* Activation derivatives are written in terms of the layer *output* ``a``.
* Per-sample losses: MSE ``0.5 * sum((a - y)**2)``; binary cross-entropy
  ``-sum(y log a + (1 - y) log(1 - a))``; categorical cross-entropy
  ``-sum(y log a)``, with ``a`` clipped to ``[eps, 1 - eps]`` inside the logs.
* One SGD step on one sample, with decay coefficient ``mu``::

      W <- W - lr * (outer(delta, a_in) + mu * W)
      b <- b - lr * delta
"""

import numpy as np

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
LOSSES = ("mse", "bce", "ce")
# The output activation each loss is paired with, for which dL/dz = a - y.
MATCHED_OUTPUT = {"mse": "identity", "bce": "sigmoid", "ce": "softmax"}


def activate(name, z, slope=0.1):
    """Return act(z); softmax treats z as one vector."""
    z = np.asarray(z)
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.where(z < 0, 0, z).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z < 0, z.dtype.type(slope) * z, z)
    if name == "sigmoid":
        # Only exp of non-positive numbers: no overflow warnings for large |z|.
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype)
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    raise ValueError(f"unknown activation {name!r}")


def act_backward(name, a, g, slope=0.1):
    """Return dL/dz from dL/da = g, given the outputs a = act(z)."""
    a, g = np.asarray(a), np.asarray(g)
    one = a.dtype.type(1)
    if name == "identity":
        return g.copy()
    if name == "relu":
        return np.where(a > 0, g, 0).astype(g.dtype)
    if name == "leaky_relu":
        return np.where(a > 0, g, a.dtype.type(slope) * g)
    if name == "sigmoid":
        return g * (a * (one - a))
    if name == "tanh":
        return g * (one - a * a)
    if name == "softmax":
        # Jacobian diag(a) - a a^T, applied to g.
        return a * (g - np.dot(a, g))
    raise ValueError(f"unknown activation {name!r}")


def output_delta(loss, out_act, a, y, slope=0.1, loss_scale=1.0):
    """Return (dL/dz of the output layer, loss) for one sample."""
    a, y = np.asarray(a), np.asarray(y)
    eps = np.finfo(a.dtype).eps
    p = np.clip(a, eps, 1 - eps)
    if loss == "mse":
        value = 0.5 * np.sum((a.astype(float) - y) ** 2)
        g = a - y
    elif loss == "bce":
        pf, yf = p.astype(float), y.astype(float)
        value = -np.sum(yf * np.log(pf) + (1 - yf) * np.log(1 - pf))
        g = a - y if out_act == "sigmoid" else (p - y) / (p * (1 - p))
    elif loss == "ce":
        value = -np.sum(np.where(y != 0, y.astype(float) * np.log(p.astype(float)), 0.0))
        g = a - y if out_act == "softmax" else -y / p
    else:
        raise ValueError(f"unknown loss {loss!r}")
    # For the matched pairs, a - y already is dL/dz.
    delta = g if MATCHED_OUTPUT[loss] == out_act else act_backward(out_act, a, g, slope)
    if loss_scale != 1.0:
        delta = delta * a.dtype.type(loss_scale)
        value = value * loss_scale
    return delta, float(value)


def forward(weights, biases, acts, x, slope=0.1):
    """Return the list of layer outputs [x, a_1, ..., a_L] for one sample x."""
    outputs = [np.asarray(x)]
    for W, b, act in zip(weights, biases, acts):
        outputs.append(activate(act, W @ outputs[-1] + b, slope))
    return outputs


def predict(weights, biases, acts, X, slope=0.1):
    """Return the network output for every row of X."""
    return np.array([forward(weights, biases, acts, x, slope)[-1] for x in X])


def backprop(weights, biases, acts, loss, x, y, slope=0.1, loss_scale=1.0):
    """Return (weight gradients, bias gradients, loss) of one sample."""
    outputs = forward(weights, biases, acts, x, slope)
    delta, value = output_delta(loss, acts[-1], outputs[-1], y, slope, loss_scale)
    grad_w = [None] * len(weights)
    grad_b = [None] * len(weights)
    for l in reversed(range(len(weights))):
        grad_w[l] = np.outer(delta, outputs[l])
        grad_b[l] = delta
        if l > 0:
            delta = act_backward(acts[l - 1], outputs[l], weights[l].T @ delta, slope)
    return grad_w, grad_b, value


def sgd_step(weights, biases, acts, loss, x, y, lr, mu=0.0, slope=0.1, loss_scale=1.0):
    """One per-sample SGD step with L2 decay mu, in place; returns the sample's loss."""
    grad_w, grad_b, value = backprop(weights, biases, acts, loss, x, y, slope, loss_scale)
    lr_t = weights[0].dtype.type(lr)
    mu_t = weights[0].dtype.type(mu)
    for l in range(len(weights)):
        weights[l][...] = weights[l] - lr_t * (grad_w[l] + mu_t * weights[l])
        biases[l][...] = biases[l] - lr_t * grad_b[l]
    return value


def sgd_epoch(weights, biases, acts, loss, X, Y, order, lr, mu=0.0, slope=0.1, loss_scale=1.0):
    """Per-sample SGD over X[order], in place; returns the mean loss."""
    total = 0.0
    for i in order:
        total += sgd_step(weights, biases, acts, loss, X[i], Y[i], lr, mu, slope, loss_scale)
    return total / max(len(order), 1)
