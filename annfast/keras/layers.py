"""Layers of the Keras-style front end.

The compiled kernels train a chain of ``Dense`` layers (one weight matrix and
one activation each).  The other layers fit around that chain:

* ``Flatten``, ``Rescaling`` and ``Normalization`` only transform the inputs:
  they come before the first Dense layer and run once per call in NumPy;
* ``Activation``, ``ReLU``, ``LeakyReLU`` and ``Softmax`` only activate: each
  folds into the linear Dense layer before it, which the kernels then run
  with that activation;
* ``Input``/``InputLayer`` declare the shape of one sample (any rank; a
  multi-dimensional sample needs a Flatten before the first Dense layer).

Layers describe themselves; the Dense weights live in the model's flat
parameter buffer (``annfast._params`` layout), and a Dense layer that belongs
to a model reads and writes its slice of that buffer.  Called on an array, a
layer returns an array; called on the symbolic tensor of ``keras.Input``, it
returns another one (the functional API, see ``annfast.keras.models.Model``).
"""

import math
import numbers

import numpy as np

from annfast import activations
from annfast._validation import check_bool, check_dtype, check_scalar
from annfast.keras import _naming, initializers, regularizers
from annfast.keras import activations as keras_activations

__all__ = ["Layer", "Dense", "Input", "InputLayer", "Flatten", "Rescaling", "Normalization",
           "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "KerasTensor"]

#: Keras' ``leaky_relu`` activation uses negative_slope=0.2.
LEAKY_SLOPE = 0.2

SUPPORTED_LAYERS = ("Dense, Input/InputLayer, Flatten, Rescaling, Normalization, Activation, "
                    "ReLU, LeakyReLU, ELU, Softmax, Dropout and nested Sequential models")
DENSE_ARGUMENTS = ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
                   "kernel_regularizer", "bias_regularizer", "input_dim", "input_shape",
                   "dtype", "name")
LAYER_ARGUMENTS = ("input_shape", "dtype", "name")


def resolve_activation(activation):
    """Return the canonical activation name for a Keras activation (None: linear)."""
    return activations.resolve_activation(keras_activations.name_of(activation), "activation",
                                          "keras")


def draw(init, shape, rng):
    """Draw an array of ``shape`` (Keras layout, fan_in first) from ``init`` (a name or
    an initializer), as float64."""
    return initializers.get(init)(shape, np.float64, rng)


def _check_dim(value, argument):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Received an invalid value for `{argument}`, expected a positive "
                         f"integer. Received: {argument}={value!r}")
    return int(value)


