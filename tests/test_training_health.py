"""Training never fails silently: divergence, no progress, settings that
cannot work, and the one-row last batch of batch normalisation."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import joint


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=400)
    return X, y


def _fit(X, y, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        params = {"max_iter": 100, "random_state": 0, "early_stopping": False, **params}
        est = joint(**params)
        est.fit(X, y)
    return est, [str(w.message) for w in caught if w.category is UserWarning]


def test_a_diverging_loss_restores_the_best_weights_and_says_so(data):
    X, y = data
    # a loss that first falls and then climbs (in this configuration)
    est, messages = _fit(
        X,
        y,
        learning_rate_init=10,
        numeric_embedding=None,
        batch_size=256,
        n_models=1,
        hidden_layer_sizes=(64, 32),
        alpha=1e-4,
    )
    assert len(messages) == 1
    assert "the training loss diverged" in messages[0]
    assert "Lower learning_rate_init (now 10)" in messages[0]
    loss = est.history_["train_loss"]
    assert loss.iloc[-1] > 2 * loss.min()
    # the last epoch's weights scored about -4e5 on this data; the restored
    # ones are bad, as the learning rate is, but orders of magnitude better
    assert est.score(X, y) > -1e3


def test_an_exploded_loss_with_early_stopping_says_so(data):
    X, y = data
    est, messages = _fit(X, y, learning_rate_init=10, early_stopping=True)
    assert any(
        "predicts the held-out rows worse than a constant" in m for m in messages
    ), messages
    assert any("Lower learning_rate_init (now 10)" in m for m in messages)


def test_no_progress_is_a_warning(data):
    X, y = data
    for params in ({"learning_rate_init": 1e-12}, {"dropout": 0.999}):
        _, messages = _fit(X, y, **params)
        assert any("did not improve over" in m for m in messages), params


def test_a_healthy_fit_does_not_warn(data):
    X, y = data
    _, messages = _fit(X, y, max_iter=300)
    assert messages == []


def test_a_tiny_training_split_is_a_warning(data):
    X, y = data
    _, messages = _fit(X, y, early_stopping=True, validation_fraction=0.99)
    assert any("validation_fraction=0.99 leaves 4 rows" in m for m in messages)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"loss_weights": [0, 0]}, "loss_weights are all zero"),
        ({"class_weight": {"c": {"a": -1.0}}}, "must be finite and non-negative"),
        ({"class_weight": {"c": {"a": np.nan}}}, "must be finite and non-negative"),
        ({"class_weight": {"c": {"a": 0, "b": 0}}}, "is zero for every class"),
    ],
)
def test_settings_that_cannot_train_are_refused(data, params, match):
    X, y = data
    Y = pd.DataFrame({"n": y, "c": np.where(y > 0, "a", "b")})
    with pytest.raises(ValueError, match=match):
        joint(max_iter=2, **params).fit(X, Y)


@pytest.mark.parametrize("n", [257, 513, 1025])
def test_batch_norm_with_a_one_row_last_batch(n):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 3))
    est = joint(batch_norm=True, max_iter=30, random_state=0)
    assert est.fit(X, X[:, 0]).score(X, X[:, 0]) > 0.5


def test_a_target_with_thousands_of_classes_warns_and_predicts_in_chunks(monkeypatch):
    """An ID typed as classes: a warning that names the fix, and predictions
    computed a few rows at a time (rows x classes logits never at once)."""
    from sklearn_multihead._joint import net as _net

    rng = np.random.RandomState(0)
    n = 1500
    X = rng.normal(size=(n, 3))
    Y = pd.DataFrame({"v": X[:, 0], "id": [f"user{i}" for i in range(n)]})
    est = joint(max_iter=2, n_models=1, early_stopping=False)
    with pytest.warns(UserWarning, match="'id' has 1,500 classes for 1,500 labelled"):
        est.fit(X, Y)
    whole_pred, whole_proba = est.predict(X), est.predict_proba(X)[0]
    sizes = []
    real = _net.JointNet.predict_raw

    def spy(self, X, **kwargs):
        sizes.append(len(X))
        return real(self, X, **kwargs)

    monkeypatch.setattr(_net, "PREDICT_FLOATS", 1501 * 100)
    monkeypatch.setattr("sklearn_multihead._joint.estimator.PREDICT_FLOATS", 1501 * 100)
    monkeypatch.setattr(_net.JointNet, "predict_raw", spy)
    pd.testing.assert_frame_equal(est.predict(X), whole_pred)
    # float64 forward passes of 100 rows and of all rows: equal to ~1e-16
    np.testing.assert_allclose(est.predict_proba(X)[0], whole_proba, rtol=1e-12)
    assert max(sizes) == 100 and sum(sizes) == 2 * n
