"""Small fixed workloads to count instructions with callgrind, where wall times
on a shared machine swing too much to compare two builds.

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m benchmarks.instruction_counts WORKLOAD [ARGS]

Set ``OPENBLAS_NUM_THREADS=1`` for the workloads that go through BLAS (batches
of 4 or more, prediction, the sklearn and keras ones): valgrind runs threads one
at a time and counts the spinning of idle BLAS threads too.

Workloads (run ``none`` too and subtract it: the interpreter's start-up and
imports):
    none                       imports and data only
    tutorial                   NeuralNet.train on 500 binarised pairs, 5 epochs
    dense                      NeuralNet.fit on 2,000 dense rows, 2 epochs
    sklearn                    MLPRegressor, 4 layers of 100, 5 epochs of Adam
    keras                      Sequential [784, 32, 10], Adam, 2 epochs
    predict                    NeuralNet.predict of 1,000 rows, 5 times
    epoch DTYPE ACT N WEIGHTS [BATCH [OPT]]
                               N epochs of [784, 32, 10] on 3,500 binarised
                               rows (DTYPE f32|f64, ACT the hidden activation,
                               WEIGHTS none|ones|sum|dropout: no weights, weights of one
                               by Keras' rule, or weights in [0.5, 1.5) by
                               scikit-learn's rule, weight_divisor='sum', or no
                               weights and dropout 0.2 on the hidden layer; BATCH
                               the batch size, default 1, per-sample; OPT the
                               optimizer, default sgd): instructions per epoch =
                               (count at N - count at 1) / (N - 1)
"""

import sys

import numpy as np


def main(argv):
    which = argv[0] if argv else "none"
    rng = np.random.default_rng(0)
    if which == "epoch":
        _epochs(rng, *argv[1:7])
        return
    from annfast import NeuralNet, keras
    from annfast.sklearn import MLPRegressor

    xb = (rng.random((500, 784)) < 0.19).astype(np.int64)
    yb = rng.integers(0, 10, 500)
    pairs = [(x, np.eye(10)[k].reshape(10, 1)) for x, k in zip(xb, yb)]
    xd = rng.normal(size=(1000, 784))
    xp, yp = rng.random((300, 2)), rng.random((300, 3))
    if which == "tutorial":
        NeuralNet([784, 32, 10], seed=0).train(pairs, epochs=5, verbose=False)
    elif which == "dense":
        NeuralNet([784, 32, 10], seed=0).fit(xd, yb.repeat(2), epochs=2)
    elif which == "sklearn":
        MLPRegressor((100,) * 4, max_iter=5, random_state=0, tol=0).fit(xp, yp)
    elif which == "keras":
        model = keras.Sequential([keras.layers.Dense(32, input_dim=784, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        model.fit(xd, yb.repeat(2), epochs=2, verbose=0)
    elif which == "predict":
        net = NeuralNet([784, 32, 10], seed=0)
        for _ in range(5):
            net.predict(xd)
    elif which != "none":
        raise SystemExit(f"unknown workload {which!r}; see the module docstring")


def _epochs(rng, dtype_name, hidden, epochs, weights, batch="1", optimizer="sgd"):
    from annfast import _kernels

    dtype = np.float32 if dtype_name == "f32" else np.float64
    X = (rng.random((3500, 784)) < 0.2).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 3500)]
    arch = _kernels.Arch([784, 32, 10], [hidden, "softmax"], "ce")
    p0 = rng.normal(0, 0.05, arch.n_params).astype(dtype)
    # Drawn whatever WEIGHTS is, so that every variant makes the same draws.
    random_weights = rng.uniform(0.5, 1.5, len(X))
    extra = {"none": {}, "ones": {"sample_weight": np.ones(len(X))},
             "sum": {"sample_weight": random_weights, "weight_divisor": "sum"},
             "dropout": {"dropout": [0.2], "dropout_seed": 1}}[weights]
    state = np.zeros(_kernels.opt_state_size(optimizer, arch.n_params), dtype)
    for _ in range(int(epochs)):
        _kernels.train(arch, p0.copy(), state.copy(), X, Y, rng.permutation(len(X)),
                       int(batch), optimizer, 0.01, 1e-5, **extra)


if __name__ == "__main__":
    main(sys.argv[1:])
