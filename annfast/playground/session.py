"""One page's network: a worker thread that trains it and publishes snapshots.

Only the worker thread touches the network and the data.  Request threads send
it commands (play, pause, step, reset, ...) and wait for the answer; the worker
applies them between epochs.  While playing it trains epoch after epoch (the
kernel releases the GIL) and, at most every ``interval`` seconds, publishes a
snapshot (boundary grid, neuron grids, weights, losses) as one JSON string that
any number of event streams read.
"""

import base64
import collections
import json
import secrets
import threading
import time

import numpy as np

from annfast.playground import config as config_module
from annfast.playground import datasets
from annfast.playground.trainer import Network

#: Boundary heat map resolution (cells per side) and that of each neuron's map
#: (the boundary grid averaged over POOL x POOL blocks).
GRID = 48
POOL = 3
NEURON_GRID = GRID // POOL
#: Loss-curve points kept; beyond it every other point is dropped.
MAX_HISTORY = 400


def _encode(values):
    """Display values in [-1, 1] (clipped) as base64 of one byte each."""
    q = np.rint((np.clip(values, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return base64.b64encode(q.tobytes()).decode("ascii")


def _encode_columns(values):
    """_encode of each column of a 2-D array (quantised in one pass)."""
    q = np.rint((np.clip(values, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return [base64.b64encode(col.tobytes()).decode("ascii") for col in np.ascontiguousarray(q.T)]


def _pool(values):
    """(GRID**2, k) values on the grid -> (NEURON_GRID**2, k) block means."""
    k = values.shape[1]
    blocks = values.reshape(NEURON_GRID, POOL, NEURON_GRID, POOL, k)
    return blocks.mean(axis=(1, 3)).reshape(NEURON_GRID * NEURON_GRID, k)


def _finite(x):
    return float(x) if np.isfinite(x) else None


class SessionClosed(RuntimeError):
    """The session ended (idle, or the server is stopping)."""


class _Command:
    __slots__ = ("name", "arg", "done", "result", "error")

    def __init__(self, name, arg):
        self.name, self.arg = name, arg
        self.done = threading.Event()
        self.result = self.error = None


class Session:
    def __init__(self, cfg, interval=0.05):
        self.id = secrets.token_urlsafe(12)
        self.interval = interval
        self.cond = threading.Condition()
        self._commands = collections.deque()
        self.version = 0
        self.snapshot_json = None
        self.listeners = 0
        self.last_seen = time.monotonic()
        self.stopped = False
        self.data_version = 0
        self._build(cfg)
        self._publish()
        self._thread = threading.Thread(target=self._run, name=f"playground-{self.id[:6]}",
                                        daemon=True)
        self._thread.start()

    # -- request threads ----------------------------------------------------------

    def call(self, name, arg=None, timeout=30.0):
        """Run a command in the worker and return its result."""
        cmd = _Command(name, arg)
        with self.cond:
            if self.stopped:
                raise SessionClosed("the session has ended")
            self.last_seen = time.monotonic()
            self._commands.append(cmd)
            self.cond.notify_all()
        if not cmd.done.wait(timeout):
            raise TimeoutError(f"the session did not answer {name!r} in {timeout} s")
        if cmd.error is not None:
            raise cmd.error
        return cmd.result

    def stream(self, write, keepalive=15.0):
        """Write every new snapshot as a Server-Sent Event until the session ends
        or ``write`` fails (the page went away).  Slow readers skip snapshots."""
        last = -1
        with self.cond:
            self.listeners += 1
        try:
            while True:
                with self.cond:
                    self.cond.wait_for(lambda: self.version != last or self.stopped, keepalive)
                    if self.stopped:
                        return
                    version, payload = self.version, self.snapshot_json
                if version == last:
                    write(b": keepalive\n\n")
                else:
                    write(b"data: " + payload.encode("utf-8") + b"\n\n")
                    last = version
        finally:
            with self.cond:
                self.listeners -= 1
                self.last_seen = time.monotonic()

    def idle_for(self):
        with self.cond:
            return 0.0 if self.listeners else time.monotonic() - self.last_seen

    def close(self):
        with self.cond:
            self.stopped = True
            pending = list(self._commands)
            self._commands.clear()
            self.cond.notify_all()
        for cmd in pending:
            cmd.error = SessionClosed("the session has ended")
            cmd.done.set()

    def join(self, timeout=None):
        self._thread.join(timeout)

    # -- worker thread --------------------------------------------------------------

    def _run(self):
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.stopped or self._commands or self.playing)
                if self.stopped:
                    return
                commands = list(self._commands)
                self._commands.clear()
            for cmd in commands:
                try:
                    cmd.result = getattr(self, "_do_" + cmd.name)(cmd.arg)
                except Exception as exc:  # handed to the caller, who reports it
                    cmd.error = exc
                cmd.done.set()
            if self.playing:
                self._epoch()
                if not self.playing or time.monotonic() - self._published_at >= self.interval:
                    self._publish()

    def _build(self, cfg):
        """New data and a new network from the settings (the worker's state)."""
        self.cfg = cfg
        regression = datasets.is_regression(cfg["dataset"])
        points, y = datasets.generate(cfg["dataset"], cfg["points"], cfg["noise"], cfg["seed"])
        n_train = datasets.split(len(y), cfg["train_percent"])
        X = datasets.features(points, cfg["features"])
        self.points, self.targets, self.n_train = points, y, n_train
        self.X_train, self.X_test = X[:n_train], X[n_train:]
        self.y_train, self.y_test = y[:n_train], y[n_train:]
        self.Y_train = np.ascontiguousarray(self.y_train.reshape(-1, 1))
        self.net = Network([X.shape[1]] + cfg["hidden"] + [1], cfg["activation"], regression,
                           cfg["seed"])
        self.rng = np.random.default_rng(cfg["seed"])
        self.grid = datasets.features(datasets.grid(GRID), cfg["features"])
        inputs = _pool(self.grid)
        span = np.abs(inputs).max(axis=0)
        self.input_maps = _encode_columns(inputs / np.where(span > 0, span, 1.0))
        self.epoch = 0
        self.playing = False
        self.error = None
        self.history = []
        self.data_version += 1
        self._rate_mark = (time.monotonic(), 0)
        self.epochs_per_second = 0.0

    def _epoch(self):
        cfg = self.cfg
        order = self.rng.permutation(self.n_train)
        loss = self.net.train_epoch(self.X_train, self.Y_train, order, cfg["batch_size"],
                                    cfg["learning_rate"], cfg["regularization"], cfg["reg_rate"])
        if loss is None:
            self.playing = False
            self.error = (f"training diverged at epoch {self.epoch + 1} (the loss or the "
                          f"weights became infinite); the weights are those of epoch "
                          f"{self.epoch}. Lower the learning rate (now {cfg['learning_rate']}).")
            return
        self.epoch += 1
        if self.epoch == cfg["stop_at"]:
            self.playing = False

    def _snapshot(self):
        net = self.net
        train_loss = net.mean_loss(self.X_train, self.y_train)
        test_loss = net.mean_loss(self.X_test, self.y_test)
        if not self.history or self.history[-1][0] != self.epoch:
            self.history.append([self.epoch, _finite(train_loss), _finite(test_loss)])
            if len(self.history) > MAX_HISTORY:
                # Every other point, counted back from the newest (always kept).
                self.history = self.history[::-2][::-1]
        now = time.monotonic()
        t0, e0 = self._rate_mark
        if not self.playing:
            self.epochs_per_second, self._rate_mark = 0.0, (now, self.epoch)
        elif now - t0 >= 0.5:
            self.epochs_per_second = (self.epoch - e0) / (now - t0)
            self._rate_mark = (now, self.epoch)
        # Display values in [-1, 1]: a probability p shows as 2p - 1 (0.5 is white).
        layers = net.layer_outputs(self.grid)
        if not net.regression:
            layers[-1] = 2 * layers[-1] - 1
        boundary = layers[-1][:, 0]
        maps = _encode_columns(_pool(np.concatenate(layers, axis=1)))
        nodes, start = [self.input_maps], 0
        for a in layers:
            nodes.append(maps[start:start + a.shape[1]])
            start += a.shape[1]
        weights, biases = net.weights()
        return {
            "epoch": self.epoch,
            "playing": self.playing,
            "error": self.error,
            "train_loss": _finite(train_loss),
            "test_loss": _finite(test_loss),
            "epochs_per_second": round(self.epochs_per_second, 1),
            "history": self.history,
            "data_version": self.data_version,
            "config": self.cfg,
            "grid": GRID,
            "boundary": _encode(boundary),
            "neuron_grid": NEURON_GRID,
            "nodes": nodes,
            "weights": [np.round(W, 5).tolist() for W in weights],
            "biases": [np.round(b, 5).tolist() for b in biases],
            "time": time.time(),
        }

    def _publish(self):
        payload = json.dumps(self._snapshot(), separators=(",", ":"))
        self._published_at = time.monotonic()
        with self.cond:
            self.snapshot_json = payload
            self.version += 1
            self.cond.notify_all()

    # Commands (run in the worker).

    def _do_play(self, _):
        self.playing = True
        self._publish()
        return {"playing": True}

    def _do_pause(self, _):
        self.playing = False
        self._publish()
        return {"playing": False, "epoch": self.epoch}

    def _do_step(self, _):
        self.playing = False
        self._epoch()
        self._publish()
        return {"epoch": self.epoch, "error": self.error}

    def _do_reset(self, cfg):
        self._build(cfg if cfg is not None else self.cfg)
        self._publish()
        return {"epoch": 0, "config": self.cfg}

    def _do_configure(self, cfg):
        """Live fields change in place; any other change builds a new network."""
        rebuild = any(cfg[k] != self.cfg[k] for k in cfg
                      if k not in config_module.LIVE_FIELDS)
        if rebuild:
            self._build(cfg)
        else:
            self.cfg = cfg
        self._publish()
        return {"rebuilt": rebuild, "config": self.cfg}

    def _do_config(self, _):
        return self.cfg

    def _do_snapshot(self, _):
        self._publish()
        return self.snapshot_json

    def _do_data(self, _):
        n = self.n_train
        rows = np.column_stack([self.points, self.targets]).round(4).tolist()
        return {"data_version": self.data_version, "regression": self.net.regression,
                "train": rows[:n], "test": rows[n:]}

    def _do_export(self, _):
        weights, biases = self.net.weights()
        return {"config": dict(self.cfg), "epoch": self.epoch, "sizes": list(self.net.sizes),
                "weights": weights, "biases": biases}
