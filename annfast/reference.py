"""The math of annfast in plain NumPy, one sample at a time.

This module is the specification: the tests check every compiled kernel
against it, and the benchmarks use it as the "clear NumPy" baseline.  It is
written to be read, not to be fast, and nothing in the fast path imports it.

Conventions (the same as the kernels):

* ``weights[l]`` has shape ``(n_out, n_in)`` and ``biases[l]`` shape ``(n_out,)``;
  ``z = W @ a + b`` and ``a_next = act(z)``.
* Activation derivatives are written in terms of the layer *output* ``a``
  where that is exact, else of the pre-activation ``z`` (``NEEDS_Z``).
* ``slope`` is the activations' parameter: a scalar is every leaky_relu
  layer's slope (elu layers then take alpha = 1), a sequence gives one value
  per layer (leaky_relu's slope, elu's alpha; ignored by the others).
* Per-sample losses (see ``output_delta``), before ``loss_scale``: MSE
  ``0.5 * sum((a - y)**2)``; binary cross-entropy ``-sum(y log a + (1 - y)
  log(1 - a))``; categorical cross-entropy ``-sum(y log a)``, with ``a``
  clipped to ``[eps, 1 - eps]`` inside the logs; and the others listed in
  ``LOSSES``.  Any output activation goes with any loss: the output delta is
  dL/da through the activation's Jacobian, except for the ``MATCHED_OUTPUT``
  pairs, whose delta is exactly ``a - y``.
* One SGD step on one sample, with decay coefficient ``mu``::

      W <- W - lr * (outer(delta, a_in) + mu * W)
      b <- b - lr * delta
"""

import math

import numpy as np

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "elu", "selu",
               "softplus", "softsign", "silu", "gelu", "gelu_tanh", "hard_sigmoid",
               "hard_silu", "relu6", "exponential")
#: The activations whose derivative is computed from z rather than from a.
NEEDS_Z = ("silu", "gelu", "gelu_tanh", "hard_silu")
#: Activation parameters and their defaults.
PARAM_DEFAULTS = {"leaky_relu": 0.1, "elu": 1.0}
LOSSES = ("mse", "bce", "ce", "mae", "huber", "logcosh", "poisson", "kld", "hinge",
          "squared_hinge", "bce_logits", "ce_logits", "mape", "msle")
#: Keras' backend.epsilon(): the floor of mape's denominator and of msle's logs.
KERAS_EPS = 1e-7
# The output activation each loss is paired with, for which dL/dz = a - y.
MATCHED_OUTPUT = {"mse": "identity", "bce": "sigmoid", "ce": "softmax",
                  "poisson": "exponential"}

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_C = 0.044715


def _sigmoid(z):
    # Only exp of non-positive numbers: no overflow warnings for large |z|.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _erf(x):
    return np.array([math.erf(v) for v in np.ravel(x)]).reshape(np.shape(x))


def layer_params(acts, slope=0.1):
    """One parameter per layer, from a scalar slope or a sequence (see above)."""
    if np.ndim(slope) == 0:
        return [slope if act == "leaky_relu" else PARAM_DEFAULTS.get(act, 0.0) for act in acts]
    return list(slope)


def activate(name, z, slope=None):
    """Return act(z); softmax treats z as one vector.  ``slope``: the layer's
    parameter (leaky_relu's slope, default 0.1; elu's alpha, default 1)."""
    z = np.asarray(z)
    t = z.dtype.type
    if slope is None:
        slope = PARAM_DEFAULTS.get(name, 0.0)
    zd = z.astype(float)  # the transcendental ones are evaluated in double
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.where(z < 0, 0, z).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z < 0, t(slope) * z, z)
    if name == "sigmoid":
        return _sigmoid(z).astype(z.dtype)
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    if name == "elu":
        return np.where(zd > 0, zd, slope * np.expm1(np.minimum(zd, 0))).astype(z.dtype)
    if name == "selu":
        neg = SELU_SCALE * SELU_ALPHA * np.expm1(np.minimum(zd, 0))
        return np.where(zd > 0, SELU_SCALE * zd, neg).astype(z.dtype)
    if name == "softplus":
        return (np.maximum(zd, 0) + np.log1p(np.exp(-np.abs(zd)))).astype(z.dtype)
    if name == "softsign":
        return z / (t(1) + np.abs(z))
    if name == "silu":
        return (zd * _sigmoid(zd)).astype(z.dtype)
    if name == "gelu":
        return (0.5 * zd * (1 + _erf(zd / math.sqrt(2)))).astype(z.dtype)
    if name == "gelu_tanh":
        inner = math.sqrt(2 / math.pi) * (zd + GELU_C * zd**3)
        return (0.5 * zd * (1 + np.tanh(inner))).astype(z.dtype)
    if name == "hard_sigmoid":  # Keras 3: relu6(z + 3) / 6
        return np.clip(z + t(3), 0, 6).astype(z.dtype) / t(6)
    if name == "hard_silu":  # Keras 3: z * hard_sigmoid(z)
        return z * (np.clip(z + t(3), 0, 6).astype(z.dtype) / t(6))
    if name == "relu6":
        return np.clip(z, 0, 6).astype(z.dtype)
    if name == "exponential":
        return np.exp(z)
    raise ValueError(f"unknown activation {name!r}")


