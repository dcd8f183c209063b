"""The machine's own limits on one core: peak FMA throughput and cache bandwidth.

Run from the repository root::

    python -m benchmarks.limits                    # at the SIMD level annfast runs here
    ANNFAST_SIMD=avx2 python -m benchmarks.limits  # the AVX2 instructions (even on AVX-512)
    python -m benchmarks.limits --json benchmarks/out/limits.json

``benchmarks/limits.c`` holds the loops: multiply-adds on 12 independent
accumulator chains (enough to keep every FMA pipe busy), and a read and a
read-modify-write (``v = v * m + c``) of a buffer resident in L1 (half of it),
in L2 (a quarter of it) and,
for streamed inputs, in memory (larger than L3).  :func:`load` compiles it
with ``gcc -O2`` for one vector width (AVX2 + FMA: 32 bytes, AVX-512: 64) and
one dtype into ``benchmarks/out/`` (rebuilt when the source or flags change),
as :mod:`benchmarks.plain_c` does.  Each figure is the best of several short
trials: a limit is what the core can do, and on a shared machine the slower
trials measure the neighbours.

Units: GFLOP/s counts a multiply-add as two operations; read GB/s counts the
bytes read; read-modify-write GB/s counts the bytes read plus the bytes
written (each value twice).  Benchmarks only: annfast never uses this.
"""

import argparse
import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import sys
from functools import cache

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "limits.c")
SIMD_FLAGS = {"avx2": ["-mavx2", "-mfma", "-DVEC_BYTES=32"],
              "avx512": ["-mavx512f", "-mavx512vl", "-mfma", "-DVEC_BYTES=64"]}
#: The CPU flag each SIMD level needs (/proc/cpuinfo).
CPU_FLAG = {"avx2": "avx2", "avx512": "avx512f"}
FLAGS = ["-O2", "-ffp-contract=fast", "-shared", "-fPIC"]
C_NAMES = {np.dtype(np.float64): "double", np.dtype(np.float32): "float"}
DTYPES = ("float64", "float32")
#: Cache sizes assumed when the OS does not say (bytes).
DEFAULT_CACHE = {"l1": 32 * 1024, "l2": 512 * 1024, "l3": 32 * 1024 * 1024}


@cache
def load(dtype, simd):
    """The compiled library for dtype at SIMD level simd ('avx2'/'avx512'), or None
    when there is no compiler or it cannot build."""
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        return None
    c_name = C_NAMES[np.dtype(dtype)]
    flags = FLAGS + SIMD_FLAGS[simd]
    with open(SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read() + " ".join(flags).encode()).hexdigest()[:12]
    out_dir = os.path.join(HERE, "out")
    os.makedirs(out_dir, exist_ok=True)
    lib_path = os.path.join(out_dir, f"limits_{simd}_{c_name}_{digest}.so")
    if not os.path.exists(lib_path):
        tmp = f"{lib_path}.{os.getpid()}.tmp"
        try:
            subprocess.run([cc, *flags, f"-DTYPE={c_name}", SOURCE, "-o", tmp],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        os.replace(tmp, lib_path)
    lib = ctypes.CDLL(lib_path)
    lib.limits_fma.restype = ctypes.c_double
    lib.limits_fma.argtypes = [ctypes.c_int64]
    lib.limits_fma_chains.restype = ctypes.c_int64
    for name in ("limits_read", "limits_rmw"):
        getattr(lib, name).restype = ctypes.c_double
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
    return lib


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cache_sizes():
    """{'l1', 'l2', 'l3'}: data cache sizes in bytes of CPU 0 (Linux sysfs), or
    DEFAULT_CACHE's where the OS does not say."""
    sizes = dict(DEFAULT_CACHE)
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = os.listdir(base)
    except OSError:
        return sizes
    for entry in entries:
        path = os.path.join(base, entry)
        try:
            with open(os.path.join(path, "level")) as f:
                level = int(f.read())
            with open(os.path.join(path, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(path, "size")) as f:
                text = f.read().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction" or level not in (1, 2, 3):
            continue
        scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:], 1)
        try:
            sizes[f"l{level}"] = int(text.rstrip("KMG")) * scale
        except ValueError:
            continue
    return sizes


def annfast_simd():
    """'avx512' or 'avx2': the SIMD level annfast's kernels run at here
    (ANNFAST_SIMD honoured), or None for the generic/portable variants."""
    from benchmarks.machine import kernels_isa

    name = kernels_isa()
    return name if name in SIMD_FLAGS else None


def _best(trial, trials):
    return min(trial() for _ in range(trials))


