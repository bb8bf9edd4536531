"""The joint loss: per-target losses, masks for missing cells, weights (torch only).

Inside:

- ``REGRESSION_LOSSES``: the accepted ``regression_loss`` names.
- ``JointLoss``: an ``nn.Module`` criterion. ``target_losses`` gives the loss of
  every target on a batch (a weighted mean over the rows whose cell is known)
  and the weight behind each; ``combine`` sums them with the target weights:
  fixed, learned ("uncertainty", Kendall, Gal & Cipolla 2018), or set after
  every epoch from the held-out losses ("held_out", ``weigh_by_held_out``);
  ``watched`` is the total that the history records; ``forward``
  does both. The training loop uses ``kind_losses`` / ``combine_kinds``, the
  same values grouped by head kind, which spares a gather (and its backward)
  per step when targets are summed with equal weights; ``in_target_order``
  puts them back in the columns' order.

Targets of one kind are computed together: all regression columns in one
element-wise op, all binary columns in one ``binary_cross_entropy_with_logits``;
each multiclass target is one ``cross_entropy``. ``y_true`` is one float matrix
(standardised numbers, class codes, NaN where a cell is missing).
"""

import torch
import torch.nn.functional as F
from torch import nn

REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber")

#: the loss weights that change during training: learned by gradient
#: (Kendall's) or set from the held-out losses after every epoch
MOVING_WEIGHTS = ("uncertainty", "held_out")

#: "held_out": a target whose held-out loss is below this share of the loss
#: of its best constant prediction is weighted up, to count as much as one
#: at this share (benchmarks/README.md, "Loss weights from held-out losses")
HELD_OUT_SHARE = 0.5
#: ... up to this weight (a target predicted exactly would otherwise get an
#: infinite one)
MAX_HELD_OUT_WEIGHT = 1000.0

#: head kinds, as produced by the estimator from the target types
HEAD_KINDS = ("regression", "binary", "multiclass")


def _elementwise_regression(kind, pred, true):
    if kind == "squared_error":
        return F.mse_loss(pred, true, reduction="none")
    if kind == "absolute_error":
        return F.l1_loss(pred, true, reduction="none")
    return F.huber_loss(pred, true, reduction="none", delta=1.0)


def _columns(positions):
    """A slice when the columns are consecutive (a view, no gather), else a list."""
    if positions and positions == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return list(positions)


def _any(columns):
    return columns.stop > columns.start if isinstance(columns, slice) else bool(columns)


