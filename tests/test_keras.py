"""The Keras-style front end: the tutorial's models, Keras semantics, exact agreement
with the reference, persistence and the errors for what is not supported."""

import io

import numpy as np
import pytest
from conftest import flatten

from annfast import NeuralNet, _params, keras, reference
from annfast.keras import layers, optimizers

# -- data the tests make --------------------------------------------------------------


def linear_data(rng, n=400):
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.3 + rng.normal(0.0, 0.1, size=n)
    return X, y


def separable_data(rng, n=400):
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] - 0.5 * X[:, 1] > 0).astype(float)


def three_class_data(rng, n=600):
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    labels = rng.integers(0, 3, size=n)
    return centers[labels] + rng.normal(0.0, 0.5, size=(n, 2)), labels


@pytest.fixture
def seeded():
    keras.utils.set_random_seed(0)
    return np.random.default_rng(0)


def tutorial_fc(n_in, dtype=None):
    """The tutorial's fully connected net: Dense(10, sigmoid) -> Dense(1, sigmoid)."""
    model = keras.models.Sequential()
    model.add(keras.layers.Dense(units=10, input_dim=n_in, activation="sigmoid", dtype=dtype))
    model.add(keras.layers.Dense(units=1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["acc"])
    return model


# -- the tutorial's four models -------------------------------------------------------


def test_linear_regression(seeded):
    X, y = linear_data(seeded)
    model = keras.models.Sequential()
    model.add(keras.layers.Dense(units=1, input_dim=X.shape[1]))
    model.compile(loss="mean_squared_error", optimizer="sgd")
    history = model.fit(X, y, epochs=20, verbose=0)
    assert list(history.history) == ["loss"]
    assert history.history["loss"][-1] < 0.02  # the noise variance is 0.01
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel[:, 0], [1.5, -2.0, 0.5], atol=0.05)
    np.testing.assert_allclose(bias, [0.3], atol=0.05)


def test_logistic_regression(seeded):
    X, y = separable_data(seeded)
    model = keras.models.Sequential()
    model.add(keras.layers.Dense(units=1, input_dim=X.shape[1], activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["acc"])
    history = model.fit(X, y, epochs=100, verbose=0)
    assert history.history["acc"][-1] >= 0.97
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_fully_connected_tutorial_call(seeded, capsys):
    X, y = separable_data(seeded, 1000)
    X_train, y_train, X_valid, y_valid = X[:800], y[:800], X[800:], y[800:]
    model = tutorial_fc(X_train.shape[1])
    history = model.fit(X_train, y_train, epochs=60, verbose=2,
                        validation_data=(X_valid, y_valid))
    assert list(history.history) == ["loss", "acc", "val_loss", "val_acc"]
    assert history.history["val_acc"][-1] >= 0.93
    assert history.history["loss"][-1] < 0.5
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/60" and len(lines) == 120
    assert lines[1].startswith("25/25 - ") and " - val_acc: " in lines[1]


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_softmax_classification(seeded, loss):
    X, labels = three_class_data(seeded)
    y = np.eye(3)[labels] if loss == "categorical_crossentropy" else labels
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(3, activation="softmax")])
    model.compile(loss=loss, optimizer="sgd", metrics=["acc"])
    history = model.fit(X, y, epochs=10, verbose=0)
    assert history.history["acc"][-1] >= 0.97
    assert history.history["loss"][-1] < 0.5
    assert np.mean(np.argmax(model.predict(X, verbose=0), axis=1) == labels) >= 0.97


# -- Keras semantics ------------------------------------------------------------------


def test_history_keys_epochs_and_params(seeded):
    X, labels = three_class_data(seeded, 90)
    model = keras.Sequential([layers.Dense(4, input_dim=2, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "mae"])
    history = model.fit(X, labels, batch_size=10, epochs=3, initial_epoch=1, verbose=0,
                        validation_split=0.2)
    assert list(history.history) == ["loss", "accuracy", "mae", "val_loss", "val_accuracy",
                                     "val_mae"]
    assert history.epoch == [1, 2]
    assert all(len(v) == 2 for v in history.history.values())
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 8}  # 72 samples / 10
    assert model.history is history
    assert model.metrics_names == ["loss", "accuracy", "mae"]


