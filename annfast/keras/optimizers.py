"""Optimizers with Keras' defaults and update rules, run by the compiled kernel.

Each maps to one fused update of ``annfast._kernels.train`` (g is the batch
gradient, the mean over the batch of the per-sample gradients)::

    SGD                 p -= lr g
    SGD(momentum=m)     v = m v - lr g;  p += v
    SGD(nesterov=True)  v = m v - lr g;  p += m v - lr g
    RMSprop             v = rho v + (1 - rho) g^2;  p -= lr g / sqrt(v + epsilon)
    Adam                t += 1;  lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
                        m = beta_1 m + (1 - beta_1) g;  v = beta_2 v + (1 - beta_2) g^2
                        p -= lr_t m / (sqrt(v) + epsilon)   (amsgrad: max of v so far)
    AdamW, Adagrad, Adadelta, Adamax, Nadam, RMSprop(momentum, centered): the
    kernel's rules of the same names (see csrc/af.h).

These are the rules of keras/src/optimizers/*.py (Keras 3).  Every optimizer
takes Keras' ``weight_decay`` (p -= p * weight_decay * lr before the step) and
one of ``clipvalue``, ``clipnorm`` (per weight matrix / bias vector) and
``global_clipnorm``; ``learning_rate`` may be a number, a schedule from
``schedules`` or a callable of no argument, evaluated before every step.
An optimizer keeps its state (velocities, moments, step count) between ``fit``
calls, and is bound to the first model it trains.
"""

import numbers
import weakref

import numpy as np

from annfast import _kernels
from annfast._validation import check_bool, check_named, check_scalar
from annfast.keras import schedules

__all__ = ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam",
           "Optimizer", "get", "schedules"]

#: ``iterations`` stays below this: the kernel counts Adam's steps in an int64, and
#: a fit adds at most one step per sample.
MAX_ITERATIONS = 1 << 62


