"""A Keras-style front end on annfast's compiled kernels.

Change one line of a Keras script, ``from tensorflow import keras`` to
``from annfast import keras``, and the supported subset runs the same way:
``Sequential`` and functional ``Model`` chains of ``Dense`` layers, with
Flatten, Rescaling and Normalization before them and activation layers
(Activation, ReLU, LeakyReLU, Softmax) folded into them; the losses mean
squared error, binary, categorical and sparse categorical cross-entropy; the
optimizers SGD (with momentum / Nesterov), RMSprop and Adam; Keras' metrics
(accuracy variants, AUC, Precision, Recall, ...), callbacks (EarlyStopping,
ModelCheckpoint, ReduceLROnPlateau, ...) and initializers, with Keras'
defaults (batch 32, glorot_uniform, RMSprop when no optimizer is named).
Anything outside that subset raises an error that names what is supported.
"""

from annfast.keras import (
    activations,
    backend,
    callbacks,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    utils,
)
from annfast.keras.layers import Input
from annfast.keras.models import Model, Sequential, load_model

__all__ = [
    "Input", "Model", "Sequential", "load_model", "activations", "backend", "callbacks",
    "initializers", "layers", "losses", "metrics", "models", "optimizers", "utils",
]
