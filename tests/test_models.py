"""``n_models``: networks fitted apart (own initial weights, validation split
and stopping epoch) whose predictions are averaged (``_module.AveragedMLPs``)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import joint
from sklearn.exceptions import ConvergenceWarning

from sklearn_multihead import JointRegressorClassifier


def _data(n=400, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    Y = pd.DataFrame(
        {
            "v": X["a"] - np.sin(2 * X["b"]) + 0.3 * rng.normal(size=n),
            "c": np.where(X["c"] + 0.5 * rng.normal(size=n) > 0, "up", "down"),
            "m": np.array(["x", "y", "z"])[
                (X["d"] > -0.4).astype(int) + (X["d"] > 0.4)
            ],
        }
    )
    return X, Y


@pytest.fixture(scope="module")
def fitted():
    X, Y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the networks as they stop: training on past the stop
        # (continue_heads) starts a fresh Adam state, whose first steps turn
        # the float32 rounding differences of packed and alone into
        # different weights (test_the_first_network_trains_on_as_alone)
        one = joint(n_models=1, random_state=0, continue_heads=False).fit(X, Y)
        three = joint(n_models=3, random_state=0, continue_heads=False).fit(X, Y)
    return one, three, X, Y


def test_the_first_network_is_the_single_model_and_the_others_differ(fitted):
    one, three, X, _ = fitted
    members = three.net_.module_.members
    assert len(members) == 3
    x = torch.as_tensor(np.array(one._validate_X(X)))
    with torch.no_grad():
        torch.testing.assert_close(members[0](x), one.net_.module_(x))
        assert not torch.allclose(members[1](x), members[0](x))


def test_the_first_network_trains_on_as_alone():
    X, Y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = joint(n_models=1, random_state=0).fit(X, Y)
        three = joint(n_models=3, random_state=0).fit(X, Y)
    assert one.continued_epochs_[0] > 0  # the test's case: it trains on
    assert three.continued_epochs_[0] == one.continued_epochs_[0]
    assert len(three.continued_epochs_) == 3


def test_predictions_average_the_networks(fitted):
    _, three, X, _ = fitted
    module = three.net_.module_
    x = torch.as_tensor(np.array(three._validate_X(X)))
    with torch.no_grad():
        outs = [m(x) for m in module.members]
    # regression: the mean of the networks' standardised outputs, in the
    # target's units (an affine map of it)
    mean = np.mean([o[:, 0].numpy() for o in outs], axis=0)
    reg = three.predict(X)["v"].to_numpy()
    slope, intercept = np.polyfit(mean, reg, 1)
    np.testing.assert_allclose(reg, slope * mean + intercept, atol=1e-4 * reg.std())
    proba_c, proba_m = three.predict_proba(X)
    p_up = np.mean([torch.sigmoid(o[:, 1]).numpy() for o in outs], axis=0)
    np.testing.assert_allclose(proba_c[:, 1], p_up, rtol=1e-5, atol=1e-6)
    p_m = np.mean([torch.softmax(o[:, 2:], dim=1).numpy() for o in outs], axis=0)
    np.testing.assert_allclose(proba_m, p_m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(proba_m.sum(axis=1), 1.0, rtol=1e-6)


def test_averaging_beats_the_single_network_on_held_out_rows():
    """What averaging buys: less variance (the regression target's RMSE) and
    better calibrated probabilities (log loss), on rows no network saw.
    (Accuracy moves by a row or two either way at this size.)"""
    from sklearn.metrics import log_loss

    X, Y = _data(900, seed=1)
    train, test = slice(0, 600), slice(600, None)
    rmse, loss = {}, {}
    for n in (1, 4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = joint(n_models=n, random_state=0)
            est.fit(X[train], Y[train])
        error = est.predict(X[test])["v"] - Y["v"][test]
        rmse[n] = float(np.sqrt(np.mean(error**2)))
        proba_c, proba_m = est.predict_proba(X[test])
        classes = est.target_classes_
        loss[n] = log_loss(Y["c"][test], proba_c, labels=classes[1]) + log_loss(
            Y["m"][test], proba_m, labels=classes[2]
        )
    assert rmse[4] < 0.97 * rmse[1]
    assert loss[4] < 0.95 * loss[1]


def test_round_trip_and_further_training(fitted, tmp_path):
    _, three, X, Y = fitted
    loaded = JointRegressorClassifier.load(three.save(tmp_path / "m.safetensors"))
    pd.testing.assert_frame_equal(loaded.predict(X), three.predict(X))
    for a, b in zip(loaded.predict_proba(X), three.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    from sklearn.base import clone

    est = clone(three).set_params(max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
        epochs = est.n_iter_
        est.partial_fit(X, Y)  # all three networks, one more epoch
        assert est.n_iter_ == epochs + 1
        est.set_params(warm_start=True, max_iter=2).fit(X, Y)
    assert est.n_iter_ == epochs + 3
    assert len(est.net_.module_.members) == 3
    assert est.score(X, Y) > 0.5


def test_a_first_partial_fit_builds_every_network():
    X, Y = _data(120)
    est = joint(n_models=2).partial_fit(X, Y)
    assert len(est.net_.module_.members) == 2 and est.n_iter_ == 1
    est.partial_fit(X, Y)
    assert est.n_iter_ == 2
