"""Three optimizer steps of ``_kernels.train`` (float32) against Keras 3's own
optimizers (``apply_gradients`` on the torch backend) given the same batch
gradients: 2e-5.  Skipped where Keras is not installed."""

import os

import numpy as np
import pytest
from conftest import make_data, random_params, ref_layers

from annfast import _kernels
from annfast.activations import ACTIVATIONS, LOSSES

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("torch")
keras = pytest.importorskip("keras")

# Keras' torch backend converts through np.array without a copy keyword (its own warning).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SIZES = [4, 6, 3]
N = 9

#: (Keras class, its arguments, the kernel's optimizer and arguments)
CASES = {
    "adagrad": ("Adagrad", {"learning_rate": 0.1}, "adagrad",
                {"lr": 0.1, "epsilon": 1e-7, "initial_accumulator_value": 0.1}),
    "adadelta": ("Adadelta", {"learning_rate": 1.0, "rho": 0.9}, "adadelta",
                 {"lr": 1.0, "rho": 0.9, "epsilon": 1e-7}),
    "adamax": ("Adamax", {"learning_rate": 0.02}, "adamax",
               {"lr": 0.02, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7}),
    "nadam": ("Nadam", {"learning_rate": 0.02}, "nadam",
              {"lr": 0.02, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7}),
    "adamw": ("AdamW", {"learning_rate": 0.02, "weight_decay": 0.1}, "adamw",
              {"lr": 0.02, "weight_decay": 0.1, "epsilon": 1e-7}),
    "adam-amsgrad": ("Adam", {"learning_rate": 0.02, "amsgrad": True}, "adam",
                     {"lr": 0.02, "amsgrad": True, "epsilon": 1e-7}),
    "adam": ("Adam", {"learning_rate": 0.02}, "adam", {"lr": 0.02, "epsilon": 1e-7}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}, "rmsprop",
                {"lr": 0.01, "rho": 0.9, "epsilon": 1e-7}),
    "rmsprop-momentum-centered": (
        "RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}, "rmsprop",
        {"lr": 0.01, "rho": 0.9, "momentum": 0.5, "centered": True, "epsilon": 1e-7}),
    "sgd-nesterov": ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
                     "nesterov", {"lr": 0.1, "momentum": 0.9}),
    "sgd-clipnorm": ("SGD", {"learning_rate": 0.5, "clipnorm": 0.05}, "sgd",
                     {"lr": 0.5, "clipnorm": 0.05}),
    "adam-global-clipnorm": ("Adam", {"learning_rate": 0.02, "global_clipnorm": 0.05}, "adam",
                             {"lr": 0.02, "global_clipnorm": 0.05, "epsilon": 1e-7}),
    "sgd-clipvalue-decay": ("SGD", {"learning_rate": 0.5, "clipvalue": 0.01,
                                    "weight_decay": 0.2}, "sgd",
                            {"lr": 0.5, "clipvalue": 0.01, "weight_decay": 0.2}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_three_steps_match_keras(case):
    cls, keras_args, optimizer, options = CASES[case]
    rng = np.random.default_rng(0)
    arch = _kernels.Arch(SIZES, [ACTIVATIONS["tanh"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = random_params(SIZES, np.float32, rng)
    X, Y = make_data(rng, N, SIZES, "ce", np.float32)
    weights, biases = ref_layers(params, SIZES)
    variables = [keras.Variable(v) for pair in zip(weights, biases) for v in pair]
    kopt = getattr(keras.optimizers, cls)(**keras_args)
    flags = {k: options[k] for k in ("amsgrad", "momentum", "centered") if k in options}
    state = np.zeros(_kernels.opt_state_size(optimizer, params.size, **flags), np.float32)
    start, t = params.copy(), 0
    for _ in range(3):
        current = np.concatenate([np.asarray(v.numpy()).ravel()
                                  for v in variables]).astype(np.float32)
        grad, _ = _kernels.gradient(arch, current, X, Y)
        gw, gb = ref_layers(grad / N, SIZES)
        grads = [keras.ops.convert_to_tensor(g) for pair in zip(gw, gb) for g in pair]
        kopt.apply_gradients(zip(grads, variables))
        status, *_, t = _kernels.train(arch, params, state, X, Y, np.arange(N), N, optimizer,
                                       t=t, **options)
        assert status == _kernels.OK
    theirs = np.concatenate([np.asarray(v.numpy()).ravel()
                             for v in variables])
    np.testing.assert_allclose(params, theirs, rtol=0, atol=2e-5)
    assert np.max(np.abs(params - start)) > 1e-3
