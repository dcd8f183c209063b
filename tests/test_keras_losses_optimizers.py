"""The Keras front end's losses, optimizers, schedules, regularizers and sample
weights without Keras installed: the reference for sample weights, saving and
loading every optimizer's state, and bad input refused before anything changes
(real Keras is the oracle in test_keras_losses_optimizers_oracle.py)."""

import json

import numpy as np
import pytest

from annfast import _io, keras, reference
from annfast.keras import layers, losses, optimizers, regularizers

rng = np.random.default_rng(7)
X = rng.normal(size=(40, 3))
LABELS = rng.integers(0, 3, size=40)
ONE_HOT = np.eye(3)[LABELS]


def _model(loss="categorical_crossentropy", optimizer="sgd", out="softmax", units=3, **dense):
    model = keras.Sequential([layers.Dense(4, input_dim=3, activation="tanh", dtype="float64",
                                           **dense),
                              layers.Dense(units, activation=out, **dense)])
    model.compile(loss=loss, optimizer=optimizer)
    return model


def _reference_weights(model):
    ws = model.get_weights()
    return [ws[0].T.copy(), ws[2].T.copy()], [ws[1].copy(), ws[3].copy()]


def test_sample_weights_follow_the_reference_and_weight_the_reported_loss():
    """Per-sample SGD with weights is the reference's weighted SGD; the epoch loss is
    the weighted sum over the number of samples (Keras' sum_over_batch_size)."""
    w = rng.uniform(0, 2, size=40)
    model = _model(optimizer=optimizers.SGD(0.1))
    weights, biases = _reference_weights(model)
    history = model.fit(X, ONE_HOT, batch_size=1, epochs=1, shuffle=False, verbose=0,
                        sample_weight=w)
    mean = reference.sgd_epoch(weights, biases, ["tanh", "softmax"], "ce", X, ONE_HOT,
                               np.arange(40), 0.1, sample_weight=w, prob_eps=1e-7)
    got_w, got_b = _reference_weights(model)
    for i in range(2):
        np.testing.assert_allclose(got_w[i], weights[i], atol=1e-10)
        np.testing.assert_allclose(got_b[i], biases[i], atol=1e-10)
    assert history.history["loss"][0] == pytest.approx(mean, rel=1e-12)
    out = model.predict(X, verbose=0)
    per_sample = -np.log(np.clip(out[np.arange(40), LABELS], 1e-7, 1))
    assert model.evaluate(X, ONE_HOT, sample_weight=w, verbose=0) == pytest.approx(
        np.mean(w * per_sample), rel=1e-10)


def test_class_weight_equals_the_matching_sample_weights():
    table = {0: 0.5, 1: 2.0, 2: 1.5}
    a, b = _model(), _model()
    b.set_weights(a.get_weights())
    ha = a.fit(X, ONE_HOT, batch_size=8, shuffle=False, verbose=0, class_weight=table)
    hb = b.fit(X, ONE_HOT, batch_size=8, shuffle=False, verbose=0,
               sample_weight=np.array([table[c] for c in LABELS]))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert ha.history["loss"] == hb.history["loss"]


def test_sparse_inputs_take_the_sample_weights_too():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    Xs = np.where(rng.random((40, 3)) < 0.8, 0.0, X)
    w = rng.uniform(0.5, 1.5, size=40)
    a, b = _model(optimizer=optimizers.SGD(0.1)), _model(optimizer=optimizers.SGD(0.1))
    b.set_weights(a.get_weights())
    a.fit(Xs, ONE_HOT, batch_size=1, shuffle=False, verbose=0, sample_weight=w)
    b.fit(scipy_sparse.csr_matrix(Xs), ONE_HOT, batch_size=1, shuffle=False, verbose=0,
          sample_weight=w)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-12)


