"""scikit-learn estimators trained by the compiled kernels: MLPRegressor, MLPClassifier.

Drop-in replacements for ``sklearn.neural_network.MLPRegressor`` /
``MLPClassifier`` with the stochastic solvers ('sgd', 'adam').  Each training
epoch is one call to ``annfast._kernels.train`` (forward, backprop and the
optimizer update of every batch happen in C with the GIL released); Python
keeps the bookkeeping: validation, initialisation, shuffling, early stopping,
learning-rate schedules and the fitted attributes.

The arithmetic is scikit-learn's, step for step: Glorot-uniform initial weights
and biases drawn from ``random_state`` in the same order, the same per-epoch
shuffle, batches of ``batch_size`` whose gradient is ``(sum of per-sample
gradients + alpha * W) / batch_len``, the same SGD/Nesterov/Adam updates, the
same stopping rules.  Given the same ``random_state`` both libraries therefore
train the same network (up to rounding; see ``tests/test_sklearn.py``).

Per-sample SGD (``solver='sgd', momentum=0, batch_size=1``) on mostly-zero
inputs (binarised pixels, one-hot features) runs the kernels' sparse
first-layer path, which skips the weights of zero inputs.
"""

import dataclasses
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils import shuffle as sk_shuffle
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from annfast import _kernels, _params, _sparse
from annfast._sparse import is_scipy_sparse
from annfast._validation import check_dtype, check_scalar, check_sparse
from annfast.activations import ACTIVATIONS, LOSSES

__all__ = ["MLPClassifier", "MLPRegressor"]

#: scikit-learn's activation names -> the kernels' names.
HIDDEN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
                      "relu": "relu"}
#: Output activation (scikit-learn's name) -> (kernel activation, kernel loss).
#: Each is a matched pair, for which the kernels use delta = a - y, as
#: scikit-learn does.
OUTPUT_PAIRS = {"identity": ("identity", "mse"), "logistic": ("sigmoid", "bce"),
                "softmax": ("softmax", "ce")}
SOLVERS = ("adam", "sgd")
LEARNING_RATES = ("adaptive", "constant", "invscaling")

_CONVERGENCE_MESSAGE = (
    "Stochastic Optimizer: Maximum iterations ({}) reached and the optimization hasn't "
    "converged yet. Raise max_iter, scale the inputs, or loosen tol."
)


def _choice(value, argument, valid):
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{argument}={value!r} is not supported; expected one of: "
                         f"{', '.join(repr(v) for v in valid)}")
    return value


def _boolean(value, argument):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{argument} must be True or False, got {value!r}")
    return bool(value)


@dataclasses.dataclass(frozen=True)
class _Settings:
    """The estimator's hyperparameters, validated (what fit actually uses)."""

    hidden: tuple
    activation: str
    solver: str
    alpha: float
    batch_size: object  # 'auto' or int
    learning_rate: str
    learning_rate_init: float
    power_t: float
    max_iter: int
    shuffle: bool
    tol: float
    verbose: int
    warm_start: bool
    momentum: float
    nesterovs_momentum: bool
    early_stopping: bool
    validation_fraction: float
    beta_1: float
    beta_2: float
    epsilon: float
    n_iter_no_change: float
    dtype: object  # None, np.float32 or np.float64

    @property
    def optimizer(self):
        """The kernel's optimizer name for these settings."""
        if self.solver == "adam":
            return "adam"
        if self.momentum == 0:
            return "sgd"
        return "nesterov" if self.nesterovs_momentum else "momentum"


