"""Target encoding of categorical columns whose categories are too rare for an
embedding (``target_encoding="auto"``): which columns, which targets, what
fit's rows see, what predict gives unseen categories, and the model file."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import joint
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint.features import ENCODE_MAX_CLASSES, FIRST, FeaturePlan


def _names_table(n_names=150, repeats=3, seed=0):
    """Car-like rows: a model name seen ``repeats`` times decides the maker's
    region (3 classes); two numbers only hint at it; a price depends on
    both."""
    rng = np.random.RandomState(seed)
    region = rng.randint(0, 3, n_names)
    names = np.repeat([f"model {i}" for i in range(n_names)], repeats)
    row_region = np.repeat(region, repeats)
    n = len(names)
    weight = rng.normal(size=n) + 0.3 * row_region
    power = rng.normal(size=n)
    X = pd.DataFrame({"name": names, "weight": weight, "power": power})
    Y = pd.DataFrame(
        {
            "price": weight + power + 0.2 * rng.normal(size=n),
            "region": np.array(["america", "europe", "japan"])[row_region],
        }
    )
    return X, Y


def _plan(X, Y, n_classes, sample_weight=None, seed=0):
    plan = FeaturePlan(target_encoding="auto")
    return plan, plan.fit_transform(X, sample_weight, Y, n_classes, seed)


def test_rare_names_that_decide_a_class_lower_its_log_loss():
    X, Y = _names_table()
    tr, te = train_test_split(np.arange(len(X)), test_size=0.25, random_state=0)
    losses = {}
    for encoding in ("auto", None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = joint(random_state=0, target_encoding=encoding)
            est.fit(X.iloc[tr], Y.iloc[tr])
        proba = est.predict_proba(X.iloc[te])[0]
        losses[encoding] = log_loss(
            Y["region"].iloc[te], proba, labels=["america", "europe", "japan"]
        )
    # most test names were seen 2 or 3 times in fit; the embedding alone
    # cannot learn them from so few rows, their classes' shares can
    assert losses["auto"] < 0.7 * losses[None], losses


def test_only_columns_of_rare_categories_and_only_class_targets_are_encoded():
    X, Y = _names_table()
    X["id"] = [f"row {i}" for i in range(len(X))]  # never seen twice
    X["colour"] = np.array(["red", "green"])[np.arange(len(X)) % 2]
    Yc = np.column_stack([Y["price"].to_numpy(), pd.factorize(Y["region"])[0]]).astype(
        np.float32
    )
    plan, matrix = _plan(X, Yc, [0, 3])
    [encoding] = plan.encodings_
    assert (encoding["column"], encoding["target"]) == (0, 1)
    assert encoding["table"].shape == (3, FIRST + 150)
    # numbers, then the 3 classes' shares, then the 3 categorical codes
    assert plan.n_numeric_columns == 2 + 3 and matrix.shape[1] == 5 + 3
    shares = matrix[:, 2:5]
    assert np.all((shares >= 0) & (shares <= 1))
    # a target of too many classes gets no encoding
    many = np.column_stack([Yc[:, 0], np.arange(len(X)) % (ENCODE_MAX_CLASSES + 1)])
    assert _plan(X, many, [0, ENCODE_MAX_CLASSES + 1])[0].encodings_ == []


def test_a_rows_values_in_fit_ignore_its_own_label_and_whether_it_is_missing():
    X, Y = _names_table()
    Yc = pd.factorize(Y["region"])[0].astype(np.float64)[:, None]
    _, before = _plan(X, Yc, [3])
    changed = Yc.copy()
    changed[7, 0] = (changed[7, 0] + 1) % 3
    _, after = _plan(X, changed, [3])
    np.testing.assert_array_equal(after[7], before[7])
    changed[7, 0] = np.nan  # a missing label: the row still gets out-of-fold values
    _, after = _plan(X, changed, [3])
    np.testing.assert_array_equal(after[7], before[7])
    # the label still feeds the rows of the other folds (a test that can fail)
    assert not np.array_equal(after, before)


def test_rows_of_weight_zero_do_not_feed_the_encoding():
    X, Y = _names_table()
    Yc = pd.factorize(Y["region"])[0].astype(np.float64)[:, None]
    w = np.ones(len(X))
    w[::4] = 0.0
    plan, _ = _plan(X, Yc, [3], sample_weight=w)
    changed = Yc.copy()
    changed[::4, 0] = (changed[::4, 0] + 1) % 3
    again, _ = _plan(X, changed, [3], sample_weight=w)
    np.testing.assert_array_equal(
        plan.encodings_[0]["table"], again.encodings_[0]["table"]
    )


def test_unseen_and_once_seen_categories_at_predict():
    X, Y = _names_table()
    X = pd.concat(
        [X, pd.DataFrame({"name": ["only once"], "weight": [0.0], "power": [0.0]})]
    )
    Yc = np.append(pd.factorize(Y["region"])[0], 2).astype(np.float64)[:, None]
    plan, _ = _plan(X.reset_index(drop=True), Yc, [3])
    new = pd.DataFrame(
        {"name": ["never seen", "only once", None], "weight": 0.0, "power": 0.0}
    )
    shares = plan.transform(new)[:, 2:5]
    overall = np.bincount(Yc[:, 0].astype(int), minlength=3) / len(Yc)
    # an unseen category (and here a missing cell, unseen in fit) gets the
    # overall shares; one seen once in fit leans towards its class
    np.testing.assert_allclose(shares[0], overall, rtol=1e-6)
    np.testing.assert_allclose(shares[2], overall, rtol=1e-6)
    assert shares[1, 2] > overall[2]


def test_a_table_without_such_a_column_is_fitted_as_without_target_encoding():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b", "c"], 200)})
    Y = pd.DataFrame({"y": X["x"] + 0.1 * rng.normal(size=200), "k": X["c"]})
    preds = [
        joint(max_iter=10, random_state=0, target_encoding=e)
        .fit(X, Y)
        .predict_proba(X)[0]
        for e in ("auto", None)
    ]
    np.testing.assert_array_equal(preds[0], preds[1])


def test_saved_encodings_predict_the_same_and_forged_ones_are_refused(tmp_path):
    from sklearn_multihead._persist import ModelFileError, read_model, write_model

    X, Y = _names_table(n_names=60)
    est = joint(max_iter=5, random_state=0).fit(X, Y)
    path = tmp_path / "model.skmh"
    est.save(path)
    loaded = JointRegressorClassifier.load(path)
    new = pd.concat(
        [
            X.head(20),
            pd.DataFrame({"name": ["unseen"], "weight": [0.0], "power": [0.0]}),
        ]
    )
    np.testing.assert_array_equal(
        loaded.predict_proba(new)[0], est.predict_proba(new)[0]
    )

    def forged(change):
        doc, tensors = read_model(path)
        plan = dict(doc["feature_plan"]["__dict__"])
        # the document writes a dict as its [key, value] pairs; the table is
        # the tensor of the encoding's index
        change(_Pairs(plan["encodings"][0]["__dict__"]), tensors)
        doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
        out = tmp_path / "forged.skmh"
        write_model(out, doc, tensors)
        return out

    table = "plan.encoding.0"

    def set_table(value):
        return lambda e, t: t.__setitem__(table, value)

    good = est._features.encodings_[0]["table"]
    outside = good.copy()
    outside[0, 3] = 7.0
    cases = [
        (set_table(good[:, :-1].copy()), "does not match its vocabulary"),
        (set_table(good.astype(np.float32)), "does not match its vocabulary"),
        (set_table(outside), "outside \\[0, 1\\]"),
        (lambda e, t: t.pop(table), "target encodings are malformed"),
        (lambda e, t: e.set("column", 1), "names no categorical column"),
        (lambda e, t: e.set("target", 0), "does not match its target's classes"),
        (set_table(good[:2].copy()), "target's classes"),
    ]
    for change, match in cases:
        with pytest.raises(ModelFileError, match=match):
            JointRegressorClassifier.load(forged(change))


class _Pairs:
    """A document's ``[key, value]`` pairs, read and changed by key."""

    def __init__(self, pairs):
        self.pairs = pairs

    def __getitem__(self, key):
        return next(v for k, v in self.pairs if k == key)

    def set(self, key, value):
        next(p for p in self.pairs if p[0] == key)[1] = value