def act_backward(name, a, g, slope=None, z=None):
    """Return dL/dz from dL/da = g, given the outputs a = act(z) (and, for the
    activations in NEEDS_Z, the pre-activations z)."""
    a, g = np.asarray(a), np.asarray(g)
    one = a.dtype.type(1)
    if slope is None:
        slope = PARAM_DEFAULTS.get(name, 0.0)
    if name in NEEDS_Z:
        if z is None:
            raise ValueError(f"{name}'s derivative needs z")
        zd = np.asarray(z, dtype=float)
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
    if name == "elu":  # alpha e^z = a + alpha where z <= 0
        return np.where(a > 0, g, g * (a + a.dtype.type(slope)))
    if name == "selu":
        sa = a.dtype.type(SELU_SCALE * SELU_ALPHA)
        return np.where(a > 0, g * a.dtype.type(SELU_SCALE), g * (a + sa))
    if name == "softplus":  # sigmoid(z) = 1 - exp(-a)
        return (g * -np.expm1(-a.astype(float))).astype(g.dtype)
    if name == "softsign":  # 1 / (1 + |z|)^2 = (1 - |a|)^2
        return g * (one - np.abs(a)) ** 2
    if name == "silu":
        s = _sigmoid(zd)
        return (g * (s * (1 + zd * (1 - s)))).astype(g.dtype)
    if name == "gelu":
        d = 0.5 * (1 + _erf(zd / math.sqrt(2))) + zd * np.exp(-0.5 * zd**2) / math.sqrt(2 * math.pi)
        return (g * d).astype(g.dtype)
    if name == "gelu_tanh":
        c = math.sqrt(2 / math.pi)
        th = np.tanh(c * (zd + GELU_C * zd**3))
        d = 0.5 * (1 + th) + 0.5 * zd * (1 - th**2) * c * (1 + 3 * GELU_C * zd**2)
        return (g * d).astype(g.dtype)
    if name == "hard_sigmoid":
        return np.where((a > 0) & (a < 1), g / a.dtype.type(6), 0).astype(g.dtype)
    if name == "hard_silu":
        zt = np.asarray(z)
        inner = g * (zt / zt.dtype.type(3) + zt.dtype.type(0.5))
        return np.where(zt < -3, 0, np.where(zt <= 3, inner, g)).astype(g.dtype)
    if name == "relu6":
        return np.where((a > 0) & (a < 6), g, 0).astype(g.dtype)
    if name == "exponential":
        return g * a
    raise ValueError(f"unknown activation {name!r}")


