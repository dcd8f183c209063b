# cython: language_level=3
"""Typed entry points of the compiled kernels (csrc/).

Each function checks every size and index it hands to C, so no call from
Python can make a kernel read or write out of bounds; the public classes do
the user-facing validation (with friendlier messages) before reaching here.
Each call runs to completion with the GIL released; the caller (the engine,
annfast/_engine.py) cuts an epoch into calls of a few milliseconds each, so that
Ctrl-C and progress hooks are served between them.
"""
import os
import warnings

import numpy as np

from cython cimport floating
from libc.limits cimport INT_MAX
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t,
                          uint64_t)
from scipy.linalg.cython_blas cimport dgemm, sgemm

from annfast._kernels cimport *

cimport numpy as cnp

cnp.import_array()

# The names tables of csrc/af.h (its X-macro lists): a new activation or loss
# there appears here without a Cython edit.
ACTIVATION_CODES = {(<bytes>af_act_name(i)).decode(): i for i in range(AF_N_ACT)}
LOSS_CODES = {(<bytes>af_loss_name(i)).decode(): i for i in range(AF_N_LOSS)}
#: Activations whose derivative needs the pre-activations (stored in training).
ACT_NEEDS_Z = frozenset(name for name, code in ACTIVATION_CODES.items()
                        if af_act_needs_z(code))
#: loss name -> the output activation for which the kernels use delta = a - y.
LOSS_MATCHED_ACT = {name: (<bytes>af_act_name(af_loss_matched_act(code))).decode()
                    for name, code in LOSS_CODES.items() if af_loss_matched_act(code) >= 0}
#: Activations with a per-layer parameter, and its default.
ACT_PARAM_DEFAULTS = {"leaky_relu": 0.1, "elu": 1.0}
OPTIMIZER_CODES = {
    "sgd": AF_OPT_SGD,
    "momentum": AF_OPT_MOMENTUM,
    "nesterov": AF_OPT_NESTEROV,
    "adam": AF_OPT_ADAM,
    "rmsprop": AF_OPT_RMSPROP,
    "adagrad": AF_OPT_ADAGRAD,
    "adadelta": AF_OPT_ADADELTA,
    "adamax": AF_OPT_ADAMAX,
    "nadam": AF_OPT_NADAM,
    "adamw": AF_OPT_ADAM,  # Adam whose weight_decay the caller sets (Keras' AdamW)
}
#: Which hyper-parameters each optimizer reads (and ``train`` validates).
_OPTIMIZER_USES = {
    "sgd": (), "momentum": ("momentum",), "nesterov": ("momentum",),
    "adam": ("beta1", "beta2", "epsilon"), "adamw": ("beta1", "beta2", "epsilon"),
    "rmsprop": ("rho", "momentum", "epsilon"), "adagrad": ("epsilon",),
    "adadelta": ("rho", "epsilon"), "adamax": ("beta1", "beta2", "epsilon"),
    "nadam": ("beta1", "beta2", "epsilon"),
}
#: Optimizers that count steps in ``t`` (their bias corrections read it).
STEP_COUNTING = ("adam", "adamw", "adamax", "nadam")
#: The per-sample kernels keep the L2 decay as a scale (1 - lr * l2) per layer;
#: at or near a factor of zero the scale cannot be divided by, so larger
#: decays take the plain (eager) update instead.  The sparse kernel needs it.
LAZY_DECAY_MAX = 0.5
OK = AF_OK
E_NONFINITE = AF_E_NONFINITE

#: Instruction-set variants compiled into this module, by name.
ISA_NAMES = {"baseline": AF_ISA_BASELINE, "avx2": AF_ISA_AVX2, "avx512": AF_ISA_AVX512}
#: The best variant this CPU runs.
CPU_ISA = af_cpu_isa()


def _isa_from_env():
    """The variant to use: ANNFAST_SIMD=baseline|avx2|avx512|auto, capped by the CPU."""
    wanted = os.environ.get("ANNFAST_SIMD", "auto").strip().lower()
    if wanted in ("", "auto", "max"):
        return CPU_ISA
    if wanted not in ISA_NAMES:
        warnings.warn(f"ANNFAST_SIMD={wanted!r} is not one of {sorted(ISA_NAMES)} or 'auto'; "
                      "using auto", RuntimeWarning, stacklevel=2)
        return CPU_ISA
    if ISA_NAMES[wanted] > CPU_ISA:
        warnings.warn(f"ANNFAST_SIMD={wanted!r} is not supported by this CPU; using "
                      f"{isa_name(CPU_ISA)!r}", RuntimeWarning, stacklevel=2)
        return CPU_ISA
    return ISA_NAMES[wanted]


def isa_name(int isa):
    return {v: k for k, v in ISA_NAMES.items()}[isa]


#: The variant new architectures use unless told otherwise.
DEFAULT_ISA = _isa_from_env()


def _isa_level(isa):
    """The instruction-set variant to run: ``isa`` (``ISA_NAMES``), or None for
    ``DEFAULT_ISA``; ValueError for a level this CPU cannot run."""
    if isa is None:
        return DEFAULT_ISA
    if not 0 <= isa <= CPU_ISA:
        raise ValueError(f"isa must be in [0, {CPU_ISA}] on this CPU, got {isa}")
    return isa

#: Batches of at least this many samples train through BLAS matrix products.
GEMM_MIN_BATCH = 4


def _code(value, table, what):
    """The code of ``value``, a name in ``table`` or one of its codes."""
    if isinstance(value, str):
        if value not in table:
            raise ValueError(f"unknown {what} {value!r}; expected one of: "
                             f"{', '.join(table)}")
        return table[value]
    code = int(value)
    if code not in table.values():
        listing = ", ".join(f"{c}={n}" for n, c in table.items())
        raise ValueError(f"unknown {what} code {value!r}; expected one of: {listing}")
    return code


def _act_params(slope, acts):
    """Per-layer activation parameters: a sequence as given, or a scalar that
    becomes each leaky_relu layer's slope (elu layers take alpha = 1)."""
    names = [(<bytes>af_act_name(a)).decode() for a in acts]
    if np.ndim(slope) == 0:
        out = np.array([float(slope) if n == "leaky_relu" else ACT_PARAM_DEFAULTS.get(n, 0.0)
                        for n in names], dtype=np.float64)
    else:
        out = np.array(slope, dtype=np.float64)
        if out.shape != (len(names),):
            raise ValueError(f"slope (activation parameters) needs one value per layer "
                             f"({len(names)}), got shape {out.shape}")
    for l, n in enumerate(names):
        if n in ACT_PARAM_DEFAULTS and not (np.isfinite(out[l]) and out[l] >= 0):
            what = "slope" if n == "leaky_relu" else "alpha"
            raise ValueError(f"layer {l} ({n}): {what} must be finite and >= 0, "
                             f"got {out[l]!r}")
    return out


