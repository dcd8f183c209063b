"""The training engine: the one place that drives the compiled kernels.

Every front end (NeuralNet, Neuron, the scikit-learn estimators, the Keras
models, the playground) translates its API into these terms and nothing else:

* ``Network``: the architecture, from canonical names (``annfast.activations``);
* ``Inputs``: the rows to train on or predict, dense or CSR, whose finiteness
  is settled here (a front end never carries a "checked yet?" flag around);
* ``Update``: how each step changes the parameters (optimizer, rate, L2,
  batch size) and ``OptimizerState``: its memory between calls;
* ``train_epoch`` / ``fit``: the epoch runner.  It trains copies, picks the
  per-sample, sparse or minibatch kernel, cuts an epoch into kernel calls of a
  few milliseconds (Ctrl-C and the progress hook are served between them),
  checks the parameters at the end, and returns a result the front end
  publishes or rolls back from;
* ``predict``: the one prediction path (BLAS or the compiled forward pass);
* ``loss_and_gradient`` (per sample) / ``loss_and_gradient_blas`` (GEMMs):
  the full-batch loss and gradient;
* ``training``: the guard that lets one model train in one thread at a time.
"""

import contextlib
import dataclasses
import enum
import threading

import numpy as np

from annfast import _kernels, _params, _sparse
from annfast._validation import (as_float_array, check_choice, check_finite, check_n_features,
                                 is_sparse)
from annfast.activations import REGISTRY, activate_inplace

#: Weight visits per kernel call (about 5 to 20 ms of work): the latency of
#: Ctrl-C and of the progress hook, and the granularity of prediction blocks.
WORK_PER_CALL = 50_000_000

#: Batches at least this large go through BLAS for prediction (below AVX2, or
#: with layers wider than LANE_MAX_WIDTH).
BLAS_MIN_BATCH = 32
#: The widest layer the compiled batch forward pass takes from BLAS: past it,
#: OpenBLAS's blocked GEMM wins (see use_blas).
LANE_MAX_WIDTH = 256


# -- the architecture --------------------------------------------------------------------


class Network:
    """An architecture: unit counts, one activation per layer, the loss, constants.

    sizes : unit counts, input first; activations : canonical names, one per
    weight layer; loss : canonical loss name; param : the leaky-relu slope, or
    one activation parameter per layer (leaky slope, elu alpha); loss_scale :
    factor on the loss and output delta; ``arch_options`` go to
    ``_kernels.Arch`` (huber_delta, label_smoothing, prob_eps).
    """

    __slots__ = ("sizes", "activations", "loss", "param", "loss_scale", "dtype", "arch",
                 "act_params")

    def __init__(self, sizes, activations, loss, dtype, param=0.1, loss_scale=1.0,
                 **arch_options):
        self.sizes = tuple(int(n) for n in sizes)
        self.activations = tuple(activations)
        self.loss = loss
        self.param = param
        self.loss_scale = float(loss_scale)
        self.dtype = np.dtype(dtype).type
        self.arch = _kernels.Arch(self.sizes, [REGISTRY[a].code for a in self.activations],
                                  _kernels.LOSS_CODES[loss], param, self.loss_scale,
                                  **arch_options)
        self.act_params = tuple(float(p) for p in self.arch.act_params)

    @property
    def n_params(self):
        return self.arch.n_params

    def views(self, params, bias_shape="flat"):
        return _params.views(params, self.sizes, bias_shape)


# -- inputs ------------------------------------------------------------------------------


class Inputs:
    """Rows of X for one call, converted once.

    ``dense`` is a C-contiguous (n, d) array of the model's dtype, or None when
    X came as scipy.sparse; ``csr`` the (data, indices, indptr) arrays when
    known.  ``finite`` is True once every value is proven finite; training
    proves it before the first epoch, prediction through the forward pass.
    """

    __slots__ = ("dense", "csr", "shape", "argument", "finite", "dtype")

    def __init__(self, dense, csr, shape, argument, finite, dtype):
        self.dense, self.csr, self.shape = dense, csr, shape
        self.argument, self.finite, self.dtype = argument, finite, dtype

    def __len__(self):
        return self.shape[0]

    def rows_dense(self):
        """The rows as a dense array (scipy.sparse input is densified only here)."""
        if self.dense is None:
            data, indices, indptr = self.csr
            dense = np.zeros(self.shape, dtype=self.dtype)
            rows = np.repeat(np.arange(self.shape[0]), np.diff(indptr))
            dense[rows, indices] = data
            self.dense = dense
        return self.dense

    def sparse_rows(self):
        """CSR arrays when X is scipy.sparse or mostly zeros, else None (one
        pass that stops early on dense data, and proves X finite otherwise)."""
        if self.csr is None and self.dense is not None:
            self.csr = _sparse.sparse_rows(self.dense, self.dtype, self.argument)
            if self.csr is not None:
                self.finite = True
        return self.csr

    def prove_finite(self):
        if not self.finite:
            check_finite(self.rows_dense(), self.argument)
            self.finite = True

    def take(self, index):
        """The rows at ``index`` (an integer array or a slice), as new Inputs."""
        dense = self.rows_dense()[index]
        return Inputs(np.ascontiguousarray(dense), None, dense.shape, self.argument,
                      self.finite, self.dtype)


