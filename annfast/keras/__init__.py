"""A Keras-style front end on annfast's compiled kernels.

Change one line of a Keras script, ``from tensorflow import keras`` to
``from annfast import keras``, and the supported subset runs the same way:
``Sequential`` and functional ``Model`` chains of ``Dense`` layers, with
Flatten, Rescaling and Normalization before them and activation layers
(Activation, ReLU, LeakyReLU, ELU, Softmax) folded into them, and models nested
as layers; Keras' losses (mean squared, absolute, absolute percentage and
squared logarithmic error, Huber, log-cosh, Poisson, KL divergence, hinge,
squared hinge, binary, categorical and sparse categorical cross-entropy, with
from_logits and label_smoothing); the optimizers SGD (with momentum /
Nesterov), RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax and Nadam with
clipping, weight decay and learning-rate schedules; L1/L2 regularizers;
sample and class weights; Keras' metrics
(accuracy variants, AUC, Precision, Recall, ...), callbacks (EarlyStopping,
ModelCheckpoint, ReduceLROnPlateau, ...) and initializers, with Keras'
defaults (batch 32, glorot_uniform, RMSprop when no optimizer is named).
Models save to Keras 3's ``.keras`` archives (real Keras loads them, and
annfast loads Keras' own; needs h5py, the ``keras`` extra).
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
    regularizers,
    utils,
)
from annfast.keras.layers import Input
from annfast.keras.models import Model, Sequential, load_model

__all__ = [
    "Input", "Model", "Sequential", "load_model", "activations", "backend", "callbacks",
    "initializers", "layers", "losses", "metrics", "models", "optimizers", "regularizers",
    "utils",
]
