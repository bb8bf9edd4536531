"""polars DataFrames as X and Y: names survive into predictions, target type
dicts and scorer keys; polars' dtypes are read as pandas' would be."""

import numpy as np
import pandas as pd
import pytest
from conftest import joint
from sklearn.model_selection import cross_validate

from sklearn_multihead import RandomForestRegressorClassifier
from sklearn_multihead._targets import as_target_columns
from sklearn_multihead.metrics import make_target_scorers

pl = pytest.importorskip("polars")


def _data(n=160, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    Y = pl.DataFrame(
        {
            "size": X[:, 0] * 2 + 0.1 * rng.randn(n),
            "grade": np.where(X[:, 1] > 0, "high", "low"),
        }
    )
    Xp = pl.DataFrame({f"x{i}": X[:, i] for i in range(3)})
    return Xp, Y


def test_polars_dtypes_are_read_like_pandas():
    Y = pl.DataFrame(
        {
            "count": [1, None, 3],
            "word": ["a", None, "b"],
            "level": pl.Series(["u", "v", "u"], dtype=pl.Categorical),
            "flag": [True, None, False],
            "amount": [1.5, None, 2.0],
        }
    )
    columns, names, kind = as_target_columns(Y)
    assert names == ["count", "word", "level", "flag", "amount"]
    assert kind == "frame"
    dtypes = [c.dtype for c in columns]
    assert dtypes[0] == "Int64"  # not float: a missing cell keeps it an integer
    assert dtypes[3] == "boolean"
    assert isinstance(dtypes[2], pd.CategoricalDtype)
    assert dtypes[4] == np.float64
    assert pd.isna(columns[1][1]) and pd.isna(columns[4][1])


@pytest.mark.parametrize(
    "make",
    [
        lambda: joint(
            n_models=1, max_iter=30, random_state=0, target_types={"grade": "auto"}
        ),
        lambda: RandomForestRegressorClassifier(n_estimators=10, random_state=0),
    ],
    ids=["joint", "forest"],
)
def test_polars_y_keeps_its_names(make):
    X, Y = _data()
    model = make().fit(X, Y)
    pred = model.predict(X[:5])
    assert isinstance(pred, pd.DataFrame)
    assert list(pred.columns) == ["size", "grade"]
    assert set(pred["grade"]) <= {"high", "low"}
    assert pred["size"].dtype == np.float64
    assert list(model.feature_names_in_) == ["x0", "x1", "x2"]
    assert model.score(X, Y) > 0.5


def test_polars_y_names_the_scorer_keys():
    X, Y = _data()
    model = RandomForestRegressorClassifier(n_estimators=10, random_state=0)
    scores = cross_validate(model, X, Y, cv=2, scoring=make_target_scorers(Y))
    assert {"test_size__r2", "test_size__mae", "test_grade__accuracy"} <= set(scores)
    assert not any(k.startswith(("test_0_", "test_1_")) for k in scores)


def test_polars_series_y_is_one_target():
    X, Y = _data()
    model = joint(n_models=1, max_iter=20, random_state=0)
    model.fit(X, Y["grade"])
    pred = model.predict(X[:4])
    assert pred.shape == (4,)
    assert set(pred) <= {"high", "low"}