cdef class Arch:
    """A validated architecture: unit counts, activations, loss and their constants.

    Parameters
    ----------
    sizes : sequence of int, length n_layers + 1
        Units per layer, input first; every entry >= 1.
    acts : sequence of int or str, length n_layers
        Activations (codes or names of ``ACTIVATION_CODES``), one per weight layer.
    loss : int or str
        Loss (code or name of ``LOSS_CODES``); any output activation works with it.
    slope : float or sequence of float
        Activation parameters: a scalar is the slope of every leaky_relu layer
        (elu layers then take alpha = 1); a sequence gives each layer's value
        (leaky_relu's slope, elu's alpha, ignored elsewhere).
    loss_scale : float
        Factor on the loss and the output delta (e.g. 2/k for a mean-over-outputs MSE).
    isa : int or None
        Instruction-set variant (``ISA_NAMES``); None for ``DEFAULT_ISA``.
    huber_delta : float
        The Huber loss' threshold, > 0.
    label_smoothing : float
        In [0, 1]; for bce, ce, bce_logits and ce_logits.
    prob_eps : float
        0 for annfast's probability clip (machine epsilon); Keras' epsilon (1e-7)
        for Keras' clip, with zero gradient where it is active (see af.h).
    """
    cdef af_net net
    cdef readonly object sizes, acts, act_params
    cdef readonly int64_t n_params, sum_width, max_width, z_width, scratch_width

    def __cinit__(self, sizes, acts, loss, slope=0.1, double loss_scale=1.0, isa=None,
                  double huber_delta=1.0, double label_smoothing=0.0, double prob_eps=0.0):
        sizes_arr = np.ascontiguousarray(sizes, dtype=np.int64)
        if sizes_arr.ndim != 1 or sizes_arr.shape[0] < 2:
            raise ValueError("sizes must list at least 2 unit counts")
        if (sizes_arr < 1).any():
            raise ValueError(f"sizes must all be >= 1, got {sizes_arr.tolist()}")
        if isinstance(acts, (str, bytes)) or np.ndim(acts) != 1:
            raise ValueError(f"acts must be a sequence of {sizes_arr.shape[0] - 1} "
                             "activations")
        acts_arr = np.array([_code(v, ACTIVATION_CODES, "activation") for v in acts],
                            dtype=np.int32)
        if acts_arr.shape[0] != sizes_arr.shape[0] - 1:
            raise ValueError(f"acts needs {sizes_arr.shape[0] - 1} codes, got {acts_arr.shape}")
        cdef int loss_code = _code(loss, LOSS_CODES, "loss")
        params_arr = _act_params(slope, acts_arr)
        if not (np.isfinite(loss_scale) and loss_scale > 0):
            raise ValueError(f"loss_scale must be finite and > 0, got {loss_scale!r}")
        if not (np.isfinite(huber_delta) and huber_delta > 0):
            raise ValueError(f"huber_delta must be finite and > 0, got {huber_delta!r}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
        if not 0.0 <= prob_eps < 0.5:
            raise ValueError(f"prob_eps must be in [0, 0.5), got {prob_eps!r}")
        isa = _isa_level(isa)
        # Sizes whose parameter count overflows int64 would wrap in C.
        if float(np.sum((sizes_arr[:-1].astype(float) + 1) * sizes_arr[1:])) >= 2.0**62:
            raise ValueError("the network has too many parameters")
        sizes_arr.setflags(write=False)
        acts_arr.setflags(write=False)
        params_arr.setflags(write=False)
        self.sizes = sizes_arr
        self.acts = acts_arr
        self.act_params = params_arr
        cdef const int64_t[::1] s = sizes_arr
        cdef const int32_t[::1] a = acts_arr
        cdef const double[::1] p = params_arr
        self.net.n_layers = sizes_arr.shape[0] - 1
        self.net.sizes = &s[0]
        self.net.acts = &a[0]
        self.net.act_params = &p[0]
        self.net.loss = loss_code
        self.net.loss_scale = loss_scale
        self.net.huber_delta = huber_delta
        self.net.label_smoothing = label_smoothing
        self.net.prob_eps = prob_eps
        self.net.isa = isa
        self.net.sample_weight = NULL  # set per call, on a copy (train, gradient)
        self.net.dropout = NULL  # likewise
        self.net.dropout_seed = 0
        self.net.dropout_counter = 0
        self.net.weight_sum_divisor = 0
        self.n_params = af_n_params(&self.net)
        self.sum_width = af_sum_width(&self.net)
        self.max_width = af_max_width(&self.net)
        self.z_width = af_z_width(&self.net)
        # Per-sample training scratch: activations, two deltas, pre-activations.
        self.scratch_width = self.sum_width + 2 * self.max_width + self.z_width

    @property
    def loss(self):
        return self.net.loss

    @property
    def slope(self):
        """The first leaky_relu layer's slope (0.1 without one); see act_params."""
        for code, value in zip(self.acts, self.act_params):
            if code == ACTIVATION_CODES["leaky_relu"]:
                return float(value)
        return 0.1

    @property
    def loss_scale(self):
        return self.net.loss_scale

    @property
    def huber_delta(self):
        return self.net.huber_delta

    @property
    def label_smoothing(self):
        return self.net.label_smoothing

    @property
    def prob_eps(self):
        return self.net.prob_eps

    @property
    def isa(self):
        return self.net.isa

    def __reduce__(self):
        # The variant is chosen afresh where the pickle is loaded (another CPU).
        return (Arch, (self.sizes, self.acts, self.net.loss, self.act_params,
                       self.net.loss_scale, None, self.net.huber_delta,
                       self.net.label_smoothing, self.net.prob_eps))


def _sample_weights(sample_weight, int64_t n_rows):
    """sample_weight as n_rows finite, non-negative float64 values, or None."""
    if sample_weight is None:
        return None
    w = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise ValueError(f"sample_weight needs {n_rows} values (one per row of X), got shape "
                         f"{w.shape}")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    return w if n_rows > 0 else None


def _dropout_args(Arch arch, dropout, dropout_seed, dropout_counter):
    """Return ``(rates, seed, counter)``: ``dropout`` as one float64 rate in
    [0, 1) per hidden layer, or None when every rate is 0 (the kernels then see
    NULL), and the mask key's seed and counter as integers in [0, 2**64)."""
    if dropout is None:
        return None, 0, 0
    n_hidden = arch.net.n_layers - 1
    try:
        rates = np.array(dropout, dtype=np.float64, ndmin=1)
    except (TypeError, ValueError):
        raise ValueError(f"dropout must be {n_hidden} rates in [0, 1) (one per hidden layer), "
                         f"got {dropout!r}") from None
    if rates.ndim != 1 or rates.shape[0] != n_hidden:
        raise ValueError(f"dropout needs {n_hidden} rates (one per hidden layer), got "
                         f"shape {np.shape(dropout)}")
    if not (np.isfinite(rates).all() and (rates >= 0).all() and (rates < 1).all()):
        raise ValueError(f"dropout rates must be in [0, 1), got {rates.tolist()}")
    for name, value in (("dropout_seed", dropout_seed), ("dropout_counter", dropout_counter)):
        if not isinstance(value, (int, np.integer)) or not 0 <= value < 2**64:
            raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    return (rates if rates.any() else None), int(dropout_seed), int(dropout_counter)


cdef af_net _call_net(Arch arch, weights, rates, uint64_t seed, uint64_t counter):
    """A copy of arch.net with this call's sample weights and dropout masks (the
    arrays from _sample_weights and _dropout_args, or None).  The copy points
    into those arrays: the caller keeps them alive while the kernel runs."""
    cdef af_net net = arch.net
    cdef const double[::1] v
    if weights is not None:
        v = weights
        net.sample_weight = &v[0]
    if rates is not None:
        v = rates
        net.dropout = &v[0]
        net.dropout_seed = seed
        net.dropout_counter = counter
    return net


cdef _check_poisson_targets(Arch arch, Y):
    """Poisson's targets are counts: a negative one has no loss."""
    if arch.net.loss == LOSS_CODES["poisson"] and np.asarray(Y).size:
        if not np.asarray(Y).min() >= 0:
            raise ValueError("Y must be >= 0 (and not NaN) for the poisson loss")


cdef _check_params(Arch arch, Py_ssize_t n):
    if n != arch.n_params:
        raise ValueError(f"params has {n} values, the architecture needs {arch.n_params}")


cdef _check_xy(Arch arch, Py_ssize_t n_x, Py_ssize_t d_x, Py_ssize_t n_y, Py_ssize_t d_y):
    cdef int64_t n_in = arch.sizes[0], n_out = arch.sizes[-1]
    if d_x != n_in:
        raise ValueError(f"X has {d_x} features per row, the architecture needs {n_in}")
    if n_y != n_x or d_y != n_out:
        raise ValueError(f"Y has shape ({n_y}, {d_y}), expected ({n_x}, {n_out})")


def forward(Arch arch, const floating[::1] params, const floating[:, ::1] X,
            floating[:, ::1] out):
    """out := network(X) for every row of X; returns whether every first-layer
    sum was finite (with finite params, True proves X finite).

    params : ndarray of shape (n_params,); X : (n_samples, sizes[0]);
    out : (n_samples, sizes[-1]), written.
    """
    _check_params(arch, params.shape[0])
    _check_xy(arch, X.shape[0], X.shape[1], out.shape[0], out.shape[1])
    cdef int64_t n = X.shape[0]
    if n == 0:
        return True
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] scratch = np.empty(af_forward_scratch(&arch.net), dtype=dtype)
    cdef int status
    with nogil:
        if floating is float:
            status = af_forward_f32(&arch.net, &params[0], &X[0, 0], n, &out[0, 0],
                                    &scratch[0])
        else:
            status = af_forward_f64(&arch.net, &params[0], &X[0, 0], n, &out[0, 0],
                                    &scratch[0])
    return status == AF_OK


