"""Layers that only transform or only activate, initializers and nested models:
outputs equal real Keras', activation layers fold into the Dense before them,
and what cannot be run raises an error naming what is supported."""

import numpy as np
import pytest

from annfast import keras
from annfast.keras import initializers, layers
from keras_oracle import real_keras, to_numpy

rng = np.random.default_rng(11)


def _same_weights(ours, theirs):
    theirs.set_weights(ours.get_weights())


def test_flatten_is_c_order_as_keras():
    x = rng.normal(size=(5, 3, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(layers.Flatten()(x), to_numpy(real_keras.layers.Flatten()(x)))


@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
@pytest.mark.parametrize("invert", [False, True])
def test_normalization_adapt_equals_keras(axis, invert):
    data = rng.normal(loc=3.0, scale=2.0, size=(40, 3, 4)).astype(np.float32)
    data[:, 0, 0] = 5.0  # a constant feature: variance 0, divided by epsilon as Keras
    x = rng.normal(size=(7, 3, 4)).astype(np.float32)
    ours = layers.Normalization(axis=axis, invert=invert)
    theirs = real_keras.layers.Normalization(axis=axis, invert=invert)
    ours.adapt(data)
    theirs.adapt(data)
    np.testing.assert_allclose(ours(x), to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.mean, to_numpy(theirs.mean), rtol=1e-6, atol=1e-6)


def test_normalization_with_given_mean_and_variance_equals_keras():
    x = rng.normal(size=(6, 3)).astype(np.float32)
    kwargs = {"mean": [1.0, 2.0, 3.0], "variance": [4.0, 1.0, 0.25]}
    np.testing.assert_allclose(layers.Normalization(**kwargs)(x),
                               to_numpy(real_keras.layers.Normalization(**kwargs)(x)),
                               rtol=1e-6)


def test_rescaling_equals_keras():
    x = rng.integers(0, 256, size=(4, 6)).astype(np.float32)
    np.testing.assert_allclose(layers.Rescaling(1 / 127.5, offset=-1)(x),
                               to_numpy(real_keras.layers.Rescaling(1 / 127.5, offset=-1)(x)),
                               rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda L: L.Activation("tanh"), lambda L: L.ReLU(), lambda L: L.LeakyReLU(),
    lambda L: L.LeakyReLU(negative_slope=0.1), lambda L: L.Softmax(),
    lambda L: L.ReLU(negative_slope=0.05),
])
def test_activation_layers_fold_into_the_dense_before_and_equal_keras(make):
    """A model whose Dense is followed by an activation layer predicts as Keras'
    (and trains the folded activation in the kernels)."""
    x = rng.normal(size=(9, 4)).astype(np.float32)
    ours = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(5), make(layers),
                             layers.Dense(3)])
    theirs = real_keras.Sequential([real_keras.Input(shape=(4,)), real_keras.layers.Dense(5),
                                    make(real_keras.layers), real_keras.layers.Dense(3)])
    _same_weights(ours, theirs)
    np.testing.assert_allclose(ours.predict(x, verbose=0), to_numpy(theirs(x)), rtol=1e-5,
                               atol=1e-6)
    assert ours._network().activations[0] != "identity"
    # The standalone layer computes the same on arrays.
    np.testing.assert_allclose(make(layers)(x), to_numpy(make(real_keras.layers)(x)),
                               rtol=1e-6, atol=1e-7)


def test_the_beginners_quickstart_runs_and_matches_keras():
    """Flatten(input_shape=(28, 28)) ... logits, then Sequential([model, Softmax()])."""
    x = rng.uniform(size=(20, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, size=20)
    ours = keras.Sequential([layers.Flatten(input_shape=(28, 28)),
                             layers.Dense(16, activation="relu"), layers.Dense(10)])
    theirs = real_keras.Sequential([real_keras.Input(shape=(28, 28)),
                                    real_keras.layers.Flatten(),
                                    real_keras.layers.Dense(16, activation="relu"),
                                    real_keras.layers.Dense(10)])
    _same_weights(ours, theirs)
    np.testing.assert_allclose(ours(x), to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)
    probability = keras.Sequential([ours, layers.Softmax()])
    expected = to_numpy(real_keras.Sequential([theirs, real_keras.layers.Softmax()])(x))
    np.testing.assert_allclose(probability(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probability.predict(x, verbose=0).sum(axis=1), 1, rtol=1e-5)
    # The probability model trains too, and its training is the inner model's.
    before = ours.get_weights()
    probability.compile(loss="sparse_categorical_crossentropy")
    probability.fit(x, y, verbose=0)
    assert not np.array_equal(ours.get_weights()[0], before[0])
    np.testing.assert_array_equal(probability.get_weights()[0], ours.get_weights()[0])


def test_transform_layers_run_before_training():
    """Normalization + Rescaling before the Dense chain: fit trains on the transformed
    inputs, so it equals a plain model trained on transformed data."""
    x = rng.normal(loc=10, scale=3, size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    norm = layers.Normalization()
    norm.adapt(x)
    keras.utils.set_random_seed(0)
    ours = keras.Sequential([keras.Input(shape=(3,)), norm, layers.Dense(1)])
    keras.utils.set_random_seed(0)
    plain = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1)])
    for model in (ours, plain):
        model.compile(optimizer="adam", loss="mse")
    ours.fit(x, y, epochs=3, shuffle=False, verbose=0)
    plain.fit(norm(x), y, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_one_leaky_slope_per_model():
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(3), layers.LeakyReLU(0.1),
                              layers.Dense(3)])
    assert model._network().param == pytest.approx(0.1)
    with pytest.raises(ValueError, match="different negative slopes .* one slope per model"):
        model.add(layers.LeakyReLU(0.3))
    with pytest.raises(ValueError, match="different negative slopes"):
        model.add(layers.Dense(2, activation="leaky_relu"))  # Keras' 0.2
    assert len(model.layers) == 3  # nothing was added


