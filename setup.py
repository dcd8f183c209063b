"""Build the compiled core: annfast/_kernels.pyx together with the C sources in csrc/.

Portable flags only (no -march=native, no -ffast-math): a built module runs on
any machine of its architecture and reproduces the NumPy reference to ~1e-10.
On x86-64, gcc and clang builds dispatch to AVX2 or AVX-512 kernels at run time.

Environment variables read at build time:
  ANNFAST_PORTABLE=1      build the portable C variant (plain loops, no vector
                          extensions), as MSVC builds always do
  ANNFAST_DEBUG_CYTHON=1  turn Cython's bounds and initialisation checks on
  ANNFAST_EXTRA_CFLAGS    more compiler flags (-fsanitize=... go to the linker too)
"""

import os

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name):
    return os.environ.get(name, "0").strip() not in ("", "0")


DEBUG = _flag("ANNFAST_DEBUG_CYTHON")
PORTABLE = _flag("ANNFAST_PORTABLE")
EXTRA_CFLAGS = os.environ.get("ANNFAST_EXTRA_CFLAGS", "").split()

#: Compile flags by distutils compiler type.  MSVC takes neither -O3 nor a C
#: standard flag; its C is the portable variant (csrc/af_common.h).
CFLAGS = {"msvc": ["/O2"]}
CFLAGS_DEFAULT = ["-O3", "-std=gnu99"]


class BuildExt(build_ext):
    """Cythonizes when extensions are actually built (making an sdist runs no
    Cython), and chooses the compile flags for the compiler actually used."""

    def run(self):
        from Cython.Build import cythonize

        for ext, c_ext in zip(self.extensions,
                              cythonize(self.extensions, compiler_directives=DIRECTIVES)):
            ext.sources, ext.depends = c_ext.sources, c_ext.depends
        super().run()

    def build_extensions(self):
        flags = CFLAGS.get(self.compiler.compiler_type, CFLAGS_DEFAULT)
        for ext in self.extensions:
            ext.extra_compile_args = [*flags, *EXTRA_CFLAGS]
            ext.extra_link_args = [f for f in EXTRA_CFLAGS if f.startswith("-fsanitize")]
        super().build_extensions()


DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "embedsignature": True,
}

macros = [("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")]
if PORTABLE:
    macros.append(("AF_PORTABLE", "1"))

extensions = [
    Extension(
        "annfast._kernels",
        sources=["annfast/_kernels.pyx", "csrc/af_kernels.c"],
        include_dirs=["csrc", np.get_include()],
        depends=[os.path.join("csrc", f) for f in sorted(os.listdir("csrc"))],
        define_macros=macros,
    )
]

setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
