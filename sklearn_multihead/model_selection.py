"""Cross-validated predictions of mixed targets.

Inside:

- ``cross_val_predict``: what ``sklearn.model_selection.cross_val_predict``
  does, for estimators of several mixed targets. scikit-learn's version
  label-encodes every column of y before fitting when ``method`` is
  ``"predict_proba"`` (a regression column becomes hundreds of classes, with
  no error), and cannot place one probability array per target; this one
  fits each fold on y as it is and returns, for ``"predict_proba"``, one
  ``(n_samples, n_classes_j)`` array per classification target, in the
  class order of the whole y. ``"predict"`` keeps a DataFrame's columns,
  dtypes and index.
"""

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import check_cv

from sklearn_multihead._targets import CLASSIFICATION, TargetEncoder

__all__ = ["cross_val_predict"]

METHODS = ("predict", "predict_proba")


def _take(data, rows):
    """The given rows of X, y or a per-row parameter, in its own kind."""
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    if isinstance(data, list):
        return [data[i] for i in rows]
    return data[rows]  # numpy arrays, scipy sparse matrices


def _fit_and_predict(estimator, X, y, train, test, method, params):
    est = clone(estimator)
    est.fit(_take(X, train), _take(y, train), **params)
    out = getattr(est, method)(_take(X, test))
    final = est[-1] if hasattr(est, "steps") else est
    return out, final.target_classes_


def cross_val_predict(
    estimator,
    X,
    y,
    *,
    groups=None,
    cv=None,
    method="predict",
    n_jobs=None,
    params=None,
):
    """Out-of-fold predictions of every target, each row predicted by the
    model of the fold that held it out.

    Parameters
    ----------
    estimator : JointRegressorClassifier, RandomForestRegressorClassifier or a
        Pipeline ending in one
    X : array-like or DataFrame of shape (n_samples, n_features)
    y : array-like or DataFrame of shape (n_samples, n_targets) or (n_samples,)
    groups : array-like of shape (n_samples,), default=None
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn (None: 5-fold ``KFold``). Every row must be in
        exactly one test fold.
    method : {"predict", "predict_proba"}, default="predict"
    n_jobs : int, default=None
        Folds fitted in parallel (joblib).
    params : dict, default=None
        Passed to ``fit`` (e.g. ``{"sample_weight": w}``; per-row arrays are
        split with the folds).

    Returns
    -------
    predictions : DataFrame, ndarray or list of ndarray
        ``"predict"``: as the estimator's ``predict`` on all rows (a DataFrame
        with y's columns, dtypes and index when y was one). ``"predict_proba"``:
        one array of shape (n_samples, n_classes_j) per classification target
        (one array for a 1-D classification y), columns in the order of the
        classes of the whole y; a class absent from a fold's training rows
        gets probability 0 in that fold.
    """
    if method not in METHODS:
        raise ValueError(
            f"method must be one of {list(METHODS)}. Got {method!r} instead."
        )
    n = len(X)
    cv = check_cv(cv)
    splits = list(cv.split(X, y, groups))
    order = np.concatenate([test for _, test in splits])
    if len(order) != n or len(np.unique(order)) != n:
        raise ValueError(
            "cross_val_predict needs a cv whose test folds hold every row exactly "
            "once (a partition, e.g. KFold)."
        )
    params = dict(params or {})
    fold_params = [
        {
            k: _take(np.asarray(v), train) if _per_row(v, n) else v
            for k, v in params.items()
        }
        for train, _ in splits
    ]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_predict)(estimator, X, y, train, test, method, p)
        for (train, test), p in zip(splits, fold_params)
    )
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.arange(n)
    if method == "predict":
        parts = [out for out, _ in results]
        if isinstance(parts[0], pd.DataFrame):
            frame = pd.concat(parts, ignore_index=True).iloc[inverse]
            return frame.set_axis(_index(y, n), axis=0)
        return np.concatenate(parts)[inverse]
    return _probabilities(estimator, y, results, inverse)


def _per_row(value, n):
    return hasattr(value, "__len__") and not isinstance(value, str) and len(value) == n


def _index(y, n):
    return y.index if isinstance(y, (pd.DataFrame, pd.Series)) else pd.RangeIndex(n)


def _probabilities(estimator, y, results, inverse):
    """Fold probabilities placed in the class order of the whole y."""
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    encoder = TargetEncoder(final.get_params()["target_types"]).fit(y)
    targets = [
        (j, classes)
        for j, (t, classes) in enumerate(zip(encoder.types_, encoder.classes_))
        if t == CLASSIFICATION
    ]
    out = []
    for k, (j, classes) in enumerate(targets):
        index = pd.Index(classes)
        blocks = []
        for proba, fold_classes in results:
            p = proba if isinstance(proba, np.ndarray) else proba[k]
            block = np.zeros((len(p), len(classes)))
            block[:, index.get_indexer(fold_classes[j])] = p
            blocks.append(block)
        out.append(np.concatenate(blocks)[inverse])
    return out[0] if encoder.kind_ == "1d" else out
