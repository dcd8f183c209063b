"""Time per epoch of the tutorial's Keras model on annfast.keras and on the real thing.

The model is the tutorial's ``Dense(10, sigmoid) -> Dense(1, sigmoid)`` with binary
cross-entropy and ``optimizer='sgd'``, trained on 10,000 samples, per sample
(``batch_size=1``) and with Keras' default batch of 32.  Backends, each skipped
with a message when it cannot be imported:

* ``annfast.keras`` (float32, Keras' default dtype, and float64);
* TensorFlow-Keras (``tensorflow.keras``) and Keras 3 on PyTorch (``keras`` with
  ``KERAS_BACKEND=torch``): the same script, ``from annfast import keras`` swapped;
* PyTorch by hand (``torch.nn`` + ``torch.optim.SGD``, mean-reduced BCE): what a
  minimal framework loop costs, for scale;
* the NumPy reference (``annfast.reference.sgd_epoch``, per sample only), timed on
  the first 1,000 samples and scaled by 10.

Run:  python benchmarks/keras_compare.py [--samples 10000] [--features 20] [--repeat 5]
Prints a markdown table (min and median seconds per epoch over ``--repeat`` epochs,
after one warm-up epoch) and the command that produced it.

``--mnist`` instead times MNIST-shaped models (784 inputs, 10 softmax outputs,
categorical cross-entropy, SGD, float32) on annfast.keras and Keras 3 on PyTorch,
both on one thread: [784, 128, 10] at batch 32 and at batch 1, and
[784, 512, 512, 10] at batch 128 with a Dropout(0.2) after each hidden layer
(without them on both sides when annfast.keras has no Dropout layer, which the
output says).  Run:  python benchmarks/keras_compare.py --mnist [--samples 2000]
"""

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

HIDDEN = 10


