"""A table of bad calls across the public entry points.

Each row is one distinct bad call.  The test asserts the exception type, a
fragment of its message (which names the argument and what was expected),
and that the model is bitwise unchanged afterwards: the flat parameter buffer,
every ``weights``/``biases`` array, the random generator and the history.
"""

import warnings

import numpy as np
import pytest

from annfast import NeuralNet, Neuron

X = np.random.default_rng(0).normal(size=(6, 3))
Y = np.array([0, 1, 1, 0, 1, 0])
PAIRS = [(x.reshape(-1, 1), int(t)) for x, t in zip(X, Y)]


def with_value(arr, index, value, dtype=float):
    out = np.array(arr, dtype=dtype)
    out[index] = value
    return out


def sparse_matrix(dense):
    sparse = pytest.importorskip("scipy.sparse")
    return sparse.csr_matrix(dense)


def broken_csr():
    """A hand-built CSR matrix whose second index is far out of range: scipy's own
    toarray() would write out of bounds with it."""
    sparse = pytest.importorskip("scipy.sparse")
    return sparse.csr_matrix((np.ones(2), np.array([0, 10**7]), np.array([0, 1, 2])),
                             shape=(2, 3))


def broken_coo():
    sparse = pytest.importorskip("scipy.sparse")
    coo = sparse.coo_matrix((np.ones(2), (np.array([0, 1]), np.array([0, 2]))), shape=(2, 3))
    coo.col[1] = 10**7
    return coo


