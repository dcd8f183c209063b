"""The losses, optimizers, schedules, regularizers and sample weights of the
Keras front end train as real Keras 3 does: same starting weights, one or two
epochs, weights to 2e-5 (float32) and the reported losses to 1e-4."""

import numpy as np
import pytest

from annfast import keras
from keras_oracle import real_keras, to_numpy

rng = np.random.default_rng(33)
N, D = 70, 5  # 70 rows at batch 16: a short last batch
X = rng.normal(size=(N, D)).astype(np.float32)
LABELS = rng.integers(0, 3, size=N)
ONE_HOT = np.eye(3, dtype=np.float32)[LABELS]
REG = (X[:, :2] * [0.7, -0.4] - X[:, 1:3]).astype(np.float32)
BINARY = (X[:, :2] > 0).astype(np.float32)
COUNTS = rng.poisson(2.0, size=(N, 2)).astype(np.float32)
POSITIVE = (np.abs(REG) + 0.5).astype(np.float32)  # mape/msle targets, away from 0
SIGNS = np.where(X[:, :2] > 0, 1.0, -1.0).astype(np.float32)


def _pair(units, out, loss, optimizer=lambda k: k.optimizers.SGD(0.05), **dense):
    """Our model and Keras', same weights; ``loss(k)`` and ``optimizer(k)`` build
    each side's objects from module k."""

    def build(k):
        model = k.Sequential([k.Input(shape=(D,)), k.layers.Dense(6, activation="tanh", **dense),
                              k.layers.Dense(units, activation=out, **dense)])
        model.compile(optimizer=optimizer(k), loss=loss(k))
        return model

    ours, theirs = build(keras), build(real_keras)
    # Fixed starting weights: the comparison does not depend on a random draw.
    start = np.random.default_rng(5)
    ours.set_weights([start.uniform(-0.6, 0.6, size=w.shape).astype(np.float32)
                      for w in ours.get_weights()])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _train_both(ours, theirs, y, epochs=1, **fit):
    h_ours = ours.fit(X, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0, **fit)
    h_theirs = theirs.fit(X, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0, **fit)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, to_numpy(b), atol=2e-5)
    for key, values in h_theirs.history.items():
        np.testing.assert_allclose(h_ours.history[key], values, rtol=1e-4, atol=1e-6,
                                   err_msg=key)
    return h_ours, h_theirs


LOSS_CASES = {
    # name: (units, output activation, targets, loss(k))
    "mae": (2, None, REG, lambda k: "mae"),
    "mean_absolute_error": (2, None, REG, lambda k: k.losses.MeanAbsoluteError()),
    "huber": (2, None, REG, lambda k: "huber"),
    "huber_delta": (2, None, REG, lambda k: k.losses.Huber(delta=0.3)),
    "log_cosh": (2, None, REG, lambda k: "log_cosh"),
    "poisson": (2, "exponential", COUNTS, lambda k: "poisson"),
    "poisson_softplus": (2, "softplus", COUNTS, lambda k: k.losses.Poisson()),
    "kld": (3, "softmax", ONE_HOT * 0.8 + 0.2 / 3, lambda k: "kld"),
    "kl_divergence_sigmoid": (3, "sigmoid", ONE_HOT * 0.8 + 0.1, lambda k: "kl_divergence"),
    "hinge_01": (2, "tanh", BINARY, lambda k: "hinge"),
    "hinge_signs": (2, None, SIGNS, lambda k: k.losses.Hinge()),
    "squared_hinge": (2, "tanh", BINARY, lambda k: "squared_hinge"),
    "bce_logits": (2, None, BINARY,
                   lambda k: k.losses.BinaryCrossentropy(from_logits=True)),
    "bce_smoothing": (2, "sigmoid", BINARY,
                      lambda k: k.losses.BinaryCrossentropy(label_smoothing=0.2)),
    # A linear output under the probability clip: small steps keep it where float32
    # rounding does not decide whether the clip is active.
    "bce_linear": (2, None, BINARY * 0.6 + 0.2, lambda k: "binary_crossentropy",
                   lambda k: k.optimizers.SGD(0.01)),
    "ce_logits": (3, None, ONE_HOT,
                  lambda k: k.losses.CategoricalCrossentropy(from_logits=True)),
    "ce_smoothing": (3, "softmax", ONE_HOT,
                     lambda k: k.losses.CategoricalCrossentropy(label_smoothing=0.1)),
    "ce_sigmoid": (3, "sigmoid", ONE_HOT, lambda k: "categorical_crossentropy"),
    "sparse_logits": (3, None, LABELS,
                      lambda k: k.losses.SparseCategoricalCrossentropy(from_logits=True)),
    "function_mae": (2, None, REG, lambda k: k.losses.mean_absolute_error),
    # mape's gradient is 100 / |y|: small steps.
    "mape": (2, None, POSITIVE, lambda k: "mape", lambda k: k.optimizers.SGD(0.002)),
    "mape_object": (2, "softplus", POSITIVE,
                    lambda k: k.losses.MeanAbsolutePercentageError(),
                    lambda k: k.optimizers.SGD(0.002)),
    "mape_function": (2, None, REG, lambda k: k.losses.mean_absolute_percentage_error,
                      lambda k: k.optimizers.SGD(0.0005)),
    "msle": (2, "softplus", POSITIVE, lambda k: "msle"),
    "msle_object": (2, None, POSITIVE, lambda k: k.losses.MeanSquaredLogarithmicError()),
    "msle_function": (2, "relu", COUNTS,
                      lambda k: k.losses.mean_squared_logarithmic_error),
}


