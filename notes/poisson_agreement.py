"""Agreement of MLPRegressor(loss='poisson') with scikit-learn's: max |difference| of the
weights, predictions and loss curve (loss_ for lbfgs) on the data of
tests/test_sklearn_poisson.py.  Run from the repository root:
    python notes/poisson_agreement.py
"""
import sys
import warnings

import numpy as np
from sklearn.neural_network import MLPRegressor as S

from annfast.sklearn import MLPRegressor

sys.path.insert(0, "tests")
import test_sklearn_poisson as t  # noqa: E402  (the tests' data and settings)

warnings.simplefilter("ignore")
for alpha in (0.0, 1e-3):
    for solver in sorted(t.SOLVERS):
        for target in sorted(t.TARGETS):
            ours, theirs = t.both(t.TARGETS[target], alpha=alpha, **t.SOLVERS[solver])
            dw = max(np.abs(p - q).max() for p, q in zip(t.params_of(ours), t.params_of(theirs)))
            dp = np.abs(ours.predict(t.X) - theirs.predict(t.X)).max()
            lc = (np.abs(np.subtract(ours.loss_curve_, theirs.loss_curve_)).max()
                  if solver != "lbfgs" else abs(ours.loss_ - theirs.loss_))
            print(f"alpha={alpha:g} {solver:14s} {target:12s} n_iter {ours.n_iter_}/{theirs.n_iter_}"
                  f"  weights {dw:.1e}  predict {dp:.1e}  loss {lc:.1e}")
for dt in (np.float32,):
    for solver in ("sgd", "adam", "lbfgs"):
        s = dict(t.SOLVERS["sgd minibatch" if solver == "sgd" else solver], alpha=1e-3)
        a = MLPRegressor(loss="poisson", hidden_layer_sizes=(5,), random_state=1, **s).fit(t.X.astype(dt), t.Y2)
        b = S(loss="poisson", hidden_layer_sizes=(5,), random_state=1, **s).fit(t.X.astype(dt), t.Y2)
        dw = max(np.abs(p - q).max() for p, q in zip(t.params_of(a), t.params_of(b)))
        print("float32", solver, f"weights {dw:.1e}", a.coefs_[0].dtype, b.coefs_[0].dtype)
