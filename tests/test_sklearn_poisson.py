"""MLPRegressor(loss='poisson') against scikit-learn's own: the exponential
output, the half Poisson deviance it reports (constant terms included,
averaged over samples, summed over outputs), whole fits with every solver,
one L-BFGS evaluation, and the checks on y."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn import neural_network as skl
from sklearn.exceptions import ConvergenceWarning

from annfast.activations import VOCABULARY
from annfast.sklearn import MLPRegressor

# A small count-data problem: log-linear rates, one and two outputs.
_rng = np.random.RandomState(0)
X = _rng.uniform(-1, 1, (60, 3))
Y1 = _rng.poisson(np.exp(0.5 + X @ [0.6, -0.4, 0.3])).astype(float)
Y2 = np.column_stack([Y1, _rng.poisson(np.exp(0.2 - X[:, 0]))])
TARGETS = {"one output": Y1, "two outputs": Y2}

SOLVERS = {
    "sgd batch 1": dict(solver="sgd", batch_size=1, learning_rate_init=0.01, max_iter=20),
    "sgd minibatch": dict(solver="sgd", batch_size=16, learning_rate_init=0.01, max_iter=30),
    "adam": dict(solver="adam", batch_size=16, learning_rate_init=0.01, max_iter=30),
    "lbfgs": dict(solver="lbfgs", max_iter=40),
}


def quiet(fit, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args)


def both(Y, **settings):
    settings = {"loss": "poisson", "hidden_layer_sizes": (5,), "activation": "tanh",
                "random_state": 1, **settings}
    return (quiet(MLPRegressor(**settings).fit, X, Y),
            quiet(skl.MLPRegressor(**settings).fit, X, Y))


def params_of(est):
    return est.coefs_ + est.intercepts_


def test_sklearns_exp_output_is_the_registry_exponential():
    assert VOCABULARY["sklearn"]["exp"] == "exponential"


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_fit_equals_sklearns(solver, target):
    # alpha = 0: loss_ then has no L2 term, which annfast evaluates at the end of
    # the epoch (see the estimator's notes), so the loss curve agrees exactly too.
    ours, theirs = both(TARGETS[target], alpha=0.0, **SOLVERS[solver])
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert ours.n_iter_ == theirs.n_iter_
    for p, q in zip(params_of(ours), params_of(theirs)):
        assert_allclose(p, q, rtol=0, atol=1e-8)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-8)
    assert_allclose(ours.loss_, theirs.loss_, rtol=1e-8)
    if solver != "lbfgs":
        assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)
        assert ours.t_ == theirs.t_


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_weights_equal_sklearns_with_l2(solver):
    ours, theirs = both(Y2, alpha=1e-3, **SOLVERS[solver])
    for p, q in zip(params_of(ours), params_of(theirs)):
        assert_allclose(p, q, rtol=0, atol=1e-8)


def test_loss_is_half_the_deviance_with_its_constant_terms():
    # One epoch of full-batch SGD reports the loss at the initial weights.
    est = MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), solver="sgd", alpha=0.0,
                       batch_size=len(X), max_iter=1, shuffle=False, random_state=2)
    start = quiet(MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), solver="sgd",
                               learning_rate_init=1e-300, alpha=0.0, batch_size=len(X),
                               max_iter=1, shuffle=False, random_state=2).fit, X, Y2)
    mu = start.predict(X)  # the network at its initial weights (a step of 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        deviance = np.where(Y2 > 0, Y2 * np.log(Y2 / mu), 0.0) - Y2 + mu
    quiet(est.fit, X, Y2)
    assert_allclose(est.loss_curve_[0], deviance.sum(axis=1).mean(), rtol=1e-12)
    assert np.all(mu > 0)


def test_one_lbfgs_evaluation_equals_sklearns():
    ours, theirs = both(Y2, alpha=0.3, solver="lbfgs", max_iter=1)
    packed = np.hstack([p.ravel() for p in params_of(theirs)])
    packed = packed + np.random.default_rng(0).normal(0, 0.3, packed.size)
    sizes = [X.shape[1]] + [c.shape[1] for c in theirs.coefs_]
    acts = [X] + [np.empty((len(X), n)) for n in sizes[1:]]
    deltas = [np.empty_like(a) for a in acts[1:]]
    coef_grads = [np.empty((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    intercept_grads = [np.empty(b) for b in sizes[1:]]
    loss_theirs, grad_theirs = theirs._loss_grad_lbfgs(packed, X, Y2, None, acts, deltas,
                                                       coef_grads, intercept_grads)
    loss_ours, grad_ours = ours._loss_grad_lbfgs(packed, X, Y2, None, None, None, None, None)
    assert_allclose(loss_ours, loss_theirs, rtol=1e-12)
    assert_allclose(grad_ours, grad_theirs, rtol=1e-12, atol=1e-14)


def test_predict_is_the_exponential_of_the_output_layer():
    est, _ = both(Y1, solver="lbfgs", max_iter=20, activation="relu")
    hidden = np.maximum(X @ est.coefs_[0] + est.intercepts_[0], 0)
    z = hidden @ est.coefs_[1] + est.intercepts_[1]
    assert_allclose(est.predict(X), np.exp(z).ravel(), rtol=1e-12)
    assert np.all(est.predict(X) > 0)


def test_partial_fit_and_early_stopping_equal_sklearns():
    settings = dict(loss="poisson", hidden_layer_sizes=(5,), solver="adam",
                    learning_rate_init=0.01, random_state=4)
    ours, theirs = MLPRegressor(**settings), skl.MLPRegressor(**settings)
    for _ in range(3):
        ours.partial_fit(X, Y1)
        theirs.partial_fit(X, Y1)
    for p, q in zip(params_of(ours), params_of(theirs)):
        assert_allclose(p, q, rtol=0, atol=1e-8)
    ours, theirs = both(Y1, solver="sgd", early_stopping=True, max_iter=40,
                        learning_rate_init=0.05, batch_size=8)
    assert ours.n_iter_ == theirs.n_iter_
    assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-8)
    for p, q in zip(params_of(ours), params_of(theirs)):
        assert_allclose(p, q, rtol=0, atol=1e-8)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_negative_targets_raise_before_any_state_changes(solver):
    est = MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), solver=solver, max_iter=5,
                       random_state=0)
    bad = Y1.copy()
    bad[7] = -1.0
    with pytest.raises(ValueError, match=r"y must be non-negative for loss='poisson'.*-1\.0"):
        est.fit(X, bad)
    assert vars(est) == vars(MLPRegressor(loss="poisson", hidden_layer_sizes=(3,),
                                          solver=solver, max_iter=5, random_state=0))
    quiet(est.fit, X, Y1)
    before = {k: [np.copy(p) for p in v] if k in ("coefs_", "intercepts_") else v
              for k, v in vars(est).items() if k != "_optimizer"}
    with pytest.raises(ValueError, match="non-negative"):
        est.set_params(warm_start=True).fit(X, bad)
    if solver != "lbfgs":
        with pytest.raises(ValueError, match="non-negative"):
            est.partial_fit(X, bad)
    for name in ("coefs_", "intercepts_"):
        for p, q in zip(getattr(est, name), before[name]):
            assert np.array_equal(p, q)
    assert est.n_iter_ == before["n_iter_"] and est.loss_ == before["loss_"]


def test_zero_targets_are_fine_and_squared_error_is_unchanged():
    zeros = np.zeros_like(Y1)
    est = quiet(MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), solver="lbfgs",
                             max_iter=30, random_state=0).fit, X, zeros)
    assert np.isfinite(est.loss_) and np.all(est.predict(X) < 0.5)
    plain = quiet(MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5,
                               random_state=0).fit, X, Y1 - 5)
    assert plain.out_activation_ == "identity"


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32(solver):
    settings = dict(SOLVERS["sgd minibatch" if solver == "sgd" else solver], alpha=1e-3)
    X32 = X.astype(np.float32)
    ours = quiet(MLPRegressor(loss="poisson", hidden_layer_sizes=(5,), random_state=1,
                              **settings).fit, X32, Y2)
    theirs = quiet(skl.MLPRegressor(loss="poisson", hidden_layer_sizes=(5,), random_state=1,
                                    **settings).fit, X32, Y2)
    assert ours.coefs_[0].dtype == np.float32 and ours.predict(X32).dtype == np.float32
    assert np.isfinite(ours.loss_)
    # float32 rounding, amplified by the optimizer (L-BFGS most: scikit-learn runs it in float64).
    for p, q in zip(params_of(ours), params_of(theirs)):
        assert_allclose(p, q, rtol=0, atol=2e-4)
    assert_allclose(ours.predict(X32), theirs.predict(X32), rtol=2e-4)


def test_sparse_first_layer_path_equals_sklearns():
    # Per-sample SGD without momentum on mostly-zero scipy.sparse X takes the
    # kernels' sparse first-layer path.
    rng = np.random.RandomState(5)
    Xs = (rng.rand(80, 20) < 0.1).astype(float)
    y = rng.poisson(np.exp(0.5 * Xs[:, :3].sum(axis=1))).astype(float)
    settings = dict(loss="poisson", solver="sgd", momentum=0, batch_size=1, alpha=0.0,
                    learning_rate_init=0.01, max_iter=10, random_state=0,
                    hidden_layer_sizes=(6,))
    ours = quiet(MLPRegressor(**settings).fit, sp.csr_matrix(Xs), y)
    theirs = quiet(skl.MLPRegressor(**settings).fit, Xs, y)
    for p, q in zip(params_of(ours), params_of(theirs)):
        assert_allclose(p, q, rtol=0, atol=1e-8)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)
