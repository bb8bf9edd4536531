"""The torch network: a shared trunk and one head per target (torch only).

Inside:

- ``ACTIVATIONS``: the activation names the estimator accepts.
- ``build_module``: the network a configuration describes (one
  ``MultiHeadMLP``, or ``AveragedMLPs`` of ``n_models`` of them).
- ``AveragedMLPs``: networks fitted apart (each with its own initial weights
  and validation split) whose predictions are averaged; trained further
  together, each on its own loss.
- ``MultiHeadMLP``: trunk of ``Linear -> [BatchNorm] -> activation -> [Dropout]``
  blocks, then the heads. Heads without hidden layers share one fused output
  layer (one matrix product for all of them); with ``head_hidden_layer_sizes``
  every head gets its own small MLP. ``forward`` returns one tensor of shape
  ``(n_samples, sum(head_sizes))``; head ``j`` owns the columns
  ``head_slices[j]``.

No training code lives here (the rtdl convention): the module is a plain
``nn.Module`` with keyword-only, checked arguments.
"""

import math

import torch
from torch import nn

from sklearn_multihead._inputs import FeatureInput

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def _check_sizes(name, sizes):
    sizes = tuple(sizes)
    if any(int(s) != s or s < 1 for s in sizes):
        raise ValueError(f"{name} must hold positive integers. Got {sizes} instead.")
    return tuple(int(s) for s in sizes)


class _BatchNormLastDim(nn.BatchNorm1d):
    """Batch normalisation of ``(n, k, d)`` ensemble activations over d."""

    def forward(self, x):
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def _linear(n_in, n_out, k, first):
    if k == 1:
        return nn.Linear(n_in, n_out)
    from tabm import LinearBatchEnsemble

    # TabM's initialisation: random signs for the very first adapter, ones after
    init = ("random-signs", "ones") if first else "ones"
    return LinearBatchEnsemble(n_in, n_out, k=k, scaling_init=init)


def _mlp_blocks(n_in, sizes, *, activation, dropout, batch_norm, k=1):
    layers = []
    for n_out in sizes:
        layers.append(_linear(n_in, n_out, k, first=not layers))
        if batch_norm:
            layers.append(_BatchNormLastDim(n_out) if k > 1 else nn.BatchNorm1d(n_out))
        # ReLU overwrites the pre-activation it reads (nothing else needs it):
        # one buffer less per layer, in training and in predict
        layers.append(
            nn.ReLU(inplace=True) if activation == "relu" else ACTIVATIONS[activation]()
        )
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = n_out
    return layers, n_in


