"""Model files: atomic saves, verified loads, and pickles that keep working.

``save`` must never leave half a model behind, and ``load`` must turn every
file that is not an intact model of the right kind (truncated, corrupted,
tampered with, hand-crafted) into a ValueError without unpickling anything
and without allocating what a hostile header claims.
"""

import io
import json
import os
import pickle
import time
import zipfile

import numpy as np
import pytest

from annfast import NeuralNet, _io

DTYPES = (np.float32, np.float64)


def small_net(dtype=np.float64, seed=3):
    net = NeuralNet([4, 5, 3], learning_rate=0.1, reg_lambda=0.001, activation="tanh",
                    dtype=dtype, seed=seed)
    X = np.random.default_rng(seed).normal(size=(20, 4))
    net.fit(X, np.arange(20) % 3, epochs=2)
    return net, X


def listing(folder):
    return sorted(os.listdir(folder))


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_save_load_round_trip(tmp_path, dtype):
    net, X = small_net(dtype)
    path = tmp_path / "model.npz"
    net.save(path)
    back = NeuralNet.load(path)
    assert back._params.dtype == np.dtype(dtype)
    assert back._params.tobytes() == net._params.tobytes()
    assert back._config() == net._config()
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    # The loaded model is a working model with its own buffer.
    back.fit(X, np.arange(20) % 3, epochs=1)
    assert back._params.tobytes() != net._params.tobytes()


def test_save_accepts_str_and_pathlike_and_overwrites(tmp_path):
    net, _ = small_net()
    net.save(str(tmp_path / "a.npz"))
    other, _ = small_net(seed=9)
    other.save(tmp_path / "a.npz")  # replaces the first
    assert NeuralNet.load(str(tmp_path / "a.npz"))._params.tobytes() == other._params.tobytes()
    assert listing(tmp_path) == ["a.npz"]


def test_file_carries_version_architecture_dtype_and_checksum(tmp_path):
    net, _ = small_net(np.float32)
    net.save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as zf:
        meta = json.loads(np.load(io.BytesIO(zf.read("meta.npy"))).tobytes())
    assert meta["format"] == _io.FORMAT
    assert meta["version"] == _io.FORMAT_VERSION
    assert meta["kind"] == "NeuralNet"
    assert meta["dtype"] == "float32"
    assert meta["config"]["layers"] == [4, 5, 3]
    assert meta["n_params"] == net.n_params
    assert meta["sha256"] == _io.checksum(net._params)


def test_dump_pickle_still_works(tmp_path):
    net, X = small_net()
    net.dump(tmp_path / "net.pkl")
    with open(tmp_path / "net.pkl", "rb") as f:
        back = pickle.load(f)
    assert back._params.tobytes() == net._params.tobytes()
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    # The unpickled model trains, and identically to the original.
    y = np.arange(20) % 3
    back.fit(X, y, epochs=1)
    net.fit(X, y, epochs=1)
    assert back._params.tobytes() == net._params.tobytes()
    assert back.weights[0].base is not None  # views into one buffer again


# -- atomicity -----------------------------------------------------------------------


def test_failure_mid_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    old, _ = small_net(seed=1)
    path = tmp_path / "model.npz"
    old.save(path)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a model")  # some bytes reach the temp file
        raise OSError("disk full")

    monkeypatch.setattr(_io.np, "savez", broken_savez)
    new, _ = small_net(seed=2)
    with pytest.raises(OSError, match="disk full"):
        new.save(path)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["model.npz"]


