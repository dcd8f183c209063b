"""Hostile inputs for the loaders, the save policy, the optimizer step count and
Neuron: the cases of ``test_hostile.py``, run in a child process.

Each case is a function of a scratch folder returning ``(call, state)``:
``call()`` is the hostile call, ``state()`` a snapshot (bytes, listings) that
must be identical before and after it.  The child runs every case under an
alarm, so a hang is reported as one, and announces each case before running
it, so a crash names its case.  This module is not collected by pytest.
"""

import io
import json
import os
import pickle
import signal
import socket
import stat
import struct
import sys
import warnings
import zlib

import numpy as np

HANG_SECONDS = 20

# -- model files ----------------------------------------------------------------------


def small_net(dtype=np.float64):
    from annfast import NeuralNet

    net = NeuralNet([3, 4, 2], seed=0, dtype=dtype)
    net.fit(np.random.default_rng(0).normal(size=(8, 3)), np.arange(8) % 2, epochs=1)
    return net


def small_keras(use_bias=True, dtype="float32", optimizer="adam"):
    from annfast import keras

    model = keras.Sequential()
    model.add(keras.layers.Dense(3, input_dim=2, use_bias=use_bias, dtype=dtype))
    model.add(keras.layers.Dense(1))
    model.compile(loss="mse", optimizer=optimizer)
    X = np.random.default_rng(0).normal(size=(16, 2))
    model.fit(X, X.sum(axis=1), epochs=1, verbose=0)
    return model


def npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npy_with_header(header_text):
    """A .npy (version 1.0) whose header dictionary is the given text."""
    text = header_text.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def read_members(path):
    import zipfile

    with zipfile.ZipFile(path) as zf:
        meta = json.loads(np.load(io.BytesIO(zf.read("meta.npy"))).tobytes())
        params = np.load(io.BytesIO(zf.read("params.npy")))
    return meta, params


def meta_npy(meta):
    return npy_bytes(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


def craft_zip(members):
    """A stored (uncompressed) zip built by hand: [(name, data, declared size or None)].

    A declared size other than the real one goes into the central directory
    (with a zip64 field past 4 GiB), which is what the loader reads."""
    out, central = bytearray(), bytearray()
    for name, data, declared in members:
        offset, crc, raw = len(out), zlib.crc32(data), name.encode()
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data),
                           len(data), len(raw), 0) + raw + data
        size = len(data) if declared is None else declared
        extra, size32 = b"", size
        if size >= 0xFFFFFFFF:
            extra, size32 = struct.pack("<2H2Q", 1, 16, size, size), 0xFFFFFFFF
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, crc, size32,
                               size32, len(raw), len(extra), 0, 0, 0, 0, offset) + raw + extra
    n = len(members)
    return bytes(out + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n,
                                             len(central), len(out), 0))


