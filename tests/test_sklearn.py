"""annfast.sklearn: numerics against annfast.reference and scikit-learn, targets, state.

Exact agreement is the point: per-sample SGD must match the NumPy reference to
1e-10, and minibatch SGD / momentum / Adam must match scikit-learn's own
MLPRegressor/MLPClassifier, both started from the same weights, to 1e-8.
"""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neural_network as skl
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from annfast import _kernels, reference
from annfast.sklearn import MLPClassifier, MLPRegressor

KERNEL_ACT = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(40, 3))
    Y = np.c_[np.sin(2 * X[:, 0]) + X[:, 1], X[:, 1] * X[:, 2]]
    return X, Y


def random_coefs(sizes, rng, dtype=np.float64):
    coefs = [rng.uniform(-0.5, 0.5, (a, b)).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.uniform(-0.5, 0.5, b).astype(dtype) for b in sizes[1:]]
    return coefs, intercepts


def start_from(est, coefs, intercepts):
    """Set the starting weights for a warm-started fit (copies, so est cannot alias them)."""
    est.coefs_ = [c.copy() for c in coefs]
    est.intercepts_ = [b.copy() for b in intercepts]
    return est


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def reference_epoch(coefs, intercepts, acts, loss, X, Y, lr, alpha):
    weights = [c.T.copy() for c in coefs]
    biases = [b.copy() for b in intercepts]
    mean_loss = reference.sgd_epoch(weights, biases, acts, loss, X, Y, range(len(X)), lr, alpha)
    return weights, biases, mean_loss


# -- 1. per-sample SGD == annfast.reference (1e-10 in float64) ---------------------------

@pytest.mark.parametrize("activation", sorted(KERNEL_ACT))
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_per_sample_sgd_regressor_matches_reference(data, activation, dtype, rtol):
    X, Y = (a.astype(dtype) for a in data)
    sizes = (3, 6, 4, 2)
    coefs, intercepts = random_coefs(sizes, np.random.RandomState(1), dtype)
    lr, alpha = 0.05, 0.01
    est = MLPRegressor(hidden_layer_sizes=sizes[1:-1], activation=activation, solver="sgd",
                       momentum=0.0, batch_size=1, learning_rate_init=lr, alpha=alpha,
                       shuffle=False, max_iter=1, warm_start=True)
    quiet_fit(start_from(est, coefs, intercepts), X, Y)
    acts = [KERNEL_ACT[activation]] * 2 + ["identity"]
    weights, biases, mean_loss = reference_epoch(coefs, intercepts, acts, "mse", X, Y, lr, alpha)
    for c, w in zip(est.coefs_, weights):
        assert c.dtype == dtype
        assert_allclose(c, w.T, rtol=rtol, atol=rtol * 1e-2)
    for b, r in zip(est.intercepts_, biases):
        assert_allclose(b, r, rtol=rtol, atol=rtol * 1e-2)
    # loss_: scikit-learn's half MSE averaged over the outputs, plus one L2 term per
    # batch (n of them for batch_size=1) at the end-of-epoch weights.
    penalty = 0.5 * alpha * sum(float(np.sum(w.astype(float) ** 2)) for w in weights)
    assert est.loss_ == pytest.approx(mean_loss / 2 + penalty, rel=rtol)
    assert est.n_iter_ == 1 and est.t_ == len(X)


@pytest.mark.parametrize("target", ["multiclass", "binary", "multilabel"])
def test_per_sample_sgd_classifier_matches_reference(data, target):
    X, _ = data
    rng = np.random.RandomState(2)
    if target == "multiclass":
        y = np.array(["cat", "dog", "emu"])[rng.randint(0, 3, len(X))]
        Y = (y[:, None] == np.array(["cat", "dog", "emu"])).astype(float)
        out, loss = "softmax", "ce"
    elif target == "binary":
        y = rng.randint(0, 2, len(X))
        Y = y[:, None].astype(float)
        out, loss = "sigmoid", "bce"
    else:
        y = rng.randint(0, 2, (len(X), 3))
        Y = y.astype(float)
        out, loss = "sigmoid", "bce"
    sizes = (3, 5, Y.shape[1])
    coefs, intercepts = random_coefs(sizes, rng)
    est = MLPClassifier(hidden_layer_sizes=(5,), activation="tanh", solver="sgd", momentum=0.0,
                        batch_size=1, learning_rate_init=0.1, alpha=0.001, shuffle=False,
                        max_iter=1, warm_start=True)
    quiet_fit(start_from(est, coefs, intercepts), X, y)
    weights, biases, mean_loss = reference_epoch(coefs, intercepts, ["tanh", out], loss, X, Y,
                                                 0.1, 0.001)
    for c, w in zip(est.coefs_, weights):
        assert_allclose(c, w.T, rtol=1e-10, atol=1e-13)
    for b, r in zip(est.intercepts_, biases):
        assert_allclose(b, r, rtol=1e-10, atol=1e-13)
    penalty = 0.5 * 0.001 * sum(float(np.sum(w**2)) for w in weights)
    assert est.loss_ == pytest.approx(mean_loss + penalty, rel=1e-10)


