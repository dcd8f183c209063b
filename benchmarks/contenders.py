"""Every implementation the benchmark compares, behind one small interface.

A contender is built from a :class:`~benchmarks.workloads.Task` and the same
initial parameters (annfast's flat float64 buffer), and offers

* ``train_epoch(order)``: one pass of per-sample SGD over ``task.X`` (contenders
  that shuffle internally, annfast and scikit-learn, draw their own order);
* ``outputs(X)``: the network outputs, probabilities or values, shape (n, k).

All of them do the same work per sample: forward, backward, update of every
weight with the L2 decay ``mu`` (biases not decayed), step ``task.lr`` (FANN
streams the same weights but with its own activations and loss, see
:mod:`benchmarks.fann`).  Optional libraries (PyTorch, FANN) are skipped with
a reason when missing.
"""

import warnings

import numpy as np

from annfast import NeuralNet, reference
from annfast._params import init_params, views
from benchmarks.tutorial_loop import TutorialNet
from benchmarks.workloads import SEED


def initial_params(task):
    """The flat float64 parameter buffer every contender starts from (Xavier normal)."""
    return init_params(task.sizes, "xavier", np.random.default_rng(SEED), np.float64)


def layer_arrays(task, params):
    """Copies of (weights, biases): lists of (n_out, n_in) and (n_out,) float64 arrays."""
    weights, biases = views(params, task.sizes, bias_shape="flat")
    return [w.copy() for w in weights], [b.copy() for b in biases]


class Contender:
    """Base class: ``key`` names it in JSON, ``label`` in the tables."""

    key = ""
    label = ""
    dtype = np.float64
    trains = True

    @classmethod
    def skip_reason(cls):
        """None if the contender can run here, else why not."""
        return None

    def __init__(self, task, params):
        self.task = task

    def train_epoch(self, order):
        raise NotImplementedError

    def outputs(self, X):
        raise NotImplementedError


class Annfast(Contender):
    """annfast's public API: ``NeuralNet.fit(X, Y, epochs=1)`` per epoch."""

    def __init__(self, task, params):
        super().__init__(task, params)
        # fit's decay per sample is reg_lambda / len(X); this makes it task.mu.
        self.net = NeuralNet(list(task.sizes), task.lr, task.mu * task.n_train,
                             activation=task.hidden, output=task.output, dtype=self.dtype,
                             seed=SEED)
        weights, biases = layer_arrays(task, params)
        for i, (w, b) in enumerate(zip(weights, biases)):
            self.net.weights[i][...] = w
            self.net.biases[i][...] = b.reshape(-1, 1)
        # Converted once, outside the timings, as a user holding float32 data would.
        self.X = np.ascontiguousarray(task.X, dtype=self.dtype)
        self.Y = np.ascontiguousarray(task.Y, dtype=self.dtype)
        #: fit's own per-epoch times (its loop only, without the per-call input
        #: checks and conversions), to show what those cost.
        self.in_loop_seconds = []

    def train_epoch(self, order):
        self.net.fit(self.X, self.Y, epochs=1, shuffle=True)
        self.in_loop_seconds.append(self.net.history_["time"][-1])

    def outputs(self, X):
        return self.net.predict_proba(X)


class AnnfastF64(Annfast):
    key, label, dtype = "annfast-f64", "annfast float64", np.float64


class AnnfastF32(Annfast):
    key, label, dtype = "annfast-f32", "annfast float32", np.float32


class Reference(Contender):
    """``annfast.reference.sgd_epoch``: the readable NumPy specification."""

    key, label = "reference", "annfast.reference (NumPy)"

    def __init__(self, task, params):
        super().__init__(task, params)
        self.weights, self.biases = layer_arrays(task, params)
        self.acts = [task.hidden] * (len(task.sizes) - 2) + [task.output]

    def train_epoch(self, order):
        reference.sgd_epoch(self.weights, self.biases, self.acts, self.task.loss, self.task.X,
                            self.task.Y, order, self.task.lr, self.task.mu)

    def outputs(self, X):
        return reference.predict(self.weights, self.biases, self.acts, X)


class Tutorial(Contender):
    """The tutorial-style loop of :mod:`benchmarks.tutorial_loop`."""

    key, label = "tutorial", "tutorial-style NumPy loop"

    def __init__(self, task, params):
        super().__init__(task, params)
        weights, biases = layer_arrays(task, params)
        self.net = TutorialNet(weights, biases, task.lr, task.mu, task.output)
        # The tutorial's data: a list of (x vector, y column) pairs, built once.
        self.data = [(x, y.reshape(-1, 1)) for x, y in zip(task.X, task.Y)]

    def train_epoch(self, order):
        self.net.train_epoch(self.data, order)

    def outputs(self, X):
        return np.array([self.net.feedforward(x)[:, 0] for x in X])


