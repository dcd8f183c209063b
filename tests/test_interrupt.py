"""Training that diverges or is interrupted loses nothing.

* Divergence (a NaN/inf loss, or parameters that overflow) restores the
  parameters of the start of the epoch and names the epoch and sample, as an
  error or, with ``on_divergence='warn'``, a RuntimeWarning.
* Ctrl-C (KeyboardInterrupt) is noticed by the compiled loop between chunks of
  samples: ``_kernels.train`` leaves the parameters exactly as after a whole
  number of samples, long before the end of the epoch, and ``NeuralNet.fit``
  keeps the parameters of the last completed epoch.

The interrupts come from ``_thread.interrupt_main()`` (what Ctrl-C does) in a
watcher thread that waits until training has visibly started; the assertions
are on samples done and parameter bits, never on elapsed time.
"""

import _thread
import signal
import threading
import time
import warnings

import numpy as np
import pytest

from annfast import NeuralNet, TrainingDivergedError, _engine, _kernels

# -- divergence -------------------------------------------------------------------------


def regression_data(n=8, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=(d, 1))


def exploding_net(seed=4):
    # A learning rate too large for squared error through two linear layers:
    # the weights blow up and the loss overflows a few epochs in (epoch 4).
    return NeuralNet([3, 4, 1], learning_rate=0.25, reg_lambda=0.0, activation="identity",
                     output="identity", seed=seed)


def test_divergence_restores_start_of_epoch_and_raises():
    X, y = regression_data()
    probe = exploding_net()
    with pytest.warns(RuntimeWarning, match="training diverged"):
        probe.fit(X, y, epochs=500, on_divergence="warn")
    k = len(probe.history_["loss"])  # epochs completed before the divergent one
    assert 1 <= k < 500, "the setup should diverge after at least one good epoch"

    # The same model fitted for exactly k epochs is where the divergent run must end.
    after_k = exploding_net().fit(X, y, epochs=k)
    assert probe._params.tobytes() == after_k._params.tobytes()
    assert np.isfinite(probe._params).all()

    net = exploding_net()
    with pytest.raises(TrainingDivergedError) as info:
        net.fit(X, y, epochs=500)
    msg = str(info.value)
    assert f"at epoch {k + 1}, sample " in msg
    assert f"restored to the start of epoch {k + 1}" in msg
    assert "learning_rate" in msg
    assert net._params.tobytes() == after_k._params.tobytes()
    assert not hasattr(net, "history_")
    assert not _engine.is_training(net)
    assert isinstance(info.value, FloatingPointError)


def test_divergence_names_the_offending_sample():
    X, y = regression_data(n=10)
    X[6] = 1e200  # finite input whose squared error overflows
    for shuffle in (False, True):
        net = NeuralNet([3, 2, 1], output="identity", seed=1)
        before = net._params.tobytes()
        with pytest.raises(TrainingDivergedError) as info:
            net.fit(X, y, epochs=3, shuffle=shuffle)
        assert "at epoch 1, sample " in str(info.value)
        assert "of 10 (index 6)" in str(info.value)
        assert net._params.tobytes() == before
        if not shuffle:
            assert "sample 7 of 10" in str(info.value)


def test_divergence_warn_stops_and_keeps_good_epochs():
    X, y = regression_data()
    net = exploding_net()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, y, epochs=500, on_divergence="warn")
    diverged = [w for w in caught if "training diverged" in str(w.message)]
    assert len(diverged) == 1
    assert diverged[0].category is RuntimeWarning
    assert diverged[0].filename == __file__  # points at the caller, not annfast
    k = len(net.history_["loss"])
    assert all(np.isfinite(net.history_["loss"]))
    assert f"at epoch {k + 1}" in str(diverged[0].message)


def test_parameters_overflowing_after_finite_losses_count_as_divergence():
    # One sample, finite loss 5e19, but lr * gradient overflows the weights.
    net = NeuralNet([1, 1], learning_rate=1e300, reg_lambda=0.0, output="identity", seed=0)
    before = net._params.tobytes()
    with pytest.raises(TrainingDivergedError, match="parameters became NaN or infinite at "
                                                    "epoch 1"):
        net.fit([[1.0]], [[1e10]], epochs=1)
    assert net._params.tobytes() == before


def test_train_divergence_warns_too():
    X, y = regression_data()
    net = exploding_net()
    pairs = list(zip(X, y))
    with pytest.warns(RuntimeWarning, match="restored to the start of epoch"):
        history = net.train(pairs, epochs=500, verbose=False, on_divergence="warn")
    assert np.isfinite(net._params).all()
    assert len(history["loss"]) >= 1


# -- Ctrl-C -----------------------------------------------------------------------------


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler for the duration of the test.

    A process started in the background by a shell (``cmd &``) inherits SIGINT
    ignored; Python then installs no handler and ``interrupt_main`` does
    nothing.  An interactive session has ``default_int_handler``: use it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)



