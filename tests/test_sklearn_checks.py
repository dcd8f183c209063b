"""scikit-learn's own estimator checks, run on annfast's MLPRegressor and MLPClassifier.

Small max_iter, as scikit-learn uses for its own MLPs (``max_iter=100``), keeps
the suite fast.  We skip nothing and expect no failure.  The sample_weight
checks do not run because ``fit`` takes no sample_weight argument (the kernels
have no per-sample weights), which is how scikit-learn selects them.
scikit-learn itself skips three checks here: two array-API checks
(SCIPY_ARRAY_API unset) and the multilabel decision_function check (an MLP has
no decision_function, like scikit-learn's).
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from annfast.sklearn import MLPClassifier, MLPRegressor

# The checks fit with few epochs on purpose; the warning that says so is noise here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks(
    [MLPRegressor(max_iter=100, random_state=0), MLPClassifier(max_iter=100, random_state=0)]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
