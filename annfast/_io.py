"""Model files: atomic writes, and a format that loads without unpickling.

A model file is an ``.npz`` archive (written with numpy, read with
``allow_pickle=False``) holding ``meta``, a UTF-8 JSON document, and
``params``, the flat parameter buffer.  ``meta`` carries the format version,
the class, the architecture, the dtype and the SHA-256 of ``params``.
"""

import hashlib
import io
import json
import os
import pickle
import tempfile
import zipfile

import numpy as np

FORMAT = "annfast-model"
FORMAT_VERSION = 1
MAX_PARAMS = 1 << 31  # refuse hand-crafted files that claim absurd sizes


def atomic_write(path, write):
    """Call write(fileobj) on a temporary file beside path, then rename it into place.

    A crash or an exception never leaves a half-written file at path.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def dump_pickle(obj, path):
    """pickle.dump(obj) to path, atomically (the tutorial's ``dump``)."""
    atomic_write(path, lambda f: pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL))


def checksum(params):
    return hashlib.sha256(np.ascontiguousarray(params).tobytes()).hexdigest()


def save_model(path, kind, config, params):
    """Write a model file: kind names the class, config is JSON-able."""
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": kind,
        "dtype": np.dtype(params.dtype).name,
        "n_params": int(params.size),
        "sha256": checksum(params),
        "config": config,
    }
    meta_bytes = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)

    def write(f):
        buf = io.BytesIO()
        np.savez(buf, meta=meta_bytes, params=params)
        f.write(buf.getvalue())

    atomic_write(path, write)


def load_model(path, kind):
    """Read and verify a model file; return (config, params).

    Raises ValueError for anything that is not an intact model file of this
    kind and version: truncated, corrupted, tampered with or hand-crafted.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if set(data.files) != {"meta", "params"}:
                raise ValueError(f"expected arrays 'meta' and 'params', found {data.files}")
            meta_arr = data["meta"]
            if meta_arr.dtype != np.uint8 or meta_arr.ndim != 1:
                raise ValueError("'meta' is not a byte string")
            meta = json.loads(meta_arr.tobytes().decode("utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("'meta' is not a JSON object")
            if meta.get("format") != FORMAT:
                raise ValueError("not an annfast model file")
            if meta.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {meta.get('version')!r} is not supported "
                                 f"(this annfast reads version {FORMAT_VERSION})")
            if meta.get("kind") != kind:
                raise ValueError(f"the file holds a {meta.get('kind')!r}, not a {kind!r}")
            n = meta.get("n_params")
            if not isinstance(n, int) or not 0 < n <= MAX_PARAMS:
                raise ValueError(f"implausible parameter count {n!r}")
            if meta.get("dtype") not in ("float32", "float64"):
                raise ValueError(f"unsupported dtype {meta.get('dtype')!r}")
            params = data["params"]
    except (OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError,
            json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a readable annfast model file: "
                         f"{exc}") from None
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a valid annfast model file: "
                         f"{exc}") from None
    if params.dtype != np.dtype(meta["dtype"]) or params.shape != (meta["n_params"],):
        raise ValueError(f"{os.fspath(path)!r}: params do not match the declared dtype/shape")
    if checksum(params) != meta.get("sha256"):
        raise ValueError(f"{os.fspath(path)!r}: checksum mismatch; the file is corrupted")
    return meta["config"], np.array(params)
