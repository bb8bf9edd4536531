"""Heads trained on past the network's stop (``continue_heads``; torch only).

A network stops where the total of its targets' validation losses stops
improving. A target that wants more epochs than the others (a small binary
target beside regression targets, say) is still learning there: its own
validation loss falls for several more epochs while the total rises.

The estimator then trains that network further, through skorch's own loop,
on the loss of the targets still learning, while every other head is held to
the outputs it had at the stop by a squared-error term on the training rows
(self-distillation), and keeps the epoch with the best total validation loss
(the stop's weights when no epoch beats them).

Inside:

- ``still_learning``: the targets whose mean validation loss over the
  epochs after the network's best one is below their loss at it, from its
  per-target validation history.
- ``HeldHeadsLoss``: the criterion of that further training: the trained
  ``JointLoss`` with, in training steps only, each held head's loss replaced
  by the squared difference of its outputs from the ones it had. Its
  ``y_true`` is the targets followed by those outputs (``with_outputs``).
"""

import torch
from torch import nn

#: weight of a held head's squared output difference, against the losses of
#: the targets still learning (benchmarks/README.md, "Heads trained on")
HOLD = 1.0


def still_learning(history, best_epoch, tol):
    """The targets (indices) whose mean validation loss over the epochs after
    ``best_epoch`` is below their loss at it by more than ``tol`` (the mean,
    not the lowest: the lowest of a dozen noisy epochs on a few dozen rows
    is below the stop's for nearly every target); ``history``: the network's
    ``(epoch, per-target validation losses)`` of every validated epoch.
    Empty when the best epoch is the last, or was not validated."""
    at = dict(history)
    if best_epoch not in at:
        return []
    later = [losses for epoch, losses in history if epoch > best_epoch]
    if not later:
        return []
    return [
        j
        for j, best in enumerate(at[best_epoch])
        if sum(losses[j] for losses in later) / len(later) < best - tol
    ]


def with_outputs(Y, outputs):
    """``y_true`` of ``HeldHeadsLoss``: the encoded targets, then the network
    outputs to hold (float32, same rows)."""
    return torch.cat([Y, outputs.to(Y.dtype)], dim=-1)


class HeldHeadsLoss(nn.Module):
    """The criterion of further training of some heads (``still_learning``).

    Parameters
    ----------
    loss : JointLoss
        The network's trained criterion; its loss weights (learned ones too)
        are kept as they are.
    learning : sequence of int
        The targets trained on: their own losses.
    head_slices : sequence of slice
        Each target's output columns.
    hold : float
        Weight of the held heads' squared output differences.

    In training steps (``training=True``) a held target's loss is the mean
    squared difference of its outputs from the ones in ``y_true`` after the
    targets, times ``hold`` (and, as any target's loss, its loss weight);
    in validation every target's own loss, so the validation loss that the
    history records and the stopper watches is the network's real total.
    Losses come in the targets' order.
    """

    def __init__(self, loss, learning, head_slices, hold=HOLD):
        super().__init__()
        # not a submodule: its weights (learned ones too) are kept as trained,
        # not trained further here
        object.__setattr__(self, "loss", loss)
        self.n_targets = loss.n_targets
        learning = set(learning)
        self.held = tuple(j not in learning for j in range(self.n_targets))
        self.head_slices = list(head_slices)
        self.hold = float(hold)

    def kind_losses(self, y_pred, y_true, sample_weight=None, training=False):
        """Per-target losses (in the targets' order) and their weights."""
        Y = y_true[..., : self.n_targets]
        losses, weights = self.loss.kind_losses(y_pred, Y, sample_weight)
        losses = self.loss.in_target_order(losses)
        weights = self.loss.in_target_order(weights)
        if not training:
            return losses, weights
        outputs = y_true[..., self.n_targets :]  # each row counts once
        parts = []
        for j, cols in enumerate(self.head_slices):
            if not self.held[j]:
                parts.append(losses[..., j])
                continue
            diff = y_pred[..., cols] - outputs[..., cols]
            parts.append(self.hold * (diff**2).mean())
        return torch.stack(parts, dim=-1), weights

    def in_target_order(self, values):
        return values

    def combine_kinds(self, losses):
        return self.loss.combine(losses)

    def watched(self, losses):
        return self.loss.watched(losses)

    def forward(self, y_pred, y_true, sample_weight=None):
        return self.combine_kinds(self.kind_losses(y_pred, y_true, sample_weight)[0])
