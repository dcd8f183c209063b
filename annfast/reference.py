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


# -- Batch training with optimizers -------------------------------------------------------
#
# The kernels' optimizer step, one variable (a weight matrix or a bias vector) at
# a time, in the variables' precision.  The rules added for the Keras front end
# are those of keras/src/optimizers/<name>.py (Keras 3); sgd/momentum/nesterov
# are scikit-learn's, adam/rmsprop both.  Per batch, in Keras' order: gradient
# (mean over the batch, plus scikit-learn's l2 * W / batch on weights, plus the
# regularizers' gradient), clipping, decoupled weight decay, the rule.

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad",
              "adadelta", "adamax", "nadam")


def optimizer_slots(optimizer, amsgrad=False, momentum=0.0, centered=False):
    """Names of the per-variable state arrays, in the kernels' slot order."""
    if optimizer in ("momentum", "nesterov"):
        return ("velocity",)
    if optimizer in ("adam", "adamw"):
        return ("m", "v", "v_hat") if amsgrad else ("m", "v")
    if optimizer == "rmsprop":
        return (("v",) + (("momentum",) if momentum > 0 else ())
                + (("mean_grad",) if centered else ()))
    return {"sgd": (), "adagrad": ("accumulator",), "adadelta": ("acc_grad", "acc_delta"),
            "adamax": ("m", "u"), "nadam": ("m", "v")}[optimizer]


def new_optimizer_state(optimizer, variables, amsgrad=False, momentum=0.0, centered=False,
                        initial_accumulator_value=0.1):
    """A fresh state: {slot name: [array per variable]}; Adagrad's accumulators
    start at initial_accumulator_value, Nadam's running product at 1."""
    state = {}
    for name in optimizer_slots(optimizer, amsgrad, momentum, centered):
        start = initial_accumulator_value if name == "accumulator" else 0.0
        state[name] = [np.full_like(v, start) for v in variables]
    if optimizer == "nadam":
        state["u_product"] = 1.0
    return state


