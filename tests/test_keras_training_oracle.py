"""Weights after one epoch equal real Keras' (float32, to 2e-5) when both start from
the same weights: SGD (plain, momentum, Nesterov), RMSprop and Adam, with each
existing loss and its usual output, and every Keras activation the kernels
have, as a Dense argument and as an activation layer folded in."""

import numpy as np
import pytest

from annfast import keras
from keras_oracle import real_keras, to_numpy

rng = np.random.default_rng(21)
N, D = 70, 5  # 70 rows at batch 16: a short last batch
X = rng.normal(size=(N, D)).astype(np.float32)
LABELS = rng.integers(0, 3, size=N)
TARGETS = {
    "mse": (1, None, (X[:, :1] * 0.7 - X[:, 1:2]).astype(np.float32)),
    "binary_crossentropy": (1, "sigmoid", (X[:, :1] > 0).astype(np.float32)),
    "categorical_crossentropy": (3, "softmax", np.eye(3, dtype=np.float32)[LABELS]),
    "sparse_categorical_crossentropy": (3, "softmax", LABELS),
}
OPTIMIZERS = {
    "sgd": lambda k: k.optimizers.SGD(0.05),
    "momentum": lambda k: k.optimizers.SGD(0.05, momentum=0.9),
    "nesterov": lambda k: k.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda k: k.optimizers.RMSprop(0.01),
    "adam": lambda k: k.optimizers.Adam(0.01),
}


def _pair(hidden, loss, optimizer, folded=False):
    units, out, y = TARGETS[loss]

    def build(k):
        if folded:  # the activation as a layer after a linear Dense
            stack = [k.layers.Dense(6), k.layers.Activation(hidden)]
        else:
            stack = [k.layers.Dense(6, activation=hidden)]
        model = k.Sequential([k.Input(shape=(D,)), *stack, k.layers.Dense(units, activation=out)])
        model.compile(optimizer=OPTIMIZERS[optimizer](k), loss=loss)
        return model

    ours, theirs = build(keras), build(real_keras)
    theirs.set_weights(ours.get_weights())
    return ours, theirs, y


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss", sorted(TARGETS))
def test_one_epoch_matches_keras(loss, optimizer):
    ours, theirs, y = _pair("tanh", loss, optimizer)
    h_ours = ours.fit(X, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    h_theirs = theirs.fit(X, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, to_numpy(b), atol=2e-5)
    assert h_ours.history["loss"][0] == pytest.approx(h_theirs.history["loss"][0], rel=1e-4)


@pytest.mark.parametrize("hidden", ["relu", "sigmoid", "leaky_relu", "linear", "elu", "selu",
                                    "softplus", "softsign", "silu", "swish", "gelu",
                                    "hard_sigmoid", "hard_silu", "relu6", "exponential"])
@pytest.mark.parametrize("folded", [False, True])
def test_hidden_activations_and_folded_layers_match_keras(hidden, folded):
    ours, theirs, y = _pair(hidden, "categorical_crossentropy", "adam", folded)
    ours.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    theirs.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, to_numpy(b), atol=2e-5)


def test_evaluate_matches_keras():
    ours, theirs, y = _pair("tanh", "sparse_categorical_crossentropy", "sgd")
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", "sparse_categorical_crossentropy"])
    expected = theirs.evaluate(X, y, verbose=0, return_dict=True)
    got = ours.evaluate(X, y, verbose=0, return_dict=True)
    assert set(got) == set(expected)  # Keras 3.15 orders the keys alphabetically
    for key in got:
        assert got[key] == pytest.approx(float(expected[key]), abs=1e-6), key
