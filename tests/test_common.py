"""scikit-learn's own estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_multihead import JointRegressorClassifier, RandomForestRegressorClassifier

FAST = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0)


def expected_failed_checks(estimator):
    if isinstance(estimator, RandomForestRegressorClassifier):
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "Bootstrap resampling draws rows, not weights: a weight of 2 is not "
                "a repeated row (RandomForestRegressor fails this check too)."
            ),
        }
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "Mini-batch training: a weight of 2 scales a row's loss inside its "
            "batch, while a repeated row lands in a batch of its own and changes "
            "the batch order, so the two fits differ (as in MLPRegressor)."
        ),
    }


@parametrize_with_checks(
    [
        JointRegressorClassifier(**FAST),
        RandomForestRegressorClassifier(n_estimators=5, random_state=0),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
