"""Scores of mixed-target predictions, target by target.

Inside:

- ``joint_score``: the mean over targets of R^2 (regression) and accuracy
  (classification), missing cells of ``y_true`` skipped per target; the score
  that both estimators' ``score`` returns.
- ``target_report`` / ``estimator_report``: one row per target with its type,
  known cells and metrics (MAE, RMSE, R^2; accuracy, balanced accuracy, macro
  F1, and log loss and expected calibration error when probabilities are
  given), as a DataFrame.
- ``expected_calibration_error``: how far predicted confidences are from
  the accuracy they come with.
- ``make_joint_scorer`` and ``make_target_scorers``: scorers for
  ``GridSearchCV(scoring=..., refit=...)`` and ``cross_validate(scoring=...)``:
  one mean over targets, or one scorer per target and metric.
"""

import numpy as np
import pandas as pd
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    log_loss,
    r2_score,
)
from sklearn.utils.metadata_routing import MetadataRequest

from sklearn_multihead._targets import REGRESSION, as_target_columns


def _known_pairs(y_true, y_pred, target_types, sample_weight, with_mask=False):
    """Yield (name, type, true, pred, weight[, mask]) over each target's known cells."""
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
        known = ~np.asarray(pd.isna(true), dtype=bool)
        true, pred = np.asarray(true)[known], np.asarray(pred)[known]
        w = None if sw is None else sw[known]
        if t == REGRESSION:
            true, pred = true.astype(np.float64), pred.astype(np.float64)
        yield (name, t, true, pred, w, known) if with_mask else (name, t, true, pred, w)


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
            scores.append(_r2(true, pred, w))
        else:
            scores.append(_accuracy(true, pred, w))
    if not scores:
        raise ValueError("y_true has no known cell in any target: nothing to score.")
    return float(np.mean(scores))


def _unit(true, pred):
    """The largest magnitude of two float arrays (1 when 0 or not finite):
    squares of values near 1e300 overflow; squares in this unit do not."""
    with np.errstate(all="ignore"):
        unit = float(max(np.max(np.abs(true)), np.max(np.abs(pred))))
    return unit if np.isfinite(unit) and unit > 0 else 1.0


def _r2(true, pred, w):
    """R^2, which does not change with the unit, in the unit of ``_unit``."""
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    unit = _unit(true, pred)
    return float(r2_score(true / unit, pred / unit, sample_weight=w))


REGRESSION_METRICS = ("mae", "rmse", "r2")
CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "log_loss",
    "ece",
)
#: metrics where lower is better (scorers negate them, as scikit-learn does)
LOWER_IS_BETTER = {"mae", "rmse", "log_loss", "ece"}


def expected_calibration_error(y_true, y_proba, *, n_bins=15, sample_weight=None):
    """The expected calibration error of class probabilities (top label).

    Rows are put in ``n_bins`` equal-width bins of their highest probability
    (the confidence of the predicted class); the error is the mean over bins,
    weighted by their share of the rows, of the gap between the bin's
    accuracy and its mean confidence (Naeini et al. 2015; Guo et al. 2017).
    0 is perfectly calibrated; a model that says 90% and is right 70% of the
    time in that bin adds 0.2 times the bin's share.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Class codes: the column index of each row's true class in ``y_proba``.
    y_proba : array-like of shape (n_samples, n_classes)
        Probabilities, each row summing to 1.
    n_bins : int, default=15
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    ece : float
    """
    proba = np.asarray(y_proba, dtype=np.float64)
    codes = np.asarray(y_true)
    if proba.ndim != 2 or len(proba) != len(codes):
        raise ValueError(
            "y_proba must have one row of class probabilities per y_true entry; "
            f"got shapes {proba.shape} and {codes.shape}."
        )
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be an int >= 1. Got {n_bins!r} instead.")
    w = np.ones(len(codes)) if sample_weight is None else np.asarray(sample_weight)
    if len(codes) == 0 or w.sum() <= 0:
        return np.nan
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == codes).astype(np.float64)
    bins = np.minimum((confidence * n_bins).astype(np.int64), int(n_bins) - 1)
    total = np.bincount(bins, weights=w, minlength=n_bins)
    gap = np.bincount(bins, weights=w * (correct - confidence), minlength=n_bins)
    return float(np.abs(gap).sum() / total.sum())