def test_atomic_write_interrupted_by_keyboardinterrupt(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def write(f):
        f.write(b"new but incomplete")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _io.atomic_write(path, write)
    assert path.read_bytes() == b"old"
    assert listing(tmp_path) == ["f.bin"]


def test_failure_at_rename_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "model.pkl"
    net, _ = small_net()

    def failing_replace(src, dst):
        raise PermissionError("read-only target")

    monkeypatch.setattr(_io.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        net.dump(path)
    assert listing(tmp_path) == []


def test_save_into_missing_folder_names_it(tmp_path):
    net, _ = small_net()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        net.save(tmp_path / "no" / "such" / "m.npz")


def test_saved_file_mode_is_not_private(tmp_path):
    net, _ = small_net()
    net.save(tmp_path / "m.npz")
    # mkstemp's 0600 would surprise users sharing model files.
    assert os.stat(tmp_path / "m.npz").st_mode & 0o044


# -- rejected files --------------------------------------------------------------------


def write_archive(path, members, compression=zipfile.ZIP_STORED):
    """Write a zip whose members are raw bytes (hand-crafted files)."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def npy_bytes(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def meta_for(net, **changes):
    meta = {"format": _io.FORMAT, "version": _io.FORMAT_VERSION, "kind": "NeuralNet",
            "dtype": np.dtype(net.dtype).name, "n_params": int(net.n_params),
            "sha256": _io.checksum(net._params), "config": net._config()}
    meta.update(changes)
    return meta


def meta_npy(meta):
    text = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return npy_bytes(np.frombuffer(text, dtype=np.uint8))


def craft(path, net, meta=None, params=None, extra=None, **kwargs):
    members = {"meta.npy": meta_npy(meta if meta is not None else meta_for(net)),
               "params.npy": npy_bytes(net._params if params is None else params)}
    members.update(extra or {})
    write_archive(path, members, **kwargs)


def test_crafted_helper_writes_a_loadable_file(tmp_path):
    # The hand-crafting helpers produce valid files when nothing is changed, so
    # every rejection below is due to the one thing each case changes.
    net, _ = small_net()
    craft(tmp_path / "ok.npz", net)
    assert NeuralNet.load(tmp_path / "ok.npz")._params.tobytes() == net._params.tobytes()


@pytest.mark.parametrize("cut", [0, 1, 10, 30, 100, 0.25, 0.5, 0.75, -30, -1])
def test_truncated_file_is_rejected(tmp_path, cut):
    net, _ = small_net()
    net.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else cut % len(data)
    (tmp_path / "t.npz").write_bytes(data[:n])
    with pytest.raises(ValueError, match="annfast model file"):
        NeuralNet.load(tmp_path / "t.npz")


def test_every_truncation_is_rejected(tmp_path):
    net = NeuralNet([2, 1], output="sigmoid", seed=0)
    net.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    for n in range(len(data)):
        (tmp_path / "t.npz").write_bytes(data[:n])
        with pytest.raises(ValueError):
            NeuralNet.load(tmp_path / "t.npz")


def test_every_flipped_byte_is_rejected_or_harmless(tmp_path):
    """Flip each byte of a small model file: load either raises ValueError or
    (for bytes no check covers, such as zip timestamps) returns the very same
    model.  No other exception, no silently different parameters."""
    net = NeuralNet([3, 2], output="sigmoid", seed=0)
    net.save(tmp_path / "m.npz")
    data = bytearray((tmp_path / "m.npz").read_bytes())
    rejected = 0
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x5A
        (tmp_path / "f.npz").write_bytes(bytes(bad))
        try:
            back = NeuralNet.load(tmp_path / "f.npz")
        except ValueError:
            rejected += 1
            continue
        assert back._params.tobytes() == net._params.tobytes(), f"byte {i}"
        assert back._config() == net._config(), f"byte {i}"
    assert rejected > len(data) // 2


def test_flipped_byte_in_params_fails_the_checksum(tmp_path):
    net, _ = small_net()
    params = net._params.copy()
    params[3] = np.nextafter(params[3], np.inf)  # one ulp: a valid archive, wrong data
    craft(tmp_path / "m.npz", net, params=params)
    with pytest.raises(ValueError, match="checksum mismatch"):
        NeuralNet.load(tmp_path / "m.npz")


class Tripwire:
    """Unpickling this records it: load must never get that far."""

    triggered = False

    def __reduce__(self):
        return (_trip, ())


def _trip():
    Tripwire.triggered = True
    return "tripped"


def test_object_arrays_are_never_unpickled(tmp_path):
    net, _ = small_net()
    evil = np.array([Tripwire(), 1.0], dtype=object)
    for member in ("params.npy", "meta.npy"):
        members = {"meta.npy": meta_npy(meta_for(net)), "params.npy": npy_bytes(net._params)}
        members[member] = npy_bytes(evil, allow_pickle=True)
        write_archive(tmp_path / "evil.npz", members)
        with pytest.raises(ValueError, match="dtype object"):
            NeuralNet.load(tmp_path / "evil.npz")
    assert not Tripwire.triggered


def test_a_pickle_file_is_not_a_model_file(tmp_path):
    net, _ = small_net()
    net.dump(tmp_path / "net.pkl")
    with pytest.raises(ValueError, match="not a readable annfast model file"):
        NeuralNet.load(tmp_path / "net.pkl")


def oversized_header(n):
    """A .npy header claiming n float64 values, followed by only 8 bytes."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (n,)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + b"\0" * 8


def _meta_n(net, n):
    return meta_npy(meta_for(net, n_params=n))


CRAFTED = {
    "oversized shape": (lambda net: {"meta.npy": _meta_n(net, net.n_params),
                                     "params.npy": oversized_header(10**12)},
                        "declares"),
    "oversized shape, meta agrees": (lambda net: {"meta.npy": _meta_n(net, 2**31),
                                                  "params.npy": oversized_header(2**31)},
                                     "declares"),
    "absurd n_params": (lambda net: {"meta.npy": _meta_n(net, 10**15),
                                     "params.npy": npy_bytes(net._params)},
                        "implausible parameter count"),
    "params shorter than meta says": (
        lambda net: {"meta.npy": _meta_n(net, net.n_params + 1),
                     "params.npy": npy_bytes(net._params)}, "declares"),
    "2-D params": (lambda net: {"meta.npy": meta_npy(meta_for(net)),
                                "params.npy": npy_bytes(net._params.reshape(1, -1))},
                   "expected a 1-D array"),
    "int params": (lambda net: {"meta.npy": meta_npy(meta_for(net)),
                                "params.npy": npy_bytes(net._params.astype(np.int64))},
                   "dtype int64"),
    "float32 params, float64 meta": (
        lambda net: {"meta.npy": meta_npy(meta_for(net)),
                     "params.npy": npy_bytes(net._params.astype(np.float32))},
        "dtype float32"),
    "missing params": (lambda net: {"meta.npy": meta_npy(meta_for(net))}, "found"),
    "missing meta": (lambda net: {"params.npy": npy_bytes(net._params)}, "found"),
    "extra member": (lambda net: {"meta.npy": meta_npy(meta_for(net)),
                                  "params.npy": npy_bytes(net._params),
                                  "x.npy": npy_bytes(np.zeros(2))}, "found"),
    "meta not JSON": (lambda net: {"meta.npy": meta_npy(b"{not json"),
                                   "params.npy": npy_bytes(net._params)},
                      "not a readable"),
    "meta not UTF-8": (lambda net: {"meta.npy": meta_npy(b"\xff\xfe{}"),
                                    "params.npy": npy_bytes(net._params)},
                       "not a readable"),
    "meta a JSON list": (lambda net: {"meta.npy": meta_npy(b"[1, 2]"),
                                      "params.npy": npy_bytes(net._params)},
                         "not a JSON object"),
    "meta float array": (lambda net: {"meta.npy": npy_bytes(np.zeros(3)),
                                      "params.npy": npy_bytes(net._params)},
                         "dtype float64"),
    "not annfast": (lambda net: {"meta.npy": meta_npy(meta_for(net, format="other")),
                                 "params.npy": npy_bytes(net._params)},
                    "not an annfast model file"),
    "wrong version": (lambda net: {"meta.npy": meta_npy(meta_for(net, version=99)),
                                   "params.npy": npy_bytes(net._params)},
                      "format version 99 is not supported"),
    "wrong kind": (lambda net: {"meta.npy": meta_npy(meta_for(net, kind="MLPClassifier")),
                                "params.npy": npy_bytes(net._params)},
                   "holds a 'MLPClassifier'"),
    "unsupported dtype": (lambda net: {"meta.npy": meta_npy(meta_for(net, dtype="float16")),
                                       "params.npy": npy_bytes(net._params)},
                          "unsupported dtype"),
    "bool n_params": (lambda net: {"meta.npy": meta_npy(meta_for(net, n_params=True)),
                                   "params.npy": npy_bytes(net._params)},
                      "implausible"),
}


@pytest.mark.parametrize("missing", ["dtype", "n_params", "sha256", "config"])
def test_missing_meta_key_is_rejected(tmp_path, missing):
    net, _ = small_net()
    meta = meta_for(net)
    del meta[missing]
    craft(tmp_path / "m.npz", net, meta=meta)
    with pytest.raises(ValueError, match="lacks"):
        NeuralNet.load(tmp_path / "m.npz")


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_hand_crafted_file_is_rejected(tmp_path, case):
    net, _ = small_net()
    make, fragment = CRAFTED[case]
    write_archive(tmp_path / "m.npz", make(net))
    with pytest.raises(ValueError, match=fragment):
        NeuralNet.load(tmp_path / "m.npz")


def test_compressed_archive_is_rejected(tmp_path):
    net, _ = small_net()
    craft(tmp_path / "m.npz", net, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="compressed"):
        NeuralNet.load(tmp_path / "m.npz")


@pytest.mark.parametrize("config, fragment", [
    ({"layers": [4, 6, 3]}, "do not fit layers"),
    ({"layers": [10**6, 10**6, 10**6]}, "parameters; at most"),  # no 16 TB allocation
    ({"layers": "4,5,3"}, "list of layer sizes"),
    ({"activation": "maxout"}, "is not valid"),
    ({"learning_rate": -1.0}, "learning_rate must be > 0"),
    ({"output": "tanh"}, "is not valid"),
    ({"leaky_slope": None}, "leaky_slope"),
    ({"init": None}, "init"),
])
def test_inconsistent_config_is_rejected(tmp_path, config, fragment):
    net, _ = small_net()
    meta = meta_for(net)
    meta["config"] = {**meta["config"], **config}
    craft(tmp_path / "m.npz", net, meta=meta)
    with pytest.raises(ValueError, match=fragment):
        NeuralNet.load(tmp_path / "m.npz")


def test_config_missing_key_is_rejected(tmp_path):
    net, _ = small_net()
    meta = meta_for(net)
    del meta["config"]["reg_lambda"]
    craft(tmp_path / "m.npz", net, meta=meta)
    with pytest.raises(ValueError, match="reg_lambda"):
        NeuralNet.load(tmp_path / "m.npz")


def test_non_finite_parameters_with_valid_checksum_are_rejected(tmp_path):
    net, _ = small_net()
    params = net._params.copy()
    params[0] = np.nan
    craft(tmp_path / "m.npz", net, meta=meta_for(net, sha256=_io.checksum(params)),
          params=params)
    with pytest.raises(ValueError, match="NaN or infinity"):
        NeuralNet.load(tmp_path / "m.npz")


def test_garbage_and_empty_files_are_rejected(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "text.npz").write_bytes(b"layers: [4, 5, 3]\n" * 10)
    (tmp_path / "npy.npz").write_bytes(npy_bytes(np.zeros(3)))
    for name in ("empty.npz", "text.npz", "npy.npz"):
        with pytest.raises(ValueError, match="not a readable annfast model file"):
            NeuralNet.load(tmp_path / name)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        NeuralNet.load(tmp_path / "absent.npz")


# -- the Keras-style front end shares the format ----------------------------------------------


def test_keras_file_claiming_huge_layers_is_rejected_without_allocating(tmp_path):
    keras = pytest.importorskip("annfast.keras")
    model = keras.Sequential()
    model.add(keras.layers.Dense(2, input_dim=3))
    model.compile(loss="mse", optimizer="sgd")
    model.save(tmp_path / "k.npz")
    with zipfile.ZipFile(tmp_path / "k.npz") as zf:
        meta = json.loads(np.load(io.BytesIO(zf.read("meta.npy"))).tobytes())
        params = np.load(io.BytesIO(zf.read("params.npy")))
    meta["config"]["input_dim"] = 10**6  # 10^12 weights claimed, a few stored
    meta["config"]["layers"][0]["units"] = 10**6
    write_archive(tmp_path / "evil.npz", {"meta.npy": meta_npy(meta),
                                          "params.npy": npy_bytes(params)})
    with pytest.raises(ValueError):
        keras.models.load_model(tmp_path / "evil.npz")


def test_keras_files_get_the_same_verification(tmp_path):
    keras = pytest.importorskip("annfast.keras")
    model = keras.Sequential()
    model.add(keras.layers.Dense(2, input_dim=3))
    model.compile(loss="mse", optimizer="sgd")
    model.save(tmp_path / "k.npz")
    data = (tmp_path / "k.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="annfast model file"):
        keras.models.load_model(tmp_path / "t.npz")
    net, _ = small_net()
    net.save(tmp_path / "net.npz")
    with pytest.raises(ValueError, match="holds a 'NeuralNet'"):
        keras.models.load_model(tmp_path / "net.npz")


# -- the save policy (see annfast._io.atomic_write) -----------------------------------------


def dead_pid():
    """The pid of a process that has exited."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_save_writes_through_a_symlink_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    old, X = small_net(seed=1)
    old.save(tmp_path / "real" / "m.npz")
    link = tmp_path / "links" / "m.npz"
    link.symlink_to(tmp_path / "real" / "m.npz")
    new, _ = small_net(seed=2)
    new.save(link)
    assert link.is_symlink()
    assert NeuralNet.load(tmp_path / "real" / "m.npz")._params.tobytes() == \
        new._params.tobytes()
    assert listing(tmp_path / "real") == ["m.npz"] and listing(tmp_path / "links") == ["m.npz"]
    new.dump(link)  # dump follows the same policy
    assert link.is_symlink() and listing(tmp_path / "real") == ["m.npz"]


def test_save_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "m.npz"
    link.symlink_to(tmp_path / "target.npz")
    net, _ = small_net()
    net.save(link)
    assert link.is_symlink() and (tmp_path / "target.npz").is_file()
    assert NeuralNet.load(link)._params.tobytes() == net._params.tobytes()


def test_save_through_a_symlinked_folder(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    net, _ = small_net()
    net.save(tmp_path / "alias" / "m.npz")
    assert listing(tmp_path / "real") == ["m.npz"]


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555, 0o000])
def test_save_refuses_a_file_without_write_bits_even_as_root(tmp_path, mode):
    path = tmp_path / "m.npz"
    path.write_bytes(b"keep me")
    os.chmod(path, mode)
    net, _ = small_net()
    for call in (net.save, net.dump):
        with pytest.raises(PermissionError, match="read-only"):
            call(path)
    os.chmod(path, 0o600)
    assert path.read_bytes() == b"keep me" and listing(tmp_path) == ["m.npz"]


@pytest.mark.skipif(os.geteuid() != 0, reason="replacing another user's file needs root")
def test_root_replaces_a_writable_file_of_another_user_and_keeps_its_owner_and_mode(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    os.chown(path, 1234, 5678)
    os.chmod(path, 0o640)
    net, _ = small_net()
    net.save(path)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1234, 5678, 0o640)
    assert NeuralNet.load(path)._params.tobytes() == net._params.tobytes()


def test_write_only_file_is_replaced(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    os.chmod(path, 0o200)
    net, _ = small_net()
    net.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o200
    os.chmod(path, 0o600)
    assert NeuralNet.load(path)._params.tobytes() == net._params.tobytes()


def test_temporary_file_is_named_after_its_target(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.basename(src), dst))
        return real_replace(src, dst)

    monkeypatch.setattr(_io.os, "replace", spy)
    net, _ = small_net()
    net.save(tmp_path / "m.npz")
    (name, dst), = seen
    assert name.startswith(f".m.npz.annfast-tmp-{os.getpid()}-") and name.endswith(".part")
    assert dst == str(tmp_path / "m.npz")


def test_long_names_keep_temporary_names_short(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace
    monkeypatch.setattr(_io.os, "replace", lambda s, d: (seen.append(s), real_replace(s, d)))
    name = "m" * 250
    net, _ = small_net()
    net.save(tmp_path / name)
    assert len(os.path.basename(seen[0])) < 140 and listing(tmp_path) == [name]


def test_stale_temporaries_of_the_same_target_are_removed(tmp_path):
    net, _ = small_net()
    net.save(tmp_path / "m.npz")
    dead, alive = dead_pid(), os.getppid()
    stale = [f".m.npz.annfast-tmp-{dead}-0001.part",  # its process is gone
             f".m.npz.annfast-tmp-{alive}-0002.part"]  # alive, but older than a day
    kept = [f".m.npz.annfast-tmp-{alive}-0003.part",  # a save in progress elsewhere
            f".other.npz.annfast-tmp-{dead}-0004.part",  # another target's
            ".tmp-1234.part", "notes.txt"]  # not ours
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"partial")
    old = time.time() - _io.STALE_TEMP_AGE - 60
    os.utime(tmp_path / stale[1], (old, old))
    (tmp_path / f".m.npz.annfast-tmp-{dead}-0005.part").mkdir()  # not a file: left alone
    net.save(tmp_path / "m.npz")
    assert listing(tmp_path) == sorted(kept + ["m.npz", f".m.npz.annfast-tmp-{dead}-0005.part"])


def test_load_follows_a_symlink_to_a_regular_file(tmp_path):
    net, _ = small_net()
    net.save(tmp_path / "m.npz")
    (tmp_path / "link.npz").symlink_to(tmp_path / "m.npz")
    assert NeuralNet.load(tmp_path / "link.npz")._params.tobytes() == net._params.tobytes()


def test_load_reads_a_growing_file_as_it_was_when_opened(tmp_path):
    net, _ = small_net()
    net.save(tmp_path / "m.npz")
    size = os.path.getsize(tmp_path / "m.npz")
    f, n = _io.open_regular(str(tmp_path / "m.npz"))
    with f, open(tmp_path / "m.npz", "ab") as grow:
        grow.write(b"x" * 1000)
        grow.flush()
        assert n == size and len(f.read()) == size
        f.seek(0, io.SEEK_END)
        assert f.tell() == size
