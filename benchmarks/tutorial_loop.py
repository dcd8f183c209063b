"""The tutorial's training loop, written in its style but with correct math.

This is the baseline the speed-ups are quoted against: the way the NumPy
tutorial trains ``[784, 32, 10]`` on MNIST, one sample at a time, with column
vectors, a reshape and a fresh array for every operation, and zero-filled
gradient lists built anew for every sample.  Three things differ from the
tutorial's listing, so that its results are comparable with annfast's:

* the output layer is linear and feeds the softmax (the listing applied relu
  before the softmax and multiplied the output delta by ``z > 0``);
* the L2 decay is applied, as annfast does: ``W -= lr * (dL/dW + mu * W)``
  with ``mu = reg_lambda / n_train`` (the listing ignored ``reg_lambda``);
* ``identity`` output with the squared error is supported for the painting net.

Nothing here is faster or slower than the tutorial on purpose.
"""

import random

import numpy as np


def relu(z):
    return np.maximum(z, 0)


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


class TutorialNet:
    """Per-sample SGD, the tutorial's way.

    Parameters
    ----------
    weights : list of ndarray of shape (n_out, n_in)
    biases : list of ndarray of shape (n_out, 1)
        Initial parameters (copied).
    learning_rate : float
    mu : float
        Per-sample L2 decay of the weights.
    output : {'softmax', 'identity'}
        Output activation; trained with cross-entropy or the squared error,
        for both of which the output delta is ``a - y``.
    """

    def __init__(self, weights, biases, learning_rate, mu, output="softmax"):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for b in biases]
        self.num_layers = len(self.weights) + 1
        self.learning_rate = learning_rate
        self.mu = mu
        self.output = output

    def feedforward(self, x):
        """Output column (n_out, 1) for one sample x of shape (n_in,)."""
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            x = relu(np.dot(w, np.reshape(x, (len(x), 1))) + b)
        z = np.dot(self.weights[-1], np.reshape(x, (len(x), 1))) + self.biases[-1]
        return softmax(z) if self.output == "softmax" else z

    def backpropagation(self, x, y):
        """Return (weight_gradients, bias_gradients) of one sample (x (n_in,), y (n_out, 1))."""
        weight_gradients = [np.zeros(w.shape) for w in self.weights]
        bias_gradients = [np.zeros(b.shape) for b in self.biases]

        activation = x
        hidden_activations = [np.reshape(x, (len(x), 1))]
        z_list = []
        for w, b in zip(self.weights, self.biases):
            z = np.dot(w, np.reshape(activation, (len(activation), 1))) + b
            z_list.append(z)
            activation = relu(z)
            hidden_activations.append(activation)
        # The output layer is linear: replace its relu by softmax (or nothing).
        z = z_list[-1]
        hidden_activations[-1] = softmax(z) if self.output == "softmax" else z

        # softmax + cross-entropy and identity + squared error: dL/dz = a - y.
        delta = hidden_activations[-1] - y
        weight_gradients[-1] = np.dot(delta, hidden_activations[-2].T)
        bias_gradients[-1] = delta
        for i in range(2, self.num_layers):
            z = z_list[-i]
            delta = np.dot(self.weights[-i + 1].T, delta) * (z > 0)
            weight_gradients[-i] = np.dot(delta, hidden_activations[-i - 1].T)
            bias_gradients[-i] = delta
        return weight_gradients, bias_gradients

    def update_params(self, weight_gradients, bias_gradients):
        for i in range(len(self.weights)):
            self.weights[i] += -self.learning_rate * (weight_gradients[i]
                                                      + self.mu * self.weights[i])
            self.biases[i] += -self.learning_rate * bias_gradients[i]

    def train(self, training_data, epochs=10, seed=0):
        """The tutorial's ``train`` (without validation data or printing): shuffle the
        list in place each epoch, split it into inputs and targets, one step per pair."""
        rng = random.Random(seed)
        for _ in range(epochs):
            rng.shuffle(training_data)
            inputs = [data[0] for data in training_data]
            targets = [data[1] for data in training_data]
            for j in range(len(inputs)):
                weight_gradients, bias_gradients = self.backpropagation(inputs[j], targets[j])
                self.update_params(weight_gradients, bias_gradients)

    def train_epoch(self, training_data, order):
        """One pass over ``training_data`` (a list of (x, y) pairs) in ``order``."""
        for j in order:
            x, y = training_data[j]
            weight_gradients, bias_gradients = self.backpropagation(x, y)
            self.update_params(weight_gradients, bias_gradients)