def output_delta(loss, out_act, a, y, slope=None, loss_scale=1.0, z=None, huber_delta=1.0,
                 label_smoothing=0.0, prob_eps=0.0):
    """Return (dL/dz of the output layer, loss) for one sample.

    ``slope``: the output layer's activation parameter (None: its default).
    ``z``: the output pre-activations (for NEEDS_Z outputs).
    ``prob_eps``: 0 for annfast's clip of probabilities at the machine epsilon,
    with the gradient taken at the clipped value; > 0 (Keras' epsilon) for
    Keras': clip to [eps, 1 - eps] with a zero gradient where the clip acts,
    categorical outputs first divided by their sum, and Poisson as
    ``a - y log(a + eps)``.
    """
    a, y = np.asarray(a), np.asarray(y)
    t = a.dtype.type
    k = a.shape[0]
    keras = prob_eps > 0
    eps = t(prob_eps) if keras else np.finfo(a.dtype).eps
    lo, hi = eps, t(1) - eps
    matched = MATCHED_OUTPUT.get(loss) == out_act and not (keras and loss == "poisson")
    af, yf = a.astype(float), y.astype(float)
    # Label smoothing (Keras): towards 1/2 for the binary losses, 1/k for the categorical.
    if label_smoothing and loss in ("bce", "bce_logits"):
        y = (yf * (1 - label_smoothing) + 0.5 * label_smoothing).astype(a.dtype)
    elif label_smoothing and loss in ("ce", "ce_logits"):
        y = (yf * (1 - label_smoothing) + label_smoothing / k).astype(a.dtype)
    yf = y.astype(float)
    clipped = (a < lo) | (a > hi)
    p = np.clip(a, lo, hi)
    pf = p.astype(float)
    if loss == "mse":
        value = 0.5 * np.sum((af - y.astype(float)) ** 2)
        g = a - y
    elif loss == "bce":
        value = -np.sum(yf * np.log(pf) + (1 - yf) * np.log(1 - pf))
        g = a - y if matched else (p - y) / (p * (1 - p))
        if keras and not matched:
            g = np.where(clipped, 0, g).astype(a.dtype)
    elif loss == "ce" and keras and not matched:
        # Keras rescales the outputs to sum to one, then clips.
        total = a.sum()
        u = a / total
        pu = np.clip(u, lo, hi)
        value = -np.sum(np.where(y != 0, yf * np.log(pu.astype(float)), 0.0))
        gp = np.where((u < lo) | (u > hi), 0, -y / pu).astype(a.dtype)
        g = (gp - np.dot(gp, u)) / total  # through p_j = a_j / sum(a)
    elif loss == "ce":
        value = -np.sum(np.where(y != 0, yf * np.log(pf), 0.0))
        g = a - y if matched else -y / p
    elif loss == "mae":
        value = np.sum(np.abs(af - yf))
        g = np.sign(a - y)
    elif loss == "huber":
        d = a - y
        ad = np.abs(d.astype(float))
        value = np.sum(np.where(ad <= huber_delta, 0.5 * ad**2,
                                huber_delta * ad - 0.5 * huber_delta**2))
        g = np.where(ad <= huber_delta, d, t(huber_delta) * np.sign(d)).astype(a.dtype)
    elif loss == "logcosh":
        d = a - y
        ad = np.abs(d.astype(float))
        value = np.sum(ad + np.log1p(np.exp(-2 * ad)) - math.log(2))
        g = np.tanh(d)
    elif loss == "poisson":
        if keras:
            value = np.sum(af - yf * np.log(af + prob_eps))
            g = (1 - yf / (af + prob_eps)).astype(a.dtype)
        else:  # scikit-learn's half Poisson deviance
            safe_y = np.where(yf > 0, yf, 1.0)
            value = np.sum(af - yf + np.where(yf > 0, yf * np.log(safe_y / af), 0.0))
            if matched:
                g = a - y
            else:  # y = 0 contributes a alone (no 0 / 0 at a = 0)
                g = (1 - np.where(yf > 0, yf, 0) / np.where(yf > 0, af, 1)).astype(a.dtype)
    elif loss == "kld":
        yc = np.clip(y, lo, t(1))
        pc = np.clip(a, lo, t(1))
        value = np.sum(yc.astype(float) * np.log(yc.astype(float) / pc.astype(float)))
        g = np.where((a < lo) | (a > 1), 0, -yc / pc).astype(a.dtype)
    elif loss in ("hinge", "squared_hinge"):
        label = np.where(y == 0, t(-1), y)  # Keras' 0/1 labels become -1/1
        m = t(1) - label * a
        if loss == "hinge":
            value = np.sum(np.maximum(m.astype(float), 0))
            g = np.where(m > 0, -label, 0).astype(a.dtype)
        else:
            value = np.sum(np.maximum(m.astype(float), 0) ** 2)
            g = np.where(m > 0, t(-2) * label * m, 0).astype(a.dtype)
    elif loss == "bce_logits":  # a are logits; the sigmoid is fused into the loss
        value = np.sum(np.maximum(af, 0) - af * yf + np.log1p(np.exp(-np.abs(af))))
        g = _sigmoid(a).astype(a.dtype) - y
    elif loss == "ce_logits":  # a are logits; the softmax is fused into the loss
        m = a.max()
        e = np.exp(a - m)
        lse = float(m) + math.log(float(e.sum()))
        value = np.sum(np.where(y != 0, yf * (lse - af), 0.0))
        g = e / e.sum() * y.sum() - y
    elif loss == "mape":
        den = np.maximum(np.abs(y), t(KERAS_EPS))
        value = 100 * np.sum(np.abs(af - yf) / den.astype(float))
        g = (np.sign(a - y) * t(100) / den).astype(a.dtype)
    elif loss == "msle":
        ac = np.maximum(a, t(KERAS_EPS))
        r = np.log1p(ac.astype(float)) - np.log1p(np.maximum(y, t(KERAS_EPS)).astype(float))
        value = np.sum(r**2)
        g = np.where(a > t(KERAS_EPS), 2 * r / (1 + ac.astype(float)), 0).astype(a.dtype)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    # For the matched pairs, a - y already is dL/dz.
    delta = g if matched else act_backward(out_act, a, g, slope, z)
    if loss_scale != 1.0:
        delta = delta * a.dtype.type(loss_scale)
        value = value * loss_scale
    return delta, float(value)


