"""The functional API: keras.Input, layer(x) and keras.Model(inputs, outputs) for
chains; graphs that are not chains raise an error that says so."""

import numpy as np
import pytest

from annfast import keras
from annfast.keras import layers
from keras_oracle import real_keras, to_numpy

rng = np.random.default_rng(3)


def test_a_functional_chain_computes_and_trains_as_the_sequential_one():
    X = rng.normal(size=(50, 2, 3))
    y = rng.integers(0, 3, size=50)
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape=(2, 3))
    h = layers.Flatten()(inputs)
    h = layers.Dense(8)(h)
    h = layers.LeakyReLU(negative_slope=0.2)(h)
    outputs = layers.Dense(3, activation="softmax")(h)
    functional = keras.Model(inputs=inputs, outputs=outputs)
    keras.utils.set_random_seed(2)
    sequential = keras.Sequential([keras.Input(shape=(2, 3)), layers.Flatten(),
                                   layers.Dense(8, activation="leaky_relu"),
                                   layers.Dense(3, activation="softmax")])
    assert [type(layer).__name__ for layer in functional.layers] == [
        "Flatten", "Dense", "LeakyReLU", "Dense"]
    assert functional.input_shape == (None, 2, 3) and functional.output_shape == (None, 3)
    for model in (functional, sequential):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(functional.get_weights(), sequential.get_weights()):
        np.testing.assert_array_equal(a, b)
    out = functional(X)
    assert isinstance(out, np.ndarray) and out.shape == (50, 3)


def test_the_functional_model_predicts_as_keras():
    x = rng.normal(size=(6, 4)).astype(np.float32)

    def build(k):
        inputs = k.Input(shape=(4,))
        h = k.layers.Rescaling(0.5, offset=1.0)(inputs)
        h = k.layers.Dense(5)(h)
        h = k.layers.Activation("sigmoid")(h)
        return k.Model(inputs=inputs, outputs=k.layers.Dense(2)(h))

    ours, theirs = build(keras), build(real_keras)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), to_numpy(theirs(x)), rtol=1e-5,
                               atol=1e-6)


def test_graphs_that_are_not_chains_say_so():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    dense = layers.Dense(2)
    with pytest.raises(ValueError, match="inputs holds 2 tensors: the graph is not a chain"):
        keras.Model(inputs=[a, b], outputs=dense(a))
    h = layers.Dense(4)(a)
    with pytest.raises(ValueError, match="outputs holds 2 tensors: the graph is not a chain"):
        keras.Model(inputs=a, outputs=[layers.Dense(1)(h), layers.Dense(1)(h)])
    with pytest.raises(ValueError, match="merge layers are not supported"):
        layers.Dense(2)([a, b])
    with pytest.raises(ValueError, match="outputs is not computed from inputs"):
        keras.Model(inputs=b, outputs=layers.Dense(1)(h))
    shared = layers.Dense(3)
    with pytest.raises(ValueError, match="called twice in the graph"):
        keras.Model(inputs=a, outputs=shared(shared(a)))
    with pytest.raises(TypeError, match="subclassing keras.Model"):
        keras.Model()
    # A branch that does not reach the output is not part of the model.
    side = layers.Dense(7)(h)
    model = keras.Model(inputs=a, outputs=layers.Dense(1)(h))
    assert len(model.layers) == 2 and side.shape == (None, 7)
