"""Raw tables in: the feature plan (``_features``), the input layer
(``_inputs``) and the joint network on DataFrames as users have them."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import joint
from sklearn.exceptions import ConvergenceWarning

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint import features as _xcheck
from sklearn_multihead._joint.features import (
    MAX_CATEGORIES,
    FeaturePlan,
    resolve_categorical,
    robust_scaling,
)
from sklearn_multihead._joint.module import FeatureInput


def _table(n=400, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "cat": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
            "text": rng.choice(["a", "b"], n).astype(object),
            "flag": rng.rand(n) > 0.5,
            "count": pd.array(rng.randint(0, 5, n), dtype="Int64"),
            "id": [f"row{i}" for i in range(n)],
        }
    )
    X.loc[X.index[::9], "num"] = np.nan
    X.loc[X.index[::11], "count"] = pd.NA
    X.loc[X.index[::13], "text"] = None
    effect = X["cat"].map({"red": 2.0, "green": 0.0, "blue": -2.0}).astype(float)
    Y = pd.DataFrame(
        {
            "value": effect + X["num"].fillna(0.0) + 0.1 * rng.normal(size=n),
            "colour": X["cat"].astype(str),
        }
    )
    return X, Y


@pytest.fixture(scope="module")
def fitted():
    X, Y = _table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = joint(max_iter=60, random_state=0).fit(X, Y)
    return est, X, Y


# -- the plan ---------------------------------------------------------------------
def test_from_dtype_takes_category_string_object_and_bool_columns():
    X, _ = _table(20)
    mask = resolve_categorical(X, "from_dtype")
    assert X.columns[mask].tolist() == ["cat", "text", "flag", "id"]


@pytest.mark.parametrize(
    "spec", [["cat", "text"], [1, 2], [False, True, True, False, False, False]]
)
def test_categorical_features_by_name_index_or_mask(spec):
    X, _ = _table(20)
    assert resolve_categorical(X, spec).nonzero()[0].tolist() == [1, 2]


@pytest.mark.parametrize(
    "spec, match",
    [
        (["nope"], "names the column 'nope', but X has no such column"),
        ([9], "holds the index 9, but X has 6 columns"),
        ([True, False], "boolean mask of 2 entries, but X has 6 columns"),
        ("all", "must be 'from_dtype', None, or a list"),
    ],
)
def test_categorical_features_errors_say_what_is_wrong(spec, match):
    X, _ = _table(20)
    with pytest.raises(ValueError, match=match):
        resolve_categorical(X, spec)


def test_codes_keep_unknown_rare_and_missing_apart():
    X = pd.DataFrame({"c": ["a", "a", "b", "b", "b", "rare", None]})
    plan = FeaturePlan().fit(X)
    assert plan.vocabularies_[0].tolist() == ["b", "a"]  # most frequent first
    new = pd.DataFrame({"c": ["a", "b", "rare", "unseen", None]})
    assert plan.transform(new)[:, 0].tolist() == [3, 2, 0, 0, 1]


def test_rare_categories_count_rows_whatever_the_scale_of_the_weights():
    X = pd.DataFrame({"c": ["a", "a", "b"]})
    for scale in (0.1, 1.0, 100.0):
        plan = FeaturePlan().fit(X, sample_weight=np.full(3, scale))
        assert plan.vocabularies_[0].tolist() == ["a"], scale


def test_an_id_column_costs_one_code_and_many_categories_are_capped():
    n = 3 * MAX_CATEGORIES
    ids = pd.DataFrame({"id": [f"x{i}" for i in range(n)]})
    assert FeaturePlan().fit(ids).cardinalities_ == [2]
    many = pd.DataFrame({"c": [f"x{i % (2 * MAX_CATEGORIES)}" for i in range(2 * n)]})
    assert FeaturePlan().fit(many).cardinalities_ == [2 + MAX_CATEGORIES]


def test_robust_scaling_ignores_outliers_and_handles_constant_columns():
    rng = np.random.RandomState(0)
    col = rng.normal(size=1000)
    col[:5] = 1e6
    center, scale = robust_scaling(np.c_[col, np.ones(1000), np.full(1000, np.nan)])
    assert abs(center[0]) < 0.1 and 0.8 < scale[0] < 1.2
    assert scale[1] == 1.0 and (center[2], scale[2]) == (0.0, 1.0)


def test_large_tables_take_medians_from_a_sample_and_missing_cells_from_all_rows(
    monkeypatch,
):
    """Above ``STATISTICS_ROWS`` rows the quantiles come from a fixed sample
    (close to every row's), yet a missing cell in any row gives its column a
    missing indicator, and two fits of the same table agree."""
    monkeypatch.setattr(_xcheck, "STATISTICS_ROWS", 1_000)
    rng = np.random.RandomState(0)
    X = rng.lognormal(size=(20_000, 3))
    rows = _xcheck.statistics_rows(len(X))
    sampled = set(rows.tolist())
    assert len(sampled) == 1_000
    outside = sorted(set(range(len(X))) - sampled)[:2]
    X[outside, 1] = np.nan  # missing only in rows the sample does not hold
    center, scale, missing = _xcheck.numeric_statistics(X, 3, rows=rows)
    full_center, full_scale = robust_scaling(X)
    assert (np.abs(center - full_center) < 0.1 * full_scale).all()
    np.testing.assert_allclose(scale, full_scale, rtol=0.15)
    assert missing == [1]
    weights = np.ones(len(X))
    weights[:15_000] = 0.0  # rows that do not count are never sampled
    assert (weights[_xcheck.statistics_rows(len(X), weights)] > 0).all()
    weights[:19_500] = 0.0  # fewer rows of weight than the sample: all of them
    assert _xcheck.statistics_rows(len(X), weights).tolist() == list(
        range(19_500, 20_000)
    )
    Y = pd.DataFrame({"y": np.nan_to_num(X[:, 0]) + rng.normal(size=len(X))})
    params = dict(n_models=1, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b = (joint(**params).fit(X, Y) for _ in range(2))
    np.testing.assert_array_equal(a.predict(X[:50]), b.predict(X[:50]))


def test_plan_state_round_trip_and_forged_states_are_refused():
    X, _ = _table(50)
    plan = FeaturePlan().fit(X)
    again = FeaturePlan.from_state(plan.get_state(), X.shape[1])
    np.testing.assert_array_equal(again.transform(X), plan.transform(X))
    state = plan.get_state()
    with pytest.raises(ValueError, match="does not cover the features"):
        FeaturePlan.from_state(state, X.shape[1] + 1)
    state["vocabularies"][0] = [["nested"]]
    with pytest.raises(ValueError, match="plain values"):
        FeaturePlan.from_state(state, X.shape[1])
    state["vocabularies"][0] = ["a", "a"]
    with pytest.raises(ValueError, match="repeats a category"):
        FeaturePlan.from_state(state, X.shape[1])
    state["vocabularies"] = state["vocabularies"][:1]
    with pytest.raises(ValueError, match="vocabularies are malformed"):
        FeaturePlan.from_state(state, X.shape[1])


def test_input_layer_clips_outliers_softly_and_marks_missing_cells():
    layer = FeatureInput(n_numeric=2, missing_columns=[1])
    layer.set_numeric_scaling([0.0, 0.0], [1.0, 1.0])
    out = layer(torch.tensor([[1e6, float("nan")], [1.0, 2.0]]))
    assert out.shape == (2, 3)
    assert 2.99 < out[0, 0] <= 3.0  # 1e6 spreads reach the trunk as 3
    assert out[0, 1] == 0.0 and out[0, 2] == 1.0 and out[1, 2] == 0.0
    layer.set_numeric_scaling([0.0, 0.0], [1e-3, 1.0])  # overflows float32 first
    edge = layer(torch.tensor([[3e38, 0.0], [-3e38, 0.0]]))
    assert torch.allclose(edge[:, 0], torch.tensor([3.0, -3.0]), atol=1e-3)


# -- the estimator on raw tables -------------------------------------------------
def test_raw_dataframe_with_every_feature_kind_learns(fitted):
    est, X, Y = fitted
    assert est.n_features_in_ == 6
    assert est.feature_names_in_.tolist() == X.columns.tolist()
    assert est.score(X, Y) > 0.9
    assert est._features.cardinalities_[-1] == 2  # the ID column: unknown/missing


def test_unseen_categories_and_missing_values_in_predict(fitted):
    est, X, _ = fitted
    new = X.iloc[:4].copy()
    new["cat"] = pd.Categorical(["purple", None, "red", "green"])
    new["text"] = ["zzz", None, "a", "b"]
    new.loc[new.index[0], "num"] = np.nan
    pred = est.predict(new)
    assert pred.shape == (4, 2) and np.isfinite(pred["value"]).all()
    assert set(pred["colour"]) <= {"red", "green", "blue"}


def test_columns_may_arrive_as_strings_where_fit_saw_categories(fitted):
    est, X, _ = fitted
    as_text = X.assign(cat=X["cat"].astype(str))
    pd.testing.assert_frame_equal(est.predict(as_text), est.predict(X))


def test_text_in_a_numeric_column_and_dates_are_named():
    X, Y = _table(40)
    est = joint(max_iter=2, categorical_features=["cat"])
    with pytest.raises(ValueError, match="column 'text' is treated as numeric"):
        est.fit(X, Y)
    dated = X.assign(when=pd.Timestamp("2024-01-01"))
    with pytest.raises(ValueError, match="column 'when' holds dates"):
        joint(max_iter=2).fit(dated, Y)
    for value in (np.inf, 1e39):
        with pytest.raises(ValueError, match="infinity or a value too large for "):
            joint(max_iter=2).fit(X.assign(num=value), Y)


def test_categorical_indices_on_a_numeric_array():
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 4, 300)
    X = np.c_[rng.normal(size=300), codes * 1000.0]
    y = np.array([3.0, -1.0, 0.5, 2.0])[codes] + X[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = joint(categorical_features=[1], max_iter=80, random_state=0).fit(X, y)
    assert est.score(X, y) > 0.9
    with pytest.raises(ValueError, match="needs a dense X"):
        joint(categorical_features=[1]).fit(sp.csr_matrix(X), y)


def test_outliers_in_a_few_rows_barely_move_the_other_rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 4))
    y = X[:, 0] + np.sin(X[:, 1])
    bad = X.copy()
    bad[:5, 2] = 1e4  # data-entry errors in a feature that does not matter
    kw = dict(max_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clean = joint(**kw).fit(X, y).predict(X[5:])
        dirty = joint(**kw).fit(bad, y).predict(X[5:])
    assert np.abs(clean - dirty).mean() < 0.1 * y.std()


def test_save_and_load_keep_the_feature_plan(fitted, tmp_path):
    est, X, _ = fitted
    path = est.save(tmp_path / "model.safetensors")
    loaded = JointRegressorClassifier.load(path)
    pd.testing.assert_frame_equal(loaded.predict(X), est.predict(X))
    assert loaded._features.get_state() == est._features.get_state()


@pytest.mark.parametrize("target_encoding", ["auto", None])
def test_numpy_scalars_in_an_object_column_save_and_load(target_encoding, tmp_path):
    # a column built from numpy values holds np.int64 / np.bool_ objects: the
    # saved file must give them back (it once saved a file load refused)
    rng = np.random.RandomState(0)
    values = [v if v % 2 else f"s{v}" for v in rng.randint(0, 60, 240)]
    values[:4] = [np.bool_(True)] * 4
    X = pd.DataFrame(
        {"mixed": pd.Series(values, dtype=object), "x": rng.normal(size=240)}
    )
    Y = pd.DataFrame({"k": rng.choice(["a", "b"], 240), "v": rng.normal(size=240)})
    est = joint(max_iter=3, random_state=0, target_encoding=target_encoding).fit(X, Y)
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "model.safetensors"))
    pd.testing.assert_frame_equal(loaded.predict(X), est.predict(X))
    # the numpy values still find their categories: most rows get a code
    codes = est._features.transform(X)[:, -1]
    assert (codes >= 2).mean() > 0.9


@pytest.mark.parametrize(
    "params",
    [
        {"n_ensemble": 4},
        {"numeric_embedding": "periodic"},
        {"numeric_transform": "none"},
    ],
)
def test_network_options_learn_and_round_trip(params, tmp_path):
    X, Y = _table(300, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = joint(max_iter=60, random_state=0, **params)
        est.fit(X, Y)
    assert est.score(X, Y) > 0.8
    proba = est.predict_proba(X)[0]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "m.safetensors"))
    np.testing.assert_allclose(loaded.predict_proba(X)[0], proba, rtol=1e-5)


def test_ensemble_needs_fused_heads():
    X, Y = _table(50)
    est = joint(n_ensemble=2, head_hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="needs heads without hidden layers"):
        est.fit(X, Y)
    est = joint(n_ensemble=2, hidden_layer_sizes=())
    with pytest.raises(ValueError, match="needs at least one hidden layer"):
        est.fit(X, Y)


def test_labels_that_changed_type_at_predict_warn_naming_the_column():
    """Ints at fit and strings at predict, or another case: every label is
    unknown, and the model says so, naming the column; fit's own rare
    categories do not warn."""
    rng = np.random.RandomState(0)
    n = 300
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "shop": pd.Series(rng.choice(["north", "south", "east"], n), dtype=object),
        }
    )
    y = (X["shop"] == "north").astype(float) + X["x"]
    est = joint(max_iter=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict(X)  # the fitted labels: no warning
    shouted = X.assign(shop=X["shop"].str.upper())
    with pytest.warns(UserWarning, match=r"100% of the categories in column 'shop'"):
        est.predict(shouted)
    few = shouted.iloc[:5]  # too few cells to judge
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict(few)