class MultiHeadMLP(nn.Module):
    """Shared MLP trunk with one output head per target.

    Parameters
    ----------
    n_features : int
        Width of the input.
    head_sizes : sequence of int
        Number of outputs of each head (1 for a regression or binary target,
        ``n_classes`` for a multiclass target).
    hidden_layer_sizes : sequence of int, default=(128, 64)
        Widths of the shared trunk's hidden layers; empty for a linear model.
    head_hidden_layer_sizes : sequence of int, default=()
        Widths of hidden layers private to each head; empty to fuse all heads
        into one output layer.
    activation : str, default="relu"
        One of ``ACTIVATIONS``.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
    init : {"he", "default"}, default="he"
        ``"he"``: He-normal weights and zero biases in hidden layers (suited to
        ReLU); ``"default"``: torch's own initialisation.
    inputs : dict or None, default=None
        Keyword arguments of an input layer (``_inputs.FeatureInput``: numeric
        transform, missing indicators, embeddings) placed before the trunk,
        which takes its output. None: X goes to the trunk as it is.
    n_ensemble : int, default=1
        k > 1: TabM's parameter-efficient ensemble (Gorishniy et al. 2025): k
        trunks that share their weights up to rank-one adapters
        (``tabm.LinearBatchEnsemble``), each with its own output layer. In
        training ``forward`` returns ``(n_samples, k, n_outputs)``, one
        prediction per member (each member is trained on its own loss); in
        eval mode the members' predictions are averaged (means of regression
        outputs, of probabilities for classes, returned as logits).
    head_kinds : sequence of str or None, default=None
        ``"regression"``, ``"binary"`` or ``"multiclass"`` per head: how the
        ensemble's members are averaged (needed with ``n_ensemble > 1``).
    """

    def __init__(
        self,
        *,
        n_features,
        head_sizes,
        hidden_layer_sizes=(128, 64),
        head_hidden_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        init="he",
        inputs=None,
        n_ensemble=1,
        head_kinds=None,
    ):
        super().__init__()
        if int(n_features) != n_features or n_features < 1:
            raise ValueError(f"n_features must be >= 1. Got {n_features} instead.")
        head_sizes = _check_sizes("head_sizes", head_sizes)
        if not head_sizes:
            raise ValueError("head_sizes must name at least one head.")
        hidden = _check_sizes("hidden_layer_sizes", hidden_layer_sizes)
        head_hidden = _check_sizes("head_hidden_layer_sizes", head_hidden_layer_sizes)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}. "
                f"Got {activation!r} instead."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1). Got {dropout} instead.")
        if init not in ("he", "default"):
            raise ValueError(f"init must be 'he' or 'default'. Got {init!r} instead.")

        k = int(n_ensemble)
        if k != n_ensemble or k < 1:
            raise ValueError(f"n_ensemble must be >= 1. Got {n_ensemble} instead.")
        if k > 1 and head_hidden:
            raise ValueError(
                "n_ensemble > 1 needs heads without hidden layers "
                "(head_hidden_layer_sizes=())."
            )
        if k > 1 and not hidden:
            raise ValueError("n_ensemble > 1 needs at least one hidden layer.")
        if k > 1 and (
            head_kinds is None
            or len(head_kinds) != len(head_sizes)
            or any(
                kind not in ("regression", "binary", "multiclass")
                or (kind != "multiclass") != (size == 1)
                for kind, size in zip(head_kinds, head_sizes)
            )
        ):
            raise ValueError("n_ensemble > 1 needs one valid head kind per head.")
        self.n_ensemble = k
        self.head_kinds = None if head_kinds is None else list(head_kinds)
        self.inputs = None
        n_in = int(n_features)
        if inputs is not None:
            self.inputs = FeatureInput(**inputs)
            if self.inputs.n_numeric + self.inputs.n_categorical != n_in:
                raise ValueError("the input layer does not take n_features columns.")
            n_in = self.inputs.out_features
        blocks = dict(activation=activation, dropout=dropout, batch_norm=batch_norm)
        layers, width = _mlp_blocks(n_in, hidden, k=k, **blocks)
        self.trunk = nn.Sequential(*layers)
        self.head_sizes = head_sizes
        starts = [sum(head_sizes[:j]) for j in range(len(head_sizes))]
        self.head_slices = [slice(s, s + k) for s, k in zip(starts, head_sizes)]
        if head_hidden:
            self.heads = nn.ModuleList()
            for k in head_sizes:
                layers, w = _mlp_blocks(width, head_hidden, **blocks)
                self.heads.append(nn.Sequential(*layers, nn.Linear(w, k)))
            self.output = None
        elif k > 1:
            from tabm import LinearEnsemble

            self.heads = None
            self.output = LinearEnsemble(width, sum(head_sizes), k=k)
        else:
            self.heads = None
            self.output = nn.Linear(width, sum(head_sizes))
        if init == "he":
            self._init_he()

    def _init_he(self):
        last = {id(m) for m in ([self.output] if self.output is not None else [])}
        if self.heads is not None:
            last |= {id(h[-1]) for h in self.heads}
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if id(m) in last:
                    nn.init.xavier_uniform_(m.weight)
                else:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, X):
        if self.n_ensemble > 1:
            out = self.member_outputs(X)
            return out if self.training else average_members(out, self)
        h = self.trunk(X if self.inputs is None else self.inputs(X))
        if self.output is not None:
            return self.output(h)
        return torch.cat([head(h) for head in self.heads], dim=1)

    def member_outputs(self, X):
        """``(n, k, outputs)``: each ensemble member's outputs, not averaged."""
        if self.n_ensemble == 1:
            return self.forward(X).unsqueeze(1)
        h = X if self.inputs is None else self.inputs(X)
        h = h.unsqueeze(1).expand(-1, self.n_ensemble, -1)
        return self.output(self.trunk(h))


class AveragedMLPs(nn.Module):
    """``MultiHeadMLP`` networks side by side: in training, every member's
    outputs as ``(n, members, outputs)`` (each trained on its own loss); in
    eval, their average (``average_members``)."""

    def __init__(self, members):
        super().__init__()
        if len(members) < 2 or any(m.head_kinds is None for m in members):
            raise ValueError("AveragedMLPs needs 2 or more networks with head kinds.")
        self.members = nn.ModuleList(members)
        first = members[0]
        self.head_sizes, self.head_slices = first.head_sizes, first.head_slices
        self.head_kinds = first.head_kinds
        self.n_ensemble = sum(m.n_ensemble for m in members)

    def forward(self, X):
        out = self.member_outputs(X)
        return out if self.training else average_members(out, self)

    def member_outputs(self, X):
        return torch.cat([m.member_outputs(X) for m in self.members], dim=1)


def average_members(out, module):
    """``(n, k, outputs)`` -> ``(n, outputs)``: the mean of the members'
    numbers, or logits of the mean of their probabilities."""
    parts = []
    log_k = math.log(out.shape[1])
    for kind, cols in zip(module.head_kinds, module.head_slices):
        z = out[:, :, cols]
        if kind == "regression":
            parts.append(z.mean(dim=1))
        elif kind == "binary":  # log(mean p) - log(mean (1 - p))
            pos = torch.logsumexp(nn.functional.logsigmoid(z), dim=1)
            neg = torch.logsumexp(nn.functional.logsigmoid(-z), dim=1)
            parts.append(pos - neg)
        else:
            log_p = torch.log_softmax(z, dim=2)
            parts.append(torch.logsumexp(log_p, dim=1) - log_k)
    return torch.cat(parts, dim=1)


def build_module(config):
    """The network of a configuration: ``MultiHeadMLP(**config)``, or with
    ``n_models`` > 1 that many of them in ``AveragedMLPs``."""
    config = dict(config)
    n_models = config.pop("n_models", 1)
    if not isinstance(n_models, int) or isinstance(n_models, bool) or n_models < 1:
        raise ValueError(f"n_models must be an int >= 1. Got {n_models!r} instead.")
    if n_models == 1:
        return MultiHeadMLP(**config)
    return AveragedMLPs([MultiHeadMLP(**config) for _ in range(n_models)])
