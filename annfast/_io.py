"""Model files: a save policy, atomic writes, and a format that loads without unpickling.

A model file is an uncompressed ``.npz`` archive holding ``meta``, a UTF-8
JSON document stored as bytes, and ``params``, the flat parameter buffer.
``meta`` carries the format version, the class, the architecture, the dtype
and the SHA-256 of ``params``.  Loading reads each member's ``.npy`` header
first and checks it against the archive before reading any data; nothing is
ever unpickled.

Loading opens only regular files (symlinks to one are followed), without
blocking on a FIFO, and never reads more than the file holds: every size the
archive declares is bounded by the file's real size before anything is read.

Saving (``save``, ``dump``) follows one policy, see ``atomic_write``.
"""

import contextlib
import errno
import hashlib
import io
import json
import os
import pickle
import secrets
import stat
import time
import zipfile
from struct import error as struct_error

import numpy as np

FORMAT = "annfast-model"
FORMAT_VERSION = 1
MAX_PARAMS = 1 << 31  # refuse hand-crafted files that claim absurd sizes
#: Largest model file read: a Keras buffer of MAX_PARAMS float64 weights plus two
#: optimizer moments, the JSON meta and the archive's headers.
MAX_FILE_BYTES = 3 * MAX_PARAMS * 8 + (4 << 20)
#: A temporary file of a killed save is removed by the next save of the same path
#: once its process is gone, or, whatever its process, once it is this old (seconds).
STALE_TEMP_AGE = 24 * 3600

_TEMP_MARK = ".annfast-tmp-"
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"))


def _what(mode):
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


# -- saving -----------------------------------------------------------------------------


def atomic_write(path, write):
    """Call write(fileobj) on a temporary file, then rename it over path.

    The save policy, shared by ``save`` and ``dump`` of every front end:

    * **Atomic.**  The data go to a temporary file in the folder of the file
      being replaced, are flushed to disk, and are renamed into place.  A
      crash, ``kill -9`` or exception never leaves a half-written file: the
      path holds the old file or the new one.
    * **Symlinks are written through.**  When path is a symbolic link (or its
      folder is one), the file it points to is replaced, in that file's
      folder; the link stays a link.  A dangling link creates its target, as
      ``open(path, 'wb')`` would.
    * **Only regular files are replaced.**  A directory, character or block
      device, FIFO or socket at path (after following links) is refused with
      a ValueError naming it; nothing is written.
    * **Read-only files are refused.**  PermissionError when the process may
      not write the existing file (``os.access``), or when the file has no
      write permission bit at all (mode 0444 and the like): as root,
      ``open(path, 'wb')`` would succeed on such a file, but a file marked
      read-only for everyone is one the user meant to keep.
    * **The replaced file's mode is kept** (and, as root, its owner); a new
      file gets ``0666`` less the umask, as ``open`` gives.
    * **Stale temporary files are cleaned.**  A temporary file is named
      ``.<name>.annfast-tmp-<pid>-<random>.part`` beside its target.  Each
      save removes those of the same target whose process no longer runs on
      this machine, or that are older than ``STALE_TEMP_AGE`` seconds: the
      leftovers of earlier saves that were killed.

    Between the checks and the rename another process could still put
    something else at path; the rename then replaces it (POSIX has no
    "rename unless it changed").
    """
    path = os.fspath(path)
    target = _save_target(path)
    folder, name = os.path.split(target)
    existing = _check_replaceable(target, path)
    _remove_stale_temps(folder, name)
    fd, tmp = _create_temp(folder, name)
    try:
        mode = existing.st_mode & 0o7777 if existing else _new_file_mode()
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:
            os.chmod(tmp, mode)
        if existing is not None and getattr(os, "geteuid", lambda: -1)() == 0:
            with contextlib.suppress(OSError):  # keep the owner of a file root replaces
                os.fchown(fd, existing.st_uid, existing.st_gid)
        with os.fdopen(fd, "wb") as f:
            fd = None
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _save_target(path):
    """The file a save of path replaces: path with every symlink resolved."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        shown = os.path.dirname(os.path.abspath(path))
        raise FileNotFoundError(f"cannot write {path!r}: the folder {shown!r} does not exist")
    return target


def _check_replaceable(target, path):
    """os.stat of the file at target, None if there is none; raise if the policy refuses it."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    shown = path if target == os.path.abspath(path) else f"{path!r} (-> {target!r})"
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"cannot save to {shown}: it is {_what(st.st_mode)}; annfast only "
                         "writes regular files")
    if not os.access(target, os.W_OK) or not st.st_mode & 0o222:
        raise PermissionError(errno.EACCES, f"cannot save to {shown}: the file is read-only "
                              f"(mode {stat.filemode(st.st_mode)}); annfast does not replace "
                              "files that are not writable", path)
    return st