@pytest.mark.parametrize("as_sparse", [False, True])
def test_per_sample_sgd_on_mostly_zero_inputs_matches_reference(as_sparse, monkeypatch):
    # About 15% non-zero inputs: fit takes the kernels' sparse first-layer path.
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.RandomState(6)
    X = rng.uniform(0, 1, (50, 12)) * (rng.rand(50, 12) < 0.15)
    y = rng.randint(0, 3, 50)
    Y = (y[:, None] == np.arange(3)).astype(float)
    coefs, intercepts = random_coefs((12, 6, 3), rng)

    def dense_path_not_expected(*args, **kwargs):
        raise AssertionError("the dense training kernel ran on mostly-zero inputs")

    monkeypatch.setattr(_kernels, "train", dense_path_not_expected)
    est = MLPClassifier(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, batch_size=1,
                        learning_rate_init=0.1, alpha=0.01, shuffle=False, max_iter=1,
                        warm_start=True)
    quiet_fit(start_from(est, coefs, intercepts), sparse.csr_matrix(X) if as_sparse else X, y)
    weights, biases, mean_loss = reference_epoch(coefs, intercepts, ["relu", "softmax"], "ce",
                                                 X, Y, 0.1, 0.01)
    for c, w in zip(est.coefs_, weights):
        assert_allclose(c, w.T, rtol=1e-10, atol=1e-13)
    for b, r in zip(est.intercepts_, biases):
        assert_allclose(b, r, rtol=1e-10, atol=1e-13)


# -- 2. minibatch, momentum, Adam == scikit-learn from the same weights (1e-8) -------------

SOLVER_SETTINGS = [
    {"solver": "adam", "batch_size": 16},
    {"solver": "adam", "batch_size": "auto", "alpha": 0.0},
    {"solver": "sgd", "batch_size": 8, "momentum": 0.9, "nesterovs_momentum": True},
    {"solver": "sgd", "batch_size": 8, "momentum": 0.5, "nesterovs_momentum": False},
    {"solver": "sgd", "batch_size": 7, "momentum": 0.0},
]


@pytest.mark.parametrize("settings", SOLVER_SETTINGS, ids=str)
def test_one_epoch_matches_sklearn_warm_start(data, settings):
    X, Y = data
    settings = {"alpha": 1e-3, "learning_rate_init": 0.01, **settings}
    sizes = (3, 8, 5, 2)
    coefs, intercepts = random_coefs(sizes, np.random.RandomState(3))
    common = dict(hidden_layer_sizes=sizes[1:-1], activation="tanh", shuffle=False,
                  max_iter=1, **settings)
    ours = MLPRegressor(warm_start=True, **common)
    quiet_fit(start_from(ours, coefs, intercepts), X, Y)
    theirs = quiet_fit(skl.MLPRegressor(**common), X, Y)  # creates scikit-learn's state
    theirs.set_params(warm_start=True)
    quiet_fit(start_from(theirs, coefs, intercepts), X, Y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    if settings["alpha"] == 0:
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)


# -- 3. same random_state: the same whole fit as scikit-learn -------------------------------

FIT_SETTINGS = [
    {},
    {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.05},
    {"solver": "sgd", "learning_rate": "adaptive", "n_iter_no_change": 1, "tol": 1e-2},
    {"early_stopping": True, "n_iter_no_change": 2, "validation_fraction": 0.2},
    {"activation": "logistic", "batch_size": 10},
]


