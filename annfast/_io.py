"""Model files: atomic writes, and a format that loads without unpickling.

A model file is an uncompressed ``.npz`` archive holding ``meta``, a UTF-8
JSON document stored as bytes, and ``params``, the flat parameter buffer.
``meta`` carries the format version, the class, the architecture, the dtype
and the SHA-256 of ``params``.  Loading reads each member's ``.npy`` header
first and checks it against the archive before reading any data; nothing is
ever unpickled.
"""

import contextlib
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
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        # mkstemp makes the file private (0600); give it the mode open() would.
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _file_mode(path):
    """The mode of the file being replaced, else 0666 less the process umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    umask = 0o022
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o666 & ~umask


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


MAX_META_BYTES = 1 << 20  # the JSON document is a few hundred bytes


def _read_member(archive, name, max_bytes, dtype_ok):
    """Read one .npy member of the archive after checking its header.

    The header is checked before any allocation, so a hand-crafted file that
    claims an enormous shape, an object dtype or more data than it holds is
    refused without reading it.
    """
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{name!r} is compressed; annfast writes uncompressed archives")
    if info.file_size > max_bytes:
        raise ValueError(f"{name!r} holds {info.file_size} bytes, more than {max_bytes}")
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"{name!r} uses .npy version {version}")
        if dtype.hasobject or not dtype_ok(dtype):
            raise ValueError(f"{name!r} has dtype {dtype}, which annfast does not write")
        if len(shape) != 1 or fortran:
            raise ValueError(f"{name!r} has shape {shape}; expected a 1-D array")
        header_len = f.tell()
        if header_len + shape[0] * dtype.itemsize != info.file_size:
            raise ValueError(f"{name!r} declares {shape[0]} values of {dtype} but holds "
                             f"{info.file_size - header_len} bytes of data")
        # The sizes agree, so this reads exactly file_size bytes; zipfile checks the CRC.
        data = f.read(info.file_size - header_len)
        if len(data) != shape[0] * dtype.itemsize:
            raise ValueError(f"{name!r} is truncated")
    return np.frombuffer(data, dtype=dtype).copy()


def load_model(path, kind):
    """Read and verify a model file; return (config, params).

    Nothing is unpickled.  Raises ValueError for anything that is not an
    intact model file of this kind and version: truncated, corrupted (the
    archive CRC and the SHA-256 of params), tampered with or hand-crafted
    (wrong members, object arrays, oversized or inconsistent shapes, non-JSON
    meta, missing keys).
    """
    path = os.fspath(path)
    # A missing or unreadable path raises its usual OSError (FileNotFoundError,
    # PermissionError, ...); only the content is judged below.
    with open(path, "rb") as fileobj:
        return _load_model(fileobj, path, kind)


def _load_model(fileobj, path, kind):
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = sorted(archive.namelist())
            if names != ["meta.npy", "params.npy"]:
                raise ValueError(f"expected arrays 'meta' and 'params', found {names}")
            meta_arr = _read_member(archive, "meta.npy", MAX_META_BYTES,
                                    lambda dt: dt == np.uint8)
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
            missing = {"dtype", "n_params", "sha256", "config"} - set(meta)
            if missing:
                raise ValueError(f"'meta' lacks {sorted(missing)}")
            n = meta["n_params"]
            if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= MAX_PARAMS:
                raise ValueError(f"implausible parameter count {n!r}")
            if meta["dtype"] not in ("float32", "float64"):
                raise ValueError(f"unsupported dtype {meta['dtype']!r}")
            if not isinstance(meta["config"], dict):
                raise ValueError("'config' is not a JSON object")
            declared = np.dtype(meta["dtype"]).newbyteorder("<")
            params = _read_member(archive, "params.npy", 128 + n * declared.itemsize,
                                  lambda dt: dt == declared)
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, UnicodeDecodeError,
            json.JSONDecodeError, KeyError, RuntimeError, NotImplementedError) as exc:
        raise ValueError(f"{path!r} is not a readable annfast model file: "
                         f"{type(exc).__name__}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path!r} is not a valid annfast model file: {exc}") from None
    if params.shape != (n,):
        raise ValueError(f"{path!r}: params hold {params.size} values, meta declares {n}")
    params = params.astype(declared.newbyteorder("="), copy=False)
    if checksum(params) != meta["sha256"]:
        raise ValueError(f"{path!r}: checksum mismatch; the file is corrupted")
    return meta["config"], params
