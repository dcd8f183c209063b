"""A Keras-style front end on annfast's compiled kernels.

Change one line of a Keras script, ``from tensorflow import keras`` to
``from annfast import keras``, and the supported subset runs the same way:
``Sequential`` models of ``Dense`` layers, the losses mean squared error,
binary, categorical and sparse categorical cross-entropy, the optimizers
SGD (with momentum / Nesterov), RMSprop and Adam, the metrics 'acc'/'accuracy',
'mse' and 'mae', with Keras' defaults (batch 32, glorot_uniform, RMSprop when
no optimizer is named).  Anything outside that subset raises an error that
names what is supported.
"""

from annfast.keras import (
    backend,
    callbacks,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    utils,
)
from annfast.keras.layers import Input
from annfast.keras.models import Sequential, load_model

__all__ = [
    "Input", "Sequential", "load_model", "backend", "callbacks", "layers", "losses", "metrics",
    "models", "optimizers", "utils",
]
