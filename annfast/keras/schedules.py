"""Keras' learning-rate schedules (``keras.optimizers.schedules``).

A schedule maps the optimizer's step count (``iterations`` before the step) to
the learning rate of that step, with Keras 3's formulas.  The model evaluates
it in Python before every step and hands the kernel one batch per call.
"""

import math
import numbers

import numpy as np

from annfast._validation import check_bool, check_scalar

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay",
           "PiecewiseConstantDecay", "CosineDecay", "serialize", "deserialize"]


class LearningRateSchedule:
    """Base class: ``schedule(step)`` is the learning rate of step ``step``."""

    def __call__(self, step):
        raise NotImplementedError  # every schedule defines it

    def get_config(self):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _StepDecay(LearningRateSchedule):
    """A rate that decays with ``p = step / decay_steps`` (floored with
    ``staircase``): the shared arguments of ExponentialDecay and InverseTimeDecay."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        self.initial_learning_rate = check_scalar(initial_learning_rate,
                                                  "initial_learning_rate", low=0)
        self.decay_steps = check_scalar(decay_steps, "decay_steps", low=0, low_inclusive=False)
        self.decay_rate = check_scalar(decay_rate, "decay_rate", low=0)
        self.staircase = check_bool(staircase, "staircase")
        self.name = name

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self._decayed(p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent
    floored with ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decayed(self, p):
        return self.initial_learning_rate * self.decay_rate ** p


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio
    floored with ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decayed(self, p):
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[i]`` in
    (boundaries[i-1], boundaries[i]], ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise TypeError("boundaries and values must be lists of numbers")
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"values needs one more entry than boundaries ({len(boundaries)} "
                             f"+ 1), got {len(values)}")
        self.boundaries = [check_scalar(b, f"boundaries[{i}]") for i, b in enumerate(boundaries)]
        if any(b1 <= b0 for b0, b1 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries must increase, got {self.boundaries}")
        self.values = [check_scalar(v, f"values[{i}]", low=0) for i, v in enumerate(values)]
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` (or, after ``warmup_steps`` of
    linear warm-up, from ``warmup_target``) to ``alpha`` times it over
    ``decay_steps``, then constant."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = check_scalar(initial_learning_rate,
                                                  "initial_learning_rate", low=0)
        self.decay_steps = check_scalar(decay_steps, "decay_steps", low=0, low_inclusive=False)
        self.alpha = check_scalar(alpha, "alpha", low=0, high=1)
        self.warmup_target = (None if warmup_target is None
                              else check_scalar(warmup_target, "warmup_target", low=0))
        self.warmup_steps = check_scalar(warmup_steps, "warmup_steps", low=0)
        self.name = name

    def _decay(self, start, step):
        step = min(step, self.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        if self.warmup_target is None:
            return self._decay(self.initial_learning_rate, step)
        if step < self.warmup_steps:
            rise = (self.warmup_target - self.initial_learning_rate) * step / self.warmup_steps
            return self.initial_learning_rate + rise
        return self._decay(self.warmup_target, step - self.warmup_steps)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay,
                                     PiecewiseConstantDecay, CosineDecay)}


def rate_at(learning_rate, step):
    """The learning rate of step ``step``: a schedule's value, a callable's (Keras
    calls it with no argument), or the number itself; checked finite and >= 0."""
    if isinstance(learning_rate, LearningRateSchedule):
        value = learning_rate(step)
    elif callable(learning_rate):
        value = learning_rate()
    else:
        value = learning_rate
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"the learning rate must be a number, got {value!r:.60}")
    return check_scalar(float(value), "learning_rate", low=0)


def serialize(schedule):
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(description):
    class_name = description["class_name"]
    if class_name not in _CLASSES:
        raise ValueError(f"unknown learning-rate schedule {class_name!r:.60}")
    return _CLASSES[class_name](**description["config"])
