"""The registry of activations and losses: every fact about a name, in one place.

Each front end speaks its own vocabulary (the tutorial's, scikit-learn's,
Keras'); this module maps each of those names to one canonical name, and each
canonical name to what the engine needs: the compiled kernels' code, a
vectorised NumPy forward (for predictions through BLAS), and the loss the
activation is matched with as an output (for which dL/dz = a - y).

Adding an activation touches the C side (af.h's list and the template), this
registry, ``annfast/reference.py`` (the independent specification) and tests.
"""

import dataclasses

import numpy as np
from scipy import special

from annfast import _kernels
from annfast._validation import check_choice


def _identity(Z, param):
    pass


def _relu(Z, param):
    np.maximum(Z, 0, out=Z)  # inputs and weights are finite: no NaN to keep


def _leaky_relu(Z, param):
    np.multiply(Z, Z.dtype.type(param), out=Z, where=Z < 0)


def _sigmoid(Z, param):
    # exp of non-positive numbers only, as the kernel: no overflow.
    E = np.exp(-np.abs(Z))
    np.divide(np.where(Z >= 0, 1, E), 1 + E, out=Z)


def _tanh(Z, param):
    np.tanh(Z, out=Z)


def _softmax(Z, param):
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)


def _elu(Z, param):
    # alpha * (exp(z) - 1) at or below zero; expm1 of non-positive numbers only.
    np.multiply(np.expm1(np.minimum(Z, 0)), Z.dtype.type(param), out=Z, where=Z <= 0)


# SELU's fixed constants (Klambauer et al. 2017), as Keras and the kernels.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _in_double(f):
    """The kernels evaluate the transcendental activations in double, then round:
    so does the NumPy forward, for float32 too."""
    def forward(Z, param):
        Z[...] = f(Z.astype(np.float64), param)
    return forward


def _selu(z, param):
    return np.where(z > 0, SELU_SCALE * z, SELU_SCALE * SELU_ALPHA * np.expm1(np.minimum(z, 0)))


def _softplus(z, param):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _softsign(Z, param):
    np.divide(Z, 1 + np.abs(Z), out=Z)


def _silu(z, param):
    e = np.exp(-np.abs(z))
    return z * np.where(z >= 0, 1, e) / (1 + e)


def _gelu(z, param):
    return 0.5 * z * (1 + special.erf(z * np.sqrt(0.5)))


def _gelu_tanh(z, param):
    return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))


def _hard_sigmoid(Z, param):
    # Keras 3: relu6(z + 3) / 6
    Z += 3
    np.clip(Z, 0, 6, out=Z)
    Z /= 6


def _hard_silu(Z, param):
    # Keras 3: z * hard_sigmoid(z)
    np.multiply(Z, np.clip(Z + 3, 0, 6) / 6, out=Z)


def _relu6(Z, param):
    np.clip(Z, 0, 6, out=Z)


def _exponential(z, param):
    return np.exp(z)


@dataclasses.dataclass(frozen=True)
class Activation:
    """One activation.

    name : canonical name (the kernels' and the tutorial's)
    forward : vectorised NumPy, ``forward(Z, param)`` in place on rows of Z
    matched_loss : the loss whose output delta through this activation is a - y
    sklearn : scikit-learn's name for it, if scikit-learn has it
    keras : Keras' names for it
    aliases : other names the tutorial front ends accept
    param : the default of its one parameter (leaky slope, elu alpha), if any
    """

    name: str
    forward: object
    matched_loss: str = None
    sklearn: str = None
    keras: tuple = ()
    aliases: tuple = ()
    param: float = None

    @property
    def code(self):
        return _kernels.ACTIVATION_CODES[self.name]


@dataclasses.dataclass(frozen=True)
class Loss:
    """One loss of the kernels (per-sample value before ``loss_scale``).

    per_sample : ``per_sample(out, Y)``: the losses of each row, float64,
    the kernels' formula and clipping (the reported loss).
    """

    name: str
    per_sample: object

    @property
    def code(self):
        return _kernels.LOSS_CODES[self.name]


def _clipped(out):
    eps = np.finfo(out.dtype).eps
    return np.clip(out.astype(np.float64), eps, 1 - eps)


def _mse(out, Y):
    return 0.5 * np.sum((out.astype(np.float64) - Y) ** 2, axis=1)


def _bce(out, Y):
    p = _clipped(out)
    return -np.sum(Y * np.log(p) + (1 - Y) * np.log(1 - p), axis=1)


