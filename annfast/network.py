"""NeuralNet: a drop-in for the NumPy tutorial's class, trained by compiled kernels."""

import time
import warnings

import numpy as np

from annfast import _engine, _io, _params
from annfast._validation import (
    as_float_array,
    check_bool,
    check_choice,
    check_dtype,
    check_layers,
    check_path,
    check_random_state,
    check_same_length,
    check_scalar,
)
from annfast.activations import OUTPUT_LOSS, mean_loss, resolve_activation

#: The output activations of the tutorial's class, each with its matched loss.
OUTPUTS = ("softmax", "sigmoid", "identity")


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite; the model was rolled back."""


class NeuralNet:
    """A fully connected network trained by per-sample SGD with L2 decay.

    Drop-in for the tutorial class: same constructor, ``weights``/``biases``
    lists, ``train``, ``test`` and ``dump``; plus ``fit``/``predict`` for arrays.

    Parameters
    ----------
    layers : list of int
        Units per layer, input first, e.g. ``[784, 32, 10]``.
    learning_rate : float, default 0.05
        SGD step size (> 0).
    reg_lambda : float, default 0.01
        L2 strength of the objective ``sum_i loss_i + reg_lambda/2 * sum ||W||^2``
        over the n training samples, so each per-sample step decays the weights by
        ``learning_rate * reg_lambda / n``.  Biases are not decayed.
    activation : str, default 'relu'
        Hidden activation: identity, relu, leaky_relu, sigmoid, tanh (or softmax).
    output : {'softmax', 'sigmoid', 'identity'}, default 'softmax'
        Output activation; it fixes the loss: categorical cross-entropy, binary
        cross-entropy or squared error.  The output layer is linear before it.
    init : {'xavier', 'glorot_uniform', 'he', 'normal'}, default 'xavier'
        Weight initialisation; 'normal' is the tutorial code's normal(0, 0.1).
    dtype : float32 or float64, default float64
    seed : int, numpy Generator or None
        Seeds the initial weights and the shuffling; the same seed gives the
        same bits.
    leaky_slope : float, default 0.1
        Slope of leaky_relu for negative inputs.

    Attributes
    ----------
    weights : list of ndarray of shape (n_out, n_in)
    biases : list of ndarray of shape (n_out, 1)
        Views into one parameter buffer.  Editing them in place, or assigning
        new arrays to their entries, takes effect at the next call.
    """

    def __init__(self, layers, learning_rate=0.05, reg_lambda=0.01, *, activation="relu",
                 output="softmax", init="xavier", dtype=np.float64, seed=None,
                 leaky_slope=0.1):
        sizes = check_layers(layers)
        init = check_choice(init, "init", _params.INITS)
        dtype = check_dtype(dtype)
        rng = check_random_state(seed)
        settings = _settings(learning_rate, reg_lambda, activation, output, leaky_slope)

        self.layers = list(sizes)
        self.num_layers = len(sizes)
        (self.learning_rate, self.reg_lambda, self.activation, self.output,
         self.leaky_slope) = settings
        self.init = init
        self.dtype = dtype
        self._rng = rng
        self._set_params(_params.init_params(sizes, init, rng, dtype))

    # -- parameters -----------------------------------------------------------------

    def _network(self):
        """The engine's view of this model, from its (re-validated) attributes."""
        _, _, activation, output, slope = self._checked_settings()
        acts = [activation] * (self.num_layers - 2) + [output]
        return _engine.Network(self.layers, acts, OUTPUT_LOSS[output], self.dtype, slope)

    def _checked_settings(self):
        """The public attributes, checked again: they may have been reassigned."""
        return _settings(self.learning_rate, self.reg_lambda, self.activation, self.output,
                         self.leaky_slope)

    def _set_params(self, params):
        # Views first, then three plain assignments: a Ctrl-C arriving here can
        # only fall between them, never inside the computation.
        weights, biases = _params.views(params, self.layers)
        self._params, self.weights, self.biases = params, weights, biases

    def _pack(self):
        """A fresh copy of the parameters, taken from the public lists.

        Reading the lists (not the buffer) is what makes assignments such as
        ``net.weights[0] = W`` take effect.  A fit in another thread may publish
        a new epoch between the two attribute reads; re-reading until both lists
        are unchanged keeps weights and biases from the same epoch."""
        while True:
            weights, biases = self.weights, self.biases
            params = _params.pack(weights, biases, self.layers, self.dtype)
            if self.weights is weights and self.biases is biases:
                return params

    @property
    def n_params(self):
        """Number of weights and biases."""
        return self._params.size

    # -- data -----------------------------------------------------------------------

    def _as_inputs(self, X, argument="X"):
        return _engine.as_inputs(X, self.dtype, argument, self.layers[0])

    def _as_targets(self, y, n, argument="y"):
        """Targets as an (n, n_outputs) float array: one-hot for integer labels."""
        k = self.layers[-1]
        arr = np.asarray(y)
        if arr.dtype.kind in "OUSVcmM":
            raise TypeError(f"{argument} must be numeric labels or target vectors, "
                            f"got dtype {arr.dtype}")
        if arr.ndim == 1 and self.output != "identity" and k > 1:
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise ValueError(f"{argument} contains NaN or infinity")
            labels = arr.astype(np.int64)
            if arr.dtype.kind == "f" and not np.array_equal(labels, arr):
                raise ValueError(f"{argument} holds non-integer class labels")
            if len(labels) and (labels.min() < 0 or labels.max() >= k):
                raise ValueError(f"{argument} labels must be in [0, {k}) for {k} output units, "
                                 f"got range [{labels.min()}, {labels.max()}]")
            Y = np.zeros((len(labels), k), dtype=self.dtype)
            Y[np.arange(len(labels)), labels] = 1
        else:
            if arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            Y = as_float_array(arr.reshape(len(arr), -1) if arr.ndim > 2 else arr, argument,
                               self.dtype, allow_empty=True)
            if Y.shape[1] != k:
                raise ValueError(f"{argument} has {Y.shape[1]} values per sample, but the "
                                 f"network has {k} outputs (layers[-1])")
            if self.output != "identity" and Y.size and (Y.min() < 0 or Y.max() > 1):
                # Cross-entropy against a "probability" outside [0, 1] has no minimum.
                raise ValueError(f"{argument} values must be in [0, 1] (probabilities) for "
                                 f"output={self.output!r}, got range [{Y.min()}, {Y.max()}]")
        if len(Y) != n:
            check_same_length(np.empty(n), Y, "X", argument)
        return Y

    def _as_dataset(self, data, argument):
        """(Inputs, Y) from the tutorial's list of (x, y) pairs or a tuple of arrays."""
        if (isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray)
                and data[0].ndim == 2):
            X = self._as_inputs(data[0], f"{argument}[0]")
            return X, self._as_targets(data[1], len(X), f"{argument}[1]")
        try:
            n = len(data)
        except TypeError:
            raise TypeError(f"{argument} must be a list of (x, y) pairs or a tuple (X, y) of "
                            f"arrays, got {type(data).__name__}") from None
        if n == 0:
            raise ValueError(f"{argument} is empty; at least one (x, y) pair is required")
        try:
            xs, ys = zip(*data)
        except (TypeError, ValueError):
            raise ValueError(f"{argument} must be a list of (x, y) pairs") from None
        # Mostly-zero rows of one dtype go straight into the sparse layout in one
        # compiled pass; anything else (or anything wrong) takes the general path.
        X = _engine.inputs_from_vectors(xs, self.dtype, self.layers[0], f"{argument} inputs")
        if X is None:
            X = self._stacked_inputs(xs, argument)
        try:
            Y = np.array(ys)
        except ValueError:
            raise ValueError(f"{argument}: the targets y do not all have the same shape") from None
        if Y.ndim == 3 and Y.shape[2] == 1:
            Y = Y[:, :, 0]
        return X, self._as_targets(Y, n, f"{argument} targets")

    def _stacked_inputs(self, xs, argument):
        try:
            X = np.array(xs)  # one stacked copy: (n, d) or (n, d, 1)
        except ValueError:
            X = None
        if X is None or X.dtype == object:
            X = _stack_vectors(xs, f"{argument}: the inputs x")
        if X.ndim == 3 and X.shape[2] == 1:
            X = X[:, :, 0]
        if X.ndim != 2:
            raise ValueError(f"{argument}: each x must be a vector of {self.layers[0]} values "
                             f"(shape (n,) or (n, 1)), got shape {X.shape[1:]}")
        return self._as_inputs(X, f"{argument} inputs")

    # -- training -------------------------------------------------------------------

    def train(self, training_data, validation_data=None, epochs=10, *, shuffle=True,
              verbose=True, on_divergence="raise"):
        """Train with per-sample SGD, as the tutorial's ``train``.

        Parameters
        ----------
        training_data : list of (x, y) pairs, or tuple (X, Y) of arrays
            x of shape (n,) or (n, 1); y a one-hot (k, 1) column, a (k,) vector or an
            int label.  The list is not shuffled in place (the tutorial's was).
        validation_data : same forms, optional
            Only evaluated (accuracy and loss after each epoch), never trained on.
        epochs : int, default 10
        shuffle : bool, default True
            Visit the samples in a new random order each epoch.
        verbose : bool, default True
            Print one line per epoch.
        on_divergence : {'raise', 'warn'}
            If the loss becomes NaN/inf the parameters go back to the start of that
            epoch, then TrainingDivergedError is raised or a RuntimeWarning issued
            (and training stops).  Ctrl-C keeps the last completed epoch; see the
            Notes of ``fit``.

        Returns
        -------
        history : dict of lists
            ``loss`` (mean training loss per epoch, data term), ``time``, and with
            validation data ``val_loss`` and ``val_accuracy`` (percent).
        """
        X, Y = self._as_dataset(training_data, "training_data")
        val = None
        if validation_data is not None:
            val = self._as_dataset(validation_data, "validation_data")
        return self._fit_arrays(X, Y, epochs, shuffle, verbose, val, on_divergence)

    def fit(self, X, y, epochs=10, *, validation_data=None, shuffle=True, verbose=False,
            on_divergence="raise"):
        """Train on arrays with per-sample SGD; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, layers[0])
            Any real dtype, layout or strides; converted to ``dtype`` (a copy).  A
        scipy.sparse matrix is trained on as it is (the sparse first-layer path).
        y : array-like of shape (n_samples,) or (n_samples, layers[-1])
            Integer class labels in [0, layers[-1]) (one-hot encoded here), or
            target vectors (in [0, 1] for softmax/sigmoid outputs).
        epochs, validation_data, shuffle, verbose, on_divergence
            As in ``train``; ``validation_data`` is a tuple ``(X_val, y_val)``.

        Notes
        -----
        Every argument is checked before anything changes; a bad one raises
        ValueError or TypeError and leaves the model as it was.

        Each epoch trains a copy of the parameters that replaces them only when
        the epoch completes, so:

        * divergence (a NaN or infinite loss, or non-finite parameters at the end
          of an epoch) restores the parameters of the start of that epoch, then
          raises TrainingDivergedError naming the epoch and sample (or warns and
          stops, with ``on_divergence='warn'``);
        * Ctrl-C (KeyboardInterrupt), noticed by the compiled loop between chunks
          of samples (a few milliseconds of work), leaves the parameters as of
          the last completed epoch; ``history_`` is not updated.  The random
          generator has advanced, so a rerun does not repeat the same shuffles.

        One model trains in one thread at a time: a second concurrent ``fit`` or
        ``train`` raises RuntimeError.  Different models train in parallel (the
        compiled loop releases the GIL).
        """
        X = self._as_inputs(X)
        Y = self._as_targets(y, len(X))
        val = None
        if validation_data is not None:
            if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
                raise TypeError("validation_data must be a tuple (X_val, y_val), got "
                                f"{type(validation_data).__name__}")
            Xv = self._as_inputs(validation_data[0], "validation_data[0]")
            val = Xv, self._as_targets(validation_data[1], len(Xv), "validation_data[1]")
        self.history_ = self._fit_arrays(X, Y, epochs, shuffle, verbose, val, on_divergence)
        return self

    def _fit_arrays(self, X, Y, epochs, shuffle, verbose, val, on_divergence):
        epochs = check_scalar(epochs, "epochs", low=0, integer=True)
        shuffle = check_bool(shuffle, "shuffle")
        verbose = check_bool(verbose, "verbose")
        on_divergence = check_choice(on_divergence, "on_divergence", ("raise", "warn"))
        lr, reg_lambda, _, output, _ = self._checked_settings()
        network = self._network()
        params = self._pack()  # validates user-edited weights before anything changes
        n = len(Y)
        # The L2 term reg_lambda/2 ||W||^2 is spread over the n per-sample steps.
        update = _engine.Update(lr=lr, l2=reg_lambda / n)
        data = _engine.prepare(network, X, update)  # proves X finite
        history = {"loss": [], "time": []}
        if val is not None:
            history["val_loss"] = []
            history["val_accuracy"] = []
        started = [time.perf_counter()]

        def order(epoch):
            return self._rng.permutation(n) if shuffle else np.arange(n)

        def on_epoch(epoch, result, params, opt):
            self._set_params(params)  # each completed epoch is published at once
            history["loss"].append(result.mean_loss)
            history["time"].append(time.perf_counter() - started[0])
            line = f"epoch {epoch + 1}/{epochs}  loss {result.mean_loss:.4f}"
            if val is not None:
                out = _engine.predict(network, params, val[0])
                vloss = mean_loss(OUTPUT_LOSS[output], out, val[1])
                vacc = 100.0 * _accuracy(out, val[1], output)
                history["val_loss"].append(vloss)
                history["val_accuracy"].append(vacc)
                line += f"  val_loss {vloss:.4f}  val_accuracy {vacc:.2f}%"
            if verbose:
                print(f"{line}  ({history['time'][-1]:.3f} s)", flush=True)
            started[0] = time.perf_counter()
            return False

        with _engine.training(self, "this NeuralNet"):
            self._set_params(params)
            result = _engine.fit(network, params, data, Y, epochs=epochs, update=update,
                                 order=order, on_epoch=on_epoch)
            # Whatever ended the run, the model keeps its last completed epoch.
            self._set_params(result.params)
        if result.status is _engine.Status.INTERRUPTED:
            raise KeyboardInterrupt
        if result.status is _engine.Status.DIVERGED:
            msg = (f"training diverged: {result.describe()}; the parameters were restored "
                   f"to the start of epoch {result.epochs + 1}. Try a smaller learning_rate "
                   f"(now {lr}) or scale the inputs.")
            if on_divergence == "raise":
                raise TrainingDivergedError(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return history

    # -- prediction -----------------------------------------------------------------

    def _forward(self, X):
        """Outputs for the Inputs X (its finiteness is proven on the way)."""
        return _engine.predict(self._network(), self._pack(), X)

    def predict_proba(self, X):
        """Network outputs for each row of X, shape (n_samples, layers[-1]):
        class probabilities for softmax/sigmoid outputs, values for identity."""
        return self._forward(self._as_inputs(X))

    def predict(self, X):
        """Class labels (argmax; threshold 0.5 for one sigmoid unit) for
        classification outputs; the output values for ``output='identity'``."""
        out = self.predict_proba(X)
        return _decide(out, self.output)

    def feedforward(self, x):
        """Output column of shape (layers[-1], 1) for one sample x of shape (n,) or (n, 1)."""
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"x could not be read as a numeric vector: {exc}") from None
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"x must have shape ({self.layers[0]},) or ({self.layers[0]}, 1), "
                             f"got {x.shape}")
        return self._forward(self._as_inputs(x.reshape(1, -1), "x")).reshape(-1, 1)

    def test(self, test_data):
        """Accuracy in percent on a list of (x, y) pairs (or a tuple (X, Y)), as the tutorial."""
        X, Y = self._as_dataset(test_data, "test_data")
        return 100.0 * _accuracy(self._forward(X), Y, self.output)

    def score(self, X, y):
        """Mean accuracy (fraction) on arrays X, y."""
        X = self._as_inputs(X)
        return _accuracy(self._forward(X), self._as_targets(y, len(X)), self.output)

    # -- persistence ------------------------------------------------------------------

    def dump(self, file):
        """Pickle the model to ``file`` (atomically), as the tutorial's ``dump``.
        Never unpickle files from untrusted sources; prefer ``save``/``load``."""
        _io.dump_pickle(self, check_path(file, "file"))

    def _config(self):
        return {
            "layers": self.layers, "learning_rate": self.learning_rate,
            "reg_lambda": self.reg_lambda, "activation": self.activation,
            "output": self.output, "init": self.init, "leaky_slope": self.leaky_slope,
        }

    def save(self, path):
        """Write the model to ``path`` in annfast's safe format (see ``load``)."""
        _io.save_model(check_path(path), "NeuralNet", self._config(), self._pack())

    @classmethod
    def load(cls, path):
        """Read a model written by ``save``; nothing is unpickled and every part of
        the file is verified (format version, architecture, dtype, checksum)."""
        path = check_path(path)
        config, params = _io.load_model(path, "NeuralNet")
        try:
            # Check the size first: the constructor allocates for the layers it is given.
            if _params.n_params(check_layers(config["layers"])) != params.size:
                raise ValueError(f"{params.size} parameters do not fit layers "
                                 f"{config['layers']}")
            net = cls(config["layers"], config["learning_rate"], config["reg_lambda"],
                      activation=config["activation"], output=config["output"],
                      init=config["init"], dtype=params.dtype,
                      leaky_slope=config["leaky_slope"], seed=0)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path!r}: invalid model configuration: {exc}") from None
        if params.size != net.n_params:
            raise ValueError(f"{path!r}: {params.size} parameters do not fit layers "
                             f"{config['layers']}")
        if not np.isfinite(params).all():
            raise ValueError(f"{path!r}: parameters contain NaN or infinity")
        net._set_params(params)
        return net

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_params"] = self._pack()
        for key in ("weights", "biases"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        params = state.pop("_params")
        self.__dict__.update(state)
        self._set_params(params)

    def __repr__(self):
        return (f"NeuralNet({self.layers}, learning_rate={self.learning_rate}, "
                f"reg_lambda={self.reg_lambda}, activation={self.activation!r}, "
                f"output={self.output!r}, dtype={np.dtype(self.dtype).name})")


def _stack_vectors(xs, what):
    """Stack vectors given in mixed forms, (d,) and (d, 1), into (n, d); the slow
    path, taken only when the plain np.array(xs) fails."""
    rows = []
    for i, x in enumerate(xs):
        try:
            x = np.asarray(x)
        except ValueError as exc:
            raise ValueError(f"{what}[{i}] could not be read as a vector: {exc}") from None
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1 or (rows and x.shape != rows[0].shape):
            first = f" (the first has shape {rows[0].shape})" if rows else ""
            raise ValueError(f"{what} do not all have the same length: item {i} has shape "
                             f"{x.shape}{first}")
        rows.append(x)
    return np.array(rows)


def _decide(out, output):
    if output == "identity":
        return out
    if out.shape[1] == 1:
        return (out[:, 0] > 0.5).astype(np.int64)
    return np.argmax(out, axis=1)


def _accuracy(out, Y, output):
    if out.shape[1] == 1:
        return float(np.mean((out[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
    return float(np.mean(np.argmax(out, axis=1) == np.argmax(Y, axis=1)))


def _settings(learning_rate, reg_lambda, activation, output, leaky_slope):
    """NeuralNet's trainable settings, checked (at construction and every fit)."""
    learning_rate = check_scalar(learning_rate, "learning_rate", low=0, low_inclusive=False)
    reg_lambda = check_scalar(reg_lambda, "reg_lambda", low=0)
    activation = resolve_activation(activation, "activation")
    output = resolve_activation(output, "output", allowed=OUTPUTS)
    leaky_slope = check_scalar(leaky_slope, "leaky_slope", low=0)
    return learning_rate, reg_lambda, activation, output, leaky_slope
