"""Callbacks: Keras' hooks at Keras' points, EarlyStopping and ReduceLROnPlateau
deciding exactly as real Keras on the same history, and batch hooks run only
when a callback has them."""

import csv
import math

import numpy as np
import pytest

from annfast import _engine, keras
from annfast.keras import callbacks, layers
from keras_oracle import real_keras

rng = np.random.default_rng(5)
X = rng.normal(size=(100, 3))
Y = X @ np.array([[0.5], [-1.0], [2.0]]) + 0.1


def _model(seed=0, lr=0.01):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, activation="tanh"),
                              layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse", metrics=["mae"])
    return model


class _Stub:
    """The model a callback sees when driven by a scripted history."""

    def __init__(self):
        self.stop_training = False
        self.optimizer = type("Opt", (), {"learning_rate": 0.1})()
        self.weights = 0

    def get_weights(self):
        return [self.weights]

    def set_weights(self, weights):
        self.weights = weights[0]


def _drive(callback, values, key="val_loss"):
    """Feed ``values`` as the epochs' logs; return (stopped epoch or None, rates)."""
    stub = _Stub()
    callback.set_model(stub)
    callback.on_train_begin({})
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        stub.weights = epoch
        callback.on_epoch_end(epoch, {key: value, "loss": value})
        rates.append(float(stub.optimizer.learning_rate))
        if stub.stop_training:
            callback.on_train_end({})
            return epoch, rates, stub.weights
    callback.on_train_end({})
    return None, rates, stub.weights


HISTORIES = [
    [1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1],
    [1.0, 0.99995, 0.9999, 0.8, 0.79999, 0.79998, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75],
    list(np.linspace(1.0, 0.5, 12)),
    [0.5, 0.6, 0.7, 0.4, 0.45, 0.46, 0.47, 0.48, 0.3, 0.31, 0.32, 0.33],
]
EARLY_STOPPING = [
    {"patience": 2}, {"patience": 0}, {"patience": 1, "min_delta": 0.05},
    {"patience": 2, "baseline": 0.6}, {"patience": 1, "start_from_epoch": 4},
    {"patience": 2, "restore_best_weights": True}, {"patience": 3, "mode": "max"},
]


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("kwargs", EARLY_STOPPING)
def test_early_stopping_stops_where_keras_stops(history, kwargs):
    ours = _drive(callbacks.EarlyStopping(**kwargs), history)
    theirs = _drive(real_keras.callbacks.EarlyStopping(**kwargs), history)
    assert ours == theirs


REDUCE = [{"patience": 2}, {"patience": 1, "factor": 0.5, "cooldown": 2},
          {"patience": 1, "min_delta": 0.05, "min_lr": 0.02}, {"patience": 0, "factor": 0.2},
          {"patience": 2, "mode": "max"}]


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("kwargs", REDUCE)
def test_reduce_lr_on_plateau_changes_the_rate_where_keras_does(history, kwargs):
    ours = _drive(callbacks.ReduceLROnPlateau(**kwargs), history)
    theirs = _drive(real_keras.callbacks.ReduceLROnPlateau(**kwargs), history)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)


def test_early_stopping_in_fit_matches_keras_on_the_same_history():
    model = _model(lr=0.05)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                         restore_best_weights=True)
    kept = []
    snapshot = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: kept.append(model.get_weights()))
    history = model.fit(X, Y, epochs=200, validation_split=0.5, verbose=0,
                        callbacks=[snapshot, stop])
    val = history.history["val_loss"]
    assert len(val) < 200 and model.stop_training
    stopped, _, _ = _drive(real_keras.callbacks.EarlyStopping(patience=2), val)
    assert stopped == len(val) - 1 == stop.stopped_epoch
    best = int(np.argmin(val))
    for a, b in zip(model.get_weights(), kept[best]):
        np.testing.assert_array_equal(a, b)


