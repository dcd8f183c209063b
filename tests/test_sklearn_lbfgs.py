"""solver='lbfgs' against scikit-learn's own: one evaluation of the loss and
gradient, whole fits (weights, n_iter_, loss_), and scikit-learn's stopping
rules, warnings and attributes."""

import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn import neural_network as skl
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer, MinMaxScaler

from annfast.sklearn import MLPClassifier, MLPRegressor

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]


def _digits(n_class):
    X, y = load_digits(n_class=n_class, return_X_y=True)
    return MinMaxScaler().fit_transform(X[:200]), y[:200]


# The data sets of scikit-learn's test_mlp.py.
X_MULTI, Y_MULTI = _digits(3)
X_BINARY, Y_BINARY = _digits(2)
X_REG, _y = make_regression(n_samples=200, n_features=10, random_state=7)
Y_REG = MinMaxScaler().fit_transform(_y.reshape(-1, 1))[:, 0]
Y_REG2 = np.c_[Y_REG, Y_REG ** 2, -Y_REG]
Y_MULTILABEL = np.c_[Y_MULTI == 0, Y_MULTI == 2].astype(int)

CASES = {
    "multiclass": (MLPClassifier, skl.MLPClassifier, X_MULTI[:150], Y_MULTI[:150]),
    "binary": (MLPClassifier, skl.MLPClassifier, X_BINARY[:150], Y_BINARY[:150]),
    "multilabel": (MLPClassifier, skl.MLPClassifier, X_MULTI, Y_MULTILABEL),
    "regression": (MLPRegressor, skl.MLPRegressor, X_REG, Y_REG),
    "multi-output regression": (MLPRegressor, skl.MLPRegressor, X_REG, Y_REG2),
}


def quiet(fit, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args)


def params_of(est):
    return est.coefs_ + est.intercepts_


