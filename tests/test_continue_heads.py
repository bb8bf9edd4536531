"""``continue_heads``: a target still learning when its network stopped is
trained on, the other heads held to their outputs."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import log_loss, mean_squared_error
from skorch.callbacks import Callback

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint.heads import HeldHeadsLoss, still_learning, with_outputs
from sklearn_multihead._joint.loss import JointLoss


def slow_and_fast(n, seed):
    """A regression target that is mostly noise (its validation loss is
    lowest after a few epochs, then the network fits the noise) beside a
    class target of an interaction that takes many more epochs to learn."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 6))
    noisy = X[:, 0] + 3.0 * rng.normal(size=n)
    z = np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.1 * rng.normal(size=n)
    Y = pd.DataFrame({"noisy": noisy, "flag": np.where(z > 0, "yes", "no")})
    return pd.DataFrame(X, columns=list("abcdef")), Y


@pytest.fixture(scope="module")
def fitted():
    X, Y = slow_and_fast(1400, 0)
    train, test = slice(0, 400), slice(400, None)
    models = {
        flag: JointRegressorClassifier(
            random_state=0, continue_heads=flag, target_networks=False
        ).fit(X[train], Y[train])
        for flag in (False, True)
    }
    return models, X[test], Y[test]


def test_the_slow_target_gains_and_the_held_one_keeps(fitted):
    models, X, Y = fitted
    loss = {}
    rmse = {}
    for flag, model in models.items():
        proba = model.predict_proba(X)[0]
        loss[flag] = log_loss(Y["flag"], proba, labels=model.target_classes_[1])
        pred = model.predict(X)["noisy"]
        rmse[flag] = mean_squared_error(Y["noisy"], pred) ** 0.5
    # measured: 0.182 -> 0.156 log loss, RMSE 3.26 -> 3.28
    assert loss[True] < 0.93 * loss[False]
    assert rmse[True] < 1.02 * rmse[False]
    assert models[False].continued_epochs_ == []
    kept = models[True].continued_epochs_
    assert len(kept) == 5 and any(e > 0 for e in kept)


def test_labels_and_types_are_kept(fitted):
    models, X, Y = fitted
    pred = models[True].predict(X)
    assert list(pred.columns) == ["noisy", "flag"]
    assert set(pred["flag"]) <= {"yes", "no"}
    assert pred["noisy"].dtype == np.float64


def test_no_further_training_without_early_stopping_or_with_an_ensemble():
    X, Y = slow_and_fast(300, 1)
    for params in ({"early_stopping": False}, {"n_ensemble": 2, "n_models": 1}):
        model = JointRegressorClassifier(
            random_state=0, max_iter=5, hidden_layer_sizes=(16,), **params
        ).fit(X, Y)
        assert model.continued_epochs_ == []


def test_still_learning():
    history = [(1, [1.0, 1.0]), (2, [0.8, 0.9]), (3, [0.9, 0.7]), (4, [1.0, 0.8])]
    assert still_learning(history, 2, tol=1e-4) == [1]
    assert still_learning(history, 3, tol=1e-4) == []  # nothing fell after it
    assert still_learning(history, 4, tol=1e-4) == []  # the last epoch
    assert still_learning(history, 2, tol=0.5) == []  # a fall within tol
    assert still_learning(history[1:], 1, tol=1e-4) == []  # not validated
    # one lucky epoch is not learning: the mean after the stop is higher
    dip = [(1, [1.0]), (2, [0.9]), (3, [1.2]), (4, [1.2])]
    assert still_learning(dip, 1, tol=1e-4) == []


def test_held_heads_loss():
    slices = [slice(0, 1), slice(1, 2), slice(2, 5)]
    kinds = ["regression", "binary", "multiclass"]
    joint = JointLoss(head_kinds=kinds, head_slices=slices, loss_weights=[1, 1, 1])
    torch.manual_seed(0)
    out = torch.randn(8, 5)
    Y = torch.stack(
        [torch.randn(8), torch.randint(0, 2, (8,)).float(), torch.randint(0, 3, (8,))],
        dim=1,
    ).float()
    held = HeldHeadsLoss(joint, learning=[1], head_slices=slices)
    y_true = with_outputs(Y, out)
    own, _ = joint.target_losses(out, Y)
    # validation: every target's own loss
    valid, _ = held.kind_losses(out, y_true, training=False)
    torch.testing.assert_close(valid, own)
    # training: held heads cost nothing at the outputs they hold ...
    train, _ = held.kind_losses(out, y_true, training=True)
    torch.testing.assert_close(
        train, torch.stack([torch.tensor(0.0), own[1], 0 * own[2]])
    )
    # ... and their squared difference away from them
    moved = out.clone()
    moved[:, 2:5] += 0.5
    train, _ = held.kind_losses(moved, y_true, training=True)
    assert train[2].item() == pytest.approx(0.25)
    assert train[0].item() == 0.0


class CountEpochs(Callback):
    def initialize(self):
        self.epochs = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_user_callbacks_keep_what_they_saw_of_the_fit():
    X, Y = slow_and_fast(400, 0)
    seen = {}
    for flag in (False, True):
        counter = CountEpochs()
        model = JointRegressorClassifier(
            random_state=0, callbacks=[counter], continue_heads=flag
        ).fit(X, Y)
        seen[flag] = counter.epochs
    assert any(e > 0 for e in model.continued_epochs_)  # it did train on
    assert seen[True] == seen[False] > 0


def test_learned_loss_weights_are_kept_while_heads_train_on():
    X, Y = slow_and_fast(400, 0)
    learned = {}
    for flag in (False, True):
        model = JointRegressorClassifier(
            random_state=5, n_models=1, loss_weights="uncertainty", continue_heads=flag
        ).fit(X, Y)
        learned[flag] = model.net_.criterion_.log_vars.detach().clone()
    assert model.continued_epochs_[0] > 0  # it did train on
    torch.testing.assert_close(learned[True], learned[False], rtol=0, atol=0)