def test_summary_and_importances_work_on_the_raw_columns():
    from sklearn_multihead.inspection import target_importances

    X, Y = _names_table(n_names=60)
    est = joint(max_iter=5, random_state=0).fit(X, Y)
    text = est.summary()
    assert "(batch, 6)" in text  # 2 numbers, 3 shares of region, 1 code
    assert "X's column 'name' also as 3 target-encoded share(s) of 'region'" in text
    # importances are of X's 3 columns, per target, not of the network inputs
    imp = target_importances(est, X, Y, n_repeats=2, random_state=0)
    assert set(imp["feature"]) == {"name", "weight", "power"}


def test_forged_plan_states_of_target_encodings_are_refused():
    X, Y = _names_table(n_names=40)
    Yc = np.column_stack(
        [pd.factorize(Y["region"])[0], pd.factorize(Y["region"] == "japan")[0]]
    ).astype(np.float64)
    plan, matrix = _plan(X, Yc, [3, 2])
    state, arrays = plan.get_state(), plan.get_arrays()
    assert [e["column"] for e in state["encodings"]] == [0, 0]
    again = FeaturePlan.from_state(state, X.shape[1], arrays)
    np.testing.assert_array_equal(again.transform(X), plan.transform(X))
    bad = {**state, "target_encoding": "always"}
    with pytest.raises(ValueError, match="target_encoding is malformed"):
        FeaturePlan.from_state(bad, X.shape[1], arrays)
    # two encodings of one column must share its vocabulary (looked up once)
    second = {**state["encodings"][1]}
    second["vocabulary"] = second["vocabulary"][::-1]
    bad = {**state, "encodings": [state["encodings"][0], second]}
    with pytest.raises(ValueError, match="differ in vocabulary"):
        FeaturePlan.from_state(bad, X.shape[1], arrays)