cdef int64_t _n_out_of_range(const int64_t[::1] values, int64_t n) noexcept:
    """How many values fall outside [0, n) (a negative one wraps to a huge unsigned)."""
    cdef int64_t i, bad = 0
    cdef uint64_t limit = <uint64_t>n
    with nogil:
        for i in range(values.shape[0]):
            bad += <uint64_t>values[i] >= limit
    return bad


cdef _check_in_range(const int64_t[::1] values, int64_t n, str name, str unit):
    """IndexError naming the first of ``values`` outside [0, n).  Every epoch checks
    its order (and the CSR indices) again: the check is one branch-free pass, and
    only a failure looks for the culprit."""
    cdef int64_t i
    if _n_out_of_range(values, n):
        for i in range(values.shape[0]):
            if values[i] < 0 or values[i] >= n:
                raise IndexError(f"{name}[{i}] = {values[i]} is out of range for {n} {unit}")


cdef _check_hyper(str name, double value, double low, double high, bint high_open):
    """ValueError naming ``name`` unless value is finite and in [low, high] (or [low, high))."""
    ok = np.isfinite(value) and value >= low and (value < high if high_open else value <= high)
    if not ok:
        closing = ")" if high_open else "]"
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}{closing}, "
                         f"got {value!r}")


cdef af_opt _make_opt(str optimizer, double lr, double l2, double momentum, double beta1,
                      double beta2, double rho, double epsilon, int64_t t, bint amsgrad,
                      bint centered, double initial_accumulator_value, double weight_decay,
                      double clipvalue, double clipnorm, double global_clipnorm) except *:
    """The validated optimizer settings (penalties aside); ValueError naming a bad one."""
    if optimizer not in OPTIMIZER_CODES:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_CODES)}, got {optimizer!r}")
    inf = float("inf")
    uses = _OPTIMIZER_USES[optimizer]
    _check_hyper("lr", lr, 0.0, inf, False)
    _check_hyper("l2", l2, 0.0, inf, False)
    if "momentum" in uses:
        _check_hyper("momentum", momentum, 0.0, 1.0, False)
    if "beta1" in uses:
        _check_hyper("beta1", beta1, 0.0, 1.0, True)
        _check_hyper("beta2", beta2, 0.0, 1.0, True)
    if "rho" in uses:
        _check_hyper("rho", rho, 0.0, 1.0, True)
    if "epsilon" in uses:
        _check_hyper("epsilon", epsilon, 0.0, inf, False)
    if optimizer == "adagrad":
        _check_hyper("initial_accumulator_value", initial_accumulator_value, 0.0, inf, False)
    if amsgrad and optimizer not in ("adam", "adamw"):
        raise ValueError(f"amsgrad=True applies to 'adam' and 'adamw' only, not {optimizer!r}")
    if centered and optimizer != "rmsprop":
        raise ValueError(f"centered=True applies to 'rmsprop' only, not {optimizer!r}")
    if t < 0:
        raise ValueError(f"t (steps taken) must be >= 0, got {t}")
    _check_hyper("weight_decay", weight_decay, 0.0, inf, False)
    clips = {"clipvalue": clipvalue, "clipnorm": clipnorm, "global_clipnorm": global_clipnorm}
    for name, value in clips.items():
        _check_hyper(name, value, 0.0, inf, False)
    if sum(value > 0 for value in clips.values()) > 1:
        raise ValueError("only one of clipvalue, clipnorm and global_clipnorm may be set "
                         f"(> 0), got {clips}")
    cdef af_opt opt
    opt.kind = OPTIMIZER_CODES[optimizer]
    opt.lr = lr
    opt.l2 = l2
    opt.momentum = momentum
    opt.beta1 = beta1
    opt.beta2 = beta2
    opt.rho = rho
    opt.epsilon = epsilon
    opt.t = t
    opt.amsgrad = amsgrad
    opt.centered = centered
    opt.initial_accumulator = initial_accumulator_value
    opt.weight_decay = weight_decay
    opt.clipvalue = clipvalue
    opt.clipnorm = clipnorm
    opt.global_clipnorm = global_clipnorm
    opt.penalties = NULL
    opt.penalty_sum = 0.0
    return opt


#: What a batch's summed (weighted) gradient is divided by: its number of
#: samples (Keras' rule) or the sum of its sample weights (scikit-learn's).
WEIGHT_DIVISORS = ("count", "sum")


cdef int _weight_sum_divisor(str weight_divisor) except -1:
    if weight_divisor not in WEIGHT_DIVISORS:
        raise ValueError(f"weight_divisor must be one of {list(WEIGHT_DIVISORS)}, got "
                         f"{weight_divisor!r}")
    return weight_divisor == "sum"


def lazy_decay_applies(double lr, double l2, sample_weight=None, str weight_divisor="count"):
    """Whether per-sample SGD's lazy decay holds: the decay per step, lr * l2, at
    most ``LAZY_DECAY_MAX``; by scikit-learn's rule (``weight_divisor='sum'``)
    a sample of weight w decays by lr * l2 / w, so the smallest non-zero weight
    counts (zero weights take no step)."""
    if not _weight_sum_divisor(weight_divisor) or sample_weight is None:
        return lr * l2 <= LAZY_DECAY_MAX
    w = np.asarray(sample_weight, dtype=np.float64)
    positive = w[w > 0]
    return not positive.size or lr * l2 <= LAZY_DECAY_MAX * float(positive.min())