def _metric(name, true, pred, w, proba=None, classes=None):
    """One metric of one target on its known cells (NaN when undefined)."""
    if len(true) == 0:
        return np.nan
    if name == "mae":
        return float(np.average(np.abs(true - pred), weights=w))
    if name == "rmse":
        unit = _unit(true, pred)
        diff = (true - pred) / unit
        return float(np.sqrt(np.average(diff**2, weights=w)) * unit)
    if name == "r2":
        return _r2(true, pred, w) if len(true) > 1 else np.nan
    if name == "accuracy":
        return _accuracy(true, pred, w)
    labels = classes if classes is not None else np.unique(np.concatenate([true, pred]))
    index = pd.Index(labels)
    t, p = index.get_indexer(true), index.get_indexer(pred)
    if name == "balanced_accuracy":
        return float(balanced_accuracy_score(t, p, sample_weight=w))
    if name == "f1_macro":
        present = np.unique(t[t >= 0])
        return float(f1_score(t, p, labels=present, average="macro", sample_weight=w))
    if name == "ece":
        if proba is None or np.any(t < 0):
            return np.nan
        proba = np.asarray(proba, dtype=float).reshape(len(t), -1)
        if proba.shape[1] == 1:  # one class seen in fit
            proba = np.column_stack([proba, 1.0 - proba])
        return expected_calibration_error(t, proba, sample_weight=w)
    if name == "log_loss":
        if proba is None or np.any(t < 0):
            return np.nan
        if len(labels) < 2:  # one class: log_loss refuses it; its loss is -log p
            p = np.clip(
                np.asarray(proba, dtype=float).reshape(len(t), -1)[:, 0], 1e-15, 1
            )
            return float(np.average(-np.log(p), weights=w))
        return float(log_loss(t, proba, labels=np.arange(len(labels)), sample_weight=w))
    raise ValueError(f"Unknown metric {name!r}.")


def target_report(
    y_true, y_pred, target_types, *, y_proba=None, classes=None, sample_weight=None
):
    """Per-target metrics of mixed-target predictions.

    Parameters
    ----------
    y_true, y_pred : array-like or DataFrame of shape (n_samples, n_targets)
        Missing cells of ``y_true`` are skipped, target by target.
    target_types : list of {"regression", "classification"}
    y_proba : list of ndarray, default=None
        One probability array per classification target (as ``predict_proba``
        returns), to report the log loss and the expected calibration error
        (``ece``).
    classes : list, default=None
        Labels of each target (``classes_`` of the estimator), the column order
        of ``y_proba``; required with ``y_proba``.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    report : DataFrame
        One row per target: ``target``, ``type``, ``n_known`` and the metrics
        of its type (NaN for the other type's columns).
    """
    if y_proba is not None:
        if classes is None:
            raise ValueError("target_report needs classes with y_proba.")
        if not isinstance(y_proba, list):
            y_proba = [y_proba]
    rows, k = [], 0
    pairs = _known_pairs(y_true, y_pred, target_types, sample_weight, with_mask=True)
    for j, (name, t, true, pred, w, known) in enumerate(pairs):
        row = {"target": name, "type": t, "n_known": int(len(true))}
        if t == REGRESSION:
            for m in REGRESSION_METRICS:
                row[m] = _metric(m, true, pred, w)
        else:
            proba = cls = None
            if y_proba is not None:
                proba, cls = y_proba[k][known], np.asarray(classes[j])
            k += 1
            for m in CLASSIFICATION_METRICS:
                row[m] = _metric(m, true, pred, w, proba, cls)
        rows.append(row)
    columns = [
        "target",
        "type",
        "n_known",
        *REGRESSION_METRICS,
        *CLASSIFICATION_METRICS,
    ]
    return pd.DataFrame(rows, columns=columns)


def _final_estimator(estimator):
    """The estimator of this package at the end of a Pipeline or a fitted search."""
    seen = estimator
    for _ in range(32):
        if hasattr(seen, "target_types_"):
            return seen
        if hasattr(seen, "steps"):  # a Pipeline: its last step
            seen = seen.steps[-1][1]
        elif hasattr(seen, "best_estimator_"):  # a fitted search
            seen = seen.best_estimator_
        else:
            break
    raise TypeError(
        "Per-target reports need a fitted JointRegressorClassifier or "
        "RandomForestRegressorClassifier, or a Pipeline / search that ends in one. "
        f"Got {type(estimator).__name__} instead."
    )


def estimator_report(estimator, X, y, sample_weight=None):
    """``target_report`` of a fitted estimator of this package on (X, y).

    ``estimator`` may also be a Pipeline (or a fitted search) ending in one:
    X goes through the whole pipeline, and the target types and classes come
    from its last step.
    """
    final = _final_estimator(estimator)
    proba = None
    classes = getattr(final, "target_classes_", None)
    if hasattr(final, "predict_proba"):
        proba = estimator.predict_proba(X)
        if not isinstance(proba, list):  # a 1-D fit: one array, as classifiers
            proba = [proba]
    return target_report(
        y,
        estimator.predict(X),
        final.target_types_,
        y_proba=proba,
        classes=classes,
        sample_weight=sample_weight,
    )


