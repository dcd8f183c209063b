"""``Sequential``: a Keras-style model trained by annfast's compiled kernels.

A model is a chain of ``Dense`` layers.  Its weights live in one flat buffer
(per layer W (units, n_in) row-major, then b (units,), see ``annfast._params``);
``fit`` hands that buffer, the optimizer state and the data to annfast's
training engine (``annfast._engine``), which runs every batch in C with the
GIL released.  ``get_weights``/``set_weights`` speak Keras' layout
(kernel (n_in, units), bias (units,)).

Differences from Keras, all documented where they arise:

* Training metrics are computed with the end-of-epoch weights over the
  epoch's training data, not as Keras' running mean over the batches (the
  kernel does not return per-batch outputs).  ``loss`` is exact: the mean of
  the per-sample losses over the epoch, accumulated by the kernel as Keras'
  running mean does.
* Probabilities are clipped at the dtype's machine epsilon instead of 1e-7
  inside the cross-entropy logarithms (see ``annfast.keras.losses``).
* A NaN/infinite loss stops training with a RuntimeWarning and the weights of
  the last complete epoch (Keras would carry on with NaN weights).
"""

import math
import warnings

import numpy as np

from annfast import _engine, _params
from annfast._validation import (
    as_float_array,
    check_bool,
    check_layers,
    check_same_length,
    check_scalar,
)
from annfast.keras import _naming, _progress
from annfast.keras import losses as losses_module
from annfast.keras import metrics as metrics_module
from annfast.keras import optimizers as optimizers_module
from annfast.keras.callbacks import History
from annfast.keras.layers import (
    LEAKY_SLOPE,
    SUPPORTED_LAYERS,
    Dense,
    InputLayer,
    draw,
    reject_unsupported,
)
from annfast.keras.saving import load_model

__all__ = ["Sequential", "load_model"]

DEFAULT_BATCH_SIZE = 32
DEFAULT_DTYPE = "float32"  # Keras' floatx
FIT_ARGUMENTS = ("x", "y", "batch_size", "epochs", "verbose", "validation_split",
                 "validation_data", "shuffle", "initial_epoch")
PROGRESS_UPDATES = 50  # kernel calls per epoch when a live progress bar is drawn


