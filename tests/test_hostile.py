"""The hostile-input suite for the loaders, the save policy, the optimizer step
count and Neuron (issue 13; the sparse formats are in test_sparse_inputs.py).

Every case of ``hostile_cases.py`` runs in one child process, each under an
alarm: a case must raise the expected exception type with a message naming
what is wrong, must not hang, must not crash the interpreter, and must leave
the model and the files it touched bitwise unchanged.
"""

import json
import os
import subprocess
import sys

import hostile_cases
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = hostile_cases.all_cases()

pytestmark = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                                reason="FIFOs, devices and sockets need POSIX and root")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("hostile")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import hostile_cases; "
            "hostile_cases.child_main(sys.argv[2])")
    proc = subprocess.run([sys.executable, "-c", code, HERE, str(scratch)], capture_output=True,
                          text=True, timeout=600)
    out, started = {}, None
    for line in proc.stdout.splitlines():
        if line.startswith("START "):
            started = line[6:]
        elif line.startswith("RESULT "):
            name, outcome = json.loads(line[7:])
            out[name] = outcome
    if proc.returncode != 0 or "DONE" not in proc.stdout:
        pytest.fail(f"the child process died (return code {proc.returncode}) during case "
                    f"{started!r}:\n{proc.stderr[-3000:]}")
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_case(results, name):
    _, exc, fragment = CASES[name]
    outcome = results[name]
    assert outcome["raised"] != "HANG", "the call hung"
    assert outcome["raised"] is not None, "accepted silently"
    assert outcome["raised"] == exc, outcome
    assert fragment in outcome["message"], outcome["message"]
    assert outcome["unchanged"], "the model or the files changed"