# (id, call(net, neuron, tmp_path), exception type, message fragment)
# ``net`` is NeuralNet([3, 4, 2]) (softmax), float64, already trained one epoch;
# ``neuron`` is Neuron(3, bias=0.5, weights=[0.1, 0.2, 0.3]).
CASES = [
    # -- NeuralNet constructor ------------------------------------------------------------
    ("init-layers-str", lambda n, u, p: NeuralNet("3,4,2"), TypeError, "layers must be a list"),
    ("init-layers-one", lambda n, u, p: NeuralNet([3]), ValueError, "at least 2 sizes"),
    ("init-layers-empty", lambda n, u, p: NeuralNet([]), ValueError, "at least 2 sizes"),
    ("init-layers-zero", lambda n, u, p: NeuralNet([3, 0, 2]), ValueError,
     "layers[1] must be >= 1"),
    ("init-layers-negative", lambda n, u, p: NeuralNet([-3, 2]), ValueError,
     "layers[0] must be >= 1"),
    ("init-layers-float", lambda n, u, p: NeuralNet([3, 2.5]), TypeError,
     "layers[1] must be an integer"),
    ("init-layers-bool", lambda n, u, p: NeuralNet([3, True]), TypeError,
     "layers[1] must be an integer"),
    ("init-layers-dict", lambda n, u, p: NeuralNet({3: 1, 2: 1}), TypeError,
     "layers must be a list"),
    ("init-layers-2d", lambda n, u, p: NeuralNet(np.ones((2, 2), int)), ValueError,
     "1-D list of layer sizes"),
    ("init-layers-huge", lambda n, u, p: NeuralNet([10**6, 10**6, 10**6]), ValueError,
     "at most"),
    ("init-lr-zero", lambda n, u, p: NeuralNet([3, 2], 0.0), ValueError,
     "learning_rate must be > 0"),
    ("init-lr-nan", lambda n, u, p: NeuralNet([3, 2], float("nan")), ValueError,
     "learning_rate must be finite"),
    ("init-lr-str", lambda n, u, p: NeuralNet([3, 2], "0.1"), TypeError,
     "learning_rate must be a real number"),
    ("init-reg-negative", lambda n, u, p: NeuralNet([3, 2], 0.1, -1.0), ValueError,
     "reg_lambda must be >= 0"),
    ("init-reg-inf", lambda n, u, p: NeuralNet([3, 2], 0.1, float("inf")), ValueError,
     "reg_lambda must be finite"),
    ("init-activation-unknown", lambda n, u, p: NeuralNet([3, 2], activation="swish"),
     ValueError, "activation='swish' is not a known activation; expected one of:"),
    ("init-activation-none", lambda n, u, p: NeuralNet([3, 2], activation=None), TypeError,
     "activation must be a string"),
    ("init-output-relu", lambda n, u, p: NeuralNet([3, 2], output="relu"), ValueError,
     "output='relu' is not supported; expected one of"),
    ("init-output-unknown", lambda n, u, p: NeuralNet([3, 2], output="maxout"), ValueError,
     "output='maxout' is not a known activation"),
    ("init-init-unknown", lambda n, u, p: NeuralNet([3, 2], init="zeros"), ValueError,
     "init='zeros' is not valid; expected one of"),
    ("init-dtype-int", lambda n, u, p: NeuralNet([3, 2], dtype=np.int32), ValueError,
     "dtype must be float32 or float64"),
    ("init-dtype-float16", lambda n, u, p: NeuralNet([3, 2], dtype="float16"), ValueError,
     "dtype must be float32 or float64"),
    ("init-dtype-nonsense", lambda n, u, p: NeuralNet([3, 2], dtype="nonsense"), TypeError,
     "dtype must be float32 or float64"),
    ("init-seed-negative", lambda n, u, p: NeuralNet([3, 2], seed=-1), ValueError,
     "seed must be >= 0"),
    ("init-seed-float", lambda n, u, p: NeuralNet([3, 2], seed=1.5), TypeError,
     "seed must be an integer"),
    ("init-slope-negative", lambda n, u, p: NeuralNet([3, 2], leaky_slope=-0.1), ValueError,
     "leaky_slope must be >= 0"),
    # -- fit: X ---------------------------------------------------------------------------
    ("fit-X-1d", lambda n, u, p: n.fit(X[0], Y[:1]), ValueError, "X must be a 2-D array"),
    ("fit-X-3d", lambda n, u, p: n.fit(X[None], Y), ValueError, "X must be a 2-D array"),
    ("fit-X-features", lambda n, u, p: n.fit(X[:, :2], Y), ValueError,
     "X has 2 features per sample, but the network expects 3"),
    ("fit-X-nan", lambda n, u, p: n.fit(with_value(X, (2, 1), np.nan), Y), ValueError,
     "X contains NaN"),
    ("fit-X-inf", lambda n, u, p: n.fit(with_value(X, (0, 0), -np.inf), Y), ValueError,
     "X contains infinity"),
    ("fit-X-complex", lambda n, u, p: n.fit(X + 1j, Y), TypeError, "X must be real numbers"),
    ("fit-X-strings", lambda n, u, p: n.fit(X.astype(str), Y), TypeError,
     "X must be numeric"),
    ("fit-X-object-none", lambda n, u, p: n.fit(with_value(X, (1, 1), None, object), Y),
     TypeError, "X must hold numbers only"),
    ("fit-X-empty", lambda n, u, p: n.fit(np.empty((0, 3)), []), ValueError, "X is empty"),
    ("fit-X-no-features", lambda n, u, p: n.fit(np.empty((6, 0)), Y), ValueError,
     "X is empty"),
    ("fit-X-ragged", lambda n, u, p: n.fit([[1, 2, 3], [1, 2]], [0, 1]), ValueError,
     "X could not be read as a numeric array"),
    ("fit-X-datetime", lambda n, u, p: n.fit(np.zeros((6, 3), "datetime64[s]"), Y),
     TypeError, "X must be numeric"),
    ("fit-X-none", lambda n, u, p: n.fit(None, Y), TypeError, "X must hold numbers only"),
    ("fit-X-sparse-nan", lambda n, u, p: n.fit(sparse_matrix(with_value(X, (1, 1), np.nan)), Y),
     ValueError, "X contains NaN"),
    ("fit-X-sparse-features", lambda n, u, p: n.fit(sparse_matrix(X[:, :2]), Y), ValueError,
     "X has 2 features per sample"),
    ("fit-X-sparse-bad-index", lambda n, u, p: n.fit(broken_csr(), Y[:2]), ValueError,
     "X is not a valid sparse matrix"),
    ("fit-X-sparse-complex", lambda n, u, p: n.fit(sparse_matrix(X + 1j), Y), TypeError,
     "X must be real numbers"),
    ("fit-X-sparse-empty", lambda n, u, p: n.fit(sparse_matrix(np.empty((0, 3))), []),
     ValueError, "non-empty 2-D matrix"),
    ("predict-X-sparse-bad-index", lambda n, u, p: n.predict(broken_csr()), ValueError,
     "X is not a valid sparse matrix"),
    ("predict-X-coo-bad-index", lambda n, u, p: n.predict(broken_coo()), ValueError,
     "X is not a valid sparse matrix"),
    # -- fit: y ---------------------------------------------------------------------------
    ("fit-y-short", lambda n, u, p: n.fit(X, Y[:4]), ValueError,
     "inconsistent numbers of samples: 6 and 4"),
    ("fit-y-label-high", lambda n, u, p: n.fit(X, with_value(Y, 3, 2, int)), ValueError,
     "labels must be in [0, 2)"),
    ("fit-y-label-negative", lambda n, u, p: n.fit(X, with_value(Y, 0, -1, int)), ValueError,
     "labels must be in [0, 2)"),
    ("fit-y-fractional", lambda n, u, p: n.fit(X, Y + 0.5), ValueError,
     "y holds non-integer class labels"),
    ("fit-y-nan", lambda n, u, p: n.fit(X, with_value(Y, 1, np.nan)), ValueError,
     "y contains NaN"),
    ("fit-y-strings", lambda n, u, p: n.fit(X, Y.astype(str)), TypeError,
     "y must be numeric labels"),
    ("fit-y-none", lambda n, u, p: n.fit(X, None), TypeError, "y must be numeric labels"),
    ("fit-y-width", lambda n, u, p: n.fit(X, np.ones((6, 3)) / 3), ValueError,
     "y has 3 values per sample, but the network has 2 outputs"),
    ("fit-y-not-probability", lambda n, u, p: n.fit(X, np.eye(2)[Y] * 2), ValueError,
     "y values must be in [0, 1]"),
    ("fit-y-inf-onehot", lambda n, u, p: n.fit(X, with_value(np.eye(2)[Y], (0, 0), np.inf)),
     ValueError, "y contains infinity"),
    ("fit-y-complex", lambda n, u, p: n.fit(X, Y + 0j), TypeError,
     "y must be numeric labels"),
    # -- fit: options ---------------------------------------------------------------------
    ("fit-epochs-negative", lambda n, u, p: n.fit(X, Y, epochs=-1), ValueError,
     "epochs must be >= 0"),
    ("fit-epochs-float", lambda n, u, p: n.fit(X, Y, epochs=2.0), TypeError,
     "epochs must be an integer"),
    ("fit-epochs-none", lambda n, u, p: n.fit(X, Y, epochs=None), TypeError,
     "epochs must be an integer"),
    ("fit-shuffle-str", lambda n, u, p: n.fit(X, Y, shuffle="no"), TypeError,
     "shuffle must be True or False"),
    ("fit-verbose-2", lambda n, u, p: n.fit(X, Y, verbose=2), TypeError,
     "verbose must be True or False"),
    ("fit-divergence-unknown", lambda n, u, p: n.fit(X, Y, on_divergence="ignore"),
     ValueError, "on_divergence='ignore' is not valid; expected one of"),
    ("fit-val-not-pair", lambda n, u, p: n.fit(X, Y, validation_data=(X, Y, Y)), TypeError,
     "validation_data must be a tuple (X_val, y_val)"),
    ("fit-val-features", lambda n, u, p: n.fit(X, Y, validation_data=(X[:, :2], Y)),
     ValueError, "validation_data[0] has 2 features per sample"),
    ("fit-val-labels", lambda n, u, p: n.fit(X, Y, validation_data=(X, Y + 5)), ValueError,
     "validation_data[1] labels must be in [0, 2)"),
    ("fit-val-length", lambda n, u, p: n.fit(X, Y, validation_data=(X, Y[:2])), ValueError,
     "inconsistent numbers of samples"),
    # -- prediction -----------------------------------------------------------------------
    ("predict-X-1d", lambda n, u, p: n.predict(X[0]), ValueError, "x.reshape(1, -1)"),
    ("predict-X-features", lambda n, u, p: n.predict(np.ones((2, 4))), ValueError,
     "X has 4 features per sample, but the network expects 3"),
    ("predict-X-nan", lambda n, u, p: n.predict(with_value(X, (5, 2), np.nan)), ValueError,
     "X contains NaN"),
    ("predict-X-dict", lambda n, u, p: n.predict({"a": 1}), TypeError,
     "X must hold numbers only"),
    ("predict-proba-empty", lambda n, u, p: n.predict_proba(np.empty((0, 3))), ValueError,
     "X is empty"),
    ("predict-proba-strings", lambda n, u, p: n.predict_proba([["a", "b", "c"]]), TypeError,
     "X must be numeric"),
    ("predict-proba-f32-overflow",
     lambda n, u, p: NeuralNet([3, 2], dtype=np.float32, seed=0).predict_proba(X * 1e300),
     ValueError, "too large for float32"),
    ("score-y-short", lambda n, u, p: n.score(X, Y[:3]), ValueError,
     "inconsistent numbers of samples"),
    ("score-y-labels", lambda n, u, p: n.score(X, Y + 2), ValueError,
     "labels must be in [0, 2)"),
    ("feedforward-length", lambda n, u, p: n.feedforward(np.ones(4)), ValueError,
     "x has 4 features per sample"),
    ("feedforward-matrix", lambda n, u, p: n.feedforward(np.ones((2, 3))), ValueError,
     "x must have shape (3,) or (3, 1)"),
    ("feedforward-nan", lambda n, u, p: n.feedforward([1.0, np.nan, 0.0]), ValueError,
     "x contains NaN"),
    ("feedforward-ragged", lambda n, u, p: n.feedforward([[1.0], [2.0, 3.0]]), ValueError,
     "x could not be read"),
    # -- train / test (tutorial lists of pairs) -------------------------------------------
    ("train-int", lambda n, u, p: n.train(5, verbose=False), TypeError,
     "training_data must be a list of (x, y) pairs"),
    ("train-empty", lambda n, u, p: n.train([], verbose=False), ValueError,
     "training_data is empty"),
    ("train-triples", lambda n, u, p: n.train([(1, 2, 3)], verbose=False), ValueError,
     "training_data must be a list of (x, y) pairs"),
    ("train-x-lengths", lambda n, u, p: n.train([(np.ones(3), 0), (np.ones(2), 1)],
                                                verbose=False),
     ValueError, "the inputs x do not all have the same length"),
    ("train-x-features", lambda n, u, p: n.train([(np.ones(5), 0)], verbose=False),
     ValueError, "training_data inputs has 5 features"),
    ("train-label", lambda n, u, p: n.train(PAIRS + [(np.ones(3), 7)], verbose=False),
     ValueError, "training_data targets labels must be in [0, 2)"),
    ("train-validation-int", lambda n, u, p: n.train(PAIRS, 3, verbose=False), TypeError,
     "validation_data must be a list of (x, y) pairs"),
    ("train-epochs-str", lambda n, u, p: n.train(PAIRS, epochs="3", verbose=False),
     TypeError, "epochs must be an integer"),
    ("train-verbose-str", lambda n, u, p: n.train(PAIRS, verbose="yes"), TypeError,
     "verbose must be True or False"),
    ("test-empty", lambda n, u, p: n.test([]), ValueError, "test_data is empty"),
    ("test-features", lambda n, u, p: n.test([(np.ones(2), 0)]), ValueError,
     "test_data inputs has 2 features"),
    # -- files ----------------------------------------------------------------------------
    ("save-none", lambda n, u, p: n.save(None), TypeError, "path must be a file name"),
    ("save-empty", lambda n, u, p: n.save(""), ValueError, "path must not be empty"),
    ("save-missing-folder", lambda n, u, p: n.save(p / "missing" / "m.npz"),
     FileNotFoundError, "does not exist"),
    ("dump-float", lambda n, u, p: n.dump(3.5), TypeError, "file must be a file name"),
    ("load-int", lambda n, u, p: NeuralNet.load(42), TypeError, "path must be a file name"),
    ("load-garbage", lambda n, u, p: (p.joinpath("g.npz").write_bytes(b"garbage"),
                                      NeuralNet.load(p / "g.npz")),
     ValueError, "not a readable annfast model file"),
    # -- Neuron ---------------------------------------------------------------------------
    ("neuron-inputs-zero", lambda n, u, p: Neuron(0), ValueError, "n_inputs must be >= 1"),
    ("neuron-inputs-huge", lambda n, u, p: Neuron(10**12), ValueError,
     "n_inputs must be <="),
    ("neuron-inputs-float", lambda n, u, p: Neuron(2.5), TypeError,
     "n_inputs must be an integer"),
    ("neuron-weights-count", lambda n, u, p: Neuron(3, weights=[1.0, 2.0]), ValueError,
     "weights must hold n_inputs=3 values"),
    ("neuron-weights-nan", lambda n, u, p: Neuron(3, weights=[1.0, np.nan, 0.0]),
     ValueError, "weights contains NaN"),
    ("neuron-bias-str", lambda n, u, p: Neuron(3, bias="0.5"), TypeError,
     "bias must be a real number"),
    ("neuron-activation-softmax", lambda n, u, p: Neuron(3, activation="softmax"),
     ValueError, "softmax"),
    ("neuron-activation-unknown", lambda n, u, p: Neuron(3, activation="maxout"), ValueError,
     "activation='maxout' is not a known activation"),
    ("neuron-seed-str", lambda n, u, p: Neuron(3, seed="x"), TypeError,
     "seed must be an integer"),
    ("neuron-call-length", lambda n, u, p: u([1.0, 2.0]), ValueError,
     "xs has 2 values per sample"),
    ("neuron-call-nan", lambda n, u, p: u([1.0, np.nan, 2.0]), ValueError,
     "xs contains NaN"),
    ("neuron-call-str", lambda n, u, p: u("abc"), TypeError, "xs must be numeric"),
    ("neuron-call-complex", lambda n, u, p: u(np.ones(3) * 1j), TypeError,
     "xs must be real numbers"),
    ("neuron-call-3d", lambda n, u, p: u(np.ones((2, 2, 3))), ValueError,
     "xs must be a 2-D array"),
    ("neuron-call-ragged", lambda n, u, p: u([[1, 2, 3], [1]]), ValueError,
     "xs could not be read"),
]


