"""``Sequential`` and functional ``Model``: Keras-style models trained by annfast's kernels.

A model is a chain: optional layers that only transform the inputs (Flatten,
Rescaling, Normalization: NumPy, once per call), then ``Dense`` layers, each
optionally followed by an activation layer that folds into it.  The Dense
weights live in one flat buffer (per layer W (units, n_in) row-major, then b
(units,), see ``annfast._params``); ``fit`` hands that buffer, the optimizer
state and the data to annfast's training engine (``annfast._engine``), which
runs every batch in C with the GIL released.  ``get_weights``/``set_weights``
speak Keras' layout (kernel (n_in, units), bias (units,)) for the Dense layers.

Callbacks run at Keras' points.  Only when one overrides a batch hook does an
epoch go one batch per kernel call; otherwise it stays the engine's chunked
call, with no Python between batches.

Differences from Keras, all documented where they arise:

* Training metrics are computed with the end-of-epoch weights over the
  epoch's training data, not as Keras' running mean over the batches (the
  kernel does not return per-batch outputs); batch logs hold ``loss`` only.
  ``loss`` is exact: the mean of the per-sample losses over the epoch,
  accumulated by the kernel as Keras' running mean does.
* Probabilities are clipped at the dtype's machine epsilon instead of 1e-7
  inside the cross-entropy logarithms of the training loss (see
  ``annfast.keras.losses``); the metrics clip at 1e-7 as Keras.
* A NaN/infinite loss stops training with a RuntimeWarning and the weights of
  the last complete epoch (Keras would carry on with NaN weights), or raises
  with ``TerminateOnNaN(raise_error=True)``.
* Log dicts list ``loss`` first, then the metrics in compile order (Keras 3.15
  sorts them by name).
"""

import math
import os
import warnings

import numpy as np

from annfast import _engine, _io, _params
from annfast._validation import (
    as_float_array,
    check_bool,
    check_layers,
    check_path,
    check_same_length,
    check_scalar,
    is_sparse,
)
from annfast.keras import _naming, _progress
from annfast.keras import losses as losses_module
from annfast.keras import metrics as metrics_module
from annfast.keras import optimizers as optimizers_module
from annfast.keras import regularizers as regularizers_module
from annfast.keras.callbacks import (
    BATCH_HOOKS,
    PREDICT_BATCH_HOOKS,
    TEST_BATCH_HOOKS,
    CallbackList,
    History,
    TerminateOnNaN,
)
from annfast.keras.layers import (
    LEAKY_SLOPE,
    SUPPORTED_LAYERS,
    TRANSFORM_LAYERS,
    Dense,
    Dropout,
    InputLayer,
    KerasTensor,
    Layer,
    _ActivationLayer,
    check_sample_shape,
    draw,
    reject_unsupported,
)
from annfast.keras.saving import load_model, model_from_json

__all__ = ["Sequential", "Model", "load_model", "model_from_json"]

DEFAULT_BATCH_SIZE = 32
DEFAULT_DTYPE = "float32"  # Keras' floatx
WEIGHTS_KIND = "keras.weights"
FIT_ARGUMENTS = ("x", "y", "batch_size", "epochs", "verbose", "validation_split",
                 "validation_data", "shuffle", "initial_epoch", "callbacks", "validation_freq",
                 "sample_weight", "class_weight")
PROGRESS_UPDATES = 50  # kernel calls per epoch when a live progress bar is drawn


