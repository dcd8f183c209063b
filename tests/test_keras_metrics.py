"""Each metric equals real Keras' on the same predictions (to 1e-6), streamed over
batches as Keras streams it, and metrics reach fit/evaluate under Keras' names."""

import numpy as np
import pytest

from annfast import keras
from annfast.keras import metrics
from keras_oracle import real_keras, to_numpy

rng = np.random.default_rng(7)
N, K = 257, 4
P_BIN = rng.uniform(size=(N, 1)).astype(np.float32)
Y_BIN = (rng.uniform(size=(N, 1)) < P_BIN).astype(np.float32)  # informative labels
LOGITS = rng.normal(size=(N, K)).astype(np.float32)
P_CAT = (np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)).astype(np.float32)
LABELS = rng.integers(0, K, size=N)
ONEHOT = np.eye(K, dtype=np.float32)[LABELS]
REG_TRUE = rng.normal(size=(N, 3)).astype(np.float32)
REG_PRED = (REG_TRUE + rng.normal(scale=0.5, size=(N, 3))).astype(np.float32)

CASES = [
    # (name, ours, Keras', y_true, y_pred)
    ("binary_accuracy", lambda: metrics.BinaryAccuracy(),
     lambda: real_keras.metrics.BinaryAccuracy(), Y_BIN, P_BIN),
    ("binary_accuracy_t", lambda: metrics.BinaryAccuracy(threshold=0.3),
     lambda: real_keras.metrics.BinaryAccuracy(threshold=0.3), Y_BIN, P_BIN),
    ("categorical_accuracy", lambda: metrics.CategoricalAccuracy(),
     lambda: real_keras.metrics.CategoricalAccuracy(), ONEHOT, P_CAT),
    ("sparse_categorical_accuracy", lambda: metrics.SparseCategoricalAccuracy(),
     lambda: real_keras.metrics.SparseCategoricalAccuracy(), LABELS, P_CAT),
    ("top_2", lambda: metrics.TopKCategoricalAccuracy(k=2),
     lambda: real_keras.metrics.TopKCategoricalAccuracy(k=2), ONEHOT, P_CAT),
    ("sparse_top_2", lambda: metrics.SparseTopKCategoricalAccuracy(k=2),
     lambda: real_keras.metrics.SparseTopKCategoricalAccuracy(k=2), LABELS, P_CAT),
    ("mse", lambda: metrics.MeanSquaredError(),
     lambda: real_keras.metrics.MeanSquaredError(), REG_TRUE, REG_PRED),
    ("mae", lambda: metrics.MeanAbsoluteError(),
     lambda: real_keras.metrics.MeanAbsoluteError(), REG_TRUE, REG_PRED),
    ("rmse", lambda: metrics.RootMeanSquaredError(),
     lambda: real_keras.metrics.RootMeanSquaredError(), REG_TRUE, REG_PRED),
    ("bce", lambda: metrics.BinaryCrossentropy(name="my_bce"),
     lambda: real_keras.metrics.BinaryCrossentropy(name="my_bce"), Y_BIN, P_BIN),
    ("cce", lambda: metrics.CategoricalCrossentropy(),
     lambda: real_keras.metrics.CategoricalCrossentropy(), ONEHOT, P_CAT),
    ("scce", lambda: metrics.SparseCategoricalCrossentropy(),
     lambda: real_keras.metrics.SparseCategoricalCrossentropy(), LABELS, P_CAT),
    ("auc_roc", lambda: metrics.AUC(), lambda: real_keras.metrics.AUC(), Y_BIN, P_BIN),
    ("auc_pr", lambda: metrics.AUC(curve="PR"), lambda: real_keras.metrics.AUC(curve="PR"),
     Y_BIN, P_BIN),
    ("auc_roc_minoring", lambda: metrics.AUC(summation_method="minoring", num_thresholds=50),
     lambda: real_keras.metrics.AUC(summation_method="minoring", num_thresholds=50),
     Y_BIN, P_BIN),
    ("auc_pr_majoring", lambda: metrics.AUC(curve="PR", summation_method="majoring"),
     lambda: real_keras.metrics.AUC(curve="PR", summation_method="majoring"), Y_BIN, P_BIN),
    ("auc_multiclass", lambda: metrics.AUC(), lambda: real_keras.metrics.AUC(), ONEHOT, P_CAT),
    ("auc_logits", lambda: metrics.AUC(from_logits=True),
     lambda: real_keras.metrics.AUC(from_logits=True), ONEHOT, LOGITS),
    ("precision", lambda: metrics.Precision(), lambda: real_keras.metrics.Precision(),
     Y_BIN, P_BIN),
    ("recall", lambda: metrics.Recall(), lambda: real_keras.metrics.Recall(), Y_BIN, P_BIN),
    ("precision_t", lambda: metrics.Precision(thresholds=0.7),
     lambda: real_keras.metrics.Precision(thresholds=0.7), Y_BIN, P_BIN),
    ("recall_class", lambda: metrics.Recall(class_id=2),
     lambda: real_keras.metrics.Recall(class_id=2), ONEHOT, P_CAT),
    ("precision_top_k", lambda: metrics.Precision(top_k=2),
     lambda: real_keras.metrics.Precision(top_k=2), ONEHOT, P_CAT),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_metric_objects_equal_keras_streamed_over_batches(case):
    _, ours_factory, theirs_factory, y_true, y_pred = case
    ours, theirs = ours_factory(), theirs_factory()
    for start in range(0, N, 64):  # uneven last batch
        rows = slice(start, start + 64)
        ours.update_state(y_true[rows], y_pred[rows])
        theirs.update_state(y_true[rows], y_pred[rows])
    expected = float(to_numpy(theirs.result()))
    assert ours.result() == pytest.approx(expected, abs=1e-6, rel=1e-6)
    assert ours.name == theirs.name or theirs.name.startswith(ours.name.split("_")[0])
    # One call on everything gives the same result as the stream.
    ours.reset_state()
    assert ours(y_true, y_pred) == pytest.approx(expected, abs=1e-6, rel=1e-6)


@pytest.mark.parametrize("case", CASES[:6], ids=[c[0] for c in CASES[:6]])
def test_sample_weights_weigh_the_mean_as_keras(case):
    _, ours_factory, theirs_factory, y_true, y_pred = case
    w = rng.uniform(size=N).astype(np.float32)
    ours, theirs = ours_factory(), theirs_factory()
    ours.update_state(y_true, y_pred, sample_weight=w)
    theirs.update_state(y_true, y_pred, sample_weight=w)
    assert ours.result() == pytest.approx(float(to_numpy(theirs.result())), abs=1e-6)


def test_compiled_metrics_report_keras_names_and_values():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=(5,)),
                              keras.layers.Dense(1, activation="sigmoid")])
    auc = keras.metrics.AUC(name="roc")
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=["acc", auc, "precision", keras.metrics.Recall()])
    X = rng.normal(size=(64, 5))
    y = (X[:, 0] > 0).astype(float)
    logs = model.evaluate(X, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "acc", "roc", "precision", model.metrics_names[-1]]
    out = model.predict(X, verbose=0)
    expected = real_keras.metrics.AUC()
    expected.update_state(y, out)
    assert logs["roc"] == pytest.approx(float(to_numpy(expected.result())), abs=1e-6)
    acc = real_keras.metrics.BinaryAccuracy()
    acc.update_state(y.reshape(-1, 1), out)
    assert logs["acc"] == pytest.approx(float(to_numpy(acc.result())), abs=1e-6)


def test_unknown_metric_strings_list_the_valid_ones():
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    with pytest.raises(ValueError, match=r"metrics\[1\]='aucc' is not valid; expected one of: "
                                         ".*'auc'"):
        model.compile(loss="mse", metrics=["mae", "aucc"])
    with pytest.raises(TypeError, match="list of metric names or objects"):
        model.compile(loss="mse", metrics=metrics.AUC())
    with pytest.raises(ValueError, match="from_logits=True"):
        metrics.BinaryCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match="curve='ROCC' is not valid"):
        metrics.AUC(curve="rocc")
