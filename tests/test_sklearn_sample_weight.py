"""scikit-learn's sample_weight, end to end.

The kernels' ``weight_divisor='sum'`` rule (a batch's summed weighted gradient,
L2 term included, divided by the batch's weight sum; the loss sum scaled as
scikit-learn accumulates loss_) against ``annfast.reference`` to 1e-10; the
weighted gradients against central differences; the estimators against
scikit-learn's own with the same weights (sgd and adam to 1e-8, L-BFGS to its
agreement level); weights of 2 against duplicated rows; weights of one against
no weights (the same bits); a batch of zero weights; metadata routing and the
meta-estimators that pass weights; bad weights refused with nothing changed.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as scipy_sparse
from conftest import DTYPES, assert_matches, flatten, random_params, ref_layers
from numpy.testing import assert_allclose, assert_array_equal

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network as skl  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import AdaBoostClassifier, BaggingClassifier  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import cross_validate  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from annfast import _engine, _kernels, reference  # noqa: E402
from annfast.activations import ACTIVATIONS, LOSSES  # noqa: E402
from annfast.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

_rng = np.random.RandomState(3)
N = 90
X = _rng.normal(size=(N, 4))
Y_CLASS = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int) + (X[:, 2] > 0.9)  # three classes
Y_REG = np.column_stack([np.sin(X[:, 0]) + 0.3 * X[:, 1], X[:, 2] * X[:, 3]])
#: Weights in [0, 3), a few of them exactly zero.
W = _rng.uniform(0, 3, N)
W[[4, 17, 40]] = 0.0
#: The same without zeros: scikit-learn divides by zero on a batch of one zero weight.
W_POS = np.where(W == 0, 0.25, W)

ESTIMATORS = {"classifier": (MLPClassifier, skl.MLPClassifier, Y_CLASS),
              "regressor": (MLPRegressor, skl.MLPRegressor, Y_REG)}


def quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


def params_of(est):
    return list(est.coefs_) + list(est.intercepts_)


def assert_same_fit(ours, theirs, atol, loss=True):
    for a, b in zip(params_of(ours), params_of(theirs)):
        assert_allclose(a, b, rtol=0, atol=atol)
    assert ours.n_iter_ == theirs.n_iter_
    if loss:
        assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8, atol=1e-12)


# -- the estimators against scikit-learn's -------------------------------------------------

STOCHASTIC = {
    "sgd": dict(solver="sgd", learning_rate_init=0.05, momentum=0.9),
    "sgd-plain-invscaling": dict(solver="sgd", learning_rate_init=0.1, momentum=0.0,
                                 learning_rate="invscaling"),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}


@pytest.mark.parametrize("batch_size", [1, 16, 23])  # 23 does not divide the 81 or 90 rows
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("solver", sorted(STOCHASTIC))
@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
def test_stochastic_fit_equals_sklearns(kind, solver, early_stopping, shuffle, batch_size):
    ours_cls, theirs_cls, y = ESTIMATORS[kind]
    # alpha = 0: annfast evaluates loss_'s L2 term at the end of the epoch
    # (see the estimator's notes), so with it the loss curve agrees exactly too.
    settings = dict(hidden_layer_sizes=(6,), activation="tanh", alpha=0.0, random_state=2,
                    max_iter=4 if batch_size == 1 else 12, batch_size=batch_size,
                    shuffle=shuffle, early_stopping=early_stopping, n_iter_no_change=3,
                    **STOCHASTIC[solver])
    # scikit-learn divides by zero on a batch of zero weights: no zeros where a
    # batch can be one row (81 training rows with early stopping end in one at 16).
    w = W_POS if batch_size == 1 or (early_stopping and batch_size == 16) else W
    if batch_size == 1:  # per-sample steps: a tenth of the rate, or they diverge
        settings["learning_rate_init"] /= 10
    ours = quiet(ours_cls(**settings).fit, X, y, sample_weight=w)
    theirs = quiet(theirs_cls(**settings).fit, X, y, sample_weight=w)
    assert_same_fit(ours, theirs, 1e-8)
    if early_stopping:
        assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-8)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_,
                                                           rel=1e-8)


@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
def test_alpha_weights_the_l2_term_by_the_batch_weight_sum(kind):
    """With alpha the weights (not only the data term) follow scikit-learn's rule
    (the L2 gradient divided by the weight sum); loss_ agrees to the end-of-epoch
    evaluation of its L2 term."""
    ours_cls, theirs_cls, y = ESTIMATORS[kind]
    settings = dict(hidden_layer_sizes=(6,), alpha=0.05, random_state=0, max_iter=10,
                    batch_size=20, solver="sgd", learning_rate_init=0.05)
    ours = quiet(ours_cls(**settings).fit, X, y, sample_weight=W)
    theirs = quiet(theirs_cls(**settings).fit, X, y, sample_weight=W)
    assert_same_fit(ours, theirs, 1e-8, loss=False)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-2)


@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
def test_partial_fit_and_score_equal_sklearns(kind):
    ours_cls, theirs_cls, y = ESTIMATORS[kind]
    settings = dict(hidden_layer_sizes=(5,), alpha=0.0, random_state=1, batch_size=10,
                    solver="adam", learning_rate_init=0.01)
    ours, theirs = ours_cls(**settings), theirs_cls(**settings)
    extra = {"classes": np.unique(Y_CLASS)} if kind == "classifier" else {}
    for half in (slice(0, 45), slice(45, N), slice(0, N)):
        ours.partial_fit(X[half], y[half], sample_weight=W[half], **extra)
        theirs.partial_fit(X[half], y[half], sample_weight=W[half], **extra)
    assert_same_fit(ours, theirs, 1e-8)
    assert ours.score(X, y, sample_weight=W) == pytest.approx(
        theirs.score(X, y, sample_weight=W), rel=1e-10)
    assert ours.score(X, y, sample_weight=W) != pytest.approx(ours.score(X, y), rel=1e-6)


@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
def test_lbfgs_fit_and_one_evaluation_equal_sklearns(kind):
    ours_cls, theirs_cls, y = ESTIMATORS[kind]
    settings = dict(hidden_layer_sizes=(6,), activation="tanh", solver="lbfgs", alpha=1e-3,
                    random_state=0, max_iter=30)
    ours = quiet(ours_cls(**settings).fit, X, y, sample_weight=W)
    theirs = quiet(theirs_cls(**settings).fit, X, y, sample_weight=W)
    assert_same_fit(ours, theirs, 1e-6, loss=False)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)

    # One evaluation of scikit-learn's objective from the same parameters.
    packed = np.concatenate([p.ravel() for p in params_of(theirs)])
    Y2 = theirs._label_binarizer.transform(y) if kind == "classifier" else y
    their_loss, their_grad = theirs._loss_grad_lbfgs(
        packed, X, Y2, W, [X, None, None], [None, None],
        [np.empty_like(c) for c in theirs.coefs_], [np.empty_like(b) for b in theirs.intercepts_])
    our_loss, our_grad = ours._loss_grad_lbfgs(packed, X, Y2, W, None, None, None, None)
    assert our_loss == pytest.approx(their_loss, rel=1e-12)
    assert_allclose(our_grad, their_grad, rtol=1e-10, atol=1e-14)


# -- weights of 2 are duplicated rows ------------------------------------------------------
#
# Exact only where both see the same batches: a weighted batch's gradient is
# (sum w_i g_i + alpha W) / sum w_i, the duplicated batch's (sum g_i + alpha W) / n,
# the same number when the batch holds every row.  So: full batches for sgd and
# adam (batch_size 'auto' is min(200, rows): every row; early stopping off), and
# L-BFGS, whose objective is the full-batch weighted mean.  With minibatches a
# duplicated row lands in other batches than its weighted twin, and then the two
# agree only in expectation.

DUP = np.array([3, 10, 11, 50, 51, 52, 77])


def weighted_and_duplicated(y):
    w = np.ones(N)
    w[DUP] = 2.0
    rows = np.concatenate([np.arange(N), DUP])
    return w, X[rows], y[rows]


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
def test_weights_of_two_equal_duplicated_rows(kind, solver):
    ours_cls, _, y = ESTIMATORS[kind]
    w, X_dup, y_dup = weighted_and_duplicated(y)
    settings = dict(hidden_layer_sizes=(5,), solver=solver, alpha=1e-3, random_state=0,
                    max_iter=25, batch_size="auto", shuffle=False, learning_rate_init=0.05)
    weighted = quiet(ours_cls(**settings).fit, X, y, sample_weight=w)
    duplicated = quiet(ours_cls(**settings).fit, X_dup, y_dup)
    for a, b in zip(params_of(weighted), params_of(duplicated)):
        assert_allclose(a, b, rtol=0, atol=1e-6 if solver == "lbfgs" else 1e-12)
    assert weighted.loss_ == pytest.approx(duplicated.loss_, rel=1e-6 if solver == "lbfgs"
                                           else 1e-12)
    assert weighted.n_iter_ == duplicated.n_iter_


# -- weights of one are no weights ---------------------------------------------------------


@pytest.mark.parametrize("settings", [
    dict(solver="sgd", batch_size=16), dict(solver="adam", batch_size=23),
    dict(solver="adam", batch_size=30, early_stopping=True), dict(solver="lbfgs"),
], ids=["sgd", "adam", "adam-early-stopping", "lbfgs"])
@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
def test_weights_of_one_are_the_same_bits_as_none(kind, settings):
    ours_cls, _, y = ESTIMATORS[kind]
    settings = dict(hidden_layer_sizes=(5,), random_state=0, max_iter=15, **settings)
    plain = quiet(ours_cls(**settings).fit, X, y)
    ones = quiet(ours_cls(**settings).fit, X, y, sample_weight=np.ones(N))
    for a, b in zip(params_of(plain), params_of(ones)):
        assert_array_equal(a, b)
    assert plain.loss_ == ones.loss_
    assert getattr(plain, "loss_curve_", None) == getattr(ones, "loss_curve_", None)


@pytest.mark.parametrize("sparse", [False, True])
def test_per_sample_sgd_keeps_the_lazy_decay_kernel(sparse):
    """Per-sample SGD by scikit-learn's rule is the lazy-decay kernel with decay
    alpha / w per sample (dense and sparse X): weights of one are the same bits as
    none, and other weights equal scikit-learn's."""
    X_in = scipy_sparse.csr_matrix(np.where(np.abs(X) < 0.8, 0.0, X)) if sparse else X
    settings = dict(hidden_layer_sizes=(5,), solver="sgd", batch_size=1, alpha=1e-3,
                    random_state=0, max_iter=3, learning_rate_init=0.01, momentum=0.0)
    plain = quiet(MLPRegressor(**settings).fit, X_in, Y_REG)
    ones = quiet(MLPRegressor(**settings).fit, X_in, Y_REG, sample_weight=np.ones(N))
    for a, b in zip(params_of(plain), params_of(ones)):
        assert_array_equal(a, b)
    assert plain.loss_curve_ == ones.loss_curve_
    ours = quiet(MLPRegressor(**settings).fit, X_in, Y_REG, sample_weight=W_POS)
    theirs = quiet(skl.MLPRegressor(**settings).fit, X_in, Y_REG, sample_weight=W_POS)
    for a, b in zip(params_of(ours), params_of(theirs)):
        assert_allclose(a, b, rtol=0, atol=1e-10)