class Sequential:
    """A linear stack of layers; the Dense chain trains in the compiled kernels.

    Parameters
    ----------
    layers : list of layers, optional
        An optional ``Input(shape=...)`` first; then the layers that only
        transform the inputs (Flatten, Rescaling, Normalization); then Dense
        layers, each optionally followed by an activation layer (Activation,
        ReLU, LeakyReLU, ELU, Softmax) that folds into it.  A model given as
        a layer (first, or after an Input) may be followed by Dense and
        activation layers; fitting trains it too, and its weights stay the
        inner model's (one level of nesting).
    name : str, optional

    Examples
    --------
    >>> from annfast import keras
    >>> model = keras.models.Sequential()
    >>> model.add(keras.layers.Dense(units=10, input_dim=4, activation='sigmoid'))
    >>> model.add(keras.layers.Dense(units=1, activation='sigmoid'))
    >>> model.compile(loss='binary_crossentropy', optimizer='sgd', metrics=['acc'])
    """

    def __init__(self, layers=None, name=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
        self.name = name if name is not None else _naming.unique_name(self._prefix)
        self._input = None  # the InputLayer, if one was given
        self._layers = []  # the Dense layers, in order
        self._stack = []  # every layer after the input, in order
        self._pre = []  # the layers that transform the inputs before the Dense chain
        self._folded = {}  # Dense index -> the activation layer folded into it
        self._dropouts = {}  # Dense index -> the Dropout layers on its outputs
        self._dropout_counter = 0  # epochs trained with dropout: the masks' counter
        self._sample_shape = None  # the shape of one input sample, once known
        self._seen_shape = None  # the sample shape of the last inputs converted
        self._input_dim = None  # the features reaching the first Dense layer
        self._dtype = None  # fixed by the first layer that names one, else float32 at build
        self._params = None  # the flat parameter buffer, once built
        self._rng = _naming.new_generator()
        self.optimizer = None
        self.loss = None
        self._loss = None
        self._metric_names = []
        self._metric_objects = {}
        self._weighted = {}  # reported name -> (metric name, object or None), weighted
        self.compiled = False
        self.history = None
        self.stop_training = False
        for layer in layers or ():
            self.add(layer)

    _prefix = "sequential"

    # -- structure ---------------------------------------------------------------------

    @property
    def layers(self):
        """The layers after the input, in order (the input layer is not listed, as in Keras)."""
        return list(self._stack)

    @property
    def built(self):
        return self._params is not None or (self._nested is not None and self._nested.built)

    @property
    def _nested(self):
        """The model given as this model's first layer, if any."""
        if self._stack and isinstance(self._stack[0], Sequential):
            return self._stack[0]
        return None

    @property
    def dtype(self):
        return self._dtype if self._dtype is not None else DEFAULT_DTYPE

    @property
    def _sizes(self):
        return [self._input_dim] + [layer.units for layer in self._layers]

    @property
    def input_shape(self):
        if self._nested is not None:
            return self._nested.input_shape
        return (None, *(self._sample_shape or (self._input_dim,)))

    @property
    def output_shape(self):
        if self._nested is not None and not self._layers:
            return self._nested.output_shape
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no Dense layers")
        return (None, self._layers[-1].units)

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at position ``index`` of ``layers``."""
        if (name is None) == (index is None):
            raise ValueError("get_layer() needs name=... or index=..., not both")
        if index is not None:
            index = check_scalar(index, "index", integer=True)
            if not -len(self._stack) <= index < len(self._stack):
                raise ValueError(f"index={index} is out of range: model {self.name!r} has "
                                 f"{len(self._stack)} layers")
            return self._stack[index]
        for layer in self._stack:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self._stack]}.")

    def add(self, layer):
        """Append a layer (see the class notes for the order layers may come in)."""
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            layer = layer._layer  # keras.Input(...) given to Sequential
        if isinstance(layer, InputLayer):
            if self._input is not None or self._stack:
                raise ValueError("an Input can only be the first layer of a Sequential model")
            dtype = self._merged_dtype(layer)
            self._input, self._dtype = layer, dtype
            self._set_sample_shape(layer.sample_shape)
            return
        if isinstance(layer, Sequential):
            self._add_model(layer)
            return
        if not isinstance(layer, Layer) or isinstance(layer, KerasTensor):
            raise TypeError(f"Sequential supports only {SUPPORTED_LAYERS} from "
                            f"annfast.keras.layers; got {type(layer).__module__}."
                            f"{type(layer).__name__}")
        if layer._model is not None or any(other is layer for other in self._stack):
            owner = layer._model.name if layer._model is not None else self.name
            raise ValueError(f"layer {layer.name!r} already belongs to model {owner!r}; "
                             "create a new layer (shared layers are not supported)")
        if any(other.name == layer.name for other in self._stack):
            raise ValueError(f"a layer named {layer.name!r} is already in model {self.name!r}; "
                             "layer names must be unique")
        if self._nested is not None and not isinstance(layer, (_ActivationLayer, Dense)):
            raise ValueError(f"a model used as a layer can only be followed by Dense and "
                             f"activation layers, not {type(layer).__name__}")
        if self._nested is not None and isinstance(layer, Dense) and not self._nested.built:
            raise ValueError(f"model {self._nested.name!r} must be built (give it an Input) "
                             f"before Dense layer {layer.name!r} can follow it")
        if isinstance(layer, TRANSFORM_LAYERS):
            self._add_transform(layer)
        elif isinstance(layer, _ActivationLayer):
            self._add_activation(layer)
        elif isinstance(layer, Dropout):
            self._add_dropout(layer)
        elif isinstance(layer, Dense):
            self._add_dense(layer)
        else:
            raise TypeError(f"Sequential supports only {SUPPORTED_LAYERS}; got "
                            f"{type(layer).__name__}")

    def _add_model(self, model):
        if self._stack:
            raise ValueError("a model can be used as a layer only as the first layer of a "
                             "Sequential model (e.g. Sequential([model, Softmax()]))")
        if model is self:
            raise ValueError("a model cannot contain itself")
        if self._input is not None:
            # Input(...) then the model (the functional API's model(x)): the shapes agree.
            if model.built and tuple(model.input_shape[1:]) != tuple(self._input.sample_shape):
                raise ValueError(f"model {model.name!r} takes inputs of shape "
                                 f"{model.input_shape[1:]}, but the Input has shape "
                                 f"{self._input.sample_shape}")
            if model._dtype is not None and self._input.dtype not in (None, model._dtype):
                raise ValueError(f"model {model.name!r} uses {model._dtype}, but the Input "
                                 f"uses {self._input.dtype}")
        self._dtype = model._dtype if model._dtype is not None else self._dtype
        self._stack.append(model)
        # Dense layers after it take its outputs (the model's own samples are its inputs).
        self._sample_shape = None
        self._input_dim = model.output_shape[-1] if model.built and (
            model._layers or model._nested is not None) else None

    def _add_transform(self, layer):
        if self._layers:
            raise ValueError(f"{type(layer).__name__} layer {layer.name!r} comes after a Dense "
                             f"layer: {', '.join(t.__name__ for t in TRANSFORM_LAYERS)} must "
                             "come before the first Dense layer (they run once per batch "
                             "before the trained Dense chain)")
        dtype = self._merged_dtype(layer)
        if self._sample_shape is not None:
            layer._output_shape(self._shape_before(len(self._pre), self._sample_shape))
        elif not self._pre and layer._input_shape is not None:
            layer._output_shape(layer._input_shape)
        self._dtype = dtype
        self._pre.append(layer)
        self._stack.append(layer)
        if self._sample_shape is None and len(self._pre) == 1 and layer._input_shape is not None:
            self._set_sample_shape(layer._input_shape)
        elif self._sample_shape is not None:
            self._update_input_dim()

    def _add_activation(self, layer):
        name, param = layer.activation_spec()
        if (self._nested is not None and not self._layers) or name == "identity":
            pass  # applied after the nested model, or a no-op
        else:
            previous = self._stack[-1] if self._stack else None
            if not isinstance(previous, Dense):
                raise ValueError(f"{type(layer).__name__} layer {layer.name!r} must follow a "
                                 "Dense layer: activation layers fold into the Dense layer "
                                 "before them (or follow a model used as a layer)")
            if previous._act != "identity" or previous._index in self._folded:
                raise ValueError(f"{type(layer).__name__} layer {layer.name!r} follows Dense "
                                 f"layer {previous.name!r}, which already has an activation "
                                 ": an activation layer can only follow a linear Dense "
                                 "layer (activation=None), whose activation it becomes")
            self._check_slopes(extra=(name, param))
            self._folded[previous._index] = layer
        self._dtype = self._merged_dtype(layer)
        self._stack.append(layer)

    def _add_dropout(self, layer):
        # The Dense layer whose outputs it drops: the last one, seen through its
        # activation layer and any Dropout layers after it.
        target = None
        for previous in reversed(self._stack):
            if isinstance(previous, Dropout) or (isinstance(previous, _ActivationLayer)
                                                 and self._layers):
                continue
            if isinstance(previous, Dense):
                target = previous
            break
        if target is None:
            raise ValueError(f"Dropout layer {layer.name!r} must follow a Dense layer (or its "
                             "activation layer): annfast drops the outputs of hidden Dense "
                             "layers in its kernels, and dropout on the inputs (before the "
                             "first Dense layer) is not supported")
        self._dtype = self._merged_dtype(layer)
        self._dropouts.setdefault(target._index, []).append(layer)
        self._stack.append(layer)

    def _dropout_rates(self):
        """(one rate per hidden Dense layer, seed), or (None, 0) without dropout;
        ValueError for a Dropout layer on the model's outputs."""
        if not any(d.rate > 0 for ds in self._dropouts.values() for d in ds):
            return None, 0
        last = len(self._layers) - 1
        if any(d.rate > 0 for d in self._dropouts.get(last, ())):
            name = self._dropouts[last][0].name
            raise ValueError(f"Dropout layer {name!r} follows the last Dense layer "
                             f"{self._layers[last].name!r}: annfast drops the outputs of "
                             "hidden Dense layers only; put Dropout between Dense layers")
        rates, seed = [], 0
        for i in range(last):
            keep = 1.0
            for d in self._dropouts.get(i, ()):
                keep *= 1.0 - d.rate  # two Dropout layers in a row: one mask
                seed = (seed * 0x100000001B3 + d._seed + 1) % 2**64
            rates.append(1.0 - keep)
        return rates, seed

    def _add_dense(self, layer):
        n_in = self._layers[-1].units if self._layers else self._input_dim
        if layer.input_dim is not None and n_in is not None and layer.input_dim != n_in:
            raise ValueError(f"layer {layer.name!r} has input_dim={layer.input_dim}, but its "
                             f"input has {n_in} features")
        if not self._layers and self._sample_shape is not None:
            self._shape_at_dense(self._sample_shape)  # raises for multi-dim samples
        if layer._act == "leaky_relu":
            self._check_slopes(extra=("leaky_relu", LEAKY_SLOPE))
        dtype = self._merged_dtype(layer)
        input_dim = self._input_dim
        if n_in is None and layer.input_dim is not None:
            if self._pre:
                raise ValueError(f"layer {layer.name!r} gives input_dim, but layers before it "
                                 "decide its input; give the input shape to the first layer")
            n_in = input_dim = layer.input_dim
        params = None
        if input_dim is not None:
            # The sizes are checked and the weights drawn before the model changes:
            # a layer too large to allocate is refused and not appended.
            sizes = check_layers([input_dim, *(other.units for other in self._layers),
                                  layer.units], "the model's layer sizes")
            rng_state = self._rng.bit_generator.state
            try:
                if self._params is not None:
                    params = np.concatenate([self._params, self._init_layer(layer, n_in)])
                else:
                    dtype = dtype if dtype is not None else DEFAULT_DTYPE  # fixed at build
                    params = self._initial_params([*self._layers, layer], sizes[:-1], dtype)
            except BaseException:
                self._rng.bit_generator.state = rng_state
                raise
        # Every check passed and every allocation succeeded: now change the model.
        if self._input_dim is None and input_dim is not None:
            self._sample_shape, self._input_dim = (input_dim,), input_dim
        self._dtype = dtype
        layer._model, layer._index = self, len(self._layers)
        self._layers.append(layer)
        self._stack.append(layer)
        if params is not None:
            self._params = params

    def _leaky_slopes(self, extra=None):
        slopes = []
        for i, layer in enumerate(self._layers):
            name, param = self._effective_activation(i)
            if name == "leaky_relu":
                slopes.append((param, layer.name))
        if extra is not None and extra[0] == "leaky_relu":
            slopes.append((extra[1], "the new layer"))
        return slopes

    def _check_slopes(self, extra=None):
        slopes = self._leaky_slopes(extra)
        if len({s for s, _ in slopes}) > 1:
            listed = ", ".join(f"{name}: {s:g}" for s, name in slopes)
            raise ValueError(f"model {self.name!r} would have leaky ReLUs with different "
                             f"negative slopes ({listed}); the kernels support one slope per "
                             "model")

    def _effective_activation(self, i):
        """(canonical activation, parameter or None) the kernels run for Dense layer i."""
        if i in self._folded:
            return self._folded[i].activation_spec()
        act = self._layers[i]._act
        return act, LEAKY_SLOPE if act == "leaky_relu" else None

    def _set_sample_shape(self, shape):
        self._sample_shape = tuple(shape)
        self._update_input_dim()
        if self._layers and self._params is None:
            self._build()

    def _update_input_dim(self):
        """The first Dense layer's input size, once the samples reach it as 1-D."""
        shape = self._shape_before(len(self._pre), self._sample_shape)
        if self._layers or len(shape) == 1:
            self._input_dim = self._shape_at_dense(self._sample_shape)
        else:
            self._input_dim = None  # a Flatten must come before the first Dense

    def _shape_before(self, k, shape):
        """The sample shape after the first k transform layers."""
        for layer in self._pre[:k]:
            shape = layer._output_shape(shape)
        return shape

    def _shape_at_dense(self, shape):
        """The feature count reaching the first Dense layer for samples of ``shape``."""
        shape = self._shape_before(len(self._pre), shape)
        if len(shape) != 1:
            raise ValueError(f"inputs of shape {tuple(shape)} reach the first Dense layer, "
                             "which takes 1-D samples: add a Flatten layer first")
        return shape[0]

    def _merged_dtype(self, layer):
        if layer.dtype is None or self._dtype is None or layer.dtype == self._dtype:
            return layer.dtype if self._dtype is None else self._dtype
        raise ValueError(f"layer {layer.name!r} has dtype {layer.dtype}, but the model uses "
                         f"{self._dtype}; every layer must use the same dtype")

    def _init_layer(self, layer, n_in):
        """Initial W (units, n_in) and b of one layer, flattened; drawn in Keras' layout."""
        kernel = draw(layer.kernel_initializer, (n_in, layer.units), self._rng)
        if layer.use_bias:
            bias = draw(layer.bias_initializer, (layer.units,), self._rng)
        else:
            bias = np.zeros(layer.units)
        return np.concatenate([kernel.T.ravel(), bias]).astype(self.dtype)

    def _initial_params(self, layers, sizes, dtype):
        parts = [self._init_layer(layer, n_in) for layer, n_in in zip(layers, sizes)]
        return np.concatenate(parts).astype(dtype)

    def _build(self):
        self._dtype = self.dtype
        self._params = self._initial_params(self._layers, self._sizes, self._dtype)

    def build(self, input_shape=None):
        """Create the weights for inputs of shape ``(None, *sample_shape)``."""
        if not self._layers:
            if self._nested is not None:
                return self._nested.build(input_shape)
            raise ValueError(f"model {self.name!r} has no layers to build")
        if self.built:
            return
        if input_shape is None:
            raise ValueError("build() needs input_shape=(None, n_features) when no layer "
                             "gives input_dim")
        shape = tuple(input_shape)
        if len(shape) < 2:
            raise ValueError(f"input_shape must be (None, n_features), got {input_shape!r}")
        self._set_sample_shape(check_sample_shape(shape[1:], "input_shape[1:]"))

    def _require_layers(self, what):
        if not self._layers and self._nested is None:
            raise ValueError(f"{what}: model {self.name!r} has no layers; add Dense layers first")

    def _training_proxy(self):
        """The flat model a model wrapping another trains and evaluates as: the inner
        model's layers, then this model's (copies of their configurations).  The
        weights are copied in before every call and back out after it, so the inner
        model object holds its trained weights, as in Keras."""
        inner = self._nested
        if inner._nested is not None:
            raise ValueError(f"model {self.name!r} wraps {inner.name!r}, which wraps another "
                             "model: only one level of nesting trains")
        proxy = getattr(self, "_proxy", None)
        if proxy is None or proxy._params.size != inner._params.size + self._own_size():
            layers = [InputLayer(shape=inner._sample_shape, dtype=self.dtype), *inner._pre]
            for layer in [*inner._stack[len(inner._pre):], *self._stack[1:]]:
                layers.append(type(layer).from_config(layer.get_config()))
            proxy = Sequential(layers, name=self.name)
            self._proxy = proxy
        proxy._params = np.concatenate([inner._params, *(
            [self._params] if self._params is not None else [])]).astype(self.dtype)
        if self.compiled:
            proxy.compile(optimizer=self.optimizer, loss=self.loss if self._loss is None
                          else self._loss,
                          metrics=[self._metric_objects.get(n, n) for n in self._metric_names],
                          weighted_metrics=[obj if obj is not None else name
                                            for name, obj in self._weighted.values()])
        return proxy

    def _own_size(self):
        return 0 if self._params is None else self._params.size

    def _through_proxy(self, method, *args, **kwargs):
        """Call ``method`` of the training proxy; the weights come back to the inner
        model and to this one (unchanged when the call fails)."""
        proxy = self._training_proxy()
        try:
            return getattr(proxy, method)(*args, **kwargs)
        finally:
            params, k = proxy._params, self._nested._params.size
            self._nested._params = params[:k].copy()
            if self._params is not None:
                self._params = params[k:].copy()
            self.history, self.stop_training = proxy.history, proxy.stop_training

    def _network(self, sizes=None):
        """The engine's view of this model (``sizes`` before the model is built)."""
        sizes = self._sizes if sizes is None else sizes
        loss = self._loss if self._loss is not None else losses_module.MeanSquaredError()
        acts = [self._effective_activation(i) for i in range(len(self._layers))]
        slopes = [param for name, param in acts if name == "leaky_relu"]
        return _engine.Network(sizes, [name for name, _ in acts], loss.kernel_loss, self.dtype,
                               slopes[0] if slopes else LEAKY_SLOPE, loss.scale(sizes[-1]),
                               **loss.arch_options())

    def _penalties(self):
        """The Dense layers' regularizers as the kernel's (n_layers, 4) penalties, or None."""
        rows = [regularizers_module.penalty_row(layer.kernel_regularizer,
                                                layer.bias_regularizer)
                for layer in self._layers]
        penalties = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
        return penalties if penalties.any() else None

    def _frozen_bias_index(self, sizes=None):
        """Indices in the flat buffer of the biases of use_bias=False layers, or None
        (``sizes``: the layer sizes, before the model is built)."""
        sizes = self._sizes if sizes is None else sizes
        index = [np.arange(b0, b1)
                 for layer, (_, b0, b1, _, _) in zip(self._layers, _params.layer_offsets(
                     sizes)) if not layer.use_bias]
        return np.concatenate(index) if index else None

    def count_params(self):
        """Total number of weights and biases."""
        if not self.built:
            raise ValueError(f"model {self.name!r} is not built yet; give the first layer "
                             "input_dim or an Input, or call fit/build")
        own = sum(layer.count_params() for layer in self._layers)
        if self._nested is not None:
            return self._nested.count_params() + own
        return own

    def summary(self, line_length=None, print_fn=None):
        """Print the layers, their output shapes and parameter counts, as Keras does.

        Parameters
        ----------
        line_length : int, optional
            Total width of the table (default 65).
        print_fn : callable, optional
            Called with each line instead of ``print``.
        """
        if not self.built:
            raise ValueError(f"model {self.name!r} has not yet been built. Build the model "
                             "first by giving the first layer input_dim (or an Input), or by "
                             "calling fit/build")
        width = 65 if line_length is None else check_scalar(line_length, "line_length", low=40,
                                                             integer=True)
        cols = (int(width * 0.45), int(width * 0.35))
        emit = print if print_fn is None else print_fn

        def row(name, shape, count):
            line = f"{name:<{cols[0]}}"[:cols[0]] + f"{shape:<{cols[1]}}"[:cols[1]] + count
            return line[:width] if len(line) > width else line

        total = self.count_params()
        n_bytes = total * np.dtype(self.dtype).itemsize
        emit(f'Model: "{self.name}"')
        emit("_" * width)
        emit(row("Layer (type)", "Output Shape", "Param #"))
        emit("=" * width)
        shape = self._sample_shape
        for i, layer in enumerate(self._stack):
            if isinstance(layer, Sequential):
                shape, count = layer.output_shape[1:], layer.count_params()
            else:
                if shape is not None:
                    shape = layer._output_shape(shape)
                count = layer.count_params() if isinstance(layer, Dense) else 0
            shown = "(None, " + ", ".join(map(str, shape)) + ")" if shape else "?"
            emit(row(f"{layer.name} ({type(layer).__name__})", shown, str(count)))
            emit(("=" if i == len(self._stack) - 1 else "_") * width)
        emit(f"Total params: {total:,} ({_format_bytes(n_bytes)})")
        emit(f"Trainable params: {total:,} ({_format_bytes(n_bytes)})")
        emit("Non-trainable params: 0 (0.00 B)")
        emit("_" * width)

    # -- compile -----------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None,
                **kwargs):
        """Choose the optimizer, the loss and the metrics.

        Parameters
        ----------
        optimizer : str or an optimizer instance, default 'rmsprop'
            'sgd', 'rmsprop', 'adam', 'adamw', 'adagrad', 'adadelta', 'adamax',
            'nadam', with Keras' defaults (e.g. SGD(0.01), RMSprop(0.001,
            rho=0.9, epsilon=1e-7), Adam(0.001, 0.9, 0.999, 1e-7)).
        loss : str, Loss or a function of ``keras.losses``
            'mean_squared_error'/'mse', 'mean_absolute_error'/'mae', 'huber',
            'mape', 'msle', 'log_cosh', 'poisson', 'kl_divergence'/'kld', 'hinge',
            'squared_hinge', 'binary_crossentropy', 'categorical_crossentropy',
            'sparse_categorical_crossentropy'; the classes take Keras' options
            (``from_logits``, ``label_smoothing``, ``delta``).
        metrics : list of str or Metric objects, optional
            'acc'/'accuracy' (binary, categorical or sparse chosen from the
            shapes, reported under the name given), 'mse', 'mae', 'auc', or
            objects from ``keras.metrics`` (``AUC()``, ``Precision()``, ...).
        weighted_metrics : list of str or Metric objects, optional
            Metrics weighted by ``sample_weight``/``class_weight``, as Keras: a
            name that is also in ``metrics`` is reported as ``weighted_<name>``.
        """
        reject_unsupported("compile", kwargs, ("optimizer", "loss", "metrics",
                                               "weighted_metrics"))
        opt = optimizers_module.get(optimizer)
        loss_obj = None if loss is None else losses_module.get(loss)
        entries = metrics_module.check_metrics(metrics)
        weighted_entries = metrics_module.check_metrics(weighted_metrics)
        names = {name for name, _ in entries}
        weighted = {}
        for name, obj in weighted_entries:
            # Keras' CompileMetrics.result(): a repeated name becomes weighted_<name>.
            shown = f"weighted_{name}" if name in names else name
            if shown in weighted or shown in names:
                raise ValueError(f"weighted metric {name!r} is listed twice")
            weighted[shown] = (name, obj)
        self.optimizer, self.loss, self._loss = opt, loss, loss_obj
        self._metric_names = [name for name, _ in entries]
        self._metric_objects = {name: obj for name, obj in entries if obj is not None}
        self._weighted = weighted
        self.compiled = True

    @property
    def metrics_names(self):
        return ["loss", *self._metric_names, *self._weighted]

    def _metric_direction(self, name):
        """'up' or 'down' for a compiled metric's name (what auto mode monitors), or None."""
        if name in self._weighted:
            return metrics_module.direction(*self._weighted[name])
        if name not in self._metric_names:
            return None
        return metrics_module.direction(name, self._metric_objects.get(name))

    def _require_loss(self, what):
        if not self.compiled:
            raise RuntimeError(f"you must compile the model before calling {what}(): "
                               "model.compile(loss=..., optimizer=...)")
        if self._loss is None:
            raise ValueError(f"{what}() needs a loss; pass loss=... to compile()")

    # -- data --------------------------------------------------------------------------

    def _as_inputs(self, x, argument, n_features=None):
        """Engine Inputs for x, after the transform layers (run here, in NumPy)."""
        if self._pre or (self._sample_shape is not None and len(self._sample_shape) > 1):
            if is_sparse(x):
                raise TypeError(f"{argument}: scipy.sparse inputs are not supported by a model "
                                "with Flatten, Rescaling or Normalization layers")
            arr = np.asarray(x)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{argument} must hold numbers, got dtype {arr.dtype}")
            arr = arr.astype(self.dtype, copy=False)
            if arr.ndim < 2 or len(arr) == 0:
                raise ValueError(f"{argument} must be a non-empty batch of samples, got shape "
                                 f"{arr.shape}")
            if self._sample_shape is not None and arr.shape[1:] != self._sample_shape:
                raise ValueError(f"{argument} has samples of shape {arr.shape[1:]}, but the "
                                 f"model's input shape is {self._sample_shape}")
            if self._sample_shape is None:
                self._shape_at_dense(arr.shape[1:])  # raises for a missing Flatten
            self._seen_shape = arr.shape[1:]
            for layer in self._pre:
                arr = layer._call_array(arr)
            return _engine.as_inputs(arr, self.dtype, argument, n_features or self._input_dim)
        X = _engine.as_inputs(x, self.dtype, argument, n_features or self._input_dim)
        self._seen_shape = X.shape[1:]
        return X

    def _fit_weights(self, sample_weight, class_weight, y_raw, n):
        """The per-sample weights of fit (None: all 1), validated before training."""
        if sample_weight is not None and class_weight is not None:
            raise ValueError("give sample_weight or class_weight, not both")
        if sample_weight is not None:
            return losses_module.check_sample_weight(sample_weight, n)
        if class_weight is None:
            return None
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict {{class index: weight}}, got "
                            f"{class_weight!r:.60}")
        if y_raw.ndim == 2 and y_raw.shape[1] > 1:
            classes = np.argmax(y_raw, axis=1)
        else:
            classes = np.round(y_raw.reshape(-1)).astype(np.int64)
        table = {}
        for key, value in class_weight.items():
            if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
                raise TypeError(f"class_weight keys must be class indices (int), got {key!r:.40}")
            table[int(key)] = check_scalar(value, f"class_weight[{key}]", low=0)
        weights = np.array([table.get(int(c), 1.0) for c in classes], dtype=np.float64)
        if n and not weights.any():
            raise ValueError("class_weight gives every sample a weight of zero")
        return weights

    def _as_targets(self, y, n, argument):
        """Return (Y for the kernel (n, k), y as given for the metrics (float64, 1-D or 2-D))."""
        if y is None:
            raise ValueError(f"{argument} is required: the targets for x")
        arr = np.asarray(y)
        raw = as_float_array(arr, argument, np.float64, ndim=1 if arr.ndim == 1 else 2)
        Y = self._loss.targets(raw, self._layers[-1].units, self.dtype, argument)
        check_same_length(np.empty(n), Y, "x", argument)
        return Y, raw

    def _kernel_forward(self, network, params, inputs):
        return _engine.predict(network, params, inputs)

    def _forward(self, X):
        if self._nested is not None:
            return self._finish_nested(X)
        return _engine.predict(self._network(), self._params, X)

    def _finish_nested(self, X):
        """The nested model's outputs, then this model's activation layers."""
        out = self._nested._forward(X)
        for layer in self._stack[1:]:
            out = layer._call_array(out)
        return out

    def _logs(self, out, Y, y_raw, metric_fns, prefix="", loss=None, weights=None):
        """Loss (computed from ``out`` unless given; weighted by ``weights`` and divided
        by the number of samples, as Keras) and metrics, keyed as Keras reports."""
        if loss is None:
            losses = self._loss.per_sample(Y, out)
            loss = float(np.mean(losses if weights is None else losses * weights))
            loss += self._penalty_value()
        logs = {f"{prefix}loss": loss}
        for name, fn in metric_fns.items():
            logs[f"{prefix}{name}"] = fn(y_raw, out, weights if name in self._weighted
                                         else None)
        return logs

    def _metric_fns(self, y_raw):
        k = self._layers[-1].units
        fns = {name: metrics_module.get(name, y_raw.shape, k, self._metric_objects.get(name))
               for name in self._metric_names}
        for shown, (name, obj) in self._weighted.items():
            fns[shown] = metrics_module.get(name, y_raw.shape, k, obj)
        return fns

    # -- training ----------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto",
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            callbacks=None, validation_freq=1, sample_weight=None, class_weight=None,
            **kwargs):
        """Train the model; return a ``History``.

        Parameters
        ----------
        x : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_outputs), or (n_samples,)
            for one output or for integer labels (sparse categorical loss).
        batch_size : int, default 32
            Samples per gradient step; the gradient and the loss are means over
            the batch.  The last batch of an epoch may be shorter.
        epochs : int, default 1
            Index of the last epoch (training runs epochs initial_epoch..epochs-1).
        verbose : 'auto', 0, 1 or 2, default 'auto' (= 1)
            0 silent, 1 progress bar, 2 one line per epoch.
        validation_split : float in [0, 1), default 0
            Fraction of the samples held out for validation: the last rows, taken
            before any shuffling, as Keras does.
        validation_data : tuple (x_val, y_val), optional
            Overrides validation_split.
        shuffle : bool, default True
            Visit the samples in a new random order every epoch.
        initial_epoch : int, default 0
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, not all zero: a weight multiplies its sample's
            loss and gradient; a batch's loss is the weighted sum over its length
            (Keras' "sum_over_batch_size").
        class_weight : dict {class index: weight}, optional
            Each sample weighted by its class (the label, the argmax of a one-hot
            row, or a 0/1 value rounded); classes not in the dict weigh 1.

        Returns
        -------
        History
            ``history.history`` has 'loss', each metric, and 'val_' twins with
            validation data.  Training metrics use the end-of-epoch weights on
            the training data; 'loss' is the running mean of the epoch, as Keras.
        """
        reject_unsupported("fit", kwargs, FIT_ARGUMENTS)
        self._require_loss("fit")
        self._require_layers("fit")
        if self._nested is not None:
            return self._through_proxy(
                "fit", x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                validation_split=validation_split, validation_data=validation_data,
                shuffle=shuffle, initial_epoch=initial_epoch, callbacks=callbacks,
                validation_freq=validation_freq, sample_weight=sample_weight,
                class_weight=class_weight)
        verbose = _check_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        epochs = check_scalar(epochs, "epochs", low=0, integer=True)
        initial_epoch = check_scalar(initial_epoch, "initial_epoch", low=0, integer=True)
        shuffle = check_bool(shuffle, "shuffle")
        validation_split = check_scalar(validation_split, "validation_split", low=0, high=1,
                                        high_inclusive=False)
        validation_freq = check_scalar(validation_freq, "validation_freq", low=1, integer=True)
        X = self._as_inputs(x, "x")
        Y, y_raw = self._as_targets(y, len(X), "y")
        weights = self._fit_weights(sample_weight, class_weight, y_raw, len(X))
        val, val_weights = None, None
        if validation_data is not None:
            xv, yv, wv = _unpack_validation(validation_data)
            Xv = self._as_inputs(xv, "validation_data[0]", X.shape[1])
            val = (Xv, *self._as_targets(yv, len(Xv), "validation_data[1]"))
            if wv is not None:
                val_weights = losses_module.check_sample_weight(wv, len(Xv),
                                                                "validation_data[2]")
        elif validation_split > 0:
            n_all = len(X)
            split_at = int(math.floor(n_all * (1.0 - validation_split)))
            if split_at in (0, n_all):
                raise ValueError(f"x has {n_all} samples, which is not enough to split them "
                                 f"into training and validation sets with validation_split="
                                 f"{validation_split}; give more data or another fraction")
            val = (X.take(slice(split_at, None)), Y[split_at:], y_raw[split_at:])
            X, Y, y_raw = X.take(slice(None, split_at)), Y[:split_at], y_raw[:split_at]
            if weights is not None:
                # As Keras: sample weights are split with the rows; class weights
                # weight the training rows only.
                weights, val_weights = weights[:split_at], weights[split_at:]
                if class_weight is not None:
                    val_weights = None
                if not weights.any():
                    raise ValueError("sample_weight is all zeros on the training rows left "
                                     "after validation_split")
        sizes = [X.shape[1]] + [layer.units for layer in self._layers]
        n_params = _params.n_params(sizes)
        dropout, dropout_seed = self._dropout_rates()
        kernel_args = self.optimizer._kernel_args()
        state = self.optimizer._ensure_state(n_params, self.dtype, self)
        train_metrics = self._metric_fns(y_raw)
        val_metrics = self._metric_fns(val[2]) if val is not None else {}
        network = self._network(sizes)
        update = _engine.Update(batch_size=batch_size, zero_biases=self._frozen_bias_index(sizes),
                                penalties=self._penalties(), sample_weight=weights,
                                dropout=dropout, dropout_seed=dropout_seed, **kernel_args)
        scheduled = self.optimizer._scheduled
        data = _engine.prepare(network, X, update)  # proves x finite
        n = len(X)
        steps = -(-n // batch_size)
        history = History()
        cbs = CallbackList(callbacks, self, {"verbose": verbose, "epochs": epochs,
                                             "steps": steps}, history)
        per_batch = cbs.needs(BATCH_HOOKS)

        with _engine.training(self, f"model {self.name!r}"):
            self._ensure_built(X)
            self.history = history
            self.stop_training = False
            progress = [None]
            first_step = [self.optimizer.iterations]  # the step count as the epoch began
            last_logs = {}
            cbs.call("on_train_begin", {})

            def order(epoch):  # called as each epoch begins
                cbs.call("on_epoch_begin", epoch, {})
                # A callback may have changed the rate (LearningRateScheduler).
                update.lr = self.optimizer._kernel_args()["lr"]
                first_step[0] = self.optimizer.iterations
                _progress.epoch_header(epoch, epochs, verbose)
                progress[0] = _progress.Progress(steps, verbose)
                if per_batch:
                    cbs.call("on_train_batch_begin", 0, {})
                return self._rng.permutation(n) if shuffle else np.arange(n, dtype=np.int64)

            def on_chunk(epoch, done, loss_sum):
                batch = -(-done // batch_size)
                if scheduled:  # the rate of the next step, from its step count
                    update.lr = self.optimizer._rate_at(first_step[0] + batch)
                logs = {"loss": loss_sum / done}
                if live:
                    progress[0].update(batch, logs)
                if not per_batch:
                    return False
                cbs.call("on_train_batch_end", batch - 1, logs)
                if self.stop_training:
                    return True
                if done < n:
                    cbs.call("on_train_batch_begin", batch, {})
                return False

            def on_epoch(epoch, result, params, opt):
                # Publish the completed epoch: weights, optimizer state, step count.
                self._params, self.optimizer._state = params, opt.state
                self._dropout_counter = opt.dropout_counter
                self.optimizer._bind(self)
                self.optimizer.iterations += -(-result.n_samples // batch_size)
                # The loss is the kernel's running mean over the epoch, as Keras reports
                # it; the metrics use the end-of-epoch weights (see the module notes).
                logs = {"loss": result.mean_loss}
                if train_metrics:
                    logs = self._logs(self._kernel_forward(network, params, X), Y, y_raw,
                                      train_metrics, loss=result.mean_loss, weights=weights)
                if val is not None and (epoch + 1) % validation_freq == 0:
                    # Validation is an evaluate() pass for the callbacks, as in Keras.
                    cbs.call("on_test_begin", {})
                    out = self._batched(val[0], batch_size, cbs, "test", val[1], val_weights)
                    val_logs = self._logs(out, val[1], val[2], val_metrics,
                                          weights=val_weights)
                    cbs.call("on_test_end", dict(val_logs))
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
                cbs.call("on_epoch_end", epoch, logs)
                progress[0].finish(logs)
                last_logs.clear()
                last_logs.update(logs)
                return self.stop_training

            # Optimizers with bias corrections count their steps as Keras' iterations.
            opt = _engine.OptimizerState(
                state, self.optimizer.iterations if update.counts_steps else 0,
                self._dropout_counter)
            # A live bar on a terminal is redrawn between kernel calls; otherwise the
            # epoch runs without a Python call between its kernel calls.
            live = verbose == 1 and _progress.Progress(steps, verbose).dynamic
            result = _engine.fit(network, self._params, data, Y, epochs=epochs - initial_epoch,
                                 first_epoch=initial_epoch, update=update, opt=opt, order=order,
                                 on_epoch=on_epoch,
                                 on_chunk=on_chunk if live or per_batch or scheduled else None,
                                 per_call=batch_size if per_batch or scheduled else None)
            if result.status is _engine.Status.DONE:
                cbs.call("on_train_end", dict(last_logs))
        if result.status is _engine.Status.INTERRUPTED:
            progress[0].abort()
            raise KeyboardInterrupt
        if result.status is _engine.Status.DIVERGED:
            progress[0].abort()
            message = (f"training diverged: {result.describe()}; training stopped and the "
                       "weights are those of the end of the previous epoch")
            nan_stop = [cb for cb in cbs.callbacks if isinstance(cb, TerminateOnNaN)]
            if any(cb.raise_error for cb in nan_stop):
                raise RuntimeError(f"NaN or Inf loss encountered: {message}")
            if not nan_stop:
                warnings.warn(f"{message}. Try a smaller learning_rate or scale the inputs.",
                              RuntimeWarning, stacklevel=2)
            self.stop_training = True
            cbs.call("on_train_end", dict(last_logs))
        return history

    # -- inference ---------------------------------------------------------------------

    def _ensure_built(self, X):
        if not self.built:
            if self._sample_shape is None:
                self._set_sample_shape(self._seen_shape)
            else:
                self._build()

    def _inputs(self, x, argument):
        """Inputs for prediction (through the nested model's own transform layers)."""
        if self._nested is not None:
            return self._nested._inputs(x, argument)
        X = self._as_inputs(x, argument)
        self._ensure_built(X)
        return X

    def _penalty_value(self):
        """The regularizers' term of the loss at the current weights (Keras adds it)."""
        penalties = self._penalties()
        if penalties is None:
            return 0.0
        total = 0.0
        weights, biases = _params.views(self._params, self._sizes, bias_shape="flat")
        for (k1, k2, b1, b2), W, b in zip(penalties, weights, biases):
            W, b = W.astype(np.float64), b.astype(np.float64)
            total += (k1 * np.abs(W).sum() + k2 * np.square(W).sum()
                      + b1 * np.abs(b).sum() + b2 * np.square(b).sum())
        return float(total)

    def _batched(self, X, batch_size, cbs, kind, Y=None, weights=None):
        """Outputs for X, one batch at a time with the ``kind`` ('test'/'predict') batch
        hooks when a callback has them, else in one pass."""
        hooks = TEST_BATCH_HOOKS if kind == "test" else PREDICT_BATCH_HOOKS
        if not cbs.needs(hooks):
            return self._forward(X)
        n = len(X)
        out = np.empty((n, self.output_shape[-1]), dtype=self.dtype)
        loss_sum = 0.0
        for b, start in enumerate(range(0, n, batch_size)):
            rows = slice(start, min(start + batch_size, n))
            cbs.call(f"on_{kind}_batch_begin", b, {})
            out[rows] = self._forward(X.take(rows))
            if kind == "test":
                losses = self._loss.per_sample(Y[rows], out[rows])
                if weights is not None:
                    losses = losses * weights[rows]
                loss_sum += float(np.sum(losses))
                logs = {"loss": loss_sum / rows.stop + self._penalty_value()}
            else:
                logs = {"outputs": out[rows]}
            cbs.call(f"on_{kind}_batch_end", b, logs)
        return out

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False,
                 callbacks=None, sample_weight=None, **kwargs):
        """Loss and metrics on (x, y) with the current weights.

        Returns
        -------
        float, list of float or dict
            The loss alone without metrics; ``[loss, metric, ...]`` in the order
            of ``metrics_names`` otherwise; a dict if ``return_dict=True``.
        """
        reject_unsupported("evaluate", kwargs,
                           ("x", "y", "batch_size", "verbose", "return_dict", "callbacks",
                            "sample_weight"))
        self._require_loss("evaluate")
        self._require_layers("evaluate")
        if self._nested is not None:
            return self._through_proxy("evaluate", x, y, batch_size=batch_size, verbose=verbose,
                                       return_dict=return_dict, callbacks=callbacks,
                                       sample_weight=sample_weight)
        verbose = _check_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        return_dict = check_bool(return_dict, "return_dict")
        X = self._inputs(x, "x")
        Y, y_raw = self._as_targets(y, len(X), "y")
        weights = None if sample_weight is None else losses_module.check_sample_weight(
            sample_weight, len(X))
        steps = -(-len(X) // batch_size)
        cbs = CallbackList(callbacks, self, {"verbose": verbose, "epochs": 1, "steps": steps})
        progress = _progress.Progress(steps, verbose)
        cbs.call("on_test_begin", {})
        out = self._batched(X, batch_size, cbs, "test", Y, weights)
        logs = self._logs(out, Y, y_raw, self._metric_fns(y_raw), weights=weights)
        cbs.call("on_test_end", dict(logs))
        progress.finish(logs)
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None, **kwargs):
        """Model outputs for each row of x: ndarray of shape (n_samples, n_outputs)."""
        reject_unsupported("predict", kwargs, ("x", "batch_size", "verbose", "callbacks"))
        self._require_layers("predict")
        verbose = _check_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        X = self._inputs(x, "x")
        steps = -(-len(X) // batch_size)
        cbs = CallbackList(callbacks, self, {"verbose": verbose, "epochs": 1, "steps": steps})
        progress = _progress.Progress(steps, verbose)
        cbs.call("on_predict_begin", {})
        out = self._batched(X, batch_size, cbs, "predict")
        cbs.call("on_predict_end", {})
        progress.finish({})
        return out

    def __call__(self, inputs, training=False):
        """The outputs for a batch of inputs (an array), or a symbolic tensor when
        called on one (the functional API)."""
        if isinstance(inputs, KerasTensor):
            # The functional API's model(x): the model becomes a layer of the chain.
            if not self.built:
                raise ValueError(f"model {self.name!r} must be built (give it an Input) "
                                 "before it is called on a symbolic tensor")
            if tuple(inputs.sample_shape) != tuple(self.input_shape[1:]):
                raise ValueError(f"model {self.name!r} takes inputs of shape "
                                 f"{self.input_shape[1:]}, got {inputs.sample_shape}")
            return KerasTensor(tuple(self.output_shape[1:]), self, inputs)
        self._require_layers("calling the model")
        if training and self._dropout_rates()[0] is not None:
            raise ValueError("model(x, training=True) is not supported with Dropout layers: "
                             "dropout runs inside fit() and train_on_batch() only")
        return self._forward(self._inputs(inputs, "inputs"))

    def _call_array(self, arr):
        return self(arr)

    def predict_on_batch(self, x):
        """``predict`` for one batch (no progress bar, no callbacks)."""
        self._require_layers("predict_on_batch")
        return self._forward(self._inputs(x, "x"))

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch, as ``evaluate`` returns them."""
        return self.evaluate(x, y, batch_size=max(len(np.asarray(x)), 1), verbose=0,
                             return_dict=return_dict, sample_weight=sample_weight)

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on the whole of (x, y) as a single batch; returns the
        loss (and metrics) of that batch, as Keras: the loss before the step, the
        metrics on the outputs after it."""
        n = len(np.asarray(x)) if not is_sparse(x) else x.shape[0]
        kept = self.history  # as Keras, a single step is no fit: the History stays
        try:
            history = self.fit(x, y, batch_size=max(n, 1), epochs=1, verbose=0, shuffle=False,
                               sample_weight=sample_weight, class_weight=class_weight)
        finally:
            self.history = kept
        logs = {k: v[-1] for k, v in history.history.items()}
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    # -- weights -----------------------------------------------------------------------

    def _layer_weights(self, i):
        w, b = _params.views(self._params, self._sizes, bias_shape="flat")
        layer = self._layers[i]
        return [w[i].T.copy(), b[i].copy()] if layer.use_bias else [w[i].T.copy()]

    def get_weights(self):
        """All weights in Keras' layout: ``[kernel_0 (n_in, units), bias_0, kernel_1, ...]``
        (copies; a layer with use_bias=False contributes its kernel only)."""
        if self._nested is not None:  # the inner model's, then this model's own
            own = [] if self._params is None else [
                arr for i in range(len(self._layers)) for arr in self._layer_weights(i)]
            return self._nested.get_weights() + own
        if not self.built:
            return []
        return [arr for i in range(len(self._layers)) for arr in self._layer_weights(i)]

    def _expected_shapes(self, i):
        n_in, units = self._sizes[i], self._sizes[i + 1]
        return [(n_in, units), (units,)] if self._layers[i].use_bias else [(n_in, units)]

    def _checked(self, weights, shapes, argument):
        if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
            raise TypeError(f"{argument} must be a list of arrays, got {type(weights).__name__}")
        if len(weights) != len(shapes):
            raise ValueError(f"{argument} holds {len(weights)} arrays, but the model expects "
                             f"{len(shapes)} with shapes {shapes}")
        arrays = []
        for j, (w, shape) in enumerate(zip(weights, shapes)):
            arr = as_float_array(w, f"{argument}[{j}]", self.dtype, ndim=len(shape))
            if arr.shape != shape:
                raise ValueError(f"{argument}[{j}] has shape {arr.shape}, expected {shape}")
            arrays.append(arr)
        return arrays

    def _set_into(self, params, i, arrays):
        w, b = _params.views(params, self._sizes, bias_shape="flat")
        w[i][...] = arrays[0].T
        if len(arrays) > 1:
            b[i][...] = arrays[1]

    def _set_into_all(self, params, arrays):
        """Write Keras-layout arrays (kernel, bias, ... checked) into the flat params."""
        shapes = [s for i in range(len(self._layers)) for s in self._expected_shapes(i)]
        arrays = self._checked(list(arrays), shapes, "weights")
        pos = 0
        for i in range(len(self._layers)):
            count = len(self._expected_shapes(i))
            self._set_into(params, i, arrays[pos:pos + count])
            pos += count

    def set_weights(self, weights):
        """Set every weight from a list in the layout of ``get_weights``.  Nothing
        changes unless every array has the right shape and finite values."""
        if self._nested is not None and self._layers:
            if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
                raise TypeError(f"weights must be a list of arrays, got "
                                f"{type(weights).__name__}")
            k = len(self._nested.get_weights())
            shapes = [s for i in range(len(self._layers)) for s in self._expected_shapes(i)]
            own = self._checked(list(weights[k:]), shapes, "weights")
            self._nested.set_weights(list(weights[:k]))  # checked before it changes
            params = self._params.copy()
            self._set_into_all(params, own)
            self._params = params
            return None
        if self._nested is not None:
            return self._nested.set_weights(weights)
        if not self.built:
            raise ValueError(f"model {self.name!r} is not built yet; nothing to set")
        shapes = [s for i in range(len(self._layers)) for s in self._expected_shapes(i)]
        arrays = self._checked(weights, shapes, "weights")
        params = self._params.copy()
        pos = 0
        for i in range(len(self._layers)):
            count = len(self._expected_shapes(i))
            self._set_into(params, i, arrays[pos:pos + count])
            pos += count
        self._params = params

    def _set_layer_weights(self, i, weights):
        arrays = self._checked(weights, self._expected_shapes(i), "weights")
        params = self._params.copy()
        self._set_into(params, i, arrays)
        self._params = params

    def _check_npz_savable(self):
        # annfast's .npz model format describes Dense chains only: refuse rather
        # than drop the other layers (and so change what the model computes).
        others = [layer for layer in self._stack if not isinstance(layer, Dense)]
        if others:
            raise ValueError(f"model {self.name!r} has {type(others[0]).__name__} layer "
                             f"{others[0].name!r}: annfast's model file holds Input and Dense "
                             "layers only; save the weights with save_weights(), or keep "
                             "the transform and activation layers outside the saved model")

    def save_weights(self, filepath, overwrite=True):
        """Write the weights to ``filepath``: Keras' HDF5 layout for a name ending in
        ``.weights.h5`` (needs h5py), else annfast's checksummed format (read them
        back with ``load_weights``).  Nothing is pickled."""
        filepath = check_path(filepath, "filepath")
        overwrite = check_bool(overwrite, "overwrite")
        if not self.built or self._nested is not None:
            raise ValueError(f"model {self.name!r} has no weights of its own to save "
                             "(not built yet, or it wraps another model)")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath!r} exists and overwrite=False")
        if filepath.endswith(".weights.h5"):
            from annfast.keras import _archive

            return _archive.save_weights(self, filepath)
        config = {"sizes": list(self._sizes), "use_bias": [bool(layer.use_bias)
                                                           for layer in self._layers]}
        _io.save_model(filepath, WEIGHTS_KIND, config, self._params)

    def load_weights(self, filepath):
        """Read weights written by ``save_weights`` for a model of the same layer sizes.
        The file is verified (checksum, sizes) before any weight changes."""
        if not self.built or self._nested is not None:
            raise ValueError(f"model {self.name!r} is not built yet (or wraps another model): "
                             "build it before loading weights into it")
        filepath = check_path(filepath, "filepath")
        if filepath.endswith(".weights.h5"):
            from annfast.keras import _archive

            return _archive.load_weights(self, filepath)
        config, buffer = _io.load_model(filepath, WEIGHTS_KIND)
        sizes = config.get("sizes") if isinstance(config, dict) else None
        if sizes != list(self._sizes) or buffer.size != self._params.size:
            raise ValueError(f"{filepath!r} holds weights for layer sizes {sizes}, but model "
                             f"{self.name!r} has layer sizes {list(self._sizes)}")
        if config.get("use_bias") != [bool(layer.use_bias) for layer in self._layers]:
            raise ValueError(f"{filepath!r} holds weights for layers with use_bias="
                             f"{config.get('use_bias')}, which do not match this model's")
        if not np.isfinite(buffer).all():
            raise ValueError(f"{filepath!r}: the stored weights contain NaN or infinity")
        self._params = buffer.astype(self.dtype)

    # -- persistence -------------------------------------------------------------------

    def save(self, filepath):
        """Write the model (architecture, weights, compile settings) to ``filepath``:
        Keras 3's ``.keras`` archive for a name ending in ``.keras`` (real Keras
        loads it; needs h5py), else annfast's checksummed format, which also
        keeps the optimizer state.  Read either back with
        ``annfast.keras.load_model``.  Nothing is pickled.  See
        ``annfast.keras.saving``."""
        from annfast.keras import saving

        filepath = check_path(filepath, "filepath")
        if filepath.endswith(".keras"):
            from annfast.keras import _archive

            return _archive.save(self, filepath)
        self._check_npz_savable()
        saving.save_model(self, filepath)

    def get_config(self):
        """Keras' configuration of the model: its name and its layers' configurations."""
        from annfast.keras import _config

        return _config.model_config(self)

    @classmethod
    def from_config(cls, config):
        """A new model (new weights) from ``get_config()``, annfast's or Keras'."""
        from annfast.keras import _config

        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        if cls is Model or "input_layers" in config:
            return _config.functional_from_config(config)
        return _config.sequential_from_config(config)

    def to_json(self, **kwargs):
        """Keras' JSON of the model (no weights); ``keras.models.model_from_json``
        reads it back, and so does Keras'."""
        import json

        from annfast.keras import _config

        return json.dumps(_config.to_keras(self, include_compile=False), **kwargs)

    def __repr__(self):
        return f"<Sequential name={self.name}, {len(self._layers)} Dense layers>"


class Model(Sequential):
    """A model from the functional API: ``Model(inputs=x, outputs=y)`` where y comes
    from ``x = keras.Input(shape=...)`` through a chain of layer calls.

    The graph must be a chain (one input, one output, each layer called on the
    previous layer's output): that is what the kernels train.  Anything else
    raises an error that says so.
    """

    _prefix = "functional"

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        reject_unsupported("Model", kwargs, ("inputs", "outputs", "name"))
        if inputs is None or outputs is None:
            raise TypeError("Model(inputs=..., outputs=...) is the supported form: subclassing "
                            "keras.Model with a call() method is not supported")
        source = _single_tensor(inputs, "inputs")
        target = _single_tensor(outputs, "outputs")
        if not isinstance(source._layer, InputLayer) or source._parent is not None:
            raise ValueError("inputs must be the tensor returned by keras.Input(shape=...)")
        chain = []
        tensor = target
        while tensor._parent is not None:
            chain.append(tensor._layer)
            tensor = tensor._parent
        if tensor is not source:
            raise ValueError("outputs is not computed from inputs: the graph from inputs to "
                             "outputs must be one chain of layer calls starting at inputs")
        chain.reverse()
        for i, layer in enumerate(chain):
            if any(layer is other for other in chain[:i]):
                raise ValueError(f"layer {layer.name!r} is called twice in the graph: shared "
                                 "layers are not supported (the graph must be a chain of "
                                 "distinct layers)")
        super().__init__([source._layer, *chain], name=name)
        self.inputs, self.outputs = [source], [target]

    def __repr__(self):
        return f"<Model name={self.name}, {len(self._stack)} layers>"


def _single_tensor(tensors, argument):
    if isinstance(tensors, dict):
        tensors = list(tensors.values())
    if isinstance(tensors, (list, tuple)):
        if len(tensors) != 1:
            raise ValueError(f"{argument} holds {len(tensors)} tensors: the graph is not a "
                             "chain. annfast.keras models have one input and one output "
                             "(no multi-input, multi-output, branch or merge graphs)")
        tensors = tensors[0]
    if not isinstance(tensors, KerasTensor):
        raise TypeError(f"{argument} must be a symbolic tensor from keras.Input(...) and layer "
                        f"calls, got {type(tensors).__name__}")
    return tensors


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if isinstance(verbose, (int, np.integer)) and verbose in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")


def _check_batch_size(batch_size):
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    return check_scalar(batch_size, "batch_size", low=1, integer=True)


def _unpack_validation(validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise TypeError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                        "sample_weight_val)")
    if len(validation_data) == 2:
        return (*validation_data, None)
    return tuple(validation_data)


def _format_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