def _validated_settings(est):
    """Check every hyperparameter of ``est``; raise before any state changes."""
    hidden = est.hidden_layer_sizes
    if isinstance(hidden, (str, bytes)):
        raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints, "
                        f"got {hidden!r}")
    hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
    hidden = tuple(check_scalar(n, f"hidden_layer_sizes[{i}]", low=1, integer=True)
                   for i, n in enumerate(hidden))
    batch_size = est.batch_size
    if not (isinstance(batch_size, str) and batch_size == "auto"):
        if isinstance(batch_size, str):
            raise ValueError(f"batch_size must be 'auto' or an integer >= 1, got {batch_size!r}")
        batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    n_iter_no_change = est.n_iter_no_change
    if not (isinstance(n_iter_no_change, numbers.Real) and n_iter_no_change == np.inf):
        n_iter_no_change = check_scalar(n_iter_no_change, "n_iter_no_change", low=1,
                                        integer=True)
    verbose = est.verbose
    if isinstance(verbose, (bool, np.bool_)):
        verbose = int(verbose)
    else:
        verbose = check_scalar(verbose, "verbose", low=0, integer=True)
    return _Settings(
        hidden=hidden,
        activation=_choice(est.activation, "activation", tuple(HIDDEN_ACTIVATIONS)),
        solver=_choice(est.solver, "solver", SOLVERS),
        alpha=check_scalar(est.alpha, "alpha", low=0),
        batch_size=batch_size,
        learning_rate=_choice(est.learning_rate, "learning_rate", LEARNING_RATES),
        learning_rate_init=check_scalar(est.learning_rate_init, "learning_rate_init", low=0,
                                        low_inclusive=False),
        power_t=check_scalar(est.power_t, "power_t", low=0),
        max_iter=check_scalar(est.max_iter, "max_iter", low=1, integer=True),
        shuffle=_boolean(est.shuffle, "shuffle"),
        tol=check_scalar(est.tol, "tol", low=0),
        verbose=verbose,
        warm_start=_boolean(est.warm_start, "warm_start"),
        momentum=check_scalar(est.momentum, "momentum", low=0, high=1),
        nesterovs_momentum=_boolean(est.nesterovs_momentum, "nesterovs_momentum"),
        early_stopping=_boolean(est.early_stopping, "early_stopping"),
        validation_fraction=check_scalar(est.validation_fraction, "validation_fraction",
                                         low=0, high=1, high_inclusive=False),
        beta_1=check_scalar(est.beta_1, "beta_1", low=0, high=1, high_inclusive=False),
        beta_2=check_scalar(est.beta_2, "beta_2", low=0, high=1, high_inclusive=False),
        epsilon=check_scalar(est.epsilon, "epsilon", low=0, low_inclusive=False),
        n_iter_no_change=n_iter_no_change,
        dtype=None if est.dtype is None else check_dtype(est.dtype),
    )


@dataclasses.dataclass
class _OptimizerState:
    """What scikit-learn keeps in its ``_optimizer`` between partial_fit calls."""

    kind: str
    state: np.ndarray  # (2 * n_params,): velocity or Adam moments; empty for plain sgd
    t: int  # Adam step count
    learning_rate: float  # current SGD step size (schedules change it)


def _dense(X):
    """X from validate_data, densified if sparse: the kernels take dense rows."""
    return X.toarray() if hasattr(X, "toarray") else X