@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_losses_train_as_keras(case):
    units, out, y, loss, *optimizer = LOSS_CASES[case]
    ours, theirs = _pair(units, out, loss, *optimizer)
    _train_both(ours, theirs, y, epochs=2)
    assert ours.evaluate(X, y, verbose=0) == pytest.approx(
        float(theirs.evaluate(X, y, verbose=0)), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", ["mean_absolute_error", "mean_absolute_percentage_error",
                                  "mean_squared_logarithmic_error", "huber", "log_cosh",
                                  "poisson",
                                  "kl_divergence", "hinge", "squared_hinge",
                                  "binary_crossentropy", "categorical_crossentropy"])
def test_loss_functions_give_keras_per_sample_values(name):
    y_true = rng.uniform(0.05, 0.95, size=(9, 3))
    y_pred = rng.uniform(0.05, 0.95, size=(9, 3))
    if name == "hinge" or name == "squared_hinge":
        y_true = np.round(y_true)
    got = getattr(keras.losses, name)(y_true, y_pred)
    expected = to_numpy(getattr(real_keras.losses, name)(y_true, y_pred))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


OPTIMIZER_CASES = {
    "adamw": lambda k: k.optimizers.AdamW(0.01),
    "adamw_string": lambda k: "adamw",
    "adam_amsgrad": lambda k: k.optimizers.Adam(0.01, amsgrad=True),
    "adagrad": lambda k: k.optimizers.Adagrad(0.05),
    "adadelta": lambda k: k.optimizers.Adadelta(1.0),
    "adamax": lambda k: k.optimizers.Adamax(0.01),
    "nadam": lambda k: k.optimizers.Nadam(0.01),
    "rmsprop_momentum": lambda k: k.optimizers.RMSprop(0.01, momentum=0.5),
    "rmsprop_centered": lambda k: k.optimizers.RMSprop(0.01, centered=True),
    "sgd_clipnorm": lambda k: k.optimizers.SGD(0.2, momentum=0.9, clipnorm=0.05),
    "sgd_clipvalue": lambda k: k.optimizers.SGD(0.2, clipvalue=0.01),
    "adam_global_clipnorm": lambda k: k.optimizers.Adam(0.01, global_clipnorm=0.05),
    "sgd_weight_decay": lambda k: k.optimizers.SGD(0.05, weight_decay=0.1),
    "exponential_decay": lambda k: k.optimizers.SGD(k.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=3, decay_rate=0.5)),
    "inverse_time_staircase": lambda k: k.optimizers.Adam(
        k.optimizers.schedules.InverseTimeDecay(0.01, 2, 0.7, staircase=True)),
    "piecewise": lambda k: k.optimizers.SGD(k.optimizers.schedules.PiecewiseConstantDecay(
        [2, 6], [0.1, 0.05, 0.01]), momentum=0.9),
    "cosine": lambda k: k.optimizers.RMSprop(k.optimizers.schedules.CosineDecay(
        0.01, decay_steps=7, alpha=0.1)),
    "cosine_warmup": lambda k: k.optimizers.SGD(k.optimizers.schedules.CosineDecay(
        0.0, decay_steps=5, warmup_target=0.1, warmup_steps=3)),
}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_optimizers_train_as_keras(case):
    ours, theirs = _pair(3, "softmax", lambda k: "categorical_crossentropy",
                         OPTIMIZER_CASES[case])
    _train_both(ours, theirs, ONE_HOT, epochs=2)
    assert ours.optimizer.iterations == int(to_numpy(theirs.optimizer.iterations)) == 10


@pytest.mark.parametrize("regularizer", [
    {"kernel_regularizer": "l2"},
    {"kernel_regularizer": "l1", "bias_regularizer": "l2"},
    {"kernel_regularizer": "L1L2"},
])
def test_regularizers_train_and_report_as_keras(regularizer):
    ours, theirs = _pair(3, "softmax", lambda k: "categorical_crossentropy",
                         lambda k: k.optimizers.Adam(0.01), **regularizer)
    _train_both(ours, theirs, ONE_HOT, epochs=2, validation_data=(X[:20], ONE_HOT[:20]))
    assert ours.evaluate(X, ONE_HOT, verbose=0) == pytest.approx(
        float(theirs.evaluate(X, ONE_HOT, verbose=0)), rel=1e-5)


def test_regularizer_classes_train_as_keras():
    def build(k):
        return k.Sequential([k.Input(shape=(D,)), k.layers.Dense(
            2, kernel_regularizer=k.regularizers.L1L2(l1=0.02, l2=0.05),
            bias_regularizer=k.regularizers.L1(0.03))])

    ours, theirs = build(keras), build(real_keras)
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="mse")
    _train_both(ours, theirs, REG, epochs=2)