def as_inputs(X, dtype, argument="X", n_features=None):
    """Inputs from a 2-D array-like or a scipy.sparse matrix, validated (type,
    shape, number of features); scipy.sparse stays sparse.  Finiteness is
    settled later, by the path that reads the values (see ``Inputs``)."""
    if is_sparse(X):
        # Every format's index structures are checked before anything trusts them;
        # the canonical CSR arrays hold finite values only.
        csr = _sparse.as_csr(X, dtype, argument)
        shape = (len(csr[2]) - 1, int(X.shape[1]))
        if n_features is not None:
            check_n_features(np.empty((0, shape[1])), n_features, argument)
        return Inputs(None, csr, shape, argument, True, dtype)
    arr = as_float_array(X, argument, dtype, finite=False)
    if n_features is not None:
        check_n_features(arr, n_features, argument)
    return Inputs(arr, None, arr.shape, argument, False, dtype)


def inputs_from_vectors(xs, dtype, n_features, argument):
    """Inputs from the tutorial's rows (a tuple of arrays of ``n_features``
    values each), read straight into CSR arrays in one compiled pass when
    they are mostly zeros; None when that pass does not apply (a dense,
    ragged, mixed, non-finite or non-array row): the caller then stacks them."""
    csr = _kernels.csr_from_vectors(xs, n_features, _sparse.SPARSE_DENSITY, dtype)
    if csr is None:
        return None
    return Inputs(None, csr, (len(xs), n_features), argument, True, dtype)


# -- updates -----------------------------------------------------------------------------