def test_accuracy_resolution_and_values(seeded):
    """'acc' is binary for one output, categorical for one-hot targets and sparse for
    integer labels, and each value equals the one computed by hand."""
    X, labels = three_class_data(seeded, 60)
    onehot = np.eye(3)[labels]
    for loss, y in (("categorical_crossentropy", onehot),
                    ("sparse_categorical_crossentropy", labels),
                    ("sparse_categorical_crossentropy", labels.reshape(-1, 1))):
        model = keras.Sequential([layers.Dense(3, input_dim=2, activation="softmax")])
        model.compile(loss=loss, metrics=["acc", "mse"])
        loss_value, acc, mse = model.evaluate(X, y, verbose=0)
        out = model.predict(X, verbose=0)
        assert acc == np.mean(np.argmax(out, axis=1) == labels)
        expected_mse = np.mean((out - (onehot if y is onehot else y.reshape(-1, 1))) ** 2)
        assert mse == pytest.approx(expected_mse, rel=1e-12)
        assert loss_value == pytest.approx(-np.mean(np.log(out[np.arange(60), labels])),
                                           rel=1e-5)
    Xb, yb = separable_data(seeded, 50)
    model = keras.Sequential([layers.Dense(1, input_dim=2, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", metrics=["acc"])
    result = model.evaluate(Xb, yb, verbose=0, return_dict=True)
    out = model.predict(Xb, verbose=0)[:, 0]
    assert result["acc"] == np.mean((out > 0.5) == yb)
    p = out.astype(np.float64)
    assert result["loss"] == pytest.approx(-np.mean(yb * np.log(p) + (1 - yb) * np.log(1 - p)),
                                           rel=1e-6)


def test_defaults_are_keras_defaults(seeded):
    model = keras.Sequential([layers.Dense(2, input_dim=3)])
    model.compile(loss="mse")
    opt = model.optimizer
    assert isinstance(opt, optimizers.RMSprop)
    assert (opt.learning_rate, opt.rho, opt.epsilon) == (0.001, 0.9, 1e-7)
    model.compile(loss="mse", optimizer="sgd")
    assert isinstance(model.optimizer, optimizers.SGD)
    assert (model.optimizer.learning_rate, model.optimizer.momentum) == (0.01, 0.0)
    assert not model.optimizer.nesterov
    model.compile(loss="mse", optimizer="adam")
    adam = model.optimizer
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999,
                                                                           1e-7)
    assert model.dtype == "float32"
    assert model.predict(np.ones((2, 3)), verbose=0).dtype == np.float32
    # 70 samples in batches of 32 -> 3 steps.
    assert model.fit(np.ones((70, 3)), np.ones((70, 2)), verbose=0).params["steps"] == 3


def test_glorot_uniform_and_zero_bias(seeded):
    model = keras.Sequential([layers.Dense(300, input_dim=200), layers.Dense(5)])
    k0, b0, k1, b1 = model.get_weights()
    for kernel, (fan_in, fan_out) in ((k0, (200, 300)), (k1, (300, 5))):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        assert kernel.shape == (fan_in, fan_out)
        assert np.abs(kernel).max() <= limit
        assert np.abs(kernel).max() > 0.95 * limit  # uniform over the whole range
        assert abs(kernel.std() - limit / np.sqrt(3)) < 0.05 * limit
    assert not b0.any() and not b1.any()


def test_validation_split_takes_the_last_rows(seeded):
    X, y = separable_data(seeded, 100)
    model = tutorial_fc(2, dtype="float64")
    history = model.fit(X, y, epochs=1, validation_split=0.25, verbose=0)
    val_loss, val_acc = model.evaluate(X[75:], y[75:], verbose=0)
    assert history.history["val_loss"] == [val_loss]
    assert history.history["val_acc"] == [val_acc]
    assert history.params["steps"] == 3  # 75 training rows


def test_validation_data_overrides_split(seeded):
    X, y = separable_data(seeded, 100)
    model = tutorial_fc(2, dtype="float64")
    history = model.fit(X[:60], y[:60], epochs=1, validation_split=0.5, verbose=0,
                        validation_data=(X[60:], y[60:]))
    assert history.params["steps"] == 2  # all 60 rows trained on
    assert history.history["val_loss"] == [model.evaluate(X[60:], y[60:], verbose=0)[0]]


def test_training_metric_uses_end_of_epoch_weights_and_loss_is_running_mean(seeded):
    X, y = separable_data(seeded, 64)
    model = tutorial_fc(2, dtype="float64")
    start = model.get_weights()
    history = model.fit(X, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
    assert history.history["acc"] == [model.evaluate(X, y, verbose=0)[1]]
    # One batch: the reported loss is the loss of the starting weights.
    model.set_weights(start)
    assert history.history["loss"][0] == pytest.approx(model.evaluate(X, y, verbose=0)[0],
                                                       rel=1e-12)


def test_verbose_output(seeded, capsys):
    X, y = separable_data(seeded, 40)
    model = tutorial_fc(2)
    model.fit(X, y, epochs=2, verbose=0)
    model.evaluate(X, y, verbose=0)
    model.predict(X, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(X, y, epochs=2)  # verbose='auto' is 1: a bar per epoch
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("2/2 [==============================] - ")
    assert " - loss: " in out[1] and " - acc: " in out[1]
    model.fit(X, y, epochs=1, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].startswith("2/2 - ") and "[" not in out[1]


def test_live_progress_bar_gives_the_same_weights(seeded):
    """On a terminal verbose=1 splits each epoch into several kernel calls to redraw
    the bar; the arithmetic (and the Adam step count) must not change."""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    X, y = separable_data(seeded, 500)
    results = []
    for live in (False, True):
        model = tutorial_fc(2, dtype="float64")
        model.compile(loss="binary_crossentropy", optimizer="adam")
        model.set_weights(tutorial_fc(2, dtype="float64").get_weights() if not results
                          else results[0][0])
        start = model.get_weights()
        if live:
            from annfast.keras import _progress

            original = _progress.Progress.__init__

            def init(self, steps, verbose, stream=None):
                original(self, steps, verbose, Terminal())

            _progress.Progress.__init__ = init
            try:
                model.fit(X, y, epochs=2, verbose=1, shuffle=False, batch_size=4)
            finally:
                _progress.Progress.__init__ = original
        else:
            model.fit(X, y, epochs=2, verbose=0, shuffle=False, batch_size=4)
        results.append((start, model.get_weights(), model.optimizer.iterations))
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)
    assert results[0][2] == results[1][2] == 250


def test_same_seed_same_bits():
    X, y = separable_data(np.random.default_rng(3), 200)
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(42)
        model = tutorial_fc(2)
        model.fit(X, y, epochs=3, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


# -- exact agreement with NeuralNet and the reference ---------------------------------


def _to_reference(model):
    """(weights (n_out, n_in), biases (n_out,)) copies of a model's weights."""
    arrays = model.get_weights()
    return [k.T.copy() for k in arrays[0::2]], [b.copy() for b in arrays[1::2]]


def test_per_sample_sgd_matches_neuralnet(seeded):
    """batch_size=1 + SGD + sigmoid/BCE is the tutorial's per-sample SGD: NeuralNet
    started from the same weights ends an epoch with the same weights."""
    X, y = separable_data(seeded, 150)
    model = tutorial_fc(2, dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer=optimizers.SGD(learning_rate=0.3))
    net = NeuralNet([2, 10, 1], 0.3, 0.0, activation="sigmoid", output="sigmoid", seed=0)
    weights, biases = _to_reference(model)
    for i in range(2):
        net.weights[i][...] = weights[i]
        net.biases[i][...] = biases[i].reshape(-1, 1)
    history = model.fit(X, y, batch_size=1, epochs=2, shuffle=False, verbose=0)
    net.fit(X, y.reshape(-1, 1), epochs=2, shuffle=False)
    got_w, got_b = _to_reference(model)
    for i in range(2):
        np.testing.assert_allclose(got_w[i], net.weights[i], rtol=0, atol=1e-10)
        np.testing.assert_allclose(got_b[i], net.biases[i][:, 0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(history.history["loss"], net.history_["loss"], rtol=1e-12)


def test_mse_gradient_is_keras_gradient(seeded):
    """Keras' MSE is the mean over the k outputs of (a - y)^2: its gradient is 2/k
    times the plain squared-error gradient.  Check against the reference with
    loss_scale=2/k, per sample (batch_size=1)."""
    X = seeded.normal(size=(40, 3))
    Y = seeded.normal(size=(40, 2))
    model = keras.Sequential([layers.Dense(4, input_dim=3, activation="tanh", dtype="float64"),
                              layers.Dense(2)])
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=0.05))
    weights, biases = _to_reference(model)
    history = model.fit(X, Y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    mean_loss = reference.sgd_epoch(weights, biases, ["tanh", "identity"], "mse", X, Y,
                                    np.arange(40), 0.05, loss_scale=2 / 2)
    got_w, got_b = _to_reference(model)
    for i in range(2):
        np.testing.assert_allclose(got_w[i], weights[i], rtol=0, atol=1e-10)
        np.testing.assert_allclose(got_b[i], biases[i], rtol=0, atol=1e-10)
    assert history.history["loss"][0] == pytest.approx(mean_loss, rel=1e-12)


KERAS_TO_KERNEL_LOSS = {"mse": ("mse", lambda k: 2 / k),
                        "binary_crossentropy": ("bce", lambda k: 1 / k),
                        "categorical_crossentropy": ("ce", lambda k: 1.0)}


@pytest.mark.parametrize("out_act, loss", [
    ("sigmoid", "mse"), ("softmax", "mse"), ("tanh", "mse"), ("relu", "mse"),
    ("softmax", "binary_crossentropy"), ("sigmoid", "categorical_crossentropy"),
])
def test_unmatched_output_pairs_match_reference(seeded, out_act, loss):
    """Output activations not paired with the loss go through the general derivative
    path; per-sample SGD still equals the reference with Keras' loss scaling."""
    X = seeded.normal(size=(30, 3))
    Y = np.eye(3)[seeded.integers(0, 3, size=30)] * 0.8 + 0.1
    model = keras.Sequential([layers.Dense(4, input_dim=3, activation="tanh", dtype="float64"),
                              layers.Dense(3, activation=out_act)])
    model.compile(loss=loss, optimizer=optimizers.SGD(learning_rate=0.1))
    weights, biases = _to_reference(model)
    history = model.fit(X, Y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    kernel_loss, scale = KERAS_TO_KERNEL_LOSS[loss]
    # The probability losses use Keras' clip (prob_eps = 1e-7), as Keras trains them.
    options = {} if loss == "mse" else {"prob_eps": 1e-7}
    mean_loss = reference.sgd_epoch(weights, biases, ["tanh", out_act], kernel_loss, X, Y,
                                    np.arange(30), 0.1, loss_scale=scale(3), **options)
    got_w, got_b = _to_reference(model)
    for i in range(2):
        np.testing.assert_allclose(got_w[i], weights[i], rtol=0, atol=1e-10)
        np.testing.assert_allclose(got_b[i], biases[i], rtol=0, atol=1e-10)
    assert history.history["loss"][0] == pytest.approx(mean_loss, rel=1e-12)


def _keras_update(kind, p, g, state, cfg, t):
    """Keras' update rules (keras/src/optimizers), written out in NumPy."""
    lr = cfg["learning_rate"]
    if kind == "sgd":
        return p - lr * g
    if kind in ("momentum", "nesterov"):
        v = state.setdefault("v", np.zeros_like(p))
        v[...] = cfg["momentum"] * v - lr * g
        return p + v if kind == "momentum" else p + cfg["momentum"] * v - lr * g
    if kind == "rmsprop":
        v = state.setdefault("v", np.zeros_like(p))
        v[...] = cfg["rho"] * v + (1 - cfg["rho"]) * g * g
        return p - lr * g / np.sqrt(v + cfg["epsilon"])
    m = state.setdefault("m", np.zeros_like(p))
    v = state.setdefault("v", np.zeros_like(p))
    b1, b2 = cfg["beta_1"], cfg["beta_2"]
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    m += (g - m) * (1 - b1)
    v += (g * g - v) * (1 - b2)
    return p - m * alpha / (np.sqrt(v) + cfg["epsilon"])


OPTIMIZER_CASES = {
    "sgd": lambda: optimizers.SGD(learning_rate=0.1),
    "momentum": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "nesterov": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(learning_rate=0.01),
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
}


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("kind", sorted(OPTIMIZER_CASES))
def test_minibatch_optimizers_match_keras_rules(seeded, kind, use_bias):
    """Batches of 8 (last one of 5), the gradient the mean over each batch, each
    optimizer's Keras rule, two fit calls (state kept): float64 within 1e-10.
    use_bias=False layers must keep no bias at all."""
    X = seeded.normal(size=(21, 3))
    labels = seeded.integers(0, 3, size=21)
    model = keras.Sequential([
        layers.Dense(5, input_dim=3, activation="relu", dtype="float64", use_bias=use_bias),
        layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=OPTIMIZER_CASES[kind]())
    cfg = model.optimizer.get_config()
    kernels = [k.T.copy() for k in model.get_weights() if k.ndim == 2]
    weights = kernels
    biases = [np.zeros(5), model.get_weights()[-1].copy()]
    if use_bias:
        biases[0] = model.get_weights()[1].copy()
    sizes = [3, 5, 3]
    p = flatten(weights, biases)
    Y = np.eye(3)[labels]
    state, t = {}, 0
    bias0 = np.zeros(p.size, dtype=bool)
    bias0[slice(*list(_params.layer_offsets(sizes))[0][1:3])] = not use_bias
    for _ in range(2):
        model.fit(X, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
        for start in range(0, 21, 8):
            w, b = _params.views(p, sizes, bias_shape="flat")
            grads = [reference.backprop(w, b, ["relu", "softmax"], "ce", X[i], Y[i])
                     for i in range(start, min(start + 8, 21))]
            g = np.mean([flatten(gw, gb) for gw, gb, _ in grads], axis=0)
            g[bias0] = 0.0  # a layer without bias has no bias gradient
            t += 1
            p = _keras_update(kind, p, g, state, cfg, t)
    expected = _params.views(p, sizes, bias_shape="flat")
    got = model.get_weights()
    np.testing.assert_allclose(got[0].T, expected[0][0], rtol=0, atol=1e-10)
    if use_bias:
        np.testing.assert_allclose(got[1], expected[1][0], rtol=0, atol=1e-10)
        assert len(got) == 4
    else:
        assert len(got) == 3  # kernel, kernel, bias
        assert not expected[1][0].any()
    np.testing.assert_allclose(got[-2].T, expected[0][1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got[-1], expected[1][1], rtol=0, atol=1e-10)
    assert model.optimizer.iterations == 6


def test_use_bias_false_summary_and_weights(seeded):
    model = keras.Sequential([layers.Dense(4, input_dim=3, use_bias=False),
                              layers.Dense(1, activation="sigmoid")])
    lines = []
    model.summary(print_fn=lines.append)
    assert any(line.startswith("dense") and line.rstrip().endswith(" 12") for line in lines)
    assert model.count_params() == 12 + 5
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4, 1), (1,)]
    assert [w.shape for w in model.layers[0].get_weights()] == [(3, 4)]


# -- summary, save and load -----------------------------------------------------------


def test_summary_layout_and_counts():
    keras.backend.clear_session()
    model = keras.models.Sequential()
    model.add(keras.layers.Dense(units=10, input_dim=4, activation="sigmoid"))
    model.add(keras.layers.Dense(units=1, activation="sigmoid"))
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "sequential"'
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert lines[4].split() == ["dense", "(Dense)", "(None,", "10)", "50"]
    assert lines[6].split() == ["dense_1", "(Dense)", "(None,", "1)", "11"]
    assert "Total params: 61 (244.00 B)" in lines
    assert "Trainable params: 61 (244.00 B)" in lines
    assert "Non-trainable params: 0 (0.00 B)" in lines
    assert model.count_params() == 61
    assert [layer.count_params() for layer in model.layers] == [50, 11]


def test_summary_of_unbuilt_model_raises():
    model = keras.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()
    assert model.get_weights() == [] and model.layers[0].get_weights() == []
    with pytest.raises(ValueError, match="not built yet"):
        model.layers[0].set_weights([np.ones((7, 3)), np.ones(3)])
    model.build((None, 7))
    model.layers[0].set_weights([np.ones((7, 3)), np.arange(3.0)])
    np.testing.assert_array_equal(model.get_weights()[1], [0, 1, 2])
    assert model.count_params() == 24


def test_save_load_round_trip_resumes_training(seeded, tmp_path):
    pytest.importorskip("h5py")  # a .keras name is Keras' archive
    X, y = separable_data(seeded, 120)
    model = tutorial_fc(2, dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer=optimizers.Adam(learning_rate=0.01),
                  metrics=["acc"])
    model.fit(X, y, epochs=2, verbose=0, shuffle=False)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert keras.load_model is keras.models.load_model
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(X, verbose=0), loaded.predict(X, verbose=0))
    assert isinstance(loaded.optimizer, optimizers.Adam)
    assert loaded.optimizer.learning_rate == 0.01
    assert loaded.optimizer.iterations == model.optimizer.iterations == 8
    assert loaded.metrics_names == ["loss", "acc"]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    # The Adam moments came back: training on gives the same bits.
    model.fit(X, y, epochs=1, verbose=0, shuffle=False)
    loaded.fit(X, y, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    uncompiled = keras.load_model(path, compile=False)
    assert not uncompiled.compiled
    with pytest.raises(RuntimeError, match="compile"):
        uncompiled.fit(X, y, verbose=0)


def test_pickle_and_deepcopy_round_trip(seeded):
    import copy
    import pickle

    X, y = separable_data(seeded, 80)
    model = tutorial_fc(2)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["acc"])
    model.fit(X, y, epochs=1, verbose=0)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        np.testing.assert_array_equal(clone.predict(X, verbose=0), model.predict(X, verbose=0))
        assert clone.layers[0]._model is clone
        before = model.get_weights()
        clone.fit(X, y, epochs=1, verbose=0)
        for a, b in zip(model.get_weights(), before):
            np.testing.assert_array_equal(a, b)  # the original is untouched
        assert clone.optimizer.iterations == 6 and model.optimizer.iterations == 3


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "net.npz"
    NeuralNet([2, 3, 1], output="sigmoid", seed=0).save(path)
    with pytest.raises(ValueError, match="keras.Sequential"):
        keras.load_model(path)
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable annfast model file"):
        keras.load_model(bad)
    pytest.importorskip("h5py")
    bad = tmp_path / "garbage.keras"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an intact .keras archive"):
        keras.load_model(bad)


# -- what is not supported ------------------------------------------------------------


def test_unsupported_layers_raise_clear_errors():
    model = keras.Sequential()
    with pytest.raises(TypeError, match="supports only Dense, Input/InputLayer, Flatten"):
        model.add(object())
    with pytest.raises(AttributeError, match="the supported layers are Dense, Input"):
        keras.layers.Conv2D  # noqa: B018
    with pytest.raises(AttributeError, match="has no Ftrl: the optimizers are SGD, RMSprop"):
        keras.optimizers.Ftrl  # noqa: B018
    with pytest.raises(ValueError, match="add a Flatten layer first"):
        keras.Sequential([keras.Input(shape=(28, 28)), layers.Dense(2)])
    with pytest.raises(ValueError, match="activation='maxout' is not valid; expected one of"):
        layers.Dense(3, activation="maxout")
    with pytest.raises(ValueError, match="expected a positive integer"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="kernel_initializer='orthgonal' is not valid"):
        layers.Dense(2, kernel_initializer="orthgonal")
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue"):
        optimizers.RMSprop(clipnorm=1.0, clipvalue=0.5)


def test_unknown_strings_name_the_supported_ones():
    model = keras.Sequential([layers.Dense(1, input_dim=2)])
    with pytest.raises(ValueError, match="loss='mean_sqared_error' is not valid; expected one "
                                         "of: .*'mean_squared_error'"):
        model.compile(loss="mean_sqared_error", optimizer="sgd")
    with pytest.raises(ValueError, match="optimizer='adamm' is not valid; expected one of: "
                                         ".*'rmsprop'"):
        model.compile(loss="mse", optimizer="adamm")
    with pytest.raises(ValueError, match=r"metrics\[0\]='acuracy' is not valid; expected one "
                                         "of: .*'acc'"):
        model.compile(loss="mse", metrics=["acuracy"])
    assert not model.compiled


def test_unsupported_keras_arguments_are_named():
    with pytest.raises(TypeError, match="Dense does not support kernel_constraint; the "
                                        "supported arguments are: units"):
        layers.Dense(2, kernel_constraint="non_neg")
    model = keras.Sequential([layers.Dense(1, input_dim=2)])
    with pytest.raises(TypeError, match="compile does not support loss_weights"):
        model.compile(loss="mse", loss_weights=[1.0])
    model.compile(loss="mse")
    X, y = np.ones((4, 2)), np.ones(4)
    with pytest.raises(TypeError, match="fit does not support steps_per_epoch"):
        model.fit(X, y, callbacks=[], steps_per_epoch=1)
    with pytest.raises(TypeError, match="evaluate does not support steps"):
        model.evaluate(X, y, steps=1)
    with pytest.raises(TypeError, match="predict does not support steps"):
        model.predict(X, steps=1)


# -- bad input fails before anything changes ------------------------------------------


def _snapshot(model):
    return [w.copy() for w in model.get_weights()], model.optimizer.iterations


def _assert_unchanged(model, snap):
    for a, b in zip(model.get_weights(), snap[0]):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == snap[1]


@pytest.mark.parametrize("call, error, match", [
    (lambda m, X, y: m.fit(np.where(X > 1, np.nan, X), y), ValueError, "x contains NaN"),
    (lambda m, X, y: m.fit(X[:, :1], y), ValueError, "x has 1 features"),
    (lambda m, X, y: m.fit(X, y[:-1]), ValueError, "inconsistent numbers of samples"),
    (lambda m, X, y: m.fit(X, np.c_[y, y]), ValueError, "y has 2 values per sample"),
    (lambda m, X, y: m.fit(X, y, batch_size=0), ValueError, "batch_size must be >= 1"),
    (lambda m, X, y: m.fit(X, y, epochs=-1), ValueError, "epochs must be >= 0"),
    (lambda m, X, y: m.fit(X, y, verbose=3), ValueError, "verbose must be"),
    (lambda m, X, y: m.fit(X, y, validation_split=1.0), ValueError, "validation_split"),
    (lambda m, X, y: m.fit(X[:1], y[:1], validation_split=0.5), ValueError, "not enough"),
    (lambda m, X, y: m.fit(X, y, validation_data=(X, y, -y)), ValueError,
     r"validation_data\[2\] must be >= 0"),
    (lambda m, X, y: m.fit(X, y, sample_weight=np.zeros(len(y))), ValueError, "all zeros"),
    (lambda m, X, y: m.fit(X, y, sample_weight=np.ones(3)), ValueError,
     "one weight per sample"),
    (lambda m, X, y: m.fit(X, y, sample_weight=np.full(len(y), np.nan)), ValueError,
     "sample_weight"),
    (lambda m, X, y: m.fit(X, y, validation_data=(X[:, :1], y)), ValueError,
     r"validation_data\[0\] has 1 features"),
    (lambda m, X, y: m.fit(X, y, shuffle="batch"), TypeError, "shuffle"),
    (lambda m, X, y: m.fit(X.astype(complex), y), TypeError, "complex"),
    (lambda m, X, y: m.set_weights(m.get_weights()[:3]), ValueError, "holds 3 arrays"),
    (lambda m, X, y: m.set_weights([w.T for w in m.get_weights()]), ValueError, "shape"),
    (lambda m, X, y: m.set_weights([w * np.inf for w in m.get_weights()]), ValueError,
     "infinity"),
])
def test_bad_input_raises_before_state_changes(seeded, call, error, match):
    X, y = separable_data(seeded, 40)
    model = tutorial_fc(2)
    model.fit(X, y, verbose=0)
    snap = _snapshot(model)
    with pytest.raises(error, match=match):
        call(model, X, y)
    _assert_unchanged(model, snap)


def test_sparse_labels_checked(seeded):
    X, labels = three_class_data(seeded, 30)
    model = keras.Sequential([layers.Dense(3, input_dim=2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    start = model.get_weights()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        model.fit(X, labels + 1, verbose=0)
    with pytest.raises(ValueError, match="integer class labels"):
        model.fit(X, labels + 0.5, verbose=0)
    with pytest.raises(ValueError, match="one integer class label per sample"):
        model.fit(X, np.eye(3)[labels], verbose=0)
    for a, b in zip(start, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.compile(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(X, labels, verbose=0)


def test_fit_before_compile_and_mismatched_layers():
    model = keras.Sequential([layers.Dense(2, input_dim=3)])
    with pytest.raises(RuntimeError, match="compile the model before calling fit"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)))
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="needs a loss"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="input_dim=5, but its input has 2 features"):
        model.add(layers.Dense(1, input_dim=5))
    with pytest.raises(ValueError, match="same dtype"):
        model.add(layers.Dense(1, dtype="float64"))
    dense = model.layers[0]
    with pytest.raises(ValueError, match="already belongs to model"):
        keras.Sequential().add(dense)
    assert len(model.layers) == 1


def test_divergence_warns_and_keeps_last_good_weights(seeded):
    X = seeded.normal(size=(64, 2)) * 1e3
    y = seeded.normal(size=(64, 1)) * 1e3
    model = keras.Sequential([layers.Dense(8, input_dim=2, activation="relu"), layers.Dense(1)])
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=10.0))
    with pytest.warns(RuntimeWarning, match="NaN or infinite"):
        history = model.fit(X, y, epochs=50, verbose=0)
    assert len(history.epoch) < 50
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_optimizer_instance_is_bound_to_one_model(seeded):
    opt = optimizers.Adam()
    a = keras.Sequential([layers.Dense(2, input_dim=3)])
    b = keras.Sequential([layers.Dense(4, input_dim=3)])
    a.compile(loss="mse", optimizer=opt)
    a.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    b.compile(loss="mse", optimizer=opt)
    with pytest.raises(ValueError, match="already holds the state of model"):
        b.fit(np.ones((4, 3)), np.ones((4, 4)), verbose=0)


# -- activations, dtypes, threads -----------------------------------------------------


@pytest.mark.parametrize("activation", [None, "linear", "relu", "leaky_relu", "sigmoid", "tanh",
                                        "softmax"])
def test_predict_matches_numpy_forward(seeded, activation):
    model = keras.Sequential([layers.Dense(4, input_dim=3, activation=activation,
                                           bias_initializer="ones", dtype="float64")])
    X = seeded.normal(size=(7, 3))
    kernel, bias = model.get_weights()
    z = X @ kernel + bias
    expected = {
        None: z, "linear": z, "relu": np.maximum(z, 0), "leaky_relu": np.where(z < 0, 0.2 * z, z),
        "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z),
        "softmax": np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
    }[activation]
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-12, atol=1e-14)


def test_float32_follows_float64(seeded):
    X, labels = three_class_data(seeded, 64)
    models = {}
    for dtype in ("float32", "float64"):
        model = keras.Sequential([keras.Input(shape=(2,), dtype=dtype),
                                  layers.Dense(6, activation="tanh"),
                                  layers.Dense(3, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        models[dtype] = model
    models["float32"].set_weights(models["float64"].get_weights())
    for model in models.values():
        model.fit(X, labels, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert all(w.dtype == np.float32 for w in models["float32"].get_weights())
    for a, b in zip(models["float32"].get_weights(), models["float64"].get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)


def test_models_train_in_threads_as_serially(seeded):
    from concurrent.futures import ThreadPoolExecutor

    X, y = separable_data(seeded, 300)

    def train(seed):
        keras.utils.set_random_seed(seed)
        model = tutorial_fc(2)
        start = model.get_weights()
        return model, start

    pairs = [train(s) for s in range(4)]
    serial = []
    for _, start in pairs:
        model = tutorial_fc(2)
        model.set_weights(start)
        model.fit(X, y, epochs=2, shuffle=False, verbose=0)
        serial.append(model.get_weights())
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda p: p[0].fit(X, y, epochs=2, shuffle=False, verbose=0), pairs))
    for (model, _), expected in zip(pairs, serial):
        for a, b in zip(model.get_weights(), expected):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad, error", [(None, TypeError), (3.5, TypeError), ("", ValueError)])
def test_save_names_a_bad_filepath(bad, error):
    model = keras.Sequential([layers.Dense(2, input_dim=3)])
    with pytest.raises(error, match="filepath"):
        model.save(bad)
