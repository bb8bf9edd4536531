"""Calibrated probabilities: temperature scaling of the classification heads
(``calibrate``) and the expected calibration error in the reports."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import joint
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

from sklearn_multihead import expected_calibration_error, target_report


def _noisy_classes(n, seed):
    """A regression target that keeps improving for many epochs, and a
    3-class and a binary target with much label noise: with the regression
    loss weighted up, early stopping picks an epoch where the class heads
    have overfitted, and their probabilities are too sure."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 8))
    score = X[:, 0] + 0.5 * X[:, 1]
    grade = np.digitize(score, [-0.5, 0.5])
    grade = np.where(rng.rand(n) < 0.3, rng.randint(0, 3, n), grade)
    Y = pd.DataFrame(
        {
            "v": np.sin(2 * X[:, 2]) * X[:, 3]
            + np.cos(X[:, 4] * X[:, 5])
            + 0.05 * rng.normal(size=n),
            "grade": np.array(["low", "mid", "high"])[grade],
            "up": (score + rng.normal(size=n)) > 0,
        }
    )
    return X, Y


OVERFIT = dict(
    loss_weights={"v": 50.0},
    alpha=0.0,
    hidden_layer_sizes=(256, 256),
    n_iter_no_change=40,
    n_models=2,
    random_state=0,
)


@pytest.fixture(scope="module")
def fits():
    X, Y = _noisy_classes(6000, seed=0)
    train, test = slice(0, 3000), slice(3000, None)
    models = {}
    for calibrate in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models[calibrate] = joint(calibrate=calibrate, **OVERFIT).fit(
                X[train], Y[train]
            )
    return models, X[test], Y[test].reset_index(drop=True)


def test_temperatures_lower_the_held_out_log_loss(fits):
    models, X, Y = fits
    raw, calibrated = models[False], models[True]
    t = calibrated.temperatures_
    assert t.shape == (3,)
    assert t[0] == 1.0  # the regression target
    assert (t[1:] > 1.1).all()  # overconfident heads are cooled
    for j, name in [(1, "grade"), (2, "up")]:
        labels = raw.target_classes_[j]
        before = log_loss(Y[name], raw.predict_proba(X)[j - 1], labels=labels)
        after = log_loss(Y[name], calibrated.predict_proba(X)[j - 1], labels=labels)
        # the gain is 0.4-1.7% over random states (packed or one by one):
        # uncalibrated (a temperature of 1) it would be none
        assert after < 0.999 * before, (name, before, after)
        accuracy = [
            np.mean(m.predict(X)[name].to_numpy() == Y[name].to_numpy())
            for m in (raw, calibrated)
        ]
        assert abs(accuracy[0] - accuracy[1]) < 0.01
    np.testing.assert_array_equal(raw.temperatures_, np.ones(3))


def test_the_report_has_each_class_targets_calibration_error(fits):
    models, X, Y = fits
    model = models[True]
    proba = model.predict_proba(X)
    report = target_report(
        Y,
        model.predict(X),
        model.target_types_,
        y_proba=proba,
        classes=model.target_classes_,
    ).set_index("target")
    assert np.isnan(report.loc["v", "ece"])
    for j, name in [(1, "grade"), (2, "up")]:
        codes = pd.Index(model.target_classes_[j]).get_indexer(Y[name])
        expected = expected_calibration_error(codes, proba[j - 1])
        assert report.loc[name, "ece"] == pytest.approx(expected)
        assert 0 < expected < 0.2


def test_temperatures_are_saved_and_old_files_load_uncalibrated(fits, tmp_path):
    from sklearn_multihead import JointRegressorClassifier
    from sklearn_multihead._persist import read_model, write_model

    models, X, _ = fits
    model = models[True]
    path = model.save(tmp_path / "m.safetensors")
    loaded = JointRegressorClassifier.load(path)
    np.testing.assert_array_equal(loaded.temperatures_, model.temperatures_)
    for a, b in zip(loaded.predict_proba(X), model.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # a file written before calibration existed: the probabilities as trained
    doc, tensors = read_model(path)
    del tensors["calibration.temperatures"]
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)
    old = JointRegressorClassifier.load(path)
    np.testing.assert_array_equal(old.temperatures_, np.ones(3))
    for a, b in zip(old.predict_proba(X), models[False].predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize(
    "value",
    [
        np.array([1.0, -2.0, 1.0]),
        np.array([1.0, np.nan, 1.0]),
        np.array([1.0, 1e9, 1.0]),
        np.array([3.0, 1.0, 1.0]),  # the regression head
        np.ones((2, 3)),
    ],
    ids=["negative", "nan", "huge", "regression-head", "shape"],
)
def test_forged_temperatures_are_refused_on_load(fits, tmp_path, value):
    from sklearn_multihead._persist import ModelFileError, read_model, write_model

    model = fits[0][True]
    path = model.save(tmp_path / "m.safetensors")
    doc, tensors = read_model(path)
    tensors["calibration.temperatures"] = value
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)
    with pytest.raises(ModelFileError, match="calibration temperatures do not fit"):
        type(model).load(path)


