"""Print which C kernel variant the importable annfast._kernels was built as.

    python tools/kernel_variant.py            # prints e.g. "portable"
    python tools/kernel_variant.py portable   # exit status 1 unless it is that one

csrc/af_kernels.c embeds the string "annfast kernel variant: <name>" in the
module; this reads it back from the module file, so a build that silently
ignored ANNFAST_PORTABLE (or a stale build directory) is caught.  Run it from
outside the source tree to check an installed package.
"""

import re
import sys

import annfast._kernels

with open(annfast._kernels.__file__, "rb") as f:
    found = re.search(rb"annfast kernel variant: ([^\0]*)\0", f.read())
variant = found.group(1).decode() if found else "unknown"
print(f"{annfast._kernels.__file__}: {variant}")
if len(sys.argv) > 1 and not variant.startswith(sys.argv[1]):
    sys.exit(f"expected the {sys.argv[1]!r} variant, got {variant!r}")