def check_sample_shape(shape, argument):
    """The shape of one sample as a tuple of positive ints (an int n means (n,))."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise TypeError(f"{argument} must be a tuple such as (n_features,) or (28, 28), got "
                        f"{shape!r}")
    return tuple(_check_dim(d, f"{argument}[{i}]") for i, d in enumerate(shape))


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


def _as_float(x, dtype, argument="inputs"):
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{argument} must hold numbers, got dtype {arr.dtype}")
    return arr.astype(dtype if dtype is not None else np.float32, copy=False)


class KerasTensor:
    """The symbolic output of a layer in the functional API: a shape and the layer
    (and input tensor) it came from.  ``keras.Input`` makes the first one."""

    def __init__(self, shape, layer, parent=None):
        self.shape = (None, *shape)
        self._layer = layer
        self._parent = parent

    @property
    def sample_shape(self):
        return self.shape[1:]

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, name={self._layer.name}>"


class Layer:
    """Common part of the layers: a name, a dtype, an optional ``input_shape``, and
    calling on arrays or symbolic tensors."""

    _prefix = "layer"

    def __init__(self, name=None, dtype=None, input_shape=None):
        self.name = _check_name(name, self._prefix)
        self.dtype = None if dtype is None else np.dtype(check_dtype(dtype)).name
        self._input_shape = (None if input_shape is None
                             else check_sample_shape(input_shape, "input_shape"))
        self._model = None
        self._index = None  # position among the model's Dense layers

    def __call__(self, inputs):
        if isinstance(inputs, (list, tuple)) and any(isinstance(t, KerasTensor) for t in inputs):
            raise ValueError(f"layer {self.name!r} was called on {len(inputs)} tensors: "
                             "annfast.keras builds chains, one input per layer (merge layers "
                             "are not supported)")
        if isinstance(inputs, KerasTensor):
            return KerasTensor(self._output_shape(inputs.sample_shape), self, inputs)
        arr = _as_float(inputs, self.dtype)
        if arr.ndim < 2:
            raise ValueError(f"layer {self.name!r} expects a batch of samples (an array of "
                             f"at least 2 dimensions), got shape {arr.shape}")
        return self._call_array(arr)

    def _output_shape(self, shape):
        return shape

    @property
    def trainable(self):
        return True

    @trainable.setter
    def trainable(self, value):
        # Refuse rather than silently train a layer the script meant to freeze.
        if not check_bool(value, "trainable") and isinstance(self, Dense):
            raise ValueError(f"trainable=False is not supported: every Dense layer trains "
                             f"(layer {self.name!r})")

    def get_weights(self):
        return []

    def get_config(self):
        """Keras' configuration of the layer (its constructor's arguments)."""
        return {"name": self.name, "trainable": True,
                "dtype": {"module": "keras", "class_name": "DTypePolicy",
                          "config": {"name": self.dtype or "float32"}, "registered_name": None}}

    @classmethod
    def from_config(cls, config):
        """The layer of ``get_config`` (Keras' keys; also a config written by Keras)."""
        from annfast.keras import _config

        return _config.layer_from_config(cls, config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    """The input of a model: ``InputLayer(shape=(n_features,))`` or any sample shape
    (a multi-dimensional one needs a Flatten before the first Dense layer).

    Parameters
    ----------
    shape : tuple of ints
        Shape of one sample; the batch dimension is implied.
    batch_size : None
        Accepted for compatibility; only None is supported.
    dtype : 'float32', 'float64' or None
        Floating-point type of the model (Keras' default is float32).
    name : str, optional
    """

    _prefix = "input_layer"

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, *, input_shape=None):
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ValueError("InputLayer needs shape=(n_features,)")
        if batch_size is not None:
            raise ValueError("batch_size is not supported for Input; pass it to fit()")
        super().__init__(name, dtype)
        self.sample_shape = check_sample_shape(shape, "shape")
        self.output = KerasTensor(self.sample_shape, self)

    @property
    def units(self):
        """The feature count of a 1-D sample shape."""
        return math.prod(self.sample_shape)

    @property
    def shape(self):
        return (None, *self.sample_shape)

    def get_config(self):
        return {"batch_shape": [None, *self.sample_shape], "dtype": self.dtype or "float32",
                "sparse": False, "ragged": False, "name": self.name, "optional": False}


def Input(shape=None, batch_size=None, dtype=None, name=None):  # noqa: N802 (Keras' name)
    """Declare a model's input, ``keras.Input(shape=(n_features,))``.

    Returns the symbolic tensor of a new ``InputLayer``: call layers on it (the
    functional API) or give it first to ``Sequential([...])``.
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name).output


class Dense(Layer):
    """A fully connected layer: ``output = activation(input @ kernel + bias)``.

    Parameters
    ----------
    units : int
        Number of outputs (> 0).
    activation : str, function from ``keras.activations`` or None
        None is linear, as in Keras.  'leaky_relu' uses Keras' slope 0.2.
    use_bias : bool, default True
        False: the layer has no bias (it is kept at exactly zero while training).
    kernel_initializer : str or initializer, default 'glorot_uniform'
        A name ('he_normal', 'lecun_uniform', 'orthogonal', ...) or an object
        from ``keras.initializers`` (``RandomNormal(stddev=0.01)``, ...).
    bias_initializer : str or initializer, default 'zeros'
    input_dim : int, optional
        Number of inputs (same as ``input_shape=(input_dim,)``).
    input_shape : tuple of one int, optional
    dtype : 'float32', 'float64' or None
    name : str, optional

    Notes
    -----
    Keras' kernel has shape ``(n_in, units)``; ``get_weights`` returns it in that
    layout (a transposed copy of annfast's row-major ``(units, n_in)`` block).
    """

    _prefix = "dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, *,
                 input_dim=None, input_shape=None, dtype=None, name=None, **kwargs):
        reject_unsupported("Dense", kwargs, DENSE_ARGUMENTS)
        self.units = _check_dim(units, "units")
        self._act = resolve_activation(activation)
        self.activation = keras_activations.name_of(activation)
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = bool(use_bias)
        initializers.get(kernel_initializer, "kernel_initializer")  # checked now
        initializers.get(bias_initializer, "bias_initializer")
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        if input_dim is not None and input_shape is not None:
            raise ValueError("pass input_dim or input_shape, not both")
        super().__init__(name, dtype)
        self.input_dim = None
        if input_dim is not None:
            self.input_dim = _check_dim(input_dim, "input_dim")
        elif input_shape is not None:
            shape = check_sample_shape(input_shape, "input_shape")
            if len(shape) != 1:
                raise ValueError(f"Dense(input_shape={shape}) is not supported: a Dense layer "
                                 "takes 1-D samples here; put a Flatten(input_shape=...) first")
            self.input_dim = shape[0]
        if self.input_dim is not None:
            self._input_shape = (self.input_dim,)

    def _output_shape(self, shape):
        if len(shape) != 1:
            raise ValueError(f"Dense on inputs of shape {shape} is not supported: a Dense "
                             "layer takes 1-D samples here; put a Flatten first")
        return (self.units,)

    def get_config(self):
        """Keras' configuration (what a .keras file holds)."""
        from annfast.keras import _config

        return {
            **super().get_config(), "units": self.units,
            "activation": self.activation if self.activation is not None else "linear",
            "use_bias": self.use_bias,
            "kernel_initializer": _config.initializer_to_keras(self.kernel_initializer),
            "bias_initializer": _config.initializer_to_keras(self.bias_initializer),
            "kernel_regularizer": _config.regularizer_to_keras(self.kernel_regularizer),
            "bias_regularizer": _config.regularizer_to_keras(self.bias_regularizer),
            "kernel_constraint": None, "bias_constraint": None,
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

    def _call_array(self, arr):
        weights = self._owner("calling")._layer_weights(self._index)
        out = arr @ weights[0].astype(arr.dtype)
        if self.use_bias:
            out += weights[1].astype(arr.dtype)
        # Its own activation only: a folded activation layer applies itself when called.
        activations.activate_inplace(self._act, out.reshape(-1, out.shape[-1]),
                                     LEAKY_SLOPE if self._act == "leaky_relu" else None)
        return out

    def _owner(self, what):
        if self._model is None or not self._model.built:
            raise ValueError(f"{what}: layer {self.name!r} is not built yet; add it to a "
                             "Sequential model whose input size is known")
        return self._model


# -- layers that only transform the inputs --------------------------------------------


class Flatten(Layer):
    """Flatten each sample to one dimension, in C order (rows first), as Keras'
    default ``data_format='channels_last'``."""

    _prefix = "flatten"

    def __init__(self, data_format=None, **kwargs):
        reject_unsupported("Flatten", {k: v for k, v in kwargs.items()
                                       if k not in LAYER_ARGUMENTS},
                           ("data_format", *LAYER_ARGUMENTS))
        if data_format not in (None, "channels_last"):
            raise ValueError(f"Flatten(data_format={data_format!r}) is not supported; only "
                             "'channels_last' (C order) is")
        super().__init__(**kwargs)
        self.data_format = "channels_last"

    def _output_shape(self, shape):
        return (math.prod(shape),)

    def _call_array(self, arr):
        return np.ascontiguousarray(arr).reshape(len(arr), -1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Rescaling(Layer):
    """``inputs * scale + offset``."""

    _prefix = "rescaling"

    def __init__(self, scale, offset=0.0, **kwargs):
        reject_unsupported("Rescaling", {k: v for k, v in kwargs.items()
                                         if k not in LAYER_ARGUMENTS},
                           ("scale", "offset", *LAYER_ARGUMENTS))
        super().__init__(**kwargs)
        self.scale = check_scalar(scale, "scale")
        self.offset = check_scalar(offset, "offset")

    def _call_array(self, arr):
        dtype = arr.dtype.type
        return arr * dtype(self.scale) + dtype(self.offset)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """Shift and scale the inputs to mean 0 and variance 1 per feature:
    ``(x - mean) / max(sqrt(variance), 1e-7)``, or the inverse with ``invert=True``.

    Parameters
    ----------
    axis : int, tuple of ints or None, default -1
        The axes that keep their own mean and variance (-1: one per feature);
        None: one mean and variance for everything.
    mean, variance : float or array, optional
        Given together instead of calling ``adapt``.
    invert : bool, default False
        ``x * max(sqrt(variance), 1e-7) + mean``.

    ``adapt(data)`` computes the mean and the (population) variance of an
    array over every axis but ``axis``.
    """

    _prefix = "normalization"
    EPSILON = 1e-7  # Keras' backend.epsilon()

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        reject_unsupported("Normalization", {k: v for k, v in kwargs.items()
                                             if k not in LAYER_ARGUMENTS},
                           ("axis", "mean", "variance", "invert", *LAYER_ARGUMENTS))
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(f"axis must be an int, a tuple of ints or None, got {axis!r}")
        self.axis = axis
        self.invert = check_bool(invert, "invert")
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must "
                             f"be set. Received: mean={mean} and variance={variance}")
        self.input_mean = self.input_variance = None
        if mean is not None:
            m, v = np.asarray(mean, dtype=np.float64), np.asarray(variance, dtype=np.float64)
            if m.shape != v.shape:
                raise ValueError("When setting values directly, `mean` and `variance` must "
                                 f"have the same shape. Received: mean shape {m.shape} and "
                                 f"variance shape {v.shape}")
            if m.ndim > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number "
                                 f"of axes ({len(self.axis)}). Received: mean shape {m.shape} "
                                 f"for axis {self.axis}")
            if not (np.isfinite(m).all() and np.isfinite(v).all()) or (v < 0).any():
                raise ValueError("mean and variance must be finite, and variance >= 0")
            self.input_mean, self.input_variance = m, v
        self.mean = self.variance = None  # broadcastable to a batch, once known
        self._adapted = None  # (mean, variance) over the kept axes, from adapt()

    def _keep(self, ndim):
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). "
                                 f"Received inputs with ndim={ndim}, while axis={self.axis}")
        return tuple(sorted(a % ndim for a in self.axis))

    def adapt(self, data):
        """Set the mean and variance from ``data`` (an array, samples first)."""
        arr = _as_float(data, np.float64, "data")
        if arr.ndim < 1 or arr.shape[0] == 0:
            raise ValueError(f"adapt() needs a non-empty array of samples, got shape "
                             f"{arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("data for adapt() contains NaN or infinity")
        keep = self._keep(arr.ndim)
        reduce = tuple(d for d in range(arr.ndim) if d not in keep)
        self._adapted = (arr.ndim, keep, [arr.shape[d] for d in keep],
                         np.mean(arr, axis=reduce), np.var(arr, axis=reduce))
        self.mean, self.variance = self._statistics(arr.shape)

    def _statistics(self, shape):
        """Mean and variance shaped to broadcast against a batch of ``shape``."""
        ndim = len(shape)
        keep = self._keep(ndim)
        bshape = [shape[d] if d in keep else 1 for d in range(ndim)]
        if self.input_mean is not None:
            m, v = self.input_mean, self.input_variance
            expanded = [1] * ndim
            for i in range(1, m.ndim + 1):
                expanded[keep[-i]] = m.shape[-i]
            return (np.broadcast_to(m.reshape(expanded), bshape),
                    np.broadcast_to(v.reshape(expanded), bshape))
        if self._adapted is None:  # Keras' unadapted layer: mean 0, variance 1
            return np.zeros(bshape), np.ones(bshape)
        a_ndim, a_keep, sizes, m, v = self._adapted
        if a_ndim != ndim or [shape[d] for d in keep] != sizes:
            raise ValueError(f"layer {self.name!r} was adapted to data of shape "
                             f"(n, {', '.join(map(str, sizes))}) on axis {self.axis}, but "
                             f"got inputs of shape {tuple(shape)}")
        return m.reshape(bshape), v.reshape(bshape)

    def _output_shape(self, shape):
        self._statistics((1, *shape))  # checks the axes against the shape
        return shape

    def _call_array(self, arr):
        mean, variance = self._statistics(arr.shape)
        dtype = arr.dtype
        mean = mean.astype(dtype)
        scale = np.maximum(np.sqrt(variance.astype(dtype)), dtype.type(self.EPSILON))
        if self.invert:
            return mean + arr * scale
        return (arr - mean) / scale

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": None if self.input_mean is None else self.input_mean.tolist(),
                "variance": None if self.input_variance is None
                else self.input_variance.tolist()}