def _penalties(Arch arch, penalties):
    """The per-layer penalties as a checked (n_layers, 4) float64 array, or None
    when there are none (all zero costs nothing: the kernel then sees NULL)."""
    if penalties is None:
        return None
    pen_arr = np.ascontiguousarray(penalties, dtype=np.float64)
    if pen_arr.shape != (arch.net.n_layers, 4):
        raise ValueError(f"penalties must have shape ({arch.net.n_layers}, 4) (per layer: "
                         f"kernel_l1, kernel_l2, bias_l1, bias_l2), got {pen_arr.shape}")
    if not (np.isfinite(pen_arr).all() and (pen_arr >= 0).all()):
        raise ValueError(f"penalties must be finite and >= 0, got {pen_arr.tolist()}")
    return pen_arr if pen_arr.any() else None


def opt_state_size(str optimizer, int64_t n_params, *, bint amsgrad=False,
                   double momentum=0.0, bint centered=False):
    """The length ``train`` needs of ``opt_state`` for ``optimizer`` on n_params
    parameters (the flags as given to ``train``).  Slots of n_params values, in
    order (see csrc/af.h): momentum/nesterov 1 (velocity); adam/adamw 2 (m, v),
    3 with amsgrad (v_hat); rmsprop 1 (v), + 1 if momentum > 0, + 1 if centered
    (mean gradient); adagrad 1 (the accumulator less initial_accumulator_value);
    adadelta 2; adamax 2 (m, u); nadam 2 (m, v) and one value (the product of
    the momentum schedule); sgd 0.  Zeros are a fresh start for every optimizer."""
    if n_params < 0:
        raise ValueError(f"n_params must be >= 0, got {n_params}")
    cdef af_opt opt = _make_opt(optimizer, 0.0, 0.0, momentum, 0.9, 0.999, 0.9, 1e-7, 0,
                                amsgrad, centered, 0.1, 0.0, 0.0, 0.0, 0.0)
    return af_opt_state_size(&opt, n_params)


def train(Arch arch, floating[::1] params, floating[::1] opt_state,
          const floating[:, ::1] X, const floating[:, ::1] Y, const int64_t[::1] order,
          int64_t batch_size=1, str optimizer="sgd", double lr=0.01, double l2=0.0,
          double momentum=0.0, double beta1=0.9, double beta2=0.999, double rho=0.9,
          double epsilon=1e-8, int64_t t=0, *, bint amsgrad=False, bint centered=False,
          double initial_accumulator_value=0.1, double weight_decay=0.0,
          double clipvalue=0.0, double clipnorm=0.0, double global_clipnorm=0.0,
          penalties=None, sample_weight=None, str weight_divisor="count",
          dropout=None, dropout_seed=0, dropout_counter=0):
    """Train in place over ``X[order]``; return ``(status, loss_sum, n_done, t)``.

    params : (n_params,) updated in place.  opt_state : optimizer memory
    (velocities, moments, accumulators) of at least ``opt_state_size(optimizer,
    n_params, ...)`` values, zeros to start, updated in place; may be empty for
    plain SGD.  Samples go in the given order, in batches of ``batch_size``.
    ``status`` is ``OK`` or ``E_NONFINITE`` (a sample's loss was NaN/inf:
    training stopped before that sample's update, which is position ``n_done``
    in ``order``).  ``t`` is the step count after the call (``STEP_COUNTING``
    optimizers add one per batch; their bias corrections use it, so a caller
    that changes ``lr`` between calls passes the returned ``t`` back).

    Each batch, in Keras' order: g = mean gradient (+ ``l2 * W / batch``, the
    scikit-learn decay) + the gradient of ``penalties``; then clipping (at most
    one of ``clipvalue`` element-wise, ``clipnorm`` per weight matrix and per
    bias vector, ``global_clipnorm`` over all of g); then ``p -= p *
    weight_decay * lr`` for every parameter; then the optimizer's rule, with
    ``momentum``/``centered`` for rmsprop, ``amsgrad`` for adam/adamw, ``rho``
    for rmsprop/adadelta, ``initial_accumulator_value`` for adagrad.

    penalties : None or (n_layers, 4) floats >= 0: per layer (kernel_l1,
        kernel_l2, bias_l1, bias_l2), Keras' regularizers: the batch loss gains
        ``l1 sum|w| + l2 sum w^2``.  ``loss_sum`` then includes, per batch, the
        batch's size times that penalty (at the batch's starting parameters), so
        ``loss_sum / n`` is Keras' epoch loss.
    sample_weight : None or one weight per row of X (None: all 1), multiplying
        that sample's loss and gradient; a batch's step divides the weighted sum
        by the batch length (Keras' rule).
    weight_divisor : 'count' (Keras' rule, above) or 'sum': scikit-learn's
        rule, the batch's step divides by the sum of its weights, and
        ``loss_sum`` adds each batch's weighted losses times its length over its
        weight sum (``loss_sum / n`` is scikit-learn's ``loss_``).  A batch whose
        weights are all zero takes no step and adds nothing.  Without weights
        both rules are the same.
    dropout : None or one rate in [0, 1) per hidden layer: inverted dropout on
        that layer's outputs, the masks keyed by (``dropout_seed``,
        ``dropout_counter``, the sample's row of X, layer, unit), so every path
        and SIMD level draws the same ones (csrc/af_dropout.h).
    """
    _check_params(arch, params.shape[0])
    _check_xy(arch, X.shape[0], X.shape[1], Y.shape[0], Y.shape[1])
    _check_poisson_targets(arch, Y)
    weights = _sample_weights(sample_weight, X.shape[0])
    rates, seed, counter = _dropout_args(arch, dropout, dropout_seed, dropout_counter)
    cdef af_net net = _call_net(arch, weights, rates, seed, counter)
    # Per-row training scratch, with dropout's regions when on.
    cdef int64_t width = arch.scratch_width + af_dropout_width(&net)
    cdef af_opt opt = _make_opt(optimizer, lr, l2, momentum, beta1, beta2, rho, epsilon, t,
                                amsgrad, centered, initial_accumulator_value, weight_decay,
                                clipvalue, clipnorm, global_clipnorm)
    # Checked even without weights, so that a misspelt rule never passes silently.
    net.weight_sum_divisor = _weight_sum_divisor(weight_divisor) and weights is not None
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    cdef int64_t need = af_opt_state_size(&opt, arch.n_params)
    if opt_state.shape[0] < need:
        raise ValueError(f"opt_state needs {need} values for optimizer={optimizer!r} with "
                         f"these options ({arch.n_params} parameters), got "
                         f"{opt_state.shape[0]}")
    cdef const double[:, ::1] pen
    pen_arr = _penalties(arch, penalties)
    if pen_arr is not None:
        pen = pen_arr
        opt.penalties = &pen[0, 0]
    cdef int kind = opt.kind
    cdef int64_t n_rows = X.shape[0], n_order = order.shape[0], i
    _check_in_range(order, n_rows, "order", "samples")
    if n_order == 0:
        return AF_OK, 0.0, 0, t

    if (batch_size == 1 and kind == AF_OPT_SGD and opt.penalties == NULL
            and weight_decay == 0 and clipvalue == 0 and clipnorm == 0
            and global_clipnorm == 0 and lazy_decay_applies(lr, l2, weights, weight_divisor)):
        return _sgd_dense(arch, &net, params, X, Y, order, lr, l2, width) + (t,)

    dtype = np.float32 if floating is float else np.float64
    # Batches as matrices through BLAS, unless a product would overflow its int sizes.
    cdef bint use_gemm = (batch_size >= GEMM_MIN_BATCH
                          and batch_size * width < INT_MAX)
    cdef int64_t scratch_rows = min(batch_size, n_order) if use_gemm else 1
    cdef floating[::1] grad = np.empty(max(arch.n_params, 1), dtype=dtype)
    cdef floating[::1] scratch = np.empty(scratch_rows * width, dtype=dtype)
    cdef floating *state = &opt_state[0] if opt_state.shape[0] > 0 else NULL
    cdef int64_t done = 0
    cdef double total = 0.0
    cdef int status = AF_OK
    with nogil:
        if use_gemm:
            if floating is float:
                status = af_train_gemm_f32(&net, &opt, &params[0], state, &X[0, 0],
                                           &Y[0, 0], &order[0], n_order, batch_size, &grad[0],
                                           &scratch[0], &total, &done, <af_sgemm_fn>sgemm)
            else:
                status = af_train_gemm_f64(&net, &opt, &params[0], state, &X[0, 0],
                                           &Y[0, 0], &order[0], n_order, batch_size, &grad[0],
                                           &scratch[0], &total, &done, <af_dgemm_fn>dgemm)
        elif floating is float:
            status = af_train_f32(&net, &opt, &params[0], state, &X[0, 0], &Y[0, 0],
                                  &order[0], n_order, batch_size, &grad[0], &scratch[0],
                                  &total, &done)
        else:
            status = af_train_f64(&net, &opt, &params[0], state, &X[0, 0], &Y[0, 0],
                                  &order[0], n_order, batch_size, &grad[0], &scratch[0],
                                  &total, &done)
    if opt.penalties != NULL:
        total += opt.penalty_sum
    return status, total, done if status != AF_OK else n_order, opt.t


