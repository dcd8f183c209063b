"""``keras.activations``: the registry's Keras-named activations as functions on arrays.

Each function computes what the kernels compute for that activation (the
registry's NumPy forward), on any array of floats; the last axis is the
feature axis.  The functions can be given to ``Dense(activation=...)`` and
``Activation(...)`` in place of their names.
"""

import numpy as np

from annfast import activations as registry

__all__ = ["get", "serialize"]


def _apply(canonical, x, param=None):
    arr = np.array(x, dtype=np.result_type(np.asarray(x).dtype, np.float32), copy=True)
    if arr.ndim == 0:
        raise ValueError("an activation needs an array of at least one dimension")
    flat = arr.reshape(-1, arr.shape[-1])
    registry.activate_inplace(canonical, flat, param)
    return flat.reshape(arr.shape)


def _make(keras_name, canonical, doc, param_name=None, default=None):
    if param_name is None:
        def fn(x):
            return _apply(canonical, x)
    else:
        def fn(x, **kwargs):
            unknown = set(kwargs) - {param_name}
            if unknown:
                raise TypeError(f"{keras_name}() got unsupported arguments {sorted(unknown)}; "
                                f"it takes x and {param_name}")
            return _apply(canonical, x, float(kwargs.get(param_name, default)))
    fn.__name__ = fn.__qualname__ = keras_name
    fn.__doc__ = doc
    fn._annfast_activation = keras_name
    return fn


# Keras' names (VOCABULARY['keras']), for the activations the kernels have.
_DOCS = {
    "linear": "The identity.",
    "relu": "max(x, 0).",
    "leaky_relu": "x for x >= 0, negative_slope * x below (Keras' default slope 0.2).",
    "sigmoid": "1 / (1 + exp(-x)).",
    "tanh": "The hyperbolic tangent.",
    "softmax": "exp(x) / sum(exp(x)) over the last axis.",
    "elu": "x for x > 0, alpha * (exp(x) - 1) below (alpha = 1).",
}
_PARAMS = {"leaky_relu": ("negative_slope", 0.2), "elu": ("alpha", 1.0)}

for _name, _canonical in registry.VOCABULARY["keras"].items():
    if _name is None:
        continue
    _param = _PARAMS.get(_name, (None, None))
    globals()[_name] = _make(_name, _canonical, _DOCS.get(_name, _name), *_param)
    __all__.append(_name)

#: The names ``get`` accepts.
NAMES = tuple(n for n in registry.VOCABULARY["keras"] if n is not None)


def name_of(activation):
    """The Keras name of an activation given as a name, None or one of these functions."""
    if activation is None or isinstance(activation, str):
        return activation
    name = getattr(activation, "_annfast_activation", None)
    if name is None:
        raise TypeError(f"activation must be a name ({', '.join(NAMES)}) or a function from "
                        f"annfast.keras.activations; got {activation!r:.80} (other callables "
                        "cannot run in the compiled kernels)")
    return name


def get(identifier):
    """The activation function for a name (None is linear) or the function itself."""
    name = name_of(identifier)
    canonical = registry.resolve_activation(name, "activation", "keras")
    for keras_name, c in registry.VOCABULARY["keras"].items():
        if c == canonical and keras_name is not None:
            return globals()[keras_name]
    raise ValueError(f"no Keras name for activation {canonical!r}")


def serialize(activation):
    return name_of(activation)
