"""One training epoch of the tutorial net [784, 32, 10] on the MNIST subset.

annfast (float64 and float32, through ``NeuralNet.fit``) against
``annfast.reference`` (float64) and the tutorial-style NumPy loop, on the
tutorial's binarised 3,500 training images.  Each round is one whole epoch,
so the ratio of the means is the per-epoch speed-up.
"""

import numpy as np
import pytest

from benchmarks import contenders as C
from benchmarks.workloads import mnist_task


@pytest.fixture(scope="module")
def task():
    return mnist_task(True)


@pytest.mark.benchmark(group="epoch [784, 32, 10] MNIST binarised")
@pytest.mark.parametrize("cls", [C.AnnfastF64, C.AnnfastF32, C.Reference, C.Tutorial],
                         ids=lambda c: c.key)
def test_epoch(benchmark, task, cls):
    contender = cls(task, C.initial_params(task))
    order = np.random.default_rng(0).permutation(task.n_train)
    benchmark.pedantic(contender.train_epoch, args=(order,), rounds=5, iterations=1,
                       warmup_rounds=1)
    out = contender.outputs(task.X_eval)
    # A trained network: far better than the 10% of chance on held-out digits.
    accuracy = np.mean(np.argmax(out, axis=1) == np.argmax(task.Y_eval, axis=1))
    assert accuracy > 0.5