def test_lazy_decay_bound_counts_the_smallest_weight():
    """By scikit-learn's rule a weight w decays by lr * alpha / w: a tiny weight
    leaves the lazy-decay kernel for the minibatch one, with the same math."""
    assert _kernels.lazy_decay_applies(0.1, 1.0, np.array([1.0, 0.0]), "sum")
    assert not _kernels.lazy_decay_applies(0.1, 1.0, np.array([1.0, 0.1]), "sum")
    assert _kernels.lazy_decay_applies(0.1, 1.0, np.array([1.0, 0.1]), "count")
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    rng = np.random.default_rng(4)
    params = random_params(SIZES, np.float64, rng)
    Xk, Yk = rng.normal(size=(6, 4)), np.eye(3)[rng.integers(0, 3, 6)]
    w = np.array([1.0, 0.1, 2.0, 0.0, 0.5, 1.5])
    order = np.arange(6, dtype=np.int64)
    weights, biases = ref_layers(params, SIZES)
    _kernels.train(arch, params, np.zeros(0), Xk, Yk, order, 1, "sgd", lr=0.1, l2=1.0,
                   sample_weight=w, weight_divisor="sum")
    reference.minibatch_epoch(weights, biases, ["tanh", "softmax"], "ce", Xk, Yk, order, 1,
                              "sgd", {}, lr=0.1, l2=1.0, sample_weight=w, weight_divisor="sum")
    assert_allclose(params, flatten(weights, biases), rtol=0, atol=1e-12)


