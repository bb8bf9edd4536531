"""The joint loss against hand-computed values (``_losses``)."""

import math

import pytest
import torch
import torch.nn.functional as F

from sklearn_multihead._joint.loss import JointLoss

NAN = float("nan")


def _loss(**kwargs):
    base = dict(
        head_kinds=["regression", "binary", "multiclass"],
        head_slices=[slice(0, 1), slice(1, 2), slice(2, 5)],
        loss_weights=[1.0, 1.0, 1.0],
    )
    return JointLoss(**{**base, **kwargs})


def test_per_target_losses_match_hand_computation():
    pred = torch.tensor([[0.5, 2.0, 1.0, 0.0, -1.0], [-1.0, -1.0, 0.0, 2.0, 0.0]])
    true = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    losses, weights = _loss().target_losses(pred, true)
    mse = ((0.5 - 1.0) ** 2 + (-1.0) ** 2) / 2
    bce = F.binary_cross_entropy_with_logits(
        torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0])
    )
    ce = F.cross_entropy(pred[:, 2:], torch.tensor([0, 1]))
    torch.testing.assert_close(losses, torch.stack([torch.tensor(mse), bce, ce]))
    torch.testing.assert_close(weights, torch.tensor([2.0, 2.0, 2.0]))


def test_missing_cells_add_nothing():
    pred = torch.tensor([[0.5, 2.0, 1.0, 0.0, -1.0], [9.0, 9.0, 9.0, -9.0, 0.0]])
    true = torch.tensor([[1.0, 1.0, 0.0], [NAN, NAN, NAN]])
    loss = _loss()
    full, w = loss.target_losses(pred, true)
    alone, _ = loss.target_losses(pred[:1], true[:1])
    torch.testing.assert_close(full, alone)
    torch.testing.assert_close(w, torch.ones(3))
    # gradients of the missing row are exactly zero
    pred.requires_grad_(True)
    loss(pred, true).backward()
    assert torch.all(pred.grad[1] == 0)


def test_target_with_no_known_cell_in_batch_is_zero_not_nan():
    pred = torch.zeros(2, 5)
    true = torch.tensor([[NAN, 1.0, 0.0], [NAN, 0.0, 1.0]])
    losses, weights = _loss().target_losses(pred, true)
    assert losses[0] == 0 and weights[0] == 0 and torch.isfinite(losses).all()


def test_sample_and_class_weights():
    pred = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    true = torch.tensor([[1.0, 1.0, 0.0], [3.0, 0.0, 2.0]])
    sw = torch.tensor([3.0, 1.0])
    loss = _loss(class_weights=[None, [1.0, 2.0], [1.0, 1.0, 4.0]])
    losses, weights = loss.target_losses(pred, true, sw)
    assert losses[0].item() == pytest.approx((3 * 1 + 1 * 9) / 4)
    assert weights[1].item() == pytest.approx(3 * 2 + 1 * 1)
    assert weights[2].item() == pytest.approx(3 * 1 + 1 * 4)
    assert losses[2].item() == pytest.approx(math.log(3))


@pytest.mark.parametrize(
    "kind, expected", [("absolute_error", 0.75), ("huber", (0.125 + 0.5) / 2)]
)
def test_regression_losses(kind, expected):
    loss = JointLoss(
        head_kinds=["regression"],
        head_slices=[slice(0, 1)],
        loss_weights=[1.0],
        regression_loss=kind,
    )
    out = loss(torch.tensor([[0.5], [2.0]]), torch.tensor([[0.0], [1.0]]))
    assert out.item() == pytest.approx(expected)


def test_fixed_and_learned_weights_combine():
    losses = torch.tensor([1.0, 2.0, 3.0])
    assert _loss(loss_weights=[1.0, 0.0, 2.0]).combine(losses).item() == 7.0
    learned = _loss(loss_weights="uncertainty")
    assert learned.log_vars.requires_grad
    # at log-variance 0: 0.5 * L_reg + L_bin + L_cls
    assert learned.combine(losses).item() == pytest.approx(0.5 + 2 + 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="regression_loss must be one of"):
        _loss(regression_loss="l4")
    with pytest.raises(
        ValueError,
        match="loss_weights must be a list of numbers, 'uncertainty' or "
        "'held_out'. Got 'auto' instead",
    ):
        _loss(loss_weights="auto")  # the estimator resolves "auto" by rows


