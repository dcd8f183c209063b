"""A model that nests another (``Sequential([base, Dense(...)])``, or ``base(x)`` in
the functional API) trains end to end: the nested model's weights train and are
the inner model object's, as in Keras."""

import numpy as np
import pytest

from annfast import keras

rng = np.random.default_rng(17)
N, D = 70, 5
X = rng.normal(size=(N, D)).astype(np.float32)
ONE_HOT = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=N)]


def build(k, functional, optimizer=lambda k: k.optimizers.Adam(0.01)):
    base = k.Sequential([k.Input(shape=(D,)), k.layers.Dense(6, activation="tanh"),
                         k.layers.Dense(4)], name="base")
    if functional:
        inputs = k.Input(shape=(D,))
        h = k.layers.ReLU()(base(inputs))
        model = k.Model(inputs=inputs, outputs=k.layers.Dense(3, activation="softmax")(h))
    else:
        model = k.Sequential([base, k.layers.ReLU(), k.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer(k), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return base, model


def start(model):
    draw = np.random.default_rng(5)
    model.set_weights([draw.uniform(-0.6, 0.6, size=w.shape).astype(np.float32)
                       for w in model.get_weights()])


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_nested_model_trains_and_shares_its_weights(functional):
    base, model = build(keras, functional)
    start(model)
    assert len(model.get_weights()) == 6 and model.count_params() == 36 + 28 + 15
    before = base.get_weights()
    np.testing.assert_array_equal(model.get_weights()[0], before[0])
    model.fit(X, ONE_HOT, batch_size=16, epochs=2, verbose=0)
    after = base.get_weights()
    assert not np.array_equal(after[0], before[0])  # the inner model trained...
    for a, b in zip(model.get_weights()[:4], after):  # ...and is the outer model's part
        np.testing.assert_array_equal(a, b)
    # Weights set on the inner model are the outer model's at its next call.
    base.set_weights([w * 0 for w in after])
    out = model.predict(X, verbose=0)
    np.testing.assert_allclose(out, np.broadcast_to(out[0], out.shape), rtol=1e-6)
    assert model.evaluate(X, ONE_HOT, verbose=0)[0] == pytest.approx(
        float(np.mean(-np.log(np.sum(out * ONE_HOT, axis=1)))), rel=1e-5)


def test_a_failing_fit_leaves_both_models_unchanged():
    base, model = build(keras, False)
    model.fit(X, ONE_HOT, epochs=1, verbose=0)
    weights, inner = model.get_weights(), base.get_weights()
    with pytest.raises(ValueError):
        model.fit(X, ONE_HOT[:, :2], epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(base.get_weights(), inner):
        np.testing.assert_array_equal(a, b)


def test_nesting_errors_are_clear():
    unbuilt = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="must be built"):
        keras.Sequential([unbuilt, keras.layers.Dense(2)])
    base, _ = build(keras, False)
    with pytest.raises(ValueError, match="takes inputs of shape"):
        base(keras.Input(shape=(D + 1,)))
    with pytest.raises(ValueError, match="followed by Dense and activation layers"):
        keras.Sequential([base, keras.layers.Flatten()])


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum"])
def test_nested_training_matches_keras(functional, optimizer):
    from keras_oracle import real_keras, to_numpy

    make = {"adam": lambda k: k.optimizers.Adam(0.01),
            "sgd_momentum": lambda k: k.optimizers.SGD(0.1, momentum=0.9)}[optimizer]
    ours_base, ours = build(keras, functional, make)
    theirs_base, theirs = build(real_keras, functional, make)
    start(ours)
    theirs.set_weights(ours.get_weights())
    h_ours = ours.fit(X, ONE_HOT, batch_size=16, epochs=1, shuffle=False, verbose=0)
    h_theirs = theirs.fit(X, ONE_HOT, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, to_numpy(b), atol=2e-5)
    for a, b in zip(ours_base.get_weights(), theirs_base.get_weights()):
        np.testing.assert_allclose(a, to_numpy(b), atol=2e-5)
    assert h_ours.history["loss"] == pytest.approx(h_theirs.history["loss"], rel=1e-4)