def test_layers_that_cannot_run_name_what_is_supported():
    with pytest.raises(ValueError, match="must follow a Dense layer"):
        keras.Sequential([keras.Input(shape=(2,)), layers.ReLU()])
    with pytest.raises(ValueError, match="can only follow a linear Dense layer"):
        keras.Sequential([keras.Input(shape=(2,)), layers.Dense(2, activation="relu"),
                          layers.Softmax()])
    with pytest.raises(ValueError, match="must come before the first Dense layer"):
        keras.Sequential([keras.Input(shape=(2,)), layers.Dense(2), layers.Rescaling(2.0)])
    with pytest.raises(ValueError, match="add a Flatten layer first"):
        keras.Sequential([keras.Input(shape=(2, 2)), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"ReLU\(max_value=6\) is not supported"):
        layers.ReLU(max_value=6)
    with pytest.raises(ValueError, match=r"Softmax\(axis=1\) is not supported"):
        layers.Softmax(axis=1)
    with pytest.raises(TypeError, match="Rescaling does not support foo"):
        layers.Rescaling(1.0, foo=1)
    with pytest.raises(AttributeError, match="the supported layers are Dense"):
        layers.BatchNormalization  # noqa: B018
    with pytest.raises(TypeError, match="cannot run in the compiled kernels"):
        layers.Dense(2, activation=np.tanh)


def test_activation_functions_are_the_registrys_and_accepted_by_layers():
    x = rng.normal(size=(4, 3)).astype(np.float32)
    for name in ("relu", "sigmoid", "tanh", "softmax", "leaky_relu", "linear"):
        ours = getattr(keras.activations, name)(x)
        theirs = to_numpy(getattr(real_keras.activations, name)(x))
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    dense = layers.Dense(2, activation=keras.activations.tanh)
    assert dense._act == "tanh" and dense.get_config()["activation"] == "tanh"


# -- initializers ----------------------------------------------------------------------

SHAPE = (400, 300)
FAN_AVG = (SHAPE[0] + SHAPE[1]) / 2


@pytest.mark.parametrize("name, std", [
    ("glorot_uniform", np.sqrt(1 / FAN_AVG)), ("glorot_normal", np.sqrt(1 / FAN_AVG)),
    ("he_normal", np.sqrt(2 / SHAPE[0])), ("he_uniform", np.sqrt(2 / SHAPE[0])),
    ("lecun_normal", np.sqrt(1 / SHAPE[0])), ("lecun_uniform", np.sqrt(1 / SHAPE[0])),
])
def test_variance_scaling_initializers_have_keras_variance(name, std):
    values = initializers.get(name)(SHAPE, rng=np.random.default_rng(0))
    theirs = to_numpy(real_keras.initializers.get(name)(SHAPE))
    assert values.std() == pytest.approx(std, rel=0.02)
    assert values.std() == pytest.approx(theirs.std(), rel=0.03)
    assert np.abs(values).max() <= np.abs(theirs).max() * 1.05  # same truncation / bounds


def test_seeded_initializers_repeat_and_the_others_follow_keras():
    init = initializers.RandomNormal(stddev=0.3, seed=5)
    np.testing.assert_array_equal(init((3, 4)), init((3, 4)))
    tn = initializers.TruncatedNormal(mean=1.0, stddev=0.5)((20000,), rng=rng)
    assert tn.min() >= 0.0 and tn.max() <= 2.0 and tn.mean() == pytest.approx(1.0, abs=0.01)
    u = initializers.RandomUniform(-0.2, 0.1)((20000,), rng=rng)
    assert u.min() >= -0.2 and u.max() < 0.1
    q = initializers.Orthogonal(gain=2.0)((6, 4), rng=rng)
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    np.testing.assert_array_equal(initializers.Constant(0.3)((2,)), np.float32(0.3))


def test_dense_takes_initializer_objects_and_names():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(3,)),
                              layers.Dense(4, kernel_initializer=initializers.Orthogonal(),
                                           bias_initializer=initializers.Constant(0.25)),
                              layers.Dense(2, kernel_initializer="he_normal",
                                           bias_initializer="ones")])
    kernel, bias, _, bias2 = model.get_weights()
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(3), atol=1e-5)
    np.testing.assert_array_equal(bias, 0.25)
    np.testing.assert_array_equal(bias2, 1.0)
    config = model.layers[0].get_config()
    assert config["kernel_initializer"] == {"module": "keras.initializers",
                                            "class_name": "Orthogonal",
                                            "config": {"gain": 1.0, "seed": None},
                                            "registered_name": None}
    with pytest.raises(ValueError, match="kernel_initializer='he_norml' is not valid"):
        layers.Dense(2, kernel_initializer="he_norml")