def test_held_out_weights_count_well_learnt_targets_as_one_at_half():
    loss = _loss(loss_weights="held_out")
    losses = torch.tensor([0.01, 0.5, 1.2])
    # equal weights until the first epoch's held-out losses set them
    assert loss.combine(losses).item() == pytest.approx(0.01 + 0.5 + 1.2)
    # held-out / constant: 0.02 (R^2 0.98), 0.25, 0.9 -> weights 25, 2, 1
    loss.weigh_by_held_out([0.02, 0.1, 0.99], [1.0, 0.4, 1.1])
    torch.testing.assert_close(loss.effective_weights(), torch.tensor([25.0, 2, 1]))
    assert loss.combine(losses).item() == pytest.approx(25 * 0.01 + 2 * 0.5 + 1.2)
    # the history and early stopping see the losses with equal weights
    assert loss.watched(losses).item() == pytest.approx(0.01 + 0.5 + 1.2)
    # an exact target is capped, one without known cells keeps 1
    loss.weigh_by_held_out([0.0, 0.1, 0.5], [1.0, 0.4, 0.0])
    torch.testing.assert_close(loss.effective_weights(), torch.tensor([1000.0, 2, 1]))


def test_unmasked_fast_path_equals_masked_path_on_complete_targets():
    pred = torch.randn(6, 5)
    true = torch.tensor([[0.3, 1.0, 2.0]] * 3 + [[-1.0, 0.0, 1.0]] * 3)
    sw = torch.rand(6)
    for weights in (None, sw):
        a, wa = _loss(masked=True).target_losses(pred, true, weights)
        b, wb = _loss(masked=False).target_losses(pred, true, weights)
        torch.testing.assert_close(a, b)
        if wb is None:  # every row counted once
            torch.testing.assert_close(wa, torch.full((3,), 6.0))
        else:
            torch.testing.assert_close(wa, wb)


@pytest.mark.parametrize(
    "loss_weights",
    [[1.0] * 4, [2.0, 0.5, 1.0, 3.0], "uncertainty", "held_out"],
)
@pytest.mark.parametrize("masked", [False, True])
def test_training_path_in_kind_order_equals_target_order(loss_weights, masked):
    # targets interleaved by kind (multiclass, regression, binary, regression):
    # the training loop's kind-order losses give the same total and gradients
    loss = JointLoss(
        head_kinds=["multiclass", "regression", "binary", "regression"],
        head_slices=[slice(0, 3), slice(3, 4), slice(4, 5), slice(5, 6)],
        loss_weights=loss_weights,
        masked=masked,
    )
    if loss.log_vars is not None:
        with torch.no_grad():
            loss.log_vars.copy_(torch.tensor([0.3, -0.2, 0.1, 0.5]))
    if loss.moving == "held_out":  # weights 5, 25, 1, 1
        loss.weigh_by_held_out([0.1, 0.02, 0.3, 0.9], [1.0, 1.0, 0.6, 1.0])
    gen = torch.Generator().manual_seed(0)
    pred = torch.randn(8, 6, generator=gen, requires_grad=True)
    true = torch.stack(
        [
            torch.randint(0, 3, (8,), generator=gen).float(),
            torch.randn(8, generator=gen),
            torch.randint(0, 2, (8,), generator=gen).float(),
            torch.randn(8, generator=gen),
        ],
        dim=1,
    )
    kinds, _ = loss.kind_losses(pred, true)
    by_target, _ = loss.target_losses(pred, true)
    torch.testing.assert_close(loss.in_target_order(kinds), by_target)
    total = loss.combine_kinds(kinds)
    torch.testing.assert_close(total, loss.combine(by_target))
    torch.testing.assert_close(loss(pred, true), total)
    (grad_kinds,) = torch.autograd.grad(total, pred, retain_graph=True)
    (grad_target,) = torch.autograd.grad(loss.combine(by_target), pred)
    torch.testing.assert_close(grad_kinds, grad_target)