def check_iterations(value, argument="iterations"):
    """Return value as an int in [0, MAX_ITERATIONS): a step count."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{argument} must be a non-negative integer (a step count), got "
                        f"{value!r:.60}")
    value = int(value)
    if not 0 <= value < MAX_ITERATIONS:
        raise ValueError(f"{argument} must be >= 0 and < 2**62 (a step count), got {value}")
    return value


class Optimizer:
    """Base class: learning rate, clipping, weight decay, step count and the
    kernel's optimizer state."""

    _kernel_name = "sgd"

    def __init__(self, learning_rate, name, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        self._learning_rate = _check_rate(learning_rate)
        self.weight_decay = _check_optional(weight_decay, "weight_decay")
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                 "global_clipnorm": global_clipnorm}
        for argument, value in clips.items():
            clips[argument] = _check_optional(value, argument, positive=True)
        if sum(value is not None for value in clips.values()) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        self.clipnorm, self.clipvalue = clips["clipnorm"], clips["clipvalue"]
        self.global_clipnorm = clips["global_clipnorm"]
        self.name = name
        self.iterations = 0  # batches (optimizer steps) taken so far, as Keras counts
        self._state = None  # velocities / moments, allocated on first fit
        self._owner = None  # a weak reference to the model whose state this holds

    @property
    def iterations(self):
        """Batches (optimizer steps) taken so far: Adam's t.  Settable, to a
        non-negative int below 2**62 (anything else raises when set)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations = check_iterations(value)

    @property
    def learning_rate(self):
        """The learning rate: the number given, or a schedule's (callable's) value at
        the current step count.  Settable (callbacks set it) unless it is a schedule,
        as in Keras; a new value is checked when training starts."""
        if self._scheduled:
            return self._rate_at(self._iterations)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(getattr(self, "_learning_rate", None)):
            raise TypeError("this optimizer's learning_rate is a schedule (or a callable), "
                            "so it cannot be set; give the optimizer a number instead")
        self._learning_rate = value

    @property
    def _scheduled(self):
        """Whether the learning rate changes from step to step (a schedule or callable)."""
        return callable(self._learning_rate)

    def _rate_at(self, step):
        return schedules.rate_at(self._learning_rate, step)

    # -- what the kernel needs ---------------------------------------------------------

    def _kernel_args(self):
        """Keyword arguments for ``_kernels.train``, re-validated (attributes are public;
        ``iterations`` too, should its private value have been changed)."""
        iterations = check_iterations(getattr(self, "_iterations", None),
                                      "optimizer.iterations")
        clips = {argument: _check_optional(getattr(self, argument, None), argument,
                                           positive=True)
                 for argument in ("clipnorm", "clipvalue", "global_clipnorm")}
        if sum(value is not None for value in clips.values()) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        decay = _check_optional(getattr(self, "weight_decay", None), "weight_decay")
        return {"optimizer": self._kernel_name, "lr": self._rate_at(iterations),
                "weight_decay": decay or 0.0,
                **{argument: value or 0.0 for argument, value in clips.items()}}

    def _state_size(self, n_params):
        args = self._kernel_args()
        return _kernels.opt_state_size(args["optimizer"], n_params,
                                       amsgrad=args.get("amsgrad", False),
                                       momentum=args.get("momentum", 0.0),
                                       centered=args.get("centered", False))

    def _ensure_state(self, n_params, dtype, model=None):
        """Return the state buffer for ``model`` of n_params values of dtype (zeros at
        first).  An optimizer holds one model's state, as Keras 3's holds one set of
        variables: a second model, even of the same size, is refused rather than
        handed the first one's moments and step count."""
        owner = self._owner() if self._owner is not None else None
        if model is not None and owner is not None and owner is not model:
            raise ValueError(f"this {type(self).__name__} instance already holds the state of "
                             f"model {owner.name!r}; give compile() a new optimizer for model "
                             f"{model.name!r}")
        size = self._state_size(n_params)
        if self._state is None:
            return np.zeros(size, dtype=dtype)
        if self._state.shape != (size,) or self._state.dtype != np.dtype(dtype):
            raise ValueError(f"this {type(self).__name__} instance already holds the state of "
                             f"another model, or of this model before layers were added or "
                             f"its options changed ({self._state.size} {self._state.dtype} "
                             f"values; the model needs {size} {np.dtype(dtype).name}); give "
                             "compile() a new optimizer")
        return self._state

    def _bind(self, model):
        """This optimizer's state is now ``model``'s (set when its fit publishes)."""
        self._owner = weakref.ref(model)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_owner"] = None  # a pickled model binds its optimizer again when it trains
        return state

    def __setstate__(self, state):
        # Pickles from before iterations became a property hold it as a plain attribute.
        if "iterations" in state:
            state["_iterations"] = state.pop("iterations")
        if "learning_rate" in state:  # a plain attribute before schedules
            state["_learning_rate"] = state.pop("learning_rate")
        state.setdefault("_owner", None)
        for argument in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
            state.setdefault(argument, None)
        self.__dict__.update(state)

    def get_config(self):
        rate = self._learning_rate
        if isinstance(rate, schedules.LearningRateSchedule):
            rate = schedules.serialize(rate)
        return {"learning_rate": rate, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm, "name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k != "name" and v is not None)
        return f"{type(self).__name__}({args})"


def _check_rate(learning_rate):
    if callable(learning_rate):
        return learning_rate  # a schedule or callable: checked at every step
    return check_scalar(learning_rate, "learning_rate", low=0)


def _check_optional(value, argument, positive=False):
    """None, or a finite number >= 0 (> 0 with ``positive``)."""
    if value is None:
        return None
    return check_scalar(value, argument, low=0, low_inclusive=not positive)


def _unit(value, argument):
    """A decay rate in [0, 1)."""
    return check_scalar(value, argument, low=0, high=1, high_inclusive=False)


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum.

    Parameters
    ----------
    learning_rate : float, schedule or callable, default 0.01
    momentum : float in [0, 1], default 0.0
    nesterov : bool, default False
    weight_decay, clipnorm, clipvalue, global_clipnorm : float, optional
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.momentum = check_scalar(momentum, "momentum", low=0, high=1)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)

    def _kernel_args(self):
        args = super()._kernel_args()
        momentum = check_scalar(self.momentum, "momentum", low=0, high=1)
        if self.nesterov:
            args["optimizer"] = "nesterov"
        elif momentum != 0:
            args["optimizer"] = "momentum"
        args["momentum"] = momentum
        return args

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop, Keras' default optimizer.

    Parameters
    ----------
    learning_rate : float, schedule or callable, default 0.001
    rho : float in [0, 1), default 0.9
    momentum : float in [0, 1), default 0.0
    epsilon : float, default 1e-7
        Inside the square root, as in Keras: ``sqrt(v + epsilon)``.
    centered : bool, default False
        Divide by the estimated variance (v less the squared mean gradient).
    weight_decay, clipnorm, clipvalue, global_clipnorm : float, optional
    """

    _kernel_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="rmsprop"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.rho = _unit(rho, "rho")
        self.momentum = _unit(momentum, "momentum")
        self.centered = check_bool(centered, "centered")
        self.epsilon = _check_epsilon(epsilon)

    def _kernel_args(self):
        return {**super()._kernel_args(), "rho": _unit(self.rho, "rho"),
                "momentum": _unit(self.momentum, "momentum"),
                "centered": check_bool(self.centered, "centered"),
                "epsilon": _check_epsilon(self.epsilon)}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class _AdamFamily(Optimizer):
    """The optimizers with beta_1, beta_2 and epsilon (outside the square root)."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, name, weight_decay, clipnorm,
                 clipvalue, global_clipnorm):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.beta_1 = _unit(beta_1, "beta_1")
        self.beta_2 = _unit(beta_2, "beta_2")
        self.epsilon = _check_epsilon(epsilon)

    def _kernel_args(self):
        return {**super()._kernel_args(), "beta1": _unit(self.beta_1, "beta_1"),
                "beta2": _unit(self.beta_2, "beta_2"), "epsilon": _check_epsilon(self.epsilon)}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adam(_AdamFamily):
    """Adam.

    Parameters
    ----------
    learning_rate : float, schedule or callable, default 0.001
    beta_1 : float in [0, 1), default 0.9
    beta_2 : float in [0, 1), default 0.999
    epsilon : float, default 1e-7
        Outside the square root, as in Keras: ``sqrt(v) + epsilon``.
    amsgrad : bool, default False
        Divide by the largest second moment seen so far.
    weight_decay, clipnorm, clipvalue, global_clipnorm : float, optional
    """

    _kernel_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, weight_decay, clipnorm,
                         clipvalue, global_clipnorm)
        self.amsgrad = check_bool(amsgrad, "amsgrad")

    def _kernel_args(self):
        return {**super()._kernel_args(), "amsgrad": check_bool(self.amsgrad, "amsgrad")}

    def get_config(self):
        return {**super().get_config(), "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default ``weight_decay=0.004``, as Keras)."""

    _kernel_name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adamw"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, name)
        if self.weight_decay is None:
            raise ValueError("AdamW needs a weight_decay (a float >= 0), got None")


class Adamax(_AdamFamily):
    """Adamax (Adam with the infinity norm); Keras' defaults."""

    _kernel_name = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adamax"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, weight_decay, clipnorm,
                         clipvalue, global_clipnorm)


