"""Names of activations and losses, and the codes the compiled kernels use."""

from annfast._kernels import ACTIVATION_CODES, LOSS_CODES

#: Activation name -> kernel code.  Aliases follow scikit-learn and Keras.
ACTIVATIONS = dict(ACTIVATION_CODES)
ALIASES = {"linear": "identity", "logistic": "sigmoid", "leaky": "leaky_relu"}

#: The loss each output activation is trained with in NeuralNet: the pairs for
#: which the output delta is simply a - y.
OUTPUT_LOSS = {"softmax": "ce", "sigmoid": "bce", "identity": "mse"}

LOSSES = dict(LOSS_CODES)


def resolve_activation(name, argument="activation"):
    """Return the canonical activation name for ``name`` (aliases allowed)."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string naming an activation, got {name!r}")
    canonical = ALIASES.get(name, name)
    if canonical not in ACTIVATIONS:
        valid = ", ".join(sorted(set(ACTIVATIONS) | set(ALIASES)))
        raise ValueError(f"{argument}={name!r} is not a known activation; expected one of: {valid}")
    return canonical
