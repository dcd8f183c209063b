"""Export a playground network: a short Python script that rebuilds and retrains
it, and its trained weights as a model file.

The front end is the one that can express the settings:

* ``annfast.keras`` for plain SGD with any batch size (Keras' ``fit`` averages the
  gradient over a batch, as the playground does);
* ``annfast.NeuralNet`` when there is a weight penalty (its ``reg_lambda`` is
  the playground's L2 rate: objective ``sum_i loss_i + rate/2 * ||W||^2``) or
  the batch size is 1.  NeuralNet steps one sample at a time.

The model file is that front end's own format (``NeuralNet.save`` or
``Sequential.save``), read back with ``NeuralNet.load`` or
``annfast.keras.models.load_model``.
"""

import os
import tempfile

from annfast.playground import datasets
from annfast.playground.trainer import INIT, LEAKY_SLOPE


def frontend(cfg):
    """'neuralnet' or 'keras' (see the module notes)."""
    penalty = cfg["regularization"] != "none" and cfg["reg_rate"] > 0
    return "neuralnet" if penalty or cfg["batch_size"] == 1 else "keras"


def model_filename(cfg):
    return "playground-model.npz"


def _data_lines(cfg):
    return [
        "from annfast.playground import datasets",
        "",
        f"FEATURES = {cfg['features']!r}",
        f"points, y = datasets.generate({cfg['dataset']!r}, n_points={cfg['points']}, "
        f"noise={cfg['noise']!r}, seed={cfg['seed']})",
        "X = datasets.features(points, FEATURES)",
        f"n_train = datasets.split(len(X), {cfg['train_percent']!r})",
        "X_train, y_train = X[:n_train], y[:n_train]",
        "X_test, y_test = X[n_train:], y[n_train:]",
    ]


def _slope(activation):
    return f", leaky_slope={LEAKY_SLOPE}" if activation == "leaky_relu" else ""


def _keras_activation(name):
    return "linear" if name == "identity" else name


def script(cfg, epochs):
    """The text of a Python script that trains this network for ``epochs`` epochs."""
    regression = datasets.is_regression(cfg["dataset"])
    hidden, act = cfg["hidden"], cfg["activation"]
    n_in = len(cfg["features"])
    epochs = max(int(epochs), 1)
    lines = [
        '"""Rebuild and retrain the network of an annfast playground session."""',
        "",
    ]
    if frontend(cfg) == "neuralnet":
        lines[2:2] = ["from annfast import NeuralNet"]
        lines += _data_lines(cfg) + [""]
        if cfg["regularization"] == "L1" and cfg["reg_rate"] > 0:
            lines += ["# NeuralNet has no L1 penalty: this network trains without the "
                      f"playground's L1 rate {cfg['reg_rate']}."]
        reg = cfg["reg_rate"] if cfg["regularization"] == "L2" else 0.0
        if cfg["batch_size"] > 1:
            lines += [f"# The playground took batches of {cfg['batch_size']}; NeuralNet steps",
                      "# one sample at a time, on the same objective."]
        lines += [
            f"net = NeuralNet({[n_in] + hidden + [1]!r}, learning_rate={cfg['learning_rate']!r}, "
            f"reg_lambda={reg!r},",
            f"                activation={act!r}, "
            f"output={'identity' if regression else 'sigmoid'!r}, init={INIT!r}, "
            f"seed={cfg['seed']}{_slope(act)})",
            f"net.fit(X_train, y_train, epochs={epochs})",
        ]
        if regression:
            lines += ["test_mse = float(np.mean((net.predict(X_test)[:, 0] - y_test) ** 2))",
                      'print(f"test mean squared error: {test_mse:.4f}")']
            lines[2:2] = ["import numpy as np", ""]
        else:
            lines += ['print(f"test accuracy: {net.score(X_test, y_test):.3f}")']
        lines += ["# The page's trained weights: net = NeuralNet.load("
                  f"{model_filename(cfg)!r})"]
    else:
        lines[2:2] = ["from annfast import keras"]
        lines += _data_lines(cfg) + ["", "model = keras.Sequential()"]
        units = hidden + [1]
        for i, u in enumerate(units):
            last = i == len(units) - 1
            activation = ("linear" if regression else "sigmoid") if last else \
                _keras_activation(act)
            dim = f", input_dim={n_in}" if i == 0 else ""
            lines.append(f"model.add(keras.layers.Dense(units={u}{dim}, "
                         f"activation={activation!r}, dtype='float64'))")
        lr = cfg["learning_rate"]
        if regression:
            # Keras' mean squared error is (a - y)^2, twice the playground's
            # 0.5 * (a - y)^2: half the step makes the same updates.
            lines.append("# Keras' squared error is twice the playground's: half the step.")
            lr = lr / 2
        loss = "mse" if regression else "binary_crossentropy"
        metrics = "" if regression else ', metrics=["acc"]'
        lines += [
            f"model.compile(loss={loss!r}, optimizer=keras.optimizers.SGD(learning_rate={lr!r})"
            f"{metrics})",
            f"model.fit(X_train, y_train, batch_size={cfg['batch_size']}, epochs={epochs}, "
            "verbose=0)",
            'print("test loss and metrics:", model.evaluate(X_test, y_test, verbose=0))',
            "# The page's trained weights: model = keras.models.load_model("
            f"{model_filename(cfg)!r})",
        ]
    return "\n".join(lines) + "\n"


def model_bytes(state):
    """The trained network (``Session`` export state) as the bytes of a model file."""
    cfg = state["config"]
    regression = datasets.is_regression(cfg["dataset"])
    sizes, weights, biases = state["sizes"], state["weights"], state["biases"]
    if frontend(cfg) == "neuralnet":
        from annfast import NeuralNet

        net = NeuralNet(sizes, cfg["learning_rate"],
                        cfg["reg_rate"] if cfg["regularization"] == "L2" else 0.0,
                        activation=cfg["activation"],
                        output="identity" if regression else "sigmoid", init=INIT, seed=0,
                        leaky_slope=LEAKY_SLOPE)
        for k, (W, b) in enumerate(zip(weights, biases)):
            net.weights[k][...] = W
            net.biases[k][...] = b.reshape(-1, 1)
        save = net.save
    else:
        from annfast import keras

        model = keras.Sequential()
        for i, u in enumerate(sizes[1:]):
            last = i == len(sizes) - 2
            activation = ("linear" if regression else "sigmoid") if last else \
                _keras_activation(cfg["activation"])
            model.add(keras.layers.Dense(units=u, activation=activation, dtype="float64"))
        lr = cfg["learning_rate"] / 2 if regression else cfg["learning_rate"]
        model.compile(loss="mse" if regression else "binary_crossentropy",
                      optimizer=keras.optimizers.SGD(learning_rate=lr))
        model.build((None, sizes[0]))
        # Keras keeps each kernel as (n_in, units): the transpose of annfast's W.
        model.set_weights([a for W, b in zip(weights, biases) for a in (W.T, b)])
        save = model.save
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, model_filename(cfg))
        save(path)
        with open(path, "rb") as f:
            return f.read()