def forward_z(weights, biases, acts, x, slope=0.1):
    """Return ([x, a_1, ..., a_L], [z_1, ..., z_L]) for one sample x."""
    params = layer_params(acts, slope)
    outputs, zs = [np.asarray(x)], []
    for W, b, act, p in zip(weights, biases, acts, params):
        zs.append(W @ outputs[-1] + b)
        outputs.append(activate(act, zs[-1], p))
    return outputs, zs


def forward(weights, biases, acts, x, slope=0.1):
    """Return the list of layer outputs [x, a_1, ..., a_L] for one sample x."""
    return forward_z(weights, biases, acts, x, slope)[0]


def predict(weights, biases, acts, X, slope=0.1):
    """Return the network output for every row of X."""
    return np.array([forward(weights, biases, acts, x, slope)[-1] for x in X])


# -- Inverted dropout ----------------------------------------------------------------------
#
# Masks come from a hash of (seed, counter, row, layer, unit): SplitMix64's
# output function, in uint64 arithmetic (csrc/af_dropout.h has the same).  A
# hidden unit is dropped when its 53-bit uniform is below the rate; a kept
# unit's output is multiplied by 1 / (1 - rate) (inverted dropout), so
# prediction uses the outputs as they are.

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z):
    """SplitMix64's output function on a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_factors(seed, counter, row, layer, n, rate, dtype=np.float64):
    """The n factors (0 for a dropped unit, else 1 / (1 - rate) in dtype) of
    hidden layer ``layer``'s outputs for the sample in row ``row`` of X."""
    one = lambda v: np.array([v], dtype=np.uint64)  # noqa: E731 (uint64 from a Python int)
    with np.errstate(over="ignore"):
        call = _mix(_mix(one(seed) + _GOLDEN) + one(counter) * _GOLDEN)
        key = _mix(call ^ (one(row) * np.uint64(0xD1B54A32D192ED03)))
        key = _mix(key + np.uint64(layer + 1) * _GOLDEN)
        u = _mix(key + (np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN))
    uniform = (u >> np.uint64(11)).astype(np.float64) * 2.0**-53
    keep = dtype(1.0 / (1.0 - rate))
    return np.where(uniform < rate, dtype(0), keep).astype(dtype)


def forward_dropout(weights, biases, acts, x, slope=0.1, dropout=None, dropout_seed=0,
                    dropout_counter=0, row=0):
    """Return (outputs [x, a_1, ..., a_L] before dropout, pre-activations, the
    input each layer reads (a hidden layer's dropped outputs), the factors of
    each hidden layer (None where its rate is 0)) for one training sample."""
    params = layer_params(acts, slope)
    outputs, zs, inputs, factors = [np.asarray(x)], [], [np.asarray(x)], []
    for layer, (W, b, act, p) in enumerate(zip(weights, biases, acts, params)):
        zs.append(W @ inputs[-1] + b)
        outputs.append(activate(act, zs[-1], p))
        rate = dropout[layer] if dropout is not None and layer < len(weights) - 1 else 0.0
        if rate > 0:
            k = dropout_factors(dropout_seed, dropout_counter, row, layer, len(zs[-1]), rate,
                                outputs[-1].dtype.type)
            factors.append(k)
            inputs.append(outputs[-1] * k)
        else:
            factors.append(None)
            inputs.append(outputs[-1])
    return outputs, zs, inputs, factors


def backprop(weights, biases, acts, loss, x, y, slope=0.1, loss_scale=1.0, weight=1.0,
             dropout=None, dropout_seed=0, dropout_counter=0, row=0, **loss_options):
    """Return (weight gradients, bias gradients, loss) of one sample of weight
    ``weight`` (which multiplies its loss and output delta).
    ``dropout``: None or one rate per hidden layer, the masks of the sample in
    row ``row`` of X drawn with ``dropout_seed`` and ``dropout_counter``.
    ``loss_options``: huber_delta, label_smoothing, prob_eps (see output_delta)."""
    params = layer_params(acts, slope)
    outputs, zs, inputs, factors = forward_dropout(weights, biases, acts, x, slope, dropout,
                                                   dropout_seed, dropout_counter, row)
    delta, value = output_delta(loss, acts[-1], outputs[-1], y, params[-1], loss_scale,
                                zs[-1], **loss_options)
    if weight != 1.0:
        delta = delta * delta.dtype.type(weight)
        value = value * weight
    grad_w = [None] * len(weights)
    grad_b = [None] * len(weights)
    for l in reversed(range(len(weights))):
        grad_w[l] = np.outer(delta, inputs[l])
        grad_b[l] = delta
        if l > 0:
            g = weights[l].T @ delta
            if factors[l - 1] is not None:
                g = g * factors[l - 1]
            delta = act_backward(acts[l - 1], outputs[l], g, params[l - 1], zs[l - 1])
    return grad_w, grad_b, value