def valid_members(kind):
    """(meta, params) of a real small model file of this kind ("NeuralNet" or
    "keras.Sequential"); the crafted files below change one thing each."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "m.npz")
        (small_net() if kind == "NeuralNet" else small_keras()).save(p)
        return read_members(p)


# -- loader cases: each returns the path to load -----------------------------------------


def path_fifo(d, kind=None):
    p = os.path.join(d, "model.npz")
    os.mkfifo(p)
    return p


def path_dev_zero_link(d, kind=None):
    p = os.path.join(d, "model.npz")
    os.symlink("/dev/zero", p)
    return p


def path_dev_zero(d, kind=None):
    return "/dev/zero"


def path_char_device(d, kind=None):
    p = os.path.join(d, "model.npz")
    os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 5))  # a private /dev/zero
    return p


def path_socket(d, kind=None):
    p = os.path.join(d, "model.npz")
    s = socket.socket(socket.AF_UNIX)
    s.bind(p)
    return p


def _declaring(d, kind, n):
    """A small file whose params member, meta and .npy header all declare n float64
    values (n * 8 bytes) while the file holds a few hundred bytes."""
    meta, _ = valid_members(kind)
    meta["n_params"], meta["dtype"] = n, "float64"
    header = npy_with_header(f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({n},), }}")
    p = os.path.join(d, "model.npz")
    with open(p, "wb") as f:
        f.write(craft_zip([("meta.npy", meta_npy(meta), None),
                           ("params.npy", header + b"\0" * 64, len(header) + 8 * n)]))
    return p


def path_huge_member(d, kind):
    """16 GiB declared: the loader must refuse without trying the allocation."""
    return _declaring(d, kind, 1 << 31)


def path_member_beyond_file(d, kind):
    """1 MiB declared (no zip64 needed)."""
    return _declaring(d, kind, 1 << 17)


def _bad_header_file(d, kind, header_text, member="meta.npy"):
    meta, params = valid_members(kind)
    members = {"meta.npy": meta_npy(meta), "params.npy": npy_bytes(params)}
    members[member] = npy_with_header(header_text) + b"\0" * 16
    p = os.path.join(d, "model.npz")
    with open(p, "wb") as f:
        f.write(craft_zip([(name, data, None) for name, data in members.items()]))
    return p


def path_header_unbalanced(d, kind):
    return _bad_header_file(d, kind, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,, ")


def path_header_unbalanced_params(d, kind):
    return _bad_header_file(d, kind, "{'descr': '<f8', 'shape': ((((", member="params.npy")


def path_header_deep(d, kind):
    return _bad_header_file(d, kind, "{'descr': '|u1', 'fortran_order': False, 'shape': "
                            + "(" * 3000 + ")" * 3000 + "}")


def path_header_not_dict(d, kind):
    return _bad_header_file(d, kind, "[1, 2, 3]")


def path_header_bad_descr(d, kind):
    return _bad_header_file(d, kind, "{'descr': 'zz9', 'fortran_order': False, 'shape': (3,), }")


def path_keras_dtype_mismatch(d, kind=None):
    """config says float64, the buffer (and meta) hold float32."""
    model = small_keras(dtype="float32")
    p = os.path.join(d, "model.npz")
    model.save(p)
    meta, params = read_members(p)
    meta["config"]["dtype"] = "float64"
    with open(p, "wb") as f:
        f.write(craft_zip([("meta.npy", meta_npy(meta), None),
                           ("params.npy", npy_bytes(params), None)]))
    return p


def path_keras_nonzero_frozen_bias(d, kind=None):
    """A use_bias=False layer whose stored bias is 1.0, with a valid checksum."""
    from annfast import _io

    model = small_keras(use_bias=False)
    p = os.path.join(d, "model.npz")
    model.save(p)
    meta, params = read_members(p)
    params = params.copy()
    params[6] = 1.0  # layer 0: W is 3x2 = 6 values, then its 3 biases
    meta["sha256"] = _io.checksum(params)
    with open(p, "wb") as f:
        f.write(craft_zip([("meta.npy", meta_npy(meta), None),
                           ("params.npy", npy_bytes(params), None)]))
    return p


LOAD_PATHS = [
    ("fifo", path_fifo, "ValueError", "FIFO"),
    ("symlink-to-dev-zero", path_dev_zero_link, "ValueError", "character device"),
    ("dev-zero", path_dev_zero, "ValueError", "character device"),
    ("char-device", path_char_device, "ValueError", "character device"),
    ("socket", path_socket, "ValueError", "socket"),
    ("directory", lambda d, kind: d, "IsADirectoryError", "directory"),
    ("member-declares-16GiB", path_huge_member, "ValueError", "more than the"),
    ("member-beyond-file", path_member_beyond_file, "ValueError", "more than the"),
    ("npy-header-unbalanced", path_header_unbalanced, "ValueError", "malformed .npy header"),
    ("npy-header-unbalanced-params", path_header_unbalanced_params, "ValueError",
     "malformed .npy header"),
    ("npy-header-deep-nesting", path_header_deep, "ValueError", "not a valid"),
    ("npy-header-not-a-dict", path_header_not_dict, "ValueError", "malformed .npy header"),
    ("npy-header-bad-descr", path_header_bad_descr, "ValueError", "malformed .npy header"),
]
KERAS_ONLY_PATHS = [
    ("keras-config-dtype-mismatch", path_keras_dtype_mismatch, "ValueError",
     "config's dtype 'float64' is not the stored weights' dtype float32"),
    ("keras-frozen-bias-nonzero", path_keras_nonzero_frozen_bias, "ValueError",
     "use_bias=False has non-zero stored biases"),
]


def folder_state(d):
    """Names, kinds and regular files' bytes of the folder: a load must change nothing."""
    out = []
    for name in sorted(os.listdir(d)):
        st = os.lstat(os.path.join(d, name))
        content = None
        if stat.S_ISREG(st.st_mode):
            with open(os.path.join(d, name), "rb") as f:
                content = f.read()
        out.append((name, stat.S_IFMT(st.st_mode), content))
    return out


