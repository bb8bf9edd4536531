"""target_importances: which feature drives which target."""

import numpy as np
import pandas as pd
import pytest
from conftest import joint

from sklearn_multihead import RandomForestRegressorClassifier
from sklearn_multihead.inspection import target_importances


@pytest.fixture(scope="module")
def two_causes():
    """Target ``a`` depends on feature ``f0`` only, ``b`` on ``f1`` only;
    ``f2`` is noise."""
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(600, 3)), columns=["f0", "f1", "f2"])
    Y = pd.DataFrame({"a": 2.0 * X["f0"], "b": np.where(X["f1"] > 0, "up", "down")})
    return X.iloc[:400], Y.iloc[:400], X.iloc[400:], Y.iloc[400:]


@pytest.mark.parametrize(
    "make",
    [
        lambda: joint(max_iter=40, random_state=0),
        lambda: RandomForestRegressorClassifier(n_estimators=30, random_state=0),
    ],
    ids=["joint", "forest"],
)
def test_each_target_is_driven_by_its_own_feature(two_causes, make):
    X_train, Y_train, X_test, Y_test = two_causes
    model = make().fit(X_train, Y_train)
    table = target_importances(model, X_test, Y_test, n_repeats=3, random_state=0)
    assert list(table.columns) == [
        "feature",
        "target",
        "metric",
        "importance_mean",
        "importance_std",
    ]
    assert len(table) == 3 * 2
    top = table.loc[table.groupby("target")["importance_mean"].idxmax()]
    assert dict(zip(top["target"], top["feature"])) == {"a": "f0", "b": "f1"}
    assert set(table["metric"]) == {"r2", "accuracy"}
    noise = table[table["feature"] == "f2"]["importance_mean"]
    assert (noise.abs() < 0.05).all()


def test_lower_is_better_metrics_still_rise_with_importance(two_causes):
    X_train, Y_train, X_test, Y_test = two_causes
    model = RandomForestRegressorClassifier(n_estimators=20, random_state=0)
    model.fit(X_train, Y_train)
    table = target_importances(
        model,
        X_test,
        Y_test,
        metrics={"regression": "mae", "classification": "log_loss"},
        n_repeats=2,
        random_state=0,
    )
    by = table.set_index(["target", "feature"])["importance_mean"]
    assert by["a", "f0"] > 0.5 and by["b", "f1"] > 0.1


def test_target_importances_errors_say_what_to_do(two_causes):
    X_train, Y_train, X_test, Y_test = two_causes
    with pytest.raises(ValueError, match="needs a fitted estimator of sklearn-mult"):
        target_importances(RandomForestRegressorClassifier(), X_test, Y_test)
    model = RandomForestRegressorClassifier(n_estimators=5).fit(X_train, Y_train)
    with pytest.raises(ValueError, match="keys 'regression' and 'classification'"):
        target_importances(model, X_test, Y_test, metrics={"numbers": "mae"})


def test_features_of_an_array_are_named_by_position(two_causes):
    X_train, Y_train, X_test, Y_test = two_causes
    model = RandomForestRegressorClassifier(n_estimators=10, random_state=0)
    model.fit(X_train.to_numpy(), Y_train)
    table = target_importances(model, X_test.to_numpy(), Y_test, n_repeats=2)
    assert table["feature"].unique().tolist() == ["x0", "x1", "x2"]
