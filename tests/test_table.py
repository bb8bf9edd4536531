"""The command's table layer: separators, the feature plan, dates, targets."""

import numpy as np
import pandas as pd
import pytest

from sklearn_multihead.cli.tables import (
    MAX_LEVELS,
    UsageError,
    audit_line,
    check_targets,
    dates_as_days,
    detect_separator,
    make_preprocessor,
    parse_targets,
    plan_features,
    prepare_features,
)


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_separator_is_detected(tmp_path, sep):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.5, 2.5] * 50, "b": ["x", "y"] * 50}).to_csv(
        path, sep=sep, index=False
    )
    assert detect_separator(path) == sep


def test_plan_sets_aside_what_cannot_be_learnt_and_says_why():
    n = 200
    X = pd.DataFrame(
        {
            "num": np.arange(n, dtype=float),
            "flag": [True, False] * (n // 2),
            "id": [f"u{i}" for i in range(n)],
            "same": "k",
            "nothing": [None] * n,
            "cat": ["a", "b", None, "c"] * (n // 4),
            "iso": pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
            "us": pd.date_range("2020-01-01", periods=n).strftime("%m/%d/%Y"),
        }
    )
    plan = plan_features(X)
    assert plan["numeric"] == ["num", "flag"]
    assert plan["categorical"] == ["cat"]
    assert plan["dates"] == {"iso": "ISO8601", "us": "infer"}
    assert plan["dropped"] == {
        "id": "ID-like: 200 distinct values in 200 rows",
        "same": "constant",
        "nothing": "all missing",
    }
    prepared = prepare_features(X, plan)
    assert list(prepared.columns) == ["num", "flag", "cat", "iso", "us"]
    np.testing.assert_allclose(prepared["iso"], prepared["us"])
    assert prepared["iso"].iloc[0] == (
        pd.Timestamp("2020-01-01") - pd.Timestamp("1970-01-01")
    ) / pd.Timedelta(days=1)


def test_words_with_dashes_are_not_dates():
    X = pd.DataFrame({"code": ["a-1", "b-2", "c-3", "x-9"] * 30, "v": range(120)})
    assert plan_features(X)["categorical"] == ["code"]


def test_bad_dates_become_missing_numbers():
    days = dates_as_days(pd.Series(["2020-01-02", "not a date", None]), "ISO8601")
    assert days.iloc[0] == pytest.approx(18263.0) and days.iloc[1:].isna().all()


def test_many_levels_are_capped_so_memory_stays_bounded():
    rng = np.random.RandomState(0)
    X = pd.DataFrame(
        {"city": [f"c{i}" for i in rng.randint(0, 2000, 5000)], "x": rng.rand(5000)}
    )
    plan = plan_features(X)
    assert plan["categorical"] == ["city"]
    out = make_preprocessor(plan).fit_transform(prepare_features(X, plan))
    assert out.shape == (5000, 1 + MAX_LEVELS)
    new = pd.DataFrame({"city": ["never seen", None], "x": [0.5, 0.5]})
    assert np.isfinite(make_preprocessor(plan).fit(X).transform(new)).all()


def test_target_specs():
    columns = ["a", "b:c", "d"]
    assert parse_targets(["a", "b:c", "d:regression"], columns) == [
        ("a", None),
        ("b:c", None),
        ("d", "regression"),
    ]
    with pytest.raises(UsageError, match="Unknown target type 'reg' in 'a:reg'"):
        parse_targets(["a:reg"], columns)


def test_targets_are_typed_and_checked():
    Y = pd.DataFrame({"n": [1.0, 2.5, np.nan], "c": ["x", "y", "x"], "i": [1, 2, 3]})
    assert check_targets(Y, {"i": "regression"}) == {
        "n": "regression",
        "c": "classification",
        "i": "regression",
    }
    with pytest.raises(UsageError, match="holds an infinite value"):
        check_targets(pd.DataFrame({"n": [1.0, np.inf]}), {})


def test_integer_row_ids_are_set_aside_and_named():
    """An R ``rownames`` column, or any integer column with a distinct value
    on every row in order, would leak how the table was sorted."""
    rng = np.random.RandomState(0)
    n = 100
    X = pd.DataFrame(
        {
            "rownames": rng.permutation(n) + 1,  # named as an index
            "serial": np.arange(n) * 3 + 7,  # in order
            "year": np.repeat(np.arange(2000, 2010), 10),  # repeats: a feature
            "code": rng.permutation(n),  # distinct, unordered, no index name
            "x": rng.normal(size=n),
        }
    )
    plan = plan_features(X)
    assert plan["numeric"] == ["year", "code", "x"]
    assert plan["dropped"]["rownames"].startswith("ID-like: an index name")
    assert plan["dropped"]["serial"] == "ID-like: 100 distinct integers in order"
    line = audit_line(X, pd.DataFrame({"y": X["x"]}), plan, {"y": "regression"})
    assert "3 numeric (year, code, x)" in line
    assert "set aside: rownames (ID-like" in line and "serial (ID-like" in line


@pytest.mark.parametrize(
    "cells, kind",
    [
        (["12:30", "07:05", "23:59:30"], "time"),
        (["16:9", "4:3", "21:9"], "text"),  # ratios
        (["3/4", "1/2", "2/3"], "text"),  # fractions
        (["2024-03-01", "2023-12-25", "2020-02-29"], "date"),
        (["03/01/2024", "12/25/2023", "02/29/2020"], "date"),
    ],
)
def test_only_full_dates_are_dates_and_times_of_day_are_minutes(cells, kind):
    X = pd.DataFrame({"c": cells * 20, "x": np.arange(60.0) % 7})
    plan = plan_features(X)
    if kind == "text":
        assert plan["categorical"] == ["c"] and not plan["dates"]
        return
    assert list(plan["dates"]) == ["c"]
    values = prepare_features(X, plan)["c"].to_numpy()
    if kind == "time":  # the same number every day
        assert values[:3].tolist() == [750.0, 425.0, 23 * 60 + 59.5]
        assert "1 times of day as minutes (c)" in audit_line(
            X, pd.DataFrame({"y": X["x"]}), plan, {"y": "regression"}
        )
    else:
        assert np.isfinite(values).all() and (values > 18_000).all()  # days