def snapshot(net, neuron):
    return {
        "params": net._params.tobytes(),
        "params_id": id(net._params),
        "weights": [w.tobytes() for w in net.weights],
        "biases": [b.tobytes() for b in net.biases],
        "views": [id(a) for a in net.weights + net.biases],
        "rng": repr(net._rng.bit_generator.state),
        "history": repr(getattr(net, "history_", None)),
        "config": net._config(),
        "neuron": (neuron.ws.tobytes(), neuron.b, neuron.activation),
    }


@pytest.fixture
def models():
    net = NeuralNet([3, 4, 2], seed=1)
    net.fit(X, Y, epochs=1)
    neuron = Neuron(3, bias=0.5, weights=[0.1, 0.2, 0.3])
    return net, neuron


def test_table_has_at_least_60_distinct_calls():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60


@pytest.mark.parametrize("name, call, exc, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_call_raises_and_changes_nothing(models, tmp_path, name, call, exc, fragment,
                                             capsys):
    net, neuron = models
    before = snapshot(net, neuron)
    with pytest.raises(exc) as info:
        call(net, neuron, tmp_path)
    assert fragment in str(info.value), f"message {str(info.value)!r} lacks {fragment!r}"
    assert snapshot(net, neuron) == before
    assert capsys.readouterr().out == ""  # nothing trained, nothing printed
    assert not net._lock.locked()
    # The model still works normally after the refused call.
    net.predict(X)
    assert neuron([1.0, 1.0, 1.0]) == pytest.approx(0.5 + 0.6)


