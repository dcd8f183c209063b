"""scikit-learn's own MLP tests, run on annfast's estimators.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is
copied with its one import line swapped for annfast's, and run by pytest in a
child process (with scikit-learn's conftest as a plugin, for its
``global_random_seed`` fixture).  Every test must pass, except the ones that
need kernel features annfast does not have yet: those are strict expected
failures, so this test also fails when one of them starts to pass.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

sklearn = pytest.importorskip("sklearn")

SKLEARN_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
ANNFAST_IMPORT = "from annfast.sklearn import MLPClassifier, MLPRegressor\n"

#: Test functions (by name) that need features the kernels lack (none now): they
#: would be strict expected failures.
NEEDS_KERNELS = {}
REASON = "needs a feature annfast's kernels lack"

# The child process marks the expected failures and records every outcome.
CONFTEST = textwrap.dedent("""
    import json
    import pytest

    EXPECTED = set({expected!r})
    OUTCOMES = {{}}

    def pytest_collection_modifyitems(items):
        for item in items:
            if item.originalname in EXPECTED:
                item.add_marker(pytest.mark.xfail(strict=True, reason={reason!r}))

    def pytest_runtest_logreport(report):
        if report.when == "call" or report.outcome != "passed":
            outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else (
                report.outcome)
            if report.nodeid not in OUTCOMES or outcome != "passed":
                OUTCOMES[report.nodeid] = outcome

    def pytest_sessionfinish(session):
        with open({outcomes!r}, "w") as f:
            json.dump(OUTCOMES, f)
""")


def upstream_test_file():
    path = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    assert path.is_file(), (f"scikit-learn {sklearn.__version__} has no {path.name} at {path}; "
                            "this test needs scikit-learn installed with its tests")
    return path.read_text()


def swapped(source):
    """The test file with annfast's estimators; fails loudly if the import moved."""
    lines = source.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line == SKLEARN_IMPORT]
    assert len(hits) == 1, (
        f"scikit-learn {sklearn.__version__}'s test_mlp.py no longer has the line "
        f"{SKLEARN_IMPORT.strip()!r} exactly once (found {len(hits)}); update "
        "tests/test_sklearn_upstream.py to its new import")
    lines[hits[0]] = ANNFAST_IMPORT
    return "".join(lines)


def test_swap_finds_the_import_line_or_says_so():
    assert ANNFAST_IMPORT in swapped(SKLEARN_IMPORT)
    with pytest.raises(AssertionError, match="no longer has the line"):
        swapped("from sklearn.neural_network import MLPRegressor\n")


def test_sklearns_mlp_tests_pass_on_annfast(tmp_path):
    (tmp_path / "test_mlp_annfast.py").write_text(swapped(upstream_test_file()))
    outcomes_file = tmp_path / "outcomes.json"
    (tmp_path / "conftest.py").write_text(CONFTEST.format(
        expected=sorted(NEEDS_KERNELS), reason=REASON, outcomes=str(outcomes_file)))
    # One BLAS thread: on a loaded machine BLAS threads that wait for a core
    # make the small batches of these tests many times slower.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
         "sklearn.conftest", "test_mlp_annfast.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    log = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert outcomes_file.is_file(), f"pytest did not run the file:\n{log}"
    outcomes = json.loads(outcomes_file.read_text())
    bad = {test: outcome for test, outcome in outcomes.items()
           if outcome not in ("passed", "skipped", "xfailed")}
    assert not bad, f"scikit-learn's tests that fail on annfast: {bad}\n{log}"
    xfailed = {test.split("::")[-1].split("[")[0] for test, o in outcomes.items()
               if o == "xfailed"}
    assert xfailed == set(NEEDS_KERNELS), log
    assert sum(o == "passed" for o in outcomes.values()) >= 50, log
    assert proc.returncode == 0, log