class _WeightedScorer:
    """A scorer that asks scikit-learn's metadata routing for ``sample_weight``:
    with routing enabled, ``cross_validate(..., params={"sample_weight": w})``
    and ``GridSearchCV(...).fit(X, y, sample_weight=w)`` score with the
    weights of the scored rows (scikit-learn's own scorers need
    ``set_score_request(sample_weight=True)`` for that; these always ask)."""

    def get_metadata_routing(self):
        request = MetadataRequest(owner=type(self).__name__)
        request.score.add_request(param="sample_weight", alias=True)
        return request


class _JointScorer(_WeightedScorer):
    """Mean over targets of one regression and one classification metric."""

    def __init__(self, regression, classification):
        self.regression, self.classification = regression, classification

    def __call__(self, estimator, X, y, sample_weight=None):
        report = estimator_report(estimator, X, y, sample_weight)
        values = [
            _signed(
                r[self.regression if r["type"] == REGRESSION else self.classification],
                self.regression if r["type"] == REGRESSION else self.classification,
            )
            for _, r in report.iterrows()
            if r["n_known"] > 0
        ]
        return _finite(float(np.mean(values)), "joint score")

    def __repr__(self):
        return (
            f"make_joint_scorer(regression={self.regression!r}, "
            f"classification={self.classification!r})"
        )


class _TargetScorer(_WeightedScorer):
    """One metric of one target, named by the target's column name."""

    def __init__(self, target, metric):
        self.target, self.metric = target, metric

    def __call__(self, estimator, X, y, sample_weight=None):
        report = estimator_report(estimator, X, y, sample_weight).set_index("target")
        return _finite(
            _signed(report.loc[self.target, self.metric], self.metric),
            f"{self.metric} of target {self.target!r}",
        )

    def __repr__(self):
        return f"_TargetScorer({self.target!r}, {self.metric!r})"


def _signed(value, metric):
    return -value if metric in LOWER_IS_BETTER else value


def _finite(value, what):
    if not np.isfinite(value):
        raise ValueError(
            f"The {what} is {value}: the scored fold has too few known cells for "
            "it. Use more rows per fold or another metric."
        )
    return value


def make_joint_scorer(regression="r2", classification="accuracy"):
    """A scorer: the mean over targets of one metric per target type.

    Metrics where lower is better (``mae``, ``rmse``, ``log_loss``) are
    negated, so that greater is better, as scikit-learn's scorers do.

    Parameters
    ----------
    regression : {"r2", "mae", "rmse"}, default="r2"
    classification : {"accuracy", "balanced_accuracy", "f1_macro", "log_loss"}, \
            default="accuracy"

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y)``
    """
    if regression not in REGRESSION_METRICS:
        raise ValueError(
            f"regression must be one of {list(REGRESSION_METRICS)}. "
            f"Got {regression!r} instead."
        )
    if classification not in CLASSIFICATION_METRICS:
        raise ValueError(
            f"classification must be one of {list(CLASSIFICATION_METRICS)}. "
            f"Got {classification!r} instead."
        )
    return _JointScorer(regression, classification)


def make_target_scorers(y, target_types="auto", metrics=None):
    """One scorer per target and metric, for multi-metric model selection.

    Parameters
    ----------
    y : array-like or DataFrame of shape (n_samples, n_targets)
        The targets (only their names and types are used).
    target_types : "auto", list or dict, default="auto"
        As in the estimators.
    metrics : dict, default=None
        ``{"regression": [...], "classification": [...]}``; by default
        ``["mae", "r2"]`` and ``["accuracy", "f1_macro"]``.

    Returns
    -------
    scorers : dict
        ``{"<target>__<metric>": scorer}``, plus ``"joint"``: the mean score.
        Lower-is-better metrics are negated.
    """
    from sklearn_multihead._targets import as_target_columns, resolve_target_types

    metrics = {
        "regression": ["mae", "r2"],
        "classification": ["accuracy", "f1_macro"],
        **(metrics or {}),
    }
    columns, names, _ = as_target_columns(y)
    types, _ = resolve_target_types(columns, names, target_types)
    scorers = {"joint": make_joint_scorer()}
    for name, t in zip(names, types):
        allowed = REGRESSION_METRICS if t == REGRESSION else CLASSIFICATION_METRICS
        for m in metrics[t]:
            if m not in allowed:
                raise ValueError(
                    f"Metric {m!r} does not apply to {t} target {name!r}; use one "
                    f"of {list(allowed)}."
                )
            scorers[f"{name}__{m}"] = _TargetScorer(name, m)
    return scorers
