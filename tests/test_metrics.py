"""Per-target metrics and scorers, against hand-computed values."""

import numpy as np
import pandas as pd
import pytest
from conftest import joint
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_multihead import (
    RandomForestRegressorClassifier,
    joint_score,
    make_joint_scorer,
    make_target_scorers,
    target_report,
)
from sklearn_multihead.datasets import make_joint_dataset

TYPES = ["regression", "classification"]


def _data():
    y_true = pd.DataFrame({"n": [1.0, 2.0, np.nan, 4.0], "c": ["a", "b", "b", None]})
    y_pred = pd.DataFrame({"n": [1.0, 3.0, 100.0, 2.0], "c": ["a", "a", "b", "b"]})
    return y_true, y_pred


def test_report_hand_computed_with_missing_cells():
    y_true, y_pred = _data()
    proba = [np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.5, 0.5]])]
    rep = target_report(
        y_true, y_pred, TYPES, y_proba=proba, classes=[None, np.array(["a", "b"])]
    ).set_index("target")
    n, c = rep.loc["n"], rep.loc["c"]
    assert n["n_known"] == 3 and c["n_known"] == 3
    assert n["mae"] == pytest.approx((0 + 1 + 2) / 3)
    assert n["rmse"] == pytest.approx(np.sqrt((0 + 1 + 4) / 3))
    # R^2 = 1 - SSE / SST with mean 7/3
    sst = sum((v - 7 / 3) ** 2 for v in (1, 2, 4))
    assert n["r2"] == pytest.approx(1 - 5 / sst)
    assert c["accuracy"] == pytest.approx(2 / 3)
    assert c["balanced_accuracy"] == pytest.approx((1 + 0.5) / 2)
    # f1(a) = 2/3 (tp 1, fp 1, fn 0), f1(b) = 2/3 (tp 1, fp 0, fn 1)
    assert c["f1_macro"] == pytest.approx(2 / 3)
    assert c["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.8])))
    assert np.isnan(n["accuracy"]) and np.isnan(c["mae"])


def test_report_of_a_one_class_target_has_its_log_loss():
    # a model that saw one class gives it probability 1: log loss 0, not an error
    y = pd.DataFrame({"c": ["a", "a", "a"]})
    rep = target_report(
        y, y, ["classification"], y_proba=[np.ones((3, 1))], classes=[np.array(["a"])]
    ).set_index("target")
    assert rep.loc["c", "log_loss"] == 0.0
    assert rep.loc["c", "accuracy"] == 1.0
    rep = target_report(
        y,
        y,
        ["classification"],
        y_proba=[np.full((3, 1), 0.5)],
        classes=[np.array(["a"])],
    ).set_index("target")
    assert rep.loc["c", "log_loss"] == pytest.approx(np.log(2))


def test_joint_score_is_mean_of_r2_and_accuracy():
    y_true, y_pred = _data()
    rep = target_report(y_true, y_pred, TYPES).set_index("target")
    expected = (rep.loc["n", "r2"] + rep.loc["c", "accuracy"]) / 2
    assert joint_score(y_true, y_pred, TYPES) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no known cell in any target"):
        joint_score(y_true.iloc[2:3, :1], y_pred.iloc[2:3, :1], TYPES[:1])


def test_scorer_arguments_are_checked():
    with pytest.raises(ValueError, match="regression must be one of"):
        make_joint_scorer(regression="mape")
    with pytest.raises(ValueError, match="Metric 'mae' does not apply"):
        make_target_scorers(
            pd.DataFrame({"c": ["a"]}), metrics={"classification": ["mae"]}
        )


def test_multi_metric_cross_validate_and_grid_search_refit():
    X, Y = make_joint_dataset(n_samples=240, missing_rate=0.1, random_state=0)
    scorers = make_target_scorers(Y)
    assert set(scorers) == {
        "joint",
        "reg_0__mae",
        "reg_0__r2",
        "bin_0__accuracy",
        "bin_0__f1_macro",
        "cls_0__accuracy",
        "cls_0__f1_macro",
    }
    res = cross_validate(
        RandomForestRegressorClassifier(n_estimators=10, random_state=0),
        X,
        Y,
        cv=3,
        scoring=scorers,
    )
    for name in scorers:
        assert np.isfinite(res[f"test_{name}"]).all(), name
    assert (res["test_reg_0__mae"] < 0).all()  # negated: greater is better

    search = GridSearchCV(
        joint(max_iter=30, random_state=0),
        {"hidden_layer_sizes": [(8,), (32,)]},
        scoring={
            "joint": make_joint_scorer("mae", "log_loss"),
            "cls": scorers["cls_0__accuracy"],
        },
        refit="cls",
        cv=2,
        error_score="raise",
    ).fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_joint"]).all()
    assert search.best_score_ == search.cv_results_["mean_test_cls"].max()


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
def test_report_and_scorer_errors_say_what_is_wrong():
    y_true, y_pred = _data()
    with pytest.raises(ValueError, match="y_true has 2 targets, y_pred 1"):
        joint_score(y_true, y_pred[["n"]], TYPES)
    with pytest.raises(ValueError, match="target_report needs classes with y_proba"):
        target_report(y_true, y_pred, TYPES, y_proba=[np.ones((4, 2)) / 2])
    X, Y = make_joint_dataset(n_samples=60, random_state=0)
    rf = RandomForestRegressorClassifier(n_estimators=5, random_state=0).fit(X, Y)
    one_row = make_target_scorers(Y)["reg_0__r2"]
    with pytest.raises(ValueError, match="too few known cells"):
        one_row(rf, X[:1], Y[:1])  # R^2 of one row is undefined


def test_scorers_and_reports_work_through_a_pipeline_and_a_search():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_multihead import RandomForestRegressorClassifier, estimator_report

    X, Y = make_joint_dataset(n_samples=120, random_state=0)
    pipe = make_pipeline(
        StandardScaler(), RandomForestRegressorClassifier(n_estimators=5)
    )
    scores = cross_validate(
        pipe, X, Y, cv=2, scoring=make_target_scorers(Y), error_score="raise"
    )
    assert np.isfinite(scores["test_cls_0__accuracy"]).all()
    search = GridSearchCV(
        pipe,
        {"randomforestregressorclassifier__n_estimators": [3, 5]},
        scoring=make_joint_scorer(),
        cv=2,
        error_score="raise",
    ).fit(X, Y)
    report = estimator_report(search, X, Y)
    assert list(report["target"]) == ["reg_0", "bin_0", "cls_0"]
    with pytest.raises(TypeError, match="Per-target reports need a fitted Joint"):
        estimator_report(StandardScaler().fit(X), X, Y)


def test_routed_sample_weights_reach_the_scorers():
    import sklearn
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from sklearn_multihead import RandomForestRegressorClassifier, estimator_report

    X, Y = make_joint_dataset(n_samples=150, missing_rate=0.1, random_state=0)
    w = np.random.RandomState(0).rand(150) * 3
    cv = KFold(3, shuffle=True, random_state=0)
    scorers = make_target_scorers(Y)
    est = RandomForestRegressorClassifier(n_estimators=5, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = est.set_fit_request(sample_weight=True)
        got = cross_validate(
            routed, X, Y, scoring=scorers, cv=cv, params={"sample_weight": w}
        )
    for k, (train, test) in enumerate(cv.split(X)):
        fitted = clone(est).fit(X.iloc[train], Y.iloc[train], sample_weight=w[train])
        report = estimator_report(
            fitted, X.iloc[test], Y.iloc[test], sample_weight=w[test]
        ).set_index("target")
        assert got["test_reg_0__r2"][k] == pytest.approx(report.loc["reg_0", "r2"])
        assert got["test_cls_0__accuracy"][k] == pytest.approx(
            report.loc["cls_0", "accuracy"]
        )
        unweighted = estimator_report(fitted, X.iloc[test], Y.iloc[test])
        assert got["test_reg_0__r2"][k] != pytest.approx(unweighted["r2"].iloc[0])