class JointLoss(nn.Module):
    """Weighted sum of per-target losses that ignores missing target cells.

    Parameters
    ----------
    head_kinds : sequence of {"regression", "binary", "multiclass"}
        One per target, in the column order of ``y_true``.
    head_slices : sequence of slice
        Columns of the network output that belong to each target.
    loss_weights : sequence of float, "uncertainty" or "held_out"
        Fixed weight per target; ``"uncertainty"`` learns every target's
        weight as Kendall et al.; ``"held_out"`` starts from equal weights,
        which ``weigh_by_held_out`` sets after every epoch.
    class_weights : sequence of (None or sequence of float), default=None
        Per-class weights of each target (``None`` for regression targets and
        unweighted classification targets).
    regression_loss : {"squared_error", "absolute_error", "huber"}
        Loss of the (standardised) regression targets.
    masked : bool, default=True
        Whether ``y_true`` may hold NaN (missing) cells. False skips the masking
        ops: a faster step when the training targets are complete.
    """

    def __init__(
        self,
        *,
        head_kinds,
        head_slices,
        loss_weights,
        class_weights=None,
        regression_loss="squared_error",
        masked=True,
    ):
        super().__init__()
        self.masked = bool(masked)
        n = len(head_kinds)
        if len(head_slices) != n:
            raise ValueError("head_kinds and head_slices must have the same length.")
        if any(k not in HEAD_KINDS for k in head_kinds):
            raise ValueError(f"head kinds must be in {HEAD_KINDS}. Got {head_kinds}.")
        if regression_loss not in REGRESSION_LOSSES:
            raise ValueError(
                f"regression_loss must be one of {list(REGRESSION_LOSSES)}. "
                f"Got {regression_loss!r} instead."
            )
        class_weights = list(class_weights or [None] * n)
        self.regression_loss = regression_loss
        self.n_targets = n

        def index(kind):
            return [j for j, k in enumerate(head_kinds) if k == kind]

        reg, binary, multi = index("regression"), index("binary"), index("multiclass")
        reg_out = [head_slices[j].start for j in reg]
        bin_out = [head_slices[j].start for j in binary]
        self.reg_cols, self.reg_out = _columns(reg), _columns(reg_out)
        self.bin_cols, self.bin_out = _columns(binary), _columns(bin_out)
        bin_cw = [class_weights[j] or (1.0, 1.0) for j in binary]
        self.bin_weighted = any(class_weights[j] is not None for j in binary)
        self.register_buffer(
            "bin_cw", torch.tensor(bin_cw, dtype=torch.float32).reshape(-1, 2).T
        )
        self.multi = [(j, head_slices[j]) for j in multi]
        for j in multi:
            cw = class_weights[j]
            if cw is not None:
                cw = torch.as_tensor(cw, dtype=torch.float32)
            self.register_buffer(f"cw_{j}", cw)
        kind_order = reg + binary + multi  # target of each position in kind order
        self.reorder = kind_order != sorted(kind_order)
        self.register_buffer("order", torch.argsort(torch.tensor(kind_order)).long())

        factor = [0.5 if k == "regression" else 1.0 for k in head_kinds]
        self.register_buffer("factor", torch.tensor(factor))
        self.moving = None
        self.log_vars = None
        if isinstance(loss_weights, str):
            if loss_weights not in MOVING_WEIGHTS:
                raise ValueError(
                    "loss_weights must be a list of numbers, 'uncertainty' or "
                    f"'held_out'. Got {loss_weights!r} instead."
                )
            self.moving = loss_weights
            if loss_weights == "uncertainty":
                self.log_vars = nn.Parameter(torch.zeros(n))
            self.register_buffer("weights", torch.ones(n))
        else:
            self.register_buffer(
                "weights", torch.as_tensor(list(loss_weights), dtype=torch.float32)
            )
        self.unit_weights = self.moving is None and bool(torch.all(self.weights == 1))

    @staticmethod
    def _reduce(elem, known, weight):
        """Per-column weighted mean over the known cells, and the weight sums.

        The weight sums are None when every cell counts once (no mask, no
        weight): the mean is then over the batch's rows.
        """
        if known is None and weight is None:
            return elem.mean(0), None
        if known is None:
            w = weight.expand_as(elem)
        else:
            w = known.to(elem.dtype)
            if weight is not None:
                w = w * weight
        den = w.sum(0)
        return (elem * w).sum(0) / den.clamp_min(1e-12), den

    def _known(self, true):
        if not self.masked:
            return true, None
        known = ~torch.isnan(true)
        return torch.where(known, true, 0.0), known

    def target_losses(self, y_pred, y_true, sample_weight=None):
        """Loss of each target on this batch and the weight of known cells behind it.

        Returns the losses, a tensor of shape ``(n_targets,)``, and their weights
        (same shape), or None when every row counts once for every target. A
        target with no known cell in the batch has loss 0 and weight 0.
        """
        losses, weights = self.kind_losses(y_pred, y_true, sample_weight)
        return self.in_target_order(losses), self.in_target_order(weights)

    def kind_losses(self, y_pred, y_true, sample_weight=None, training=False):
        """``target_losses`` grouped by head kind: regression, binary, multiclass.
        ``training``: whether the batch is a training step (the same losses
        either way; ``heads.HeldHeadsLoss`` tells them apart).

        Packed networks: ``y_pred`` ``(n, members, outputs)``, ``y_true``
        ``(n, members, targets)`` and ``sample_weight`` ``(n, members)``, each
        member its own rows; the losses and weights are then ``(members,
        n_targets)``, each member's own."""
        sw = None if sample_weight is None else sample_weight[..., None]
        members = y_pred.shape[1:-1]  # () for one network
        losses, dens = [], []
        if _any(self.reg_cols):
            true, known = self._known(y_true[..., self.reg_cols])
            elem = _elementwise_regression(
                self.regression_loss, y_pred[..., self.reg_out], true
            )
            loss, den = self._reduce(elem, known, sw)
            losses.append(loss)
            dens.append(den)
        if _any(self.bin_cols):
            true, known = self._known(y_true[..., self.bin_cols])
            elem = F.binary_cross_entropy_with_logits(
                y_pred[..., self.bin_out], true, reduction="none"
            )
            w = sw
            if self.bin_weighted:
                cw = torch.where(true > 0.5, self.bin_cw[1], self.bin_cw[0])
                w = cw if w is None else w * cw
            loss, den = self._reduce(elem, known, w)
            losses.append(loss)
            dens.append(den)
        for j, sl in self.multi:
            true, known = self._known(y_true[..., j])
            codes = true.long()
            cw = getattr(self, f"cw_{j}")
            logits = y_pred[..., sl]
            if known is None and sw is None and cw is None and not members:
                # every row counts once: the mean inside cross_entropy, one op
                losses.append(F.cross_entropy(logits, codes).reshape(1))
                dens.append(None)
                continue
            elem = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                codes.reshape(-1),
                reduction="none",
            ).reshape(codes.shape)
            w = sw[..., 0] if sw is not None else None
            if cw is not None:
                w = cw[codes] if w is None else w * cw[codes]
            loss, den = self._reduce(elem, known, w)
            losses.append(loss.reshape(*members, 1))
            dens.append(None if den is None else den.reshape(*members, 1))
        if all(d is None for d in dens):
            weights = None
        else:
            n = float(len(y_pred))
            weights = torch.cat(
                [
                    torch.full_like(lo, n) if d is None else d
                    for lo, d in zip(losses, dens)
                ],
                dim=-1,
            )
        return torch.cat(losses, dim=-1), weights

    def in_target_order(self, values):
        """Per-target values from kind order (``kind_losses``) to column order."""
        if values is None or not self.reorder:
            return values
        return values[..., self.order]

    def combine(self, losses):
        """Total loss from per-target losses (fixed or learned weights)."""
        if self.unit_weights:
            return losses.sum()
        if self.log_vars is None:
            return (self.weights * losses).sum()
        s = self.log_vars
        return (self.factor * torch.exp(-s) * losses + 0.5 * s).sum()

    def watched(self, losses):
        """The total that the history records and early stopping watches:
        ``combine``, except with "held_out" weights, which only steer the
        gradient and change every epoch: the targets' losses are then
        watched with equal weights, comparable from epoch to epoch."""
        if self.moving == "held_out":
            return losses.sum()
        return self.combine(losses)

    def weigh_by_held_out(self, held_out, constant):
        """Set each target's weight (``"held_out"``) from its held-out loss
        relative to the loss of its best constant prediction (for a
        standardised regression target about 1 - R^2): ``HELD_OUT_SHARE``
        over that share, never below 1 nor above ``MAX_HELD_OUT_WEIGHT``.
        A target without known cells (constant loss 0) keeps weight 1."""
        device = self.weights.device
        held_out = torch.as_tensor(held_out, dtype=torch.float32, device=device)
        constant = torch.as_tensor(constant, dtype=torch.float32, device=device)
        share = held_out / constant.clamp_min(1e-12)
        weights = (HELD_OUT_SHARE / share.clamp_min(1e-12)).clamp(
            1.0, MAX_HELD_OUT_WEIGHT
        )
        weights = torch.where(constant > 0, weights, torch.ones_like(weights))
        self.weights.copy_(weights)

    def combine_kinds(self, losses):
        """``combine`` of losses in kind order (from ``kind_losses``): a plain
        sum needs no reordering; per-target weights do."""
        if self.unit_weights:
            return losses.sum()
        return self.combine(self.in_target_order(losses))

    def effective_weights(self):
        """The current weight of every target (learned ones included)."""
        if self.log_vars is None:
            return self.weights.detach().clone()
        return (self.factor * torch.exp(-self.log_vars)).detach()

    def forward(self, y_pred, y_true, sample_weight=None):
        return self.combine_kinds(self.kind_losses(y_pred, y_true, sample_weight)[0])