@pytest.mark.parametrize("settings", FIT_SETTINGS, ids=str)
def test_whole_fit_matches_sklearn(data, settings):
    X, Y = data
    common = dict(hidden_layer_sizes=(7, 5), random_state=0, max_iter=15, alpha=0.0, **settings)
    ours = quiet_fit(MLPRegressor(**common), X, Y)
    theirs = quiet_fit(skl.MLPRegressor(**common), X, Y)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    if settings.get("early_stopping"):
        assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
        assert ours.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("target", ["strings", "binary", "multilabel"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_classifier_fit_matches_sklearn(data, target, early_stopping):
    X, _ = data
    rng = np.random.RandomState(4)
    y = {"strings": np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.3)],
         "binary": (X[:, 0] * X[:, 1] > 0).astype(int),
         "multilabel": np.c_[X[:, 0] > 0, X[:, 2] > 0, rng.rand(len(X)) > 0.5].astype(int),
         }[target]
    common = {"hidden_layer_sizes": (6,), "random_state": 1, "max_iter": 10, "alpha": 0.0,
                  "early_stopping": early_stopping, "validation_fraction": 0.25}
    ours = quiet_fit(MLPClassifier(**common), X, y)
    theirs = quiet_fit(skl.MLPClassifier(**common), X, y)
    assert ours.out_activation_ == theirs.out_activation_
    assert_array_equal(ours.classes_, theirs.classes_)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8, atol=1e-12)
    assert_allclose(ours.predict_log_proba(X), theirs.predict_log_proba(X), rtol=1e-8)
    if early_stopping:
        assert_allclose(ours.validation_scores_, theirs.validation_scores_)


def test_same_seed_same_bits(data):
    X, Y = data
    a = quiet_fit(MLPRegressor(hidden_layer_sizes=(9,), random_state=5, max_iter=5), X, Y)
    b = quiet_fit(MLPRegressor(hidden_layer_sizes=(9,), random_state=5, max_iter=5), X, Y)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(u, v)


# -- targets: the tutorial's one-hot tuples, labels, outputs --------------------------------

def test_tutorial_one_hot_tuples():
    # Pixel classifier of the tutorial: blue (0, 1) if r + g + b <= 600, else grey (1, 0).
    rng = np.random.RandomState(0)
    coords = [(r, c) for r in range(12) for c in range(12)]
    rgb = rng.randint(0, 256, (len(coords), 3))
    labels = [(0, 1) if sum(p) <= 600 else (1, 0) for p in rgb]
    X = np.array(coords) / 11.0
    ann = quiet_fit(MLPClassifier(hidden_layer_sizes=(10, 10), random_state=0, max_iter=20), X,
                    labels)
    assert ann.out_activation_ == "logistic" and ann.n_outputs_ == 2
    assert_array_equal(ann.classes_, [0, 1])
    pred = ann.predict(X)
    assert pred.shape == (len(X), 2) and set(np.unique(pred)) <= {0, 1}
    assert np.argmax(ann.predict([[1 / 11, 1 / 11]])) in (0, 1)
    assert ann.predict_proba(X).shape == (len(X), 2)


def test_string_labels_round_trip(data):
    X, _ = data
    y = np.where(X[:, 0] > 0, "right", "left")
    clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), random_state=0, max_iter=200,
                                  learning_rate_init=0.01), X, y)
    assert set(clf.predict(X)) <= {"left", "right"}
    assert clf.score(X, y) > 0.9
    assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_regressor_single_and_multi_output(data):
    X, Y = data
    one = quiet_fit(MLPRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=3), X, Y[:, 0])
    two = quiet_fit(MLPRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=3), X, Y)
    assert one.predict(X).shape == (len(X),) and one.n_outputs_ == 1
    assert two.predict(X).shape == (len(X), 2) and two.n_outputs_ == 2
    assert one.n_layers_ == 3 and one.n_features_in_ == 3
    assert [c.shape for c in two.coefs_] == [(3, 8), (8, 2)]


# -- dtype ----------------------------------------------------------------------------------

def test_float32_stays_float32(data):
    X, Y = data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(5,), random_state=0, max_iter=3),
                    X.astype(np.float32), Y.astype(np.float32))
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
    assert est.predict(X.astype(np.float32)).dtype == np.float32
    forced = quiet_fit(MLPRegressor(hidden_layer_sizes=(5,), random_state=0, max_iter=3,
                                    dtype=np.float32), X, Y)
    assert forced.coefs_[0].dtype == np.float32
    assert_allclose(forced.predict(X), est.predict(X), rtol=1e-5, atol=1e-6)


# -- state: warm start, partial_fit, user-set coefs_ -----------------------------------------