# -- a batch whose weights are all zero ----------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_batch_of_zero_weights_takes_no_step(solver):
    """scikit-learn divides by the zero weight sum (NaN weights); annfast skips the
    batch: training on [zero-weight rows, other rows] in fixed batches is training
    on the other rows alone, and loss_ counts the skipped batch as 0."""
    half = 30
    w = np.concatenate([np.zeros(half), W[half:2 * half] + 0.5])
    settings = dict(hidden_layer_sizes=(5,), solver=solver, batch_size=half, shuffle=False,
                    random_state=0, max_iter=8, tol=0.0, learning_rate_init=0.05, alpha=0.0)
    both = quiet(MLPRegressor(**settings).fit, X[:2 * half], Y_REG[:2 * half], sample_weight=w)
    alone = quiet(MLPRegressor(**settings).fit, X[half:2 * half], Y_REG[half:2 * half],
                  sample_weight=w[half:])
    for a, b in zip(params_of(both), params_of(alone)):
        assert np.isfinite(a).all()
        assert_allclose(a, b, rtol=0, atol=1e-12)
    assert_allclose(both.loss_curve_, np.array(alone.loss_curve_) / 2, rtol=1e-12)


def test_a_zero_weight_validation_set_is_refused():
    w = np.zeros(N)
    w[:3] = 1.0  # the seed's validation split holds none of these rows
    est = MLPClassifier(hidden_layer_sizes=(3,), early_stopping=True, random_state=0,
                        validation_fraction=0.1)
    with pytest.raises(ValueError, match="sample_weight is zero on every sample"):
        est.fit(X, Y_CLASS, sample_weight=w)


