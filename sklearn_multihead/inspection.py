"""What drives each target: permutation importance per feature and target.

- ``target_importances``: for a fitted estimator of the package (or a
  ``Pipeline`` ending in one), how much each target's score drops when one
  feature's column is shuffled, as a tidy table (one row per feature and
  target). It runs scikit-learn's ``permutation_importance`` once with the
  package's per-target scorers (``metrics.make_target_scorers``), so every
  target is scored on the same shuffles.
"""

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from sklearn_multihead.metrics import make_target_scorers

__all__ = ["target_importances"]

#: the metric each target is scored by, by its type
DEFAULT_METRICS = {"regression": "r2", "classification": "accuracy"}


def _final(estimator):
    return estimator[-1] if hasattr(estimator, "steps") else estimator


def target_importances(
    estimator,
    X,
    y,
    *,
    metrics=None,
    n_repeats=5,
    random_state=None,
    n_jobs=None,
    sample_weight=None,
    max_samples=1.0,
):
    """Permutation importance of every feature, for every target.

    A feature's importance for a target is the drop of that target's score
    when the feature's column is shuffled (the mean and standard deviation
    over ``n_repeats`` shuffles); near 0, or below, the target does not use
    the feature. Scored on (X, y) as given: use held-out rows, since on the
    training rows a model that memorised noise shows it as importance.

    Parameters
    ----------
    estimator : fitted estimator
        A fitted ``JointRegressorClassifier``, ``RandomForestRegressorClassifier``
        or ``DummyRegressorClassifier``, or a ``Pipeline`` ending in one.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Rows to score on (held out of fit).
    y : array-like or DataFrame of shape (n_samples, n_targets)
        Their targets; missing cells are skipped, target by target.
    metrics : dict, default=None
        The metric of each target type, ``{"regression": "r2",
        "classification": "accuracy"}`` by default; any of the metrics of
        ``sklearn_multihead.metrics`` (``"mae"``, ``"rmse"``, ``"log_loss"``,
        ...; lower-is-better ones are negated, so a drop is still positive).
    n_repeats : int, default=5
        Shuffles per feature.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffles.
    n_jobs : int, default=None
        Features scored in parallel (joblib).
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights of the scores.
    max_samples : int or float, default=1.0
        Rows drawn for each repeat (as ``permutation_importance``).

    Returns
    -------
    importances : DataFrame
        One row per feature and target, in feature then target order, with
        the columns ``feature``, ``target``, ``metric``, ``importance_mean``
        and ``importance_std``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn_multihead import RandomForestRegressorClassifier
    >>> from sklearn_multihead.inspection import target_importances
    >>> rng = np.random.RandomState(0)
    >>> X = pd.DataFrame(rng.normal(size=(300, 2)), columns=["a", "b"])
    >>> Y = pd.DataFrame({"from_a": X["a"] * 3, "from_b": X["b"] > 0})
    >>> model = RandomForestRegressorClassifier(random_state=0).fit(X, Y)
    >>> table = target_importances(model, X, Y, random_state=0)
    >>> table.sort_values("importance_mean").groupby("target").tail(1)[
    ...     ["target", "feature"]].to_numpy().tolist()
    [['from_b', 'b'], ['from_a', 'a']]
    """
    final = _final(estimator)
    if not hasattr(final, "target_types_"):
        raise ValueError(
            "target_importances needs a fitted estimator of sklearn-multihead "
            f"(or a Pipeline ending in one); got {type(final).__name__}. Fit it "
            "first."
        )
    chosen = {**DEFAULT_METRICS, **(metrics or {})}
    unknown = set(chosen) - set(DEFAULT_METRICS)
    if unknown:
        raise ValueError(
            f"metrics takes the keys 'regression' and 'classification'; got "
            f"{sorted(unknown)}."
        )
    scorers = make_target_scorers(
        y,
        target_types=list(final.target_types_),
        metrics={kind: [metric] for kind, metric in chosen.items()},
    )
    scorers.pop("joint")
    result = permutation_importance(
        estimator,
        X,
        y,
        scoring=scorers,
        n_repeats=n_repeats,
        random_state=random_state,
        n_jobs=n_jobs,
        sample_weight=sample_weight,
        max_samples=max_samples,
    )
    if hasattr(X, "columns"):
        features = [str(c) for c in X.columns]
    else:
        features = [f"x{i}" for i in range(np.shape(X)[1])]
    rows = []
    for j, feature in enumerate(features):
        for key, bunch in result.items():
            target, metric = key.rsplit("__", 1)
            rows.append(
                {
                    "feature": feature,
                    "target": target,
                    "metric": metric,
                    "importance_mean": float(bunch.importances_mean[j]),
                    "importance_std": float(bunch.importances_std[j]),
                }
            )
    return pd.DataFrame(rows)