class NumpyMatmul(Contender):
    """Prediction only: the whole batch through ``X @ W.T`` per layer (BLAS)."""

    trains = False

    def __init__(self, task, params):
        super().__init__(task, params)
        weights, biases = layer_arrays(task, params)
        self.weights = [w.astype(self.dtype) for w in weights]
        self.biases = [b.astype(self.dtype) for b in biases]

    def outputs(self, X):
        a = X
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            a = a @ w.T
            a += b
            np.maximum(a, 0, out=a)
        z = a @ self.weights[-1].T
        z += self.biases[-1]
        if self.task.output != "softmax":
            return z
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z


class NumpyMatmulF64(NumpyMatmul):
    key, label, dtype = "numpy-matmul-f64", "NumPy matmul forward float64", np.float64


class NumpyMatmulF32(NumpyMatmul):
    key, label, dtype = "numpy-matmul-f32", "NumPy matmul forward float32", np.float32


class Sklearn(Contender):
    """scikit-learn's MLPClassifier/MLPRegressor, per-sample SGD through ``partial_fit``."""

    key, label = "sklearn", "scikit-learn MLP (sgd, batch_size=1)"

    def __init__(self, task, params):
        super().__init__(task, params)
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPClassifier if task.is_classifier else MLPRegressor
        # Same architecture, relu, constant step, no momentum, L2 alpha = mu: with
        # batch_size=1 its step is W -= lr * (dL/dW + alpha * W), as annfast's.
        # Its initial weights are its own Glorot-uniform draw, which has the same
        # variance, 2 / (fan_in + fan_out), as the Xavier-normal start of the others.
        self.est = cls(hidden_layer_sizes=task.sizes[1:-1], activation=task.hidden,
                       solver="sgd", alpha=task.mu, batch_size=1, learning_rate="constant",
                       learning_rate_init=task.lr, momentum=0.0, nesterovs_momentum=False,
                       shuffle=True, random_state=SEED)
        self.y = task.labels if task.is_classifier else task.Y
        self.classes = np.arange(task.sizes[-1])

    def train_epoch(self, order):
        # partial_fit is exactly one pass over the data; it never stops early.
        # It does not check convergence, so no ConvergenceWarning can arise; the
        # filter only guards against future versions warning on every call.
        with warnings.catch_warnings():
            from sklearn.exceptions import ConvergenceWarning

            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.task.is_classifier:
                self.est.partial_fit(self.task.X, self.y, classes=self.classes)
            else:
                self.est.partial_fit(self.task.X, self.y)

    def outputs(self, X):
        if self.task.is_classifier:
            return self.est.predict_proba(X)
        return self.est.predict(X).reshape(len(X), -1)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


