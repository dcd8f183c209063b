"""One minibatch epoch of the tutorial net [784, 32, 10] on the MNIST subset,
through ``_kernels.train`` with each optimizer (batch 32 runs the GEMM path,
batch 2 the per-sample one), and the Keras-style options (clipping, weight
decay, per-layer penalties) on Adam.  The rounds are whole epochs; the same
numbers before and after a kernel change show what the change costs."""

import numpy as np
import pytest

from annfast import _kernels
from annfast.activations import ACTIVATIONS, LOSSES
from benchmarks.workloads import mnist_task

OLD = [("sgd", {}), ("momentum", {"momentum": 0.9}), ("nesterov", {"momentum": 0.9}),
       ("adam", {}), ("rmsprop", {})]
NEW = [("adagrad", {}), ("adadelta", {"lr": 1.0}), ("adamax", {}), ("nadam", {}),
       ("adamw", {"weight_decay": 0.004}), ("adam", {"amsgrad": True}),
       ("rmsprop", {"momentum": 0.9, "centered": True}),
       ("adam", {"clipnorm": 1.0}), ("adam", {"global_clipnorm": 1.0}),
       ("adam", {"penalties": [[1e-4, 1e-4, 0.0, 0.0]] * 2})]


def case_id(case):
    name, options = case
    return "-".join([name] + sorted(options))


@pytest.fixture(scope="module")
def task():
    t = mnist_task(True)
    return t, np.ascontiguousarray(t.X), np.ascontiguousarray(t.Y)


def run_epoch(task, case, batch_size):
    t, X, Y = task
    name, options = case
    arch = _kernels.Arch(t.sizes, [ACTIVATIONS["relu"], ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = np.random.default_rng(0).normal(0, 0.05, arch.n_params)
    flags = {k: options[k] for k in ("amsgrad", "momentum", "centered") if k in options}
    state = np.zeros(max(_kernels.opt_state_size(name, arch.n_params, **flags),
                         2 * arch.n_params))
    order = np.random.default_rng(1).permutation(len(X))
    opts = {"lr": 0.001, **options}
    return lambda: _kernels.train(arch, params, state, X, Y, order, batch_size, name, **opts)


@pytest.mark.benchmark(group="minibatch epoch [784, 32, 10], existing optimizers")
@pytest.mark.parametrize("batch_size", [32, 2])
@pytest.mark.parametrize("case", OLD, ids=case_id)
def test_minibatch_epoch(benchmark, task, case, batch_size):
    status, *_ = benchmark.pedantic(run_epoch(task, case, batch_size), rounds=5, iterations=1,
                                    warmup_rounds=1)
    assert status == _kernels.OK


@pytest.mark.benchmark(group="minibatch epoch [784, 32, 10], Keras-style optimizers")
@pytest.mark.parametrize("case", NEW, ids=case_id)
def test_minibatch_epoch_keras_optimizers(benchmark, task, case):
    status, *_ = benchmark.pedantic(run_epoch(task, case, 32), rounds=5, iterations=1,
                                    warmup_rounds=1)
    assert status == _kernels.OK