def test_sample_and_class_weights_train_and_report_as_keras():
    w = rng.uniform(0, 2, size=N).astype(np.float32)
    w[:5] = 0
    ours, theirs = _pair(3, "softmax", lambda k: "sparse_categorical_crossentropy",
                         lambda k: k.optimizers.Adam(0.01))
    val = (X[:30], LABELS[:30], w[:30])
    _train_both(ours, theirs, LABELS, epochs=2, sample_weight=w, validation_data=val)
    got = ours.evaluate(X, LABELS, sample_weight=w, verbose=0)
    assert got == pytest.approx(float(theirs.evaluate(X, LABELS, sample_weight=w, verbose=0)),
                                rel=1e-5)
    ours, theirs = _pair(3, "softmax", lambda k: "categorical_crossentropy")
    _train_both(ours, theirs, ONE_HOT, epochs=1, class_weight={0: 0.5, 1: 2.0, 2: 1.0})
    ours, theirs = _pair(1, "sigmoid", lambda k: "binary_crossentropy")
    _train_both(ours, theirs, BINARY[:, :1], epochs=1, class_weight={0: 3.0, 1: 0.5})


def test_evaluate_with_sample_weights_and_metrics_as_keras():
    """Keras 3 weights the loss, not the compiled metrics (those are unweighted)."""
    w = rng.uniform(0, 2, size=N).astype(np.float32)
    ours, theirs = _pair(3, "softmax", lambda k: "categorical_crossentropy")
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="categorical_crossentropy",
                      metrics=["accuracy", "mae"])
    got = ours.evaluate(X, ONE_HOT, sample_weight=w, verbose=0, return_dict=True)
    expected = theirs.evaluate(X, ONE_HOT, sample_weight=w, verbose=0, return_dict=True)
    assert set(got) == set(expected)
    for key in got:
        assert got[key] == pytest.approx(float(expected[key]), rel=1e-5), key


@pytest.mark.parametrize("weighting", ["sample_weight", "class_weight"])
def test_validation_split_with_weights_as_keras(weighting):
    weights = {"sample_weight": rng.uniform(0.2, 2, size=N).astype(np.float32),
               "class_weight": {0: 0.3, 1: 2.0, 2: 1.0}}
    ours, theirs = _pair(3, "softmax", lambda k: "sparse_categorical_crossentropy",
                         lambda k: k.optimizers.Adam(0.01))
    _train_both(ours, theirs, LABELS, epochs=2, validation_split=0.3,
                **{weighting: weights[weighting]})


def test_weighted_metrics_as_keras():
    """compile(weighted_metrics=...): evaluate and validation metrics weighted by
    sample_weight equal Keras' to 1e-6, a name in both lists is reported as
    weighted_<name>, and class_weight weights the training metrics."""
    w = rng.uniform(0.0, 2.0, size=N)

    def build(k):
        model = k.Sequential([k.Input(shape=(D,)), k.layers.Dense(6, activation="tanh"),
                              k.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=k.optimizers.SGD(0.1), loss="categorical_crossentropy",
                      metrics=["accuracy", "mse"],
                      weighted_metrics=["accuracy", "mae", k.metrics.AUC(name="auc"),
                                        k.metrics.Precision(name="precision")])
        return model

    ours, theirs = build(keras), build(real_keras)
    theirs.set_weights(ours.get_weights())
    fit = {"batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0,
           "validation_data": (X[:30], ONE_HOT[:30], w[:30])}
    h_ours = ours.fit(X, ONE_HOT, sample_weight=w, **fit)
    h_theirs = theirs.fit(X, ONE_HOT, sample_weight=w, **fit)
    assert set(h_ours.history) == set(h_theirs.history)
    for key in h_theirs.history:
        if key.startswith("val_"):
            np.testing.assert_allclose(h_ours.history[key], h_theirs.history[key], rtol=1e-6,
                                       atol=1e-6, err_msg=key)
    got = ours.evaluate(X, ONE_HOT, sample_weight=w, return_dict=True, verbose=0)
    expected = theirs.evaluate(X, ONE_HOT, sample_weight=w, return_dict=True, verbose=0)
    assert set(got) == set(expected) >= {"weighted_accuracy", "accuracy", "auc", "mae"}
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value), rel=1e-6, abs=1e-6), key
    assert got["weighted_accuracy"] != pytest.approx(got["accuracy"])  # the weights count
    # class_weight: the training metrics weigh each sample by its class's weight.
    table = {0: 0.5, 1: 2.0, 2: 1.0}
    history = ours.fit(X, ONE_HOT, class_weight=table, epochs=1, verbose=0)
    out = ours.predict(X, verbose=0)
    weights = np.array([table[c] for c in LABELS])
    for key, metric in (("mae", real_keras.metrics.MeanAbsoluteError()),
                        ("auc", real_keras.metrics.AUC())):
        metric.update_state(ONE_HOT, out, sample_weight=weights)
        assert history.history[key][-1] == pytest.approx(float(to_numpy(metric.result())),
                                                         rel=1e-6, abs=1e-6), key