class Sequential:
    """A linear stack of ``Dense`` layers.

    Parameters
    ----------
    layers : list of layers, optional
        An optional ``Input(shape=(n_features,))`` first, then ``Dense`` layers.
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
        self.name = name if name is not None else _naming.unique_name("sequential")
        self._input = None  # the InputLayer, if one was given
        self._layers = []  # the Dense layers, in order
        self._input_dim = None
        self._dtype = None  # fixed by the first layer that names one, else float32 at build
        self._params = None  # the flat parameter buffer, once built
        self._rng = _naming.new_generator()
        self.optimizer = None
        self.loss = None
        self._loss = None
        self._metric_names = []
        self.compiled = False
        self.history = None
        for layer in layers or ():
            self.add(layer)

    # -- structure ---------------------------------------------------------------------

    @property
    def layers(self):
        """The Dense layers (the input layer is not listed, as in Keras)."""
        return list(self._layers)

    @property
    def built(self):
        return self._params is not None

    @property
    def dtype(self):
        return self._dtype if self._dtype is not None else DEFAULT_DTYPE

    @property
    def _sizes(self):
        return [self._input_dim] + [layer.units for layer in self._layers]

    @property
    def input_shape(self):
        return (None, self._input_dim)

    @property
    def output_shape(self):
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers")
        return (None, self._layers[-1].units)

    def add(self, layer):
        """Append a layer: an ``Input`` (first only) or a ``Dense`` layer."""
        if isinstance(layer, InputLayer):
            if self._input is not None or self._layers:
                raise ValueError("an Input can only be the first layer of a Sequential model")
            dtype = self._merged_dtype(layer)
            self._input, self._input_dim, self._dtype = layer, layer.units, dtype
            return
        if not isinstance(layer, Dense):
            raise TypeError(f"Sequential supports only {SUPPORTED_LAYERS} layers from "
                            f"annfast.keras.layers; got {type(layer).__module__}."
                            f"{type(layer).__name__}")
        if layer._model is not None:
            raise ValueError(f"layer {layer.name!r} already belongs to model "
                             f"{layer._model.name!r}; create a new Dense layer")
        if any(other.name == layer.name for other in self._layers):
            raise ValueError(f"a layer named {layer.name!r} is already in model {self.name!r}; "
                             "layer names must be unique")
        n_in = self._layers[-1].units if self._layers else self._input_dim
        if layer.input_dim is not None and n_in is not None and layer.input_dim != n_in:
            raise ValueError(f"layer {layer.name!r} has input_dim={layer.input_dim}, but its "
                             f"input has {n_in} features")
        dtype = self._merged_dtype(layer)
        input_dim = self._input_dim
        if input_dim is None and not self._layers:
            input_dim = n_in = layer.input_dim
        params = None
        if input_dim is not None:
            # The sizes are checked and the weights drawn before the model changes:
            # a layer too large to allocate is refused and not appended.
            sizes = check_layers([input_dim, *(other.units for other in self._layers),
                                  layer.units], "the model's layer sizes")
            rng_state = self._rng.bit_generator.state
            try:
                if self.built:
                    params = np.concatenate([self._params, self._init_layer(layer, n_in)])
                else:
                    dtype = dtype if dtype is not None else DEFAULT_DTYPE  # fixed at build
                    params = self._initial_params([*self._layers, layer], sizes[:-1], dtype)
            except BaseException:
                self._rng.bit_generator.state = rng_state
                raise
        # Every check passed and every allocation succeeded: now change the model.
        self._input_dim = input_dim
        self._dtype = dtype
        layer._model, layer._index = self, len(self._layers)
        self._layers.append(layer)
        if params is not None:
            self._params = params

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
        """Create the weights for inputs of shape ``(None, n_features)``."""
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers to build")
        if self.built:
            return
        if input_shape is None:
            raise ValueError("build() needs input_shape=(None, n_features) when no layer "
                             "gives input_dim")
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(f"input_shape must be (None, n_features), got {input_shape!r}")
        n = shape[-1]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"input_shape must end with a positive int, got {input_shape!r}")
        self._input_dim = int(n)
        self._build()

    def _require_layers(self, what):
        if not self._layers:
            raise ValueError(f"{what}: model {self.name!r} has no layers; add Dense layers first")

    def _network(self, sizes=None):
        """The engine's view of this model (``sizes`` before the model is built)."""
        sizes = self._sizes if sizes is None else sizes
        loss = self._loss if self._loss is not None else losses_module.MeanSquaredError()
        return _engine.Network(sizes, [layer._act for layer in self._layers], loss.kernel_loss,
                               self.dtype, LEAKY_SLOPE, loss.scale(sizes[-1]))

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
        return sum(layer.count_params() for layer in self._layers)

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
        for i, layer in enumerate(self._layers):
            emit(row(f"{layer.name} (Dense)", f"(None, {layer.units})", str(layer.count_params())))
            emit(("=" if i == len(self._layers) - 1 else "_") * width)
        emit(f"Total params: {total:,} ({_format_bytes(n_bytes)})")
        emit(f"Trainable params: {total:,} ({_format_bytes(n_bytes)})")
        emit("Non-trainable params: 0 (0.00 B)")
        emit("_" * width)

    # -- compile -----------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Choose the optimizer, the loss and the metrics.

        Parameters
        ----------
        optimizer : {'rmsprop', 'sgd', 'adam'} or an optimizer instance, default 'rmsprop'
            Strings take Keras' defaults: SGD(0.01), RMSprop(0.001, rho=0.9,
            epsilon=1e-7), Adam(0.001, 0.9, 0.999, 1e-7).
        loss : str or Loss
            'mean_squared_error'/'mse', 'binary_crossentropy',
            'categorical_crossentropy' or 'sparse_categorical_crossentropy'.
        metrics : list of str, optional
            'acc'/'accuracy' (binary, categorical or sparse chosen from the
            shapes, reported under the name given), 'mse', 'mae', ...
        """
        reject_unsupported("compile", kwargs, ("optimizer", "loss", "metrics"))
        opt = optimizers_module.get(optimizer)
        loss_obj = None if loss is None else losses_module.get(loss)
        names = metrics_module.check_names(metrics)
        self.optimizer, self.loss, self._loss, self._metric_names = opt, loss, loss_obj, names
        self.compiled = True

    @property
    def metrics_names(self):
        return ["loss", *self._metric_names]

    def _require_loss(self, what):
        if not self.compiled:
            raise RuntimeError(f"you must compile the model before calling {what}(): "
                               "model.compile(loss=..., optimizer=...)")
        if self._loss is None:
            raise ValueError(f"{what}() needs a loss; pass loss=... to compile()")

    # -- data --------------------------------------------------------------------------

    def _as_inputs(self, x, argument):
        return _engine.as_inputs(x, self.dtype, argument, self._input_dim)

    def _as_targets(self, y, n, argument):
        """Return (Y for the kernel (n, k), y as given for the metrics (float64, 1-D or 2-D))."""
        if y is None:
            raise ValueError(f"{argument} is required: the targets for x")
        arr = np.asarray(y)
        raw = as_float_array(arr, argument, np.float64, ndim=1 if arr.ndim == 1 else 2)
        Y = self._loss.targets(raw, self._layers[-1].units, self.dtype, argument)
        check_same_length(np.empty(n), Y, "x", argument)
        return Y, raw

    def _forward(self, X):
        return _engine.predict(self._network(), self._params, X)

    def _logs(self, out, Y, y_raw, metric_fns, prefix="", loss=None):
        """Loss (computed from ``out`` unless given) and metrics, keyed as Keras reports."""
        if loss is None:
            loss = float(np.mean(self._loss.per_sample(Y, out)))
        logs = {f"{prefix}loss": loss}
        for name, fn in metric_fns.items():
            logs[f"{prefix}{name}"] = fn(y_raw, out)
        return logs

    def _metric_fns(self, y_raw):
        k = self._layers[-1].units
        return {name: metrics_module.get(name, y_raw.shape, k) for name in self._metric_names}

    # -- training ----------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto",
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
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
        verbose = _check_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        epochs = check_scalar(epochs, "epochs", low=0, integer=True)
        initial_epoch = check_scalar(initial_epoch, "initial_epoch", low=0, integer=True)
        shuffle = check_bool(shuffle, "shuffle")
        validation_split = check_scalar(validation_split, "validation_split", low=0, high=1,
                                        high_inclusive=False)
        X = self._as_inputs(x, "x")
        Y, y_raw = self._as_targets(y, len(X), "y")
        val = None
        if validation_data is not None:
            xv, yv = _unpack_validation(validation_data)
            Xv = _engine.as_inputs(xv, self.dtype, "validation_data[0]", X.shape[1])
            val = (Xv, *self._as_targets(yv, len(Xv), "validation_data[1]"))
        elif validation_split > 0:
            n_all = len(X)
            split_at = int(math.floor(n_all * (1.0 - validation_split)))
            if split_at in (0, n_all):
                raise ValueError(f"x has {n_all} samples, which is not enough to split them "
                                 f"into training and validation sets with validation_split="
                                 f"{validation_split}; give more data or another fraction")
            val = (X.take(slice(split_at, None)), Y[split_at:], y_raw[split_at:])
            X, Y, y_raw = X.take(slice(None, split_at)), Y[:split_at], y_raw[:split_at]
        sizes = [X.shape[1]] + [layer.units for layer in self._layers]
        n_params = _params.n_params(sizes)
        state = self.optimizer._ensure_state(n_params, self.dtype)
        train_metrics = self._metric_fns(y_raw)
        val_metrics = self._metric_fns(val[2]) if val is not None else {}
        network = self._network(sizes)
        update = _engine.Update(batch_size=batch_size, zero_biases=self._frozen_bias_index(sizes),
                                **self.optimizer._kernel_args())
        data = _engine.prepare(network, X, update)  # proves x finite
        n = len(X)
        steps = -(-n // batch_size)

        with _engine.training(self, f"model {self.name!r}"):
            if not self.built:
                self._input_dim = X.shape[1]
                self._build()
            history = History()
            history.set_model(self)
            history.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
            history.on_train_begin()
            self.history = history
            progress = [None]

            def order(epoch):  # called as each epoch begins
                _progress.epoch_header(epoch, epochs, verbose)
                progress[0] = _progress.Progress(steps, verbose)
                return self._rng.permutation(n) if shuffle else np.arange(n, dtype=np.int64)

            def on_chunk(epoch, done, loss_sum):
                progress[0].update(-(-done // batch_size), {"loss": loss_sum / done})

            def on_epoch(epoch, result, params, opt):
                # Publish the completed epoch: weights, optimizer state, step count.
                self._params, self.optimizer._state = params, opt.state
                self.optimizer.iterations += steps
                # The loss is the kernel's running mean over the epoch, as Keras reports
                # it; the metrics use the end-of-epoch weights (see the module notes).
                logs = {"loss": result.mean_loss}
                if train_metrics:
                    logs = self._logs(_engine.predict(network, params, X), Y, y_raw,
                                      train_metrics, loss=result.mean_loss)
                if val is not None:
                    logs.update(self._logs(_engine.predict(network, params, val[0]), val[1],
                                           val[2], val_metrics, prefix="val_"))
                progress[0].finish(logs)
                history.on_epoch_end(epoch, logs)
                return False

            # Optimizers with bias corrections count their steps as Keras' iterations.
            opt = _engine.OptimizerState(
                state, self.optimizer.iterations if update.counts_steps else 0)
            # A live bar on a terminal is redrawn between kernel calls; otherwise the
            # epoch runs without a Python call between its kernel calls.
            live = verbose == 1 and _progress.Progress(steps, verbose).dynamic
            result = _engine.fit(network, self._params, data, Y, epochs=epochs - initial_epoch,
                                 first_epoch=initial_epoch, update=update, opt=opt, order=order,
                                 on_epoch=on_epoch, on_chunk=on_chunk if live else None)
        if result.status is _engine.Status.INTERRUPTED:
            progress[0].abort()
            raise KeyboardInterrupt
        if result.status is _engine.Status.DIVERGED:
            progress[0].abort()
            warnings.warn(f"training diverged: {result.describe()}; training stopped and the "
                          "weights are those of the end of the previous epoch. Try a smaller "
                          "learning_rate or scale the inputs.", RuntimeWarning, stacklevel=2)
        return history

    # -- inference ---------------------------------------------------------------------

    def _ensure_built(self, X):
        if not self.built:
            if self._input_dim is None:
                self._input_dim = X.shape[1]
            self._build()

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False,
                 **kwargs):
        """Loss and metrics on (x, y) with the current weights.

        Returns
        -------
        float, list of float or dict
            The loss alone without metrics; ``[loss, metric, ...]`` in the order
            of ``metrics_names`` otherwise; a dict if ``return_dict=True``.
        """
        reject_unsupported("evaluate", kwargs,
                           ("x", "y", "batch_size", "verbose", "return_dict"))
        self._require_loss("evaluate")
        self._require_layers("evaluate")
        verbose = _check_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        X = self._as_inputs(x, "x")
        Y, y_raw = self._as_targets(y, len(X), "y")
        progress = _progress.Progress(-(-len(X) // batch_size), verbose)
        self._ensure_built(X)
        logs = self._logs(self._forward(X), Y, y_raw, self._metric_fns(y_raw))
        progress.finish(logs)
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def predict(self, x, batch_size=None, verbose="auto", **kwargs):
        """Model outputs for each row of x: ndarray of shape (n_samples, n_outputs)."""
        reject_unsupported("predict", kwargs, ("x", "batch_size", "verbose"))
        self._require_layers("predict")
        verbose = _check_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        X = self._as_inputs(x, "x")
        progress = _progress.Progress(-(-len(X) // batch_size), verbose)
        self._ensure_built(X)
        out = self._forward(X)
        progress.finish({})
        return out

    # -- weights -----------------------------------------------------------------------

    def _layer_weights(self, i):
        w, b = _params.views(self._params, self._sizes, bias_shape="flat")
        layer = self._layers[i]
        return [w[i].T.copy(), b[i].copy()] if layer.use_bias else [w[i].T.copy()]

    def get_weights(self):
        """All weights in Keras' layout: ``[kernel_0 (n_in, units), bias_0, kernel_1, ...]``
        (copies; a layer with use_bias=False contributes its kernel only)."""
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

    def set_weights(self, weights):
        """Set every weight from a list in the layout of ``get_weights``.  Nothing
        changes unless every array has the right shape and finite values."""
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

    # -- persistence -------------------------------------------------------------------

    def save(self, filepath):
        """Write the model (architecture, weights, compile settings and optimizer
        state) to ``filepath`` in annfast's safe format; read it back with
        ``annfast.keras.load_model``.  Nothing is pickled.  See
        ``annfast.keras.saving``."""
        from annfast.keras import saving

        saving.save_model(self, filepath)

    def __repr__(self):
        return f"<Sequential name={self.name}, {len(self._layers)} Dense layers>"


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
        raise TypeError("validation_data must be a tuple (x_val, y_val)")
    if len(validation_data) == 3:
        raise ValueError("validation_data with sample weights (x, y, w) is not supported; "
                         "pass (x_val, y_val)")
    return validation_data


def _format_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
