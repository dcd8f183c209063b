"""scikit-learn estimators trained by the compiled kernels: MLPRegressor, MLPClassifier.

Drop-in replacements for ``sklearn.neural_network.MLPRegressor`` /
``MLPClassifier`` with the solvers 'sgd', 'adam' and 'lbfgs'.  They translate
scikit-learn's API into the terms of annfast's training engine
(``annfast._engine``), which runs each epoch in C with the GIL released;
Python keeps scikit-learn's bookkeeping: validation, initialisation,
shuffling, early stopping, learning-rate schedules and the fitted attributes.

The arithmetic is scikit-learn's, step for step: Glorot-uniform initial weights
and biases drawn from ``random_state`` in the same order, the same per-epoch
shuffle, batches of ``batch_size`` whose gradient is ``(sum of per-sample
gradients + alpha * W) / batch_len``, the same SGD/Nesterov/Adam updates, the
same stopping rules.  Given the same ``random_state`` both libraries therefore
train the same network (up to rounding; see ``tests/test_sklearn.py``).

Per-sample SGD (``solver='sgd', momentum=0, batch_size=1``) on mostly-zero
inputs (binarised pixels, one-hot features, scipy.sparse X) runs the kernels'
sparse first-layer path, which skips the weights of zero inputs; scipy.sparse
X is never densified for it.

solver='lbfgs' is scikit-learn's: scipy's L-BFGS-B with its options, over the
parameters packed in its order; each loss-and-gradient evaluation is one call
of the kernels over the whole training set (blocks of rows through BLAS GEMMs,
GIL released).  Hyperparameters are checked by scikit-learn's own
``_parameter_constraints`` (errors are its ``InvalidParameterError``).

``sample_weight`` (``fit``, ``partial_fit``, ``score``) is scikit-learn
1.7+'s: each sample's loss and gradient are multiplied by its weight and a
batch's gradient, L2 term included, is divided by the batch's weight sum (the
kernels' ``weight_divisor='sum'`` rule); early stopping splits the weights with
the data and scores the validation set with its weights.  Unlike
scikit-learn, negative weights are rejected, and a batch whose weights are all
zero takes no step (scikit-learn divides by zero there).

Divergence follows scikit-learn: parameters that become NaN or infinite raise
``ValueError("Solver produced non-finite parameter weights...")`` and leave
the estimator as it was; with early stopping the diverged epoch is recorded
with a NaN validation score, training stops and the best weights are kept.
"""

import contextlib
import dataclasses
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils import shuffle as sk_shuffle
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import check_is_fitted, validate_data

from annfast import _engine, _params
from annfast._sparse import is_scipy_sparse
from annfast._validation import check_choice, check_dtype, check_layers, check_scalar, check_sparse
from annfast.activations import OUTPUT_LOSS, VOCABULARY

__all__ = ["MLPClassifier", "MLPRegressor"]

#: The hidden activations scikit-learn's estimators accept, by scikit-learn's name.
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
#: The stochastic solvers (the ones with partial_fit); 'lbfgs' is full-batch.
SOLVERS = ("adam", "sgd")
LEARNING_RATES = ("adaptive", "constant", "invscaling")

#: scikit-learn 1.9.1's constraints on the shared parameters (the same facts,
#: so errors are its InvalidParameterError with its wording), plus ``dtype``.
_PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
    "solver": [StrOptions({"lbfgs", *SOLVERS})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions(set(LEARNING_RATES))],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "dtype": [None, Options(type, {np.float32, np.float64}),
              Options(np.dtype, {np.dtype(np.float32), np.dtype(np.float64)}),
              StrOptions({"float32", "float64"})],
}

_CONVERGENCE_MESSAGE = (
    "Stochastic Optimizer: Maximum iterations ({}) reached and the optimization hasn't "
    "converged yet. Raise max_iter, scale the inputs, or loosen tol."
)
#: scikit-learn's own message for parameters that are not finite after a fit.
_NONFINITE_MESSAGE = ("Solver produced non-finite parameter weights. The input data may "
                      "contain large values and need to be preprocessed.")