def regularization(variables, penalties):
    """Keras' l1/l2 regularizers on [W_0, b_0, W_1, b_1, ...] with penalties rows
    (kernel_l1, kernel_l2, bias_l1, bias_l2) per layer: returns (the loss term
    sum l1 |w| + l2 w^2, its gradient per variable)."""
    value, grads = 0.0, []
    for i, w in enumerate(variables):
        l1, l2 = penalties[i // 2][2 * (i % 2):2 * (i % 2) + 2]
        c = w.dtype.type
        value += l1 * np.sum(np.abs(w.astype(float))) + l2 * np.sum(w.astype(float) ** 2)
        grads.append(c(l1) * np.sign(w) + c(2 * l2) * w)
    return value, grads


def clip_gradients(grads, clipvalue=0.0, clipnorm=0.0, global_clipnorm=0.0):
    """Keras' clipping: each variable's gradient to norm clipnorm, or all of them
    to global norm global_clipnorm, or each value into [-clipvalue, clipvalue]."""
    def scaled(g, norm, clip):
        return g * g.dtype.type(clip / norm) if norm > clip else g

    if clipnorm > 0:
        return [scaled(g, np.sqrt(np.sum(g.astype(float) ** 2)), clipnorm) for g in grads]
    if global_clipnorm > 0:
        norm = np.sqrt(sum(np.sum(g.astype(float) ** 2) for g in grads))
        return [scaled(g, norm, global_clipnorm) for g in grads]
    if clipvalue > 0:
        return [np.clip(g, -g.dtype.type(clipvalue), g.dtype.type(clipvalue)) for g in grads]
    return grads


def update_sgd(w, g, s, lr, **_):
    w -= lr * g


def update_momentum(w, g, s, lr, momentum, **_):
    s["velocity"][...] = momentum * s["velocity"] - lr * g
    w += s["velocity"]


def update_nesterov(w, g, s, lr, momentum, **_):
    s["velocity"][...] = momentum * s["velocity"] - lr * g
    w += momentum * s["velocity"] - lr * g


def update_adam(w, g, s, lr, beta1, beta2, epsilon, t, amsgrad=False, **_):
    """Keras' Adam (t: this step, from 1): alpha = lr sqrt(1 - b2^t) / (1 - b1^t)."""
    c = w.dtype.type
    alpha = c(float(lr) * np.sqrt(1.0 - float(beta2) ** t) / (1.0 - float(beta1) ** t))
    s["m"][...] = beta1 * s["m"] + (1 - beta1) * g
    s["v"][...] = beta2 * s["v"] + (1 - beta2) * (g * g)
    v = s["v"]
    if amsgrad:
        s["v_hat"][...] = np.maximum(s["v_hat"], s["v"])
        v = s["v_hat"]
    w += -alpha * s["m"] / (np.sqrt(v) + epsilon)


def update_rmsprop(w, g, s, lr, rho, epsilon, momentum=0.0, centered=False, **_):
    """Keras' RMSprop: epsilon inside the root; the momentum buffer holds lr-scaled steps."""
    s["v"][...] = rho * s["v"] + (1 - rho) * (g * g)
    if centered:
        s["mean_grad"][...] = rho * s["mean_grad"] + (1 - rho) * g
        denominator = s["v"] - s["mean_grad"] ** 2 + epsilon
    else:
        denominator = s["v"] + epsilon
    increment = lr * g / np.sqrt(denominator)
    if momentum > 0:
        s["momentum"][...] = momentum * s["momentum"] + increment
        w -= s["momentum"]
    else:
        w -= increment


def update_adagrad(w, g, s, lr, epsilon, **_):
    s["accumulator"][...] = s["accumulator"] + g * g
    w -= lr * g / np.sqrt(s["accumulator"] + epsilon)


def update_adadelta(w, g, s, lr, rho, epsilon, **_):
    s["acc_grad"][...] = rho * s["acc_grad"] + (1 - rho) * (g * g)
    delta = -(np.sqrt(s["acc_delta"] + epsilon) * g) / np.sqrt(s["acc_grad"] + epsilon)
    s["acc_delta"][...] = rho * s["acc_delta"] + (1 - rho) * (delta * delta)
    w += lr * delta


def update_adamax(w, g, s, lr, beta1, beta2, epsilon, t, **_):
    s["m"][...] = s["m"] + (g - s["m"]) * (1 - beta1)
    s["u"][...] = np.maximum(beta2 * s["u"], np.abs(g))
    w -= lr * s["m"] / (w.dtype.type(1.0 - float(beta1) ** t) * (s["u"] + epsilon))


def update_nadam(w, g, s, lr, beta1, beta2, epsilon, t, u_t, u_next, u_product, **_):
    """Keras' Nadam: u_t = beta1 (1 - 0.96^t / 2); u_product = u_1 ... u_t."""
    c = w.dtype.type
    s["m"][...] = s["m"] + (g - s["m"]) * (1 - beta1)
    s["v"][...] = s["v"] + (g * g - s["v"]) * (1 - beta2)
    m_hat = (c(u_next) * s["m"] / c(1 - u_product * u_next)
             + c(1 - u_t) * g / c(1 - u_product))
    v_hat = s["v"] / c(1 - float(beta2) ** t)
    w -= m_hat * lr / (np.sqrt(v_hat) + epsilon)


UPDATES = {"sgd": update_sgd, "momentum": update_momentum, "nesterov": update_nesterov,
           "adam": update_adam, "adamw": update_adam, "rmsprop": update_rmsprop,
           "adagrad": update_adagrad, "adadelta": update_adadelta, "adamax": update_adamax,
           "nadam": update_nadam}


def optimizer_step(optimizer, variables, grads, state, t, lr, weight_decay=0.0,
                   clipvalue=0.0, clipnorm=0.0, global_clipnorm=0.0, momentum=0.0,
                   beta1=0.9, beta2=0.999, rho=0.9, epsilon=1e-8, amsgrad=False,
                   centered=False):
    """One step on every variable in place from the batch gradients; returns t
    (steps taken: adam/adamw/adamax/nadam count them)."""
    c = variables[0].dtype.type
    grads = clip_gradients(grads, clipvalue, clipnorm, global_clipnorm)
    if weight_decay:
        for w in variables:
            w[...] = w - w * c(weight_decay) * c(lr)
    extra = {}
    if optimizer in ("adam", "adamw", "adamax", "nadam"):
        t += 1
    if optimizer == "nadam":
        u_t = beta1 * (1.0 - 0.5 * 0.96 ** t)
        state["u_product"] = state["u_product"] * u_t
        extra = {"u_t": u_t, "u_next": beta1 * (1.0 - 0.5 * 0.96 ** (t + 1)),
                 "u_product": state["u_product"]}
    hyper = {"lr": c(lr), "momentum": c(momentum), "beta1": c(beta1), "beta2": c(beta2),
             "rho": c(rho), "epsilon": c(epsilon)}
    slots = [k for k in state if k != "u_product"]
    for i, (w, g) in enumerate(zip(variables, grads)):
        UPDATES[optimizer](w, g, {k: state[k][i] for k in slots}, t=t, amsgrad=amsgrad,
                           centered=centered, **hyper, **extra)
    return t


def minibatch_epoch(weights, biases, acts, loss, X, Y, order, batch_size, optimizer, state,
                    t=0, lr=0.01, l2=0.0, penalties=None, slope=0.1, loss_scale=1.0,
                    **options):
    """Train over X[order] in batches, in place; returns (loss_sum, t), where
    loss_sum adds, per batch, its size times the regularizers' value (Keras'
    batch loss is the mean loss plus that value).  options: optimizer_step's."""
    variables = [v for pair in zip(weights, biases) for v in pair]
    c = variables[0].dtype.type
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        sums = [np.zeros_like(v) for v in variables]
        for i in batch:
            gw, gb, value = backprop(weights, biases, acts, loss, X[i], Y[i], slope,
                                     loss_scale)
            for k, g in enumerate(g for pair in zip(gw, gb) for g in pair):
                sums[k] += g
            total += value
        n = c(len(batch))
        grads = [(s + c(l2) * v) / n if k % 2 == 0 else s / n
                 for k, (s, v) in enumerate(zip(sums, variables))]
        if penalties is not None:
            value, extra = regularization(variables, penalties)
            grads = [g + e for g, e in zip(grads, extra)]
            total += len(batch) * value
        t = optimizer_step(optimizer, variables, grads, state, t, lr, **options)
    return total, t
