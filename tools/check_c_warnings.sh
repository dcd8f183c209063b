#!/usr/bin/env bash
# Compile csrc/ with every C compiler given (default: gcc and clang, those
# installed), in both variants (vector extensions with run-time dispatch; and
# -DAF_PORTABLE, as ISO C99 with -pedantic-errors), under -Wall -Wextra
# -Werror.  The kernels must build warning-free everywhere; the
# Cython-generated C is not checked here.
#
#   tools/check_c_warnings.sh              # gcc and clang
#   tools/check_c_warnings.sh gcc-13       # chosen compilers
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
compilers=("$@")
[ "${#compilers[@]}" -gt 0 ] || compilers=(gcc clang)
out="$(mktemp -d "${TMPDIR:-/tmp}/annfast-cwarn.XXXXXX")"
trap 'rm -rf "$out"' EXIT
checked=0
for cc in "${compilers[@]}"; do
    if ! command -v "$cc" >/dev/null; then
        echo "check_c_warnings.sh: $cc not installed, skipped" >&2
        continue
    fi
    # The portable variant as strict ISO C99: it must need no GNU extension.
    for flags in "-std=gnu99" "-std=c99 -pedantic-errors -DAF_PORTABLE"; do
        echo "== $cc $flags -O2 -Wall -Wextra -Werror"
        # shellcheck disable=SC2086  # $flags is a list of flags
        "$cc" $flags -O2 -Wall -Wextra -Werror -I"$repo/csrc" \
            -c "$repo/csrc/af_kernels.c" -o "$out/af_kernels.o"
        checked=$((checked + 1))
    done
done
[ "$checked" -gt 0 ] || { echo "check_c_warnings.sh: no compiler found" >&2; exit 2; }
echo "== check_c_warnings.sh: $checked builds without a warning"