def _checked_sample_weight(sample_weight, n_samples):
    """scikit-learn's sample_weight (None, a number for every sample, or one
    number per sample) as float64 values, checked: finite, >= 0, not all zero.
    The errors name sample_weight; None stays None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (Real, np.number)) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n_samples, float(sample_weight))
    if is_scipy_sparse(sample_weight) or isinstance(sample_weight, (str, bytes, dict)):
        raise TypeError(f"sample_weight must be a number or a 1-D array of numbers, got "
                        f"{type(sample_weight).__name__}")
    try:
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "biuf":
            raise TypeError
        w = np.array(w, dtype=np.float64)  # a copy: the caller's array may change later
    except (TypeError, ValueError):
        raise TypeError(f"sample_weight must hold numbers, got {sample_weight!r:.80}") from None
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight has shape {w.shape}, expected ({n_samples},): one "
                         "weight per sample of X")
    if not np.isfinite(w).all():
        raise ValueError("sample_weight must be finite, but it holds NaN or infinity")
    if (w < 0).any():
        raise ValueError(f"sample_weight must be >= 0, but its smallest value is "
                         f"{float(w.min())!r}")
    if n_samples and not w.any():
        raise ValueError("sample_weight is all zeros: Sample weights must contain at least "
                         "one non-zero number.")
    return w


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
    max_fun: int
    dtype: object  # None, np.float32 or np.float64


def _validated_settings(est):
    """A snapshot of the hyperparameters of ``est`` in the types fit uses.

    scikit-learn's ``_parameter_constraints`` have checked each one already
    (``_fit_context``); what remains are the checks it makes inside fit."""
    hidden = est.hidden_layer_sizes
    hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
    if np.any(np.array(hidden) <= 0):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
    hidden = tuple(check_scalar(n, f"hidden_layer_sizes[{i}]", low=1, integer=True)
                   for i, n in enumerate(hidden))
    batch_size = est.batch_size if est.batch_size == "auto" else int(est.batch_size)
    n_iter_no_change = est.n_iter_no_change
    if n_iter_no_change != np.inf:
        n_iter_no_change = int(n_iter_no_change)
    return _Settings(
        hidden=hidden, activation=est.activation, solver=est.solver, alpha=float(est.alpha),
        batch_size=batch_size, learning_rate=est.learning_rate,
        learning_rate_init=float(est.learning_rate_init), power_t=float(est.power_t),
        max_iter=int(est.max_iter), shuffle=bool(est.shuffle), tol=float(est.tol),
        verbose=int(est.verbose), warm_start=bool(est.warm_start),
        momentum=float(est.momentum), nesterovs_momentum=bool(est.nesterovs_momentum),
        early_stopping=bool(est.early_stopping),
        validation_fraction=float(est.validation_fraction), beta_1=float(est.beta_1),
        beta_2=float(est.beta_2), epsilon=float(est.epsilon),
        n_iter_no_change=n_iter_no_change, max_fun=int(est.max_fun),
        dtype=None if est.dtype is None else check_dtype(est.dtype),
    )


# -- the optimizers' running state, as scikit-learn keeps it in ``_optimizer`` --------------


@dataclasses.dataclass
class _SGDOptimizer:
    """scikit-learn's SGDOptimizer: the step size and its schedule, and the
    kernel's velocity (momentum, Nesterov)."""

    learning_rate_init: float
    lr_schedule: str
    power_t: float
    momentum: float
    nesterov: bool
    opt: _engine.OptimizerState
    learning_rate: float = None

    def __post_init__(self):
        if self.learning_rate is None:
            self.learning_rate = self.learning_rate_init

    @property
    def kind(self):
        if self.momentum == 0:
            return "sgd"
        return "nesterov" if self.nesterov else "momentum"

    def update(self, alpha, batch_size):
        return _engine.Update(lr=self.learning_rate, optimizer=self.kind, l2=alpha,
                              batch_size=batch_size, momentum=self.momentum)

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


@dataclasses.dataclass
class _AdamOptimizer:
    """scikit-learn's AdamOptimizer: constants, and the kernel's moments and step count."""

    learning_rate_init: float
    beta_1: float
    beta_2: float
    epsilon: float
    opt: _engine.OptimizerState

    kind = "adam"

    @property
    def learning_rate(self):
        return self.learning_rate_init

    def update(self, alpha, batch_size):
        return _engine.Update(lr=self.learning_rate_init, optimizer="adam", l2=alpha,
                              batch_size=batch_size, beta1=self.beta_1, beta2=self.beta_2,
                              epsilon=self.epsilon)

    def iteration_ends(self, time_step):
        pass

    def trigger_stopping(self, msg, verbose):
        if verbose:
            print(msg + " Stopping.")
        return True