class Nadam(_AdamFamily):
    """Nadam (Adam with Nesterov momentum); Keras' defaults."""

    _kernel_name = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="nadam"):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, weight_decay, clipnorm,
                         clipvalue, global_clipnorm)


class Adagrad(Optimizer):
    """Adagrad: ``p -= lr g / sqrt(accumulated g^2 + epsilon)``; Keras' defaults."""

    _kernel_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adagrad"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.initial_accumulator_value = check_scalar(initial_accumulator_value,
                                                      "initial_accumulator_value", low=0)
        self.epsilon = _check_epsilon(epsilon)

    def _kernel_args(self):
        return {**super()._kernel_args(),
                "initial_accumulator_value": check_scalar(
                    self.initial_accumulator_value, "initial_accumulator_value", low=0),
                "epsilon": _check_epsilon(self.epsilon)}

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta; Keras' defaults (learning_rate 0.001, rho 0.95)."""

    _kernel_name = "adadelta"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="adadelta"):
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue,
                         global_clipnorm)
        self.rho = _unit(rho, "rho")
        self.epsilon = _check_epsilon(epsilon)

    def _kernel_args(self):
        return {**super()._kernel_args(), "rho": _unit(self.rho, "rho"),
                "epsilon": _check_epsilon(self.epsilon)}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


_CLASSES = (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam)

#: Strings accepted by ``compile(optimizer=...)``.
OPTIMIZERS = {cls.__name__.lower(): cls for cls in _CLASSES}


def _check_epsilon(epsilon):
    # With epsilon = 0, a parameter whose gradient is always zero (a constant or
    # all-zero feature) divides 0 by 0 and turns the model NaN.
    return check_scalar(epsilon, "epsilon", low=0, low_inclusive=False)


def get(identifier):
    """Return an optimizer for a name ('sgd', 'rmsprop', 'adam', 'adamw', 'adagrad',
    'adadelta', 'adamax', 'nadam') or an instance."""
    if isinstance(identifier, str):
        identifier = identifier.lower()  # Keras takes 'Adam' as well as 'adam'
    return check_named(identifier, "optimizer", OPTIMIZERS, Optimizer,
                       "annfast.keras.optimizers")


def from_config(class_name, config):
    classes = {cls.__name__: cls for cls in _CLASSES}
    if class_name not in classes:
        raise ValueError(f"unknown optimizer class {class_name!r}")
    config = dict(config)
    if isinstance(config.get("learning_rate"), dict):
        config["learning_rate"] = schedules.deserialize(config["learning_rate"])
    return classes[class_name](**config)


_KERAS_OPTIMIZERS = {"Ftrl", "Lion", "Adafactor", "LossScaleOptimizer", "Lamb", "Muon"}


def __getattr__(name):
    # A clear message instead of a bare AttributeError for Keras optimizers we do not have.
    if name in _KERAS_OPTIMIZERS:
        raise AttributeError(f"annfast.keras.optimizers has no {name}: the optimizers are "
                             + ", ".join(cls.__name__ for cls in _CLASSES))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
