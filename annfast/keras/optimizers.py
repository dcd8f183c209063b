"""Optimizers with Keras' defaults and update rules, run by the compiled kernel.

Each maps to one fused update of ``annfast._kernels.train`` (g is the batch
gradient, the mean over the batch of the per-sample gradients)::

    SGD                 p -= lr g
    SGD(momentum=m)     v = m v - lr g;  p += v
    SGD(nesterov=True)  v = m v - lr g;  p += m v - lr g
    RMSprop             v = rho v + (1 - rho) g^2;  p -= lr g / sqrt(v + epsilon)
    Adam                t += 1;  lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
                        m = beta_1 m + (1 - beta_1) g;  v = beta_2 v + (1 - beta_2) g^2
                        p -= lr_t m / (sqrt(v) + epsilon)

These are the rules of keras/src/optimizers/{sgd,rmsprop,adam}.py (Keras 3).
An optimizer keeps its state (velocities, moments, step count) between ``fit``
calls, and is bound to the first model it trains.
"""

import numbers
import weakref

import numpy as np

from annfast._validation import check_named, check_scalar

__all__ = ["SGD", "RMSprop", "Adam", "Optimizer", "get"]

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
    """Base class: learning rate, step count and the kernel's optimizer state."""

    _kernel_name = "sgd"

    def __init__(self, learning_rate, name):
        self.learning_rate = check_scalar(learning_rate, "learning_rate", low=0)
        self.name = name
        self.iterations = 0  # batches (optimizer steps) taken so far, as Keras counts
        self._state = None  # (2 * n_params,) velocities / moments, allocated on first fit
        self._owner = None  # a weak reference to the model whose state this holds

    @property
    def iterations(self):
        """Batches (optimizer steps) taken so far: Adam's t.  Settable, to a
        non-negative int below 2**62 (anything else raises when set)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations = check_iterations(value)

    # -- what the kernel needs ---------------------------------------------------------

    def _kernel_args(self):
        """Keyword arguments for ``_kernels.train``, re-validated (attributes are public;
        ``iterations`` too, should its private value have been changed)."""
        check_iterations(getattr(self, "_iterations", None), "optimizer.iterations")
        return {"optimizer": self._kernel_name,
                "lr": check_scalar(self.learning_rate, "learning_rate", low=0)}

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
        if self._state is None:
            return np.zeros(2 * n_params, dtype=dtype)
        if self._state.shape != (2 * n_params,) or self._state.dtype != np.dtype(dtype):
            raise ValueError(f"this {type(self).__name__} instance already holds the state of "
                             f"another model, or of this model before layers were added "
                             f"({self._state.size // 2} {self._state.dtype} parameters; the "
                             f"model has {n_params} {np.dtype(dtype).name}); give compile() a "
                             "new optimizer")
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
        state.setdefault("_owner", None)
        self.__dict__.update(state)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum.

    Parameters
    ----------
    learning_rate : float, default 0.01
    momentum : float in [0, 1], default 0.0
    nesterov : bool, default False
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD"):
        super().__init__(learning_rate, name)
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
    learning_rate : float, default 0.001
    rho : float in [0, 1), default 0.9
    momentum : 0.0
        Only 0 is supported (the kernel has no RMSprop momentum).
    epsilon : float, default 1e-7
        Inside the square root, as in Keras: ``sqrt(v + epsilon)``.
    centered : False
        Only False is supported.
    """

    _kernel_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 name="rmsprop"):
        super().__init__(learning_rate, name)
        self.rho = check_scalar(rho, "rho", low=0, high=1, high_inclusive=False)
        if momentum != 0:
            raise ValueError(f"RMSprop momentum={momentum!r} is not supported; only 0.0 is")
        if centered:
            raise ValueError("RMSprop(centered=True) is not supported; only centered=False is")
        self.momentum = 0.0
        self.centered = False
        self.epsilon = _check_epsilon(epsilon)

    def _kernel_args(self):
        return {**super()._kernel_args(),
                "rho": check_scalar(self.rho, "rho", low=0, high=1, high_inclusive=False),
                "epsilon": _check_epsilon(self.epsilon)}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    """Adam.

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta_1 : float in [0, 1), default 0.9
    beta_2 : float in [0, 1), default 0.999
    epsilon : float, default 1e-7
        Outside the square root, as in Keras: ``sqrt(v) + epsilon``.
    amsgrad : False
        Only False is supported.
    """

    _kernel_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adam"):
        super().__init__(learning_rate, name)
        self.beta_1 = check_scalar(beta_1, "beta_1", low=0, high=1, high_inclusive=False)
        self.beta_2 = check_scalar(beta_2, "beta_2", low=0, high=1, high_inclusive=False)
        self.epsilon = _check_epsilon(epsilon)
        if amsgrad:
            raise ValueError("Adam(amsgrad=True) is not supported; only amsgrad=False is")
        self.amsgrad = False

    def _kernel_args(self):
        return {**super()._kernel_args(),
                "beta1": check_scalar(self.beta_1, "beta_1", low=0, high=1,
                                      high_inclusive=False),
                "beta2": check_scalar(self.beta_2, "beta_2", low=0, high=1,
                                      high_inclusive=False),
                "epsilon": _check_epsilon(self.epsilon)}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


#: Strings accepted by ``compile(optimizer=...)``.
OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def _check_epsilon(epsilon):
    # With epsilon = 0, a parameter whose gradient is always zero (a constant or
    # all-zero feature) divides 0 by 0 and turns the model NaN.
    return check_scalar(epsilon, "epsilon", low=0, low_inclusive=False)


def get(identifier):
    """Return an optimizer for a name ('sgd', 'rmsprop', 'adam') or an instance."""
    if isinstance(identifier, str):
        identifier = identifier.lower()  # Keras takes 'Adam' as well as 'adam'
    return check_named(identifier, "optimizer", OPTIMIZERS, Optimizer,
                       "annfast.keras.optimizers")


def from_config(class_name, config):
    classes = {"SGD": SGD, "RMSprop": RMSprop, "Adam": Adam}
    if class_name not in classes:
        raise ValueError(f"unknown optimizer class {class_name!r}")
    return classes[class_name](**config)


_KERAS_OPTIMIZERS = {"Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "AdamW", "Lion",
                     "Adafactor", "LossScaleOptimizer"}


def __getattr__(name):
    # A clear message instead of a bare AttributeError for Keras optimizers we do not have.
    if name in _KERAS_OPTIMIZERS:
        raise AttributeError(f"annfast.keras.optimizers has no {name}: only SGD (with momentum "
                             "or Nesterov), RMSprop and Adam are supported")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