def sgd_step(weights, biases, acts, loss, x, y, lr, mu=0.0, slope=0.1, loss_scale=1.0,
             weight=1.0, **options):
    """One per-sample SGD step with L2 decay mu, in place; returns the sample's
    (weighted) loss.  The decay does not depend on the sample's weight.
    ``options``: backprop's dropout and loss options."""
    grad_w, grad_b, value = backprop(weights, biases, acts, loss, x, y, slope, loss_scale,
                                     weight, **options)
    lr_t = weights[0].dtype.type(lr)
    mu_t = weights[0].dtype.type(mu)
    for l in range(len(weights)):
        weights[l][...] = weights[l] - lr_t * (grad_w[l] + mu_t * weights[l])
        biases[l][...] = biases[l] - lr_t * grad_b[l]
    return value


def sgd_epoch(weights, biases, acts, loss, X, Y, order, lr, mu=0.0, slope=0.1, loss_scale=1.0,
              sample_weight=None, **loss_options):
    """Per-sample SGD over X[order], in place; returns the mean (weighted) loss.
    ``sample_weight``: one weight per row of X, or None for all 1."""
    total = 0.0
    for i in order:
        weight = 1.0 if sample_weight is None else sample_weight[i]
        total += sgd_step(weights, biases, acts, loss, X[i], Y[i], lr, mu, slope, loss_scale,
                          weight, row=i, **loss_options)
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
                    sample_weight=None, weight_divisor="count", dropout=None, dropout_seed=0,
                    dropout_counter=0, **options):
    """Train over X[order] in batches, in place; returns (loss_sum, t), where
    loss_sum adds, per batch, its size times the regularizers' value (Keras'
    batch loss is the mean loss plus that value).  options: optimizer_step's.

    Sample weights (one per row of X, or None for all 1) multiply each sample's
    loss and gradient.  The two rules for a batch b of B samples with weights
    w_i, per-sample losses l_i and gradients g_i:

    * weight_divisor='count' (Keras'): g = (sum w_i g_i + l2 W) / B; loss_sum
      adds sum w_i l_i (Keras' batch loss is its mean over the B samples);
    * weight_divisor='sum' (scikit-learn 1.7+'s ``_backprop``): with S = sum
      w_i, g = (sum w_i g_i + l2 W) / S (biases without l2) and scikit-learn's
      batch loss is sum w_i l_i / S (+ its alpha term); its epoch ``loss_`` is
      the batch losses weighted by B / n, so loss_sum adds B / S * sum w_i l_i.
      A batch with S = 0 takes no step and adds 0 (scikit-learn would divide
      by zero).

    ``dropout``: as for backprop (each sample's row keys its masks).
    """
    variables = [v for pair in zip(weights, biases) for v in pair]
    c = variables[0].dtype.type
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        sums = [np.zeros_like(v) for v in variables]
        divisor, factor = float(len(batch)), 1.0
        if weight_divisor == "sum" and sample_weight is not None:
            divisor = 0.0
            for i in batch:
                divisor += float(sample_weight[i])
            factor = len(batch) / divisor if divisor > 0 else 0.0
        for i in batch:
            weight = 1.0 if sample_weight is None else float(sample_weight[i])
            gw, gb, value = backprop(weights, biases, acts, loss, X[i], Y[i], slope,
                                     loss_scale, weight, dropout=dropout,
                                     dropout_seed=dropout_seed,
                                     dropout_counter=dropout_counter, row=i)
            for k, g in enumerate(g for pair in zip(gw, gb) for g in pair):
                sums[k] += g
            total += value * factor
        if divisor == 0:
            continue
        n = c(divisor)
        grads = [(s + c(l2) * v) / n if k % 2 == 0 else s / n
                 for k, (s, v) in enumerate(zip(sums, variables))]
        if penalties is not None:
            value, extra = regularization(variables, penalties)
            grads = [g + e for g, e in zip(grads, extra)]
            total += len(batch) * value
        t = optimizer_step(optimizer, variables, grads, state, t, lr, **options)
    return total, t