def test_partial_fit_repeated_equals_fit(data):
    X, Y = data
    settings = {"hidden_layer_sizes": (6,), "random_state": 0, "shuffle": False, "batch_size": 10}
    full = quiet_fit(MLPRegressor(max_iter=4, **settings), X, Y)
    inc = MLPRegressor(**settings)
    for _ in range(4):
        inc.partial_fit(X, Y)
    for a, b in zip(full.coefs_ + full.intercepts_, inc.coefs_ + inc.intercepts_):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert inc.t_ == 4 * len(X) and inc.n_iter_ == 1


def test_partial_fit_classes(data):
    X, _ = data
    y = np.array([0, 1, 2, 3])[np.arange(len(X)) % 4]
    clf = MLPClassifier(hidden_layer_sizes=(5,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "coefs_")
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2, 3])
    assert_array_equal(clf.classes_, [0, 1, 2, 3]) and clf.n_outputs_ == 4
    clf.partial_fit(X, y)
    before = [c.copy() for c in clf.coefs_]
    with pytest.raises(ValueError, match=r"classes \[7\].*did not declare"):
        clf.partial_fit(X, np.where(y == 3, 7, y))
    for a, b in zip(before, clf.coefs_):
        assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=[0, 1, 2])


def test_partial_fit_rejects_early_stopping(data):
    X, Y = data
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, Y)


def test_warm_start_new_classes_rejected(data):
    X, _ = data
    y = np.arange(len(X)) % 2
    clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, warm_start=True), X, y)
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X, np.arange(len(X)) % 3)


def test_user_set_coefs_are_used_by_predict_and_fit(data):
    X, Y = data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=2), X, Y)
    est.coefs_ = [np.zeros_like(c) for c in est.coefs_]
    est.intercepts_ = [np.zeros(4), np.array([1.5, -2.0])]
    assert_allclose(est.predict(X), np.tile([1.5, -2.0], (len(X), 1)))
    est.set_params(warm_start=True, solver="sgd", momentum=0.0, learning_rate_init=0.0001,
                   max_iter=1, shuffle=False)
    quiet_fit(est, X, Y)
    # One tiny step from the intercept-only model: still close to it.
    assert_allclose(est.predict(X), np.tile([1.5, -2.0], (len(X), 1)), atol=1e-2)
    est.coefs_ = est.coefs_[:1]
    with pytest.raises(ValueError, match="coefs_"):
        est.predict(X)


def test_warm_start_changed_architecture_is_rejected(data):
    X, Y = data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, warm_start=True), X, Y)
    est.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="warm_start=False to start over"):
        est.fit(X, Y)


def test_pickle_round_trip(data):
    X, Y = data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=2), X, Y)
    again = pickle.loads(pickle.dumps(est))
    assert_array_equal(again.predict(X), est.predict(X))
    again.set_params(warm_start=True)
    quiet_fit(again, X, Y)  # continues from the unpickled weights


# -- convergence, divergence, bad hyperparameters --------------------------------------------

def test_convergence_warning_when_max_iter_reached(data):
    X, Y = data
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=500, tol=10.0).fit(X, Y)  # stops early


def test_divergence_raises_and_leaves_model_unchanged(data):
    X, Y = data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(16, 16), random_state=0, max_iter=1,
                                 solver="sgd", batch_size=1), X, Y)
    before = [a.copy() for a in est.coefs_ + est.intercepts_]
    curve = list(est.loss_curve_)
    est.set_params(warm_start=True, learning_rate_init=1e6, momentum=0.0, max_iter=5)
    with pytest.raises(ValueError, match="diverged.*learning_rate_init"):
        est.fit(X, Y * 1e6)
    for a, b in zip(before, est.coefs_ + est.intercepts_):
        assert_array_equal(a, b)
    assert est.loss_curve_ == curve


def _bad(name, must):
    # scikit-learn's InvalidParameterError wording, for MLPRegressor.
    return rf"The '{name}' parameter of MLPRegressor must be {must}"


