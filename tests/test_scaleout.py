"""Scale-out through joblib: annfast estimators in GridSearchCV over processes and Dask.

The estimators clone and pickle like any scikit-learn estimator, and the same
random_state gives the same bits in any process, so a parallel search must
reproduce the serial one exactly.
"""

import importlib.util
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from annfast.sklearn import MLPClassifier, MLPRegressor

HAS_DISTRIBUTED = importlib.util.find_spec("distributed") is not None

# Few epochs keep the search fast; the warning that says so is noise here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(60, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    return X, y


def search(estimator_class, n_jobs):
    grid = {"hidden_layer_sizes": [(4,), (8,)], "learning_rate_init": [0.01, 0.05]}
    return GridSearchCV(estimator_class(max_iter=10, random_state=0), grid, cv=2, n_jobs=n_jobs)


def fit_quietly(gs, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gs.fit(X, y)


def test_grid_search_in_two_processes_matches_serial(problem):
    X, y = problem
    serial = fit_quietly(search(MLPClassifier, n_jobs=1), X, y)
    parallel = fit_quietly(search(MLPClassifier, n_jobs=2), X, y)  # loky worker processes
    assert_array_equal(parallel.cv_results_["mean_test_score"],
                       serial.cv_results_["mean_test_score"])
    assert parallel.best_params_ == serial.best_params_
    assert_array_equal(parallel.predict_proba(X), serial.predict_proba(X))


def test_grid_search_with_threads_matches_serial(problem):
    # The kernels release the GIL while training, so joblib's threading backend
    # runs fits side by side; each fit owns its buffers, so results cannot mix.
    X, y = problem
    serial = fit_quietly(search(MLPClassifier, n_jobs=1), X, y)
    with joblib.parallel_backend("threading", n_jobs=2):
        threaded = fit_quietly(search(MLPClassifier, n_jobs=2), X, y)
    assert_array_equal(threaded.cv_results_["mean_test_score"],
                       serial.cv_results_["mean_test_score"])
    for a, b in zip(threaded.best_estimator_.coefs_, serial.best_estimator_.coefs_):
        assert_array_equal(a, b)


@pytest.mark.skipif(not HAS_DISTRIBUTED,
                    reason="needs the 'distributed' extra: pip install 'annfast[distributed]'")
def test_grid_search_on_a_dask_cluster_matches_serial(problem):
    from dask.distributed import Client, LocalCluster

    X, y = problem
    yr = X[:, 0] - 0.5 * X[:, 1]
    serial = fit_quietly(search(MLPRegressor, n_jobs=1), X, yr)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        with joblib.parallel_backend("dask"):
            remote = fit_quietly(search(MLPRegressor, n_jobs=-1), X, yr)
        workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert_array_equal(remote.cv_results_["mean_test_score"],
                       serial.cv_results_["mean_test_score"])
    assert remote.best_params_ == serial.best_params_