# -- the kernels' rule against the reference -----------------------------------------------

SIZES = [4, 6, 3]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [1, 3, 5, 17])  # per-sample loop, GEMM, one batch
@pytest.mark.parametrize("optimizer, options", [
    ("sgd", {"lr": 0.2, "l2": 0.3}),
    ("nesterov", {"lr": 0.1, "momentum": 0.9, "l2": 0.1}),
    ("adam", {"lr": 0.02, "l2": 0.05, "epsilon": 1e-7}),
], ids=["sgd", "nesterov", "adam"])
def test_kernel_sum_rule_matches_reference(optimizer, options, batch_size, dtype, rng):
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = random_params(SIZES, dtype, rng)
    Xk = rng.normal(size=(17, 4)).astype(dtype)
    Yk = np.eye(3, dtype=dtype)[rng.integers(0, 3, 17)]
    w = rng.uniform(0, 2, 17)
    w[[0, 1, 2, 9]] = 0.0  # the first batch of 3 is all zeros: no step
    order = np.concatenate([np.arange(17), rng.permutation(17)]).astype(np.int64)
    state = np.zeros(_kernels.opt_state_size(optimizer, params.size,
                                             momentum=options.get("momentum", 0.0)), dtype)
    weights, biases = ref_layers(params, SIZES)
    variables = [v for pair in zip(weights, biases) for v in pair]
    ref_state = reference.new_optimizer_state(optimizer, variables,
                                              momentum=options.get("momentum", 0.0))
    ref_opts = {k: v for k, v in options.items() if k not in ("lr", "l2")}
    status, loss_sum, done, t = _kernels.train(arch, params, state, Xk, Yk, order, batch_size,
                                               optimizer, sample_weight=w,
                                               weight_divisor="sum", **options)
    assert (status, done) == (_kernels.OK, len(order))
    ref_loss, ref_t = reference.minibatch_epoch(
        weights, biases, ["tanh", "softmax"], "ce", Xk, Yk, order, batch_size, optimizer,
        ref_state, lr=options["lr"], l2=options["l2"], sample_weight=w,
        weight_divisor="sum", **ref_opts)
    assert t == ref_t
    assert_matches(params, flatten(weights, biases), dtype, "params")
    assert loss_sum == pytest.approx(ref_loss, rel=1e-4 if dtype == np.float32 else 1e-10)
    if batch_size == 3 and optimizer == "adam":
        assert t == 2 * (-(-17 // 3)) - 1  # the zero batch took no step


def test_the_sum_rule_differs_from_keras_rule_and_is_checked(rng):
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = random_params(SIZES, np.float64, rng)
    Xk, Yk = rng.normal(size=(8, 4)), np.eye(3)[rng.integers(0, 3, 8)]
    order = np.arange(8, dtype=np.int64)
    w = rng.uniform(0.5, 2, 8)
    results = {}
    for rule in ("count", "sum"):
        p = params.copy()
        results[rule] = _kernels.train(arch, p, np.zeros(0), Xk, Yk, order, 4, lr=0.1,
                                       sample_weight=w, weight_divisor=rule)[1], p
    assert not np.allclose(results["count"][1], results["sum"][1])
    with pytest.raises(ValueError, match="weight_divisor"):
        _kernels.train(arch, params.copy(), np.zeros(0), Xk, Yk, order, 4, lr=0.1,
                       weight_divisor="mean")
    with pytest.raises(ValueError, match="weight_divisor"):
        _engine.Update(lr=0.1, weight_divisor="mean")
    with pytest.raises(TypeError, match="weight_divisor"):
        _engine.Update(lr=0.1, weight_divisor=1)
    with pytest.raises(ValueError, match="divisor"):
        _kernels.apply_gradient(arch, params.copy(), np.zeros(0), np.zeros(params.size), 4,
                                divisor=0.0)


def test_kernel_weights_of_one_are_the_same_bits_as_none(rng):
    """With batches > 1 the sum rule on weights of one is the count rule, bit for bit,
    on the per-sample loop and on the GEMM path."""
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["relu"], ACTIVATIONS["identity"]], LOSSES["mse"])
    Xk, Yk = rng.normal(size=(30, 4)), rng.normal(size=(30, 3))
    order = rng.permutation(30).astype(np.int64)
    for batch_size in (2, 7, 30):
        runs = []
        for kwargs in ({}, {"sample_weight": np.ones(30), "weight_divisor": "sum"}):
            p = random_params(SIZES, np.float64, np.random.default_rng(5))
            s = np.zeros(2 * p.size)
            runs.append((_kernels.train(arch, p, s, Xk, Yk, order, batch_size, "adam",
                                        lr=0.01, l2=0.1, **kwargs), p, s))
        assert runs[0][0] == runs[1][0]
        assert_array_equal(runs[0][1], runs[1][1])
        assert_array_equal(runs[0][2], runs[1][2])


