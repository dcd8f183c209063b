"""The machine line: what the numbers were measured on."""

import os
import platform
import subprocess
import sys

import numpy as np

SIMD_FLAGS = ("avx512f", "avx2", "fma")


def _cpuinfo():
    """(model name, set of flags) from /proc/cpuinfo, or from platform elsewhere."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                if model and flags and key == "":
                    break
    except OSError:
        pass
    return model, flags


#: The sources that decide annfast's speed.
ANNFAST_SOURCES = (":/annfast", ":/csrc", ":/setup.py")


def _git_commit():
    """Last commit that touched annfast's sources, '+dirty' if they have local edits.

    Commits elsewhere (tests, benchmarks) do not change it, so a change of this
    value during a run means annfast itself changed.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h", "--", *ANNFAST_SOURCES],
                             cwd=here, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                *ANNFAST_SOURCES],
                               cwd=here, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0 or not out.stdout.strip():
        return "unknown"
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def kernels_stamp():
    """Modification time (UTC, ISO) of the compiled module: rebuilt in place, the
    kernels change without any change that git would show."""
    import datetime

    from annfast import _kernels

    try:
        mtime = os.path.getmtime(_kernels.__file__)
    except (OSError, TypeError):
        return "unknown"
    return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")


def kernels_isa():
    """The SIMD variant annfast's kernels run here (ANNFAST_SIMD can force one)."""
    from annfast import _kernels

    isa, name = getattr(_kernels, "DEFAULT_ISA", None), getattr(_kernels, "isa_name", None)
    if isa is None or name is None:
        return "not reported by this annfast"
    return name(isa)


def _blas():
    """BLAS/OpenMP libraries numpy & co. loaded, as threadpoolctl sees them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    libs = []
    for info in threadpool_info():
        desc = f"{info.get('internal_api')} {info.get('version') or ''}".strip()
        if info.get("architecture"):
            desc += f" ({info['architecture']})"
        libs.append(desc)
    return ", ".join(sorted(set(libs))) or "none found"


def machine_info():
    """Dict describing the CPU, the load and the software versions."""
    import annfast

    model, flags = _cpuinfo()
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "annfast": f"{annfast.__version__} (sources at git {_git_commit()})"}
    for name in ("sklearn", "torch"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                continue
        versions[name] = module.__version__
    return {
        "cpu": model,
        "simd": [f for f in SIMD_FLAGS if f in flags],
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "load_average": list(load) if load else None,
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "blas": _blas(),
        "annfast_env": {k: v for k, v in os.environ.items() if k.startswith("ANNFAST_")},
        "annfast_git": _git_commit(),
        "kernels_built": kernels_stamp(),
        "kernels_isa": kernels_isa(),
    }


def machine_line(info):
    """One line for the report, e.g. 'AMD EPYC, avx512f avx2 fma, 2 CPUs, ...'."""
    load = info["load_average"]
    parts = [
        info["cpu"],
        "SIMD: " + (" ".join(info["simd"]) or "none of " + "/".join(SIMD_FLAGS)),
        f"{info['usable_cpus']} usable of {info['logical_cpus']} logical CPUs",
        f"load average {load[0]:.2f}" if load else "load unknown",
        info["os"],
        f"annfast kernels built {info.get('kernels_built', 'unknown')}, running the "
        f"{info.get('kernels_isa', 'unknown')} variant",
        ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        f"BLAS: {info['blas']}",
    ]
    pools = info.get("thread_pools")
    if pools:
        threads = sorted({str(v) for v in pools.values()})
        parts.append(f"threads per pool during the timings: {', '.join(threads)} "
                     f"({len(pools)} pools)")
    if info["annfast_env"]:
        parts.append(" ".join(f"{k}={v}" for k, v in sorted(info["annfast_env"].items())))
    return "; ".join(parts)
