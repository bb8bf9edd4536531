"""predict_interval: split-conformal intervals of the regression targets,
from the rows each network held out."""

import numpy as np
import pandas as pd
import pytest
from conftest import joint

from sklearn_multihead import RandomForestRegressorClassifier


@pytest.fixture(scope="module")
def noisy():
    """A number with noise that grows with |x1|, and a class, 1,600 rows to
    fit and 1,000 to check."""
    rng = np.random.RandomState(0)
    n = 2600
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x0", "x1", "x2"])
    noise = rng.normal(size=n) * (1 + np.abs(X["x1"]))
    Y = pd.DataFrame({"v": 3 * X["x0"] + noise, "k": X["x2"] > 0})
    return X.iloc[:1600], Y.iloc[:1600], X.iloc[1600:], Y.iloc[1600:]


@pytest.fixture(scope="module", params=["joint", "forest"])
def fitted(noisy, request):
    """The network (its held-out rows) and the forest (out-of-bag rows)."""
    X, Y, _, _ = noisy
    if request.param == "joint":
        return joint(n_models=2, max_iter=30, random_state=0).fit(X, Y)
    return RandomForestRegressorClassifier(n_estimators=40, random_state=0).fit(X, Y)


def test_intervals_cover_new_rows_at_the_asked_rate(noisy, fitted):
    _, _, X_test, Y_test = noisy
    y = Y_test["v"].to_numpy()
    for coverage in (0.5, 0.9):
        bounds = fitted.predict_interval(X_test, coverage=coverage)
        inside = (y >= bounds["v_lower"]) & (y <= bounds["v_upper"])
        assert coverage - 0.05 <= inside.mean() <= coverage + 0.06, coverage


def test_intervals_hold_the_prediction_and_widen_with_coverage(noisy, fitted):
    _, _, X_test, _ = noisy
    pred = fitted.predict(X_test)["v"]
    narrow = fitted.predict_interval(X_test, coverage=0.5)
    wide = fitted.predict_interval(X_test, coverage=0.95)
    assert list(wide.columns) == ["v_lower", "v_upper"]
    assert wide.index.equals(X_test.index)
    assert ((narrow["v_lower"] <= pred) & (pred <= narrow["v_upper"])).all()
    assert (wide["v_lower"] < narrow["v_lower"]).all()
    assert (wide["v_upper"] > narrow["v_upper"]).all()


def test_intervals_keep_their_units_after_save_and_load(noisy, fitted, tmp_path):
    _, _, X_test, _ = noisy
    loaded = type(fitted).load(fitted.save(tmp_path / "m.safetensors"))
    pd.testing.assert_frame_equal(
        loaded.predict_interval(X_test), fitted.predict_interval(X_test)
    )
    # in the target's units: as wide as its spread, not as a standardised one
    width = (
        fitted.predict_interval(X_test)["v_upper"]
        - fitted.predict_interval(X_test)["v_lower"]
    ).mean()
    assert 3 < width < 12


@pytest.mark.parametrize("coverage", [0, 1, 1.5, -0.1, float("nan"), True, "0.9"])
def test_a_coverage_outside_zero_one_is_a_clear_error(noisy, fitted, coverage):
    _, _, X_test, _ = noisy
    with pytest.raises(ValueError, match="coverage must be a number strictly betwee"):
        fitted.predict_interval(X_test, coverage=coverage)


def test_too_few_held_out_rows_say_how_many_are_needed(noisy, fitted):
    _, _, X_test, _ = noisy
    n = len(fitted.interval_residuals_[0])
    needed = int(np.ceil(0.9999 / (1 - 0.9999)))  # 9,999 rows for 99.99%
    assert n < needed
    with pytest.raises(ValueError, match=rf"needs at least {needed} held-out .*{n}"):
        fitted.predict_interval(X_test, coverage=0.9999)


def test_no_held_out_rows_no_intervals_and_the_error_says_why():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2))
    y = X[:, 0]
    est = joint(max_iter=3, early_stopping=False).fit(X, y)
    with pytest.raises(ValueError, match="fitted without early stopping"):
        est.predict_interval(X)
    est = joint(max_iter=3, early_stopping=True).fit(X, y)
    assert est.predict_interval(X[:4]).shape == (4, 2)  # a 1-D y: (n, 2)
    est.partial_fit(X, y)  # the residuals no longer describe the model
    with pytest.raises(ValueError, match="trained further with partial_fit"):
        est.predict_interval(X)


def test_arrays_give_one_pair_per_regression_target():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    Y = np.column_stack([X[:, 0], X[:, 1] > 0, X[:, 2]]).astype(object)
    est = joint(
        max_iter=3,
        early_stopping=True,
        target_types=["regression", "classification", "regression"],
    ).fit(X, Y)
    bounds = est.predict_interval(X[:5])
    assert bounds.shape == (5, 2, 2) and (bounds[:, :, 0] < bounds[:, :, 1]).all()


def test_classification_only_models_have_no_intervals():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2))
    est = joint(max_iter=2).fit(X, X[:, 0] > 0)
    assert not hasattr(est, "predict_interval")
    forest = RandomForestRegressorClassifier(n_estimators=3).fit(X, X[:, 0] > 0)
    assert not hasattr(forest, "predict_interval")


def test_the_dummy_has_intervals_around_its_constant(noisy):
    from sklearn_multihead import DummyRegressorClassifier

    X, Y, X_test, Y_test = noisy
    dummy = DummyRegressorClassifier().fit(X, Y)
    bounds = dummy.predict_interval(X_test, coverage=0.9)
    y = Y_test["v"]
    inside = (y >= bounds["v_lower"]) & (y <= bounds["v_upper"])
    assert 0.85 <= inside.mean() <= 0.95
    assert bounds["v_lower"].nunique() == 1  # one width for every row


@pytest.mark.parametrize(
    "forge, match",
    [
        (
            lambda t: t.__setitem__("intervals.1", np.ones(3)),  # "k": classes
            "are not the residuals of a target",
        ),
        (lambda t: t.__setitem__("intervals.9", np.ones(3)), "names no target"),
        (
            lambda t: t.__setitem__("intervals.0", np.array([1.0, np.inf])),
            "are not the residuals of a target",
        ),
        (
            lambda t: t.__setitem__("intervals.0", -np.ones(3)),
            "are not the residuals of a target",
        ),
    ],
    ids=["a-class-target", "no-such-target", "infinite", "negative"],
)
def test_forged_residuals_are_refused_on_load(noisy, fitted, tmp_path, forge, match):
    from sklearn_multihead._persist import ModelFileError, read_model, write_model

    path = fitted.save(tmp_path / "m.safetensors")
    doc, tensors = read_model(path)
    forge(tensors)
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)
    with pytest.raises(ModelFileError, match=match):
        type(fitted).load(path)
