"""A minimal ctypes binding of FANN 2.2 (the classic C library), for the benchmark.

Only what incremental (per-sample) training needs: create a standard fully
connected net, set activations, step and error function, load weights, train
on one sample, run one sample.  ``libdoublefann`` gives float64, ``libfloatfann``
float32 (Debian: ``apt-get install libfann-dev``); :func:`load` returns None
when the library is not installed.

FANN has no relu, softmax or cross-entropy: hidden units are
``FANN_SIGMOID_SYMMETRIC`` (tanh(z / 2) at FANN's default steepness 0.5),
outputs ``FANN_SIGMOID`` (the logistic function; classification, trained with
the squared error on one-hot targets) or linear (regression), and there is no
L2 decay.  Each sample still streams every weight through the forward pass,
the backward pass and the update, so its speed is comparable; its loss is not.
"""

import ctypes
import ctypes.util

import numpy as np

FANN_TRAIN_INCREMENTAL = 0
FANN_ERRORFUNC_LINEAR = 0
FANN_LINEAR = 0
FANN_SIGMOID = 3
FANN_SIGMOID_SYMMETRIC = 5

LIBRARIES = {np.float64: "doublefann", np.float32: "floatfann"}


def _connection_type(ctype):
    """struct fann_connection {unsigned from_neuron, to_neuron; fann_type weight;}."""
    return type(f"Connection_{ctype.__name__}", (ctypes.Structure,),
                {"_fields_": [("from_neuron", ctypes.c_uint), ("to_neuron", ctypes.c_uint),
                              ("weight", ctype)]})


def load(dtype):
    """The FANN library for dtype with its prototypes declared, or None if absent."""
    name = ctypes.util.find_library(LIBRARIES[dtype])
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    ctype = ctypes.c_double if dtype == np.float64 else ctypes.c_float
    vp, uint, flt = ctypes.c_void_p, ctypes.c_uint, ctypes.c_float
    lib.fann_create_standard_array.restype = vp
    lib.fann_create_standard_array.argtypes = [uint, ctypes.POINTER(uint)]
    for fname, args in [("fann_destroy", [vp]), ("fann_set_training_algorithm", [vp, ctypes.c_int]),
                        ("fann_set_learning_rate", [vp, flt]),
                        ("fann_set_learning_momentum", [vp, flt]),
                        ("fann_set_activation_function_hidden", [vp, ctypes.c_int]),
                        ("fann_set_activation_function_output", [vp, ctypes.c_int]),
                        ("fann_set_train_error_function", [vp, ctypes.c_int]),
                        ("fann_train", [vp, vp, vp]),
                        ("fann_get_connection_array", [vp, vp]),
                        ("fann_set_weight_array", [vp, vp, uint])]:
        getattr(lib, fname).restype = None
        getattr(lib, fname).argtypes = args
    lib.fann_get_total_connections.restype = uint
    lib.fann_get_total_connections.argtypes = [vp]
    lib.fann_run.restype = ctypes.POINTER(ctype)
    lib.fann_run.argtypes = [vp, vp]
    lib.connection_type = _connection_type(ctype)
    return lib


class FannNet:
    """One FANN network trained per sample, with annfast's initial weights.

    Parameters
    ----------
    lib : the library from :func:`load`
    sizes : sequence of int
    weights, biases : lists of (n_out, n_in) and (n_out,) arrays
        Initial parameters (FANN's bias neuron is the last neuron of each layer).
    lr : float
    classify : bool
        Logistic outputs if True, linear outputs otherwise.
    dtype : np.float64 or np.float32
    """

    def __init__(self, lib, sizes, weights, biases, lr, classify, dtype):
        self.lib, self.dtype, self.n_out = lib, dtype, sizes[-1]
        layers = (ctypes.c_uint * len(sizes))(*sizes)
        self.ann = lib.fann_create_standard_array(len(sizes), layers)
        if not self.ann:
            raise MemoryError("fann_create_standard_array failed")
        lib.fann_set_training_algorithm(self.ann, FANN_TRAIN_INCREMENTAL)
        lib.fann_set_learning_rate(self.ann, lr)
        lib.fann_set_learning_momentum(self.ann, 0.0)
        lib.fann_set_activation_function_hidden(self.ann, FANN_SIGMOID_SYMMETRIC)
        lib.fann_set_activation_function_output(self.ann, FANN_SIGMOID if classify
                                                else FANN_LINEAR)
        lib.fann_set_train_error_function(self.ann, FANN_ERRORFUNC_LINEAR)
        self._set_weights(sizes, weights, biases)

    def _set_weights(self, sizes, weights, biases):
        n = self.lib.fann_get_total_connections(self.ann)
        conns = (self.lib.connection_type * n)()
        self.lib.fann_get_connection_array(self.ann, conns)
        # Neuron numbering: each layer's units, then its bias neuron.
        starts = np.concatenate([[0], np.cumsum(np.asarray(sizes[:-1]) + 1)])
        for c in conns:
            layer = int(np.searchsorted(starts, c.to_neuron, side="right")) - 2
            j = c.to_neuron - starts[layer + 1]
            i = c.from_neuron - starts[layer]
            c.weight = biases[layer][j] if i == sizes[layer] else weights[layer][j, i]
        self.lib.fann_set_weight_array(self.ann, conns, n)

    def row_pointers(self, A):
        """Addresses of the rows of a C-contiguous array A (kept alive by the caller)."""
        base, step = A.ctypes.data, A.strides[0]
        return [base + i * step for i in range(len(A))]

    def train_rows(self, x_ptrs, y_ptrs, order):
        train, ann = self.lib.fann_train, self.ann
        for i in order.tolist():
            train(ann, x_ptrs[i], y_ptrs[i])

    def outputs(self, X):
        X = np.ascontiguousarray(X, dtype=self.dtype)
        out = np.empty((len(X), self.n_out), dtype=self.dtype)
        for r, p in enumerate(self.row_pointers(X)):
            res = self.lib.fann_run(self.ann, p)
            out[r] = res[:self.n_out]
        return out

    def __del__(self):
        if getattr(self, "ann", None):
            self.lib.fann_destroy(self.ann)
            self.ann = None
