"""``DummyRegressorClassifier``: the baseline that learns nothing, for mixed
targets (scikit-learn's ``DummyRegressor`` and ``DummyClassifier`` in one).

It predicts, whatever X holds, the (weighted) mean of each regression target
and the most frequent class of each classification target, with the class
shares as probabilities: a score that does not beat it says the model
learned nothing about that target. Missing target cells are skipped, target
by target. It shares the targets' encoding, tags and ``score`` with the other
estimators of the package (``_base``).
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from sklearn_multihead._base import JointTargetsMixin, has_classification_target
from sklearn_multihead._targets import CLASSIFICATION, TargetEncoder
from sklearn_multihead._validation import (
    StrOptions,
    check_sample_weight,
    validated_fit,
)

__all__ = ["DummyRegressorClassifier"]


class DummyRegressorClassifier(JointTargetsMixin, BaseEstimator):
    """Predicts each target's mean or most frequent class, ignoring X.

    The baseline of every score in ``sklearn-multihead compare``: a model
    that does not beat it has learned nothing about a target.

    Parameters
    ----------
    target_types : "auto", list or dict, default="auto"
        Type of each target column, as for ``JointRegressorClassifier``.

    Attributes
    ----------
    target_types_ : list of str
        Type of each target.
    target_classes_ : list
        Per target, its class labels or None.
    constants_ : list of ndarray
        Per target: the standardised mean (regression, one value) or the
        class shares (classification, one per class).
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_multihead import DummyRegressorClassifier
    >>> Y = pd.DataFrame({"size": [1.0, 2.0, 3.0], "kind": ["a", "b", "b"]})
    >>> DummyRegressorClassifier().fit([[0], [0], [0]], Y).predict([[5]])
       size kind
    0   2.0    b
    """

    _parameter_rules = {"target_types": [StrOptions({"auto"}), list, tuple, dict]}

    def __init__(self, target_types="auto"):
        self.target_types = target_types

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # X is never read
        tags.input_tags.string = True
        return tags

    @validated_fit
    def fit(self, X, y, sample_weight=None):
        """Learn each target's mean or class shares.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Ignored, but for its number of rows and columns.
        y : array-like or DataFrame of shape (n_samples, n_targets) or (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit_keeping_state_on_error(X, y, sample_weight)

    def _fit(self, X, y, sample_weight):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        X = _checked(self, X, reset=True)
        check_consistent_length(X, y)
        n = X.shape[0]
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, n, dtype=np.float64)
        w = np.ones(n) if sample_weight is None else sample_weight
        encoder = TargetEncoder(self.target_types)
        Y = encoder.fit_transform(y, sample_weight)
        self._encoder = encoder
        self._set_target_attributes(encoder)
        self.constants_ = []
        self.interval_residuals_ = [None] * self.n_outputs_
        for j, classes in enumerate(self.target_classes_):
            known = ~np.isnan(Y[:, j])
            wk = w[known]
            if classes is None:
                total = wk.sum()
                mean = float((wk * Y[known, j]).sum() / total) if total > 0 else 0.0
                self.constants_.append(np.array([mean]))
                # a constant learns next to nothing from a row: its residuals on
                # the training rows calibrate its intervals
                residuals = np.abs(Y[known, j].astype(np.float64) - mean)
                residuals *= self._encoder.scales_[j]
                residuals = np.sort(residuals[np.isfinite(residuals)])
                self.interval_residuals_[j] = residuals if len(residuals) else None
                continue
            shares = np.bincount(
                Y[known, j].astype(np.intp), weights=wk, minlength=len(classes)
            )
            total = shares.sum()
            shares = shares / total if total > 0 else np.full(len(classes), 1.0)
            self.constants_.append(shares / shares.sum())
        return self

    def predict(self, X):
        """Each target's mean or most frequent class, for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray or DataFrame of shape (n_samples, n_targets)
            The same forms as ``JointRegressorClassifier.predict``.
        """
        check_is_fitted(self)
        index = X.index if isinstance(X, pd.DataFrame) else None
        n = _checked(self, X, reset=False).shape[0]
        codes = np.empty((n, self.n_outputs_), dtype=np.float64)
        for j, (constant, classes) in enumerate(
            zip(self.constants_, self.target_classes_)
        ):
            codes[:, j] = constant[0] if classes is None else np.argmax(constant)
        return self._encoder.inverse_transform(codes, index=index)

    @available_if(has_classification_target)
    def predict_proba(self, X):
        """The class shares of each classification target, for every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : list of ndarray of shape (n_samples, n_classes_j)
            One array per classification target (the array itself for a 1-D
            y), columns in ``classes_[j]`` order.
        """
        check_is_fitted(self)
        n = _checked(self, X, reset=False).shape[0]
        out = [
            np.tile(constant, (n, 1))
            for constant, kind in zip(self.constants_, self.target_types_)
            if kind == CLASSIFICATION
        ]
        return out[0] if self._encoder.kind_ == "1d" else out


def _checked(est, X, reset):
    """X checked as scikit-learn checks it (2-D, not empty, the fitted
    width and names), of any cell type: its values are never used."""
    return validate_data(
        est, X, dtype=None, accept_sparse=True, ensure_all_finite=False, reset=reset
    )
