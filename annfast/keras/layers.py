"""Layers of the Keras-style front end: ``Dense``, ``Input`` and ``InputLayer``.

A ``Sequential`` model here is a chain of ``Dense`` layers, which is exactly
what the compiled kernels train (one weight matrix and one activation per
layer).  Layers only describe themselves; the weights live in the model's flat
parameter buffer (``annfast._params`` layout), and a layer that belongs to a
model reads and writes its slice of that buffer.
"""

import numbers

import numpy as np

from annfast import activations
from annfast._validation import check_choice, check_dtype
from annfast.keras import _naming

__all__ = ["Dense", "Input", "InputLayer"]

#: Keras' ``leaky_relu`` activation uses negative_slope=0.2.
LEAKY_SLOPE = 0.2

#: Initializers drawn here, as Keras defines them (fan_in = n_in, fan_out = n_out).
INITIALIZERS = ("glorot_uniform", "he_uniform", "lecun_uniform", "zeros", "ones")

SUPPORTED_LAYERS = "Dense and Input/InputLayer"
DENSE_ARGUMENTS = ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
                   "input_dim", "input_shape", "dtype", "name")


def resolve_activation(activation):
    """Return the canonical activation name for a Keras activation name (None: linear)."""
    if activation is not None and not isinstance(activation, str):
        raise TypeError(f"activation must be a string or None, got {activation!r}; "
                        "callables are not supported")
    return activations.resolve_activation(activation, "activation", "keras")


def _check_initializer(init, argument):
    return check_choice(init, argument, INITIALIZERS)


def draw(init, shape, rng):
    """Draw an array of ``shape`` (Keras layout, fan_in first) from ``init``, as float64."""
    fan_in = shape[0]
    fan_out = shape[-1] if len(shape) > 1 else shape[0]
    if init == "zeros":
        return np.zeros(shape)
    if init == "ones":
        return np.ones(shape)
    if init == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
    elif init == "he_uniform":
        limit = np.sqrt(6.0 / fan_in)
    elif init == "lecun_uniform":
        limit = np.sqrt(3.0 / fan_in)
    else:  # guarded by _check_initializer
        raise ValueError(f"unknown initializer {init!r}")
    return rng.uniform(-limit, limit, size=shape)


def _check_dim(value, argument):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Received an invalid value for `{argument}`, expected a positive "
                         f"integer. Received: {argument}={value!r}")
    return int(value)


def _check_shape(shape, argument):
    """Return the feature count of a 1-D input shape such as ``(4,)``."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{argument} must be a tuple such as (n_features,), got {shape!r}")
    if len(shape) != 1:
        raise ValueError(f"{argument}={tuple(shape)!r} is not supported: annfast.keras models "
                         "are chains of Dense layers on 1-D samples, so the shape must be "
                         "(n_features,)")
    return _check_dim(shape[0], f"{argument}[0]")


def reject_unsupported(where, kwargs, supported):
    """Raise a TypeError naming Keras arguments this front end does not implement."""
    if kwargs:
        names = ", ".join(sorted(kwargs))
        raise TypeError(f"{where} does not support {names}; the supported arguments are: "
                        f"{', '.join(supported)}")


def _check_name(name, prefix):
    if name is None:
        return _naming.unique_name(prefix)
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    return name


class Layer:
    """Common part of the layers: a name, a dtype and the model that owns it."""

    def __init__(self, name, prefix, dtype):
        self.name = _check_name(name, prefix)
        self.dtype = None if dtype is None else np.dtype(check_dtype(dtype)).name
        self._model = None
        self._index = None  # position among the model's Dense layers

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    """The input of a model: ``InputLayer(shape=(n_features,))``.

    Parameters
    ----------
    shape : tuple of one int
        Shape of one sample, ``(n_features,)``; the batch dimension is implied.
    batch_size : None
        Accepted for compatibility; only None is supported.
    dtype : 'float32', 'float64' or None
        Floating-point type of the model (Keras' default is float32).
    name : str, optional
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, *, input_shape=None):
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ValueError("InputLayer needs shape=(n_features,)")
        if batch_size is not None:
            raise ValueError("batch_size is not supported for Input; pass it to fit()")
        self.units = _check_shape(shape, "shape")
        super().__init__(name, "input_layer", dtype)

    @property
    def shape(self):
        return (None, self.units)


