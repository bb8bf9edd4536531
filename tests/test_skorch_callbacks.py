"""skorch's callbacks on the joint network see what they see on a plain
skorch ``NeuralNet``: every batch and gradient, per-batch and per-epoch
learning-rate schedules, gradient clipping, checkpoints, epoch scoring."""

import numpy as np
import pandas as pd
import pytest
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EpochScoring,
    GradientNormClipping,
    LRScheduler,
)
from torch.optim.lr_scheduler import StepLR

from sklearn_multihead import JointRegressorClassifier

N_ROWS, BATCH = 400, 64


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(N_ROWS, 4)).astype(np.float32)
    Y = pd.DataFrame({"v": X[:, 0] * 2.0 + X[:, 1], "k": X[:, 2] > 0})
    return X, Y


class Events(Callback):
    """Records every notification a net sends, in order."""

    def __init__(self):
        self.seen = []

    def initialize(self):
        self.seen = []
        return self

    def on_train_begin(self, net, **kwargs):
        self.seen.append("train_begin")

    def on_epoch_begin(self, net, **kwargs):
        self.seen.append("epoch_begin")

    def on_batch_begin(self, net, training=None, **kwargs):
        self.seen.append(f"batch_begin/{'train' if training else 'valid'}")

    def on_grad_computed(self, net, named_parameters=None, **kwargs):
        self.seen.append("grad")

    def on_batch_end(self, net, training=None, **kwargs):
        self.seen.append(f"batch_end/{'train' if training else 'valid'}")

    def on_epoch_end(self, net, **kwargs):
        self.seen.append("epoch_end")

    def on_train_end(self, net, **kwargs):
        self.seen.append("train_end")


def fit_joint(X, Y, callbacks, **params):
    settings = dict(
        n_models=1,
        hidden_layer_sizes=(16,),
        batch_size=BATCH,
        max_iter=3,
        n_iter_no_change=100,
        random_state=0,
    )
    est = JointRegressorClassifier(**{**settings, **params}, callbacks=callbacks)
    return est.fit(X, Y)


def test_a_callback_sees_every_batch_and_gradient_as_on_a_plain_skorch_net(data):
    X, Y = data
    ours = Events()
    est = fit_joint(X, Y, [ours], early_stopping=False)
    plain = Events()
    NeuralNetRegressor(
        torch.nn.Linear(4, 1),
        max_epochs=3,
        batch_size=BATCH,
        train_split=None,
        callbacks=[plain],
        verbose=0,
    ).fit(X, X[:, :1])
    assert ours.seen == plain.seen
    batches = -(-N_ROWS // BATCH)  # 7 batches of at most 64 rows
    assert ours.seen.count("grad") == 3 * batches == est.n_iter_ * batches


def test_validation_batches_are_notified_too(data):
    X, Y = data
    seen = Events()
    fit_joint(X, Y, [seen], early_stopping=True)
    assert seen.seen.count("batch_end/valid") == 3  # 40 held-out rows: 1 batch
    assert seen.seen.count("batch_end/train") == 3 * -(-360 // BATCH)


class GradNorms(Callback):
    """The total gradient norm each step, as the optimizer will see it."""

    def __init__(self):
        self.norms = []

    def on_grad_computed(self, net, named_parameters=None, **kwargs):
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        self.norms.append(
            float(
                torch.linalg.vector_norm(
                    torch.stack([torch.linalg.vector_norm(g) for g in grads])
                )
            )
        )


def test_gradient_norm_clipping_clips(data):
    X, Y = data
    free = GradNorms()
    fit_joint(X, Y, [free], learning_rate_init=0.05)
    clipped = GradNorms()
    fit_joint(
        X,
        Y,
        [GradientNormClipping(gradient_clip_value=0.01), clipped],
        learning_rate_init=0.05,
    )
    assert max(free.norms) > 0.1
    assert max(clipped.norms) <= 0.01 * (1 + 1e-4)


class LearningRates(Callback):
    def __init__(self):
        self.rates = []

    def on_batch_begin(self, net, training=None, **kwargs):
        if training:
            self.rates.append(net.optimizer_.param_groups[0]["lr"])


@pytest.mark.parametrize("every", ["batch", "epoch"])
def test_lr_scheduler_steps_per_batch_or_per_epoch(data, every):
    X, Y = data
    rates = LearningRates()
    schedule = LRScheduler(StepLR, step_every=every, step_size=1, gamma=0.5)
    fit_joint(X, Y, [schedule, rates], early_stopping=False, learning_rate_init=0.01)
    batches = -(-N_ROWS // BATCH)
    if every == "batch":
        expected = [0.01 * 0.5**i for i in range(3 * batches)]
    else:
        expected = [0.01 * 0.5**e for e in range(3) for _ in range(batches)]
    np.testing.assert_allclose(rates.rates, expected)


def test_checkpoint_writes_the_best_epoch_and_it_loads(data, tmp_path):
    X, Y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor="valid_loss_best")
    est = fit_joint(X, Y, [checkpoint], max_iter=6, early_stopping=True)
    assert (tmp_path / "params.pt").is_file()
    history = est.net_.history
    best = max(i for i, h in enumerate(history) if h["valid_loss_best"])
    assert history[best, "event_cp"] is True
    before = est.predict_proba(X)
    est.net_.module_.apply(
        lambda m: (
            torch.nn.init.zeros_(m.weight) if isinstance(m, torch.nn.Linear) else None
        )
    )
    est.net_.load_params(checkpoint=checkpoint)
    # the best epoch's weights (early stopping restored the same ones)
    np.testing.assert_allclose(est.predict_proba(X)[0], before[0], rtol=1e-6)


def test_epoch_scoring_records_a_score_of_the_network(data):
    X, Y = data

    def first_weight(net, X=None, y=None):
        return float(next(net.module_.parameters()).detach().abs().sum())

    scoring = EpochScoring(first_weight, name="weight_sum", use_caching=False)
    est = fit_joint(X, Y, [scoring], early_stopping=True)
    scores = [h["weight_sum"] for h in est.net_.history]
    assert len(scores) == 3 and len(set(scores)) == 3
