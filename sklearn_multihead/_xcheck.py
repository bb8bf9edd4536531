"""X as the joint network takes it: checked, and turned into the feature
plan's matrix (scikit-learn, pandas, numpy).

Inside:

- ``FeatureCheckMixin`` (for ``JointRegressorClassifier``): ``_validate_fit_data``
  and ``_validate_X``. A numeric X (array, sparse matrix, DataFrame of
  numbers) takes scikit-learn's own checks and float32 conversion, with
  missing values allowed (the network fills them and marks them). A
  DataFrame with category, string, object or bool columns, or any X with
  ``categorical_features`` named, goes through the fitted
  ``_features.FeaturePlan``: its numeric columns are converted one by one
  (an error names the column that holds text or infinity) and its
  categorical columns become codes.
- ``numeric_statistics``: the medians and robust spreads of the numeric
  block (from at most ``STATISTICS_ROWS`` rows, ``statistics_rows``), and
  which numeric columns had a missing cell (for the input layer).
"""

import numpy as np
import pandas as pd
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from sklearn_multihead._features import FeaturePlan, needs_plan, robust_scaling
from sklearn_multihead._weights import check_sample_weight


class FeatureCheckMixin:
    """Feature checks of the joint network (see the module docstring)."""

    def _validate_fit_data(
        self, X, y, sample_weight, sample_weight_dtype=None, reset=True
    ):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        X = self._checked_frame_or_array(X, reset)
        check_consistent_length(X, y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(
                sample_weight, X.shape[0], dtype=sample_weight_dtype
            )
        return self._planned(X, reset, sample_weight), sample_weight

    def _validate_X(self, X):
        check_is_fitted(self)
        quick = self._quickly_checked_X(X) if self._features.is_identity else None
        if quick is not None:
            return quick
        return self._planned(self._checked_frame_or_array(X, reset=False), False)

    def _planned(self, X, reset, sample_weight=None):
        """The plan's matrix of a checked X (a DataFrame when the plan is
        needed), fitting the plan first when ``reset``."""
        if isinstance(X, pd.DataFrame):
            if reset:
                plan = FeaturePlan(self.categorical_features)
                self._features = plan.fit(X, sample_weight)
            return self._features.transform(X)
        if reset:
            self._features = FeaturePlan.numeric_only(X.shape[1])
        return X

    def _checked_frame_or_array(self, X, reset):
        """X with scikit-learn's checks: a float32 array (or sparse matrix)
        when numbers are all it holds, else a DataFrame for the plan."""
        spec = self.categorical_features
        use_plan = needs_plan(X, spec) if reset else not self._features.is_identity
        if not use_plan:
            X = validate_data(
                self,
                X,
                dtype=np.float32,
                accept_sparse="csr",
                ensure_all_finite="allow-nan",
                reset=reset,
            )
            return X
        if hasattr(X, "tocsr"):
            raise ValueError(
                "categorical_features needs a dense X (a DataFrame or an array); "
                "got a sparse matrix. Encode the categories into the sparse matrix "
                "and set categorical_features=None, or pass a DataFrame."
            )
        if not isinstance(X, pd.DataFrame):
            return pd.DataFrame(
                validate_data(self, X, dtype=None, ensure_all_finite=False, reset=reset)
            )
        else:
            validate_data(self, X, skip_check_array=True, reset=reset)
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a "
                    "minimum of 1 is required."
                )
            if X.shape[1] == 0:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape={X.shape}) while a "
                    "minimum of 1 is required."
                )
        return X


#: medians and spreads come from at most this many rows (a fixed random
#: sample of larger tables, as HistGradientBoosting bins from 200,000): for
#: 1,000,000 x 32 normal values, 0.27 s of CPU instead of 1.63 s (with the
#: piecewise bins), medians within 0.009 spreads and spreads within 0.7%
STATISTICS_ROWS = 200_000


def statistics_rows(n_rows, sample_weight=None):
    """The rows that numeric quantiles are computed from: None (all rows)
    up to ``STATISTICS_ROWS`` rows, else a sorted random sample of that many
    rows of positive weight (the same for every fit of the same table size
    and weights), or all of those where there are no more."""
    if n_rows <= STATISTICS_ROWS:
        return None
    rows = np.arange(n_rows)
    if sample_weight is not None:
        rows = np.flatnonzero(np.asarray(sample_weight) > 0)
    if len(rows) <= STATISTICS_ROWS:
        return rows
    rng = np.random.default_rng(n_rows)
    return np.sort(rng.choice(rows, STATISTICS_ROWS, replace=False))


def numeric_statistics(X, n_numeric, sample_weight=None, rows=None):
    """``(center, scale, missing_columns)`` of the first ``n_numeric`` columns
    of the plan's matrix X (dense or scipy sparse), from the rows of positive
    weight: the quantiles from ``rows`` (``statistics_rows``; None: every
    row), the missing columns from every row."""
    if n_numeric == 0:
        return np.zeros(0), np.ones(0), []
    block = X[:, :n_numeric]
    if rows is None:
        center, scale = robust_scaling(block, sample_weight)
    else:
        weights = None if sample_weight is None else np.asarray(sample_weight)[rows]
        center, scale = robust_scaling(block[rows], weights)
    if sample_weight is not None:
        block = block[np.asarray(sample_weight) > 0]
    if hasattr(block, "tocsc"):  # only stored cells can be NaN
        block = block.tocsc()
        cols = np.repeat(np.arange(n_numeric), np.diff(block.indptr))
        missing = sorted(set(cols[np.isnan(block.data)].tolist()))
    else:
        missing = np.flatnonzero(np.isnan(block).any(axis=0)).tolist()
    return center, scale, missing