def load_case(loader, make_path):
    def case(d):
        from annfast import NeuralNet, keras

        kind = "NeuralNet" if loader == "NeuralNet.load" else "keras.Sequential"
        path = make_path(d, kind)
        fn = NeuralNet.load if loader == "NeuralNet.load" else keras.models.load_model
        return (lambda: fn(path)), (lambda: folder_state(d))
    return case


# -- save policy: each returns the path to save to ----------------------------------------


def target_readonly(d):
    p = os.path.join(d, "model.npz")
    with open(p, "wb") as f:
        f.write(b"the user's read-only file")
    os.chmod(p, 0o444)
    return p


def target_readonly_via_link(d):
    p = target_readonly(d)
    os.symlink(p, os.path.join(d, "link.npz"))
    return os.path.join(d, "link.npz")


def target_fifo(d):
    p = os.path.join(d, "model.npz")
    os.mkfifo(p)
    return p


def target_char_device(d):
    p = os.path.join(d, "null")
    os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    return p


def target_link_to_char_device(d):
    p = target_char_device(d)
    os.symlink(p, os.path.join(d, "model.npz"))
    return os.path.join(d, "model.npz")


def target_socket(d):
    return path_socket(d)


def target_directory(d):
    p = os.path.join(d, "model.npz")
    os.mkdir(p)
    return p


SAVE_TARGETS = [
    ("readonly-0444", target_readonly, "PermissionError", "read-only"),
    ("symlink-to-readonly", target_readonly_via_link, "PermissionError", "read-only"),
    ("fifo", target_fifo, "ValueError", "a FIFO"),
    ("char-device", target_char_device, "ValueError", "a character device"),
    ("symlink-to-char-device", target_link_to_char_device, "ValueError",
     "a character device"),
    ("socket", target_socket, "ValueError", "a socket"),
    ("directory", target_directory, "ValueError", "a directory"),
]


def save_case(saver, make_target):
    def case(d):
        path = make_target(d)
        if saver == "Sequential.save":
            model = small_keras()
            return (lambda: model.save(path)), (lambda: (folder_state(d), pickle.dumps(model)))
        net = small_net()
        fn = net.save if saver == "NeuralNet.save" else net.dump
        return (lambda: fn(path)), (lambda: (folder_state(d), pickle.dumps(net)))
    return case


# -- optimizer step count and Neuron ----------------------------------------------------


def iterations_set(value):
    def case(d):
        from annfast.keras import optimizers

        opt = optimizers.Adam()
        opt.iterations = 7

        def call():
            opt.iterations = value
        return call, (lambda: pickle.dumps(opt))
    return case


def iterations_smuggled(value):
    """A value put past the setter (the private attribute): fit must still refuse it
    before the history, the weights or the generator change."""
    def case(d):
        model = small_keras()
        model.optimizer._iterations = value
        X = np.ones((4, 2))
        return (lambda: model.fit(X, np.ones(4), verbose=0)), (lambda: pickle.dumps(model))
    return case


