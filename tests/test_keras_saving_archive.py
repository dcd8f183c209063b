"""Keras 3 ``.keras`` archives and ``.weights.h5`` files: annfast's round trip,
hostile archives refused, and (where Keras is installed) both directions with
real Keras 3 on the PyTorch backend."""

import io
import json
import os
import sys
import zipfile

import numpy as np
import pytest

from annfast import keras

h5py = pytest.importorskip("h5py")

rng = np.random.default_rng(21)
X = rng.normal(size=(40, 3, 2)).astype(np.float32)
Y = rng.normal(size=(40, 2)).astype(np.float32)
X4 = rng.normal(size=(30, 4)).astype(np.float32)
LABELS = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=30)]


def every_layer(k, adapt=True):
    """A Sequential model of every supported layer, from module k (annfast or Keras)."""
    norm = k.layers.Normalization()
    if adapt:
        norm.adapt(X.reshape(len(X), -1) * 0.5 + 0.1)
    return k.Sequential([
        k.Input(shape=(3, 2)), k.layers.Flatten(), k.layers.Rescaling(0.5, offset=0.1), norm,
        k.layers.Dense(5, activation="relu"), k.layers.Dense(4), k.layers.LeakyReLU(0.2),
        k.layers.Dense(4), k.layers.ELU(), k.layers.Dense(3), k.layers.ReLU(),
        k.layers.Dense(2, kernel_regularizer=k.regularizers.L2(0.01)),
        k.layers.Activation("tanh")])


def functional(k):
    inputs = k.Input(shape=(4,))
    h = k.layers.Dense(6, activation="tanh", bias_initializer="ones")(inputs)
    h = k.layers.Dense(3)(h)
    return k.Model(inputs=inputs, outputs=k.layers.Softmax()(h))


def trained(model, x, y, optimizer, loss, **compile_args):
    model.compile(optimizer=optimizer, loss=loss, **compile_args)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return model


def rewrite(path, members, out):
    """Copy the archive at path to out with ``members`` (name -> bytes or None to
    drop) replacing its members."""
    with zipfile.ZipFile(path) as zf:
        kept = {name: zf.read(name) for name in zf.namelist()}
    kept.update(members)
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in kept.items():
            if data is not None:
                zf.writestr(name, data)
    return out


# -- annfast to annfast ----------------------------------------------------------------


def test_round_trip_keeps_layers_weights_compile_settings_and_optimizer_state(tmp_path):
    model = trained(every_layer(keras), X, Y, keras.optimizers.Adam(0.01), "mape",
                    metrics=["mae"], weighted_metrics=["mse"])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert json.loads(zf.read("metadata.json"))["keras_version"].startswith("3.")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert [a.name for a in loaded.layers] == [b.name for b in model.layers]
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.metrics_names == ["loss", "mae", "mse"]
    assert isinstance(loaded._loss, keras.losses.MeanAbsolutePercentageError)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 10
    np.testing.assert_array_equal(loaded.optimizer._state, model.optimizer._state)
    model.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_functional_round_trip_and_compile_false(tmp_path):
    model = trained(functional(keras), X4, LABELS, "sgd", "categorical_crossentropy")
    model.save(tmp_path / "f.keras")
    keras.saving.save_model(model, tmp_path / "f.keras")  # the same archive as save()
    with zipfile.ZipFile(tmp_path / "f.keras") as zf:
        assert "config.json" in zf.namelist()
    loaded = keras.models.load_model(tmp_path / "f.keras", compile=False)
    assert isinstance(loaded, keras.Model) and not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(X4, verbose=0), model.predict(X4, verbose=0))


def test_weights_h5_round_trip_and_npz_stays_annfasts_format(tmp_path):
    model = trained(every_layer(keras), X, Y, "sgd", "mse")
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert f["layers/dense/vars/0"].shape == (6, 5)
        assert f["layers/dense_4/vars/1"].shape == (2,)
        assert f["layers/normalization/vars/0"].shape == (6,)
    other = every_layer(keras, adapt=False)
    other.build((None, 3, 2))
    other.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(other.predict(X, verbose=0), model.predict(X, verbose=0),
                               rtol=1e-6)
    dense_only = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    dense_only.save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as zf:
        assert sorted(zf.namelist()) == ["meta.npy", "params.npy"]
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "m.npz").get_weights()[0],
                                  dense_only.get_weights()[0])


def test_a_failed_load_weights_changes_nothing(tmp_path):
    model = trained(every_layer(keras), X, Y, "sgd", "mse")
    model.save_weights(tmp_path / "w.weights.h5")
    small = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(4)])
    before = small.get_weights()
    with pytest.raises(ValueError, match="has shape"):
        small.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(small.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_saving_writes_atomically(tmp_path):
    model = trained(functional(keras), X4, LABELS, "sgd", "categorical_crossentropy")
    path = tmp_path / "f.keras"
    path.write_bytes(b"old")
    model.get_layer(index=0)._act  # the model is intact
    bad = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Normalization(),
                            keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="adapt"):
        bad.save(path)  # refused while writing: the old file stays
    assert path.read_bytes() == b"old"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["f.keras"]


