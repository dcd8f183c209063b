"""kill -9 during save: the file at the path is always a whole model, and the next
successful save leaves no temporary file behind.

A forked child saves two models in turn to the same path without pause; the
test kills it with SIGKILL after a random delay, reaps it, and loads the path.
ANNFAST_KILL_SAVES sets the number of kills (default 40, a second or two).
"""

import os
import random
import signal
import time

import numpy as np
import pytest

from annfast import NeuralNet, keras

KILLS = int(os.environ.get("ANNFAST_KILL_SAVES", "40"))

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def models():
    # Big enough (about 400 kB on disk) that a save takes a millisecond or more.
    return [NeuralNet([300, 160, 10], seed=s) for s in (1, 2, 3)]


def saver_loop(path, nets):
    """Child body: save the nets in turn forever (until killed)."""
    try:
        i = 0
        while True:
            nets[i % len(nets)].save(path)
            i += 1
    finally:
        os._exit(1)


def kill_during_saves(path, save_forever, load, versions, kills, seed):
    rng = random.Random(seed)
    caught_mid_save = 0
    folder = os.path.dirname(path)
    for _ in range(kills):
        pid = os.fork()
        if pid == 0:
            save_forever()
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)  # reaped: its pid no longer runs, so its temp file is stale
        caught_mid_save += any(name.endswith(".part") for name in os.listdir(folder))
        assert load(path) in versions, "the path holds something that is no whole model"
    return caught_mid_save


def test_kill_9_during_neuralnet_save(tmp_path):
    path = str(tmp_path / "model.npz")
    old, *new = models()
    old.save(path)
    versions = {net._params.tobytes() for net in (old, *new)}
    caught = kill_during_saves(path, lambda: saver_loop(path, new),
                               lambda p: NeuralNet.load(p)._params.tobytes(), versions, KILLS,
                               seed=0)
    # Most kills land while a temporary file exists: the test exercises the hard case.
    assert caught > 0, "no kill landed during a save"
    print(f"{caught} of {KILLS} kills landed during a save")
    old.save(path)
    assert os.listdir(tmp_path) == ["model.npz"]
    assert NeuralNet.load(path)._params.tobytes() == old._params.tobytes()


def test_kill_9_during_keras_save_and_dump(tmp_path):
    def keras_model(seed):
        model = keras.Sequential([keras.layers.Dense(64, input_dim=300),
                                  keras.layers.Dense(10)])
        model.set_weights([np.random.default_rng(seed).normal(size=w.shape)
                           for w in model.get_weights()])
        model.compile(loss="mse", optimizer="adam")
        return model

    path = str(tmp_path / "k.npz")
    old, a, b = keras_model(1), keras_model(2), keras_model(3)
    old.save(path)
    versions = {m._params.tobytes() for m in (old, a, b)}
    caught = kill_during_saves(path, lambda: saver_loop(path, [a, b]),
                               lambda p: keras.models.load_model(p)._params.tobytes(),
                               versions, max(1, KILLS // 2), seed=1)
    assert caught > 0
    old.save(path)
    assert os.listdir(tmp_path) == ["k.npz"]

    pickled = str(tmp_path / "net.pkl")
    nets = models()
    nets[0].dump(pickled)
    blobs = set()
    for net in nets:
        net.dump(str(tmp_path / "one.pkl"))
        with open(tmp_path / "one.pkl", "rb") as f:
            blobs.add(f.read())
    os.unlink(tmp_path / "one.pkl")

    def dump_forever():
        try:
            i = 0
            while True:
                nets[1 + i % 2].dump(pickled)
                i += 1
        finally:
            os._exit(1)

    def read(p):
        with open(p, "rb") as f:
            return f.read()

    kill_during_saves(pickled, dump_forever, read, blobs, max(1, KILLS // 2), seed=2)
    nets[0].dump(pickled)
    assert sorted(os.listdir(tmp_path)) == ["k.npz", "net.pkl"]