def test_user_edited_weights_of_wrong_shape_are_refused_before_training(models):
    net, _ = models
    before = net._params.tobytes()
    net.weights[0] = np.ones((3, 4))  # transposed by mistake
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(4, 3\)"):
        net.fit(X, Y)
    assert net._params.tobytes() == before
    net.weights[0] = np.ones((4, 3))
    net.biases[1] = np.full(2, np.inf)
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.predict(X)
    assert net._params.tobytes() == before


# -- the scikit-learn and Keras-style front ends ------------------------------------------
# Same contract: type, message fragment, and the fitted state bitwise unchanged.
# Hyper-parameters are set on the *fitted* estimator (set_params changes only
# them), so the rows check that fit validates them before touching coefs_ & co.

XF = np.random.default_rng(1).normal(size=(20, 3))
YC = np.arange(20) % 2
YR = XF.sum(axis=1)


def fitted_classifier():
    from annfast.sklearn import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 5 epochs
        return MLPClassifier((4,), max_iter=5, random_state=0).fit(XF, YC)


def fitted_regressor():
    from annfast.sklearn import MLPRegressor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 5 epochs
        return MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(XF, YR)


def unfitted_classifier():
    from annfast.sklearn import MLPClassifier

    return MLPClassifier((4,))


def fitted_keras():
    from annfast import keras

    model = keras.Sequential()
    model.add(keras.layers.Dense(4, input_dim=3, activation="relu"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["acc"])
    model.fit(XF, YC, epochs=1, verbose=0)
    return model


def uncompiled_keras():
    from annfast import keras

    model = keras.Sequential()
    model.add(keras.layers.Dense(2, input_dim=3))
    return model


def keras_layer(*args, **kwargs):
    from annfast import keras

    return keras.layers.Dense(*args, **kwargs)


NAN_X = np.where(XF > 1, np.nan, XF)

FRONT_END_CASES = [
    # -- annfast.sklearn.MLPClassifier ----------------------------------------------------
    ("clf-fit-nan", fitted_classifier, lambda m: m.fit(NAN_X, YC), ValueError,
     "Input X contains NaN"),
    ("clf-fit-X-1d", fitted_classifier, lambda m: m.fit(XF[:, 0], YC), ValueError,
     "Expected 2D array"),
    ("clf-fit-y-short", fitted_classifier, lambda m: m.fit(XF, YC[:5]), ValueError,
     "inconsistent numbers of samples"),
    ("clf-fit-empty", fitted_classifier, lambda m: m.fit(XF[:0], YC[:0]), ValueError,
     "0 sample(s)"),
    ("clf-fit-continuous-y", fitted_classifier, lambda m: m.fit(XF, YR), ValueError,
     "Unknown label type"),
    ("clf-fit-complex", fitted_classifier, lambda m: m.fit(XF + 1j, YC), ValueError,
     "Complex data not supported"),
    ("clf-partial-fit-new-class", fitted_classifier, lambda m: m.partial_fit(XF, YC + 5),
     ValueError, "did not declare"),
    ("clf-activation", fitted_classifier,
     lambda m: m.set_params(activation="swish").fit(XF, YC), ValueError,
     "activation='swish' is not supported"),
    ("clf-solver", fitted_classifier, lambda m: m.set_params(solver="lbfgs").fit(XF, YC),
     ValueError, "solver='lbfgs' is not supported"),
    ("clf-alpha", fitted_classifier, lambda m: m.set_params(alpha=-1.0).fit(XF, YC),
     ValueError, "alpha must be >= 0"),
    ("clf-hidden", fitted_classifier,
     lambda m: m.set_params(hidden_layer_sizes=(0,)).fit(XF, YC), ValueError,
     "hidden_layer_sizes[0] must be >= 1"),
    ("clf-max-iter", fitted_classifier, lambda m: m.set_params(max_iter=0).fit(XF, YC),
     ValueError, "max_iter must be >= 1"),
    ("clf-predict-features", fitted_classifier, lambda m: m.predict(XF[:, :2]), ValueError,
     "X has 2 features, but MLPClassifier is expecting 3"),
    ("clf-predict-proba-inf", fitted_classifier,
     lambda m: m.predict_proba(with_value(XF, (0, 0), np.inf)),
     ValueError, "infinity"),
    ("clf-predict-unfitted", unfitted_classifier, lambda m: m.predict(XF), ValueError,
     "is not fitted yet"),
    # -- annfast.sklearn.MLPRegressor -----------------------------------------------------
    ("reg-fit-y-nan", fitted_regressor, lambda m: m.fit(XF, YR * np.nan), ValueError,
     "Input y contains NaN"),
    ("reg-loss", fitted_regressor, lambda m: m.set_params(loss="huber").fit(XF, YR),
     ValueError, "loss='huber' is not supported"),
    ("reg-learning-rate-init", fitted_regressor,
     lambda m: m.set_params(learning_rate_init=0.0).fit(XF, YR), ValueError,
     "learning_rate_init must be > 0"),
    ("reg-dtype", fitted_regressor, lambda m: m.set_params(dtype=np.int32).fit(XF, YR),
     ValueError, "dtype must be float32 or float64"),
    ("reg-batch-size", fitted_regressor, lambda m: m.set_params(batch_size=0).fit(XF, YR),
     ValueError, "batch_size must be >= 1"),
    ("reg-shuffle", fitted_regressor, lambda m: m.set_params(shuffle="yes").fit(XF, YR),
     TypeError, "shuffle must be True or False"),
    ("reg-warm-start-nan", fitted_regressor,
     lambda m: m.set_params(warm_start=True).fit(NAN_X, YR), ValueError,
     "Input X contains NaN"),
    ("reg-partial-fit-features", fitted_regressor, lambda m: m.partial_fit(XF[:, :2], YR),
     ValueError, "X has 2 features"),
    ("reg-predict-features", fitted_regressor, lambda m: m.predict(XF[:, :1]), ValueError,
     "X has 1 features, but MLPRegressor is expecting 3"),
    # -- annfast.keras --------------------------------------------------------------------
    ("keras-fit-nan", fitted_keras, lambda m: m.fit(NAN_X, YC, verbose=0), ValueError,
     "x contains NaN"),
    ("keras-fit-features", fitted_keras, lambda m: m.fit(XF[:, :2], YC, verbose=0),
     ValueError, "x has 2 features per sample"),
    ("keras-fit-y-short", fitted_keras, lambda m: m.fit(XF, YC[:3], verbose=0), ValueError,
     "inconsistent numbers of samples"),
    ("keras-fit-batch-size", fitted_keras, lambda m: m.fit(XF, YC, batch_size=0, verbose=0),
     ValueError, "batch_size must be >= 1"),
    ("keras-fit-epochs", fitted_keras, lambda m: m.fit(XF, YC, epochs=-1, verbose=0),
     ValueError, "epochs must be >= 0"),
    ("keras-fit-verbose", fitted_keras, lambda m: m.fit(XF, YC, verbose=5), ValueError,
     "verbose must be 'auto', 0, 1 or 2"),
    ("keras-fit-validation-split", fitted_keras,
     lambda m: m.fit(XF, YC, validation_split=1.5, verbose=0), ValueError,
     "validation_split must be < 1"),
    ("keras-fit-unknown-kwarg", fitted_keras, lambda m: m.fit(XF, YC, foo=1, verbose=0),
     TypeError, "fit does not support foo"),
    ("keras-fit-y-str", fitted_keras, lambda m: m.fit(XF, YC.astype(str), verbose=0),
     TypeError, "y must be numeric"),
    ("keras-fit-complex", fitted_keras, lambda m: m.fit(XF + 1j, YC, verbose=0), TypeError,
     "x must be real numbers"),
    ("keras-fit-empty", fitted_keras, lambda m: m.fit(XF[:0], YC[:0], verbose=0), ValueError,
     "x is empty"),
    ("keras-fit-y-width", fitted_keras, lambda m: m.fit(XF, np.ones((20, 3)), verbose=0),
     ValueError, "y has 3 values per sample"),
    ("keras-fit-uncompiled", uncompiled_keras, lambda m: m.fit(XF, YC, verbose=0),
     RuntimeError, "compile the model before calling fit()"),
    ("keras-predict-features", fitted_keras, lambda m: m.predict(XF[:, :2], verbose=0),
     ValueError, "x has 2 features per sample"),
    ("keras-predict-nan", fitted_keras, lambda m: m.predict(NAN_X, verbose=0), ValueError,
     "x contains NaN"),
    ("keras-evaluate-y-short", fitted_keras, lambda m: m.evaluate(XF, YC[:4], verbose=0),
     ValueError, "inconsistent numbers of samples"),
    ("keras-set-weights-count", fitted_keras, lambda m: m.set_weights([np.ones((2, 2))]),
     ValueError, "weights holds 1 arrays, but the model expects 4"),
    ("keras-set-weights-nan", fitted_keras,
     lambda m: m.set_weights([w * np.nan for w in m.get_weights()]), ValueError,
     "contains NaN"),
    ("keras-compile-loss", fitted_keras, lambda m: m.compile(loss="hinge", optimizer="sgd"),
     ValueError, "loss='hinge' is not supported"),
    ("keras-compile-optimizer", fitted_keras,
     lambda m: m.compile(loss="mse", optimizer="lbfgs"), ValueError,
     "optimizer='lbfgs' is not supported"),
    ("keras-compile-metric", fitted_keras,
     lambda m: m.compile(loss="mse", optimizer="sgd", metrics=["auc"]), ValueError,
     "metric 'auc' is not supported"),
    ("keras-dense-units", fitted_keras, lambda m: keras_layer(0), ValueError,
     "expected a positive integer"),
    ("keras-dense-activation", fitted_keras, lambda m: keras_layer(3, activation="swish"),
     ValueError, "activation='swish' is not supported"),
]


def fitted_state(model):
    """Bytes of everything a fit leaves behind (hyper-parameters excluded for sklearn)."""
    import pickle

    if hasattr(model, "get_params"):  # scikit-learn: fitted attributes end with '_'
        state = {k: v for k, v in vars(model).items()
                 if k.endswith("_") or k in ("_optimizer", "_no_improvement_count")}
        return pickle.dumps(state)
    return pickle.dumps(model)


@pytest.mark.parametrize("name, make, call, exc, fragment", FRONT_END_CASES,
                         ids=[c[0] for c in FRONT_END_CASES])
def test_front_end_bad_call_raises_and_changes_nothing(name, make, call, exc, fragment):
    pytest.importorskip("sklearn")
    model = make()
    before = fitted_state(model)
    with pytest.raises(exc) as info:
        call(model)
    assert fragment in str(info.value), f"message {str(info.value)!r} lacks {fragment!r}"
    assert fitted_state(model) == before


def test_all_tables_together_exceed_150_distinct_calls():
    ids = [c[0] for c in CASES] + [c[0] for c in FRONT_END_CASES]
    assert len(ids) == len(set(ids)) >= 150


# -- hand-built sparse matrices: an error, never a crash ------------------------------------
# scipy's compiled routines trust a CSR matrix's indices, so a hand-built one
# with an index out of range segfaults them unless annfast checks it first
# (``_validation.check_sparse``).  Each call runs in a child process so that a
# crash fails the test instead of killing the test run.

SPARSE_CRASH_SCRIPT = """
import sys, warnings
import numpy as np
import scipy.sparse as sp
warnings.simplefilter("ignore")
X = sp.csr_matrix((np.ones(2), np.array([0, 10**7]), np.array([0, 1, 2])), shape=(2, 3))
y = [0, 1]
which = sys.argv[1]
if which == "neuralnet":
    from annfast import NeuralNet
    model = NeuralNet([3, 2, 2], seed=0)
    calls = [lambda: model.fit(X, y), lambda: model.predict(X), lambda: model.score(X, y)]
elif which == "keras":
    from annfast import keras
    model = keras.Sequential()
    model.add(keras.layers.Dense(2, input_dim=3, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    calls = [lambda: model.fit(X, np.array(y), verbose=0), lambda: model.predict(X, verbose=0)]
else:
    from annfast.sklearn import MLPClassifier
    model = MLPClassifier((3,), max_iter=2).fit(np.eye(3), [0, 1, 0])
    calls = [lambda: model.fit(X, y), lambda: model.partial_fit(X, y),
             lambda: model.predict(X)]
for call in calls:
    try:
        call()
    except ValueError as exc:
        assert "not a valid sparse matrix" in str(exc) or "indices" in str(exc), exc
    else:
        raise SystemExit("no error")
print("all refused")
"""


@pytest.mark.parametrize("front_end", ["neuralnet", "keras", "sklearn"])
def test_hand_built_sparse_matrix_never_crashes(front_end):
    import subprocess
    import sys

    pytest.importorskip("scipy.sparse")
    if front_end == "sklearn":
        pytest.importorskip("sklearn")
    result = subprocess.run([sys.executable, "-c", SPARSE_CRASH_SCRIPT, front_end],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"exit status {result.returncode} (negative: killed by signal {-result.returncode})"
        f"\n{result.stdout}\n{result.stderr[-2000:]}")
    assert "all refused" in result.stdout