@pytest.mark.parametrize("params, match", [
    ({"solver": "newton"}, _bad("solver", "a str among")),
    ({"activation": "softmax"}, _bad("activation", "a str among")),
    ({"learning_rate": "cyclic"}, _bad("learning_rate", "a str among")),
    ({"hidden_layer_sizes": "5"}, _bad("hidden_layer_sizes", "an array-like or an int")),
    ({"batch_size": 0}, _bad("batch_size", r"a str among \{'auto'\} or an int in the range "
                                           r"\[1, inf\)")),
    ({"batch_size": "big"}, _bad("batch_size", "a str among")),
    ({"alpha": -1.0}, _bad("alpha", r"a float in the range \[0.0, inf\)")),
    ({"learning_rate_init": 0.0}, _bad("learning_rate_init", r"a float in the range \(0.0, ")),
    ({"momentum": 1.5}, _bad("momentum", r"a float in the range \[0.0, 1.0\]")),
    ({"beta_2": 1.0}, _bad("beta_2", r"a float in the range \[0.0, 1.0\)")),
    ({"max_iter": 0}, _bad("max_iter", r"an int in the range \[1, inf\)")),
    ({"max_fun": 0}, _bad("max_fun", r"an int in the range \[1, inf\)")),
    ({"shuffle": "yes"}, _bad("shuffle", "an instance of 'bool'")),
    ({"validation_fraction": 1.0}, _bad("validation_fraction", r"a float in the range")),
    ({"n_iter_no_change": 0}, _bad("n_iter_no_change", r"an int in the range \[1, inf\)")),
    ({"loss": "huber"}, _bad("loss", "a str among")),
    ({"dtype": np.int32}, _bad("dtype", "None, a type among")),
    ({"dtype": "float16"}, _bad("dtype", "None, a type among")),
    ({"verbose": -1}, _bad("verbose", "an int in the range")),
])
def test_bad_hyperparameters_raise_sklearns_error(data, params, match):
    X, Y = data
    est = MLPRegressor(**params)
    with pytest.raises(InvalidParameterError, match=match):
        est.fit(X, Y)
    assert not hasattr(est, "coefs_")
    if "loss" not in params:
        with pytest.raises(InvalidParameterError, match=match.replace("Regressor", "Classifier")):
            MLPClassifier(**params).fit(X, Y[:, 0] > 0)


@pytest.mark.parametrize("params, error, match", [
    ({"hidden_layer_sizes": (5, 0)}, ValueError, r"hidden_layer_sizes must be > 0, got \[5, 0\]"),
    ({"hidden_layer_sizes": (5, 2.5)}, TypeError, r"hidden_layer_sizes\[1\] must be an integer"),
    # These targets are negative: the Poisson deviance needs y >= 0.
    ({"loss": "poisson"}, ValueError, "y must be non-negative for loss='poisson'"),
])
def test_bad_hyperparameters_found_in_fit(data, params, error, match):
    X, Y = data
    est = MLPRegressor(**params)
    with pytest.raises(error, match=match):
        est.fit(X, Y)
    assert not hasattr(est, "coefs_")


def test_parameters_are_sklearns_plus_dtype():
    for ours, theirs in [(MLPRegressor, skl.MLPRegressor), (MLPClassifier, skl.MLPClassifier)]:
        assert set(ours().get_params()) == set(theirs().get_params()) | {"dtype"}
        params = theirs(solver="lbfgs", max_fun=77, hidden_layer_sizes=(3, 4)).get_params()
        assert ours(**params).get_params() == {**params, "dtype": None}
    for dtype in (None, np.float32, np.float64, "float32", "float64", np.dtype("float32")):
        MLPRegressor(dtype=dtype)._validate_params()


def test_early_stopping_needs_a_validation_set():
    X = np.arange(10.0).reshape(-1, 1)
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.1).fit(X, X[:, 0])


def test_n_iter_no_change_inf_runs_all_epochs(data):
    X, Y = data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(3,), max_iter=7, tol=100.0,
                                 n_iter_no_change=np.inf), X, Y)
    assert est.n_iter_ == 7


def test_verbose_prints_each_epoch(data, capsys):
    X, Y = data
    quiet_fit(MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, verbose=True,
                           early_stopping=True, validation_fraction=0.25), X, Y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out
    assert out.count("Validation score:") == 2


def test_sparse_input_is_densified(data):
    sparse = pytest.importorskip("scipy.sparse")
    X, Y = data
    X = np.where(np.abs(X) > 0.5, X, 0.0)
    settings = {"hidden_layer_sizes": (4,), "random_state": 0, "max_iter": 3}
    dense = quiet_fit(MLPRegressor(**settings), X, Y)
    csr = quiet_fit(MLPRegressor(**settings), sparse.csr_matrix(X), Y)
    assert_array_equal(csr.predict(sparse.csc_matrix(X)), dense.predict(X))
