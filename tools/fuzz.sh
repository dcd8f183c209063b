#!/usr/bin/env bash
# Fuzz the model loaders (NeuralNet.load, keras.models.load_model) with atheris,
# each for a bounded time, starting from the seed corpus in tests/fuzz/corpus/.
#
#   tools/fuzz.sh                      # 60 s per loader
#   FUZZ_SECONDS=300 tools/fuzz.sh     # longer
#   FUZZ_OUT=dir tools/fuzz.sh         # where findings go (default: fuzz-findings/)
#   PYTHON=/path/to/python tools/fuzz.sh
#
# The contract: a load returns a model or raises ValueError.  Any other
# exception, a crash, an input slower than 10 s or a process above 2 GiB is a
# finding: libFuzzer saves the input as $FUZZ_OUT/<loader>-crash-... (or
# -timeout-, -oom-) and this script exits 1.  Reproduce one with
#   python tests/fuzz/fuzz_loaders.py <loader> <that file>
# Exit 2: atheris could not be installed.  The seed corpus is never modified:
# each run works on a copy.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
seconds="${FUZZ_SECONDS:-60}"
out="${FUZZ_OUT:-$repo/fuzz-findings}"

if ! "$python" -c "import atheris" 2>/dev/null; then
    echo "fuzz.sh: installing atheris" >&2
    "$python" -m pip install -q atheris || {
        echo "fuzz.sh: atheris is not installed and could not be installed" >&2
        exit 2
    }
fi
mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/annfast-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

status=0
for loader in neuralnet keras; do
    mkdir -p "$work/$loader"
    cp "$repo/tests/fuzz/corpus/$loader/"* "$work/$loader/"
    log="$work/$loader.log"
    set +e
    (cd "$repo" && "$python" tests/fuzz/fuzz_loaders.py "$loader" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/$loader-" -print_final_stats=1 "$work/$loader") \
        >"$log" 2>&1
    rc=$?
    set -e
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)"
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "fuzz.sh: $loader: FINDING (exit $rc) after ${runs:-?} inputs; input saved in $out:"
        grep -E "Traceback|Error|Exception|==ERROR|Test unit written" "$log" | tail -20
    else
        echo "fuzz.sh: $loader: ${runs:-?} inputs in ${took:-$seconds} s, no findings"
    fi
done
exit $status