def test_calling_the_layers_in_turn_gives_the_models_outputs():
    x = rng.normal(size=(5, 2, 2))
    model = keras.Sequential([keras.Input(shape=(2, 2)), layers.Flatten(), layers.Dense(3),
                              layers.LeakyReLU(0.1), layers.Dense(2, activation="sigmoid")])
    out = x.astype(np.float32)
    for layer in model.layers:
        out = layer(out)
    np.testing.assert_allclose(out, model(x), rtol=1e-6)


def test_utils_equal_keras():
    labels = np.array([[2], [0], [1], [2]])
    np.testing.assert_array_equal(keras.utils.to_categorical(labels),
                                  real_keras.utils.to_categorical(labels))
    np.testing.assert_array_equal(keras.utils.to_categorical([1, 0], num_classes=4),
                                  real_keras.utils.to_categorical([1, 0], num_classes=4))
    x = rng.normal(size=(4, 3))
    x[1] = 0
    for order, axis in ((2, -1), (1, 1)):
        np.testing.assert_allclose(keras.utils.normalize(x, axis=axis, order=order),
                                   real_keras.utils.normalize(x, axis=axis, order=order),
                                   rtol=1e-12)
    np.testing.assert_allclose(np.abs(keras.utils.normalize(x, axis=0, order=1)).sum(axis=0), 1)
    with pytest.raises(ValueError, match="not below num_classes=2"):
        keras.utils.to_categorical([0, 2], num_classes=2)


def test_bad_inputs_to_a_model_with_transform_layers_change_nothing():
    norm = layers.Normalization()
    norm.adapt(rng.normal(size=(20, 4)))
    model = keras.Sequential([keras.Input(shape=(2, 2)), layers.Flatten(), layers.Rescaling(2.0),
                              layers.Dense(3), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(rng.normal(size=(8, 2, 2)), np.ones(8), verbose=0)
    before = [w.copy() for w in model.get_weights()], model.optimizer.iterations
    state = model.optimizer._state.copy()
    bad = [
        ({"x": rng.normal(size=(8, 4))}, ValueError, r"samples of shape \(4,\), but the "
                                                     r"model's input shape is \(2, 2\)"),
        ({"x": np.full((8, 2, 2), np.nan)}, ValueError, "NaN"),
        ({"x": rng.normal(size=(8, 2, 2)), "validation_freq": 0}, ValueError, "validation_freq"),
        ({"x": rng.normal(size=(8, 2, 2)), "callbacks": [object()]}, TypeError,
         "must be a keras.callbacks.Callback"),
    ]
    for kwargs, error, match in bad:
        with pytest.raises(error, match=match):
            model.fit(y=np.ones(8), verbose=0, **kwargs)
    for a, b in zip(model.get_weights(), before[0]):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == before[1]
    np.testing.assert_array_equal(model.optimizer._state, state)
    with pytest.raises(ValueError, match="adapted to data of shape"):
        norm(rng.normal(size=(3, 5)))


def test_get_layer_nested_weights_and_frozen_layers():
    inner = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="hidden"),
                              layers.ReLU(name="act"), layers.Dense(1)])
    assert inner.get_layer("act") is inner.layers[1] and inner.get_layer(index=-1).units == 1
    with pytest.raises(ValueError, match="No such layer: nope"):
        inner.get_layer("nope")
    outer = keras.Sequential([inner, layers.Activation("sigmoid")])
    weights = outer.get_weights()
    assert len(weights) == 4
    outer.set_weights([w * 0 for w in weights])
    np.testing.assert_array_equal(outer(np.ones((2, 3))), 0.5)
    layers.Flatten().trainable = False  # no weights: nothing to freeze
    with pytest.raises(ValueError, match="trainable=False is not supported"):
        inner.get_layer("hidden").trainable = False
