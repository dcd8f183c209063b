"""The training engine under every front end, and the policies each front end
builds on its results: divergence, Ctrl-C, failed calls, attributes re-checked."""

import _thread
import signal
import threading
import time
import warnings

import numpy as np
import pytest

from annfast import NeuralNet, _engine, _kernels, reference

# -- the engine itself ---------------------------------------------------------------------


def small_problem(n=40, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    network = _engine.Network([5, 7, 3], ["tanh", "softmax"], "ce", dtype)
    params = rng.normal(0, 0.3, network.n_params).astype(dtype)
    X = rng.normal(size=(n, 5)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    return network, params, X, Y


@pytest.mark.parametrize("batch_size, optimizer", [(1, "sgd"), (1, "adam"), (4, "sgd"),
                                                   (8, "momentum")])
def test_an_epoch_in_many_kernel_calls_equals_one_call(batch_size, optimizer, monkeypatch):
    """Cutting an epoch into calls (for Ctrl-C and hooks) changes no bits but
    the lazy decay's fold, and nothing at all without decay."""
    network, params, X, Y = small_problem()
    order = np.random.default_rng(1).permutation(len(X))
    update = _engine.Update(lr=0.05, optimizer=optimizer, batch_size=batch_size, momentum=0.9)
    opt = _engine.OptimizerState.fresh(optimizer, network.n_params, np.float64)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    whole = _engine.train_epoch(network, params, data, Y, order, update, opt)
    # One batch per call (a batch of more work than a call would be split).
    monkeypatch.setattr(_engine, "WORK_PER_CALL", data.work_per_sample * batch_size)
    calls = []
    cut = _engine.train_epoch(network, params, data, Y, order, update, opt,
                              on_chunk=lambda done, loss: calls.append(done))
    assert calls == list(range(batch_size, len(X), batch_size)) + [len(X)]
    assert whole.status is cut.status is _engine.Status.DONE
    assert whole.params.tobytes() == cut.params.tobytes()
    assert whole.opt.state.tobytes() == cut.opt.state.tobytes() and whole.opt.t == cut.opt.t
    assert whole.loss_sum == pytest.approx(cut.loss_sum, rel=1e-12)


def test_an_epoch_matches_the_reference_and_leaves_its_arguments_alone():
    network, params, X, Y = small_problem()
    order = np.arange(len(X))
    update = _engine.Update(lr=0.05, l2=0.01 / len(X))
    before = params.copy()
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    result = _engine.train_epoch(network, params, data, Y, order, update)
    assert params.tobytes() == before.tobytes()
    weights, biases = network.views(before.copy())
    weights = [w.copy() for w in weights]
    biases = [b.copy() for b in biases]
    ref_loss = reference.sgd_epoch(weights, biases, ["tanh", "softmax"], "ce", X, Y, order,
                                   0.05, 0.01 / len(X))
    got_w, got_b = network.views(result.params)
    for g, w in zip(got_w + got_b, weights + biases):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)
    assert result.mean_loss == pytest.approx(ref_loss, rel=1e-10)


def test_divergence_names_position_sample_and_cause():
    rng = np.random.default_rng(0)
    network = _engine.Network([5, 7, 3], ["identity", "identity"], "mse", np.float64)
    params = rng.normal(0, 0.3, network.n_params)
    X, Y = rng.normal(size=(40, 5)), rng.normal(size=(40, 3))
    X[17] = 1e200  # this sample's squared error overflows
    order = np.arange(len(X))[::-1].copy()
    update = _engine.Update(lr=0.05)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    result = _engine.train_epoch(network, params, data, Y, order, update)
    assert result.status is _engine.Status.DIVERGED and result.cause == "loss"
    assert result.sample == 17 and order[result.position] == 17
    assert result.params is None
    assert result.describe(3) == (f"the loss became NaN or infinite at epoch 3, sample "
                                  f"{result.position + 1} of {len(X)} (index 17)")


def test_parameters_that_overflow_after_finite_losses_are_divergence_too():
    # One batch of 32 with a huge step: every loss is finite, the update is not.
    rng = np.random.default_rng(0)
    network = _engine.Network([3, 4, 1], ["relu", "identity"], "mse", np.float64)
    params = rng.normal(0, 0.5, network.n_params)
    X, Y = rng.normal(size=(32, 3)) * 10, rng.normal(size=(32, 1)) * 10
    update = _engine.Update(lr=1e308, batch_size=32)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    result = _engine.train_epoch(network, params, data, Y, np.arange(32), update)
    assert result.status is _engine.Status.DIVERGED and result.cause == "parameters"
    assert "the parameters became NaN or infinite" in result.describe(1)


def test_preparing_proves_the_inputs_finite_before_any_epoch():
    network, params, X, Y = small_problem()
    X[3, 2] = np.nan
    for update in (_engine.Update(lr=0.1), _engine.Update(lr=0.1, batch_size=8)):
        with pytest.raises(ValueError, match="X contains NaN"):
            _engine.prepare(network, _engine.as_inputs(X, np.float64), update)


def test_fit_stops_when_asked_and_reports_completed_epochs():
    network, params, X, Y = small_problem()
    update = _engine.Update(lr=0.05)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    seen = []

    def on_epoch(epoch, result, p, opt):
        seen.append((epoch, p.copy()))
        return epoch == 3

    result = _engine.fit(network, params, data, Y, epochs=10, update=update,
                         on_epoch=on_epoch, first_epoch=1)
    assert result.status is _engine.Status.DONE and result.epochs == 3
    assert [e for e, _ in seen] == [1, 2, 3]
    assert result.params.tobytes() == seen[-1][1].tobytes()


def test_predict_is_the_same_through_blas_and_the_kernel(monkeypatch):
    network, params, X, Y = small_problem(n=100)
    inputs = _engine.as_inputs(X, np.float64)
    monkeypatch.setattr(_engine, "use_blas", lambda *_: False)
    kernel = _engine.predict(network, params, inputs)
    monkeypatch.setattr(_engine, "use_blas", lambda *_: True)
    blas = _engine.predict(network, params, inputs)
    np.testing.assert_allclose(blas, kernel, rtol=0, atol=1e-14)


def test_the_training_guard_refuses_a_second_thread():
    model = object()
    with _engine.training(model, "this model"):
        assert _engine.is_training(model)
        with pytest.raises(RuntimeError, match="this model is already being trained"):
            with _engine.training(model, "this model"):
                pass
    assert not _engine.is_training(model)


# -- Ctrl-C ------------------------------------------------------------------------------


@pytest.fixture
def ctrl_c():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_when(condition):
    """Start a thread that sends Ctrl-C to the main thread once condition() holds."""
    done = threading.Event()

    def watch():
        while not done.is_set():
            if condition():
                _thread.interrupt_main()
                return
            time.sleep(0.0005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return done, thread


def test_prediction_is_interrupted_between_blocks(ctrl_c, monkeypatch):
    net = NeuralNet([64, 256, 10], seed=0)
    X = np.random.default_rng(0).normal(size=(200_000, 64))
    blocks = []
    real_forward = _engine._forward

    def counting_forward(*args):
        blocks.append(1)
        return real_forward(*args)

    monkeypatch.setattr(_engine, "_forward", counting_forward)
    done, thread = interrupt_when(lambda: len(blocks) >= 1)
    try:
        with pytest.raises(KeyboardInterrupt):
            net.predict(X)
            time.sleep(5)  # only if the interrupt came after predict returned
    finally:
        done.set()
        thread.join()
    rows = max(_engine.BLAS_MIN_BATCH, _engine.WORK_PER_CALL // net.n_params)
    assert len(blocks) < -(-len(X) // rows)  # stopped before the last block


def test_sklearn_interrupted_keeps_a_whole_epoch_with_its_optimizer_state(ctrl_c,
                                                                          monkeypatch):
    from annfast.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20))
    y = rng.integers(0, 3, 4000)
    epochs_started = []
    real_epoch = _engine.train_epoch

    def counting_epoch(*args, **kwargs):
        epochs_started.append(1)
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(_engine, "train_epoch", counting_epoch)
    monkeypatch.setattr(_engine, "WORK_PER_CALL", 20_000)  # many calls per epoch
    make = lambda max_iter: MLPClassifier((50,), batch_size=16, max_iter=max_iter,  # noqa: E731
                                          random_state=1, tol=0)
    est = make(200)
    done, thread = interrupt_when(lambda: len(epochs_started) >= 3)
    try:
        with pytest.warns(UserWarning, match="Training interrupted by user"):
            est.fit(X, y)
    finally:
        done.set()
        thread.join()
    k = est.n_iter_
    assert 2 <= k < 200 and len(est.loss_curve_) == k and est.t_ == k * len(X)
    monkeypatch.setattr(_engine, "train_epoch", real_epoch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        replay = make(k).fit(X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, replay.coefs_ + replay.intercepts_):
        assert a.tobytes() == b.tobytes()
    assert est._optimizer.opt.state.tobytes() == replay._optimizer.opt.state.tobytes()
    assert est._optimizer.opt.t == replay._optimizer.opt.t


# -- front-end policies on the engine's results ---------------------------------------


def test_keras_divergence_in_the_last_update_is_not_published():
    from annfast import keras

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    model = keras.Sequential([keras.layers.Dense(4, input_dim=3, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=1e308))
    before = [w.copy() for w in model.get_weights()]
    with pytest.warns(RuntimeWarning, match="the parameters became NaN or infinite at epoch 1"):
        model.fit(X, y, batch_size=32, epochs=3, verbose=0)
    after = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(after, before))
    assert np.isfinite(model.predict(X, verbose=0)).all()


def test_sklearn_fit_that_fails_leaves_the_estimator_as_it_was():
    from annfast.sklearn import MLPRegressor

    rng = np.random.default_rng(0)
    X3, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X3, y)
    state = {k: v for k, v in vars(est).items()}
    coefs = [c.copy() for c in est.coefs_]
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        est.fit(np.full((20, 5), 1e308), y)
    assert est.n_features_in_ == 3 and set(vars(est)) == set(state)
    assert all(np.array_equal(a, b) for a, b in zip(est.coefs_, coefs))
    assert est.predict(X3).shape == (20,)


def test_sklearn_estimator_trains_in_one_thread_at_a_time():
    from annfast.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(3000, 30)), rng.integers(0, 2, 3000)
    est = MLPClassifier((200,), max_iter=30, batch_size=8, random_state=0, tol=0)
    errors = []

    def fit():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X, y)
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=fit)
    worker.start()
    deadline = time.monotonic() + 30
    while not _engine.is_training(est) and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.001)
    if _engine.is_training(est):
        with pytest.raises(RuntimeError, match="already being trained in another thread"):
            est.fit(X, y)
    worker.join()
    assert not errors and est.n_iter_ >= 1