@dataclasses.dataclass
class Update:
    """How each step changes the parameters.

    optimizer : kernel optimizer name (``_kernels.OPTIMIZER_CODES``); lr : step
    size (may change between calls: schedules run from the front end); l2 :
    scikit-learn's decay, g_W += l2 * W / batch_len; batch_size : samples per
    step; penalties : per-layer (kernel_l1, kernel_l2, bias_l1, bias_l2) terms
    of the loss, Keras' regularizers (None: none); the rest are the
    optimizers' constants and Keras' clipping and decoupled weight decay (see
    ``_kernels.train``).  ``zero_biases`` holds indices of parameters kept at
    exactly zero (biases of layers without one): they force one step per call.
    ``sample_weight``: None or one weight per row of the training data (a
    weight multiplies its sample's loss and delta); ``weight_divisor``: what a
    batch's summed gradient is divided by, ``'count'`` its length (Keras'
    rule) or ``'sum'`` its weight sum (scikit-learn's; the epoch's loss sum is
    then scikit-learn's, see ``_kernels.train``, and a batch of zero weights
    takes no step).  Without weights the two are the same.
    ``dropout``: None or one rate in [0, 1) per hidden layer (inverted dropout
    on its outputs, in training only); ``dropout_seed`` keys the masks together
    with ``OptimizerState.dropout_counter``, which each epoch advances: the same
    seed and state draw the same masks on every path.
    """

    lr: float
    optimizer: str = "sgd"
    l2: float = 0.0
    batch_size: int = 1
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.9
    epsilon: float = 1e-8
    amsgrad: bool = False
    centered: bool = False
    initial_accumulator_value: float = 0.1
    weight_decay: float = 0.0
    clipvalue: float = 0.0
    clipnorm: float = 0.0
    global_clipnorm: float = 0.0
    penalties: object = None
    zero_biases: object = None
    sample_weight: object = None
    weight_divisor: str = "count"

    def __post_init__(self):
        check_choice(self.weight_divisor, "weight_divisor", _kernels.WEIGHT_DIVISORS)

    @property
    def divides_by_weight_sum(self):
        return self.weight_divisor == "sum" and self.sample_weight is not None
    dropout: object = None
    dropout_seed: int = 0

    @property
    def per_sample_sgd(self):
        """Whether the lazy-decay per-sample kernel (and its sparse variant) applies."""
        return (self.batch_size == 1 and self.optimizer == "sgd" and self.zero_biases is None
                and self.penalties is None and not self.weight_decay
                and _kernels.lazy_decay_applies(self.lr, self.l2, self.sample_weight,
                                                self.weight_divisor)
                and not (self.clipvalue or self.clipnorm or self.global_clipnorm))

    def kernel_args(self):
        args = dict(batch_size=self.batch_size, optimizer=self.optimizer, lr=self.lr,
                    l2=self.l2, momentum=self.momentum, beta1=self.beta1, beta2=self.beta2,
                    rho=self.rho, epsilon=self.epsilon, amsgrad=self.amsgrad,
                    centered=self.centered,
                    initial_accumulator_value=self.initial_accumulator_value,
                    weight_decay=self.weight_decay, clipvalue=self.clipvalue,
                    clipnorm=self.clipnorm, global_clipnorm=self.global_clipnorm)
        if self.penalties is not None:
            args["penalties"] = self.penalties
        if self.sample_weight is not None:
            args["sample_weight"] = self.sample_weight
            args["weight_divisor"] = self.weight_divisor
        return args

    def check_dropout(self, network):
        """ValueError naming ``dropout`` (or ``dropout_seed``) unless it fits
        ``network``: one rate in [0, 1) per hidden layer."""
        _kernels._dropout_args(network.arch, self.dropout, self.dropout_seed, 0)

    def dropout_args(self, counter):
        """The kernels' dropout arguments for a call at mask counter ``counter``."""
        if self.dropout is None:
            return {}
        return {"dropout": self.dropout, "dropout_seed": self.dropout_seed,
                "dropout_counter": counter % 2**64}

    def state_size(self, n_params):
        return _kernels.opt_state_size(self.optimizer, n_params, amsgrad=self.amsgrad,
                                       momentum=self.momentum, centered=self.centered)

    @property
    def counts_steps(self):
        """Whether the optimizer's bias corrections use the step count ``t``."""
        return self.optimizer in _kernels.STEP_COUNTING


@dataclasses.dataclass
class OptimizerState:
    """The optimizer's memory (velocity, moments, accumulators), its step count,
    and the epochs trained so far with it (the dropout masks' counter)."""

    state: np.ndarray
    t: int = 0
    dropout_counter: int = 0

    @classmethod
    def fresh(cls, update, n_params, dtype):
        """Zeros for ``update`` (an Update, or an optimizer name with default flags)."""
        return cls(np.zeros(_as_update(update).state_size(n_params), dtype=dtype), 0)

    def copy(self):
        return OptimizerState(self.state.copy(), self.t, self.dropout_counter)

    def fits(self, update, n_params, dtype):
        size = _as_update(update).state_size(n_params)
        return self.state.size == size and self.state.dtype == dtype


def _as_update(update):
    return Update(lr=0.0, optimizer=update) if isinstance(update, str) else update


# -- the epoch runner --------------------------------------------------------------------


class Status(enum.Enum):
    DONE = "done"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"


@dataclasses.dataclass
class EpochResult:
    """What one epoch did.  ``params``/``opt`` are the trained copies (for DONE).

    For DIVERGED: ``position`` in the epoch's order and ``sample`` (its index
    in X) of the sample whose loss was not finite, or of the last sample when
    only the parameters at the end were not finite (``cause='parameters'``).
    """

    status: Status
    loss_sum: float
    n_samples: int
    params: np.ndarray = None
    opt: OptimizerState = None
    position: int = None
    sample: int = None
    cause: str = None

    @property
    def mean_loss(self):
        return self.loss_sum / self.n_samples if self.n_samples else 0.0

    def describe(self, epoch):
        """The divergence in words, e.g. 'the loss became NaN or infinite at epoch
        3, sample 17 of 100 (index 42)'; ``epoch`` counts from 1."""
        if self.cause == "loss":
            return (f"the loss became NaN or infinite at epoch {epoch}, sample "
                    f"{self.position + 1} of {self.n_samples} (index {self.sample})")
        return (f"the parameters became NaN or infinite at epoch {epoch}, by sample "
                f"{self.n_samples} of {self.n_samples} (index {self.sample})")