def _new_optimizer(cfg, n_params, dtype):
    if cfg.solver == "adam":
        return _AdamOptimizer(cfg.learning_rate_init, cfg.beta_1, cfg.beta_2, cfg.epsilon,
                              _engine.OptimizerState.fresh("adam", n_params, dtype))
    optimizer = _SGDOptimizer(cfg.learning_rate_init, cfg.learning_rate, cfg.power_t,
                              cfg.momentum, cfg.nesterovs_momentum, None)
    optimizer.opt = _engine.OptimizerState.fresh(optimizer.kind, n_params, dtype)
    return optimizer


@dataclasses.dataclass
class _Record:
    """The running record of training that scikit-learn keeps on the estimator."""

    t_: int = 0
    loss_curve_: list = dataclasses.field(default_factory=list)
    _no_improvement_count: int = 0
    best_loss_: float = np.inf
    validation_scores_: list = None
    best_validation_score_: float = None
    n_iter_: int = 0

    @classmethod
    def carried_over(cls, est, keep, early_stopping):
        """A copy of the estimator's record (``keep``) or a fresh one."""
        record = cls()
        if keep:
            scores = getattr(est, "validation_scores_", None)
            record = cls(est.t_, list(est.loss_curve_), est._no_improvement_count,
                         getattr(est, "best_loss_", np.inf),
                         None if scores is None else list(scores),
                         getattr(est, "best_validation_score_", None))
        if early_stopping and record.validation_scores_ is None:
            record.validation_scores_, record.best_validation_score_ = [], -np.inf
            record.best_loss_ = None
        elif not early_stopping and record.best_loss_ is None:
            record.best_loss_ = np.inf
            record.validation_scores_ = record.best_validation_score_ = None
        return record

    def update_no_improvement_count(self, early_stopping, score, tol):
        """scikit-learn's rule; returns whether the weights are the best yet."""
        if early_stopping:
            self.validation_scores_.append(score)
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if score < self.best_validation_score_ + tol else 0)
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                return True
            return False
        loss = self.loss_curve_[-1]
        self._no_improvement_count = (self._no_improvement_count + 1
                                      if loss > self.best_loss_ - tol else 0)
        self.best_loss_ = min(self.best_loss_, loss)
        return False

    def publish(self, est):
        for field in dataclasses.fields(self):
            setattr(est, field.name, getattr(self, field.name))
        est.loss_ = self.loss_curve_[-1] if self.loss_curve_ else getattr(est, "loss_", np.nan)


@contextlib.contextmanager
def _unchanged_on_error(est):
    """Put every attribute of ``est`` back if the block raises: a failed fit
    leaves the estimator as it was (scikit-learn's validate_data sets
    n_features_in_ before training starts)."""
    before = dict(vars(est))
    try:
        yield
    except BaseException:
        vars(est).clear()
        vars(est).update(before)
        raise