cdef tuple _sgd_dense(Arch arch, const af_net *net_p, floating[::1] params,
                      const floating[:, ::1] X, const floating[:, ::1] Y,
                      const int64_t[::1] order, double lr, double l2, int64_t width):
    """Per-sample SGD through af_sgd (lazy decay); arguments already checked;
    ``width``: the scratch values the call needs."""
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] scratch = np.empty(width, dtype=dtype)
    cdef double[::1] scales = np.ones(arch.net.n_layers)
    cdef int64_t n_order = order.shape[0], done = 0
    cdef double total = 0.0
    cdef int status
    with nogil:
        # The weights end the call as plain values: the lazy decay is folded in.
        if floating is float:
            status = af_sgd_f32(net_p, lr, l2, &params[0], &scales[0], &X[0, 0], &Y[0, 0],
                                &order[0], n_order, &scratch[0], &total, &done)
            af_fold_scales_f32(&arch.net, &params[0], &scales[0])
        else:
            status = af_sgd_f64(net_p, lr, l2, &params[0], &scales[0], &X[0, 0], &Y[0, 0],
                                &order[0], n_order, &scratch[0], &total, &done)
            af_fold_scales_f64(&arch.net, &params[0], &scales[0])
    return status, total, done if status != AF_OK else n_order


def batch_gradient(Arch arch, const floating[::1] params, const floating[:, ::1] X,
                   const floating[:, ::1] Y, const int64_t[::1] order, sample_weight=None,
                   dropout=None, dropout_seed=0, dropout_counter=0):
    """Return ``(grad, loss_sum, status, n_done)``: the summed gradient (no l2,
    no penalties) and loss of the rows ``X[order]`` taken as one batch, through
    BLAS GEMMs (af_train_gemm without a step), and nothing changed.  With
    ``apply_gradient`` a batch too large for one call is summed over several,
    so that Ctrl-C is served inside it.  ``status`` is ``E_NONFINITE`` when the
    loss of the sample at position ``n_done`` was not finite (grad is then
    incomplete).  ``dropout``, ``dropout_seed``, ``dropout_counter``: as for
    ``train`` (rows of X key the masks, so a split batch draws what one call
    would)."""
    _check_params(arch, params.shape[0])
    _check_xy(arch, X.shape[0], X.shape[1], Y.shape[0], Y.shape[1])
    _check_poisson_targets(arch, Y)
    weights = _sample_weights(sample_weight, X.shape[0])
    rates, seed, counter = _dropout_args(arch, dropout, dropout_seed, dropout_counter)
    cdef af_net net = _call_net(arch, weights, rates, seed, counter)
    cdef int64_t width = arch.scratch_width + af_dropout_width(&net)
    cdef int64_t n_rows = X.shape[0], n_order = order.shape[0], i
    _check_in_range(order, n_rows, "order", "samples")
    dtype = np.float32 if floating is float else np.float64
    grad_arr = np.zeros(max(arch.n_params, 1), dtype=dtype)
    if n_order == 0:
        return grad_arr[:arch.n_params], 0.0, AF_OK, 0
    if n_order * width >= INT_MAX:
        raise ValueError(f"{n_order} rows do not fit one BLAS call for this network; "
                         "pass fewer")
    cdef floating[::1] grad = grad_arr
    cdef floating[::1] scratch = np.empty(n_order * width, dtype=dtype)
    cdef int64_t done = 0
    cdef double total = 0.0
    cdef int status
    # The kernel writes params only through a step, and takes none here.
    cdef floating *p = <floating *>&params[0]
    with nogil:
        if floating is float:
            status = af_train_gemm_f32(&net, NULL, p, NULL, &X[0, 0], &Y[0, 0], &order[0],
                                       n_order, n_order, &grad[0], &scratch[0], &total, &done,
                                       <af_sgemm_fn>sgemm)
        else:
            status = af_train_gemm_f64(&net, NULL, p, NULL, &X[0, 0], &Y[0, 0], &order[0],
                                       n_order, n_order, &grad[0], &scratch[0], &total, &done,
                                       <af_dgemm_fn>dgemm)
    return grad_arr[:arch.n_params], total, status, done


def apply_gradient(Arch arch, floating[::1] params, floating[::1] opt_state,
                   floating[::1] grad, int64_t batch_len, str optimizer="sgd",
                   double lr=0.01, double l2=0.0, double momentum=0.0, double beta1=0.9,
                   double beta2=0.999, double rho=0.9, double epsilon=1e-8, int64_t t=0, *,
                   bint amsgrad=False, bint centered=False,
                   double initial_accumulator_value=0.1, double weight_decay=0.0,
                   double clipvalue=0.0, double clipnorm=0.0, double global_clipnorm=0.0,
                   penalties=None, divisor=None):
    """One optimizer step, in place on params and opt_state, from ``grad``: the
    summed gradient of a batch of ``batch_len`` samples (``batch_gradient``;
    overwritten).  The step is af_train's: the same arguments and order of
    operations.  ``divisor``: what the summed gradient is divided by, None for
    ``batch_len`` (Keras' rule) or the batch's weight sum, > 0 (scikit-learn's;
    ``train``'s ``weight_divisor='sum'``).  Returns ``(t, penalty_sum)``: the
    step count after the step, and the batch's penalty term as ``train`` adds
    it to its loss_sum."""
    _check_params(arch, params.shape[0])
    if grad.shape[0] != arch.n_params:
        raise ValueError(f"grad has {grad.shape[0]} values, the architecture needs "
                         f"{arch.n_params}")
    if batch_len < 1:
        raise ValueError(f"batch_len must be >= 1, got {batch_len}")
    cdef double div = batch_len if divisor is None else divisor
    if not (np.isfinite(div) and div > 0):
        raise ValueError(f"divisor must be a finite number > 0, got {divisor!r}")
    cdef af_opt opt = _make_opt(optimizer, lr, l2, momentum, beta1, beta2, rho, epsilon, t,
                                amsgrad, centered, initial_accumulator_value, weight_decay,
                                clipvalue, clipnorm, global_clipnorm)
    cdef int64_t need = af_opt_state_size(&opt, arch.n_params)
    if opt_state.shape[0] < need:
        raise ValueError(f"opt_state needs {need} values for optimizer={optimizer!r} with "
                         f"these options ({arch.n_params} parameters), got "
                         f"{opt_state.shape[0]}")
    cdef const double[:, ::1] pen
    pen_arr = _penalties(arch, penalties)
    if pen_arr is not None:
        pen = pen_arr
        opt.penalties = &pen[0, 0]
    if arch.n_params == 0:
        return t, 0.0
    cdef floating *state = &opt_state[0] if opt_state.shape[0] > 0 else NULL
    with nogil:
        if floating is float:
            af_apply_gradient_f32(&arch.net, &opt, &params[0], state, &grad[0], batch_len,
                                  div)
        else:
            af_apply_gradient_f64(&arch.net, &opt, &params[0], state, &grad[0], batch_len,
                                  div)
    return opt.t, opt.penalty_sum