class Prepared:
    """Training inputs bound to the kernel path an ``Update`` takes: per-sample
    SGD takes the sparse first-layer kernel when X is mostly zeros.  Preparing
    proves X finite, so a bad X fails before any epoch."""

    __slots__ = ("inputs", "csr", "dense", "work_per_sample")

    def __init__(self, network, inputs, update):
        self.inputs = inputs
        self.csr = inputs.sparse_rows() if update.per_sample_sgd else None
        self.dense = None
        if self.csr is None:
            inputs.prove_finite()
            self.dense = inputs.rows_dense()
        n_params = network.n_params
        if self.csr is not None and len(network.sizes) > 1:
            # The sparse path visits the first-layer weights of non-zero inputs only.
            nnz = len(self.csr[0]) / max(len(inputs), 1)
            first = network.sizes[0] * network.sizes[1]
            n_params = n_params - first + nnz * network.sizes[1]
        self.work_per_sample = max(n_params, 1)


def prepare(network, inputs, update):
    return Prepared(network, inputs, update)


def train_epoch(network, params, data, Y, order, update, opt=None, on_chunk=None,
                per_call=None):
    """Train copies of ``params`` and ``opt`` over ``data`` (``Prepared``) in the
    given order; return an EpochResult.  ``params``/``opt`` are never written.

    ``on_chunk(n_done, loss_sum)`` runs between kernel calls (it may change
    ``update.lr``: the next call uses it); if it returns True the epoch ends
    there (DONE, over the samples seen).  ``per_call``
    fixes the samples per kernel call (a multiple of the batch size: one batch
    per call lets a front end run per-batch hooks).  Ctrl-C
    (KeyboardInterrupt) there or in a kernel call ends the epoch as INTERRUPTED.
    """
    arch = network.arch
    update.check_dropout(network)
    n = len(order)
    work = params.copy()
    work_opt = opt.copy() if opt is not None else OptimizerState(np.empty(0, params.dtype))
    # One draw of masks per epoch: every call of it uses the same counter
    # (rows tell the samples apart), and the next epoch the next one.
    drop = update.dropout_args(work_opt.dropout_counter)
    step = update.batch_size
    # A batch with more work than one call is summed over several calls, so
    # that Ctrl-C (and the hook) wait for no more than about one call's work.
    split_rows = None
    if data.csr is None and step > 1 and data.work_per_sample * step > WORK_PER_CALL:
        split_rows = max(1, WORK_PER_CALL // data.work_per_sample)
    if update.zero_biases is not None or split_rows is not None:
        per_call = step  # one batch per call (the held biases go back to zero after each)
    elif per_call is not None:
        per_call = max(1, per_call // step) * step
    else:
        per_call = max(1, WORK_PER_CALL // (data.work_per_sample * step)) * step
    args = update.kernel_args()
    total, pos = 0.0, 0
    try:
        while pos < n:
            stop = min(pos + per_call, n)
            chunk = order[pos:stop]
            args["lr"] = update.lr  # on_chunk may have set it (a schedule's next step)
            if data.csr is not None:
                status, part, done = _kernels.train_sparse(arch, work, *data.csr, Y, chunk,
                                                            lr=update.lr, l2=update.l2,
                                                            sample_weight=update.sample_weight,
                                                            weight_divisor=update.weight_divisor,
                                                            **drop)
            elif split_rows is not None:
                status, part, done = _split_batch(arch, work, work_opt, data.dense, Y, chunk,
                                                  split_rows, args, update.sample_weight,
                                                  update.divides_by_weight_sum, drop)
            else:
                status, part, done, work_opt.t = _kernels.train(
                    arch, work, work_opt.state, data.dense, Y, chunk, t=work_opt.t, **args,
                    **drop)
            total += part
            if status != _kernels.OK:
                return EpochResult(Status.DIVERGED, total, n, position=pos + done,
                                   sample=int(order[pos + done]), cause="loss")
            if update.zero_biases is not None:
                _hold_at_zero(work, work_opt.state, update.zero_biases)
            pos = stop
            if on_chunk is not None and on_chunk(pos, total):
                n = pos  # the front end asked to end the epoch here
                break
    except KeyboardInterrupt:
        return EpochResult(Status.INTERRUPTED, total, n, position=pos)
    # The last updates can overflow the parameters after every loss was finite.
    if n and not np.isfinite(work).all():
        return EpochResult(Status.DIVERGED, total, n, position=n - 1,
                           sample=int(order[n - 1]), cause="parameters")
    if drop:
        work_opt.dropout_counter += 1
    return EpochResult(Status.DONE, total, n, params=work, opt=work_opt)


def _split_batch(arch, params, opt, X, Y, batch, rows, args, sample_weight=None,
                 by_weight_sum=False, drop=None):
    """One step on ``batch``, its gradient summed over calls of ``rows`` samples
    (Ctrl-C is served between them); returns ``(status, loss_sum, n_done)``
    as ``_kernels.train``.  The same step as one call, up to summation order;
    ``by_weight_sum``: scikit-learn's rule (``Update.weight_divisor``);
    ``drop``: the dropout arguments (rows key the masks, so the same ones)."""
    divisor, factor = None, 1.0
    if by_weight_sum:
        divisor = float(np.sum(np.asarray(sample_weight, dtype=np.float64)[batch]))
        factor = len(batch) / divisor if divisor > 0 else 0.0
    grad, total = None, 0.0
    for start in range(0, len(batch), rows):
        part_grad, part, status, done = _kernels.batch_gradient(
            arch, params, X, Y, batch[start:start + rows], sample_weight=sample_weight,
            **(drop or {}))
        total += part * factor
        if status != _kernels.OK:
            return status, total, start + done
        if grad is None:
            grad = part_grad
        else:
            grad += part_grad
    if divisor == 0:
        return _kernels.OK, total, len(batch)  # weights all zero: no step (as the kernels)
    step_args = {k: v for k, v in args.items()
                 if k not in ("batch_size", "sample_weight", "weight_divisor")}
    opt.t, penalty = _kernels.apply_gradient(arch, params, opt.state, grad, len(batch),
                                             t=opt.t, divisor=divisor, **step_args)
    return _kernels.OK, total + penalty, len(batch)


def _hold_at_zero(params, state, index):
    """Put the held biases, and their optimizer memory (every slot of it), back
    to exactly zero.  A bias and its memory only feed back into themselves, so
    this is exactly training a layer without them."""
    params[index] = 0
    n_params = params.size
    for slot in range(state.size // n_params):
        state[slot * n_params + index] = 0


@dataclasses.dataclass
class FitResult:
    """The outcome of ``fit``: the parameters and optimizer state of the last
    completed epoch, how many epochs completed, and the epoch that ended it."""

    status: Status
    params: np.ndarray
    opt: OptimizerState
    epochs: int
    last: EpochResult = None
    epoch: int = None  # the index of the epoch that ended the run

    def describe(self):
        return self.last.describe(self.epoch + 1)


def fit(network, params, data, Y, *, epochs, update, opt=None, order=None, on_epoch=None,
        on_chunk=None, first_epoch=0, per_call=None):
    """Run up to ``epochs`` epochs; return a FitResult.  Nothing is published:
    the caller's ``params``/``opt`` are never written.

    order(epoch) -> the epoch's sample order (the front end's shuffle);
    on_epoch(epoch, result, params, opt) runs after each completed epoch with
    the new parameters and returns True to stop (it may change ``update.lr``);
    on_chunk(epoch, n_done, loss_sum) runs between kernel calls (True ends the
    epoch early; ``per_call`` as in ``train_epoch``).
    An epoch that diverges or is interrupted ends the run; its result is kept
    in ``last`` and the parameters are those of the epoch before.
    """
    n = len(Y)
    done, epoch, result = 0, first_epoch, None
    try:
        # Ctrl-C anywhere in here (a kernel call, a hook, the shuffle) ends the
        # run with the last completed epoch, never half of one.
        for epoch in range(first_epoch, first_epoch + epochs):
            epoch_order = order(epoch) if order is not None else np.arange(n, dtype=np.int64)
            hook = None if on_chunk is None else (lambda k, s, e=epoch: on_chunk(e, k, s))
            result = train_epoch(network, params, data, Y, epoch_order, update, opt, hook,
                                 per_call)
            if result.status is not Status.DONE:
                return FitResult(result.status, params, opt, done, result, epoch)
            params, opt = result.params, result.opt
            done += 1
            if on_epoch is not None and on_epoch(epoch, result, params, opt):
                break
    except KeyboardInterrupt:
        interrupted = EpochResult(Status.INTERRUPTED, 0.0, n)
        return FitResult(Status.INTERRUPTED, params, opt, done, interrupted, epoch)
    return FitResult(Status.DONE, params, opt, done)


# -- prediction --------------------------------------------------------------------------


def use_blas(n_samples, isa, widest=0):
    """Whether a batch of n_samples rows should go through BLAS rather than the
    compiled forward pass running at instruction-set level ``isa``, for a
    network whose widest layer (outputs) has ``widest`` units.

    Measured on [784, h, 10] over the rows of one prediction block, one thread,
    best of 15 interleaved calls on a shared AVX-512 Zen 4 core: the compiled
    pass takes 0.7-0.93x the time of the NumPy forward through OpenBLAS for
    h = 64 to 256 at AVX2 and AVX-512, 0.95-1.1x at h = 512, and 2.6-2.9x on
    [784, 1024, 1024, 10] in its 32-row blocks; the baseline (SSE2) variant
    is not tuned for it."""
    if n_samples < BLAS_MIN_BATCH:
        return False
    return isa < _kernels.ISA_NAMES["avx2"] or widest > LANE_MAX_WIDTH


def predict(network, params, inputs):
    """Network outputs for every row of ``inputs``: (n, sizes[-1]) of the dtype.

    Rows go in blocks of a few milliseconds each (Ctrl-C is served between
    them), each through BLAS or the compiled forward pass (``use_blas``).  The
    first layer's sums prove the rows finite; a NaN or infinity raises
    ValueError naming the input.
    """
    X = inputs.rows_dense()
    n = len(X)
    out = np.empty((n, network.sizes[-1]), dtype=network.dtype)
    rows = max(BLAS_MIN_BATCH, WORK_PER_CALL // max(network.n_params, 1))
    for start in range(0, n, rows):
        block = slice(start, min(start + rows, n))
        if not _forward(network, params, X[block], out[block]) and not inputs.finite:
            check_finite(X[block], inputs.argument)  # raises; a mere overflow goes on
    return out


def _forward(network, params, X, out):
    """out := network(X); returns whether every first-layer sum was finite."""
    if use_blas(len(X), network.arch.isa, max(network.sizes[1:])):
        return _forward_blas(network, params, X, out)
    return _kernels.forward(network.arch, params, X, out)


def _forward_blas(network, params, X, out):
    # Like the kernels, no floating-point warnings: non-finite X is reported
    # through the return value, an overflow shows in the outputs.
    weights, biases = network.views(params)
    finite = True
    with np.errstate(all="ignore"):
        A = X
        layers = zip(weights, biases, network.activations, network.act_params)
        for layer, (W, b, act, param) in enumerate(layers):
            Z = A @ W.T
            if layer == 0:
                # With finite weights, a NaN or infinity anywhere in a row of X
                # makes that row's every product non-finite (inf * 0 is NaN).
                finite = bool(np.isfinite(Z.sum()))
            Z += b
            activate_inplace(act, Z, param)
            A = Z
        out[...] = A
    return finite


# -- full-batch loss and gradient ---------------------------------------------------------


def loss_and_gradient(network, params, inputs, Y, sample_weight=None):
    """(summed loss, its gradient laid out like params) over every row: no L2.
    ``sample_weight``: None or one weight per row, multiplying its loss and
    gradient (the sums are not divided by anything)."""
    inputs.prove_finite()
    grad, loss = _kernels.gradient(network.arch, params, inputs.rows_dense(), Y,
                                   sample_weight=sample_weight)
    return loss, grad


def loss_and_gradient_blas(network, params, inputs, Y, sample_weight=None):
    """As ``loss_and_gradient``, with blocks of rows through BLAS GEMMs (many
    times faster on wide layers and many rows); a loss or gradient that is not
    finite is computed again per sample, so the result matches in every case."""
    inputs.prove_finite()
    X = inputs.rows_dense()
    grad, loss, status = _kernels.gradient_blas(network.arch, params, X, Y,
                                                sample_weight=sample_weight)
    if status != _kernels.OK or not np.isfinite(grad).all():
        grad, loss = _kernels.gradient(network.arch, params, X, Y, sample_weight=sample_weight)
    return loss, grad


# -- one model, one training thread ------------------------------------------------------

_training_lock = threading.Lock()
_in_training = set()


@contextlib.contextmanager
def training(model, what):
    """Hold ``model`` for one training call; RuntimeError if another thread holds it.

    Kept outside the model so that models stay picklable and clonable."""
    key = id(model)
    with _training_lock:
        if key in _in_training:
            raise RuntimeError(f"{what} is already being trained in another thread")
        _in_training.add(key)
    try:
        yield
    finally:
        with _training_lock:
            _in_training.discard(key)


def is_training(model):
    """Whether ``model`` is being trained right now (by any thread)."""
    with _training_lock:
        return id(model) in _in_training