def _ce(out, Y):
    p = _clipped(out)
    return -np.sum(np.where(Y != 0, Y * np.log(p), 0.0), axis=1)


_ACTIVATION_LIST = (
    Activation("identity", _identity, "mse", sklearn="identity", keras=("linear", None),
               aliases=("linear",)),
    Activation("relu", _relu, sklearn="relu", keras=("relu",)),
    Activation("leaky_relu", _leaky_relu, keras=("leaky_relu",), aliases=("leaky",), param=0.1),
    Activation("sigmoid", _sigmoid, "bce", sklearn="logistic", keras=("sigmoid",),
               aliases=("logistic",)),
    Activation("tanh", _tanh, sklearn="tanh", keras=("tanh",)),
    Activation("softmax", _softmax, "ce", sklearn="softmax", keras=("softmax",)),
    Activation("elu", _elu, keras=("elu",), param=1.0),
    Activation("selu", _in_double(_selu), keras=("selu",)),
    Activation("softplus", _in_double(_softplus), keras=("softplus",)),
    Activation("softsign", _softsign, keras=("softsign",)),
    Activation("silu", _in_double(_silu), keras=("silu", "swish"), aliases=("swish",)),
    Activation("gelu", _in_double(_gelu), keras=("gelu",)),
    Activation("gelu_tanh", _in_double(_gelu_tanh), aliases=("gelu_approximate",)),
    Activation("hard_sigmoid", _hard_sigmoid, keras=("hard_sigmoid",)),
    Activation("hard_silu", _hard_silu, keras=("hard_silu", "hard_swish"),
               aliases=("hard_swish",)),
    Activation("relu6", _relu6, keras=("relu6",)),
    Activation("exponential", _in_double(_exponential), "poisson", sklearn="exp",
               keras=("exponential",)),
)
# The Python formulas of the losses the front ends report; the other kernel
# losses are reported by the kernels themselves while training.
_LOSS_LIST = (Loss("mse", _mse), Loss("bce", _bce), Loss("ce", _ce))

#: Canonical name -> Activation / Loss.
REGISTRY = {a.name: a for a in _ACTIVATION_LIST}
LOSS_REGISTRY = {loss.name: loss for loss in _LOSS_LIST}

#: Canonical name -> kernel code (what the tests and the kernels' callers use).
ACTIVATIONS = {name: a.code for name, a in REGISTRY.items()}
LOSSES = dict(_kernels.LOSS_CODES)
#: Output activation -> the loss it is trained with in NeuralNet (the matched pairs).
OUTPUT_LOSS = {a.name: a.matched_loss for a in REGISTRY.values() if a.matched_loss}

#: The tutorial front ends' other names for activations: alias -> canonical name.
ALIASES = {alias: a.name for a in REGISTRY.values() for alias in a.aliases}

#: Each front end's vocabulary: its name -> canonical name.
VOCABULARY = {
    "annfast": {**{n: n for n in REGISTRY}, **ALIASES},
    "sklearn": {a.sklearn: a.name for a in REGISTRY.values() if a.sklearn},
    "keras": {k: a.name for a in REGISTRY.values() for k in a.keras},
}


def resolve_activation(name, argument="activation", front_end="annfast", allowed=None):
    """Return the canonical name of activation ``name`` in ``front_end``'s vocabulary.

    ``allowed`` restricts the canonical names (e.g. the output activations a
    front end supports).  The error lists the valid names as the caller spells
    them."""
    vocabulary = VOCABULARY[front_end]
    if allowed is not None:
        vocabulary = {k: v for k, v in vocabulary.items() if v in allowed}
    if front_end == "keras" and name is None and None in vocabulary:
        return vocabulary[None]
    spelled = [k for k in vocabulary if k is not None]
    check_choice(name, argument, spelled)
    return vocabulary[name]


def activation_code(name):
    return REGISTRY[name].code


def activate_inplace(name, Z, param=None):
    """Apply activation ``name`` to every row of the 2-D array Z, in place."""
    act = REGISTRY[name]
    act.forward(Z, act.param if param is None else param)


def mean_loss(loss, out, Y):
    """Mean per-sample loss of outputs ``out`` for targets ``Y``, as the kernels compute it."""
    return float(np.mean(LOSS_REGISTRY[loss].per_sample(out, Y)))


def per_sample_loss(loss, out, Y):
    return LOSS_REGISTRY[loss].per_sample(out, Y)