# -- layers that only activate ---------------------------------------------------------


class _ActivationLayer(Layer):
    """A layer that applies one activation; in a model it folds into the linear
    Dense layer before it."""

    def activation_spec(self):
        """(canonical activation name, its parameter or None)."""
        raise NotImplementedError

    def _call_array(self, arr):
        name, param = self.activation_spec()
        out = np.array(arr, copy=True)
        activations.activate_inplace(name, out.reshape(-1, out.shape[-1]), param)
        return out


class Activation(_ActivationLayer):
    """Apply an activation: ``Activation('relu')`` or ``Activation(keras.activations.relu)``."""

    _prefix = "activation"

    def __init__(self, activation, **kwargs):
        reject_unsupported("Activation", {k: v for k, v in kwargs.items()
                                          if k not in LAYER_ARGUMENTS},
                           ("activation", *LAYER_ARGUMENTS))
        self._act = resolve_activation(activation)
        self.activation = keras_activations.name_of(activation)
        super().__init__(**kwargs)

    def activation_spec(self):
        return self._act, LEAKY_SLOPE if self._act == "leaky_relu" else None

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class ReLU(_ActivationLayer):
    """``max(x, 0)``; with ``negative_slope`` > 0 it is a leaky ReLU.  ``max_value``
    and ``threshold`` other than their defaults are not supported."""

    _prefix = "re_lu"

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        reject_unsupported("ReLU", {k: v for k, v in kwargs.items() if k not in LAYER_ARGUMENTS},
                           ("max_value", "negative_slope", "threshold", *LAYER_ARGUMENTS))
        if max_value is not None:
            raise ValueError(f"ReLU(max_value={max_value!r}) is not supported; only "
                             "max_value=None is")
        if threshold != 0:
            raise ValueError(f"ReLU(threshold={threshold!r}) is not supported; only 0.0 is")
        self.negative_slope = check_scalar(negative_slope, "negative_slope", low=0)
        self.max_value, self.threshold = None, 0.0
        super().__init__(**kwargs)

    def activation_spec(self):
        if self.negative_slope == 0:
            return "relu", None
        return "leaky_relu", self.negative_slope

    def get_config(self):
        return {**super().get_config(), "max_value": None,
                "negative_slope": self.negative_slope, "threshold": 0.0}


