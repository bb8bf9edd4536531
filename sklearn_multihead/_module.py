"""The torch network: a shared trunk and one head per target (torch only).

Inside:

- ``ACTIVATIONS``: the activation names the estimator accepts.
- ``MultiHeadMLP``: trunk of ``Linear -> [BatchNorm] -> activation -> [Dropout]``
  blocks, then the heads. Heads without hidden layers share one fused output
  layer (one matrix product for all of them); with ``head_hidden_layer_sizes``
  every head gets its own small MLP. ``forward`` returns one tensor of shape
  ``(n_samples, sum(head_sizes))``; head ``j`` owns the columns
  ``head_slices[j]``.

No training code lives here (the rtdl convention): the module is a plain
``nn.Module`` with keyword-only, checked arguments.
"""

import torch
from torch import nn

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


def _mlp_blocks(n_in, sizes, *, activation, dropout, batch_norm):
    layers = []
    for n_out in sizes:
        layers.append(nn.Linear(n_in, n_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out))
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

        blocks = dict(activation=activation, dropout=dropout, batch_norm=batch_norm)
        layers, width = _mlp_blocks(int(n_features), hidden, **blocks)
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
        h = self.trunk(X)
        if self.output is not None:
            return self.output(h)
        return torch.cat([head(h) for head in self.heads], dim=1)