def Input(shape=None, batch_size=None, dtype=None, name=None):  # noqa: N802 (Keras' name)
    """Declare a model's input, ``keras.Input(shape=(n_features,))``.

    Returns an ``InputLayer``, to be given first to ``Sequential([...])`` or ``add``.
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)


class Dense(Layer):
    """A fully connected layer: ``output = activation(input @ kernel + bias)``.

    Parameters
    ----------
    units : int
        Number of outputs (> 0).
    activation : {None, 'linear', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'softmax'}
        None is linear, as in Keras.  'leaky_relu' uses Keras' slope 0.2.
    use_bias : bool, default True
        False: the layer has no bias (it is kept at exactly zero while training).
    kernel_initializer : str, default 'glorot_uniform'
        'glorot_uniform' (U[-sqrt(6/(fan_in+fan_out)), +...]), 'he_uniform',
        'lecun_uniform', 'zeros' or 'ones'.
    bias_initializer : str, default 'zeros'
    input_dim : int, optional
        Number of inputs; the tutorial's way to give the first layer its input
        size (same as ``input_shape=(input_dim,)``).
    input_shape : tuple of one int, optional
    dtype : 'float32', 'float64' or None
    name : str, optional

    Notes
    -----
    Keras' kernel has shape ``(n_in, units)``; ``get_weights`` returns it in that
    layout (a transposed copy of annfast's row-major ``(units, n_in)`` block).
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", *, input_dim=None, input_shape=None, dtype=None,
                 name=None, **kwargs):
        reject_unsupported("Dense", kwargs, DENSE_ARGUMENTS)
        self.units = _check_dim(units, "units")
        self.activation = activation
        self._act = resolve_activation(activation)
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = _check_initializer(bias_initializer, "bias_initializer")
        if input_dim is not None and input_shape is not None:
            raise ValueError("pass input_dim or input_shape, not both")
        self.input_dim = None
        if input_dim is not None:
            self.input_dim = _check_dim(input_dim, "input_dim")
        elif input_shape is not None:
            self.input_dim = _check_shape(input_shape, "input_shape")
        super().__init__(name, "dense", dtype)

    def get_config(self):
        """JSON-able description (what ``save`` writes)."""
        return {
            "class_name": "Dense", "name": self.name, "units": self.units,
            "activation": self.activation, "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }

    def count_params(self):
        """Number of weights (and biases) once the input size is known."""
        model = self._owner("count_params")
        n_in = model._sizes[self._index]
        return n_in * self.units + (self.units if self.use_bias else 0)

    def get_weights(self):
        """Return ``[kernel (n_in, units), bias (units,)]`` (copies); no bias if use_bias=False.
        An unbuilt layer has no weights yet: ``[]``, as in Keras."""
        if self._model is None or not self._model.built:
            return []
        return self._model._layer_weights(self._index)

    def set_weights(self, weights):
        """Set ``[kernel (n_in, units), bias (units,)]`` (the layout of ``get_weights``)."""
        self._owner("set_weights")._set_layer_weights(self._index, weights)

    def _owner(self, what):
        if self._model is None or not self._model.built:
            raise ValueError(f"{what}: layer {self.name!r} is not built yet; add it to a "
                             "Sequential model whose input size is known")
        return self._model


_KERAS_LAYERS = {
    "Conv1D", "Conv2D", "Conv3D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dropout",
    "BatchNormalization", "LSTM", "GRU", "SimpleRNN", "Embedding", "Activation", "Reshape",
    "GlobalAveragePooling2D", "LayerNormalization", "Concatenate", "Add",
}


def __getattr__(name):
    # A clear message instead of a bare AttributeError for Keras layers we do not have.
    if name in _KERAS_LAYERS:
        raise AttributeError(f"annfast.keras.layers has no {name}: only {SUPPORTED_LAYERS} "
                             "are supported (models are chains of Dense layers)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