def test_one_network_keeps_its_classes_and_an_ensemble_is_calibrated_whole():
    X, Y = _noisy_classes(1500, seed=1)
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for calibrate in (False, True):
            models[calibrate] = joint(
                calibrate=calibrate, loss_weights={"v": 50.0}, random_state=0
            ).fit(X, Y)
        tabm = joint(
            calibrate=True, n_ensemble=4, loss_weights={"v": 50.0}, random_state=0
        )
        tabm.fit(X, Y)
    assert (models[True].temperatures_[1:] != 1.0).all()
    # dividing one network's logits by a positive number keeps its classes
    pd.testing.assert_frame_equal(models[False].predict(X), models[True].predict(X))
    assert (tabm.temperatures_[1:] != 1.0).all()
    for p in tabm.predict_proba(X):
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-9)


def test_no_held_out_rows_no_temperatures_and_more_training_resets_them():
    X, Y = _noisy_classes(1500, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        no_split = joint(calibrate=True, early_stopping=False, max_iter=5)
        no_split.fit(X, Y)
        np.testing.assert_array_equal(no_split.temperatures_, np.ones(3))
        few = joint(calibrate=True, random_state=0).fit(X[:900], Y[:900])
        np.testing.assert_array_equal(few.temperatures_, np.ones(3))  # 90 labels
        by_default = joint(loss_weights={"v": 50.0}, random_state=0).fit(X, Y)
        np.testing.assert_array_equal(by_default.temperatures_, np.ones(3))
        model = joint(calibrate=True, loss_weights={"v": 50.0}, random_state=0)
        model.fit(X, Y)
        assert (model.temperatures_[1:] != 1.0).any()
        model.partial_fit(X, Y)
    # the temperatures described the network before this training
    np.testing.assert_array_equal(model.temperatures_, np.ones(3))


def test_expected_calibration_error_by_hand():
    # bin of 0.9: 2 rows, 1 right (gap 0.4); bin of 0.6: 2 rows, both right
    # (gap 0.4); ECE = (2 * 0.4 + 2 * 0.4) / 4
    proba = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 0, 0, 1])
    assert expected_calibration_error(y, proba, n_bins=10) == pytest.approx(0.4)
    # weights count rows: the wrong 0.9 row twice
    w = np.array([1.0, 2.0, 1.0, 1.0])
    expected = (abs(1 - 0.9 * 3) + 2 * 0.4) / 5
    assert expected_calibration_error(
        y, proba, n_bins=10, sample_weight=w
    ) == pytest.approx(expected)
    right = np.eye(3)[[0, 1, 2]]
    assert expected_calibration_error([0, 1, 2], right) == 0.0


def test_expected_calibration_error_names_bad_input():
    with pytest.raises(ValueError, match="one row of class probabilities per"):
        expected_calibration_error([0, 1], np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match="n_bins must be an int >= 1. Got 0"):
        expected_calibration_error([0, 1], np.ones((2, 2)) / 2, n_bins=0)


def test_a_failed_further_fit_keeps_temperatures_and_networks_consistent(tmp_path):
    """After more training stops on an error, the model in memory predicts
    what its saved file predicts: the temperatures it reports are the ones
    its networks use."""
    from skorch.callbacks import Callback

    class Stop(Callback):
        def on_epoch_end(self, net, **kwargs):
            if getattr(net, "stop_now", False):
                raise RuntimeError("stopped by the test")

    X, Y = _noisy_classes(1500, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = joint(
            calibrate=True,
            warm_start=True,
            loss_weights={"v": 50.0},
            random_state=0,
            callbacks=[Stop()],
        ).fit(X, Y)
    before = model.temperatures_.copy()
    assert (before[1:] != 1.0).any()
    model.net_.stop_now = True
    with pytest.raises(RuntimeError, match="stopped by the test"):
        model.fit(X, Y)
    np.testing.assert_array_equal(model.temperatures_, before)
    loaded = type(model).load(model.save(tmp_path / "m.safetensors"))
    for a, b in zip(model.predict_proba(X), loaded.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