class LeakyReLU(_ActivationLayer):
    """``x`` for x >= 0, ``negative_slope * x`` below; Keras 3's default slope is 0.3.

    The kernels hold one leaky slope per model: every leaky activation of a
    model must use the same slope."""

    _prefix = "leaky_re_lu"

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            raise TypeError("LeakyReLU(alpha=...) is Keras 2's name; use negative_slope=...")
        reject_unsupported("LeakyReLU", {k: v for k, v in kwargs.items()
                                         if k not in LAYER_ARGUMENTS},
                           ("negative_slope", *LAYER_ARGUMENTS))
        self.negative_slope = check_scalar(negative_slope, "negative_slope", low=0)
        super().__init__(**kwargs)

    def activation_spec(self):
        return "leaky_relu", self.negative_slope

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(_ActivationLayer):
    """Softmax over the last axis."""

    _prefix = "softmax"

    def __init__(self, axis=-1, **kwargs):
        reject_unsupported("Softmax", {k: v for k, v in kwargs.items()
                                       if k not in LAYER_ARGUMENTS},
                           ("axis", *LAYER_ARGUMENTS))
        if axis != -1:
            raise ValueError(f"Softmax(axis={axis!r}) is not supported; only the last axis "
                             "(-1) is")
        self.axis = -1
        super().__init__(**kwargs)

    def activation_spec(self):
        return "softmax", None

    def get_config(self):
        return {**super().get_config(), "axis": -1}