def test_reduce_lr_changes_the_rate_used_by_the_next_epoch():
    model = _model(lr=0.1)
    rates = []
    probe = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: rates.append(model.optimizer.learning_rate))
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5,
                                                min_delta=10.0)  # never an improvement
    history = model.fit(X, Y, epochs=4, verbose=0, callbacks=[probe, plateau])
    # The first epoch sets the best value; each later one is a plateau (patience 0).
    # The rate is logged as the epoch ends, before the cut, as Keras logs it.
    assert rates == [0.1, 0.1, 0.05, 0.025]
    assert history.history["learning_rate"] == [0.1, 0.1, 0.05, 0.025]
    assert model.optimizer.learning_rate == 0.0125


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    model = _model()
    start = model.get_weights()
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.0 if epoch < 2 else lr)
    history = model.fit(X, Y, epochs=2, verbose=0, callbacks=[sched])
    for a, b in zip(model.get_weights(), start):  # rate 0: nothing moves
        np.testing.assert_array_equal(a, b)
    assert history.history["learning_rate"] == [0.0, 0.0]
    model.fit(X, Y, epochs=1, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: 0.01)])
    assert not np.array_equal(model.get_weights()[0], start[0])


class Recorder(keras.callbacks.Callback):
    def __init__(self, batches=True):
        super().__init__()
        self.calls = []
        if not batches:
            self.on_train_batch_begin = self.on_train_batch_end = None
            del self.on_train_batch_begin, self.on_train_batch_end

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", self.params["epochs"], self.params["steps"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_hooks_run_at_keras_points_with_one_batch_per_kernel_call():
    model = _model()
    rec = Recorder()
    model.fit(X, Y, batch_size=40, epochs=2, verbose=0, callbacks=[rec], validation_split=0.2)
    names = [c[0] for c in rec.calls]
    per_epoch = ["epoch_begin", "batch_begin", "batch_end", "batch_begin", "batch_end",
                 "epoch_end"]
    assert names == ["train_begin", *per_epoch, *per_epoch, "train_end"]
    assert rec.calls[0] == ("train_begin", 2, 2)
    assert [c[1] for c in rec.calls if c[0] == "batch_end"] == [0, 1, 0, 1]
    assert rec.calls[6][2] == ["loss", "mae", "val_loss", "val_mae"]


def test_the_same_training_with_and_without_batch_hooks():
    """Batch hooks change how the epoch is cut into kernel calls, not the result."""
    a, b = _model(seed=4), _model(seed=4)
    ha = a.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    hb = b.fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=[Recorder()])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    # The loss sums are added up per kernel call: the same to rounding.
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-12)


def test_without_batch_hooks_an_epoch_stays_one_chunked_engine_call(monkeypatch):
    seen = []
    real = _engine.train_epoch

    def spy(*args):
        seen.append((args[7] is None, args[8]))  # on_chunk, per_call
        return real(*args)

    monkeypatch.setattr(_engine, "train_epoch", spy)
    stop = keras.callbacks.EarlyStopping(monitor="loss")
    logger = keras.callbacks.TerminateOnNaN()
    _model().fit(X, Y, epochs=2, verbose=0, callbacks=[stop, logger])
    assert seen == [(True, None), (True, None)]
    seen.clear()
    _model().fit(X, Y, batch_size=10, epochs=1, verbose=0, callbacks=[Recorder()])
    assert seen == [(False, 10)]


def test_stop_training_in_a_batch_hook_ends_the_epoch_there():
    model = _model()

    class StopAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    history = model.fit(X, Y, batch_size=10, epochs=5, verbose=0, callbacks=[StopAt()])
    assert history.epoch == [0]
    assert model.optimizer.iterations == 2  # two batches trained