def test_split_batches_follow_the_sum_rule(monkeypatch, rng):
    """A batch too large for one call is summed over several (engine's split path):
    the same step, divided by the batch's weight sum, and the same loss sum."""
    network = _engine.Network([4, 6, 3], ["tanh", "identity"], "mse", np.float64)
    Xk, Yk = rng.normal(size=(40, 4)), rng.normal(size=(40, 3))
    w = rng.uniform(0, 2, 40)
    w[:20] = 0.0  # one batch of zeros: no step
    order = np.arange(40, dtype=np.int64)
    params = random_params([4, 6, 3], np.float64, rng)
    update = _engine.Update(lr=0.1, optimizer="adam", l2=0.2, batch_size=20, sample_weight=w,
                            weight_divisor="sum")
    opt = _engine.OptimizerState.fresh(update, params.size, np.float64)
    data = _engine.prepare(network, _engine.as_inputs(Xk, np.float64), update)
    whole = _engine.train_epoch(network, params, data, Yk, order, update, opt)
    monkeypatch.setattr(_engine, "WORK_PER_CALL", 3 * data.work_per_sample)
    split = _engine.train_epoch(network, params, data, Yk, order, update, opt)
    assert_allclose(split.params, whole.params, rtol=0, atol=1e-13)
    assert split.loss_sum == pytest.approx(whole.loss_sum, rel=1e-12)
    assert split.opt.t == whole.opt.t == 1