def train_sparse(Arch arch, floating[::1] params, const floating[::1] data,
                 const int64_t[::1] indices, const int64_t[::1] indptr,
                 const floating[:, ::1] Y, const int64_t[::1] order, double lr=0.01,
                 double l2=0.0, sample_weight=None, str weight_divisor="count",
                 dropout=None, dropout_seed=0, dropout_counter=0):
    """Per-sample SGD (as ``train`` with batch_size=1, 'sgd') on CSR inputs.

    data, indices, indptr : the CSR arrays of X (n_samples = len(indptr) - 1 rows,
    sizes[0] columns); only the first-layer weights of non-zero inputs are touched.
    ``sample_weight``, ``weight_divisor`` and the dropout arguments as for ``train``.
    Returns ``(status, loss_sum, n_done)``.
    """
    if not lazy_decay_applies(lr, l2, sample_weight, weight_divisor):
        raise ValueError(f"lr * l2 (divided by the smallest non-zero sample weight with "
                         f"weight_divisor='sum') must be <= {LAZY_DECAY_MAX} for the sparse "
                         f"kernel's lazy decay, got lr * l2 = {lr * l2}")
    _check_params(arch, params.shape[0])
    cdef int64_t n_rows = indptr.shape[0] - 1, n_in = arch.sizes[0], i
    cdef int64_t nnz = indices.shape[0]
    if n_rows < 0:
        raise ValueError("indptr must have n_samples + 1 entries")
    if Y.shape[0] != n_rows or Y.shape[1] != arch.sizes[-1]:
        raise ValueError(f"Y has shape ({Y.shape[0]}, {Y.shape[1]}), expected "
                         f"({n_rows}, {arch.sizes[-1]})")
    if data.shape[0] != nnz:
        raise ValueError(f"data has {data.shape[0]} values but indices has {nnz}")
    _check_poisson_targets(arch, Y)
    weights = _sample_weights(sample_weight, n_rows)
    rates, seed, counter = _dropout_args(arch, dropout, dropout_seed, dropout_counter)
    cdef af_net net = _call_net(arch, weights, rates, seed, counter)
    net.weight_sum_divisor = _weight_sum_divisor(weight_divisor) and weights is not None
    if indptr[0] != 0 or indptr[n_rows] != nnz:
        raise ValueError(f"indptr must start at 0 and end at {nnz}")
    for i in range(n_rows):
        if indptr[i + 1] < indptr[i]:
            raise ValueError(f"indptr must be non-decreasing (at row {i})")
    cdef int64_t n_order = order.shape[0]
    # Every epoch calls this again: the index checks are one branch-free
    # (vectorised) pass each, and only a failure looks for the culprit.
    _check_in_range(indices, n_in, "indices", "features")
    _check_in_range(order, n_rows, "order", "samples")
    if n_order == 0:
        return AF_OK, 0.0, 0

    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] wt0 = _aligned_empty(arch.sizes[0] * arch.sizes[1], dtype)
    cdef floating[::1] scratch = np.empty(arch.scratch_width + af_dropout_width(&net),
                                          dtype=dtype)
    cdef double[::1] scales = np.ones(arch.net.n_layers)
    # Empty CSR arrays have no element to point at; the kernel then reads none.
    cdef const floating *data_p = &data[0] if nnz > 0 else NULL
    cdef const int64_t *ind_p = &indices[0] if nnz > 0 else NULL
    cdef int64_t done = 0
    cdef double total = 0.0
    cdef int status
    with nogil:
        # The first layer lives transposed in wt0 for the call (see af.h).
        if floating is float:
            af_sparse_begin_f32(&arch.net, &params[0], &wt0[0])
            status = af_sgd_sparse_f32(&net, lr, l2, &params[0], &wt0[0], &scales[0],
                                       data_p, ind_p, &indptr[0], &Y[0, 0], &order[0], n_order,
                                       &scratch[0], &total, &done)
            af_sparse_end_f32(&arch.net, &params[0], &wt0[0], &scales[0])
        else:
            af_sparse_begin_f64(&arch.net, &params[0], &wt0[0])
            status = af_sgd_sparse_f64(&net, lr, l2, &params[0], &wt0[0], &scales[0],
                                       data_p, ind_p, &indptr[0], &Y[0, 0], &order[0], n_order,
                                       &scratch[0], &total, &done)
            af_sparse_end_f64(&arch.net, &params[0], &wt0[0], &scales[0])
    return status, total, done if status != AF_OK else n_order