def test_model_checkpoint_saves_best_and_formats_the_path(tmp_path):
    model = _model(lr=0.05)
    pattern = str(tmp_path / "ckpt" / "m-{epoch:02d}-{val_loss:.3f}.npz")
    ckpt = keras.callbacks.ModelCheckpoint(pattern, save_best_only=True)
    history = model.fit(X, Y, epochs=5, verbose=0, validation_split=0.3, callbacks=[ckpt])
    val = history.history["val_loss"]
    expected, best = [], math.inf
    for epoch, v in enumerate(val):
        if v < best:
            best = v
            expected.append(f"m-{epoch + 1:02d}-{v:.3f}.npz")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == sorted(expected)
    loaded = keras.models.load_model(tmp_path / "ckpt" / expected[-1])
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_model_checkpoint_weights_only_round_trips(tmp_path):
    model = _model()
    path = tmp_path / "w.npz"
    model.fit(X, Y, epochs=2, verbose=0,
              callbacks=[keras.callbacks.ModelCheckpoint(path, monitor="loss",
                                                         save_weights_only=True)])
    other = _model(seed=9)
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2), layers.Dense(1)])
    before = wrong.get_weights()
    with pytest.raises(ValueError, match="layer sizes"):
        wrong.load_weights(path)
    for a, b in zip(wrong.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_csv_logger_writes_keras_columns(tmp_path):
    path = tmp_path / "log.csv"
    history = _model().fit(X, Y, epochs=3, verbose=0,
                           callbacks=[keras.callbacks.CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["loss"]) for r in rows] == pytest.approx(history.history["loss"])
    assert {r["val_loss"] for r in rows} == {"NA"}


def test_terminate_on_nan_and_divergence():
    model = _model(lr=1e6)
    X_big = X * 1e6
    with pytest.raises(RuntimeError, match="NaN or Inf loss"):
        model.fit(X_big, Y, epochs=3, verbose=0,
                  callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)])
    history = model.fit(X_big, Y, epochs=3, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    assert model.stop_training and len(history.epoch) < 3


def test_validation_freq_and_evaluate_hooks():
    model = _model()
    history = model.fit(X, Y, epochs=4, verbose=0, validation_split=0.2, validation_freq=2)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    seen = []

    class Test(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            seen.append("begin")

        def on_test_batch_end(self, batch, logs=None):
            seen.append(batch)

        def on_test_end(self, logs=None):
            seen.append(sorted(logs))

    result = model.evaluate(X, Y, batch_size=30, verbose=0, callbacks=[Test()],
                            return_dict=True)
    assert seen == ["begin", 0, 1, 2, 3, ["loss", "mae"]]
    # Another batch size streams the same means in another order (and another
    # prediction block size): equal to rounding.
    assert result == pytest.approx(model.evaluate(X, Y, verbose=0, return_dict=True),
                                   rel=1e-6)
    # fit's validation is an evaluate pass for the callbacks, as in Keras.
    seen.clear()
    history = model.fit(X, Y, batch_size=30, epochs=2, verbose=0, validation_split=0.4,
                        callbacks=[Test()])
    assert seen == ["begin", 0, 1, ["loss", "mae"]] * 2
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(X[60:], Y[60:], verbose=0, return_dict=True)["loss"], rel=1e-6)


def test_callbacks_none_and_empty_and_bad_ones():
    model = _model()
    model.fit(X, Y, epochs=1, verbose=0, callbacks=None)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[])
    snap = model.get_weights(), model.optimizer.iterations
    with pytest.raises(TypeError, match=r"callbacks\[1\] must be a keras.callbacks.Callback"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[Recorder(), print])
    with pytest.raises(ValueError, match="mode='maxx' is not valid"):
        keras.callbacks.EarlyStopping(mode="maxx")
    with pytest.raises(ValueError, match="factor >= 1.0"):
        keras.callbacks.ReduceLROnPlateau(factor=2)
    for a, b in zip(model.get_weights(), snap[0]):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == snap[1]


def test_train_test_and_predict_on_batch():
    model = _model()
    before = model.optimizer.iterations
    loss, mae = model.train_on_batch(X[:16], Y[:16])
    assert model.optimizer.iterations == before + 1
    assert model.test_on_batch(X[:16], Y[:16], return_dict=True)["mae"] == pytest.approx(mae)
    np.testing.assert_array_equal(model.predict_on_batch(X[:5]), model.predict(X[:5], verbose=0))
    assert isinstance(loss, float)


def test_unsupported_callbacks_name_the_supported_ones():
    with pytest.raises(AttributeError, match="no TensorBoard; the supported callbacks are: "
                                             "Callback, .*EarlyStopping"):
        keras.callbacks.TensorBoard  # noqa: B018
    assert keras.backend.epsilon() == real_keras.backend.epsilon()
    assert keras.backend.floatx() == real_keras.backend.floatx()


def test_auto_mode_follows_the_metrics_direction():
    model = _model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", keras.metrics.AUC(name="a")])
    up = keras.callbacks.EarlyStopping(monitor="val_a")
    down = keras.callbacks.EarlyStopping(monitor="val_mae")
    unknown = keras.callbacks.EarlyStopping(monitor="val_other")
    for cb in (up, down, unknown):
        cb.set_model(model)
    up._set_monitor_op()
    down._set_monitor_op()
    assert up.monitor_op is np.greater and down.monitor_op is np.less
    with pytest.raises(ValueError, match="pass mode='max' or mode='min'"):
        unknown._set_monitor_op()
