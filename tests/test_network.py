"""NeuralNet as a drop-in for the tutorial's class, checked against the reference."""

import pickle

import numpy as np
import pytest
from conftest import flatten

from annfast import NeuralNet, TrainingDivergedError, _params, reference
from annfast.activations import OUTPUT_LOSS

# -- the tutorial's data, built exactly as its script builds it --------------------


def transform_target(y):
    t = np.zeros((10, 1))
    t[int(y)] = 1.0
    return t


def tutorial_pairs(X, y):
    """The tutorial's list of (x, y): x of shape (784,) ints 0/1, y a one-hot (10, 1)."""
    return [(x.astype(bool).astype(int), transform_target(label)) for x, label in zip(X, y)]


@pytest.fixture(scope="module")
def small(mnist):
    """600 training, 150 validation and 150 test images of the MNIST subset."""
    _, ((Xtr, ytr), (Xva, yva), (Xte, yte)) = mnist
    return (Xtr[:600], ytr[:600]), (Xva[:150], yva[:150]), (Xte[:150], yte[:150])


def params_of(net):
    """A flat copy of the public weights and biases."""
    return flatten([w.copy() for w in net.weights], [b.copy() for b in net.biases])


def reference_training(start, net, X, Y, orders):
    """Train the reference from flat params ``start`` as NeuralNet trains: per-sample
    SGD over each order with decay reg_lambda / n; returns the flat result."""
    weights, biases = _params.views(start.copy(), net.layers, bias_shape="flat")
    acts = [net.activation] * (net.num_layers - 2) + [net.output]
    loss = OUTPUT_LOSS[net.output]
    for order in orders:
        reference.sgd_epoch(weights, biases, acts, loss, X, Y, order, net.learning_rate,
                            net.reg_lambda / len(X), net.leaky_slope)
    return flatten(weights, biases)


def reference_predict(flat, net, X):
    weights, biases = _params.views(flat, net.layers, bias_shape="flat")
    acts = [net.activation] * (net.num_layers - 2) + [net.output]
    return reference.predict(weights, biases, acts, X, net.leaky_slope)


# -- the drop-in path ------------------------------------------------------------------