@pytest.mark.parametrize("attribute, value, exc, fragment", [
    ("learning_rate", -0.05, ValueError, "learning_rate must be > 0"),
    ("learning_rate", 0, ValueError, "learning_rate must be > 0"),
    ("reg_lambda", -1, ValueError, "reg_lambda must be >= 0"),
    ("activation", "bogus", ValueError, "activation='bogus' is not valid"),
    ("output", "tanh", ValueError, "output='tanh' is not valid"),
    ("leaky_slope", float("nan"), ValueError, "leaky_slope must be finite"),
])
def test_neuralnet_attributes_are_checked_again_at_fit(attribute, value, exc, fragment):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 2, 10)
    net = NeuralNet([3, 4, 2], seed=0)
    setattr(net, attribute, value)
    before = net._params.tobytes()
    rng_state = net._rng.bit_generator.state
    with pytest.raises(exc, match=fragment):
        net.fit(X, y, epochs=2)
    assert net._params.tobytes() == before
    assert net._rng.bit_generator.state == rng_state
    assert not hasattr(net, "history_")


def test_sizes_too_large_are_refused_before_any_allocation():
    from annfast import keras
    from annfast.sklearn import MLPClassifier

    X, y = np.ones((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="parameters; at most"):
        MLPClassifier(hidden_layer_sizes=(10**6, 10**6), max_iter=1).fit(X, y)
    model = keras.Sequential([keras.layers.Dense(40_000, input_dim=10)])
    with pytest.raises(ValueError, match="parameters; at most"):
        model.add(keras.layers.Dense(10**5))
    assert len(model.layers) == 1
    assert model.predict(np.ones((1, 10), dtype=np.float32), verbose=0).shape == (1, 40_000)



@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("decay_product", [1.0, 0.75, 0.5])
def test_a_decay_factor_of_zero_is_not_divergence(sparse, decay_product):
    """learning_rate * reg_lambda / n == 1 zeroes the weights before each step's
    gradient: the reference stays finite, and so must the kernels (the lazy
    per-layer scale cannot be divided by zero, so large decays step eagerly)."""
    rng = np.random.default_rng(0)
    n = 10
    X = (rng.random((n, 30)) < 0.1).astype(float) if sparse else rng.normal(size=(n, 30))
    y = rng.integers(0, 3, n)
    net = NeuralNet([30, 6, 3], learning_rate=0.5, reg_lambda=decay_product * n / 0.5, seed=2)
    weights = [w.copy() for w in net.weights]
    biases = [b[:, 0].copy() for b in net.biases]
    net.fit(X, y, epochs=2, shuffle=False)
    Y = np.eye(3)[y]
    for _ in range(2):
        reference.sgd_epoch(weights, biases, ["relu", "softmax"], "ce", X, Y, np.arange(n),
                            0.5, decay_product / 0.5)
    for got, want in zip(net.weights + [b[:, 0] for b in net.biases], weights + biases):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["Adam", "RMSprop"])