def _aligned_empty(int64_t n, dtype):
    """An empty array of n values starting on a 64-byte boundary (a cache line).
    The sparse path reads and writes whole rows of the transposed first layer;
    NumPy promises no alignment beyond what its allocator gives (16 bytes with
    plain malloc), and a row starting mid-line would split its vector loads
    across cache lines."""
    itemsize = np.dtype(dtype).itemsize
    buf = np.empty(n + 64 // itemsize, dtype=dtype)
    start = (-buf.ctypes.data % 64) // itemsize
    return buf[start:start + n]


def csr_from_dense(const floating[:, ::1] X, double max_density=1.0, isa=None):
    """Return ``(data, indices, indptr, all_finite)``: the CSR arrays of the
    non-zeros of X (row by row, columns ascending) and whether every value of X
    is finite; or None as soon as more than ``max_density`` of X's values prove
    non-zero (the dense path is then better).  ``isa``: as for ``Arch``.

    One compiled pass without the GIL (af_csr_from_dense).  The arrays are
    allocated for the most non-zeros ``max_density`` allows, then shrunk in
    place to the count (pages never written are never backed by memory).  When
    the first sixteenth of the rows is more than twice as dense as allowed, a
    counting pass that writes nothing looks for the proof first (dense data
    then costs a fraction of a read of X).
    """
    cdef int64_t n = X.shape[0], d = X.shape[1], size = n * d
    cdef int64_t limit = <int64_t>(max(0.0, min(max_density, 1.0)) * size)
    cdef int64_t cap = max(min(limit + d, size), 1), k
    cdef int all_finite = 1
    cdef int32_t level = _isa_level(isa)
    cdef const floating *x = &X[0, 0] if size > 0 else NULL
    cdef int64_t probe = max(n // 16, 1)
    cdef floating[::1] data
    cdef int64_t[::1] indices, indptr
    if size > 0 and probe < n:
        with nogil:
            if floating is float:
                k = af_count_nonzero_f32(level, x, probe, d, size)
                if k > 2 * max_density * probe * d:
                    k = af_count_nonzero_f32(level, x, n, d, limit)
            else:
                k = af_count_nonzero_f64(level, x, probe, d, size)
                if k > 2 * max_density * probe * d:
                    k = af_count_nonzero_f64(level, x, n, d, limit)
        if k < 0:
            return None
    dtype = np.float32 if floating is float else np.float64
    data_arr = np.empty(cap, dtype=dtype)
    indices_arr = np.empty(cap, dtype=np.int64)
    indptr_arr = np.empty(n + 1, dtype=np.int64)
    data, indices, indptr = data_arr, indices_arr, indptr_arr
    with nogil:
        if size == 0:
            indptr[:] = 0
            k = 0
        elif floating is float:
            k = af_csr_from_dense_f32(level, x, n, d, limit, &data[0], &indices[0], &indptr[0],
                                      &all_finite)
        else:
            k = af_csr_from_dense_f64(level, x, n, d, limit, &data[0], &indices[0], &indptr[0],
                                      &all_finite)
    if k < 0:
        return None
    del data, indices  # release the buffers: resize refuses exported ones
    data_arr.resize(k, refcheck=False)
    indices_arr.resize(k, refcheck=False)
    return data_arr, indices_arr, indptr_arr, bool(all_finite)


ctypedef fused source_t:
    char  # NumPy's bool (any non-zero byte is True)
    int8_t
    uint8_t
    int16_t
    uint16_t
    int32_t
    uint32_t
    int64_t
    uint64_t
    float
    double


cdef inline int64_t _vector_to_csr(const source_t *x, int64_t d, floating *data,
                                   int64_t *indices, int64_t k, int *finite) noexcept nogil:
    """Append the non-zeros of x[0..d) at data[k], indices[k] (each value cast to
    floating as NumPy casts it); return the new count.  Every value is written
    and the count moves on past a non-zero only, so no branch depends on the
    data.  A float row that holds a NaN or an infinity (before or after the
    cast) clears *finite."""
    cdef int64_t j
    cdef floating v
    cdef int bad = 0
    for j in range(d):
        if source_t is char:
            v = x[j] != 0
        else:
            v = <floating>x[j]
        data[k] = v
        indices[k] = j
        k += v != 0
        if source_t is float or source_t is double:
            bad |= not (v - v == 0)
    if bad:
        finite[0] = 0
    return k


cdef int64_t _append_row(cnp.ndarray x, int64_t d, floating *data, int64_t *indices,
                         int64_t k, int *finite) noexcept:
    """_vector_to_csr on the values of x by its dtype; -1 for a dtype not read here."""
    cdef const void *p = cnp.PyArray_DATA(x)
    cdef int t = cnp.PyArray_TYPE(x)
    if t == cnp.NPY_BOOL:
        return _vector_to_csr(<const char *>p, d, data, indices, k, finite)
    if t == cnp.NPY_INT8:
        return _vector_to_csr(<const int8_t *>p, d, data, indices, k, finite)
    if t == cnp.NPY_UINT8:
        return _vector_to_csr(<const uint8_t *>p, d, data, indices, k, finite)
    if t == cnp.NPY_INT16:
        return _vector_to_csr(<const int16_t *>p, d, data, indices, k, finite)
    if t == cnp.NPY_UINT16:
        return _vector_to_csr(<const uint16_t *>p, d, data, indices, k, finite)
    if t == cnp.NPY_INT32:
        return _vector_to_csr(<const int32_t *>p, d, data, indices, k, finite)
    if t == cnp.NPY_UINT32:
        return _vector_to_csr(<const uint32_t *>p, d, data, indices, k, finite)
    if t == cnp.NPY_INT64:
        return _vector_to_csr(<const int64_t *>p, d, data, indices, k, finite)
    if t == cnp.NPY_UINT64:
        return _vector_to_csr(<const uint64_t *>p, d, data, indices, k, finite)
    if t == cnp.NPY_FLOAT32:
        return _vector_to_csr(<const float *>p, d, data, indices, k, finite)
    if t == cnp.NPY_FLOAT64:
        return _vector_to_csr(<const double *>p, d, data, indices, k, finite)
    return -1


def _csr_from_vectors(tuple xs, int64_t d, int64_t limit, double max_density,
                      floating[::1] data, int64_t[::1] indices, int64_t[::1] indptr):
    """The body of csr_from_vectors for one output dtype; the count, or -1."""
    cdef int64_t n = len(xs), i, k = 0, nd
    cdef int64_t probe = max(n // 16, 1)
    cdef int finite = 1, t0 = -1
    cdef cnp.ndarray x
    cdef cnp.npy_intp *dims
    indptr[0] = 0
    for i in range(n):
        obj = xs[i]
        if not cnp.PyArray_Check(obj):
            return -1
        x = <cnp.ndarray>obj
        nd = cnp.PyArray_NDIM(x)
        dims = cnp.PyArray_DIMS(x)
        # (d,) or (d, 1), contiguous, aligned, native byte order, and one dtype
        # for all rows (mixed dtypes promote, then cast: the general path).
        if not ((nd == 1 or (nd == 2 and dims[1] == 1)) and dims[0] == d
                and cnp.PyArray_ISCARRAY_RO(x)
                and (t0 < 0 or cnp.PyArray_TYPE(x) == t0)):
            return -1
        t0 = cnp.PyArray_TYPE(x)
        k = _append_row(x, d, &data[0], &indices[0], k, &finite)
        if k < 0 or not finite:
            return -1
        indptr[i + 1] = k
        # Too dense: as soon as the count passes the limit, or, early on,
        # twice the allowed share of the rows read so far.
        if k > limit or (i + 1 == probe and k > 2 * max_density * probe * d):
            return -1
    return k


def csr_from_vectors(xs, int64_t d, double max_density, dtype):
    """``(data, indices, indptr)`` of the rows ``xs`` (a tuple of NumPy arrays) in
    one compiled pass, or None.

    Each row must be an array of d values, shape (d,) or (d, 1), contiguous and
    in native byte order, all rows of one dtype: bool, an integer or
    float32/64.  The values are cast to ``dtype`` (float32 or float64) as NumPy
    casts them, with no intermediate copy of the rows.  None when a row is
    anything else, a float value is NaN or infinite (before or after the
    cast), or more than ``max_density`` of the values prove non-zero: the
    caller's general path then stacks the rows and reports what is wrong.
    """
    cdef int64_t n = len(xs)
    if n == 0 or d <= 0 or not isinstance(xs, tuple):
        return None
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
    max_density = max(0.0, min(max_density, 1.0))
    limit = int(max_density * n * d)
    cap = min(limit + d, n * d)  # a row may be written whole before the limit is checked
    data = np.empty(cap, dtype=dtype)
    indices = np.empty(cap, dtype=np.int64)
    indptr = np.empty(n + 1, dtype=np.int64)
    k = _csr_from_vectors(xs, d, limit, max_density, data, indices, indptr)
    if k < 0:
        return None
    data.resize(k, refcheck=False)
    indices.resize(k, refcheck=False)
    return data, indices, indptr


def gradient(Arch arch, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, sample_weight=None, dropout=None, dropout_seed=0,
             dropout_counter=0):
    """Return ``(grad, loss_sum)``: the gradient of the summed loss over the rows
    of X (no L2 term; each row's term times its ``sample_weight``), laid out
    like params, and that sum.  With ``dropout`` (as for ``train``), the loss
    and gradient at the masks that key draws."""
    _check_params(arch, params.shape[0])
    _check_xy(arch, X.shape[0], X.shape[1], Y.shape[0], Y.shape[1])
    _check_poisson_targets(arch, Y)
    weights = _sample_weights(sample_weight, X.shape[0])
    rates, seed, counter = _dropout_args(arch, dropout, dropout_seed, dropout_counter)
    cdef af_net net = _call_net(arch, weights, rates, seed, counter)
    dtype = np.float32 if floating is float else np.float64
    grad_arr = np.zeros(arch.n_params, dtype=dtype)
    cdef floating[::1] grad = grad_arr
    cdef floating[::1] scratch = np.empty(arch.scratch_width + af_dropout_width(&net),
                                          dtype=dtype)
    cdef int64_t n = X.shape[0]
    cdef double loss = 0.0
    if n == 0:
        return grad_arr, 0.0
    with nogil:
        if floating is float:
            af_gradient_f32(&net, &params[0], &X[0, 0], &Y[0, 0], n, &grad[0],
                            &scratch[0], &loss)
        else:
            af_gradient_f64(&net, &params[0], &X[0, 0], &Y[0, 0], n, &grad[0],
                            &scratch[0], &loss)
    return grad_arr, loss


def gradient_blas(Arch arch, const floating[::1] params, const floating[:, ::1] X,
                  const floating[:, ::1] Y, int64_t block=1024, sample_weight=None):
    """Return ``(grad, loss_sum, status)``: as ``gradient``, with the rows in
    blocks of ``block`` going through BLAS GEMMs.

    Each block is one call of af_train_gemm without an optimizer: its forward
    pass, deltas and weight gradients are GEMMs, it leaves the block's summed
    gradient in its buffer and changes nothing.  ``sample_weight``: None or one
    weight per row, as for ``gradient``.  ``status`` is ``E_NONFINITE`` when a
    loss was not finite; grad is then incomplete (use ``gradient``)."""
    _check_params(arch, params.shape[0])
    _check_xy(arch, X.shape[0], X.shape[1], Y.shape[0], Y.shape[1])
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    _check_poisson_targets(arch, Y)
    weights = _sample_weights(sample_weight, X.shape[0])
    cdef af_net net = _call_net(arch, weights, None, 0, 0)
    dtype = np.float32 if floating is float else np.float64
    cdef int64_t n = X.shape[0], n_params = arch.n_params
    cdef int64_t rows = min(block, n)
    cdef int64_t width = arch.scratch_width  # per row: activations, deltas and any z
    while rows > 1 and rows * width >= INT_MAX:
        rows //= 2  # every product must fit BLAS' int sizes
    # One block writes the sum straight into the result; more add theirs to it.
    grad_arr = np.zeros(n_params, dtype=dtype)
    if n == 0 or n_params == 0:
        return grad_arr, 0.0, AF_OK
    cdef floating[::1] grad = grad_arr
    cdef floating[::1] block_grad = grad_arr if rows == n else np.empty(n_params, dtype=dtype)
    cdef floating[::1] scratch = np.empty(max(rows * width, 1), dtype=dtype)
    cdef int64_t[::1] order = np.arange(n, dtype=np.int64)
    # Without an optimizer the kernel takes no step, so params are only read.
    cdef floating *p = <floating *>&params[0]
    cdef int64_t start, m, i, done = 0
    cdef double part = 0.0, total = 0.0
    cdef int status = AF_OK
    with nogil:
        start = 0
        while start < n:
            m = min(rows, n - start)
            if floating is float:
                status = af_train_gemm_f32(&net, NULL, p, NULL, &X[0, 0], &Y[0, 0],
                                           &order[start], m, m, &block_grad[0], &scratch[0],
                                           &part, &done, <af_sgemm_fn>sgemm)
            else:
                status = af_train_gemm_f64(&net, NULL, p, NULL, &X[0, 0], &Y[0, 0],
                                           &order[start], m, m, &block_grad[0], &scratch[0],
                                           &part, &done, <af_dgemm_fn>dgemm)
            total += part
            if status != AF_OK:
                break
            if rows < n:
                for i in range(n_params):
                    grad[i] += block_grad[i]
            start += m
    return grad_arr, total, status


def _check_act(int act):
    if not 0 <= act < AF_N_ACT:
        _code(act, ACTIVATION_CODES, "activation")


cdef double _param(int act, param):
    """The activation parameter to use: param, or the activation's default."""
    if param is None:
        return ACT_PARAM_DEFAULTS.get((<bytes>af_act_name(act)).decode(), 0.0)
    return param


def py_activate(int act, const floating[::1] z, param=None):
    """Return act(z) (softmax over the whole vector); ``param``: leaky_relu's
    slope (default 0.1) or elu's alpha (default 1).  For tests."""
    _check_act(act)
    cdef double p = _param(act, param)
    out = np.empty(z.shape[0], dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] a = out
    if z.shape[0] == 0:
        return out
    if floating is float:
        af_activate_f32(act, p, &z[0], &a[0], z.shape[0])
    else:
        af_activate_f64(act, p, &z[0], &a[0], z.shape[0])
    return out


def py_act_backward(int act, const floating[::1] a, const floating[::1] g, param=None,
                    z=None):
    """Return J_act^T g, from the outputs a and, for the activations in
    ``ACT_NEEDS_Z``, the pre-activations z.  For tests."""
    _check_act(act)
    cdef double p = _param(act, param)
    if g.shape[0] != a.shape[0]:
        raise ValueError("a and g must have the same length")
    dtype = np.float32 if floating is float else np.float64
    cdef bint needs_z = af_act_needs_z(act)
    cdef const floating[::1] zv = np.ascontiguousarray(z if needs_z else a, dtype=dtype)
    if zv.shape[0] != a.shape[0]:
        raise ValueError(f"{(<bytes>af_act_name(act)).decode()}'s derivative needs z, "
                         "the pre-activations, of a's length")
    out = np.empty(a.shape[0], dtype=dtype)
    cdef floating[::1] d = out
    if a.shape[0] == 0:
        return out
    cdef const floating *zp = &zv[0] if needs_z else NULL
    if floating is float:
        af_act_backward_f32(act, p, &a[0], zp, &g[0], &d[0], a.shape[0])
    else:
        af_act_backward_f64(act, p, &a[0], zp, &g[0], &d[0], a.shape[0])
    return out


def py_output_delta(Arch arch, const floating[::1] a, const floating[::1] y, z=None):
    """Return ``(delta, loss)`` of one sample with outputs a, targets y and (for
    an output activation in ``ACT_NEEDS_Z``) pre-activations z.  For tests."""
    cdef int64_t k = arch.sizes[-1]
    if a.shape[0] != k or y.shape[0] != k:
        raise ValueError(f"a and y need {k} values")
    dtype = np.float32 if floating is float else np.float64
    cdef bint needs_z = af_act_needs_z(arch.acts[-1])
    if needs_z and (z is None or np.shape(z) != (k,)):
        raise ValueError(f"the output activation needs z, the {k} pre-activations")
    cdef const floating[::1] zv = np.ascontiguousarray(z if needs_z else a, dtype=dtype)
    out = np.empty(k, dtype=dtype)
    cdef floating[::1] d = out
    cdef double loss
    cdef const floating *zp = &zv[0] if needs_z else NULL
    if floating is float:
        loss = af_output_delta_f32(&arch.net, &a[0], zp, &y[0], &d[0], k)
    else:
        loss = af_output_delta_f64(&arch.net, &a[0], zp, &y[0], &d[0], k)
    return out, loss
