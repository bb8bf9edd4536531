"""What both estimators of the package share (scikit-learn side).

Inside:

- ``JointTargetsMixin``: the tags (multi-output, y required), the
  ``predict_proba`` availability check, and ``score`` (mean over targets of
  R^2 and accuracy, via ``metrics.joint_score``) of an estimator that encodes
  its targets with ``_targets.TargetEncoder`` as ``_encoder``.
"""

from sklearn.base import MultiOutputMixin

from sklearn_multihead._targets import CLASSIFICATION
from sklearn_multihead.metrics import joint_score


def has_classification_target(est):
    """``available_if`` check: predict_proba needs a classification target."""
    if hasattr(est, "target_types_") and CLASSIFICATION not in est.target_types_:
        raise AttributeError(
            "predict_proba is not available: this model was fitted with regression "
            "targets only, which have no class probabilities."
        )
    return True


class JointTargetsMixin(MultiOutputMixin):
    """Tags and ``score`` of an estimator for mixed regression / class targets."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def score(self, X, y, sample_weight=None):
        """Mean over targets of R^2 (regression) and accuracy (classification).

        Missing cells of y are skipped, target by target; see
        ``sklearn_multihead.metrics`` for per-target scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like or DataFrame of shape (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return joint_score(y, self.predict(X), self.target_types_, sample_weight)
