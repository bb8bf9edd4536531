"""A 1-D fit of either estimator works in scikit-learn's wrappers as a
classifier or a regressor of that kind: stacking, voting, calibration,
partial dependence, classifier chains."""

import numpy as np
import pytest
from conftest import joint
from sklearn.base import is_classifier, is_regressor
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.frozen import FrozenEstimator
from sklearn.inspection import partial_dependence
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.multioutput import ClassifierChain

from sklearn_multihead import RandomForestRegressorClassifier


def single(kind):
    return joint(
        hidden_layer_sizes=(32,), max_iter=60, target_types=[kind], random_state=0
    )


def forest(kind):
    return RandomForestRegressorClassifier(
        n_estimators=30, target_types=[kind], random_state=0
    )


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=300, n_features=5, noise=5.0, random_state=0)
    return train_test_split(X, y / 50, random_state=0)


@pytest.fixture(scope="module")
def classification():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return train_test_split(X, y, random_state=0)


def test_the_type_comes_from_the_fitted_target_or_a_one_entry_target_types(
    classification,
):
    X_train, _, y_train, _ = classification
    assert is_classifier(single("classification"))
    assert is_regressor(forest("regression"))
    auto = joint(max_iter=5, random_state=0)
    assert not is_classifier(auto) and not is_regressor(auto)
    auto.fit(X_train, y_train)
    assert is_classifier(auto)
    np.testing.assert_array_equal(auto.classes_, [0, 1, 2])
    assert auto.predict_proba(X_train).shape == (len(X_train), 3)
    auto.fit(X_train, y_train.astype(float))
    assert is_regressor(auto) and not hasattr(auto, "classes_")
    assert not hasattr(auto, "predict_log_proba")
    auto.fit(X_train, np.c_[y_train, y_train])  # two targets: neither
    assert not is_classifier(auto) and isinstance(auto.classes_, list)


@pytest.mark.parametrize("make", [single, forest], ids=["joint", "forest"])
def test_stacking_and_voting_regressors(regression, make):
    X_train, X_test, y_train, y_test = regression
    members = [("ours", make("regression")), ("ridge", RidgeCV())]
    scores = [m.fit(X_train, y_train).score(X_test, y_test) for _, m in members]
    for wrapper in (
        StackingRegressor(members, final_estimator=RidgeCV()),
        VotingRegressor(members),
    ):
        score = wrapper.fit(X_train, y_train).score(X_test, y_test)
        assert score >= np.mean(scores) - 0.02, type(wrapper).__name__


@pytest.mark.parametrize("make", [single, forest], ids=["joint", "forest"])
def test_stacking_and_voting_classifiers(classification, make):
    X_train, X_test, y_train, y_test = classification
    members = [("ours", make("classification")), ("logit", LogisticRegression())]
    scores = [m.fit(X_train, y_train).score(X_test, y_test) for _, m in members]
    for wrapper in (
        StackingClassifier(members, final_estimator=LogisticRegression()),
        VotingClassifier(members, voting="soft"),
    ):
        score = wrapper.fit(X_train, y_train).score(X_test, y_test)
        assert score >= np.mean(scores) - 0.03, type(wrapper).__name__
        proba = wrapper.predict_proba(X_test)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("make", [single, forest], ids=["joint", "forest"])
def test_calibration(classification, make):
    X_train, X_test, y_train, y_test = classification
    calibrated = CalibratedClassifierCV(make("classification"), cv=3)
    proba = calibrated.fit(X_train, y_train).predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert calibrated.score(X_test, y_test) > 0.5
    fitted = make("classification").fit(X_train, y_train)
    frozen = CalibratedClassifierCV(FrozenEstimator(fitted), method="sigmoid")
    proba = frozen.fit(X_test, y_test).predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_decision_function_and_log_proba_agree_with_proba(classification):
    X_train, X_test, y_train, _ = classification
    est = single("classification").fit(X_train, y_train)
    logits = est.decision_function(X_test)
    assert logits.shape == (len(X_test), 3)
    np.testing.assert_array_equal(logits.argmax(axis=1), est.predict(X_test))
    np.testing.assert_allclose(
        np.exp(est.predict_log_proba(X_test)), est.predict_proba(X_test), rtol=1e-6
    )
    binary = single("classification").fit(X_train, y_train == 0)
    assert binary.decision_function(X_test).shape == (len(X_test),)
    np.testing.assert_array_equal(
        binary.decision_function(X_test) > 0, binary.predict(X_test)
    )


@pytest.mark.parametrize("make", [single, forest], ids=["joint", "forest"])
def test_partial_dependence(regression, classification, make):
    X_train, _, y_train, _ = regression
    est = make("regression").fit(X_train, y_train)
    pd_result = partial_dependence(est, X_train, [0], grid_resolution=10)
    assert pd_result["average"].shape == (1, 10)
    assert np.ptp(pd_result["average"]) > 0.05  # it changes with the feature
    X_train, _, y_train, _ = classification
    clf = make("classification").fit(X_train, y_train)
    pd_result = partial_dependence(clf, X_train, [0], grid_resolution=10)
    assert pd_result["average"].shape == (3, 10)  # one curve per class


@pytest.mark.parametrize("make", [single, forest], ids=["joint", "forest"])
def test_classifier_chain_predict_proba(classification, make):
    X_train, X_test, y_train, _ = classification
    Y = np.c_[y_train == 0, y_train == 1, y_train == 2].astype(int)
    chain = ClassifierChain(make("classification"), random_state=0).fit(X_train, Y)
    proba = chain.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_classifier_methods_say_when_they_do_not_apply(regression):
    X_train, _, y_train, _ = regression
    est = single("regression").fit(X_train, y_train)
    with pytest.raises(
        AttributeError, match="has no attribute 'decision_function'"
    ) as e:
        est.decision_function(X_train)
    # scikit-learn's available_if keeps the reason as the cause
    assert "only available on a model of one classification target" in str(
        e.value.__cause__
    )