class Torch(Contender):
    """PyTorch: ``nn.Linear`` layers, ``torch.optim.SGD``, one sample per step."""

    @classmethod
    def skip_reason(cls):
        if _torch() is None:
            return "PyTorch is not installed (pip install torch) - skipped"
        return None

    def __init__(self, task, params):
        super().__init__(task, params)
        torch = _torch()
        nn = torch.nn
        self.torch = torch
        tdtype = torch.float64 if self.dtype == np.float64 else torch.float32
        weights, biases = layer_arrays(task, params)
        layers = []
        for i, (w, b) in enumerate(zip(weights, biases)):
            lin = nn.Linear(w.shape[1], w.shape[0], dtype=tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(weights) - 1:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        decay = [lin.weight for lin in layers if isinstance(lin, nn.Linear)]
        plain = [lin.bias for lin in layers if isinstance(lin, nn.Linear)]
        # weight_decay adds mu * W to the gradient of the weights only: annfast's step.
        self.opt = torch.optim.SGD([{"params": decay, "weight_decay": task.mu},
                                    {"params": plain, "weight_decay": 0.0}], lr=task.lr)
        self.X = torch.from_numpy(np.ascontiguousarray(task.X, dtype=self.dtype))
        if task.is_classifier:
            self.target = torch.from_numpy(task.labels)
        else:
            self.target = torch.from_numpy(np.ascontiguousarray(task.Y, dtype=self.dtype))

    def train_epoch(self, order):
        F = self.torch.nn.functional
        model, opt, X, T = self.model, self.opt, self.X, self.target
        classify = self.task.is_classifier
        for i in order.tolist():
            opt.zero_grad()
            out = model(X[i:i + 1])
            if classify:
                # log-softmax + NLL on the logits: the softmax/cross-entropy pair.
                loss = F.cross_entropy(out, T[i:i + 1], reduction="sum")
            else:
                loss = 0.5 * ((out - T[i:i + 1]) ** 2).sum()
            loss.backward()
            opt.step()

    def outputs(self, X):
        torch = self.torch
        with torch.no_grad():
            out = self.model(torch.from_numpy(np.ascontiguousarray(X, dtype=self.dtype)))
            if self.task.is_classifier:
                out = torch.softmax(out, dim=1)
        return out.numpy()


class TorchF64(Torch):
    key, label, dtype = "torch-f64", "PyTorch float64 (batch 1)", np.float64


class TorchF32(Torch):
    key, label, dtype = "torch-f32", "PyTorch float32 (batch 1)", np.float32


class Fann(Contender):
    """FANN 2.2, incremental training, through :mod:`benchmarks.fann` (ctypes).

    Not the same math (tanh hidden units, logistic outputs trained on the
    squared error, no L2 decay: FANN has no relu/softmax/cross-entropy), but
    the same weights streamed per sample; its loss is shown for information.
    """

    @classmethod
    def skip_reason(cls):
        from benchmarks import fann

        if fann.load(cls.dtype) is None:
            return (f"FANN (lib{fann.LIBRARIES[cls.dtype]}, Debian libfann-dev) is not "
                    "installed - skipped")
        return None

    def __init__(self, task, params):
        super().__init__(task, params)
        from benchmarks import fann

        weights, biases = layer_arrays(task, params)
        self.net = fann.FannNet(fann.load(self.dtype), task.sizes, weights, biases, task.lr,
                                task.is_classifier, self.dtype)
        self.X = np.ascontiguousarray(task.X, dtype=self.dtype)
        self.Y = np.ascontiguousarray(task.Y, dtype=self.dtype)
        self.x_ptrs = self.net.row_pointers(self.X)
        self.y_ptrs = self.net.row_pointers(self.Y)

    def train_epoch(self, order):
        self.net.train_rows(self.x_ptrs, self.y_ptrs, order)

    def outputs(self, X):
        out = self.net.outputs(X).astype(np.float64)
        if self.task.is_classifier:  # logistic outputs, normalised to compare losses
            out = np.clip(out, 1e-12, None)
            out /= out.sum(axis=1, keepdims=True)
        return out


class FannF64(Fann):
    key, label, dtype = "fann-f64", "FANN 2.2 float64 (incremental, C)", np.float64


class FannF32(Fann):
    key, label, dtype = "fann-f32", "FANN 2.2 float32 (incremental, C)", np.float32


class PlainC(Contender):
    """Issue 4's plain C reference: the careful textbook loops of
    ``benchmarks/plain_c.c``, compiled here (see :mod:`benchmarks.plain_c` for
    the flags).  Mostly-zero inputs (annfast's sparse threshold) go through its
    sparse first layer, their CSR arrays built once outside the timings, as a C
    programmer holding such data would."""

    @classmethod
    def skip_reason(cls):
        from benchmarks import plain_c

        if plain_c.load(cls.dtype) is None:
            return "no C compiler (gcc, or $CC) to build benchmarks/plain_c.c - skipped"
        return None

    def __init__(self, task, params):
        super().__init__(task, params)
        from annfast import _sparse
        from benchmarks import plain_c

        csr = None
        if task.density <= _sparse.SPARSE_DENSITY:
            csr = _sparse.csr_arrays(task.X, self.dtype)
        self.net = plain_c.PlainCNet(plain_c.load(self.dtype), task.sizes, params,
                                     task.output == "softmax", task.X, task.Y, csr, task.lr,
                                     task.mu, self.dtype)

    def train_epoch(self, order):
        self.net.train_epoch(order)

    def outputs(self, X):
        weights, biases = views(self.net.params.astype(np.float64), self.task.sizes,
                                bias_shape="flat")
        acts = [self.task.hidden] * (len(self.task.sizes) - 2) + [self.task.output]
        return reference.predict(weights, biases, acts, X)


class PlainCF64(PlainC):
    key, dtype = "plain-c-f64", np.float64
    label = "plain C float64 (gcc -O3 -march=native -ffast-math)"


class PlainCF32(PlainC):
    key, dtype = "plain-c-f32", np.float32
    label = "plain C float32 (gcc -O3 -march=native -ffast-math)"


#: Training contenders, in table order (annfast float64 is the ratio's base).
TRAINING = (AnnfastF64, AnnfastF32, Reference, Tutorial, Sklearn, TorchF64, TorchF32, FannF64,
            FannF32, PlainCF64, PlainCF32)
#: Prediction contenders: NumPy matmul is the baseline of the prediction target.
PREDICTION = (AnnfastF64, AnnfastF32, NumpyMatmulF64, NumpyMatmulF32, Reference, Tutorial,
              Sklearn, TorchF64, TorchF32)
BY_KEY = {c.key: c for c in TRAINING + PREDICTION}


def available(classes, only=None):
    """Split contender classes into (runnable, {key: skip reason}).

    ``only``: optional collection of keys to keep.
    """
    run, skipped = [], {}
    for cls in classes:
        if only is not None and cls.key not in only:
            continue
        reason = cls.skip_reason()
        if reason is None:
            run.append(cls)
        else:
            skipped[cls.key] = reason
    return run, skipped