def make_data(n_samples, n_features, seed=0):
    """A noisy two-class problem with a non-linear boundary, as float64."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    score = X[:, 0] + 0.5 * X[:, 1] ** 2 - 0.5 + 0.3 * rng.normal(size=n_samples)
    return X, (score > 0).astype(np.float64)


def time_epochs(run_epoch, repeat):
    """(min, median) seconds per epoch after a warm-up epoch, and the last epoch's result.

    The minimum is the least disturbed run on a shared machine; the median is typical."""
    result = run_epoch()  # warm-up (imports, allocations, JIT caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_epoch()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


# -- backends: each returns a function training one epoch, or raises ImportError ------


def keras_like(keras, X, y, batch_size, dtype=None):
    model = keras.models.Sequential()
    kwargs = {} if dtype is None else {"dtype": dtype}
    model.add(keras.layers.Dense(units=HIDDEN, input_dim=X.shape[1], activation="sigmoid",
                                 **kwargs))
    model.add(keras.layers.Dense(units=1, activation="sigmoid", **kwargs))
    model.compile(loss="binary_crossentropy", optimizer="sgd")

    def run_epoch():
        return model.fit(X, y, batch_size=batch_size, epochs=1, verbose=0).history["loss"][-1]

    return run_epoch


def make_annfast(dtype):
    def make(X, y, batch_size):
        from annfast import keras

        keras.utils.set_random_seed(0)
        return keras_like(keras, X.astype(dtype), y.astype(dtype), batch_size,
                          np.dtype(dtype).name)

    return make


def make_tf_keras(X, y, batch_size):
    from tensorflow import keras  # noqa: PLC0415 (optional)

    return keras_like(keras, X.astype(np.float32), y.astype(np.float32), batch_size)


def make_keras_torch(X, y, batch_size):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras  # noqa: PLC0415 (optional)

    if keras.backend.backend() != "torch":
        raise ImportError(f"keras is configured for {keras.backend.backend()!r}, not torch")
    return keras_like(keras, X.astype(np.float32), y.astype(np.float32), batch_size)


def make_torch(X, y, batch_size):
    import torch  # noqa: PLC0415 (optional)

    torch.manual_seed(0)
    torch.set_num_threads(1)
    Xt = torch.from_numpy(X.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.float32)).reshape(-1, 1)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], HIDDEN), torch.nn.Sigmoid(),
                                torch.nn.Linear(HIDDEN, 1), torch.nn.Sigmoid())
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.BCELoss()
    n = len(X)

    def run_epoch():
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / n

    return run_epoch


def make_reference(X, y, batch_size):
    if batch_size != 1:
        raise ImportError("the NumPy reference trains per sample only")
    from annfast import reference  # noqa: PLC0415

    rng = np.random.default_rng(0)
    sizes = [X.shape[1], HIDDEN, 1]
    weights = [rng.uniform(-0.5, 0.5, size=(o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [np.zeros(o) for o in sizes[1:]]
    m = min(len(X), 1000)
    Xs, Ys = X[:m], y[:m].reshape(-1, 1)

    def run_epoch():
        order = rng.permutation(m)
        return reference.sgd_epoch(weights, biases, ["sigmoid", "sigmoid"], "bce", Xs, Ys,
                                   order, 0.01)

    run_epoch.scale = len(X) / m
    return run_epoch


BACKENDS = {
    "annfast.keras float32": make_annfast(np.float32),
    "annfast.keras float64": make_annfast(np.float64),
    "tensorflow.keras": make_tf_keras,
    "keras 3 (torch backend)": make_keras_torch,
    "torch by hand (1 thread)": make_torch,
    "numpy reference (x10 from 1k)": make_reference,
}


def mnist_model(keras, hidden, dropout):
    layers = [keras.Input(shape=(784,))]
    for units in hidden:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
    return model


def one_thread():
    """Limit BLAS/OpenMP pools (annfast's GEMM path, torch) to one thread."""
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 (optional)
    except ImportError:
        return None
    return threadpool_limits(1)


def mnist_rows(args):
    """Seconds per epoch of the MNIST-shaped models on annfast.keras and Keras 3 (torch)."""
    from annfast import keras as ours  # noqa: PLC0415

    os.environ.setdefault("KERAS_BACKEND", "torch")
    limits = one_thread()
    try:
        import keras as theirs  # noqa: PLC0415 (optional)
        import torch  # noqa: PLC0415 (optional)

        torch.set_num_threads(1)
    except ImportError as exc:
        print(f"Keras 3 on PyTorch is not installed ({exc}); nothing to compare")
        return 1
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(args.samples, 784)).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=args.samples)]
    has_dropout = hasattr(ours.layers, "Dropout")
    cases = [([128], 0.0, 32, "3x"), ([128], 0.0, 1, "20x"),
             ([512, 512], 0.2 if has_dropout else 0.0, 128, "1x")]
    print(f"MNIST-shaped models (784 -> ... -> 10 softmax), categorical cross-entropy, "
          f"SGD(0.01), float32, {args.samples} samples, one thread; min and median of "
          f"{args.repeat} epochs after one warm-up")
    print(f"machine: {platform.machine()} ({os.cpu_count()} cores), Python "
          f"{platform.python_version()}, NumPy {np.__version__}, Keras {theirs.__version__}, "
          f"torch {torch.__version__}\n")
    print("| layers | dropout | batch | annfast s/epoch (min, median) | Keras 3 torch s/epoch "
          "(min, median) | Keras / annfast (min) | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for hidden, dropout, batch, target in cases:
        times = []
        for keras in (ours, theirs):
            model = mnist_model(keras, hidden, dropout)
            times.append(time_epochs(lambda m=model: m.fit(X, Y, batch_size=batch, epochs=1,
                                                           verbose=0), args.repeat))
        (a_min, a_med, _), (k_min, k_med, _) = times
        print(f"| {[784, *hidden, 10]} | {dropout or '-'} | {batch} | {a_min:.3f}, {a_med:.3f} "
              f"| {k_min:.3f}, {k_med:.3f} | {k_min / a_min:.1f} | {target} |")
    if not has_dropout:
        print("\nannfast.keras has no Dropout layer in this build: the [784, 512, 512, 10] row "
              "runs without Dropout on both sides")
    print(f"\ncommand: python benchmarks/keras_compare.py --mnist --samples {args.samples} "
          f"--repeat {args.repeat}")
    if limits is not None:
        limits.restore_original_limits()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=None,
                        help="10000 (2000 with --mnist)")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mnist", action="store_true",
                        help="the MNIST-shaped models against Keras 3 on PyTorch")
    args = parser.parse_args(argv)
    if args.mnist:
        args.samples = args.samples or 2000
        return mnist_rows(args)
    args.samples = args.samples or 10_000
    X, y = make_data(args.samples, args.features)
    rows, notes = [], []
    baseline = {}
    for batch_size in (1, 32):
        for name, make in BACKENDS.items():
            try:
                run_epoch = make(X, y, batch_size)
            except ImportError as exc:
                if batch_size == 1 or "reference" not in name:
                    notes.append(f"skipped {name} (batch {batch_size}): {exc}")
                continue
            fastest, median, loss = time_epochs(run_epoch, args.repeat)
            scale = getattr(run_epoch, "scale", 1.0)
            fastest, median = fastest * scale, median * scale
            baseline.setdefault(batch_size, fastest)
            rows.append((batch_size, name, fastest, median, fastest / baseline[batch_size], loss))
    command = "python benchmarks/keras_compare.py " + " ".join(
        f"--{k} {v}" for k, v in vars(args).items())
    print(f"Dense({HIDDEN}, sigmoid) -> Dense(1, sigmoid), binary cross-entropy, SGD(0.01); "
          f"{args.samples} samples x {args.features} features; min and median of "
          f"{args.repeat} epochs after one warm-up")
    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"({os.cpu_count()} cores), Python {platform.python_version()}, "
          f"NumPy {np.__version__}\n")
    print("| batch_size | backend | s / epoch (min) | (median) | x annfast float32 (min) "
          "| last epoch loss |")
    print("|---:|---|---:|---:|---:|---:|")
    for batch_size, name, fastest, median, ratio, loss in rows:
        print(f"| {batch_size} | {name} | {fastest:.4f} | {median:.4f} | {ratio:.1f} "
              f"| {loss:.4f} |")
    for note in notes:
        print(f"\n{note}", end="")
    print(f"\n\ncommand: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
