"""RandomForestRegressorClassifier: same contract as the joint estimator."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from sklearn_multihead import RandomForestRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset

RF = dict(n_estimators=20, random_state=0)


def test_learns_and_keeps_types(abalone_xy):
    X, Y = abalone_xy
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=1)
    with pytest.warns(UserWarning, match="integer dtype"):
        rf = RandomForestRegressorClassifier(**RF).fit(X_train, Y_train)
    pred = rf.predict(X_test)
    assert list(pred.columns) == list(Y.columns)
    assert pred["rings"].dtype == np.float64
    assert pred["sex"].dtype == Y["sex"].dtype
    assert pd.api.types.is_integer_dtype(pred["ring_class"])
    proba = rf.predict_proba(X_test)
    assert [p.shape[1] for p in proba] == [3, len(rf.classes_[2])]
    for p in proba:
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert rf.score(X_test, Y_test) > 0.3
    assert len(rf.estimators_) == 2  # one forest per target kind


def test_missing_cells_train_one_forest_per_target_on_known_rows():
    X, Y = make_joint_dataset(n_samples=300, missing_rate=0.3, random_state=0)
    rf = RandomForestRegressorClassifier(**RF).fit(X, Y)
    assert [g for _, g in rf.estimators_] == [[0], [1], [2]]
    for forest, [j] in rf.estimators_:
        # each forest saw exactly the rows where its target is known
        n_known = Y.iloc[:, j].notna().sum()
        assert forest.estimators_[0].tree_.weighted_n_node_samples[0] == n_known
    pred = rf.predict(X)
    assert pred.notna().all().all()
    assert rf.score(X, Y) > 0.5


def test_class_weight_list_is_keyed_by_label():
    X, Y = make_joint_dataset(n_samples=200, n_regression=0, random_state=0)
    rf = RandomForestRegressorClassifier(
        class_weight=[{True: 5.0}, {"c0": 2.0}], **RF
    ).fit(X, Y)
    forest = rf.estimators_[0][0]
    assert forest.class_weight == [{1: 5.0}, {0: 2.0}]
    with pytest.raises(ValueError, match="names labels \\['c9'\\]"):
        RandomForestRegressorClassifier(class_weight=[{}, {"c9": 1.0}]).fit(X, Y)
    with pytest.raises(ValueError, match="class_weight has 1 entries"):
        RandomForestRegressorClassifier(class_weight=[{}]).fit(X, Y)


def test_regression_only_has_no_predict_proba():
    X, Y = make_joint_dataset(n_samples=50, n_binary=0, n_multiclass=0)
    rf = RandomForestRegressorClassifier(**RF).fit(X, Y)
    assert not hasattr(rf, "predict_proba")


def test_the_dummy_predicts_means_and_most_frequent_classes_ignoring_x():
    from sklearn_multihead import DummyRegressorClassifier

    X = pd.DataFrame({"text": ["a", "b", "c", "d", "e"], "n": [1, 2, 3, 4, 5]})
    Y = pd.DataFrame(
        {"v": [1.0, 2.0, 3.0, np.nan, 6.0], "k": ["x", "y", "y", "y", None]}
    )
    dummy = DummyRegressorClassifier().fit(X, Y, sample_weight=[1, 1, 1, 1, 2])
    pred = dummy.predict(X.iloc[:2])
    # weighted, over the known cells (targets are encoded in float32)
    assert pred["v"].tolist() == pytest.approx([(1 + 2 + 3 + 12) / 5] * 2)
    assert pred["k"].tolist() == ["y", "y"] and pred["k"].dtype == Y["k"].dtype
    np.testing.assert_allclose(dummy.predict_proba(X.iloc[:1])[0], [[0.25, 0.75]])
    assert dummy.score(X, Y) < 1.0