def test_tutorial_script_runs_unchanged(small, tmp_path, capsys):
    (Xtr, ytr), (Xva, yva), (Xte, yte) = small
    train_data, val_data = tutorial_pairs(Xtr, ytr), tutorial_pairs(Xva, yva)
    test_data = tutorial_pairs(Xte, yte)

    NN = NeuralNet([784, 32, 10], seed=0)
    history = NN.train(train_data, val_data, epochs=3)
    accuracy = NN.test(test_data)

    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        assert line.startswith(f"epoch {i + 1}/3")
        assert f"loss {history['loss'][i]:.4f}" in line
        assert f"val_accuracy {history['val_accuracy'][i]:.2f}%" in line
    assert sorted(history) == ["loss", "time", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    # test() is the percentage of argmax hits, as the tutorial computes it.
    hits = [np.argmax(NN.feedforward(x)) == np.argmax(y) for x, y in test_data]
    assert accuracy == pytest.approx(100.0 * np.mean(hits), abs=1e-12)
    assert accuracy > 60.0  # 3 epochs on 600 images; chance is 10%
    assert history["val_accuracy"][-1] == pytest.approx(NN.test(val_data), abs=1e-12)

    path = tmp_path / "net.pkl"
    NN.dump(str(path))
    with open(path, "rb") as f:
        loaded = pickle.load(f)
    np.testing.assert_array_equal(loaded.predict_proba(Xte), NN.predict_proba(Xte))
    assert loaded.test(test_data) == accuracy


@pytest.mark.parametrize("form", ["column_x_int_y", "arrays", "fit"])
def test_every_data_form_trains_identically(form, small):
    (X, y), _, _ = small
    X, y = X[:200], y[:200]
    net = NeuralNet([784, 16, 10], seed=3)
    net.train(tutorial_pairs(X, y), epochs=2, verbose=False)
    other = NeuralNet([784, 16, 10], seed=3)
    if form == "column_x_int_y":
        other.train([(x.reshape(-1, 1), int(label)) for x, label in zip(X, y)], epochs=2,
                    verbose=False)
    elif form == "arrays":
        other.train((X, y), epochs=2, verbose=False)
    else:
        other.fit(X, y, epochs=2)
    np.testing.assert_array_equal(params_of(other), params_of(net))


def test_train_does_not_shuffle_the_callers_list(small):
    (X, y), _, _ = small
    data = tutorial_pairs(X[:100], y[:100])
    before = [id(pair) for pair in data]
    NeuralNet([784, 8, 10], seed=0).train(data, epochs=2, verbose=False)
    assert [id(pair) for pair in data] == before


def test_validation_data_is_only_evaluated(small):
    (X, y), (Xv, yv), _ = small
    plain = NeuralNet([784, 16, 10], seed=5)
    plain.train((X, y), epochs=2, verbose=False)
    with_val = NeuralNet([784, 16, 10], seed=5)
    history = with_val.train((X, y), (Xv, yv), epochs=2, verbose=False)
    np.testing.assert_array_equal(params_of(plain), params_of(with_val))
    assert len(history["val_loss"]) == 2


def test_quiet_training_prints_nothing(small, capsys):
    (X, y), _, _ = small
    history = NeuralNet([784, 8, 10], seed=0).train((X[:50], y[:50]), epochs=2, verbose=False)
    assert capsys.readouterr().out == ""
    assert sorted(history) == ["loss", "time"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layers", [[6, 8, 5, 3], [6, 3]], ids=["hidden", "no-hidden"])
@pytest.mark.parametrize(("activation", "output"), [("relu", "softmax"), ("tanh", "sigmoid"),
                                                    ("leaky_relu", "identity")])
def test_training_matches_reference(activation, output, layers, dtype, rng):
    """Same start, same order (shuffle=False), decay reg_lambda / n per sample."""
    X = rng.normal(size=(40, 6)).astype(dtype)
    Y = np.eye(3)[rng.integers(0, 3, size=40)] if output != "identity" else rng.normal(
        size=(40, 3))
    Y = Y.astype(dtype)
    net = NeuralNet(layers, 0.1, 0.5, activation=activation, output=output, dtype=dtype,
                    seed=1)
    start = params_of(net)
    net.train((X, Y), epochs=2, shuffle=False, verbose=False)
    got = params_of(net)
    assert got.dtype == dtype
    expected = reference_training(start, net, X, Y, [np.arange(40)] * 2)
    # float64: max abs difference 1e-10; float32: 1e-4 of the largest weight.
    bound = 1e-10 if dtype == np.float64 else 1e-4 * max(1.0, np.max(np.abs(expected)))
    assert np.max(np.abs(got.astype(float) - expected)) <= bound
    np.testing.assert_allclose(net.predict_proba(X), reference_predict(expected, net, X),
                               rtol=0, atol=bound)


# Standard deviation of the first layer of [784, 32, 10] under each scheme.
INIT_STD = {"normal": 0.1, "xavier": np.sqrt(2 / (784 + 32)), "he": np.sqrt(2 / 784)}


@pytest.mark.parametrize("init", sorted(INIT_STD))
def test_initial_weights_follow_the_scheme(init):
    w = NeuralNet([784, 32, 10], init=init, seed=0).weights[0]
    expected = INIT_STD[init]
    # 25,088 draws: the sample std is within 3% of the target with room to spare.
    assert abs(w.std() - expected) < 0.03 * expected
    assert abs(w.mean()) < 0.03 * expected


def test_binary_sigmoid_output_with_int_labels(rng):
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = NeuralNet([2, 4, 1], 0.2, 0.0, output="sigmoid", seed=0).fit(X, y, epochs=30)
    labels = net.predict(X)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, (net.predict_proba(X)[:, 0] > 0.5).astype(int))
    assert net.score(X, y) >= 0.9  # linearly separable


def test_zero_epochs_change_nothing(rng):
    net = NeuralNet([3, 4, 2], seed=0)
    before = params_of(net)
    history = net.train((rng.normal(size=(5, 3)), rng.integers(0, 2, 5)), epochs=0,
                        verbose=False)
    assert history == {"loss": [], "time": []}
    np.testing.assert_array_equal(params_of(net), before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_are_views_with_tutorial_shapes(dtype):
    net = NeuralNet([5, 4, 3], dtype=dtype, seed=0)
    assert [w.shape for w in net.weights] == [(4, 5), (3, 4)]
    assert [b.shape for b in net.biases] == [(4, 1), (3, 1)]
    assert all(w.dtype == dtype for w in net.weights + net.biases)
    assert not any(b.any() for b in net.biases)  # zero biases, as the tutorial


@pytest.mark.parametrize("edit", ["assign", "assign_list", "in_place", "bias_in_place"])
def test_edited_weights_take_effect(edit, rng):
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    net = NeuralNet([4, 6, 3], seed=2)
    if edit == "assign":
        net.weights[0] = rng.normal(size=(6, 4)).astype(np.float32)  # any real dtype
    elif edit == "assign_list":
        net.weights = [w * 1.5 for w in net.weights]
        net.biases = [b + 0.1 for b in net.biases]
    elif edit == "in_place":
        net.weights[1][...] *= -2.0
    else:
        net.biases[0][:] = 0.25
    start = params_of(net)
    # The next prediction uses the edit ...
    np.testing.assert_allclose(net.predict_proba(X), reference_predict(start, net, X),
                               rtol=0, atol=1e-12)
    # ... and so does the next training step.
    net.train((X, y), epochs=1, shuffle=False, verbose=False)
    expected = reference_training(start, net, X, np.eye(3)[y], [np.arange(30)])
    assert np.max(np.abs(params_of(net) - expected)) <= 1e-10
    # After training the lists are views again: an edit still takes effect.
    net.weights[0][0, 0] += 1.0
    assert params_of(net)[0] == pytest.approx(expected[0] + 1.0, abs=1e-12)
    np.testing.assert_allclose(net.predict_proba(X),
                               reference_predict(params_of(net), net, X), rtol=0, atol=1e-12)


def test_feedforward_returns_a_column(small):
    (X, _), _, _ = small
    net = NeuralNet([784, 16, 10], seed=0)
    x = X[0].astype(int)
    out = net.feedforward(x)
    assert out.shape == (10, 1)
    np.testing.assert_array_equal(net.feedforward(x.reshape(-1, 1)), out)
    np.testing.assert_array_equal(out[:, 0], net.predict_proba(X[:1])[0])
    assert out.sum() == pytest.approx(1.0, abs=1e-12)


def test_predict_and_score(small):
    (X, y), _, (Xt, yt) = small
    net = NeuralNet([784, 16, 10], seed=0).fit(X, y, epochs=2)
    labels = net.predict(Xt)
    np.testing.assert_array_equal(labels, np.argmax(net.predict_proba(Xt), axis=1))
    assert net.score(Xt, yt) == pytest.approx(np.mean(labels == yt), abs=1e-15)
    assert net.test((Xt, yt)) == pytest.approx(100 * net.score(Xt, yt), abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip(dtype, small, tmp_path):
    (X, y), _, (Xt, _) = small
    net = NeuralNet([784, 8, 10], 0.1, 0.02, activation="tanh", dtype=dtype, seed=0)
    net.fit(X[:100], y[:100], epochs=1)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = NeuralNet.load(path)
    assert loaded.layers == net.layers
    assert (loaded.learning_rate, loaded.reg_lambda) == (0.1, 0.02)
    assert (loaded.activation, loaded.output) == ("tanh", "softmax")
    assert loaded.weights[0].dtype == dtype
    np.testing.assert_array_equal(params_of(loaded), params_of(net))
    np.testing.assert_array_equal(loaded.predict_proba(Xt), net.predict_proba(Xt))


def test_pickled_net_continues_training_identically(small, tmp_path):
    (X, y), _, _ = small
    net = NeuralNet([784, 8, 10], seed=4).fit(X[:100], y[:100], epochs=1)
    net.dump(tmp_path / "a.pkl")
    with open(tmp_path / "a.pkl", "rb") as f:
        twin = pickle.load(f)
    net.fit(X[:100], y[:100], epochs=1)
    twin.fit(X[:100], y[:100], epochs=1)
    np.testing.assert_array_equal(params_of(twin), params_of(net))


# -- MNIST end to end -----------------------------------------------------------------

# Points below the reference that are tolerated.  Rounding alone (BLAS vs the C
# loop) moves the 5-epoch test accuracy by up to 1.6 points either way across
# seeds 0, 1, 2, 2024 on this split, so 2 points would leave no headroom on a
# machine whose libm/BLAS rounds differently.
ACCURACY_MARGIN = 3.0
ACCURACY_FLOOR = 80.0  # percent; the issue reports 84-91% depending on the seed


def test_mnist_accuracy_matches_reference(mnist):
    """[784, 32, 10], lr 0.05, reg_lambda 0.01, 5 epochs on the 70/15/15 split.

    The reference starts from the same weights and visits the samples in the same
    shuffled orders (both drawn from one generator, as NeuralNet draws them), so
    the two compute the same math.  After one epoch the weights agree to 1e-10;
    over more epochs relu units that sit at their kink amplify last-bit rounding
    differences (1e-12 after 1 epoch, ~1e-9 after 2, ~1e-4 after 3 here), so
    after 5 epochs only the accuracies are compared, with a margin."""
    name, ((Xtr, ytr), _, (Xte, yte)) = mnist
    seed = 2024
    net = NeuralNet([784, 32, 10], learning_rate=0.05, reg_lambda=0.01,
                    seed=np.random.default_rng(seed))
    start = params_of(net)
    twin = np.random.default_rng(seed)
    np.testing.assert_array_equal(
        _params.init_params([784, 32, 10], "xavier", twin, np.float64), start)
    orders = [twin.permutation(len(Xtr)) for _ in range(5)]
    train_data, test_data = tutorial_pairs(Xtr, ytr), tutorial_pairs(Xte, yte)
    Ytr = np.eye(10)[ytr]

    net.train(train_data, epochs=1, verbose=False)
    expected = reference_training(start, net, Xtr, Ytr, orders[:1])
    assert np.max(np.abs(params_of(net) - expected)) <= 1e-10

    net.train(train_data, epochs=4, verbose=False)
    accuracy = net.test(test_data)
    expected = reference_training(expected, net, Xtr, Ytr, orders[1:])
    ref_accuracy = 100.0 * np.mean(np.argmax(reference_predict(expected, net, Xte), 1) == yte)
    assert accuracy >= ref_accuracy - ACCURACY_MARGIN, (name, accuracy, ref_accuracy)
    assert accuracy >= ACCURACY_FLOOR, (name, accuracy)


# -- divergence ------------------------------------------------------------------------


def diverging_net(small):
    """A net trained one sane epoch, then given an absurd learning rate."""
    (X, y), _, _ = small
    net = NeuralNet([784, 16, 10], seed=0).fit(X[:200], y[:200], epochs=1)
    net.learning_rate = 1e12
    return net, X[:200], y[:200]


def test_divergence_raises_and_restores_the_epoch_start(small):
    net, X, y = diverging_net(small)
    before = params_of(net)
    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        net.fit(X, y, epochs=3)
    np.testing.assert_array_equal(params_of(net), before)
    assert np.all(np.isfinite(net.predict_proba(X)))
    assert issubclass(TrainingDivergedError, FloatingPointError)


def test_divergence_can_warn_instead(small):
    net, X, y = diverging_net(small)
    before = params_of(net)
    with pytest.warns(RuntimeWarning, match="diverged"):
        net.fit(X, y, epochs=3, on_divergence="warn")
    np.testing.assert_array_equal(params_of(net), before)
    assert net.history_["loss"] == []


# -- bad input: clear errors, model untouched --------------------------------------


def test_bad_training_data_leaves_the_weights_alone(small):
    (X, y), _, _ = small
    net = NeuralNet([784, 8, 10], seed=0)
    before = params_of(net)
    good = tutorial_pairs(X[:5], y[:5])
    nan_X = X[:5].copy()
    nan_X[2, 100] = np.nan
    cases = [
        # (call, exception type, message fragment)
        (lambda: net.train([(x[:783], t) for x, t in good], verbose=False), ValueError,
         "training_data"),
        (lambda: net.fit(X[:5, :700], y[:5]), ValueError, "784"),
        (lambda: net.train([(x, t[:9]) for x, t in good], verbose=False), ValueError,
         "training_data targets"),
        (lambda: net.fit(X[:5], np.zeros((5, 9))), ValueError, "y has 9 values"),
        (lambda: net.fit(nan_X, y[:5]), ValueError, "X contains NaN"),
        (lambda: net.train([], verbose=False), ValueError, "training_data is empty"),
        (lambda: net.fit(np.empty((0, 784)), np.empty(0, int)), ValueError, "X is empty"),
    ]
    for call, kind, fragment in cases:
        with pytest.raises(kind, match=fragment):
            call()
        np.testing.assert_array_equal(params_of(net), before)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("density", [0.05, 0.9], ids=["sparse-path", "dense-path"])
def test_non_finite_inputs_are_refused_on_both_training_paths(bad, density):
    """Mostly-zero X is proved finite by the pass that lists its non-zeros, the
    rest by its own look; either way nothing is trained."""
    rng = np.random.default_rng(0)
    X = np.where(rng.random((40, 30)) < density, 1.0, 0.0)
    y = rng.integers(0, 3, size=40)
    X[17, 29] = bad
    net = NeuralNet([30, 5, 3], seed=0)
    before = params_of(net)
    with pytest.raises(ValueError, match="X contains"):
        net.fit(X, y, epochs=2)
    pairs = [(x, np.eye(3)[t]) for x, t in zip(X, y)]
    with pytest.raises(ValueError, match="training_data inputs contains"):
        net.train(pairs, epochs=2, verbose=False)
    np.testing.assert_array_equal(params_of(net), before)


@pytest.mark.parametrize(("kwargs", "kind", "fragment"), [
    ({"layers": [784]}, ValueError, "layers needs at least 2"),
    ({"layers": []}, ValueError, "layers"),
    ({"layers": [784, 0, 10]}, ValueError, r"layers\[1\] must be >= 1"),
    ({"layers": [784, -3, 10]}, ValueError, r"layers\[1\]"),
    ({"layers": [2, 2], "learning_rate": 0}, ValueError, "learning_rate"),
    ({"layers": [2, 2], "learning_rate": -0.5}, ValueError, "learning_rate"),
    ({"layers": [2, 2], "activation": "maxout"}, ValueError, "activation='maxout'"),
    ({"layers": [2, 2], "output": "tanh"}, ValueError, "output"),
])
def test_bad_constructor_arguments(kwargs, kind, fragment):
    with pytest.raises(kind, match=fragment):
        NeuralNet(**kwargs)