@pytest.mark.parametrize("optimizer", [
    optimizers.Nadam(0.01), optimizers.Adam(0.01, amsgrad=True), optimizers.AdamW(0.01),
    optimizers.RMSprop(0.01, momentum=0.5, centered=True), optimizers.Adagrad(0.1),
    optimizers.Adadelta(1.0), optimizers.Adamax(0.01),
    optimizers.SGD(optimizers.schedules.ExponentialDecay(0.1, 3, 0.5), clipnorm=1.0),
])
def test_save_load_resumes_every_optimizer(optimizer, tmp_path):
    """The file keeps the optimizer's whole state (its length is the optimizer's),
    so one epoch after loading equals one more epoch without saving."""
    pytest.importorskip("h5py")  # a .keras name is Keras' archive
    model = _model(optimizer=optimizer, kernel_regularizer="l2")
    model.fit(X, ONE_HOT, batch_size=8, shuffle=False, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.load_model(path)
    assert type(loaded.optimizer) is type(optimizer)
    assert loaded.optimizer.get_config() == optimizer.get_config()
    assert isinstance(loaded.layers[0].kernel_regularizer, regularizers.L2)
    # Keras' file holds Adagrad's accumulator itself, annfast's state the accumulator
    # less its start: to rounding for that one, bit for bit for the others.
    rtol = 1e-13 if isinstance(optimizer, optimizers.Adagrad) else 0
    if optimizer._state is None:
        assert loaded.optimizer._state is None
    else:
        np.testing.assert_allclose(loaded.optimizer._state, optimizer._state, rtol=rtol, atol=0)
    model.fit(X, ONE_HOT, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(X, ONE_HOT, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 10


def test_files_written_before_the_state_length_still_load(tmp_path):
    """A file without state_size holds Adam's two moments after the weights."""
    model = _model(optimizer="adam")
    model.fit(X, ONE_HOT, batch_size=8, verbose=0)
    model.save(tmp_path / "old.npz")
    config, buffer = _io.load_model(tmp_path / "old.npz", "keras.Sequential")
    path = tmp_path / "old.keras"  # annfast wrote its own format under that name then
    del config["compile"]["optimizer"]["state_size"]
    config["compile"]["loss"] = "CategoricalCrossentropy"  # a class name alone, as before
    _io.save_model(path, "keras.Sequential", json.loads(json.dumps(config)), buffer)
    loaded = keras.load_model(path)
    np.testing.assert_array_equal(loaded.optimizer._state, model.optimizer._state)
    assert isinstance(loaded._loss, losses.CategoricalCrossentropy)


def test_penalties_add_to_the_reported_loss():
    model = _model(loss="mse", out=None, kernel_regularizer=regularizers.L1L2(0.01, 0.02),
                   bias_regularizer="l1")
    model.fit(X, ONE_HOT, verbose=0)
    ws = model.get_weights()
    penalty = sum(0.01 * np.abs(k).sum() + 0.02 * np.square(k).sum() + 0.01 * np.abs(b).sum()
                  for k, b in zip(ws[::2], ws[1::2]))
    mse = np.mean((model.predict(X, verbose=0) - ONE_HOT) ** 2)
    assert model.evaluate(X, ONE_HOT, verbose=0) == pytest.approx(mse + penalty, rel=1e-10)


def test_hinge_labels_follow_keras_rule():
    hinge = losses.Hinge()
    y = np.array([[0.0], [1.0]])
    np.testing.assert_array_equal(hinge.targets(y, 1, np.float64), [[-1.0], [1.0]])
    np.testing.assert_array_equal(hinge.targets(-y + 0.5, 1, np.float64), [[0.5], [-0.5]])
    with pytest.raises(ValueError, match="mixes 0 with values other than 1"):
        hinge.targets(np.array([[0.0], [-1.0]]), 1, np.float64)


def test_schedules_give_keras_values():
    s = optimizers.schedules
    assert s.ExponentialDecay(0.1, 4, 0.5)(2) == pytest.approx(0.1 * 0.5 ** 0.5)
    assert s.ExponentialDecay(0.1, 4, 0.5, staircase=True)(7) == pytest.approx(0.05)
    assert s.InverseTimeDecay(0.1, 2, 1.0)(4) == pytest.approx(0.1 / 3)
    pc = s.PiecewiseConstantDecay([2, 5], [1.0, 0.5, 0.1])
    assert [pc(t) for t in (0, 2, 3, 5, 6)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    assert s.CosineDecay(1.0, 10, alpha=0.2)(10) == pytest.approx(0.2)
    assert s.CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=4)(2) == pytest.approx(0.5)


def test_a_callable_learning_rate_is_read_before_every_step(tmp_path):
    calls = []

    def rate():
        calls.append(1)
        return 0.01

    model = _model(optimizer=optimizers.SGD(rate))
    model.fit(X, ONE_HOT, batch_size=8, verbose=0)
    assert len(calls) >= 5  # five steps, each with its own rate
    with pytest.raises(ValueError, match="plain callable cannot be saved"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def _snapshot(model):
    return [w.copy() for w in model.get_weights()], model.optimizer.iterations


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m.fit(X, ONE_HOT, sample_weight=-np.ones(40)), ValueError, "must be >= 0"),
    (lambda m: m.fit(X, ONE_HOT, sample_weight=np.zeros(40)), ValueError, "all zeros"),
    (lambda m: m.fit(X, ONE_HOT, sample_weight=np.ones(39)), ValueError,
     "one weight per sample"),
    (lambda m: m.fit(X, ONE_HOT, sample_weight=np.full(40, np.nan)), ValueError,
     "sample_weight"),
    (lambda m: m.fit(X, ONE_HOT, sample_weight=np.ones(40), class_weight={0: 1.0}),
     ValueError, "not both"),
    (lambda m: m.fit(X, ONE_HOT, class_weight={0: -1.0}), ValueError, r"class_weight\[0\]"),
    (lambda m: m.fit(X, ONE_HOT, class_weight={0: 0.0, 1: 0.0, 2: 0.0}), ValueError,
     "weight of zero"),
    (lambda m: m.fit(X, ONE_HOT, class_weight=[1.0]), TypeError, "class_weight must be a dict"),
    (lambda m: m.evaluate(X, ONE_HOT, sample_weight=np.ones(3)), ValueError,
     "one weight per sample"),
    (lambda m: m.fit(X, ONE_HOT, validation_data=(X, ONE_HOT, np.ones(2))), ValueError,
     r"validation_data\[2\]"),
])
def test_bad_weights_raise_before_anything_changes(call, error, match):
    model = _model()
    model.fit(X, ONE_HOT, verbose=0)
    weights, iterations = _snapshot(model)
    with pytest.raises(error, match=match):
        call(model)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == iterations


@pytest.mark.parametrize("make, error, match", [
    (lambda: optimizers.Adam(beta_1=1.0), ValueError, "beta_1"),
    (lambda: optimizers.AdamW(weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda: optimizers.SGD(clipnorm=0.0), ValueError, "clipnorm"),
    (lambda: optimizers.SGD(clipvalue=1.0, global_clipnorm=1.0), ValueError,
     "only one of clipnorm"),
    (lambda: optimizers.RMSprop(momentum=1.0), ValueError, "momentum"),
    (lambda: optimizers.RMSprop(centered="yes"), TypeError, "centered"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1), ValueError,
     "initial_accumulator_value"),
    (lambda: optimizers.Adadelta(epsilon=0), ValueError, "epsilon"),
    (lambda: optimizers.schedules.ExponentialDecay(0.1, 0, 0.5), ValueError, "decay_steps"),
    (lambda: optimizers.schedules.PiecewiseConstantDecay([1, 2], [0.1]), ValueError,
     "values needs one more"),
    (lambda: losses.Huber(delta=0), ValueError, "delta"),
    (lambda: losses.BinaryCrossentropy(label_smoothing=1.5), ValueError, "label_smoothing"),
    (lambda: losses.CategoricalCrossentropy(from_logits="no"), TypeError, "from_logits"),
    (lambda: regularizers.L2(-1), ValueError, "l2"),
    (lambda: layers.Dense(2, kernel_regularizer="l3"), ValueError,
     "kernel_regularizer='l3' is not valid; expected one of: 'l1', 'l2'"),
    (lambda: layers.Dense(2, bias_regularizer=0.1), TypeError, "bias_regularizer"),
])
def test_bad_arguments_name_themselves(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_unknown_names_list_the_valid_ones():
    model = keras.Sequential([layers.Dense(1, input_dim=2)])
    with pytest.raises(ValueError, match="loss='hubber' is not valid; expected one of: .*"
                                         "'huber'.*'kl_divergence'"):
        model.compile(loss="hubber")
    with pytest.raises(ValueError, match="optimizer='nadamw' is not valid; expected one of: "
                                         ".*'adamw'.*'nadam'"):
        model.compile(loss="mse", optimizer="nadamw")
    assert not model.compiled


def test_a_schedule_rate_that_goes_bad_is_refused_before_training():
    model = _model(optimizer=optimizers.SGD(lambda: float("nan")))
    weights, _ = _snapshot(model)
    with pytest.raises(ValueError, match="learning_rate"):
        model.fit(X, ONE_HOT, verbose=0)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_every_optimizer_string_trains(name):
    model = _model(optimizer=name)
    history = model.fit(X, ONE_HOT, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.optimizer._state.size == model.optimizer._state_size(model.count_params())


def test_on_batch_calls_take_sample_weights():
    w = rng.uniform(0.5, 1.5, size=40)
    a, b = _model(), _model()
    b.set_weights(a.get_weights())
    loss = a.train_on_batch(X, ONE_HOT, sample_weight=w)
    b.fit(X, ONE_HOT, batch_size=40, shuffle=False, verbose=0, sample_weight=w)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert loss == b.history.history["loss"][0]
    assert a.test_on_batch(X, ONE_HOT, sample_weight=w) == pytest.approx(
        a.evaluate(X, ONE_HOT, sample_weight=w, verbose=0), rel=1e-12)


def test_a_scheduled_learning_rate_reads_as_its_current_value_and_is_not_settable():
    schedule = optimizers.schedules.ExponentialDecay(0.1, 5, 0.5)
    optimizer = optimizers.SGD(schedule)
    assert optimizer.learning_rate == pytest.approx(0.1)
    model = _model(optimizer=optimizer)
    model.fit(X, ONE_HOT, batch_size=8, verbose=0)  # five steps
    assert optimizer.learning_rate == pytest.approx(0.05)
    with pytest.raises(TypeError, match="is a schedule"):
        optimizer.learning_rate = 0.01
    assert optimizer.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"
    plain = optimizers.SGD(0.1)
    plain.learning_rate = 0.02  # callbacks set it
    assert plain._kernel_args()["lr"] == 0.02


def test_only_keras_default_reduction_is_taken():
    assert losses.Huber(reduction="sum_over_batch_size").delta == 1.0
    with pytest.raises(ValueError, match="reduction='sum' is not valid; expected one of: "
                                         "'sum_over_batch_size'"):
        losses.BinaryCrossentropy(reduction="sum")
