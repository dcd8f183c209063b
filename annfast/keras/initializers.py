"""Weight initializers with Keras 3's definitions (keras/src/initializers).

Each draws from the distribution Keras defines, with NumPy: the same
distribution and seed semantics, not Keras' random bits.  An initializer
given an integer ``seed`` draws the same values at every call, as a seeded
Keras initializer does; without one it draws from the model's generator
(so ``keras.utils.set_random_seed`` makes the whole model reproducible).

Fans, as Keras' ``compute_fans``: a (n_in, units) kernel has fan_in = n_in and
fan_out = units; a vector of length n has both equal to n.
"""

import math
import numbers

import numpy as np

from annfast._validation import check_choice, check_scalar

__all__ = ["Initializer", "Constant", "Zeros", "Ones", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "VarianceScaling", "GlorotNormal", "GlorotUniform", "HeNormal",
           "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal", "get", "serialize"]

# stddev of a unit normal truncated to [-2, 2]: Keras divides by it so that
# the truncated draw keeps the intended variance.
_TRUNCATED_STDDEV = 0.87962566103423978


def _check_seed(seed):
    if seed is None:
        return None
    return check_scalar(seed, "seed", low=0, integer=True)


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``init(shape, dtype=None)`` returns a new array."""

    seed = None

    def _rng(self, rng):
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        return rng if rng is not None else np.random.default_rng()

    def __call__(self, shape, dtype=None, rng=None):
        shape = tuple(int(s) for s in shape)
        values = self._draw(shape, self._rng(rng))
        return values.astype(dtype if dtype is not None else "float32")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    """Every value ``value``."""

    def __init__(self, value=0.0):
        self.value = check_scalar(value, "value")

    def _draw(self, shape, rng):
        return np.full(shape, self.value, dtype=np.float64)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class RandomNormal(Initializer):
    """Normal(mean, stddev)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = check_scalar(mean, "mean")
        self.stddev = check_scalar(stddev, "stddev", low=0)
        self.seed = _check_seed(seed)

    def _draw(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform on [minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = check_scalar(minval, "minval")
        self.maxval = check_scalar(maxval, "maxval")
        if self.maxval < self.minval:
            raise ValueError(f"maxval={maxval} must be >= minval={minval}")
        self.seed = _check_seed(seed)

    def _draw(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(rng, shape, mean, stddev):
    """Normal(mean, stddev) redrawn until within two standard deviations, as Keras."""
    values = rng.normal(size=shape)
    bad = np.abs(values) > 2
    while bad.any():
        values[bad] = rng.normal(size=int(bad.sum()))
        bad = np.abs(values) > 2
    return mean + stddev * values


class TruncatedNormal(Initializer):
    """Normal(mean, stddev) truncated to mean +- 2 stddev."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = check_scalar(mean, "mean")
        self.stddev = check_scalar(stddev, "stddev", low=0)
        self.seed = _check_seed(seed)

    def _draw(self, shape, rng):
        return _truncated_normal(rng, shape, self.mean, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Variance ``scale / n`` with n the fan_in, fan_out or their mean; drawn from a
    truncated normal, a normal or a uniform distribution."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale = check_scalar(scale, "scale", low=0, low_inclusive=False)
        self.mode = check_choice(mode, "mode", ("fan_in", "fan_out", "fan_avg"))
        self.distribution = check_choice(distribution, "distribution",
                                         ("truncated_normal", "untruncated_normal", "uniform"))
        self.seed = _check_seed(seed)

    def _draw(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        scale = self.scale / max(1.0, n[self.mode])
        if self.distribution == "truncated_normal":
            return _truncated_normal(rng, shape, 0.0, math.sqrt(scale) / _TRUNCATED_STDDEV)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(scale), size=shape)
        limit = math.sqrt(3.0 * scale)
        return rng.uniform(-limit, limit, size=shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _scaling(name, scale, mode, distribution, doc):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc, "__module__": __name__})


GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                        "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).")
GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform",
                         "Uniform on +-sqrt(6 / (fan_in + fan_out)).")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal",
                    "Truncated normal with stddev sqrt(2 / fan_in).")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform", "Uniform on +-sqrt(6 / fan_in).")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal",
                       "Truncated normal with stddev sqrt(1 / fan_in).")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform",
                        "Uniform on +-sqrt(3 / fan_in).")


class Orthogonal(Initializer):
    """A (scaled) orthogonal matrix: the Q of a QR decomposition of a normal draw,
    its signs fixed by R's diagonal, as Keras."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = check_scalar(gain, "gain")
        self.seed = _check_seed(seed)

    def _draw(self, shape, rng):
        if len(shape) < 2:
            raise ValueError(f"the Orthogonal initializer needs a shape of rank >= 2, got "
                             f"{shape}; use it for kernels, not biases")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


_CLASSES = {cls.__name__: cls for cls in (
    Constant, Zeros, Ones, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal)}

#: Keras' string names for the initializers.
NAMES = {
    "constant": Constant, "zeros": Zeros, "ones": Ones, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_normal": GlorotNormal,
    "glorot_uniform": GlorotUniform, "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform, "orthogonal": Orthogonal,
    **_CLASSES,
}

# Lower-case aliases Keras exports as functions.
zeros, ones, constant = Zeros, Ones, Constant


def get(identifier, argument="initializer"):
    """An Initializer from a name ('he_normal', 'HeNormal', ...), a config dict
    ``{'class_name': ..., 'config': {...}}`` or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        name = check_choice(identifier.get("class_name"), f"{argument}['class_name']",
                            tuple(_CLASSES))
        config = identifier.get("config") or {}
        if not isinstance(config, dict):
            raise TypeError(f"{argument}['config'] must be a dict, got {config!r:.80}")
        return _CLASSES[name].from_config(config)
    if isinstance(identifier, numbers.Number) and not isinstance(identifier, bool):
        raise TypeError(f"{argument} must be an initializer name or object; for a constant "
                        f"use keras.initializers.Constant({identifier!r})")
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if not isinstance(identifier, str):
        raise TypeError(f"{argument} must be an initializer name or an instance from "
                        f"annfast.keras.initializers, got {identifier!r:.80}")
    return NAMES[check_choice(identifier, argument, tuple(NAMES))]()


def serialize(initializer):
    """A JSON-able form: the name as given for strings, else a class/config dict."""
    if isinstance(initializer, str):
        return initializer
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
