"""The plain C reference of issue 4's table, built here and run through ctypes.

``benchmarks/plain_c.c`` holds the textbook per-sample SGD loops; :func:`load`
compiles it with ``gcc -O3 -march=native`` (as the issue's reference rows) and
``-ffast-math``, for float32 or float64, into ``benchmarks/out/`` (rebuilt when
the source or the flags change) and returns the library, or None when no
compiler is at hand.  Benchmarks only: annfast itself never uses it.

Why ``-ffast-math``: without it GCC may not reorder a floating-point sum, so it
leaves every dot product scalar, one dependent multiply-add after the other,
and the dense loops run at a fifth of the speed (35,000 samples/s on the
tutorial net here, against the issue's 193,000).  With it, the reference is
the fastest these plain loops get.  It is a compile flag only: linked with
``-ffast-math``, GCC 12 adds its start-up code that turns on flush-to-zero for
the loading thread, and every annfast run after it in the same process would
train with denormals flushed (other bits, other speed).  :func:`build` compiles
and links in two steps for that reason.
"""

import ctypes
import hashlib
import os
import shutil
import subprocess
from functools import lru_cache

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "plain_c.c")
FLAGS = ["-O3", "-march=native", "-ffast-math", "-fPIC"]
C_TYPES = {np.float64: ("double", ctypes.c_double), np.float32: ("float", ctypes.c_float)}


def build(cc, compile_flags, source, lib_path):
    """Compile ``source`` with ``compile_flags``, then link it as a shared library
    without them (no fast-math start-up code: see the module docstring), and
    move it into place at ``lib_path`` in one step."""
    tmp = f"{lib_path}.{os.getpid()}.tmp"
    subprocess.run([cc, *compile_flags, "-c", source, "-o", f"{tmp}.o"], check=True,
                   capture_output=True)
    try:
        subprocess.run([cc, "-shared", f"{tmp}.o", "-o", tmp, "-lm"], check=True,
                       capture_output=True)
    finally:
        os.remove(f"{tmp}.o")
    os.replace(tmp, lib_path)


@lru_cache(maxsize=None)
def load(dtype):
    """The compiled library for dtype (np.float32 or np.float64), or None."""
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        return None
    c_name = C_TYPES[dtype][0]
    with open(SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read() + " ".join(FLAGS).encode()).hexdigest()[:12]
    out_dir = os.path.join(HERE, "out")
    os.makedirs(out_dir, exist_ok=True)
    lib_path = os.path.join(out_dir, f"plain_c_{c_name}_{digest}.so")
    if not os.path.exists(lib_path):
        try:
            build(cc, [*FLAGS, f"-DTYPE={c_name}"], SOURCE, lib_path)
        except (OSError, subprocess.CalledProcessError):
            return None
    lib = ctypes.CDLL(lib_path)
    p = ctypes.c_void_p
    lib.plain_c_epoch.restype = ctypes.c_double
    lib.plain_c_epoch.argtypes = [ctypes.c_int64, p, ctypes.c_int, p, p, p, p, p, p, p,
                                  ctypes.c_int64, ctypes.c_double, ctypes.c_double, p]
    return lib


class PlainCNet:
    """One network's parameters and buffers, trained by ``plain_c_epoch``.

    ``csr``: (data, indices, indptr) of X to train through the sparse first
    layer, or None for dense rows."""

    def __init__(self, lib, sizes, params, softmax, X, Y, csr, lr, mu, dtype):
        self.lib = lib
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.params = np.ascontiguousarray(params, dtype=dtype)
        self.softmax = int(softmax)
        self.X = np.ascontiguousarray(X, dtype=dtype)
        self.Y = np.ascontiguousarray(Y, dtype=dtype)
        if csr is None:
            self.data = self.indices = self.indptr = None
        else:
            data, indices, indptr = csr
            self.data = np.ascontiguousarray(data, dtype=dtype)
            self.indices = np.ascontiguousarray(indices, dtype=np.int64)
            self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.lr, self.mu = float(lr), float(mu)
        self.work = np.zeros(3 * int(self.sizes.sum()) + int(self.sizes[0] * self.sizes[1]),
                             dtype=dtype)

    def train_epoch(self, order):
        order = np.ascontiguousarray(order, dtype=np.int64)

        def ptr(a):
            return None if a is None else a.ctypes.data

        return self.lib.plain_c_epoch(len(self.sizes) - 1, ptr(self.sizes), self.softmax,
                                      ptr(self.params), ptr(self.X), ptr(self.indptr),
                                      ptr(self.indices), ptr(self.data), ptr(self.Y),
                                      ptr(order), len(order), self.lr, self.mu, ptr(self.work))
