"""Build the compiled core: annfast/_kernels.pyx together with the C sources in csrc/.

Portable flags only (-O3, no -march=native, no -ffast-math): a built module runs
on any x86-64 and reproduces the NumPy reference to ~1e-10.
ANNFAST_DEBUG_CYTHON=1 turns Cython's bounds and initialisation checks on.
"""

import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("ANNFAST_DEBUG_CYTHON", "0") not in ("", "0")
EXTRA_CFLAGS = os.environ.get("ANNFAST_EXTRA_CFLAGS", "").split()

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "embedsignature": True,
}

extensions = [
    Extension(
        "annfast._kernels",
        sources=["annfast/_kernels.pyx", "csrc/af_kernels.c"],
        include_dirs=["csrc", np.get_include()],
        depends=[os.path.join("csrc", f) for f in os.listdir("csrc")],
        extra_compile_args=["-O3", "-std=gnu99", *EXTRA_CFLAGS],
        extra_link_args=[f for f in EXTRA_CFLAGS if f.startswith("-fsanitize")],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
