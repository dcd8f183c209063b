"""The playground's one contact with annfast's compiled kernels.

Everything the page shows is trained and evaluated here, through
``annfast._kernels`` (one epoch per ``train`` call, in C with the GIL released).
Keep this module narrow: the rest of the playground only calls ``Network``.
"""

import inspect

import numpy as np

from annfast import _kernels, _params
from annfast.activations import ACTIVATIONS, LOSSES

#: Weight initialisation: Keras' default, so that an exported Keras script
#: starts from the same distribution.
INIT = "glorot_uniform"
#: Slope of leaky_relu for negative inputs: Keras' (annfast.keras uses it too), so
#: that an exported Keras network computes the same function.
LEAKY_SLOPE = 0.2


#: Kernel code -> the same function in NumPy, for drawing (several times faster
#: than calling the kernel's scalar activation over a whole grid).
_NUMPY_ACTIVATIONS = {
    ACTIVATIONS["identity"]: lambda z: z,
    ACTIVATIONS["relu"]: lambda z: np.maximum(z, 0.0),
    ACTIVATIONS["leaky_relu"]: lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    ACTIVATIONS["sigmoid"]: lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
    ACTIVATIONS["tanh"]: np.tanh,
}


def hidden_activations():
    """Activation names the kernels offer for hidden layers (read at run time,
    so that activations added to the kernels appear here by themselves)."""
    return [name for name in ACTIVATIONS if name != "softmax"]


def _train_keywords():
    try:
        return set(inspect.signature(_kernels.train).parameters)
    except (TypeError, ValueError):  # a compiled function without a signature
        return set()


def regularizations():
    """'none', 'L2', and 'L1' only if the training kernel takes an ``l1`` argument."""
    return ["none", "L2"] + (["L1"] if "l1" in _train_keywords() else [])


class Network:
    """A dense network: sizes, hidden activation, and the output fixed by the task.

    Classification ends in a sigmoid unit trained with binary cross-entropy,
    regression in an identity unit with squared error 0.5 * (a - y)^2.
    """

    def __init__(self, sizes, activation, regression, seed):
        self.sizes = [int(s) for s in sizes]
        self.activation = activation
        self.regression = regression
        self.output = "identity" if regression else "sigmoid"
        self.loss = "mse" if regression else "bce"
        self.act_codes = ([ACTIVATIONS[activation]] * (len(self.sizes) - 2)
                          + [ACTIVATIONS[self.output]])
        self.arch = _kernels.Arch(self.sizes, self.act_codes, LOSSES[self.loss], LEAKY_SLOPE,
                                  1.0)
        self.params = _params.init_params(self.sizes, INIT, np.random.default_rng(seed),
                                          np.float64)
        self._empty = np.empty(0)

    def train_epoch(self, X, Y, order, batch_size, lr, penalty, rate):
        """One epoch of SGD over ``X[order]``; returns the mean training loss, or
        None if it diverged (the parameters are then left as before the epoch).

        ``rate`` is the strength of the penalty in the objective
        ``sum_i loss_i + rate * R(W)`` (R = ||W||^2 / 2 for L2, ||W||_1 for L1), the
        convention of ``NeuralNet(reg_lambda=...)``.  The kernel averages the
        gradient over a batch and adds ``l2 * W / batch``, so the same objective
        needs ``l2 = rate * batch / n``.
        """
        n = len(order)
        work = self.params.copy()
        extra = {}
        if penalty == "L2":
            extra["l2"] = rate * batch_size / n
        elif penalty == "L1":
            extra["l1"] = rate * batch_size / n
        status, loss_sum, _, _ = _kernels.train(self.arch, work, self._empty, X, Y, order,
                                                batch_size, "sgd", lr, **extra)
        if status != _kernels.OK or not np.isfinite(work).all():
            return None
        self.params = work
        return loss_sum / n

    def predict(self, X):
        out = np.empty((len(X), 1))
        _kernels.forward(self.arch, self.params, X, out)
        return out[:, 0]

    def mean_loss(self, X, y):
        """The data loss per sample, as the kernel computes it while training."""
        a = self.predict(X)
        if self.regression:
            return float(np.mean(0.5 * (a - y) ** 2))
        p = np.clip(a, 1e-7, 1 - 1e-7)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def layer_outputs(self, X):
        """Every layer's outputs for the rows of X (hidden layers and the output),
        each of shape (n, units): the heat maps.  A NumPy forward (it only draws
        pictures); activations NumPy lacks here come from the kernels' own
        ``py_activate``, so activations added to the kernels work too."""
        weights, biases = _params.views(self.params, self.sizes, "flat")
        a = X
        outs = []
        for W, b, code in zip(weights, biases, self.act_codes):
            z = a @ W.T + b
            fast = _NUMPY_ACTIVATIONS.get(int(code))
            if fast is not None:
                a = fast(z)
            else:
                a = np.asarray(_kernels.py_activate(int(code), np.ascontiguousarray(z.ravel()),
                                                    LEAKY_SLOPE)).reshape(z.shape)
            outs.append(a)
        return outs

    def weights(self):
        """(weights, biases): per layer W (n_out, n_in) and b (n_out,), as copies."""
        weights, biases = _params.views(self.params, self.sizes, "flat")
        return [W.copy() for W in weights], [b.copy() for b in biases]