class Interrupter(threading.Thread):
    """Calls _thread.interrupt_main() once ``ready()`` turns true (polled).

    The main thread must be running the code to interrupt by then; ``fired``
    records whether the interrupt was sent.
    """

    def __init__(self, ready):
        super().__init__(daemon=True)
        self.ready = ready
        self.fired = threading.Event()
        self.stop = threading.Event()
        self.seen = None

    def run(self):
        while not self.stop.is_set():
            seen = self.ready()
            if seen is not None:
                self.seen = seen
                _thread.interrupt_main()
                self.fired.set()
                return
            time.sleep(0.0005)


def big_problem(n_rows=64, n_order=2_000_000, seed=0):
    """One dense layer of 99 -> 40 (4,000 parameters) and a 2M-sample epoch."""
    rng = np.random.default_rng(seed)
    network = _engine.Network([99, 40], ["sigmoid"], "bce", np.float64)
    params = rng.normal(0.0, 0.1, size=network.n_params)
    X = _engine.as_inputs(rng.normal(size=(n_rows, 99)), np.float64)
    Y = (rng.random((n_rows, 40)) < 0.5).astype(np.float64)
    order = rng.integers(0, n_rows, size=n_order)
    return network, params, X, Y, order


def test_engine_serves_ctrl_c_between_kernel_calls_and_writes_nothing(ctrl_c):
    network, params, X, Y, order = big_problem()
    start = params.copy()
    update = _engine.Update(lr=0.01, l2=0.001)
    data = _engine.prepare(network, X, update)
    calls = []
    watcher = Interrupter(lambda: True if calls else None)  # after the first kernel call
    watcher.start()
    try:
        result = _engine.train_epoch(network, params, data, Y, order, update,
                                     on_chunk=lambda done, loss: calls.append(done))
    finally:
        watcher.stop.set()
        watcher.join()
    assert watcher.fired.is_set()
    assert result.status is _engine.Status.INTERRUPTED
    # Served between kernel calls of a few milliseconds: long before the end.
    assert 0 < result.position < len(order) // 10, result.position
    assert result.position == calls[-1]
    assert params.tobytes() == start.tobytes()  # the epoch trained a copy
    assert result.params is None


def test_fit_interrupted_keeps_last_completed_epoch(ctrl_c):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30_000, 20))
    y = rng.integers(0, 10, size=30_000)

    def make():
        return NeuralNet([20, 200, 10], learning_rate=0.01, seed=5)

    net = make()
    initial = net._params.tobytes()

    def ready():
        # Fire as soon as epoch 1 has been published: fit replaces the parameters
        # only when an epoch completes.
        current = net._params.tobytes()
        return current if current != initial else None

    watcher = Interrupter(ready)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, epochs=50)
    finally:
        watcher.stop.set()
        watcher.join()
    assert watcher.fired.is_set()
    # The parameters are exactly those after k whole epochs (k = 1 unless the
    # watcher was held up for a whole epoch): replay epoch by epoch to find k.
    # fit(epochs=1) k times draws the same shuffles as fit(epochs=k).
    replay = make()
    for k in range(1, 6):
        replay.fit(X, y, epochs=1)
        if replay._params.tobytes() == net._params.tobytes():
            break
    else:
        pytest.fail("the interrupted model matches no whole epoch")
    assert [w.tobytes() for w in net.weights] == [w.tobytes() for w in replay.weights]
    assert [b.tobytes() for b in net.biases] == [b.tobytes() for b in replay.biases]
    if k == 1:
        assert net._params.tobytes() == watcher.seen  # nothing of the interrupted epoch
    assert not hasattr(net, "history_")
    assert not _engine.is_training(net)
    net.fit(X[:100], y[:100], epochs=1)  # usable afterwards
    assert np.isfinite(net._params).all()


def test_fit_interrupted_in_first_epoch_leaves_model_untouched(ctrl_c):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30_000, 20))
    y = rng.integers(0, 10, size=30_000)

    def make():
        return NeuralNet([20, 200, 10], learning_rate=0.01, seed=6)

    net = make()
    before = net._params.tobytes()

    def ready():
        # The lock is taken right before the first epoch starts.
        return True if _engine.is_training(net) else None

    watcher = Interrupter(ready)
    watcher.start()
    try:
        # Many epochs, so the interrupt always lands inside fit (never later,
        # in the test runner), even if the watcher is slow to fire.
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, epochs=50)
    finally:
        watcher.stop.set()
        watcher.join()
    assert watcher.fired.is_set()
    assert not _engine.is_training(net)
    if net._params.tobytes() == before:  # the usual case: stopped within epoch 1
        assert [w.tobytes() for w in net.weights] == [w.tobytes() for w in make().weights]
        return
    replay = make()  # a slow watcher: still exactly some whole epoch
    for _ in range(5):
        replay.fit(X, y, epochs=1)
        if replay._params.tobytes() == net._params.tobytes():
            return
    pytest.fail("the interrupted model matches no whole epoch")