def test_missing_h5py_names_the_extra(tmp_path, monkeypatch):
    model = trained(functional(keras), X4, LABELS, "sgd", "categorical_crossentropy")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"annfast\[keras\]"):
        model.save(tmp_path / "f.keras")
    with pytest.raises(ImportError, match=r"annfast\[keras\]"):
        model.save_weights(tmp_path / "f.weights.h5")
    assert not os.listdir(tmp_path)


# -- hostile archives ------------------------------------------------------------------


@pytest.fixture
def good(tmp_path):
    model = trained(functional(keras), X4, LABELS, "adam", "categorical_crossentropy")
    model.save(tmp_path / "good.keras")
    return tmp_path / "good.keras"


def _config(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json"))


def _load_refused(path, match):
    with pytest.raises(ValueError, match=match):
        keras.models.load_model(path)


def test_zip_bombs_are_refused_before_reading(good, tmp_path):
    # A config.json of 9 MB of spaces compresses to a few KB.
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", members["config.json"] + b" " * (9 << 20))
        zf.writestr("model.weights.h5", members["model.weights.h5"])
    assert bomb.stat().st_size < 100_000
    _load_refused(bomb, "declares .* bytes, more than")
    # A weights file far larger than the archive could honestly hold.
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", members["config.json"])
        zf.writestr("model.weights.h5", bytes(50 << 20))
    _load_refused(bomb, "declares .* bytes, more than")


def test_a_member_that_holds_more_than_it_declares_is_refused(good, tmp_path):
    lying = tmp_path / "lying.keras"
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("config.json")
    # Shrink the declared size of config.json in the central directory.
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"config.json"))
    assert int.from_bytes(data[central + 24:central + 28], "little") == info.file_size
    data[central + 24:central + 28] = (info.file_size // 2).to_bytes(4, "little")
    lying.write_bytes(bytes(data))
    _load_refused(lying, "not an intact .keras archive|not valid JSON")


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "assets/../../evil",
                                  "C:/evil", "a\\..\\..\\evil"])
