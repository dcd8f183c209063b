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


def _fann_head(ctype):
    """The leading fields of FANN 2.2's ``struct fann`` (fann_data.h), up to ``weights``."""
    vp, uint, c_int = ctypes.c_void_p, ctypes.c_uint, ctypes.c_int
    return type(f"FannHead_{ctype.__name__}", (ctypes.Structure,),
                {"_fields_": [("errno_f", c_int), ("error_log", vp), ("errstr", vp),
                              ("learning_rate", ctypes.c_float),
                              ("learning_momentum", ctypes.c_float),
                              ("connection_rate", ctypes.c_float), ("network_type", c_int),
                              ("first_layer", vp), ("last_layer", vp),
                              ("total_neurons", uint), ("num_input", uint),
                              ("num_output", uint), ("weights", ctypes.POINTER(ctype))]})


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
                        ("fann_get_connection_array", [vp, vp])]:
        getattr(lib, fname).restype = None
        getattr(lib, fname).argtypes = args
    lib.fann_get_total_connections.restype = uint
    lib.fann_get_total_connections.argtypes = [vp]
    lib.fann_run.restype = ctypes.POINTER(ctype)
    lib.fann_run.argtypes = [vp, vp]
    lib.connection_type = _connection_type(ctype)
    lib.head_type = _fann_head(ctype)
    lib.ctype = ctype
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
        """Copy the weights in.  ``fann_set_weight_array`` searches every connection
        for each one it sets (quadratic: minutes for 10^5 weights), so the values go
        straight into ``ann->weights``, which holds them in the order that
        ``fann_get_connection_array`` lists them (checked by tests/test_benchmarks.py)."""
        n = self.lib.fann_get_total_connections(self.ann)
        conns = (self.lib.connection_type * n)()
        self.lib.fann_get_connection_array(self.ann, conns)
        table = np.ctypeslib.as_array(conns)  # a structured view of the C array
        # Neuron numbering: each layer's units, then its bias neuron.
        starts = np.concatenate([[0], np.cumsum(np.asarray(sizes[:-1]) + 1)])
        to, frm = table["to_neuron"].astype(np.int64), table["from_neuron"].astype(np.int64)
        layer = np.searchsorted(starts, to, side="right") - 2
        values = np.empty(n, dtype=self.dtype)
        for k in range(len(sizes) - 1):
            mine = layer == k
            # Column n_in of [W | b] is the bias neuron.
            wb = np.column_stack([weights[k], biases[k]])
            values[mine] = wb[to[mine] - starts[k + 1], frm[mine] - starts[k]]
        head = ctypes.cast(self.ann, ctypes.POINTER(self.lib.head_type)).contents
        np.ctypeslib.as_array(head.weights, shape=(n,))[:] = values

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
