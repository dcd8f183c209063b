"""`python -m annfast demo`: the tutorial's MNIST network, trained by annfast."""

import argparse
import time

import numpy as np

from annfast import NeuralNet, reference
from annfast.datasets import load_mnist_subset, split_70_15_15


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m annfast demo",
                                     description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = parser.parse_args(argv)

    X, y, name = load_mnist_subset()
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = split_70_15_15(X, y, args.seed)
    layers = [X.shape[1], args.hidden, 10]
    print(f"data: {name}: {len(X_train)} train / {len(X_val)} validation / {len(X_test)} test, "
          f"inputs binarised to 0/1")
    print(f"network: NeuralNet({layers}, learning_rate=0.05, reg_lambda=0.01), {args.dtype}")

    def pairs(X, y):  # the tutorial's data layout: (x, one-hot column) pairs
        return [(x, np.eye(10)[label].reshape(10, 1)) for x, label in zip(X, y)]

    net = NeuralNet(layers, seed=args.seed, dtype=args.dtype)
    start = time.perf_counter()
    net.train(pairs(X_train, y_train), pairs(X_val, y_val), epochs=args.epochs)
    elapsed = time.perf_counter() - start
    print(f"test accuracy: {net.test(pairs(X_test, y_test)):.2f}%  "
          f"({args.epochs} epochs in {elapsed:.3f} s)")

    # Speed-up over the plain NumPy reference: one epoch each, same data, same order.
    Y = np.eye(10)[y_train]
    order = np.random.default_rng(args.seed).permutation(len(X_train))
    ref = NeuralNet(layers, seed=args.seed)
    weights = [w.copy() for w in ref.weights]
    biases = [b.ravel().copy() for b in ref.biases]
    acts = ["relu"] * (len(layers) - 2) + ["softmax"]
    t0 = time.perf_counter()
    reference.sgd_epoch(weights, biases, acts, "ce", X_train, Y, order, 0.05,
                        0.01 / len(X_train))
    t_ref = time.perf_counter() - t0
    fast = NeuralNet(layers, seed=args.seed, dtype=args.dtype)
    t0 = time.perf_counter()
    fast.fit(X_train, y_train, epochs=1)
    t_fast = time.perf_counter() - t0
    print(f"one epoch: annfast {len(X_train) / t_fast:,.0f} samples/s, NumPy reference "
          f"{len(X_train) / t_ref:,.0f} samples/s: {t_ref / t_fast:.1f}x faster")
