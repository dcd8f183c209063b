"""Fuzz harness for the model loaders: ``NeuralNet.load`` and ``keras.models.load_model``.

    python tests/fuzz/fuzz_loaders.py neuralnet|keras [libFuzzer options] [corpus dirs]

(``tools/fuzz.sh`` runs both with a time bound.)  The first byte of each input
picks how the rest is used:

* even: the rest is the model file itself: exercises the archive, the .npy
  headers, the meta document and the checksum;
* odd: the rest is the ``meta`` JSON text, packed with the seed model's
  parameters and, when it parses, the right SHA-256: checksums stop almost
  every raw mutation, so this reaches the code that reads the configuration.

The contract under test: a load returns a model or raises ValueError.  Any
other exception, a crash, a hang (libFuzzer's -timeout) or a runaway
allocation (-rss_limit_mb) is a finding, and libFuzzer saves its input.
"""

import contextlib
import io
import json
import os
import sys
import tempfile

import atheris
import numpy as np  # imported before instrumentation: too big to instrument usefully

with atheris.instrument_imports(include=["annfast", "zipfile", "json"]):
    import json as _json  # noqa: F401
    import zipfile

    from annfast import NeuralNet, _io, keras

TARGETS = {"neuralnet": ("NeuralNet", NeuralNet.load),
           "keras": ("keras.Sequential", keras.models.load_model)}

#: The seed models' parameters (same as tests/fuzz/make_corpus.py): float64 and float32.
_SEED_PARAMS = {"float64": np.linspace(-1.0, 1.0, 26),
                "float32": np.linspace(-1.0, 1.0, 26).astype(np.float32)}


def _npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def file_from_meta(text):
    """A model file whose meta member is text, with a matching checksum if it can."""
    params = _SEED_PARAMS["float64"]
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        meta = None
    if isinstance(meta, dict):
        dtype = meta.get("dtype")
        if dtype in _SEED_PARAMS:
            params = _SEED_PARAMS[dtype]
            n = meta.get("n_params")
            if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 4 * params.size:
                params = np.resize(params, n)  # let the fuzzer choose the buffer's size
        meta["sha256"] = _io.checksum(params)
        text = json.dumps(meta).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("meta.npy", _npy(np.frombuffer(text, dtype=np.uint8)))
        zf.writestr("params.npy", _npy(params))
    return buf.getvalue()


def main():
    target = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in TARGETS else None
    if target is None:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(TARGETS)} [libFuzzer options] [corpus]")
    _, load = TARGETS[target]
    folder = tempfile.mkdtemp(prefix="annfast-fuzz-",
                              dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    path = os.path.join(folder, "model.npz")

    def one_input(data):
        if not data:
            return
        content = file_from_meta(data[1:]) if data[0] & 1 else data[1:]
        with open(path, "wb") as f:
            f.write(content)
        with contextlib.suppress(ValueError):  # the documented refusal
            load(path)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