def test_keras_epsilon_must_be_positive(name):
    from annfast import keras

    with pytest.raises(ValueError, match="epsilon must be > 0"):
        getattr(keras.optimizers, name)(epsilon=0.0)
    optimizer = getattr(keras.optimizers, name)()
    optimizer.epsilon = 0.0
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    model.compile(loss="mse", optimizer=optimizer)
    before = model.get_weights()
    X = np.zeros((8, 2))
    X[:, 1] = np.arange(8)  # the first feature is all zero: its gradient is always zero
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        model.fit(X, np.ones(8), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_one_keras_optimizer_holds_one_models_state():
    """Keras 3 refuses an optimizer built for other variables; a model of the
    same size must not be handed the first one's moments and step count."""
    from annfast import keras

    opt = keras.optimizers.Adam()
    a = keras.Sequential([keras.layers.Dense(2, input_dim=3)])
    b = keras.Sequential([keras.layers.Dense(2, input_dim=3)])
    X, y = np.ones((4, 3)), np.ones((4, 2))
    a.compile(loss="mse", optimizer=opt)
    a.fit(X, y, verbose=0)
    state, steps = opt._state.copy(), opt.iterations
    b.compile(loss="mse", optimizer=opt)
    before = b.get_weights()
    with pytest.raises(ValueError, match="already holds the state of model"):
        b.fit(X, y, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(b.get_weights(), before))
    assert np.array_equal(opt._state, state) and opt.iterations == steps
    a.fit(X, y, verbose=0)  # its own model trains on
    assert opt.iterations == steps + 1


@pytest.mark.parametrize("optimizer, options", [
    ("sgd", {"l2": 0.01}), ("adam", {}), ("momentum", {"momentum": 0.9}),
    ("rmsprop", {"centered": True}), ("adamw", {"weight_decay": 0.01, "clipnorm": 0.5}),
    ("adam", {"penalties": np.full((2, 4), 0.01)}),
])
def test_a_batch_larger_than_a_call_is_summed_over_calls(optimizer, options, monkeypatch):
    """Batches whose work exceeds one kernel call are split (so that Ctrl-C is
    served inside them): the same steps as one call, up to summation order."""
    network, params, X, Y = small_problem(n=70)
    order = np.random.default_rng(1).permutation(len(X))
    update = _engine.Update(lr=0.05, optimizer=optimizer, batch_size=16, **options)
    opt = _engine.OptimizerState.fresh(update, network.n_params, np.float64)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    whole = _engine.train_epoch(network, params, data, Y, order, update, opt)
    monkeypatch.setattr(_engine, "WORK_PER_CALL", 5 * network.n_params)  # 5 rows a call
    calls = []
    real = _kernels.batch_gradient

    def counting(*args, **kwargs):
        calls.append(len(args[4]))
        return real(*args, **kwargs)

    monkeypatch.setattr(_kernels, "batch_gradient", counting)
    split = _engine.train_epoch(network, params, data, Y, order, update, opt)
    assert calls[:4] == [5, 5, 5, 1] and sum(calls) == len(X)  # 16 = 5 + 5 + 5 + 1
    assert split.status is whole.status is _engine.Status.DONE
    np.testing.assert_allclose(split.params, whole.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(split.opt.state, whole.opt.state, rtol=0, atol=1e-12)
    assert split.opt.t == whole.opt.t
    assert split.loss_sum == pytest.approx(whole.loss_sum, rel=1e-12)


def test_ctrl_c_is_served_inside_a_large_batch(ctrl_c, monkeypatch):
    network, params, X, Y = small_problem(n=20_000)
    update = _engine.Update(lr=0.01, optimizer="adam", batch_size=20_000)
    opt = _engine.OptimizerState.fresh(update, network.n_params, np.float64)
    data = _engine.prepare(network, _engine.as_inputs(X, np.float64), update)
    monkeypatch.setattr(_engine, "WORK_PER_CALL", network.n_params)  # one row a call
    calls = []
    real = _kernels.batch_gradient

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_kernels, "batch_gradient", counting)
    done, thread = interrupt_when(lambda: len(calls) >= 3)
    try:
        result = _engine.train_epoch(network, params, data, Y, np.arange(20_000), update,
                                     opt)
        if result.status is not _engine.Status.INTERRUPTED:
            time.sleep(5)  # a late Ctrl-C lands here, and fails the test below
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C was not served inside the batch")
    finally:
        done.set()
        thread.join()
    assert result.status is _engine.Status.INTERRUPTED
    assert len(calls) < 20_000  # stopped inside the one batch of 20,000 calls
    assert result.position == 0 and opt.t == 0 and not opt.state.any()