def test_path_traversal_member_names_are_refused(good, tmp_path, name):
    _load_refused(rewrite(good, {name: b"x"}, tmp_path / "t.keras"), "outside the archive")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_a_bad_hdf5_file_is_refused(good, tmp_path):
    _load_refused(rewrite(good, {"model.weights.h5": b"\x89HDF\r\n\x1a\n" + bytes(5000)},
                          tmp_path / "b.keras"), "not a readable Keras weights file")
    with zipfile.ZipFile(good) as zf:
        h5 = zf.read("model.weights.h5")
    truncated = rewrite(good, {"model.weights.h5": h5[:len(h5) // 2]}, tmp_path / "c.keras")
    _load_refused(truncated, "not a readable Keras weights file")
    _load_refused(rewrite(good, {"config.json": b"{not json"}, tmp_path / "d.keras"),
                  "not valid JSON")
    _load_refused(rewrite(good, {"model.weights.h5": None}, tmp_path / "e.keras"),
                  "no model.weights.h5")


def _weights_with(good, tmp_path, edit):
    """The archive with its HDF5 file rewritten by edit(h5py.File)."""
    with zipfile.ZipFile(good) as zf:
        buf = io.BytesIO(zf.read("model.weights.h5"))
    with h5py.File(buf, "a") as f:
        edit(f)
    return rewrite(good, {"model.weights.h5": buf.getvalue()}, tmp_path / "w.keras")


def test_shapes_that_lie_are_refused(good, tmp_path):
    def wrong_shape(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((5, 6), dtype=np.float32)

    _load_refused(_weights_with(good, tmp_path, wrong_shape), r"has shape \(5, 6\)")
    config = _config(good)
    config["config"]["layers"][1]["config"]["units"] = 10**9  # the file holds 6
    _load_refused(rewrite(good, {"config.json": json.dumps(config)}, tmp_path / "u.keras"),
                  "more than a weights file")
    config = _config(good)
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 10**12]
    _load_refused(rewrite(good, {"config.json": json.dumps(config)}, tmp_path / "v.keras"),
                  "more than a weights file")


def test_links_and_external_storage_are_refused(good, tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(bytes(4 * 24))

    def external(f):
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(4, 6), dtype=np.float32,
                         external=[(str(outside), 0, 4 * 24)])

    _load_refused(_weights_with(good, tmp_path, external), "stored outside the file")

    def link(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.SoftLink("/layers/dense_1/vars/0")

    _load_refused(_weights_with(good, tmp_path, link), "missing .or is a link")

    def non_finite(f):
        f["layers/dense/vars/1"][0] = np.nan

    _load_refused(_weights_with(good, tmp_path, non_finite), "NaN or infinity")


@pytest.mark.parametrize("entry, match", [
    ({"module": "keras.layers", "class_name": "Lambda",
      "config": {"name": "l", "function": {"class_name": "__lambda__",
                                           "config": {"code": "4wEAAAAA"}}}},
     "Python code|__lambda__"),
    ({"module": "my_package.layers", "class_name": "Dense", "config": {"units": 3}},
     "from module 'my_package.layers', not from keras"),
    ({"module": "keras.layers", "class_name": "MyLayer", "config": {},
      "registered_name": "Custom>MyLayer"}, "custom object"),
    ({"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "b"}},
     "layer class 'BatchNormalization' is not supported; the supported layers are "
     "InputLayer, Dense, Activation, Flatten"),
])
def test_lambdas_custom_objects_and_other_layers_are_refused(good, tmp_path, entry, match):
    config = _config(good)
    entry = {**entry, "name": "x", "inbound_nodes": config["config"]["layers"][1][
        "inbound_nodes"]}
    config["config"]["layers"][1] = entry
    _load_refused(rewrite(good, {"config.json": json.dumps(config)}, tmp_path / "l.keras"),
                  match)


def test_custom_activation_function_and_deep_nesting_are_refused(good, tmp_path):
    config = _config(good)
    config["config"]["layers"][1]["config"]["activation"] = {
        "module": "builtins", "class_name": "function", "config": "eval",
        "registered_name": "function"}
    _load_refused(rewrite(good, {"config.json": json.dumps(config)}, tmp_path / "a.keras"),
                  "not from keras")
    deep = "[" * 100_000 + "]" * 100_000
    _load_refused(rewrite(good, {"config.json": deep}, tmp_path / "d.keras"),
                  "not valid JSON|must hold a JSON object|nests deeper")


def test_a_graph_that_is_not_a_chain_is_refused(good, tmp_path):
    config = _config(good)
    node = config["config"]["layers"][2]["inbound_nodes"][0]
    node["args"].append(node["args"][0])  # a merge of two tensors
    _load_refused(rewrite(good, {"config.json": json.dumps(config)}, tmp_path / "g.keras"),
                  "not a chain")


# -- both directions with real Keras ---------------------------------------------------


def _oracle():
    from keras_oracle import real_keras, to_numpy  # skips where Keras/torch are missing

    return real_keras, to_numpy


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop_centered", "nadam", "adagrad",
                                       "sgd_momentum"])
def test_keras_loads_ours_predicts_the_same_and_trains_on_from_our_state(tmp_path, optimizer):
    real_keras, to_numpy = _oracle()
    make = {"adam": lambda k: k.optimizers.Adam(0.01),
            "rmsprop_centered": lambda k: k.optimizers.RMSprop(0.01, momentum=0.5,
                                                               centered=True),
            "nadam": lambda k: k.optimizers.Nadam(0.01),
            "adagrad": lambda k: k.optimizers.Adagrad(0.05),
            "sgd_momentum": lambda k: k.optimizers.SGD(0.05, momentum=0.9)}[optimizer]
    ours = trained(every_layer(keras), X, Y, make(keras), "mse", metrics=["mae"])
    ours.save(tmp_path / "m.keras")
    theirs = real_keras.saving.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in theirs.layers] == [
        type(layer).__name__ for layer in ours.layers]
    np.testing.assert_allclose(to_numpy(theirs.predict(X, verbose=0)),
                               ours.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    assert float(theirs.evaluate(X, Y, verbose=0)[0]) == pytest.approx(
        ours.evaluate(X, Y, verbose=0)[0], rel=1e-5)
    assert int(to_numpy(theirs.optimizer.iterations)) == ours.optimizer.iterations
    # The optimizer's variables came across: one more epoch on each side agrees.
    ours.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    theirs_dense = [w for layer in theirs.layers if type(layer).__name__ == "Dense"
                    for w in layer.get_weights()]
    assert len(theirs_dense) == len(ours.get_weights())
    for a, b in zip(ours.get_weights(), theirs_dense):
        np.testing.assert_allclose(a, to_numpy(b), atol=2e-5)


@pytest.mark.parametrize("optimizer", ["adam_amsgrad", "adadelta", "adamax", "adamw"])
def test_we_load_keras_archives_with_their_optimizer_state(tmp_path, optimizer):
    real_keras, to_numpy = _oracle()
    make = {"adam_amsgrad": lambda k: k.optimizers.Adam(0.01, amsgrad=True),
            "adadelta": lambda k: k.optimizers.Adadelta(1.0),
            "adamax": lambda k: k.optimizers.Adamax(0.01),
            "adamw": lambda k: k.optimizers.AdamW(0.01)}[optimizer]
    theirs = trained(every_layer(real_keras), X, Y, make(real_keras), "mse",
                     metrics=["mae"])
    theirs.save(tmp_path / "k.keras")
    ours = keras.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(ours.predict(X, verbose=0), to_numpy(theirs.predict(X, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    assert ours.metrics_names == ["loss", "mae"]
    assert ours.optimizer.iterations == int(to_numpy(theirs.optimizer.iterations))
    ours.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    theirs_dense = [w for layer in theirs.layers if type(layer).__name__ == "Dense"
                    for w in layer.get_weights()]
    assert len(theirs_dense) == len(ours.get_weights())
    for a, b in zip(ours.get_weights(), theirs_dense):
        np.testing.assert_allclose(a, to_numpy(b), atol=2e-5)


def test_functional_archives_both_ways_with_keras(tmp_path):
    real_keras, to_numpy = _oracle()
    theirs = trained(functional(real_keras), X4, LABELS, "sgd", "categorical_crossentropy",
                     metrics=["accuracy"])
    theirs.save(tmp_path / "k.keras")
    ours = keras.models.load_model(tmp_path / "k.keras")
    assert isinstance(ours, keras.Model)
    expected = to_numpy(theirs.predict(X4, verbose=0))
    np.testing.assert_allclose(ours.predict(X4, verbose=0), expected, rtol=1e-5, atol=1e-7)
    ours.save(tmp_path / "ours.keras")
    back = real_keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(to_numpy(back.predict(X4, verbose=0)), expected, rtol=1e-5,
                               atol=1e-7)


def test_weights_h5_and_json_both_ways_with_keras(tmp_path):
    real_keras, to_numpy = _oracle()
    ours = trained(every_layer(keras), X, Y, "sgd", "mse")
    theirs = real_keras.models.model_from_json(ours.to_json())
    ours.save_weights(tmp_path / "o.weights.h5")
    theirs.load_weights(tmp_path / "o.weights.h5")
    np.testing.assert_allclose(to_numpy(theirs.predict(X, verbose=0)),
                               ours.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    # ...and back: Keras' JSON and weights into a new annfast model.
    mirror = keras.models.model_from_json(theirs.to_json())
    theirs.save_weights(tmp_path / "t.weights.h5")
    mirror.load_weights(tmp_path / "t.weights.h5")
    np.testing.assert_allclose(mirror.predict(X, verbose=0), ours.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_keras_layers_we_do_not_support_are_refused_by_name(tmp_path):
    real_keras, _ = _oracle()
    model = real_keras.Sequential([real_keras.Input(shape=(4,)), real_keras.layers.Dense(3),
                                   real_keras.layers.BatchNormalization(),
                                   real_keras.layers.Dense(1)])
    model.save(tmp_path / "bn.keras")
    with pytest.raises(ValueError, match="'BatchNormalization' is not supported; the "
                                         "supported layers are InputLayer, Dense"):
        keras.models.load_model(tmp_path / "bn.keras")
    lam = real_keras.Sequential([real_keras.Input(shape=(4,)),
                                 real_keras.layers.Lambda(lambda t: t * 2)])
    lam.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="Python code|__lambda__"):
        keras.models.load_model(tmp_path / "lam.keras")


def test_damaged_archives_raise_value_error_only(good, tmp_path):
    """Random byte flips in the archive, in its HDF5 file, and odd values anywhere
    in its config: the load succeeds or raises ValueError, nothing else (seeded)."""
    draw = np.random.default_rng(4)
    whole = good.read_bytes()
    with zipfile.ZipFile(good) as zf:
        h5, config = zf.read("model.weights.h5"), json.loads(zf.read("config.json"))

    def paths(node, path=()):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from paths(value, (*path, i))
        if path:
            yield path

    every = list(paths(config))
    odd = [None, -1, 10**30, "x", [], {}, 1.5, True, {"class_name": 3}]
    target = tmp_path / "damaged.keras"
    for case in range(150):
        if case < 50:
            data = bytearray(whole)
        elif case < 100:
            data = bytearray(h5)
        if case < 100:
            for _ in range(draw.integers(1, 10)):
                data[draw.integers(0, len(data))] = draw.integers(0, 256)
        if case < 50:
            target.write_bytes(bytes(data))
        else:
            edited = json.loads(json.dumps(config))
            if case >= 100:
                path = every[draw.integers(0, len(every))]
                node = edited
                for key in path[:-1]:
                    node = node[key]
                node[path[-1]] = odd[draw.integers(0, len(odd))]
            with zipfile.ZipFile(target, "w") as zf:
                zf.writestr("config.json", json.dumps(edited))
                zf.writestr("model.weights.h5", bytes(data) if case < 100 else h5)
        try:
            keras.models.load_model(target)
        except ValueError:
            pass