class _BaseMLP(BaseEstimator):
    """Shared fit/predict machinery; use MLPRegressor or MLPClassifier."""

    # -- hooks the subclasses fill in ------------------------------------------------

    def _encode_targets(self, y, dtype, *, first_pass, incremental, classes):
        """Return (Y of shape (n, n_outputs) and dtype, out_activation, extra attrs)."""
        raise NotImplementedError

    def _score_predictions(self, Y_val, out, extra):
        """Validation score (R^2 or accuracy) of the outputs ``out`` for targets Y_val."""
        raise NotImplementedError

    # -- fitting ---------------------------------------------------------------------

    def _fit(self, X, y, *, incremental, classes=None):
        cfg = _validated_settings(self)
        if incremental and cfg.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True; use fit, "
                             "or set early_stopping=False")
        has_coefs = hasattr(self, "coefs_")
        first_pass = not has_coefs or (not cfg.warm_start and not incremental)
        if is_scipy_sparse(X):
            check_sparse(X, "X")  # before scipy's own code trusts its index arrays
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=not self._is_classifier, dtype=(np.float64, np.float32),
                             reset=first_pass or not hasattr(self, "n_features_in_"))
        if first_pass:
            dtype = cfg.dtype or (np.float32 if X.dtype == np.float32 else np.float64)
        else:
            dtype = self.coefs_[0].dtype.type
        X = np.ascontiguousarray(_dense(X), dtype=dtype)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y, out_activation, extra = self._encode_targets(
            y, dtype, first_pass=first_pass, incremental=incremental, classes=classes)
        n_features, n_outputs = X.shape[1], Y.shape[1]
        sizes = (n_features, *cfg.hidden, n_outputs)

        rng = check_random_state(self.random_state)
        if first_pass:
            params = self._initial_params(sizes, cfg.activation, rng, dtype)
        else:
            params = self._packed_params(sizes, dtype)
            out_activation = getattr(self, "out_activation_", out_activation)

        # Bookkeeping carried over from an earlier fit, copied so that a failure
        # below leaves the estimator as it was.
        keep = not first_pass and hasattr(self, "loss_curve_")
        book = {
            "t_": self.t_ if keep else 0,
            "loss_curve_": list(self.loss_curve_) if keep else [],
            "_no_improvement_count": self._no_improvement_count if keep else 0,
            "best_loss_": self.best_loss_ if keep else np.inf,
            "validation_scores_": (list(self.validation_scores_)
                                   if keep and self.validation_scores_ is not None else None),
            "best_validation_score_": self.best_validation_score_ if keep else None,
        }
        if cfg.early_stopping and book["validation_scores_"] is None:
            book.update(validation_scores_=[], best_validation_score_=-np.inf, best_loss_=None)
        elif not cfg.early_stopping and book["best_loss_"] is None:
            book.update(best_loss_=np.inf, validation_scores_=None, best_validation_score_=None)

        optimizer = getattr(self, "_optimizer", None) if incremental else None
        if (optimizer is None or optimizer.kind != cfg.optimizer
                or optimizer.state.dtype != dtype
                or optimizer.state.size not in (0, 2 * params.size)):
            n_state = 0 if cfg.optimizer == "sgd" else 2 * params.size
            optimizer = _OptimizerState(cfg.optimizer, np.zeros(n_state, dtype=dtype), 0,
                                        cfg.learning_rate_init)
        else:
            optimizer = dataclasses.replace(optimizer, state=optimizer.state.copy())

        arch = self._arch(sizes, cfg.activation, out_activation)
        params, book = self._fit_stochastic(cfg, arch, params, optimizer, book, X, Y, rng,
                                            incremental, extra)

        # Publish: nothing above touched the estimator's fitted state.
        for name, value in extra.items():
            setattr(self, name, value)
        self.out_activation_ = out_activation
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(sizes)
        self._set_coefs(params, sizes)
        self._optimizer = optimizer
        for name, value in book.items():
            setattr(self, name, value)
        return self

    def _fit_stochastic(self, cfg, arch, params, optimizer, book, X, Y, rng, incremental,
                        extra):
        """Run the epochs on ``params`` (a private buffer); return (params, book)."""
        if cfg.early_stopping:
            # Stratify like scikit-learn: single-output classification only.
            stratify = Y if self._is_classifier and Y.shape[1] == 1 else None
            X_train, X_val, Y_train, Y_val = train_test_split(
                X, Y, random_state=rng, test_size=cfg.validation_fraction, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            X_train = np.ascontiguousarray(X_train)
            Y_train = np.ascontiguousarray(Y_train)
            X_val = np.ascontiguousarray(X_val)
            best_params = params.copy()
        else:
            X_train, Y_train, X_val, Y_val, best_params = X, Y, None, None, None

        n_samples = X_train.shape[0]
        if cfg.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if cfg.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=4)
            batch_size = min(cfg.batch_size, n_samples)
        n_batches = -(-n_samples // batch_size)
        # loss_ follows scikit-learn: mean squared error halved and averaged over
        # the outputs too (regressor), summed log-loss per sample (classifier).
        data_scale = 1.0 / (n_samples * (Y.shape[1] if not self._is_classifier else 1))
        weight_slices = [slice(w0, b0) for w0, b0, *_ in _params.layer_offsets(arch.sizes)]
        sample_idx = np.arange(n_samples, dtype=np.int64)
        # Per-sample SGD on mostly-zero inputs (binarised pixels, one-hot
        # features) takes the kernels' sparse first-layer path: same updates,
        # only the first-layer weights of non-zero inputs are touched.
        csr = None
        if optimizer.kind == "sgd" and batch_size == 1:
            csr = _sparse.sparse_rows(X_train, X_train.dtype)  # None for dense data
        work = params.copy()  # trained in place; ``params`` keeps the last good epoch
        n_iter = 0
        try:
            for _ in range(cfg.max_iter):
                if cfg.shuffle:
                    # Same draw as scikit-learn's, so equal seeds give equal orders.
                    sample_idx = np.ascontiguousarray(sk_shuffle(sample_idx, random_state=rng),
                                                      dtype=np.int64)
                if csr is not None:
                    t = optimizer.t
                    status, loss_sum, n_done = _kernels.train_sparse(
                        arch, work, *csr, Y_train, sample_idx, lr=optimizer.learning_rate,
                        l2=cfg.alpha)
                else:
                    status, loss_sum, n_done, t = _kernels.train(
                        arch, work, optimizer.state, X_train, Y_train, sample_idx,
                        batch_size=batch_size, optimizer=optimizer.kind,
                        lr=optimizer.learning_rate, l2=cfg.alpha, momentum=cfg.momentum,
                        beta1=cfg.beta_1, beta2=cfg.beta_2, epsilon=cfg.epsilon,
                        t=optimizer.t)
                if status != _kernels.OK or not np.isfinite(work).all():
                    raise ValueError(
                        f"Training diverged in epoch {n_iter + 1}: the loss or "
                        f"the weights became NaN or infinite (after {n_done} of {n_samples} "
                        "samples). Lower learning_rate_init, scale X (and y), or raise "
                        "alpha. The estimator was left as it was before this call.")
                optimizer.t = t
                params[:] = work
                n_iter += 1
                # scikit-learn adds 0.5 * alpha * ||W||^2 / batch_len to every batch's
                # mean loss and weights batches by length: n_batches penalties per
                # epoch (evaluated here at the end-of-epoch weights).
                sq = sum(float(np.dot(work[s].astype(np.float64), work[s])) for s in
                         weight_slices)
                loss = loss_sum * data_scale + n_batches * 0.5 * cfg.alpha * sq / n_samples
                book["t_"] += n_samples
                book["loss_curve_"].append(loss)
                if cfg.verbose:
                    print(f"Iteration {n_iter}, loss = {loss:.8f}")
                if cfg.early_stopping:
                    out = np.empty((X_val.shape[0], arch.sizes[-1]), dtype=work.dtype)
                    _kernels.forward(arch, work, X_val, out)
                    score = (self._score_predictions(Y_val, out, extra) if np.isfinite(out).all()
                             else np.nan)
                    book["validation_scores_"].append(score)
                    if cfg.verbose:
                        print(f"Validation score: {score:f}")
                    if score < book["best_validation_score_"] + cfg.tol:
                        book["_no_improvement_count"] += 1
                    else:
                        book["_no_improvement_count"] = 0
                    if score > book["best_validation_score_"]:
                        book["best_validation_score_"] = score
                        best_params[:] = work
                else:
                    if loss > book["best_loss_"] - cfg.tol:
                        book["_no_improvement_count"] += 1
                    else:
                        book["_no_improvement_count"] = 0
                    book["best_loss_"] = min(book["best_loss_"], loss)
                if optimizer.kind != "adam" and cfg.learning_rate == "invscaling":
                    optimizer.learning_rate = (cfg.learning_rate_init
                                               / (book["t_"] + 1) ** cfg.power_t)
                if book["_no_improvement_count"] > cfg.n_iter_no_change:
                    if self._stop_or_decay(cfg, optimizer):
                        break
                    book["_no_improvement_count"] = 0
                if incremental:
                    break
                if n_iter == cfg.max_iter:
                    warnings.warn(_CONVERGENCE_MESSAGE.format(cfg.max_iter), ConvergenceWarning,
                                  stacklevel=4)
        except KeyboardInterrupt:
            # As scikit-learn: keep what was learnt so far.  The kernel stopped
            # between whole batches, so work and optimizer state agree.
            warnings.warn("Training interrupted by user.", stacklevel=4)
            if np.isfinite(work).all():
                params[:] = work
        book["n_iter_"] = n_iter
        book["loss_"] = book["loss_curve_"][-1] if book["loss_curve_"] else getattr(
            self, "loss_", np.nan)
        if cfg.early_stopping:
            params = best_params
        return params, book

    @staticmethod
    def _stop_or_decay(cfg, optimizer):
        """scikit-learn's trigger_stopping: 'adaptive' SGD divides the step by 5
        (until it is <= 1e-6) instead of stopping; everything else stops."""
        if cfg.verbose:
            print(f"Training loss or validation score did not improve more than tol={cfg.tol:f} "
                  f"for {cfg.n_iter_no_change} consecutive epochs.")
        if optimizer.kind == "adam" or cfg.learning_rate != "adaptive":
            return True
        if optimizer.learning_rate <= 1e-6:
            return True
        optimizer.learning_rate /= 5.0
        return False

    # -- parameters ------------------------------------------------------------------

    @staticmethod
    def _arch(sizes, activation, out_activation):
        out_act, loss = OUTPUT_PAIRS[out_activation]
        acts = [ACTIVATIONS[HIDDEN_ACTIVATIONS[activation]]] * (len(sizes) - 2)
        return _kernels.Arch(sizes, acts + [ACTIVATIONS[out_act]], LOSSES[loss])

    @staticmethod
    def _initial_params(sizes, activation, rng, dtype):
        """Glorot-uniform weights and biases, drawn exactly as scikit-learn draws them:
        per layer a (fan_in, fan_out) weight block, then fan_out biases, both
        uniform in +-sqrt(factor / (fan_in + fan_out)), factor 2 for logistic, else 6."""
        factor = 2.0 if activation == "logistic" else 6.0
        params = np.empty(_params.n_params(sizes), dtype=dtype)
        for w0, b0, b1, n_out, n_in in _params.layer_offsets(sizes):
            bound = np.sqrt(factor / (n_in + n_out))
            coef = rng.uniform(-bound, bound, (n_in, n_out))
            params[w0:b0] = coef.T.ravel()  # the kernels store W as (n_out, n_in)
            params[b0:b1] = rng.uniform(-bound, bound, n_out)
        return params

    def _packed_params(self, sizes, dtype):
        """A fresh flat buffer holding coefs_/intercepts_ (as set by fit or by the user)."""
        coefs, intercepts = list(self.coefs_), list(self.intercepts_)
        want = [(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        have = [np.shape(c) for c in coefs]
        if have != want:
            raise ValueError(f"coefs_ have shapes {have}, but hidden_layer_sizes and the data "
                             f"need {want}; fit with warm_start=False to start over")
        return _params.pack([np.asarray(c).T for c in coefs], intercepts, sizes, dtype,
                            names=("coefs_", "intercepts_"))

    def _set_coefs(self, params, sizes):
        weights, biases = _params.views(params, sizes, bias_shape="flat")
        self.coefs_ = [w.T for w in weights]  # (n_in, n_out) views into params
        self.intercepts_ = biases

    def _sizes(self):
        return tuple([self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_])

    # -- prediction ------------------------------------------------------------------

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coefs_")

    def _forward(self, X):
        """Network outputs for X, shape (n_samples, n_outputs_), in the model's dtype."""
        check_is_fitted(self)
        if is_scipy_sparse(X):
            check_sparse(X, "X")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        sizes = self._sizes()
        dtype = self.coefs_[0].dtype.type
        X = np.ascontiguousarray(_dense(X), dtype=dtype)
        params = self._packed_params(sizes, dtype)
        arch = self._arch(sizes, self.activation, self.out_activation_)
        out = np.empty((X.shape[0], sizes[-1]), dtype=dtype)
        _kernels.forward(arch, params, X, out)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # accepted, densified for the kernels
        return tags


_PARAMS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Units of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Hidden-layer activation.
    solver : {'adam', 'sgd'}, default='adam'
        'sgd' with ``momentum`` (Nesterov's if ``nesterovs_momentum``) or 'adam'.
        scikit-learn's 'lbfgs' is not provided.
    alpha : float, default=1e-4
        L2 strength: each batch gradient gets ``alpha * W / batch_len``.
    batch_size : int or 'auto', default='auto'
        Samples per update; 'auto' is ``min(200, n_samples)``; 1 is per-sample SGD.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Step-size schedule of solver='sgd' (scikit-learn's rules).
    learning_rate_init : float, default=1e-3
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    max_iter : int, default=200
        Epochs; a ConvergenceWarning is issued when they run out.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Drives the initial weights, the shuffles and the early-stopping split, in
        the same order as scikit-learn.
    tol : float, default=1e-4
    verbose : bool or int, default=False
        Print the loss after every epoch.
    warm_start : bool, default=False
        Continue from ``coefs_``/``intercepts_`` (including ones you set yourself).
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score stops
        improving and restore the best weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2 : float, default=0.9, 0.999
    epsilon : float, default=1e-8
        Adam's constants.
    n_iter_no_change : int, default=10
    dtype : {None, numpy.float32, numpy.float64}, default=None
        Precision of the weights and of training.  None: float32 when X is
        float32, else float64 (as scikit-learn keeps float32 data in float32).

    Attributes
    ----------
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weights per layer: transposed views into the flat parameter buffer.
    intercepts_ : list of ndarray of shape (n_out,)
    loss_ : float
        Loss of the last epoch, as scikit-learn reports it (L2 term included).
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run by the last call.
    t_ : int
        Samples seen during training.
    n_features_in_ : int
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str

    Notes
    -----
    Differences from scikit-learn: no 'lbfgs' solver and no ``sample_weight``
    (the kernels have neither); sparse X is accepted but densified.  ``loss_``
    adds the L2 term once per batch, as scikit-learn does, but evaluates it at
    the end-of-epoch weights (scikit-learn uses each batch's weights), so with
    ``alpha > 0`` the reported losses differ slightly while the weights agree.
"""


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = ("""Multi-layer perceptron regressor (squared error), trained by annfast's kernels.

    Drop-in for ``sklearn.neural_network.MLPRegressor`` with the stochastic
    solvers.  Outputs are linear (identity); the loss is half the squared error.
    """ + _PARAMS_DOC.replace("    Parameters\n    ----------\n", """    Parameters
    ----------
    loss : {'squared_error'}, default='squared_error'
        Only the squared error; scikit-learn's 'poisson' is not provided.
""", 1))

    _is_classifier = False

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    def fit(self, X, y):
        """Fit the network to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        _choice(self.loss, "loss", ("squared_error",))
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over X and y, continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        _choice(self.loss, "loss", ("squared_error",))
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted values.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    def _encode_targets(self, y, dtype, *, first_pass, incremental, classes):
        Y = np.ascontiguousarray(y.reshape(len(y), -1), dtype=dtype)
        if not first_pass and Y.shape[1] != getattr(self, "n_outputs_", Y.shape[1]):
            raise ValueError(f"y has {Y.shape[1]} outputs, but the fitted network has "
                             f"{self.n_outputs_}")
        return Y, "identity", {}

    def _score_predictions(self, Y_val, out, extra):
        return r2_score(Y_val, out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = ("""Multi-layer perceptron classifier (log-loss), trained by annfast's kernels.

    Drop-in for ``sklearn.neural_network.MLPClassifier`` with the stochastic
    solvers.  Binary targets get one logistic output, multiclass a softmax,
    multilabel indicator targets (e.g. one-hot tuples ``(1, 0)``/``(0, 1)``)
    one logistic output per label.  Labels may be any hashable values.
    """ + _PARAMS_DOC.replace("    out_activation_ : str\n", """    out_activation_ : str
    classes_ : ndarray of shape (n_classes,)
""", 1))

    _is_classifier = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    def fit(self, X, y):
        """Fit the network to X and the labels y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over X and y, continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), default=None
            Every label y can take over all calls; required on the first call
            (unless ``fit`` ran before), ignored-if-equal afterwards.

        Returns
        -------
        self
        """
        fitted_classes = getattr(self, "classes_", None)
        if fitted_classes is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit: every "
                             "label y can take, e.g. np.unique(y_all)")
        if fitted_classes is not None and classes is not None and not np.array_equal(
                fitted_classes, unique_labels(classes)):
            raise ValueError(f"classes={classes!r} is not the same as on the first call to "
                             f"partial_fit, which was {fitted_classes!r}")
        return self._fit(X, y, incremental=True, classes=classes)

    def _encode_targets(self, y, dtype, *, first_pass, incremental, classes):
        check_classification_targets(y)
        if first_pass or not hasattr(self, "_label_binarizer"):
            binarizer = LabelBinarizer()
            if classes is not None and not type_of_target(y).startswith("multilabel"):
                binarizer.fit(classes)
                new = np.setdiff1d(unique_labels(y), binarizer.classes_)
                if len(new):
                    raise ValueError(f"y has classes {new.tolist()} that are not in classes="
                                     f"{binarizer.classes_.tolist()}")
            else:
                binarizer.fit(y)
        else:
            binarizer = self._label_binarizer
            seen = unique_labels(y)
            if incremental:
                new = np.setdiff1d(seen, self.classes_)
                if len(new):
                    raise ValueError(
                        f"y has classes {new.tolist()} that the first call to partial_fit "
                        f"(or fit) did not declare; classes_ is {self.classes_.tolist()}. "
                        "Pass every class in classes= on the first call.")
            elif set(seen) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes "
                                 f"as in the previous call to fit. Previously got "
                                 f"{self.classes_}, `y` has {seen}")
        Y = np.ascontiguousarray(binarizer.transform(y), dtype=dtype)
        out_activation = "softmax" if binarizer.y_type_ == "multiclass" else "logistic"
        if not first_pass and Y.shape[1] != getattr(self, "n_outputs_", Y.shape[1]):
            raise ValueError(f"y has {Y.shape[1]} outputs, but the fitted network has "
                             f"{self.n_outputs_}")
        return Y, out_activation, {"_label_binarizer": binarizer,
                                   "classes_": binarizer.classes_}

    def _score_predictions(self, Y_val, out, extra):
        # The binarizer of this fit (``extra``): it is published only at the end.
        binarizer = extra["_label_binarizer"]
        labels = binarizer.inverse_transform(Y_val)
        predicted = binarizer.inverse_transform(out.ravel() if out.shape[1] == 1 else out)
        return accuracy_score(labels, predicted)

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        out = self._forward(X)
        return self._label_binarizer.inverse_transform(out.ravel() if out.shape[1] == 1
                                                       else out)

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        out = self._forward(X)
        if out.shape[1] == 1:
            return np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba(X)``, shape (n_samples, n_classes)."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