def neuron_case(attr, value):
    def case(d):
        from annfast import Neuron

        neuron = Neuron(3, bias=0.5, weights=[0.1, 0.2, 0.3])
        setattr(neuron, attr, value)
        return (lambda: neuron([1.0, 2.0, 3.0])), (lambda: pickle.dumps(neuron))
    return case


OTHER = [
    ("iterations=2**70", iterations_set(2**70), "ValueError", "iterations must be >= 0"),
    ("iterations=-5", iterations_set(-5), "ValueError", "iterations must be >= 0"),
    ("iterations=1.5", iterations_set(1.5), "TypeError", "iterations must be a non-negative"),
    ("iterations=True", iterations_set(True), "TypeError",
     "iterations must be a non-negative"),
    ("fit-with-iterations-2**70", iterations_smuggled(2**70), "ValueError",
     "optimizer.iterations must be >= 0"),
    ("fit-with-iterations--5", iterations_smuggled(-5), "ValueError",
     "optimizer.iterations must be >= 0"),
    ("neuron-b-nan", neuron_case("b", float("nan")), "ValueError",
     "bias (Neuron.b) must be finite"),
    ("neuron-b-inf", neuron_case("b", float("inf")), "ValueError",
     "bias (Neuron.b) must be finite"),
    ("neuron-ws-nan", neuron_case("ws", np.array([0.1, np.nan, 0.3])), "ValueError",
     "weights (Neuron.ws) contains NaN"),
    ("neuron-ws-short", neuron_case("ws", np.array([0.1, 0.3])), "ValueError",
     "must hold n_inputs=3 values"),
    ("neuron-b-text", neuron_case("b", "0.5"), "TypeError", "bias (Neuron.b) must be a real"),
]


def all_cases():
    """{name: (case function, exception type name, message fragment)}."""
    cases = {}
    for loader in ("NeuralNet.load", "keras.load_model"):
        for name, make, exc, frag in LOAD_PATHS:
            cases[f"{loader}:{name}"] = (load_case(loader, make), exc, frag)
    for name, make, exc, frag in KERAS_ONLY_PATHS:
        cases[f"keras.load_model:{name}"] = (load_case("keras.load_model", make), exc, frag)
    for saver in ("NeuralNet.save", "NeuralNet.dump", "Sequential.save"):
        for name, make, exc, frag in SAVE_TARGETS:
            cases[f"{saver}:{name}"] = (save_case(saver, make), exc, frag)
    for name, case, exc, frag in OTHER:
        cases[name] = (case, exc, frag)
    return cases


class _Hang(BaseException):
    pass


def _alarm(signum, frame):
    raise _Hang


def child_main(scratch):
    """Run every case, printing START before and RESULT (JSON) after each."""
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _alarm)
    # A regression that reads without bound becomes a MemoryError here instead of
    # a trip to the machine's OOM killer.
    import resource

    # 8 GiB more than is mapped now (under ASan, terabytes of shadow already are).
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + (8 << 30)
    if (soft == resource.RLIM_INFINITY or soft > limit) and (
            hard == resource.RLIM_INFINITY or hard >= limit):
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    for i, (name, (case, _, _)) in enumerate(all_cases().items()):
        print("START", name, flush=True)
        d = os.path.join(scratch, f"case{i}")
        os.mkdir(d)
        call, state = case(d)
        before = state()
        signal.alarm(HANG_SECONDS)
        try:
            call()
            outcome = {"raised": None}
        except _Hang:
            outcome = {"raised": "HANG"}
        except Exception as exc:  # noqa: BLE001 (the type is the result)
            outcome = {"raised": type(exc).__name__, "message": str(exc)}
        finally:
            signal.alarm(0)
        outcome["unchanged"] = state() == before
        print("RESULT", json.dumps([name, outcome]), flush=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    child_main(sys.argv[1])