# -- gradients -----------------------------------------------------------------------------


@pytest.mark.parametrize("blas", [False, True])
def test_weighted_gradient_is_central_differences(blas, rng):
    network = _engine.Network([3, 5, 2], ["tanh", "sigmoid"], "bce", np.float64)
    Xk, Yk = rng.normal(size=(12, 3)), (rng.random((12, 2)) < 0.5).astype(float)
    w = rng.uniform(0, 3, 12)
    params = random_params([3, 5, 2], np.float64, rng)
    inputs = _engine.as_inputs(Xk, np.float64)
    fn = _engine.loss_and_gradient_blas if blas else _engine.loss_and_gradient
    loss, grad = fn(network, params, inputs, Yk, w)
    h = 1e-6
    numeric = np.empty_like(params)
    for i in range(params.size):
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (fn(network, up, inputs, Yk, w)[0] - fn(network, down, inputs, Yk, w)[0])
    assert_allclose(grad, numeric / (2 * h), rtol=1e-6, atol=1e-8)
    plain = _engine.loss_and_gradient(network, params, inputs, Yk)[0]
    assert loss != pytest.approx(plain)


def test_sklearn_objective_gradient_is_central_differences():
    est = quiet(MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=3,
                              random_state=0, alpha=0.1).fit, X, Y_CLASS, sample_weight=W)
    packed = np.concatenate([p.ravel() for p in params_of(est)])
    Y2 = est._label_binarizer.transform(Y_CLASS)
    _, grad = est._loss_grad_lbfgs(packed.copy(), X, Y2, W, None, None, None, None)
    h = 1e-6
    numeric = np.empty_like(packed)
    for i in range(packed.size):
        up, down = packed.copy(), packed.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (est._loss_grad_lbfgs(up, X, Y2, W, None, None, None, None)[0]
                      - est._loss_grad_lbfgs(down, X, Y2, W, None, None, None, None)[0])
    assert_allclose(grad, numeric / (2 * h), rtol=1e-6, atol=1e-9)


# -- metadata routing and the meta-estimators -----------------------------------------------


def small(cls, **settings):
    return cls(hidden_layer_sizes=(5,), random_state=0, max_iter=20, **settings)


def test_pipeline_routes_sample_weight():
    ours = quiet(Pipeline([("sc", StandardScaler()), ("mlp", small(MLPClassifier))]).fit,
                 X, Y_CLASS, mlp__sample_weight=W)
    direct = quiet(small(MLPClassifier).fit, StandardScaler().fit_transform(X), Y_CLASS,
                   sample_weight=W)
    for a, b in zip(params_of(ours[-1]), params_of(direct)):
        assert_array_equal(a, b)


