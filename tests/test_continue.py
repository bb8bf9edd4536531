"""warm_start and partial_fit: training goes on from where it was."""

import numpy as np
import pandas as pd
import pytest
from conftest import joint

from sklearn_multihead import JointRegressorClassifier


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 5))
    n = X @ rng.normal(size=5)
    Y = pd.DataFrame({"n": n, "c": np.where(X[:, 0] > 0, "hi", "lo")})
    return X, Y


def test_warm_start_continues_the_loss_curve(data):
    X, Y = data
    est = joint(
        max_iter=10,
        n_iter_no_change=100,
        warm_start=True,
        early_stopping=False,
        n_models=1,
        random_state=0,
    )
    first = est.fit(X, Y).loss_curve_
    assert len(first) == 10 and est.best_loss_ == min(first)
    est.fit(X, Y)
    curve = est.loss_curve_
    assert len(curve) == est.n_iter_ == 20
    assert curve[:10] == first
    assert curve[10] < 1.2 * first[-1]  # goes on from where it was ...
    assert curve[10] < 0.8 * first[0]  # ... not from a fresh start
    assert list(est.history_.index) == list(range(1, 21))


def test_without_warm_start_fit_starts_again(data):
    X, Y = data
    est = joint(max_iter=10, n_iter_no_change=100, random_state=0)
    first = est.fit(X, Y).loss_curve_
    assert est.fit(X, Y).loss_curve_ == first


def test_partial_fit_over_chunks_comes_close_to_one_fit(data):
    X, Y = data
    chunked = joint(random_state=0)
    for _ in range(20):
        for rows in np.array_split(np.arange(len(X)), 3):
            chunked.partial_fit(X[rows], Y.iloc[rows])
    assert chunked.n_iter_ == 60
    whole = joint(max_iter=20, random_state=0).fit(X, Y)
    assert chunked.score(X, Y) == pytest.approx(whole.score(X, Y), abs=0.05)
    assert chunked.score(X, Y) > 0.8


def test_partial_fit_keeps_the_first_calls_targets(data):
    X, Y = data
    est = joint(random_state=0).partial_fit(X[:100], Y[:100])
    with pytest.raises(ValueError, match=r"labels not seen in fit: \['mid'\]"):
        est.partial_fit(X[:3], Y[:3].assign(c=["hi", "mid", "lo"]))
    with pytest.raises(ValueError, match="y has the target columns"):
        est.partial_fit(X[:3], Y[:3].rename(columns={"n": "m"}))
    with pytest.raises(ValueError, match="X has 4 features"):
        est.partial_fit(X[:3, :4], Y[:3])
    w = np.linspace(0, 1, 100)
    assert est.partial_fit(X[100:200], Y[100:200], sample_weight=w).n_iter_ == 2


def test_a_loaded_model_cannot_continue(data, tmp_path):
    X, Y = data
    est = joint(max_iter=3, warm_start=True).fit(X, Y)
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "m.safetensors"))
    assert loaded.loss_curve_ == est.loss_curve_
    with pytest.raises(ValueError, match="no optimiser state to continue from"):
        loaded.partial_fit(X, Y)


def test_validation_scores_in_scikit_learns_meaning(data, tmp_path):
    X, Y = data
    est = joint(early_stopping=True, random_state=0).fit(X, Y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ and est.best_loss_ is None
    assert est.best_validation_score_ == max(scores)
    # the held-out score improves: its shortfall from 1 at least halves
    assert 1 - np.mean(scores[-5:]) < 0.5 * (1 - scores[0])
    assert all(s <= 1.0 for s in scores)
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "m.safetensors"))
    assert loaded.validation_scores_ == scores
    plain = joint(max_iter=5, early_stopping=False).fit(X, Y)
    assert plain.validation_scores_ is None and plain.best_validation_score_ is None


def test_predictions_follow_the_weights_after_more_training(tmp_path):
    """predict runs on a float64 copy of the network, kept between calls: more
    training, or an edit of the weights, must show in the next predictions."""
    import torch

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    est = joint(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    est.fit(X, y)
    first = est.predict_proba(X)
    np.testing.assert_array_equal(est.predict_proba(X), first)  # the kept copy
    est.partial_fit(X, y)
    trained = est.predict_proba(X)
    assert np.abs(trained - first).max() > 1e-4
    # the same as a model rebuilt from the new weights
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(loaded.predict_proba(X), trained)
    with torch.no_grad():
        next(est.net_.module_.parameters()).add_(0.5)
    assert np.abs(est.predict_proba(X) - trained).max() > 1e-4


def test_predicting_from_another_thread_never_changes_the_training_mode():
    """A predict while partial_fit trains (another thread) runs on its own
    copy of the weights: every training step keeps dropout and batch norm in
    training mode."""
    import threading

    from skorch.callbacks import Callback

    class Modes(Callback):
        def __init__(self):
            self.seen = []

        def on_batch_end(self, net, training=None, **kwargs):
            if training:  # the mode its step ran in (a fitted model rests in eval)
                self.seen.append(net.module_.training)

    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 4))
    y = X[:, 0] + X[:, 1]
    modes = Modes()
    est = joint(
        dropout=0.2, batch_norm=True, batch_size=16, max_iter=1, callbacks=[modes]
    )
    est.partial_fit(X, y)
    stop = threading.Event()

    def predict_in_a_loop():
        while not stop.is_set():
            est.predict(X[:50])

    other = threading.Thread(target=predict_in_a_loop)
    other.start()
    try:
        for _ in range(3):
            est.partial_fit(X, y)
    finally:
        stop.set()
        other.join()
    assert len(modes.seen) == 4 * 38  # 600 rows in batches of 16, 4 epochs
    assert all(modes.seen)


@pytest.mark.parametrize("pack_models", [True, False])
def test_further_training_with_dropout_repeats_and_keeps_the_users_state(
    data, pack_models
):
    import torch

    X, Y = data
    runs = []
    for user_seed in (1, 2):  # the user's own torch state differs
        torch.manual_seed(user_seed)
        est = joint(
            dropout=0.2,
            n_models=2,
            pack_models=pack_models,
            warm_start=True,
            random_state=0,
        ).fit(X, Y)
        est.set_params(max_iter=3)
        state = torch.get_rng_state()
        est.fit(X, Y)  # trained further: dropout's masks from random_state
        assert torch.equal(torch.get_rng_state(), state)
        est.partial_fit(X, Y)
        runs.append(est.predict(X)["n"].to_numpy())
    np.testing.assert_array_equal(runs[0], runs[1])


def test_further_training_updates_batch_norm_statistics(data):
    X, Y = data
    est = joint(
        batch_norm=True, n_models=2, max_iter=5, warm_start=True, random_state=0
    ).fit(X, Y)

    def running_means():
        return [
            m.running_mean.clone()
            for m in est.net_.module_.modules()
            if hasattr(m, "running_mean")
        ]

    before = running_means()
    assert len(before) == 4  # two layers of each of the two networks
    est.set_params(max_iter=1).fit(X, Y)  # one epoch, in training mode
    for old, new in zip(before, running_means()):
        assert not np.allclose(old.numpy(), new.numpy())
