"""Temperature scaling of the classification heads (torch, scipy).

After the networks have trained, each classification head's logits are
divided by one number, its temperature, chosen to minimise the log loss of
the rows each network held out for early stopping, as that network predicts
them (Guo et al., "On calibration of modern neural networks", 2017). The
class a single network predicts does not change; its probabilities get as
sure as its held-out rows show it is. A TabM ensemble's members are
calibrated on their averaged probabilities, as they are predicted.
"""

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar

#: the fewest known held-out labels a head is calibrated on (fewer: 1)
MIN_CALIBRATION_ROWS = 100
#: the range a temperature is searched in
TEMPERATURE_RANGE = (0.05, 20.0)
#: at most this many logits are held to fit one network's temperatures
MAX_CALIBRATION_FLOATS = 2**24


def _member_logits(module, X, columns):
    """``(n, k, len(columns))`` float64 eval-mode outputs of ``module``'s
    ensemble members at ``columns``, a chunk of rows at a time."""
    was_training = module.training
    module.train(False)
    parts = []
    try:
        with torch.inference_mode():
            for start in range(0, len(X), 4096):
                out = module.member_outputs(X[start : start + 4096])
                parts.append(out[:, :, columns].double().cpu())
    finally:
        module.train(was_training)
    return torch.cat(parts)


def _log_loss(z, codes, weights, kind, temperature):
    """The (weighted) log loss of the members' averaged probabilities of
    the logits ``z`` (n, k, classes) divided by ``temperature``."""
    z = z / temperature
    log_k = math.log(z.shape[1])
    if kind == "binary":
        sign = 2.0 * codes - 1.0  # the log probability of the known class
        log_p = torch.nn.functional.logsigmoid(sign[:, None] * z[:, :, 0])
        log_p = torch.logsumexp(log_p, dim=1) - log_k
    else:
        log_p = torch.log_softmax(z, dim=2)
        log_p = torch.logsumexp(log_p, dim=1) - log_k
        log_p = log_p.gather(1, codes.long()[:, None])[:, 0]
    if weights is None:
        return float(-log_p.mean())
    return float(-(weights * log_p).sum() / weights.sum())


def fit_temperature(z, codes, weights, kind):
    """The temperature in ``TEMPERATURE_RANGE`` that minimises the log loss
    of logits ``z`` (n, k, classes) for class codes ``codes``; 1.0 when it
    does not lower the loss at 1 (a flat loss, a degenerate head)."""
    low, high = (math.log(b) for b in TEMPERATURE_RANGE)
    found = minimize_scalar(
        lambda log_t: _log_loss(z, codes, weights, kind, math.exp(log_t)),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-3},
    )
    t = math.exp(found.x)
    at_one = _log_loss(z, codes, weights, kind, 1.0)
    if not math.isfinite(found.fun) or not found.fun < at_one:
        return 1.0
    return t


def _calibrated_heads(head_kinds, n_classes):
    return [
        j
        for j, kind in enumerate(head_kinds)
        if kind == "multiclass" or (kind == "binary" and n_classes[j] == 2)
    ]


class HeldOutLogits:
    """The logits of the rows each network held out, gathered network by
    network (``add``), then one temperature per classification head fitted
    on all of them (``temperatures``): 5 networks that each held out 10% of
    the rows calibrate on half the table, not on 10% of it."""

    def __init__(self, head_kinds, n_classes):
        self.head_kinds = list(head_kinds)
        self.heads = _calibrated_heads(head_kinds, n_classes)
        self.parts = {j: [] for j in self.heads}

    def add(self, module, valid):
        """The logits of ``module`` (one network, its temperatures at 1) on
        its held-out rows ``valid`` (``TensorData`` with encoded targets)."""
        if not self.heads:
            return
        columns = [
            c
            for j in self.heads
            for c in range(module.head_slices[j].start, module.head_slices[j].stop)
        ]
        k = getattr(module, "n_ensemble", 1)
        rows = min(len(valid), max(1, MAX_CALIBRATION_FLOATS // (k * len(columns))))
        z_all = _member_logits(module, valid.X[:rows], columns)
        Y = valid.Y[:rows].double().cpu()
        w = valid.sample_weight
        w = None if w is None else w[:rows].double().cpu()
        start = 0
        for j in self.heads:
            width = module.head_slices[j].stop - module.head_slices[j].start
            z = z_all[:, :, start : start + width]
            start += width
            known = ~torch.isnan(Y[:, j])
            if w is not None:
                known &= w > 0
            weights = None if w is None else w[known]
            self.parts[j].append((z[known], Y[known, j], weights))

    def temperatures(self):
        """Per head, its temperature; 1.0 for regression heads, a binary head
        of one class, and heads with fewer than ``MIN_CALIBRATION_ROWS`` known
        held-out labels."""
        out = np.ones(len(self.head_kinds))
        for j, parts in self.parts.items():
            if sum(len(codes) for _, codes, _ in parts) < MIN_CALIBRATION_ROWS:
                continue
            z = torch.cat([p[0] for p in parts])
            codes = torch.cat([p[1] for p in parts])
            weights = None
            if parts[0][2] is not None:
                weights = torch.cat([p[2] for p in parts])
            out[j] = fit_temperature(z, codes, weights, self.head_kinds[j])
        return out
