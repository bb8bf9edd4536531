"""Scores of mixed-target predictions, target by target.

Inside:

- ``joint_score``: the mean over targets of R^2 (regression) and accuracy
  (classification), missing cells of ``y_true`` skipped per target; the score
  that ``JointRegressorClassifier.score`` returns.
"""

import numpy as np
from sklearn.metrics import r2_score

from sklearn_multihead._targets import REGRESSION, as_target_columns


def _known_pairs(y_true, y_pred, target_types, sample_weight):
    """Yield (name, type, true, pred, weight) over the known cells of each target."""
    true_cols, names, _ = as_target_columns(y_true)
    pred_cols, _, _ = as_target_columns(y_pred)
    if len(true_cols) != len(pred_cols) or len(true_cols) != len(target_types):
        raise ValueError(
            f"y_true has {len(true_cols)} targets, y_pred {len(pred_cols)} and "
            f"target_types {len(target_types)}: they must agree."
        )
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    for name, t, true, pred in zip(names, target_types, true_cols, pred_cols):
        true = np.asarray(true, dtype=object) if t != REGRESSION else true
        known = ~np.asarray(_isna(true), dtype=bool)
        true, pred = np.asarray(true)[known], np.asarray(pred)[known]
        w = None if sw is None else sw[known]
        if t == REGRESSION:
            true, pred = true.astype(np.float64), pred.astype(np.float64)
        yield name, t, true, pred, w


def _isna(values):
    import pandas as pd

    return pd.isna(values)


def _accuracy(true, pred, sample_weight=None):
    """Share of equal labels; labels compared as values, whatever their dtype."""
    hits = np.asarray(true, dtype=object) == np.asarray(pred, dtype=object)
    return float(np.average(hits, weights=sample_weight))


def joint_score(y_true, y_pred, target_types, sample_weight=None):
    """Mean over targets of R^2 (regression) and accuracy (classification).

    Parameters
    ----------
    y_true : array-like or DataFrame of shape (n_samples, n_targets)
        True targets; missing cells are skipped for their target.
    y_pred : array-like or DataFrame of shape (n_samples, n_targets)
        Predicted targets.
    target_types : list of {"regression", "classification"}
        Type of each target, e.g. an estimator's ``target_types_``.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float
    """
    scores = []
    for _name, t, true, pred, w in _known_pairs(
        y_true, y_pred, target_types, sample_weight
    ):
        if len(true) == 0:
            continue
        if t == REGRESSION:
            scores.append(r2_score(true, pred, sample_weight=w))
        else:
            scores.append(_accuracy(true, pred, w))
    if not scores:
        raise ValueError("y_true has no known cell in any target: nothing to score.")
    return float(np.mean(scores))