def measure(simd, trials=25, target_seconds=0.002):
    """{'simd', 'cache', 'trials', 'float64': {...}, 'float32': {...}, 'bandwidth': {...}}.

    Per dtype: ``fma_gflops``, the peak at SIMD level simd.  ``bandwidth``
    (GB/s): ``{l1,l2}_read``, ``{l1,l2}_rmw`` and ``mem_read``, with buffers
    filling half of L1, a quarter of L2 (the size of the tutorial net's
    weights; the whole L2 shares its lines with the L1 victims and the
    prefetches, and reads slower) and four times L3 (at least 64 MiB).  The
    bytes do not depend on the dtype, so both dtypes' loops run and the best
    is kept: twice the trials against a noisy neighbour.  Raises RuntimeError
    when the CPU lacks the instructions or no compiler builds the loops.
    """
    if CPU_FLAG[simd] not in cpu_flags():
        raise RuntimeError(f"this CPU has no {CPU_FLAG[simd]}: cannot measure {simd}")
    cache = cache_sizes()
    doc = {"simd": simd, "cache": cache, "trials": trials}
    bandwidth = {}
    for name in DTYPES:
        dtype = np.dtype(name)
        lib = load(dtype, simd)
        if lib is None:
            raise RuntimeError("no C compiler could build benchmarks/limits.c")
        vlen = (32 if simd == "avx2" else 64) // dtype.itemsize
        chains = lib.limits_fma_chains()
        lib.limits_fma(1000)  # page in, clocks up
        per_iter = 2 * chains * vlen
        iters = max(1000, int(40e9 * target_seconds / per_iter))
        fma = per_iter * iters / _best(lambda: lib.limits_fma(iters), trials)
        doc[name] = {"fma_gflops": fma / 1e9, "fma_chains": chains}
        for level, size in (("l1", cache["l1"] // 2), ("l2", cache["l2"] // 4),
                            ("mem", max(4 * cache["l3"], 64 * 1024 ** 2))):
            n = size // dtype.itemsize // (8 * vlen) * (8 * vlen)
            nbytes = n * dtype.itemsize
            buf = np.ones(n, dtype=dtype)
            ptr = buf.ctypes.data
            passes = max(1, int(50e9 * target_seconds / nbytes))
            lib.limits_read(ptr, n, 1)
            level_trials = trials if level != "mem" else max(3, trials // 5)
            t = _best(lambda: lib.limits_read(ptr, n, passes), level_trials)
            runs = {f"{level}_read": nbytes * passes / t / 1e9}
            if level != "mem":
                lib.limits_rmw(ptr, n, 1)
                t = _best(lambda: lib.limits_rmw(ptr, n, passes), level_trials)
                runs[f"{level}_rmw"] = 2 * nbytes * passes / t / 1e9
            for key, value in runs.items():
                bandwidth[key] = max(bandwidth.get(key, 0.0), value)
            bandwidth[f"{level}_bytes"] = int(nbytes)
    doc["bandwidth"] = bandwidth
    return doc


def table(doc):
    """Markdown tables of one measure() result."""
    b = doc["bandwidth"]
    rows = ["| peak FMA float64 GFLOP/s | peak FMA float32 GFLOP/s | L1 read GB/s | "
            "L1 read+write GB/s | L2 read GB/s | L2 read+write GB/s | memory read GB/s |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {doc['float64']['fma_gflops']:.1f} | {doc['float32']['fma_gflops']:.1f} | "
            f"{b['l1_read']:.0f} | {b['l1_rmw']:.0f} | {b['l2_read']:.0f} | "
            f"{b['l2_rmw']:.0f} | {b['mem_read']:.1f} |"]
    kib = {k: v // 1024 for k, v in doc["cache"].items()}
    return (f"One core, {doc['simd']} instructions, best of {doc['trials']} trials "
            f"(memory: fewer); caches L1d {kib['l1']} KiB, L2 {kib['l2']} KiB, "
            f"L3 {kib['l3']} KiB; FMA on {doc['float64']['fma_chains']} independent "
            "chains; read+write counts the bytes both ways.\n\n" + "\n".join(rows))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.limits",
        description="Peak FMA throughput and L1/L2/memory bandwidth of one core.")
    parser.add_argument("--simd", choices=sorted(SIMD_FLAGS), default=None,
                        help="instruction set (default: the one annfast runs here)")
    parser.add_argument("--trials", type=int, default=25, help="trials per figure (best kept)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    simd = args.simd or annfast_simd()
    if simd is None:
        raise SystemExit("annfast runs a generic variant here: pass --simd avx2 or avx512")
    try:
        doc = measure(simd, trials=max(1, args.trials))
    except RuntimeError as e:
        raise SystemExit(str(e)) from None
    print(table(doc))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"JSON: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