def _temp_prefix(name):
    # Keep the temp name within NAME_MAX for long names: a prefix of the name plus
    # a hash of all of it still tells the files of one target apart.
    if len(name) > 100:
        name = f"{name[:80]}~{hashlib.sha256(os.fsencode(name)).hexdigest()[:12]}"
    return f".{name}{_TEMP_MARK}"


def _create_temp(folder, name):
    prefix = _temp_prefix(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = os.path.join(folder, f"{prefix}{os.getpid()}-{secrets.token_hex(4)}.part")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue


def _remove_stale_temps(folder, name):
    """Remove the temporary files of earlier, killed saves of folder/name."""
    prefix = _temp_prefix(name)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".part")):
            continue
        pid_text = entry.name[len(prefix):-len(".part")].split("-")[0]
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and _process_alive(pid) and now - st.st_mtime < STALE_TEMP_AGE:
            continue  # a save in progress in another process
        if pid == os.getpid() and now - st.st_mtime < STALE_TEMP_AGE:
            continue  # another thread of this process is saving the same path
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def _process_alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but belongs to someone else
    return True


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _new_file_mode():
    """0666 less the process umask: the mode open() gives a new file."""
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


def _read_member(archive, name, max_bytes, dtype_ok, file_size):
    """Read one .npy member of the archive after checking its header.

    The sizes the archive declares are bounded by the file's real size, and
    the header is checked before any allocation, so a hand-crafted file that
    claims an enormous member or shape, an object dtype or more data than it
    holds is refused without reading it.
    """
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{name!r} is compressed; annfast writes uncompressed archives")
    if info.file_size > max_bytes:
        raise ValueError(f"{name!r} holds {info.file_size} bytes, more than {max_bytes}")
    if (info.compress_size != info.file_size
            or info.header_offset + info.compress_size > file_size):
        raise ValueError(f"{name!r} declares {info.file_size} bytes, more than the "
                         f"{file_size}-byte file holds")
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"uses .npy version {version}")
        except (OSError, EOFError, zipfile.BadZipFile):
            raise
        except Exception as exc:  # noqa: BLE001
            # numpy parses the header with ast/tokenize: an unbalanced bracket is a
            # TokenError or SyntaxError, deep nesting a RecursionError.  All mean
            # "not a valid header".
            raise ValueError(f"{name!r} has a malformed .npy header "
                             f"({type(exc).__name__}: {str(exc)[:120]})") from None
        if dtype.hasobject or not dtype_ok(dtype):
            raise ValueError(f"{name!r} has dtype {dtype}, which annfast does not write")
        if len(shape) != 1 or fortran:
            raise ValueError(f"{name!r} has shape {shape}; expected a 1-D array")
        header_len = f.tell()
        if header_len + shape[0] * dtype.itemsize != info.file_size:
            raise ValueError(f"{name!r} declares {shape[0]} values of {dtype} but holds "
                             f"{info.file_size - header_len} bytes of data")
        # The sizes agree and fit the file, so this reads exactly what the file
        # holds; zipfile checks the CRC.
        data = f.read(info.file_size - header_len)
        if len(data) != shape[0] * dtype.itemsize:
            raise ValueError(f"{name!r} is truncated")
    return np.frombuffer(data, dtype=dtype).copy()


