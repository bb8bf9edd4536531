"""Numeric columns of many exact values also as categories
(``discrete_numeric="auto"``): which columns, what their codes are, that a
class decided by exact values is learned, numpy and DataFrame X alike, and
the model file."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import joint
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint.features import (
    FIRST,
    LEVELS_MAX_VALUES,
    LEVELS_MIN_VALUES,
    LEVELS_ROWS_PER_VALUE,
    MISSING,
    UNKNOWN,
    FeaturePlan,
)


def _sizes_table(n_values=100, repeats=90, seed=0):
    """Computer-like rows: a disk size (one of ``n_values`` exact sizes)
    whose maker is "premium" for a random half of the sizes, not in order
    of size; a price that grows with the size."""
    rng = np.random.RandomState(seed)
    sizes = np.sort(rng.choice(np.arange(40, 2000, 10), n_values, replace=False))
    premium_sizes = rng.rand(n_values) < 0.5
    pick = rng.randint(0, n_values, n_values * repeats)
    n = len(pick)
    X = pd.DataFrame({"hd": sizes[pick], "speed": rng.normal(size=n)})
    flip = rng.rand(n) < 0.05
    Y = pd.DataFrame(
        {
            "price": np.log(sizes[pick]) + X["speed"] + 0.1 * rng.normal(size=n),
            "premium": np.where(premium_sizes[pick] ^ flip, "yes", "no"),
        }
    )
    return X, Y


def test_a_class_decided_by_exact_values_is_learned():
    X, Y = _sizes_table()
    tr, te = train_test_split(np.arange(len(X)), test_size=0.25, random_state=0)
    losses = {}
    for discrete in ("auto", None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = joint(random_state=0, discrete_numeric=discrete)
            est.fit(X.iloc[tr], Y.iloc[tr])
        proba = est.predict_proba(X.iloc[te])[0]
        losses[discrete] = log_loss(Y["premium"].iloc[te], proba, labels=["no", "yes"])
    # 100 sizes, 48 quantile bins merge neighbours: the embedding of each
    # exact size learns its maker, the numeric embedding alone cannot. Over
    # the floor that the 5% of flipped labels set, the loss is under half
    floor = -(0.05 * np.log(0.05) + 0.95 * np.log(0.95))
    assert losses["auto"] - floor < 0.5 * (losses[None] - floor), losses


def test_only_numeric_columns_of_many_repeated_values_qualify():
    rng = np.random.RandomState(0)
    n = 64 * LEVELS_ROWS_PER_VALUE
    X = pd.DataFrame(
        {
            "sizes": rng.randint(0, 64, n).astype(float),  # qualifies
            "few": rng.randint(0, LEVELS_MIN_VALUES - 1, n),  # the bins resolve it
            "many": rng.randint(0, LEVELS_MAX_VALUES + 1, n) * 1.5,  # too many
            "continuous": rng.normal(size=n),
            "text": rng.choice(["a", "b"], n),
            "flag": rng.rand(n) < 0.5,
        }
    )
    plan = FeaturePlan(discrete_numeric="auto").fit(X)
    assert [X.columns[j] for j in plan.levels_] == ["sizes"]
    assert plan.cardinalities_ == [FIRST + 2, FIRST + 2, FIRST + 64]
    # too few rows per value: the same column in a table a quarter the size
    small = X.iloc[: n // 4]
    assert FeaturePlan(discrete_numeric="auto").fit(small).levels_ == []
    assert FeaturePlan().fit(X).levels_ == []  # off by default in the plan


def test_codes_of_values_seen_unseen_and_missing():
    rng = np.random.RandomState(0)
    n = 50 * LEVELS_ROWS_PER_VALUE
    X = pd.DataFrame({"hd": rng.randint(0, 50, n) * 10, "x": rng.normal(size=n)})
    plan = FeaturePlan(discrete_numeric="auto")
    plan.fit(X)
    vocab = plan.level_vocabularies_[0]
    new = pd.DataFrame({"hd": [vocab[0], vocab[3], 5.0, np.nan], "x": 0.0})
    matrix = plan.transform(new)
    assert matrix.shape == (4, 3)  # hd and x as numbers, hd's code
    np.testing.assert_array_equal(matrix[:, 0], [vocab[0], vocab[3], 5.0, np.nan])
    np.testing.assert_array_equal(matrix[:, 2], [FIRST, FIRST + 3, UNKNOWN, MISSING])


def test_numpy_and_dataframe_x_give_the_same_model():
    X, Y = _sizes_table(n_values=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = joint(random_state=0, max_iter=3).fit(X, Y)
        b = joint(random_state=0, max_iter=3).fit(X.to_numpy(), Y)
    assert a._features.levels_ == b._features.levels_ == [0]
    np.testing.assert_allclose(
        a.predict_proba(X)[0], b.predict_proba(X.to_numpy())[0], rtol=1e-5
    )
    # the codes need the values: a sparse X is refused with what to do
    from scipy import sparse

    with pytest.raises(ValueError, match="Pass X.toarray"):
        b.predict(sparse.csr_matrix(X.to_numpy()))
    # an all-numeric X without such a column keeps the plain route
    c = joint(random_state=0, max_iter=2).fit(X[["speed"]].to_numpy(), Y)
    assert c._features.is_identity


def test_a_table_without_such_a_column_is_fitted_as_without_it():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.randint(0, 5, 300)})
    Y = pd.DataFrame({"y": X["a"] + rng.normal(size=300)})
    a = joint(random_state=0, max_iter=3).fit(X, Y)
    b = joint(random_state=0, max_iter=3, discrete_numeric=None).fit(X, Y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_saved_levels_predict_the_same_and_forged_ones_are_refused(tmp_path):
    X, Y = _sizes_table(n_values=50)
    est = joint(random_state=0, max_iter=3).fit(X, Y)
    path = tmp_path / "m.skmh"
    est.save(path)
    again = JointRegressorClassifier.load(path)
    np.testing.assert_array_equal(again.predict_proba(X)[0], est.predict_proba(X)[0])
    assert "numeric column 'hd' also as a category of its 50 values" in est.summary()

    state = est._features.get_state()
    again = FeaturePlan.from_state(state, X.shape[1])
    np.testing.assert_array_equal(again.transform(X), est._features.transform(X))
    forged = [
        {**state, "levels": [1, 1]},  # a column twice, and no values for one
        {**state, "levels": [5]},  # no such numeric column
        {**state, "levels": [True]},
        {**state, "discrete_numeric": "always"},
        {**state, "level_vocabularies": [[1.0, 1.0]]},  # a value twice
        {**state, "level_vocabularies": [["80"]]},  # not a number
        {**state, "level_vocabularies": [[float("nan")]]},
        {**state, "level_vocabularies": [[1e300]]},  # not a float32
        {**state, "level_vocabularies": [[10**400]]},  # not even a float
        {**state, "level_vocabularies": [list(range(LEVELS_MAX_VALUES + 1))]},
    ]
    for bad in forged:
        with pytest.raises(ValueError, match="discrete numeric columns are malformed"):
            FeaturePlan.from_state(bad, X.shape[1])
    # a file saved before: no such keys, no discrete columns
    old = {
        k: v
        for k, v in state.items()
        if k not in ("discrete_numeric", "levels", "level_vocabularies")
    }
    assert FeaturePlan.from_state(old, X.shape[1]).levels_ == []