class ELU(_ActivationLayer):
    """``x`` for x > 0, ``alpha (exp(x) - 1)`` below; only Keras' default alpha=1.0
    (the kernels' elu parameter is per model)."""

    _prefix = "elu"

    def __init__(self, alpha=1.0, **kwargs):
        reject_unsupported("ELU", {k: v for k, v in kwargs.items() if k not in LAYER_ARGUMENTS},
                           ("alpha", *LAYER_ARGUMENTS))
        if check_scalar(alpha, "alpha") != 1.0:
            raise ValueError(f"ELU(alpha={alpha!r}) is not supported; only alpha=1.0 is")
        self.alpha = 1.0
        super().__init__(**kwargs)

    def activation_spec(self):
        return "elu", 1.0

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Dropout(Layer):
    """Inverted dropout, in training only: during ``fit`` and ``train_on_batch``
    each output of the hidden Dense layer before it is zeroed with probability
    ``rate`` and the others are multiplied by ``1 / (1 - rate)``; ``predict``,
    ``evaluate`` and ``model(x)`` pass the outputs through unchanged.

    It runs in the compiled kernels, on the outputs of the Dense layer it follows
    (directly, or after that layer's activation layer).  Not supported, with a
    clear error: Dropout before the first Dense layer (on the inputs), after the
    model's last Dense layer (on its outputs), and ``noise_shape`` (a mask
    shared along axes).  ``seed`` fixes the masks (with the model's epoch
    count); without one it is drawn from ``keras.utils.set_random_seed``'s
    seed, or fresh entropy.
    """

    _prefix = "dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        reject_unsupported("Dropout", {k: v for k, v in kwargs.items()
                                       if k not in LAYER_ARGUMENTS},
                           ("rate", "noise_shape", "seed", *LAYER_ARGUMENTS))
        rate = check_scalar(rate, "rate", low=0, high=1, high_inclusive=False)
        if noise_shape is not None:
            raise ValueError(f"Dropout(noise_shape={noise_shape!r}) is not supported: annfast "
                             "draws one mask value per unit and sample (noise_shape=None)")
        if seed is not None:
            seed = check_scalar(seed, "seed", low=0, high=2**64 - 1, integer=True)
        self.rate, self.noise_shape, self.seed = rate, None, seed
        self._seed = (seed if seed is not None
                      else int(_naming.new_generator().integers(0, 2**63 - 1)))
        super().__init__(**kwargs)

    def _call_array(self, arr):
        return np.array(arr, copy=True)  # called outside training: no dropout

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": None,
                "seed": self.seed}


TRANSFORM_LAYERS = (Flatten, Rescaling, Normalization)

_KERAS_LAYERS = {
    "Conv1D", "Conv2D", "Conv3D", "MaxPooling2D", "AveragePooling2D",
    "BatchNormalization", "LSTM", "GRU", "SimpleRNN", "Embedding", "Reshape",
    "GlobalAveragePooling2D", "LayerNormalization", "Concatenate", "Add", "PReLU",
}


def __getattr__(name):
    # A clear message instead of a bare AttributeError for Keras layers we do not have.
    if name in _KERAS_LAYERS:
        raise AttributeError(f"annfast.keras.layers has no {name}: the supported layers are "
                             f"{SUPPORTED_LAYERS}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