def test_metadata_routing_in_cross_validate_equals_sklearns():
    scores = {}
    with sklearn.config_context(enable_metadata_routing=True):
        for cls in (MLPClassifier, skl.MLPClassifier):
            est = small(cls).set_fit_request(sample_weight=True).set_score_request(
                sample_weight=True)
            scores[cls] = quiet(cross_validate, est, X, Y_CLASS, params={"sample_weight": W},
                                cv=3)["test_score"]
        unweighted = quiet(cross_validate, small(MLPClassifier).set_fit_request(
            sample_weight=False), X, Y_CLASS, cv=3)["test_score"]
    assert_allclose(scores[MLPClassifier], scores[skl.MLPClassifier], rtol=1e-12)
    assert not np.allclose(scores[MLPClassifier], unweighted)


def test_adaboost_and_bagging_equal_sklearns():
    for meta in (lambda est: AdaBoostClassifier(estimator=est, n_estimators=3, random_state=0),
                 lambda est: BaggingClassifier(estimator=est, n_estimators=3, random_state=0)):
        ours = quiet(meta(small(MLPClassifier)).fit, X, Y_CLASS)
        theirs = quiet(meta(small(skl.MLPClassifier)).fit, X, Y_CLASS)
        assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-8)
        if hasattr(theirs, "estimator_weights_"):
            assert_allclose(ours.estimator_weights_, theirs.estimator_weights_, rtol=1e-8)


# -- bad weights ---------------------------------------------------------------------------

BAD = [
    ("negative", lambda w: np.where(np.arange(N) == 5, -1.0, w), ValueError, ">= 0"),
    ("nan", lambda w: np.where(np.arange(N) == 5, np.nan, w), ValueError, "finite"),
    ("inf", lambda w: np.where(np.arange(N) == 5, np.inf, w), ValueError, "finite"),
    ("short", lambda w: w[:-1], ValueError, "shape"),
    ("2-d", lambda w: w[:, None], ValueError, "shape"),
    ("all-zero", lambda w: np.zeros(N), ValueError, "all zeros"),
    ("negative-scalar", lambda w: -1.0, ValueError, ">= 0"),
    ("strings", lambda w: np.array(["a"] * N), TypeError, "numbers"),
    ("objects", lambda w: [None] * N, TypeError, "numbers"),
    ("dict", lambda w: {"a": 1}, TypeError, "sample_weight"),
]


def snapshot(est):
    return pickle.dumps({k: v for k, v in vars(est).items()})


@pytest.mark.parametrize("call", ["fit", "partial_fit", "lbfgs-fit"])
@pytest.mark.parametrize("name, make, error, match", BAD, ids=[b[0] for b in BAD])
def test_bad_weights_are_refused_and_change_nothing(name, make, error, match, call):
    solver = "lbfgs" if call == "lbfgs-fit" else "adam"
    est = quiet(MLPClassifier(hidden_layer_sizes=(4,), solver=solver, max_iter=5,
                              random_state=0, warm_start=True).fit, X, Y_CLASS,
                sample_weight=W)
    before = snapshot(est)
    method = est.partial_fit if call == "partial_fit" else est.fit
    with pytest.raises(error, match=match) as info:
        method(X, Y_CLASS, sample_weight=make(W))
    assert "sample_weight" in str(info.value)
    assert snapshot(est) == before


def test_scalar_weight_is_every_sample_weight():
    a = quiet(small(MLPRegressor).fit, X, Y_REG, sample_weight=2.5)
    b = quiet(small(MLPRegressor).fit, X, Y_REG, sample_weight=np.full(N, 2.5))
    for p, q in zip(params_of(a), params_of(b)):
        assert_array_equal(p, q)


def test_estimator_is_clonable_with_weights_in_float32():
    est = clone(small(MLPRegressor, dtype=np.float32))
    theirs = quiet(small(skl.MLPRegressor).fit, X.astype(np.float32), Y_REG, sample_weight=W)
    ours = quiet(est.fit, X.astype(np.float32), Y_REG, sample_weight=W)
    assert ours.coefs_[0].dtype == np.float32
    for p, q in zip(params_of(ours), params_of(theirs)):
        assert_allclose(p, q, rtol=1e-4, atol=1e-4)