def sklearn_targets(est, y):
    """The 2-D targets scikit-learn's _loss_grad_lbfgs takes for this estimator."""
    if hasattr(est, "_label_binarizer"):
        return est._label_binarizer.transform(y).astype(bool)
    return np.asarray(y, dtype=float).reshape(len(y), -1)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_evaluation_equals_sklearns(case, activation):
    ours_cls, theirs_cls, X, y = CASES[case]
    settings = dict(hidden_layer_sizes=(7, 5), activation=activation, solver="lbfgs",
                    alpha=0.3, max_iter=1, random_state=3)
    ours = quiet(ours_cls(**settings).fit, X, y)
    theirs = quiet(theirs_cls(**settings).fit, X, y)
    # From the same coefs_/intercepts_ (not zero-centred: the test moves off them).
    packed = np.hstack([p.ravel() for p in params_of(theirs)])
    packed = packed + np.random.default_rng(0).normal(0, 0.3, packed.size)
    Y = sklearn_targets(theirs, y)
    buffers = [None] * 4  # scikit-learn's work buffers, rebuilt for each call below

    def sk_eval(p):
        n_layers = theirs.n_layers_
        sizes = [X.shape[1]] + [c.shape[1] for c in theirs.coefs_]
        acts = [X] + [np.empty((len(X), n)) for n in sizes[1:]]
        deltas = [np.empty_like(a) for a in acts[1:]]
        coef_grads = [np.empty((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        intercept_grads = [np.empty(b) for b in sizes[1:]]
        assert len(coef_grads) == n_layers - 1
        return theirs._loss_grad_lbfgs(p, X, Y, None, acts, deltas, coef_grads,
                                       intercept_grads)

    loss_theirs, grad_theirs = sk_eval(packed)
    loss_ours, grad_ours = ours._loss_grad_lbfgs(packed, X, Y, None, *buffers)
    assert loss_ours == pytest.approx(loss_theirs, rel=1e-12, abs=1e-12)
    assert grad_ours.shape == grad_theirs.shape and grad_ours.dtype == np.float64
    assert_allclose(grad_ours, grad_theirs, rtol=1e-12, atol=1e-12)
    # Like scikit-learn's, the evaluation leaves its parameters on the estimator.
    for a, b in zip(params_of(ours), params_of(theirs)):
        assert_allclose(a, b, rtol=0, atol=0)


def test_gradient_matches_finite_differences():
    X, y = X_MULTI[:20], Y_MULTI[:20]
    est = quiet(MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs",
                              alpha=0.1, max_iter=1, random_state=0).fit, X, y)
    Y = LabelBinarizer().fit_transform(y)
    theta = np.hstack([p.ravel() for p in params_of(est)])
    loss, grad = est._loss_grad_lbfgs(theta, X, Y, None, None, None, None, None)
    eps = 1e-6
    numeric = np.array([
        (est._loss_grad_lbfgs(theta + eps * e, X, Y, None, None, None, None, None)[0]
         - est._loss_grad_lbfgs(theta - eps * e, X, Y, None, None, None, None, None)[0])
        / (2 * eps) for e in np.eye(theta.size)])
    assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


# Whole fits as scikit-learn's test_mlp.py runs them (its lbfgs tests).
_ML_X, _ML_Y = make_multilabel_classification(n_samples=50, random_state=0,
                                              return_indicator=True)
_MO_X, _MO_Y = make_regression(n_samples=200, n_targets=5, random_state=11)
FITS = [
    *[(f"classification-{name}-{act}", "classifier", X[:150], y[:150],
       dict(hidden_layer_sizes=50, max_iter=150, shuffle=True, random_state=1,
            activation=act))
      for name, X, y in [("multi", X_MULTI, Y_MULTI), ("binary", X_BINARY, Y_BINARY)]
      for act in ACTIVATIONS],
    *[(f"regression-{act}", "regressor", X_REG, Y_REG,
       dict(hidden_layer_sizes=50, max_iter=200, shuffle=True, random_state=1,
            activation=act)) for act in ACTIVATIONS],
    # test_multilabel_classification's fit, cut at 20 iterations: this fit is
    # ill-conditioned (weights near 17 and growing), so rounding-level
    # differences of summation order (1e-13 after 20 iterations) grow to 2e-6
    # by iteration 50 and 5e-3 by its end (77); see the test below.
    ("multilabel", "classifier", _ML_X, _ML_Y,
     dict(hidden_layer_sizes=50, alpha=1e-5, max_iter=20, random_state=0,
          activation="logistic", learning_rate_init=0.2)),
    ("multioutput", "regressor", _MO_X, _MO_Y,
     dict(hidden_layer_sizes=50, max_iter=200, tol=1e-2, random_state=1)),
]
ESTIMATORS = {"classifier": (MLPClassifier, skl.MLPClassifier),
              "regressor": (MLPRegressor, skl.MLPRegressor)}


@pytest.mark.parametrize("name, kind, X, y, settings", FITS, ids=[f[0] for f in FITS])
def test_whole_fit_equals_sklearns(name, kind, X, y, settings):
    ours_cls, theirs_cls = ESTIMATORS[kind]
    ours = quiet(ours_cls(solver="lbfgs", **settings).fit, X, y)
    theirs = quiet(theirs_cls(solver="lbfgs", **settings).fit, X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6, abs=1e-9)
    for a, b in zip(params_of(ours), params_of(theirs)):
        assert_allclose(a, b, rtol=0, atol=1e-6)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-6)


def test_ill_conditioned_multilabel_fit_ends_like_sklearns():
    settings = dict(solver="lbfgs", hidden_layer_sizes=50, alpha=1e-5, max_iter=150,
                    random_state=0, activation="logistic", learning_rate_init=0.2)
    ours = quiet(MLPClassifier(**settings).fit, _ML_X, _ML_Y)
    theirs = quiet(skl.MLPClassifier(**settings).fit, _ML_X, _ML_Y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-3)
    assert (ours.predict(_ML_X) == theirs.predict(_ML_X)).all()


@pytest.mark.parametrize("max_iter, max_fun", [(5, 15000), (150, 10), (150, 1)])
def test_stopping_rules_and_warning_are_sklearns(max_iter, max_fun):
    X, y = X_MULTI[:150], Y_MULTI[:150]
    settings = dict(hidden_layer_sizes=50, solver="lbfgs", max_iter=max_iter,
                    max_fun=max_fun, random_state=1)
    with pytest.warns(ConvergenceWarning) as ours_warnings:
        ours = MLPClassifier(**settings).fit(X, y)
    with pytest.warns(ConvergenceWarning) as theirs_warnings:
        theirs = skl.MLPClassifier(**settings).fit(X, y)
    assert [str(w.message) for w in ours_warnings] == [str(w.message) for w in theirs_warnings]
    assert ours.n_iter_ == theirs.n_iter_ <= max_iter
    for a, b in zip(params_of(ours), params_of(theirs)):
        assert_allclose(a, b, rtol=0, atol=1e-6)


def test_attributes_are_sklearns():
    X, y = X_BINARY[:150], Y_BINARY[:150]
    ours = MLPClassifier(hidden_layer_sizes=5, solver="lbfgs", random_state=0).fit(X, y)
    theirs = skl.MLPClassifier(hidden_layer_sizes=5, solver="lbfgs", random_state=0).fit(X, y)
    public = {k for k in vars(theirs) if k.endswith("_") and not k.startswith("_")}
    assert public <= set(vars(ours))
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")
    assert ours.t_ == theirs.t_ == 0
    assert isinstance(ours.loss_, float)


def test_partial_fit_is_hidden_for_lbfgs():
    for cls in (MLPClassifier, MLPRegressor):
        est = cls(solver="lbfgs")
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
            est.partial_fit
        assert hasattr(est.set_params(solver="sgd"), "partial_fit")


def test_warm_start_continues_like_sklearn():
    X, y = X_REG, Y_REG
    settings = dict(hidden_layer_sizes=8, solver="lbfgs", max_iter=10, warm_start=True,
                    random_state=0)
    ours, theirs = MLPRegressor(**settings), skl.MLPRegressor(**settings)
    for _ in range(3):
        quiet(ours.fit, X, y)
        quiet(theirs.fit, X, y)
        assert ours.n_iter_ == theirs.n_iter_
        for a, b in zip(params_of(ours), params_of(theirs)):
            assert_allclose(a, b, rtol=0, atol=1e-6)


def test_sparse_and_float32_inputs():
    X, y = X_MULTI[:150], Y_MULTI[:150]
    settings = dict(hidden_layer_sizes=10, solver="lbfgs", max_iter=20, random_state=0)
    dense = quiet(MLPClassifier(**settings).fit, X, y)
    sparse = quiet(MLPClassifier(**settings).fit, sp.csr_matrix(X), y)
    for a, b in zip(params_of(dense), params_of(sparse)):
        assert_allclose(a, b, rtol=0, atol=1e-12)
    single = quiet(MLPClassifier(**settings).fit, X.astype(np.float32), y)
    assert all(p.dtype == np.float32 for p in params_of(single))
    assert (single.predict(X.astype(np.float32)) == dense.predict(X)).mean() > 0.9


def test_non_finite_loss_ends_like_sklearns():
    # scikit-learn's test_nonfinite_params data: the first loss is infinite, so
    # L-BFGS-B stops at once with the initial weights and a NaN loss.
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(size=10)
    settings = dict(solver="lbfgs", hidden_layer_sizes=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = MLPRegressor(**settings).fit(X, y)
        theirs = skl.MLPRegressor(**settings).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 0
    assert np.isnan(ours.loss_) and np.isnan(theirs.loss_)
    for a, b in zip(params_of(ours), params_of(theirs)):
        assert_allclose(a, b, rtol=0, atol=0)


def test_verbose_is_passed_to_scipy_as_sklearn_does(monkeypatch):
    seen = []
    minimize = scipy.optimize.minimize

    def spy(*args, **kwargs):
        seen.append(kwargs["options"])
        return minimize(*args, **kwargs)

    monkeypatch.setattr(scipy.optimize, "minimize", spy)
    X, y = X_REG[:50], Y_REG[:50]
    for verbose in (True, 0):
        for cls in (MLPRegressor, skl.MLPRegressor):
            quiet(cls(hidden_layer_sizes=3, solver="lbfgs", max_iter=3, max_fun=40, tol=1e-3,
                      verbose=verbose, random_state=0).fit, X, y)
    # (scipy >= 1.15 has no iprint: then scikit-learn passes none, nor do we.)
    assert seen[0] == seen[1] and seen[2] == seen[3]
    assert seen[0]["maxfun"] == 40 and seen[0]["maxiter"] == 3 and seen[0]["gtol"] == 1e-3


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-4)])
@pytest.mark.parametrize("block", [1, 7, 50, 1024])
def test_blas_gradient_equals_the_per_sample_kernel(dtype, tol, block):
    from annfast import _engine, _kernels
    from annfast.sklearn import _network

    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 6)).astype(dtype)
    Y = rng.normal(size=(50, 3)).astype(dtype)
    network = _network((6, 9, 4, 3), "tanh", "identity", dtype)
    params = rng.normal(0, 0.5, network.n_params).astype(dtype)
    grad, loss = _kernels.gradient(network.arch, params, X, Y)
    grad_blas, loss_blas, status = _kernels.gradient_blas(network.arch, params, X, Y, block)
    assert status == _kernels.OK and grad_blas.dtype == dtype
    assert loss_blas == pytest.approx(loss, rel=tol)
    assert_allclose(grad_blas, grad, rtol=tol, atol=tol)
    # A non-finite loss: the engine falls back to the per-sample kernel's result.
    Y[3, 0] = np.inf
    inputs = _engine.as_inputs(X, dtype)
    loss_inf, grad_inf = _engine.loss_and_gradient_blas(network, params, inputs, Y)
    expected_grad, expected_loss = _kernels.gradient(network.arch, params, X, Y)
    assert loss_inf == expected_loss == np.inf
    assert_allclose(grad_inf, expected_grad)
