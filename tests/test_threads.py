"""Thread safety of the compiled loops and of NeuralNet.

* Different models trained (and evaluated) in different threads give exactly
  the bits they give one after the other: the kernels keep no global state
  and every call has its own scratch buffers.
* The threads really run at the same time inside the compiled loop: an
  observer thread sees both kernels' parameters change while neither call has
  returned, which is only possible if the loops release the GIL (see
  ``test_two_kernels_progress_at_the_same_time``).
* One model trained from two threads at once is refused with RuntimeError.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from annfast import NeuralNet, _engine, _kernels
from annfast.activations import ACTIVATIONS, LOSSES


def dataset(seed, n=400, d=16, k=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, size=n)


def fit_model(seed, dtype=np.float64):
    X, y = dataset(seed)
    net = NeuralNet([16, 24, 4], learning_rate=0.05, activation="tanh", dtype=dtype,
                    seed=seed)
    net.fit(X, y, epochs=3)
    return net._params.tobytes(), net.predict_proba(X).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_models_trained_in_threads_match_serial(dtype):
    seeds = list(range(8))
    serial = [fit_model(s, dtype) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda s: fit_model(s, dtype), seeds))
    assert threaded == serial


def kernel_job(seed, optimizer, batch_size):
    """One full kernel round trip (train then forward and gradient) on its own data."""
    rng = np.random.default_rng(seed)
    sizes = [12, 20, 6, 3]
    arch = _kernels.Arch(sizes, [ACTIVATIONS["relu"], ACTIVATIONS["sigmoid"],
                                 ACTIVATIONS["softmax"]], LOSSES["ce"])
    params = rng.normal(0.0, 0.3, size=arch.n_params)
    state = np.zeros(2 * arch.n_params)
    X = rng.normal(size=(300, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=300)]
    t = 0
    for _ in range(3):
        _, _, _, t = _kernels.train(arch, params, state, X, Y, rng.permutation(300),
                                    batch_size, optimizer, 0.01, 1e-3, 0.9, t=t)
    out = np.empty((300, sizes[-1]))
    _kernels.forward(arch, params, X, out)
    grad, loss = _kernels.gradient(arch, params, X, Y)
    return params.tobytes() + state.tobytes() + out.tobytes() + grad.tobytes(), loss, t


def test_kernels_from_many_threads_match_serial():
    jobs = [(s, opt, b) for s, (opt, b) in enumerate(
        [("sgd", 1), ("sgd", 8), ("momentum", 4), ("nesterov", 1), ("adam", 16),
         ("rmsprop", 2), ("adam", 1), ("sgd", 32)])]
    serial = [kernel_job(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda job: kernel_job(*job), jobs))
    assert threaded == serial


def long_training(seed):
    """A 4,000-parameter layer and a 1M-sample epoch (a few seconds of work)."""
    rng = np.random.default_rng(seed)
    arch = _kernels.Arch([99, 40], [ACTIVATIONS["tanh"]], LOSSES["mse"])
    params = rng.normal(0.0, 0.1, size=arch.n_params)
    X = rng.normal(size=(64, 99))
    Y = rng.normal(size=(64, 40))
    order = rng.integers(0, 64, size=1_000_000)
    return arch, params, X, Y, order


def test_two_kernels_progress_at_the_same_time():
    """Both threads are inside the compiled loop at the same moment.

    Two threads each run one long ``_kernels.train`` call.  The main thread
    (holding the GIL whenever it runs Python) repeatedly takes snapshots.  If
    it sees, between two of its own snapshots, the parameters of *both*
    calls change while *neither* call has returned, then both loops made
    progress during a window in which the observer also ran: none of the three
    threads held the GIL throughout, so both kernels were running released
    from it, concurrently.  A loop that held the GIL would let the observer
    run only before it started or after it finished.  (The kernel takes the
    GIL back between chunks only to check for Ctrl-C.)
    """
    problems = [long_training(1), long_training(2)]
    done = [threading.Event(), threading.Event()]
    started = threading.Barrier(3)
    stop_early = threading.Event()

    def work(i):
        arch, params, X, Y, order = problems[i]
        started.wait()
        # Train in slices so a failing observer can stop the workers early.
        for pos in range(0, len(order), 20_000):
            if stop_early.is_set():
                break
            _kernels.train(arch, params, np.empty(0), X, Y, order[pos:pos + 20_000], 1,
                           "sgd", 1e-4)
        done[i].set()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    started.wait()
    both_progressed = False
    try:
        previous = [p[1].copy() for p in problems]
        while not (done[0].is_set() or done[1].is_set()):
            current = [p[1].copy() for p in problems]
            changed = [not np.array_equal(c, p) for c, p in zip(current, previous)]
            if all(changed) and not (done[0].is_set() or done[1].is_set()):
                both_progressed = True
                break
            previous = current
    finally:
        stop_early.set()
        for t in threads:
            t.join()
    assert both_progressed, "never saw both kernels progress while both were running"


def test_one_model_refuses_a_second_concurrent_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40_000, 20))
    y = rng.integers(0, 10, size=40_000)
    net = NeuralNet([20, 100, 10], learning_rate=0.01, seed=1)
    errors = []

    def background():
        try:
            net.fit(X, y, epochs=2)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=background)
    worker.start()
    try:
        while not _engine.is_training(net) and worker.is_alive():
            pass  # spin until the worker holds the training lock
        assert _engine.is_training(net), "the background fit ended before it could be observed"
        with pytest.raises(RuntimeError, match="already being trained in another thread"):
            net.fit(X[:10], y[:10], epochs=1)
        with pytest.raises(RuntimeError, match="already being trained"):
            net.train((X[:10], y[:10]), epochs=1, verbose=False)
        # Reading the model while it trains is safe: predictions use a snapshot.
        proba = net.predict_proba(X[:5])
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    finally:
        worker.join()
    assert errors == []
    assert not _engine.is_training(net)
    # The refused calls did not disturb the background run.
    solo = NeuralNet([20, 100, 10], learning_rate=0.01, seed=1).fit(X, y, epochs=2)
    assert net._params.tobytes() == solo._params.tobytes()


def test_predict_from_threads_matches_serial():
    X, y = dataset(5, n=1000)
    net = NeuralNet([16, 24, 4], seed=3).fit(X, y, epochs=1)
    expected = net.predict_proba(X)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: net.predict_proba(X[i::4]), range(4)))
    for i, r in enumerate(results):
        assert r.tobytes() == expected[i::4].tobytes()