def open_regular(path):
    """Open path for reading if it is a regular file (symlinks followed); return a
    binary file object and its size.

    Never blocks: a FIFO is refused without waiting for a writer, and so is a
    device such as /dev/zero, which would be read without end.  A missing or
    unreadable path raises its usual OSError (FileNotFoundError, ...).
    """
    st = os.stat(path)  # refuse without opening: opening some devices has effects
    if not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, not a model file", path)
        raise ValueError(f"{path!r} is {_what(st.st_mode)}, not a model file; annfast "
                         "only reads regular files")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)  # what was opened, should path have changed since the stat
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path!r} is {_what(st.st_mode)}, not a model file; annfast "
                             "only reads regular files")
        if st.st_size > MAX_FILE_BYTES:
            raise ValueError(f"{path!r} has {st.st_size} bytes, more than any annfast model "
                             f"file ({MAX_FILE_BYTES})")
        return _BoundedFile(os.fdopen(fd, "rb"), st.st_size), st.st_size
    except BaseException:
        os.close(fd)
        raise


class _BoundedFile(io.RawIOBase):
    """A read-only view of the first size bytes of a file: a file that grows while
    it is read (a concurrent writer) is read as it was when opened."""

    def __init__(self, f, size):
        super().__init__()
        self._f, self._size = f, size

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        if whence == io.SEEK_END:
            offset, whence = self._size + offset, io.SEEK_SET
        return self._f.seek(offset, whence)

    def tell(self):
        return self._f.tell()

    def read(self, n=-1):
        left = max(0, self._size - self._f.tell())
        return self._f.read(left if n is None or n < 0 else min(n, left))

    def readinto(self, b):
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self):
        self._f.close()
        super().close()


def load_model(path, kind):
    """Read and verify a model file; return (config, params).

    Nothing is unpickled.  Raises ValueError for anything that is not an
    intact model file of this kind and version: not a regular file (FIFO,
    device), truncated, corrupted (the archive CRC and the SHA-256 of params),
    tampered with or hand-crafted (wrong members, malformed headers, object
    arrays, sizes beyond the file's, inconsistent shapes, non-JSON meta,
    missing keys).  A missing or unreadable path raises its usual OSError.
    """
    path = os.fspath(path)
    fileobj, size = open_regular(path)
    with fileobj:
        return _load_model(fileobj, path, kind, size)


def _load_model(fileobj, path, kind, file_size):
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = sorted(archive.namelist())
            if names != ["meta.npy", "params.npy"]:
                raise ValueError(f"expected arrays 'meta' and 'params', found {names}"[:300])
            meta_arr = _read_member(archive, "meta.npy", MAX_META_BYTES,
                                    lambda dt: dt == np.uint8, file_size)
            meta = json.loads(meta_arr.tobytes().decode("utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("'meta' is not a JSON object")
            if meta.get("format") != FORMAT:
                raise ValueError("not an annfast model file")
            if meta.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {meta.get('version')!r:.40} is not supported "
                                 f"(this annfast reads version {FORMAT_VERSION})")
            if meta.get("kind") != kind:
                raise ValueError(f"the file holds a {meta.get('kind')!r:.60}, not a {kind!r}")
            missing = {"dtype", "n_params", "sha256", "config"} - set(meta)
            if missing:
                raise ValueError(f"'meta' lacks {sorted(missing)}")
            n = meta["n_params"]
            if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= 3 * MAX_PARAMS:
                raise ValueError(f"implausible parameter count {n!r:.40}")
            if meta["dtype"] not in ("float32", "float64"):
                raise ValueError(f"unsupported dtype {meta['dtype']!r:.40}")
            if not isinstance(meta["config"], dict):
                raise ValueError("'config' is not a JSON object")
            declared = np.dtype(meta["dtype"]).newbyteorder("<")
            params = _read_member(archive, "params.npy", 128 + n * declared.itemsize,
                                  lambda dt: dt == declared, file_size)
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, UnicodeDecodeError,
            json.JSONDecodeError, KeyError, RuntimeError, NotImplementedError,
            OverflowError, struct_error) as exc:
        raise ValueError(f"{path!r} is not a readable annfast model file: "
                         f"{type(exc).__name__}: {str(exc)[:200]}") from None
    except ValueError as exc:
        raise ValueError(f"{path!r} is not a valid annfast model file: {exc}") from None
    if params.shape != (n,):
        raise ValueError(f"{path!r}: params hold {params.size} values, meta declares {n}")
    params = params.astype(declared.newbyteorder("="), copy=False)
    if checksum(params) != meta["sha256"]:
        raise ValueError(f"{path!r}: checksum mismatch; the file is corrupted")
    return meta["config"], params
