#!/usr/bin/env bash
# Build the compiled kernels with AddressSanitizer and UndefinedBehaviorSanitizer
# in a temporary copy of the repository (HEAD, via git archive) and run the
# kernel tests, the bad-input table and the property tests against that build.
#
# The main checkout and its compiled module are never touched.  Needs gcc (or
# clang) with libasan, and a Python with Cython, numpy, setuptools, pytest and
# hypothesis (the project's [test] extra): PYTHON=... selects it (default: python3).
#
#   tools/sanitize.sh                        # HEAD, default test selection
#   tools/sanitize.sh tests/test_forward.py  # HEAD, chosen tests
#   KEEP=1 tools/sanitize.sh                 # keep the temporary copy for debugging
#
# Exit status: 0 if everything passed with no sanitizer report.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
cc="${CC:-gcc}"
start=$(date +%s)

"$python" -c "import Cython, numpy, setuptools, pytest, hypothesis" 2>/dev/null || {
    echo "sanitize.sh: $python lacks Cython/numpy/setuptools/pytest/hypothesis" >&2
    echo "  (install the test extra, or set PYTHON=/path/to/python)" >&2
    exit 2
}
libasan="$("$cc" -print-file-name=libasan.so)"
if [ ! -e "$libasan" ]; then
    echo "sanitize.sh: $cc has no libasan.so (got '$libasan')" >&2
    exit 2
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/annfast-sanitize.XXXXXX")"
cleanup() {
    if [ -n "${KEEP:-}" ]; then echo "sanitize.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# A clean copy of the committed tree: nothing in the checkout is rebuilt.
git -C "$repo" archive HEAD | tar -x -C "$tmp"
cd "$tmp"

echo "== building with -fsanitize=address,undefined in $tmp"
# setup.py appends ANNFAST_EXTRA_CFLAGS to the compile flags and passes the
# -fsanitize ones to the linker too.  -O1 -g keeps stack traces readable;
# -fno-sanitize-recover makes any undefined behaviour fatal.
CC="$cc" ANNFAST_EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined \
-fno-omit-frame-pointer -O1 -g" \
    "$python" setup.py -q build_ext --inplace >build.log 2>&1 || {
    tail -n 40 build.log >&2
    echo "sanitize.sh: build failed" >&2
    exit 1
}
so="$(ls annfast/_kernels.*.so)"
if ! ldd "$so" | grep libasan >/dev/null; then  # not -q: an early exit SIGPIPEs ldd under pipefail
    echo "sanitize.sh: $so is not linked against libasan" >&2
    exit 1
fi

if [ "$#" -gt 0 ]; then
    tests=("$@")
else
    tests=()
    # The kernel tests (every ISA variant and fast path included), then the reliability ones.
    for name in activations losses forward gradients sgd optimizers optimizer_rules \
                fast_paths kernels engine bad_inputs properties validation threads \
                interrupt sparse_inputs sparse_widths list_input hostile io sklearn_sample_weight \
                dropout; do
        [ -e "tests/test_$name.py" ] && tests+=("tests/test_$name.py")
    done
fi

export LD_PRELOAD="$libasan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc  # let ASan see Python's own allocations too
export PYTHONPATH="$tmp"
export PYTHONDONTWRITEBYTECODE=1

# The sanitized copy must be the one imported, not an installed annfast.
"$python" -c "
import sys, annfast._kernels as k
sys.exit(0 if k.__file__.startswith(sys.argv[1]) else f'imported {k.__file__}')" "$tmp"

echo "== running ${#tests[@]} test files under ASan/UBSan"
status=0
"$python" -m pytest -q -p no:cacheprovider "${tests[@]}" || status=$?

echo "== sanitize.sh: $([ "$status" = 0 ] && echo PASSED || echo FAILED) in $(( $(date +%s) - start )) s"
exit "$status"