class _BaseMLP(BaseEstimator):
    """Shared fit/predict machinery; use MLPRegressor or MLPClassifier."""

    _parameter_constraints: dict = dict(_PARAMETER_CONSTRAINTS)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None):
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
        self.max_fun = max_fun
        self.dtype = dtype

    # -- hooks the subclasses fill in ------------------------------------------------

    def _encode_targets(self, y, dtype, *, first_pass, incremental, classes):
        """Return (Y of shape (n, n_outputs) and dtype, out_activation, extra attrs)."""
        raise NotImplementedError

    def _score_predictions(self, Y_val, out, extra, sample_weight=None):
        """Validation score (R^2 or accuracy, weighted by ``sample_weight``) of the
        outputs ``out`` for targets Y_val."""
        raise NotImplementedError

    def _check_solver(self):
        """scikit-learn's rule: partial_fit exists for the stochastic solvers only."""
        if self.solver not in SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    # -- fitting ---------------------------------------------------------------------

    def _fit(self, X, y, *, incremental, classes=None, sample_weight=None):
        cfg = _validated_settings(self)
        if incremental and cfg.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True; use fit, "
                             "or set early_stopping=False")
        with _engine.training(self, f"this {type(self).__name__}"), _unchanged_on_error(self):
            return self._fit_checked(cfg, X, y, incremental, classes, sample_weight)

    def _fit_checked(self, cfg, X, y, incremental, classes, sample_weight=None):
        first_pass = not hasattr(self, "coefs_") or (not cfg.warm_start and not incremental)
        if is_scipy_sparse(X):
            X = check_sparse(X, "X")  # before scipy's own code trusts its index arrays
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=not self._is_classifier, dtype=(np.float64, np.float32),
                             reset=first_pass or not hasattr(self, "n_features_in_"))
        if first_pass:
            dtype = cfg.dtype or (np.float32 if X.dtype == np.float32 else np.float64)
        else:
            dtype = self.coefs_[0].dtype.type
        inputs = _engine.as_inputs(X, dtype, "X")  # scipy.sparse stays sparse
        sample_weight = _checked_sample_weight(sample_weight, inputs.shape[0])
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y, out_activation, extra = self._encode_targets(
            y, dtype, first_pass=first_pass, incremental=incremental, classes=classes)
        sizes = check_layers((inputs.shape[1], *cfg.hidden, Y.shape[1]),
                             "hidden_layer_sizes with the data's inputs and outputs")

        rng = check_random_state(self.random_state)
        if first_pass:
            params = self._initial_params(sizes, cfg.activation, rng, dtype)
        else:
            params = self._packed_params(sizes, dtype)
            out_activation = getattr(self, "out_activation_", out_activation)
        record = _Record.carried_over(self, not first_pass and hasattr(self, "loss_curve_"),
                                      cfg.early_stopping)
        optimizer = getattr(self, "_optimizer", None) if incremental else None
        fresh = _new_optimizer(cfg, params.size, dtype)
        if optimizer is None or optimizer.kind != fresh.kind or not optimizer.opt.fits(
                fresh.kind, params.size, dtype):
            optimizer = fresh
        else:
            optimizer = dataclasses.replace(optimizer, opt=optimizer.opt.copy())

        network = _network(sizes, cfg.activation, out_activation, dtype)
        if cfg.solver == "lbfgs":
            params, loss, n_iter = self._fit_lbfgs(cfg, network, params, inputs, Y,
                                                   sample_weight)
        else:
            params = self._fit_stochastic(cfg, network, params, optimizer, record, inputs, Y,
                                          rng, incremental, extra, sample_weight)

        # Publish: nothing above touched the estimator's fitted state.
        for name, value in extra.items():
            setattr(self, name, value)
        self.out_activation_ = out_activation
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(sizes)
        self._set_coefs(params, sizes)
        if cfg.solver == "lbfgs":
            # As scikit-learn: L-BFGS keeps no loss curve and no optimizer state;
            # the record of an earlier stochastic fit stays as it was.
            self.t_ = 0 if first_pass else getattr(self, "t_", 0)
            self.n_iter_, self.loss_ = n_iter, loss
            self._optimizer = None
        else:
            self._optimizer = optimizer
            record.publish(self)
        return self

    def _fit_lbfgs(self, cfg, network, params, inputs, Y, sample_weight=None):
        """scikit-learn's L-BFGS fit: scipy's L-BFGS-B over the packed parameters
        with scikit-learn's options; each evaluation is one kernel call over the
        whole training set.  Returns (params, loss, n_iter)."""
        objective = _FullBatchLoss(network, inputs, Y, cfg.alpha, sample_weight)
        iprint = 1 if cfg.verbose >= 1 else -1
        result = scipy.optimize.minimize(
            objective, params[objective.order], method="L-BFGS-B", jac=True,
            options={"maxfun": cfg.max_fun, "maxiter": cfg.max_iter, "gtol": cfg.tol,
                     **_get_additional_lbfgs_options_dict("iprint", iprint)})
        # scikit-learn's reading of the result, ConvergenceWarning included.
        n_iter = _check_optimize_result("lbfgs", result, cfg.max_iter)
        params = np.empty_like(params)
        params[objective.order] = result.x
        if not np.isfinite(params).all():
            raise ValueError(f"{_NONFINITE_MESSAGE} The estimator was left as it was before "
                             "this call.")
        return params, result.fun, n_iter

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight, activations, deltas,
                         coef_grads, intercept_grads):
        """scikit-learn's L-BFGS objective: (loss, gradient) at the packed parameters
        (coefs_ then intercepts_, each raveled), which become coefs_/intercepts_.

        ``sample_weight``: None or one weight per row (scikit-learn's weighted
        mean: the sums are divided by the weight sum).  ``activations``,
        ``deltas``, ``coef_grads`` and ``intercept_grads`` are scikit-learn's work
        buffers; the kernels keep their own, so they are unused."""
        check_is_fitted(self)
        sizes = self._sizes()
        dtype = np.asarray(self.coefs_[0]).dtype.type
        network = _network(sizes, self.activation, self.out_activation_, dtype)
        inputs = _engine.as_inputs(X, dtype, "X", n_features=sizes[0])
        Y = np.asarray(y, dtype=dtype).reshape(inputs.shape[0], -1)
        sample_weight = _checked_sample_weight(sample_weight, inputs.shape[0])
        objective = _FullBatchLoss(network, inputs, np.ascontiguousarray(Y), self.alpha,
                                   sample_weight)
        loss, grad = objective(packed_coef_inter)
        self._set_coefs(objective.params.copy(), sizes)
        return loss, grad

    def _fit_stochastic(self, cfg, network, params, optimizer, record, inputs, Y, rng,
                        incremental, extra, sample_weight=None):
        """Run the epochs from ``params``; update ``optimizer`` and ``record`` to the
        last completed epoch and return the parameters to publish."""
        X_val = Y_val = best = sw_val = None
        if cfg.early_stopping:
            # Stratify like scikit-learn: single-output classification only.
            # scikit-learn's y is boolean there, so a class is named 'True' in its errors.
            stratify = Y.astype(bool) if self._is_classifier and Y.shape[1] == 1 else None
            train_idx, val_idx = train_test_split(
                np.arange(len(Y)), random_state=rng, test_size=cfg.validation_fraction,
                stratify=stratify)
            if len(val_idx) < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            X_val, Y_val = inputs.take(val_idx), Y[val_idx]
            inputs, Y = inputs.take(train_idx), np.ascontiguousarray(Y[train_idx])
            if sample_weight is not None:
                # scikit-learn splits the weights with the data (the same indices).
                sample_weight, sw_val = sample_weight[train_idx], sample_weight[val_idx]
                if not sw_val.any():
                    raise ValueError("sample_weight is zero on every sample of the "
                                     "early-stopping validation set, so it has no score; "
                                     "change random_state or validation_fraction")
            best = params

        n_samples = len(Y)
        if cfg.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if cfg.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=5)
            batch_size = min(cfg.batch_size, n_samples)
        n_batches = -(-n_samples // batch_size)
        data_scale = _data_scale(network, Y)
        update = optimizer.update(cfg.alpha, batch_size)
        if sample_weight is not None:
            update = dataclasses.replace(update, sample_weight=sample_weight,
                                         weight_divisor="sum")
        data = _engine.prepare(network, inputs, update)
        sample_idx = np.arange(n_samples, dtype=np.int64)
        # scikit-learn adds 0.5 * alpha * ||W||^2 / (the batch's weight sum) to every
        # batch's loss and weights batches by length / n_samples: this is the sum
        # of length / weight sum over the epoch's batches (n_batches unweighted).
        penalty_batches = n_batches

        def order(epoch):
            nonlocal sample_idx, penalty_batches
            if cfg.shuffle:
                # Same draw as scikit-learn's, so equal seeds give equal orders.
                sample_idx = np.ascontiguousarray(sk_shuffle(sample_idx, random_state=rng),
                                                  dtype=np.int64)
            if sample_weight is not None:
                penalty_batches = _penalty_batches(sample_weight[sample_idx], batch_size)
            return sample_idx

        def on_epoch(epoch, result, work, opt):
            nonlocal best
            optimizer.opt = opt
            # scikit-learn adds 0.5 * alpha * ||W||^2 / batch_len to every batch's
            # mean loss and weights batches by length: n_batches penalties per
            # epoch (evaluated here at the end-of-epoch weights).
            weights, _ = network.views(work)
            sq = sum(float(np.dot(w.ravel().astype(np.float64), w.ravel())) for w in weights)
            loss = (result.loss_sum * data_scale
                    + penalty_batches * 0.5 * cfg.alpha * sq / n_samples)
            self._end_epoch(cfg, record, n_samples, loss)
            score = None
            if cfg.early_stopping:
                out = _engine.predict(network, work, X_val)
                score = (self._score_predictions(Y_val, out, extra, sw_val)
                         if np.isfinite(out).all() else np.nan)
            if record.update_no_improvement_count(cfg.early_stopping, score, cfg.tol):
                best = work
            if cfg.early_stopping and cfg.verbose:
                print(f"Validation score: {score:f}")
            return self._stop_after_epoch(cfg, optimizer, record, update, incremental)

        result = _engine.fit(network, params, data, Y, epochs=1 if incremental else cfg.max_iter,
                             update=update, opt=optimizer.opt, order=order, on_epoch=on_epoch)
        optimizer.opt = result.opt
        if result.status is _engine.Status.INTERRUPTED:
            # As scikit-learn: keep what was learnt, here up to the last whole epoch.
            warnings.warn("Training interrupted by user.", stacklevel=5)
        elif result.status is _engine.Status.DIVERGED:
            if not cfg.early_stopping:
                raise ValueError(
                    f"{_NONFINITE_MESSAGE} Training diverged: {result.describe()}. Lower "
                    "learning_rate_init, scale X (and y), or raise alpha. The estimator was "
                    "left as it was before this call.")
            # scikit-learn records a NaN score and runs on; with non-finite weights
            # nothing more can be learnt, so stop here and keep the best weights.
            self._end_epoch(cfg, record, n_samples, np.nan)
            record.update_no_improvement_count(True, np.nan, cfg.tol)
            warnings.warn(f"Training diverged: {result.describe()}; stopped and restored the "
                          "weights with the best validation score.", ConvergenceWarning,
                          stacklevel=5)
        return best if cfg.early_stopping else result.params

    @staticmethod
    def _end_epoch(cfg, record, n_samples, loss):
        record.n_iter_ += 1
        record.t_ += n_samples
        record.loss_curve_.append(loss)
        if cfg.verbose:
            print(f"Iteration {record.n_iter_}, loss = {loss:.8f}")

    @staticmethod
    def _stop_after_epoch(cfg, optimizer, record, update, incremental):
        """scikit-learn's end of an epoch: schedule, stopping rule, warning."""
        optimizer.iteration_ends(record.t_)
        if record._no_improvement_count > cfg.n_iter_no_change:
            what = ("Validation score" if cfg.early_stopping else "Training loss")
            msg = (f"{what} did not improve more than tol={cfg.tol:f} for "
                   f"{cfg.n_iter_no_change} consecutive epochs.")
            if optimizer.trigger_stopping(msg, cfg.verbose):
                return True
            record._no_improvement_count = 0
        update.lr = optimizer.learning_rate
        if incremental:
            return True
        if record.n_iter_ == cfg.max_iter:
            warnings.warn(_CONVERGENCE_MESSAGE.format(cfg.max_iter), ConvergenceWarning,
                          stacklevel=7)
        return False

    # -- parameters ------------------------------------------------------------------

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
        coefs, intercepts = self.coefs_, self.intercepts_
        if not isinstance(coefs, (list, tuple)) or not isinstance(intercepts, (list, tuple)):
            raise TypeError(f"coefs_ and intercepts_ must be lists of arrays, got "
                            f"{type(coefs).__name__} and {type(intercepts).__name__}")
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
        coefs = self.coefs_
        if not isinstance(coefs, (list, tuple)) or not coefs or np.ndim(coefs[0]) != 2:
            raise TypeError(f"coefs_ must be a list of 2-D arrays, got {type(coefs).__name__}")
        return tuple([np.shape(coefs[0])[0]] + [np.shape(c)[-1] for c in coefs])

    # -- prediction ------------------------------------------------------------------

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coefs_")

    def _forward(self, X):
        """Network outputs for X, shape (n_samples, n_outputs_), in the model's dtype."""
        check_is_fitted(self)
        if is_scipy_sparse(X):
            X = check_sparse(X, "X")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        sizes = self._sizes()
        dtype = np.asarray(self.coefs_[0]).dtype.type
        params = self._packed_params(sizes, dtype)
        network = _network(sizes, self.activation, self.out_activation_, dtype)
        return _engine.predict(network, params, _engine.as_inputs(X, dtype, "X"))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _sklearn_order(sizes):
    """The flat-buffer index of each entry of scikit-learn's packed parameter
    vector: every coefs_[l] (n_in, n_out) raveled, then every intercepts_[l]."""
    coefs, intercepts = [], []
    for w0, b0, b1, n_out, n_in in _params.layer_offsets(sizes):
        # coefs_[l][i, j] is W[j, i], at w0 + j * n_in + i in the buffer.
        coefs.append((w0 + np.arange(n_in)[:, None] + np.arange(n_out)[None, :] * n_in).ravel())
        intercepts.append(np.arange(b0, b1))
    return np.concatenate(coefs + intercepts)


class _FullBatchLoss:
    """scikit-learn's full-batch loss and gradient, in its packed order.

    The kernel gives the summed loss and gradient; scikit-learn's loss is the
    data loss as ``_data_scale`` scales it, plus ``alpha / (2 n) * sum W^2``; its
    gradient is ``(sum of per-sample gradients + alpha * W) / n`` (biases
    without alpha).  With ``sample_weight`` each per-sample term is weighted and
    n is the weights' sum (scikit-learn's ``sw_sum``)."""

    def __init__(self, network, inputs, Y, alpha, sample_weight=None):
        self.network, self.inputs, self.Y, self.alpha = network, inputs, Y, alpha
        self.sample_weight = sample_weight
        self.n = len(Y) if sample_weight is None else float(np.sum(sample_weight))
        self.data_scale = _data_scale(network, Y, self.n)
        self.order = _sklearn_order(network.sizes)
        self.weights = np.concatenate([np.arange(w0, b0) for w0, b0, *_ in
                                       _params.layer_offsets(network.sizes)])
        self.params = np.empty(network.n_params, dtype=network.dtype)

    def __call__(self, packed):
        params = self.params
        params[self.order] = packed
        loss_sum, grad = _engine.loss_and_gradient_blas(self.network, params, self.inputs,
                                                         self.Y, self.sample_weight)
        W = params[self.weights].astype(np.float64)
        grad = grad.astype(np.float64)
        grad[self.weights] += self.alpha * W
        grad /= self.n
        loss = loss_sum * self.data_scale + 0.5 * self.alpha * float(np.dot(W, W)) / self.n
        return loss, grad[self.order]


def _data_scale(network, Y, n=None):
    """The factor from the kernels' summed loss to scikit-learn's loss_: it halves
    the squared error and averages it over samples and outputs; the log-losses
    and the half Poisson deviance (constant terms included) are summed over the
    outputs and averaged over the samples."""
    n = len(Y) if n is None else n  # the weight sum, with sample weights
    return 1.0 / (n * (Y.shape[1] if network.loss == "mse" else 1))


def _penalty_batches(weights, batch_size):
    """Sum over the batches of ``weights`` (in training order) of length / weight
    sum: how many times scikit-learn's alpha term enters an epoch's loss_ (times
    1 / n_samples).  A batch of zero weights takes no step and adds nothing."""
    starts = np.arange(0, len(weights), batch_size)
    sums = np.add.reduceat(weights, starts) if len(weights) else np.zeros(0)
    lengths = np.diff(np.append(starts, len(weights)))
    positive = sums > 0
    return float(np.sum(lengths[positive] / sums[positive]))


def _network(sizes, activation, out_activation, dtype):
    """The engine's Network for scikit-learn's activation names (hidden, output)."""
    names = VOCABULARY["sklearn"]
    hidden = names[check_choice(activation, "activation", HIDDEN_ACTIVATIONS)]
    output = names[out_activation]
    return _engine.Network(sizes, [hidden] * (len(sizes) - 2) + [output], OUTPUT_LOSS[output],
                           dtype)


_PARAMS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Units of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Hidden-layer activation.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'sgd' with ``momentum`` (Nesterov's if ``nesterovs_momentum``), 'adam', or
        full-batch 'lbfgs' (scipy's L-BFGS-B; no ``partial_fit``).
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
        Epochs (L-BFGS: iterations); a ConvergenceWarning is issued when they run out.
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
    max_fun : int, default=15000
        L-BFGS only: the most loss evaluations.
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
    Differences from scikit-learn: negative ``sample_weight`` values are
    rejected, and a batch whose weights are all zero takes no step (scikit-learn
    divides by zero there); sparse X is accepted (densified for the batch
    solvers).  ``loss_``
    adds the L2 term once per batch, as scikit-learn does, but evaluates it at
    the end-of-epoch weights (scikit-learn uses each batch's weights), so with
    ``alpha > 0`` the reported losses differ slightly while the weights agree.
"""


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = ("""Multi-layer perceptron regressor (squared error), trained by annfast's kernels.

    Drop-in for ``sklearn.neural_network.MLPRegressor`` (solvers 'sgd', 'adam',
    'lbfgs').  Outputs are linear (identity) with half the squared error, or
    exponential with half the Poisson deviance (``loss='poisson'``).
    """ + _PARAMS_DOC.replace("    Parameters\n    ----------\n", """    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        Half the squared error with linear outputs, or half the Poisson
        deviance with exponential outputs (``out_activation_ = 'exp'``,
        predictions ``exp(z)``; y must be non-negative counts or rates).
""", 1))

    _is_classifier = False

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None):
        # The regressor's one extra parameter; the rest is _BaseMLP's.
        self.loss = loss
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, dtype=dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Weight of each sample (scikit-learn 1.7+'s rule: a batch's gradient
            is divided by its weight sum).  Finite, >= 0, not all zero.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X and y, continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Weight of each sample (scikit-learn 1.7+'s rule: a batch's gradient
            is divided by its weight sum).  Finite, >= 0, not all zero.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

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

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def _encode_targets(self, y, dtype, *, first_pass, incremental, classes):
        Y = np.ascontiguousarray(y.reshape(len(y), -1), dtype=dtype)
        if not first_pass and Y.shape[1] != getattr(self, "n_outputs_", Y.shape[1]):
            raise ValueError(f"y has {Y.shape[1]} outputs, but the fitted network has "
                             f"{self.n_outputs_}")
        # As scikit-learn, a warm start keeps the output of the first fit.
        out_activation = "exp" if self.loss == "poisson" else "identity"
        if not first_pass:
            out_activation = getattr(self, "out_activation_", out_activation)
        if out_activation == "exp" and Y.size and Y.min() < 0:
            # scikit-learn 1.9.1 trains on to a NaN loss here; the deviance needs y >= 0.
            raise ValueError(f"y must be non-negative for loss='poisson' (counts or rates), "
                             f"but its smallest value is {float(Y.min())!r}")
        return Y, out_activation, {}

    def _score_predictions(self, Y_val, out, extra, sample_weight=None):
        return r2_score(Y_val, out, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = ("""Multi-layer perceptron classifier (log-loss), trained by annfast's kernels.

    Drop-in for ``sklearn.neural_network.MLPClassifier`` (solvers 'sgd', 'adam',
    'lbfgs').  Binary targets get one logistic output, multiclass a softmax,
    multilabel indicator targets (e.g. one-hot tuples ``(1, 0)``/``(0, 1)``)
    one logistic output per label.  Labels may be any hashable values.
    """ + _PARAMS_DOC.replace("    out_activation_ : str\n", """    out_activation_ : str
    classes_ : ndarray of shape (n_classes,)
""", 1))

    _is_classifier = True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to X and the labels y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Weight of each sample (scikit-learn 1.7+'s rule: a batch's gradient
            is divided by its weight sum).  Finite, >= 0, not all zero.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over X and y, continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Weight of each sample (scikit-learn 1.7+'s rule: a batch's gradient
            is divided by its weight sum).  Finite, >= 0, not all zero.
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
        return self._fit(X, y, incremental=True, classes=classes,
                         sample_weight=sample_weight)

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

    def _score_predictions(self, Y_val, out, extra, sample_weight=None):
        # The binarizer of this fit (``extra``): it is published only at the end.
        binarizer = extra["_label_binarizer"]
        labels = binarizer.inverse_transform(Y_val)
        predicted = binarizer.inverse_transform(out.ravel() if out.shape[1] == 1 else out)
        return accuracy_score(labels, predicted, sample_weight=sample_weight)

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
