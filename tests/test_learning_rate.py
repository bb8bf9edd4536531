"""learning_rate="adaptive": the rate is divided by 5 when the watched loss
stalls, and further training starts again from learning_rate_init."""

import numpy as np
import pandas as pd
import pytest
from conftest import joint

INIT = 4e-3


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 6))
    signal = X @ rng.normal(size=6)
    Y = pd.DataFrame(
        {
            "v": signal + 0.5 * rng.normal(size=600),  # noise: the loss stalls
            "c": np.where(signal + rng.normal(size=600) > 0, "hi", "lo"),
        }
    )
    return X, Y


@pytest.fixture(scope="module")
def adaptive(data):
    X, Y = data
    est = joint(
        learning_rate="adaptive",
        learning_rate_init=INIT,
        n_iter_no_change=8,
        max_iter=80,
        random_state=0,
    )
    return est.fit(X, Y)


def test_the_rate_is_cut_by_five_only_after_the_validation_loss_stalled(adaptive):
    history = adaptive.history_
    rates = history["event_lr"].to_numpy()
    assert rates[0] == pytest.approx(INIT)
    cuts = np.flatnonzero(rates[1:] < rates[:-1]) + 1
    assert len(cuts) >= 1, "a noisy target's validation loss stalls: expected a cut"
    assert np.all(np.diff(rates) <= 0)
    # every rate is the first divided by a power of 5
    powers = np.log(INIT / rates) / np.log(5)
    np.testing.assert_allclose(powers, np.round(powers), atol=1e-6)
    # before the first cut, the best validation loss was at least 2 epochs
    # old (n_iter_no_change // 4 = 2 epochs without an improvement of tol)
    valid = history["valid_loss"].to_numpy()[: cuts[0]]
    assert len(valid) - 1 - np.argmin(valid) >= 2


def test_a_constant_rate_has_no_schedule(data):
    X, Y = data
    est = joint(max_iter=5, random_state=0).fit(X, Y)
    assert "event_lr" not in est.history_
    assert est.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(4e-3)


def test_without_early_stopping_the_training_loss_is_watched(data):
    X, Y = data
    est = joint(
        learning_rate="adaptive",
        early_stopping=False,
        n_iter_no_change=4,
        tol=0.05,  # a coarse tol: the training loss soon stops improving by it
        max_iter=30,
        random_state=0,
    ).fit(X, Y)
    assert "valid_loss" not in est.history_
    assert est.history_["event_lr"].iloc[-1] < INIT


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_further_training_starts_again_from_learning_rate_init(data, how):
    X, Y = data
    est = joint(
        learning_rate="adaptive",
        n_iter_no_change=8,
        max_iter=80,
        random_state=0,
    ).fit(X, Y)
    assert est.history_["event_lr"].iloc[-1] < INIT
    n_before = len(est.history_)
    if how == "partial_fit":
        est.partial_fit(X, Y)
    else:
        est.set_params(warm_start=True, max_iter=3).fit(X, Y)
    assert est.history_["event_lr"].iloc[n_before] == pytest.approx(INIT)
