"""The playground's one contact with annfast's training engine.

Everything the page shows is trained and evaluated here, through
``annfast._engine`` (one epoch per call, in C with the GIL released), the same
engine under NeuralNet, the scikit-learn estimators and the Keras models.
Keep this module narrow: the rest of the playground only calls ``Network``.
"""

import numpy as np

from annfast import _engine, _params
from annfast.activations import ACTIVATIONS, activate_inplace, mean_loss

#: Weight initialisation: Keras' default, so that an exported Keras script
#: starts from the same distribution.
INIT = "glorot_uniform"
#: Slope of leaky_relu for negative inputs: Keras' (annfast.keras uses it too), so
#: that an exported Keras network computes the same function.
LEAKY_SLOPE = 0.2


def hidden_activations():
    """Activation names the kernels offer for hidden layers (read at run time,
    so that activations added to the kernels appear here by themselves)."""
    return [name for name in ACTIVATIONS if name != "softmax"]


def regularizations():
    """The penalties the page offers: none, L1 (Keras' kernel regularizer) and L2."""
    return ["none", "L1", "L2"]


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
        self.activations = [activation] * (len(self.sizes) - 2) + [self.output]
        self.network = _engine.Network(self.sizes, self.activations, self.loss, np.float64,
                                       LEAKY_SLOPE)
        self.params = _params.init_params(self.sizes, INIT, np.random.default_rng(seed),
                                          np.float64)

    def train_epoch(self, X, Y, order, batch_size, lr, penalty, rate):
        """One epoch of SGD over ``X[order]``; returns the mean training loss, or
        None if it diverged (the parameters are then left as before the epoch).

        ``rate`` is the strength of the penalty in the objective
        ``sum_i loss_i + rate * R(W)`` (R = ||W||^2 / 2 for L2, ||W||_1 for L1), the
        convention of ``NeuralNet(reg_lambda=...)``, so each batch's mean gradient
        gets ``rate * R'(W) / n``.  The kernel adds ``l2 * W / batch`` for L2, so
        ``l2 = rate * batch / n``; an L1 penalty on the weights (Keras' kernel
        regularizer, added once per batch) of ``rate / n`` per layer.
        """
        n = len(order)
        update = _engine.Update(lr=lr, batch_size=batch_size)
        if penalty == "L2":
            update.l2 = rate * batch_size / n
        elif penalty == "L1":
            update.penalties = np.zeros((len(self.sizes) - 1, 4))
            update.penalties[:, 0] = rate / n
        data = self._prepared(X, update)
        result = _engine.train_epoch(self.network, self.params, data, Y, order, update)
        if result.status is not _engine.Status.DONE:
            return None
        self.params = result.params
        return result.mean_loss

    def _prepared(self, X, update):
        """The engine's prepared inputs, kept while the same X trains the same way
        (the page's data set changes only with a reset)."""
        key = (id(X), X.shape, update.per_sample_sgd)
        if getattr(self, "_data_key", None) != key:
            self._data = _engine.prepare(self.network, _engine.as_inputs(X, np.float64), update)
            self._data_key, self._data_x = key, X  # holding X keeps its id unique
        return self._data

    def predict(self, X):
        return _engine.predict(self.network, self.params, _engine.as_inputs(X, np.float64))[:, 0]

    def mean_loss(self, X, y):
        """The data loss per sample, as the kernel computes it while training."""
        return mean_loss(self.loss, self.predict(X)[:, None], np.reshape(y, (-1, 1)))

    def layer_outputs(self, X):
        """Every layer's outputs for the rows of X (hidden layers and the output),
        each of shape (n, units): the heat maps.  A NumPy forward (it only draws
        pictures) with the registry's vectorised activations."""
        weights, biases = _params.views(self.params, self.sizes, "flat")
        a = X
        outs = []
        for W, b, name, param in zip(weights, biases, self.activations,
                                     self.network.act_params):
            a = a @ W.T + b
            activate_inplace(name, a, param)
            outs.append(a)
        return outs

    def weights(self):
        """(weights, biases): per layer W (n_out, n_in) and b (n_out,), as copies."""
        weights, biases = _params.views(self.params, self.sizes, "flat")
        return [W.copy() for W in weights], [b.copy() for b in biases]
