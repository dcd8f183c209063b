"""What users install: the sdist's contents, the wheel configuration, and a suite
that tests the installed annfast rather than the source tree beside it.

The sdist and cibuildwheel checks need the repository (pyproject.toml beside
tests/) and the `build` / `cibuildwheel` tools; they skip without them.  .ci/run
installs both, so CI always runs them.
"""

import importlib
import shutil
import subprocess
import sys
import tarfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import joblib
import pytest

import annfast
from annfast import _kernels

ROOT = Path(__file__).resolve().parents[1]
HAS_PROJECT = (ROOT / "pyproject.toml").is_file() and (ROOT / "setup.py").is_file()


def _where():
    import annfast._kernels

    return annfast.__file__, annfast._kernels.__file__


def test_worker_processes_import_the_same_annfast_as_the_tests():
    # test_benchmarks imports the repository's benchmarks/: that must not put the
    # source tree (with its uncompiled annfast/) ahead of the installed package
    # for the worker processes that joblib starts with this sys.path.
    importlib.import_module("test_benchmarks")
    expected = (annfast.__file__, _kernels.__file__)
    got = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(_where)() for _ in range(2))
    assert set(got) == {expected}


# -- the sdist ---------------------------------------------------------------------------

#: Files an sdist must leave out, planted in a copy of the tree before building.
DECOYS = [
    "benchmarks/out/run.json",
    "benchmarks/plots/width.png",
    "benchmarks/RESULTS.md",
    ".benchmarks/Linux-CPython-3.11-64bit/0001_run.json",
    "annfast/_kernels.c",
    "annfast/_kernels.cpython-311-x86_64-linux-gnu.so",
    "annfast/__pycache__/network.cpython-311.pyc",
    "tests/__pycache__/conftest.cpython-311-pytest-8.0.0.pyc",
    "csrc/af_kernels.o",
    "build/lib.linux-x86_64-cpython-311/annfast/_kernels.so",
    ".hypothesis/examples/x",
]

#: What the sdist must hold, as glob patterns over the source tree.
REQUIRED = ["csrc/*.c", "csrc/*.h", "annfast/*.pyx", "annfast/*.pxd", "annfast/*.py",
            "annfast/keras/*.py", "annfast/playground/*.py", "annfast/playground/static/*",
            "tests/*.py", "tests/fuzz/*.py", "tests/fuzz/corpus/*/*", "benchmarks/*.py",
            "benchmarks/*.c",
            "setup.py", "pyproject.toml", "MANIFEST.in", "README.md"]


def _source_files():
    """The tree's source files (what REQUIRED matches), caches left out."""
    files = set()
    for pattern in REQUIRED:
        files.update(p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern) if p.is_file())
    return files - set(DECOYS)


def _setuptools_can_build():
    try:
        major = int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return False
    return major >= 77


@pytest.mark.skipif(not HAS_PROJECT, reason="needs the source tree (pyproject.toml)")
def test_sdist_holds_the_sources_and_tests_and_no_build_output(tmp_path):
    pytest.importorskip("build")
    if not _setuptools_can_build():
        pytest.skip("python -m build --no-isolation needs setuptools>=77 here")
    src = tmp_path / "src"
    expected = _source_files()
    assert {"csrc/af_kernels.c", "annfast/_kernels.pyx", "tests/conftest.py"} <= expected
    for rel in expected:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    for rel in DECOYS:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(b"not for the sdist")

    res = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation",
                          "--outdir", str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (sdist,) = (tmp_path / "dist").glob("annfast-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}

    assert not expected - names, f"missing from the sdist: {sorted(expected - names)}"
    assert not set(DECOYS) & names, f"build output in the sdist: {sorted(set(DECOYS) & names)}"
    unexpected = {n for n in names if n.endswith((".so", ".pyd", ".o", ".pyc"))}
    assert not unexpected


# -- the wheel configuration -------------------------------------------------------------

PYTHONS = ("cp310", "cp311", "cp312", "cp313")
WHEELS = {
    "linux": ("manylinux_x86_64", "manylinux_aarch64", "musllinux_x86_64"),
    "macos": ("macosx_x86_64", "macosx_arm64"),
    "windows": ("win_amd64",),
}


@pytest.mark.skipif(not HAS_PROJECT, reason="needs the source tree (pyproject.toml)")
@pytest.mark.parametrize("platform", sorted(WHEELS))
def test_cibuildwheel_builds_every_supported_platform_and_python(platform):
    exe = shutil.which("cibuildwheel", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("cibuildwheel is not installed (.ci/run installs it)")
    res = subprocess.run([exe, "--print-build-identifiers", "--platform", platform, str(ROOT)],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    got = set(res.stdout.split())
    assert got == {f"{py}-{tag}" for py in PYTHONS for tag in WHEELS[platform]}
