"""cross_val_predict for mixed targets: the same as a hand-written fold loop."""

import numpy as np
import pandas as pd
import pytest
from conftest import joint
from sklearn.base import clone
from sklearn.model_selection import KFold, ShuffleSplit

from sklearn_multihead import RandomForestRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset
from sklearn_multihead.model_selection import cross_val_predict

CV = KFold(3, shuffle=True, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, Y = make_joint_dataset(n_samples=240, random_state=0)
    index = pd.Index(np.arange(240) * 10 + 7)  # not 0..n-1
    return X.set_axis(index), Y.set_axis(index)


ESTIMATORS = [
    joint(hidden_layer_sizes=(16,), max_iter=10, random_state=0),
    RandomForestRegressorClassifier(n_estimators=10, random_state=0),
]


def _hand_loop(est, X, Y, method, **fit_params):
    out = {}
    for train, test in CV.split(X):
        params = {k: v[train] for k, v in fit_params.items()}
        fitted = clone(est).fit(X.iloc[train], Y.iloc[train], **params)
        out[tuple(test)] = (getattr(fitted, method)(X.iloc[test]), fitted)
    return out


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_predict_matches_a_hand_loop_and_keeps_columns(data, est):
    X, Y = data
    got = cross_val_predict(est, X, Y, cv=CV)
    assert list(got.columns) == list(Y.columns)
    assert got.dtypes.tolist() == Y.dtypes.tolist()
    assert got.index.equals(Y.index)
    for test, (pred, _) in _hand_loop(est, X, Y, "predict").items():
        pd.testing.assert_frame_equal(
            got.iloc[list(test)], pred.set_axis(Y.index[list(test)])
        )


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_predict_proba_matches_a_hand_loop_per_target(data, est):
    X, Y = data
    got = cross_val_predict(est, X, Y, cv=CV, method="predict_proba")
    assert [p.shape for p in got] == [(240, 2), (240, 3)]
    for test, (proba, fitted) in _hand_loop(est, X, Y, "predict_proba").items():
        for k, j in enumerate((1, 2)):  # bin_0, cls_0
            assert list(fitted.target_classes_[j]) == sorted(Y.iloc[:, j].unique())
            np.testing.assert_allclose(got[k][list(test)], proba[k])
    for p in got:
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_a_class_missing_from_a_fold_gets_probability_zero():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 3))
    y = np.array(["a", "b"] * 44 + ["rare", "rare"])  # "rare" in the last fold only
    est = joint(max_iter=5, random_state=0)
    proba = cross_val_predict(est, X, y, cv=KFold(3), method="predict_proba")
    assert proba.shape == (90, 3)  # a 1-D y: one array, classes a, b, rare
    np.testing.assert_array_equal(proba[60:, 2], 0.0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_sample_weight_is_split_with_the_folds(data):
    X, Y = data
    w = np.random.RandomState(1).rand(len(X)) * 3
    est = ESTIMATORS[1]
    got = cross_val_predict(est, X, Y, cv=CV, params={"sample_weight": w})
    for test, (pred, _) in _hand_loop(est, X, Y, "predict", sample_weight=w).items():
        np.testing.assert_allclose(got["reg_0"].iloc[list(test)], pred["reg_0"])


def test_bad_arguments_are_refused(data):
    X, Y = data
    with pytest.raises(ValueError, match="test folds hold every row exactly once"):
        cross_val_predict(ESTIMATORS[1], X, Y, cv=ShuffleSplit(2, random_state=0))
    with pytest.raises(ValueError, match="method must be one of"):
        cross_val_predict(ESTIMATORS[1], X, Y, method="decision_function")
