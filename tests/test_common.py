"""scikit-learn's own estimator checks on every public estimator, at fast
settings and at the default parameters.

Expected failures are strict (``xfail_strict`` in pyproject.toml): a check that
starts passing fails the suite until its entry is removed. Checks whose verdict
depends on float32 rounding of the training at a tolerance of 1e-7 (they pass
or fail by a few units in the last place, depending on the BLAS kernel and
thread count) are skipped with their reason, and the property they test is
asserted below at float32 precision instead. Predictions run in float64, so
the checks that compare predictions of one row and of many run as they are.
"""

from functools import partial

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_multihead import (
    DummyRegressorClassifier,
    JointRegressorClassifier,
    RandomForestRegressorClassifier,
)

FAST = dict(n_models=1, hidden_layer_sizes=(16,), max_iter=5, random_state=0)

#: checks whose tolerance (1e-7) is below the network's float32 precision
FLOAT32_ROUNDING = {
    "check_sample_weight_equivalence_on_dense_data": (
        "A weight of 2 and a repeated row give the same loss in exact arithmetic "
        "only when all rows share a batch (at the default batch size the check's "
        "15-60 rows are 1-3 batches, and repeated rows shift which rows share "
        "one); in one batch, float32 sums them in another order: predictions "
        "differ by 1e-8 to 1e-6, around the check's 1e-7 tolerance. Asserted in "
        "one batch at float32 precision in "
        "test_sample_weight_equals_repeated_rows_to_float32_precision."
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "As on dense data: equal losses in exact arithmetic, summed in another "
        "order in float32; asserted at float32 precision in "
        "test_sample_weight_equals_repeated_rows_to_float32_precision."
    ),
}


def expected_failed_checks(estimator):
    if isinstance(estimator, RandomForestRegressorClassifier):
        bootstrap = (
            "Bootstrap resampling draws rows, not weights: a weight of 2 is not "
            "a repeated row (RandomForestRegressor fails this check too)."
        )
        return {
            "check_sample_weight_equivalence_on_dense_data": bootstrap,
            "check_sample_weight_equivalence_on_sparse_data": bootstrap,
        }
    return {}


def _name(check):
    return (check.func if isinstance(check, partial) else check).__name__


def _run(estimator, check):
    reason = FLOAT32_ROUNDING.get(_name(check))
    if reason and isinstance(estimator, JointRegressorClassifier):
        pytest.skip(reason)
    check(estimator)


@parametrize_with_checks(
    [
        JointRegressorClassifier(**FAST),
        JointRegressorClassifier(**{**FAST, "n_models": 2, "n_ensemble": 2}),
        # packed networks (pack_models): their own training path
        JointRegressorClassifier(**{**FAST, "n_models": 2, "early_stopping": True}),
        RandomForestRegressorClassifier(n_estimators=5, random_state=0),
        DummyRegressorClassifier(),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    _run(estimator, check)


@pytest.mark.slow
@parametrize_with_checks(
    [JointRegressorClassifier(), RandomForestRegressorClassifier()],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator_at_default_parameters(estimator, check):
    _run(estimator, check)


DEFAULT = pytest.param({}, id="default", marks=pytest.mark.slow)


@pytest.mark.parametrize("params", [pytest.param(FAST, id="fast"), DEFAULT])
def test_sample_weight_equals_repeated_rows_to_float32_precision(params):
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15)
    # one batch per epoch, whatever the rows (see FLOAT32_ROUNDING)
    est = JointRegressorClassifier(**{**params, "random_state": 0, "batch_size": 256})
    weighted = clone(est).fit(X, y, sample_weight=sw)
    repeated = clone(est).fit(X.repeat(sw, axis=0), y.repeat(sw))
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-5
    )
    # and the weights matter: unweighted, the fit is another one
    plain = clone(est).fit(X, y)
    assert np.abs(plain.predict_proba(X) - weighted.predict_proba(X)).max() > 1e-3


@pytest.mark.parametrize("params", [pytest.param(FAST, id="fast"), DEFAULT])
def test_predictions_do_not_depend_on_the_batch(params):
    rng = np.random.RandomState(0)
    X = 3 * rng.uniform(size=(20, 3))
    y = X[:, 0].astype(int)
    est = JointRegressorClassifier(**{**params, "random_state": 1}).fit(X, y)
    full = est.predict_proba(X)
    rows = np.vstack([est.predict_proba(X[i : i + 1]) for i in range(len(X))])
    # the forward pass runs in float64: 1 row and 20 agree far below float32's
    # rounding (about 1e-7), which they did not in float32
    np.testing.assert_allclose(rows, full, rtol=0, atol=1e-12)
    assert (est.predict(X) == np.concatenate([est.predict(x[None]) for x in X])).all()
