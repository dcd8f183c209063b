"""get_config/from_config of layers and models, to_json/model_from_json, in
Keras 3's keys (checked against real Keras where it is installed)."""

import json

import numpy as np
import pytest

from annfast import keras

rng = np.random.default_rng(8)
X = rng.normal(size=(12, 4)).astype(np.float32)


def layer_zoo(k):
    """One of each supported layer, with non-default options, from module k."""
    return [
        k.layers.Dense(3, activation="tanh", use_bias=False,
                       kernel_initializer=k.initializers.RandomNormal(stddev=0.2, seed=3),
                       bias_initializer=k.initializers.Constant(0.5),
                       kernel_regularizer=k.regularizers.L1L2(0.01, 0.02),
                       bias_regularizer=k.regularizers.L2(0.1), name="d"),
        k.layers.Activation("sigmoid", name="a"),
        k.layers.Flatten(name="f"),
        k.layers.Rescaling(0.25, offset=-1.0, name="r"),
        k.layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True, name="n"),
        k.layers.ReLU(negative_slope=0.1, name="re"),
        k.layers.LeakyReLU(negative_slope=0.05, name="lr"),
        k.layers.ELU(name="e"),
        k.layers.Softmax(name="s"),
    ]


@pytest.mark.parametrize("index", range(9))
def test_layer_config_round_trips(index):
    layer = layer_zoo(keras)[index]
    config = layer.get_config()
    assert "class_name" not in config and config["name"] == layer.name
    json.dumps(config)  # plain JSON
    clone = type(layer).from_config(config)
    assert type(clone) is type(layer) and clone.get_config() == config


@pytest.mark.parametrize("index", range(9))
def test_layer_configs_have_keras_keys_and_keras_builds_them(index):
    from keras_oracle import real_keras

    ours, theirs = layer_zoo(keras)[index], layer_zoo(real_keras)[index]
    config = ours.get_config()
    expected = theirs.get_config()
    missing = set(expected) - set(config)
    # Keras-only options annfast does not have stay out (at their defaults in Keras).
    assert missing <= {"quantization_config", "lora_rank", "lora_alpha", "activity_regularizer",
                       "trainable", "dtype"}, missing
    rebuilt = type(theirs).from_config(config)  # Keras takes annfast's config
    for key, value in rebuilt.get_config().items():
        if key in config and key not in ("dtype",):
            got = config[key]
            if isinstance(value, dict) and "config" in value:
                assert got["class_name"] == value["class_name"]
                assert dict(got["config"]) == {
                    k: v for k, v in value["config"].items() if k in got["config"]}
            elif isinstance(value, (list, tuple)):
                assert list(got) == list(value), key
            else:
                assert got == value, key
    # ...and annfast takes Keras' config.
    assert type(ours).from_config(expected).get_config()["name"] == ours.name


def _sequential(k):
    return k.Sequential([k.Input(shape=(4,)), k.layers.Dense(5, activation="relu"),
                         k.layers.Dense(2), k.layers.Softmax()], name="seq")


def _functional(k):
    inputs = k.Input(shape=(4,), name="x")
    h = k.layers.Dense(5, name="h")(inputs)
    h = k.layers.LeakyReLU(0.1, name="act")(h)
    return k.Model(inputs=inputs, outputs=k.layers.Dense(1, name="out")(h), name="fun")


@pytest.mark.parametrize("build", [_sequential, _functional])
def test_model_config_and_json_round_trip(build):
    model = build(keras)
    config = model.get_config()
    clone = type(model).from_config(config)
    assert type(clone) is type(model) and clone.name == model.name
    assert [type(a) for a in clone.layers] == [type(b) for b in model.layers]
    assert clone.get_config() == config
    again = keras.models.model_from_json(model.to_json())
    assert type(again) is type(model) and again.get_config() == config
    assert json.loads(model.to_json())["class_name"] in ("Sequential", "Functional")
    assert keras.saving.model_from_json is keras.models.model_from_json


@pytest.mark.parametrize("build", [_sequential, _functional])
def test_model_configs_both_ways_with_keras(build):
    from keras_oracle import real_keras, to_numpy

    ours, theirs = build(keras), build(real_keras)
    from_theirs = type(ours).from_config(theirs.get_config())
    assert [layer.name for layer in from_theirs.layers] == [
        layer.name for layer in theirs.layers if type(layer).__name__ != "InputLayer"]
    from_ours = real_keras.models.model_from_json(ours.to_json())
    assert [type(a).__name__ for a in from_ours.layers] == [
        type(b).__name__ for b in theirs.layers]
    from_ours.set_weights(ours.get_weights())
    np.testing.assert_allclose(to_numpy(from_ours.predict(X, verbose=0)),
                               ours.predict(X, verbose=0), rtol=1e-5, atol=1e-7)


def test_bad_configs_are_refused_with_clear_errors():
    with pytest.raises(TypeError, match="config must be a dict"):
        keras.layers.Dense.from_config("units=3")
    with pytest.raises(ValueError, match="option kernel_constraint="):
        keras.layers.Dense.from_config({"units": 3, "kernel_constraint": {
            "module": "keras.constraints", "class_name": "MaxNorm", "config": {}}})
    with pytest.raises(ValueError, match="trainable=False is not supported"):
        keras.layers.Dense.from_config({"units": 3, "trainable": False})
    with pytest.raises(ValueError, match="not from keras"):
        keras.Sequential.from_config({"name": "s", "layers": [
            {"module": "evil", "class_name": "Dense", "config": {"units": 1}}]})
    with pytest.raises(ValueError, match="not valid JSON"):
        keras.models.model_from_json("{")
    with pytest.raises(ValueError, match="'Conv2D' is not supported; the supported layers"):
        keras.Sequential.from_config({"name": "s", "layers": [
            {"module": "keras.layers", "class_name": "Conv2D", "config": {}}]})
