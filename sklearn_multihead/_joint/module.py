"""The torch network: input layer, a shared trunk and one head per target
(torch; rtdl-num-embeddings' periodic embeddings, tabm's ensemble layers).

Inside:

- the input layer (``FeatureInput``), from the feature plan's matrix to the
  trunk's input:

  - ``NUMERIC_TRANSFORMS`` / ``NUMERIC_EMBEDDINGS``: the names the estimator
    accepts.
  - ``FeatureInput``: takes ``[numeric columns | categorical codes]`` (the
    layout of ``features.FeaturePlan``) and returns one row of features:

    * numeric columns, with ``numeric_transform="robust"``, are centred on
      their median, divided by a robust spread and smoothly clipped,
      ``z / sqrt(1 + (z / 3) ** 2)`` (RealMLP's recipe, Holzmüller et al.
      2024): a data-entry error of 100 spreads reaches the trunk as 3, not
      100. Missing cells become 0 (the median), and every column that had a
      missing cell in fit adds a 0 / 1 indicator. The medians and spreads are
      buffers (``set_numeric_scaling``), saved with the weights;
    * with ``numeric_embedding="piecewise"``, each transformed number becomes
      a learned vector that is linear between the edges of its quantile bins
      (``PiecewiseLinearEmbeddings``, version "B" of TabM: linear at the
      start, the per-bin part learnt; Gorishniy et al. 2022 and 2025). It is
      our own layer with the tensors of ``rtdl_num_embeddings``' (which the
      model files saved before held) so that it takes the member axis of
      ``PackedMLPs`` and the file layout is not another library's internals.
      The edges come from fit (``bin_edges``, then
      ``set_numeric_bins``); the layer is built with their counts
      (``bin_counts``) and the edges travel in its buffers. With
      ``numeric_embedding="periodic"``, a vector of learned periodic features
      (``rtdl_num_embeddings.PeriodicEmbeddings``);
    * categorical codes look up one embedding table shared by all columns
      (each column has its own rows in it, so one lookup serves them all).

  No training code lives here; the module is checked in its constructor.

- ``ACTIVATIONS``: the activation names the estimator accepts.
- ``build_module``: the network a configuration describes (one
  ``MultiHeadMLP``, or ``AveragedMLPs`` of ``n_models`` of them).
- ``AveragedMLPs``: networks fitted apart (each with its own initial weights
  and validation split) whose predictions are averaged; trained further
  together, each on its own loss.
- ``PackedMLPs``: networks of one configuration trained as one module, a
  member axis on every tensor that every layer takes (``Linear``: one
  matrix product per member in one call), so one step of all of them is
  one pass of batched matrix products; ``networks()``
  gives them back as ``MultiHeadMLP`` (the fitted model is an
  ``AveragedMLPs`` of them).
- ``MultiHeadMLP``: trunk of ``Linear -> [BatchNorm] -> activation -> [Dropout]``
  blocks, then the heads. Heads without hidden layers share one fused output
  layer (one matrix product for all of them); with ``head_hidden_layer_sizes``
  every head gets its own small MLP. ``forward`` returns one tensor of shape
  ``(n_samples, sum(head_sizes))``; head ``j`` owns the columns
  ``head_slices[j]``.

No training code lives here (the rtdl convention): the module is a plain
``nn.Module`` with keyword-only, checked arguments.
"""

import copy
import math

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

NUMERIC_TRANSFORMS = ("robust", "none")
NUMERIC_EMBEDDINGS = (None, "periodic", "piecewise")
#: the soft bound of the robust transform, in robust spreads
CLIP = 3.0
#: quantile bins per numeric column of ``numeric_embedding="piecewise"``
#: (the estimator's default ``n_bins``)
N_BINS = 48
#: the most bins a numeric column may have (``n_bins``, a model file's counts)
MAX_BINS = 1024


class FeatureInput(nn.Module):
    """Numeric transform, missing indicators and embeddings.

    Parameters
    ----------
    n_numeric : int
        Numeric columns (the first ones of the input).
    cardinalities : sequence of int, default=()
        Codes per categorical column (the last columns of the input).
    missing_columns : sequence of int, default=()
        Numeric columns that get a missing indicator.
    numeric_transform : {"robust", "none"}, default="robust"
    numeric_embedding : {None, "periodic", "piecewise"}, default=None
    bin_counts : sequence of int, default=None
        Bins of each numeric column (from 2 to ``MAX_BINS``), needed with
        ``numeric_embedding="piecewise"``.
    d_numeric_embedding : int, default=8
        Width of each number's embedding.
    d_categorical_embedding : int, default=8
        Width of each category's embedding.
    """

    def __init__(
        self,
        *,
        n_numeric,
        cardinalities=(),
        missing_columns=(),
        numeric_transform="robust",
        numeric_embedding=None,
        bin_counts=None,
        d_numeric_embedding=8,
        d_categorical_embedding=8,
    ):
        super().__init__()
        cardinalities = [int(c) for c in cardinalities]
        missing_columns = [int(c) for c in missing_columns]
        if int(n_numeric) != n_numeric or n_numeric < 0:
            raise ValueError(f"n_numeric must be >= 0. Got {n_numeric} instead.")
        if any(c < 1 for c in cardinalities):
            raise ValueError("every categorical column needs at least one code.")
        if any(not 0 <= c < n_numeric for c in missing_columns):
            raise ValueError("missing_columns must be numeric column indices.")
        if numeric_transform not in NUMERIC_TRANSFORMS:
            raise ValueError(
                f"numeric_transform must be one of {NUMERIC_TRANSFORMS}. "
                f"Got {numeric_transform!r} instead."
            )
        if numeric_embedding not in NUMERIC_EMBEDDINGS:
            raise ValueError(
                f"numeric_embedding must be one of {NUMERIC_EMBEDDINGS}. "
                f"Got {numeric_embedding!r} instead."
            )
        if n_numeric + len(cardinalities) < 1:
            raise ValueError("the input needs at least one column.")
        self.n_numeric = int(n_numeric)
        self.n_categorical = len(cardinalities)
        self.robust = numeric_transform == "robust"
        self.register_buffer("center", torch.zeros(self.n_numeric))
        self.register_buffer("scale", torch.ones(self.n_numeric))
        self.register_buffer(
            "missing_columns", torch.tensor(missing_columns, dtype=torch.long)
        )
        self.n_missing = len(missing_columns)
        self.periodic = self.piecewise = None
        self.d_numeric = int(d_numeric_embedding)
        width_numeric = self.n_numeric
        if numeric_embedding == "periodic" and self.n_numeric:
            from rtdl_num_embeddings import PeriodicEmbeddings

            self.periodic = PeriodicEmbeddings(
                self.n_numeric, self.d_numeric, lite=True
            )
            width_numeric = self.n_numeric * self.d_numeric
        if numeric_embedding == "piecewise" and self.n_numeric:
            counts = [] if bin_counts is None else [int(c) for c in bin_counts]
            if len(counts) != self.n_numeric or not all(
                2 <= c <= MAX_BINS for c in counts
            ):
                raise ValueError(
                    "bin_counts must give 2 to MAX_BINS bins for each numeric column."
                )
            # placeholder edges of the right counts: a loaded model gets its
            # edges from its buffers, a new one from set_numeric_bins. Built
            # on the CPU even on torch's "meta" device, which cannot check
            # edges (a model file's counts are bounded by its tensors first)
            with torch.device("cpu"):
                self.set_numeric_bins([torch.arange(c + 1.0) for c in counts])
            width_numeric = self.n_numeric * self.d_numeric
        self.embedding = None
        if cardinalities:
            offsets = torch.tensor([0] + cardinalities[:-1]).cumsum(0)
            self.register_buffer("offsets", offsets)
            self.embedding = nn.Embedding(
                sum(cardinalities), int(d_categorical_embedding)
            )
            nn.init.normal_(self.embedding.weight, std=1.0)
        width_categorical = len(cardinalities) * int(d_categorical_embedding)
        self.out_features = width_numeric + self.n_missing + width_categorical

    def set_numeric_scaling(self, center, scale):
        """Medians and robust spreads of the numeric columns (from fit)."""
        with torch.no_grad():
            self.center.copy_(torch.as_tensor(center, dtype=torch.float32))
            self.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))

    def set_numeric_bins(self, edges):
        """The bin edges of each numeric column, in the transformed scale
        (``bin_edges``); fresh piecewise-linear weights."""
        edges = [torch.as_tensor(e, dtype=torch.float32) for e in edges]
        self.piecewise = PiecewiseLinearEmbeddings(edges, self.d_numeric)

    def forward(self, X):
        """``(n, features)`` -> ``(n, out_features)``. ``PackedMLPs`` also
        calls it with a member axis: X of ``(n, k, features)`` (or
        ``(n, 1, features)``, the same rows for all) and every parameter
        with a leading axis of the k members (``functional_call``)."""
        parts = []
        if self.n_numeric:
            x = X[..., : self.n_numeric] if self.n_categorical else X
            z = transform_numbers(x, self.center, self.scale, self.robust)
            z = torch.nan_to_num(z, nan=0.0)
            if self.periodic is not None:
                z = self.periodic(z).flatten(-2)
            elif self.piecewise is not None:
                z = self.piecewise(z).flatten(-2)
            parts.append(z)
            if self.n_missing:
                parts.append(torch.isnan(x[..., self.missing_columns]).to(z.dtype))
        if self.n_categorical:
            codes = X[..., self.n_numeric :].long() + self.offsets
            table = self.embedding.weight
            if table.dim() == 3:  # each member its own table: (k, codes, width)
                k, n_codes, width = table.shape
                first = torch.arange(0, k * n_codes, n_codes, device=table.device)
                vectors = F.embedding(codes + first[:, None], table.reshape(-1, width))
            else:
                vectors = self.embedding(codes)
            parts.append(vectors.flatten(-2))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


class PiecewiseLinearEmbeddings(nn.Module):
    """Piecewise-linear embeddings of numbers (Gorishniy et al. 2022), in the
    version the TabM paper recommends (its "B"): each number's vector is a
    linear embedding plus a learnt linear map of its piecewise-linear
    encoding, that map zero at the start.

    The encoding of a number x in a column with edges ``e_0 < ... < e_m``
    has one component per bin, ``(x - e_i) / (e_{i+1} - e_i)`` clipped to
    [0, 1]; the first bin is not clipped below, the last not above, so the
    embedding stays linear outside the training range.

    ``edges``: one increasing 1-D tensor per column, at least 3 edges (2
    bins) each; ``d_embedding``: the width of each vector. Input ``(..., n)``
    numbers, output ``(..., n, d_embedding)``. With a member axis
    (``PackedMLPs``), every tensor has a leading axis of the k members and
    the input is ``(rows, k, n)``: the products broadcast over it.

    The tensors have the names and layout of
    ``rtdl_num_embeddings.PiecewiseLinearEmbeddings(version="B")``, whose
    layer the model files saved before this class held: ``linear0.weight``
    and ``linear0.bias`` (the linear embedding, ``(n, d)``),
    ``impl.weight`` and ``impl.bias`` (the encoding's slope and offset per
    bin, ``(n, most bins)``; a column with fewer bins has its last bin in the
    last place and zeros between), ``impl.mask`` (which places are a
    column's bins, stored only when the columns' bin counts differ) and
    ``linear.weight`` (the map, ``(n, most bins, d)``). It also draws the
    same random numbers at construction, so a seeded network starts from the
    weights it started from with that layer.
    """

    def __init__(self, edges, d_embedding):
        super().__init__()
        edges = [torch.as_tensor(e, dtype=torch.float32) for e in edges]
        counts = [len(e) - 1 for e in edges]
        if not edges or min(counts) < 2:
            raise ValueError("every column needs at least 3 bin edges.")
        if any(not (torch.isfinite(e).all() and (e.diff() > 0).all()) for e in edges):
            raise ValueError("bin edges must be finite and increasing.")
        self.linear0 = _LinearEmbedding(len(edges), int(d_embedding))
        self.impl = _PiecewiseEncoding(edges)
        self.linear = _BinMap(len(edges), max(counts), int(d_embedding))

    def forward(self, x):
        return self.linear0(x) + self.linear(self.impl(x))


class _LinearEmbedding(nn.Module):
    """``(..., n)`` -> ``(..., n, d)``: ``x * weight + bias`` per column."""

    def __init__(self, n, d):
        super().__init__()
        scale = d**-0.5
        self.weight = nn.Parameter(torch.empty(n, d).uniform_(-scale, scale))
        self.bias = nn.Parameter(torch.empty(n, d).uniform_(-scale, scale))

    def forward(self, x):
        return torch.addcmul(self.bias, self.weight, x[..., None])


class _PiecewiseEncoding(nn.Module):
    """``(..., n)`` -> ``(..., n, most bins)``: each bin's
    ``x * weight + bias`` clipped to [0, 1] (the first bin not below, the
    last not above)."""

    def __init__(self, edges):
        super().__init__()
        counts = [len(e) - 1 for e in edges]
        n, most = len(edges), max(counts)
        # a column with fewer bins: its last bin in the last place, zeros between
        places = [list(range(c - 1)) + [most - 1] for c in counts]
        slope, offset = torch.zeros(n, most), torch.zeros(n, most)
        for i, e in enumerate(edges):
            width = e.diff()
            slope[i, places[i]] = 1.0 / width
            offset[i, places[i]] = -e[:-1] / width
        self.register_buffer("weight", slope)
        self.register_buffer("bias", offset)
        if len(set(counts)) > 1:
            mask = torch.zeros(n, most, dtype=torch.bool)
            for i, p in enumerate(places):
                mask[i, p] = True
            self.register_buffer("mask", mask)
        # the clipping bounds of every place (derived, not saved)
        lower, upper = torch.zeros(n, most), torch.ones(n, most)
        lower[:, 0], upper[:, -1] = -math.inf, math.inf
        self.register_buffer("lower", lower, persistent=False)
        self.register_buffer("upper", upper, persistent=False)

    def forward(self, x):
        encoding = torch.addcmul(self.bias, self.weight, x[..., None])
        return encoding.clamp(self.lower, self.upper)


class _BinMap(nn.Module):
    """``(..., n, bins)`` -> ``(..., n, d)``: each column's own linear map
    of its encoding (no bias), zero at the start."""

    def __init__(self, n, bins, d):
        super().__init__()
        # the draw rtdl's layer made before setting it to zero (the docstring
        # of PiecewiseLinearEmbeddings)
        weight = torch.empty(n, bins, d).uniform_(-(bins**-0.5), bins**-0.5)
        self.weight = nn.Parameter(weight.zero_())

    def forward(self, encoding):
        return torch.einsum("...nb,...nbd->...nd", encoding, self.weight)


def transform_numbers(x, center, scale, robust=True):
    """The numeric transform of ``FeatureInput`` (missing cells stay NaN)."""
    if not robust:
        return x
    # bounded first: (z / 3)^2 of a value near the float32 limit overflows,
    # and inf * 0 would turn an outlier into a NaN
    z = ((x - center) / scale).clamp(-1e18, 1e18)
    return z * torch.rsqrt(1.0 + (z * (1.0 / CLIP)) ** 2)


def bin_edges(raw_edges, center, scale, robust=True):
    """Quantile edges of the numeric columns (``features.quantile_edges``)
    in the scale the embedding sees: through the numeric transform, as
    float32, distinct, and at least 3 of them (2 bins: a binary column gets
    its midpoint, a constant one a unit bin on each side)."""
    out = []
    for e, c, s in zip(raw_edges, center, scale):
        x = torch.as_tensor(np.asarray(e, dtype=np.float32))
        c = torch.tensor(float(c), dtype=torch.float32)
        s = torch.tensor(float(s), dtype=torch.float32)
        z = torch.unique(transform_numbers(x, c, s, robust))
        if len(z) == 1:
            z = torch.cat([z - 1.0, z, z + 1.0])
        elif len(z) == 2:
            z = torch.cat([z[:1], z.mean().reshape(1), z[1:]])
        out.append(z)
    return out


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


class Linear(nn.Linear):
    """``nn.Linear`` (the same tensors) that also takes a member axis:
    with a weight of ``(k, out, in)`` and a bias of ``(k, out)``, as
    ``PackedMLPs`` gives it, an input of ``(n, k, in)`` becomes
    ``(n, k, out)``, member j's rows through member j's weights."""

    def forward(self, x):
        if self.weight.dim() == 2:
            return super().forward(x)
        by_member = x.transpose(0, 1)  # (k, n, in): one matrix product per member
        out = torch.baddbmm(self.bias.unsqueeze(1), by_member, self.weight.mT)
        return out.transpose(0, 1)


def _linear(n_in, n_out, k, first):
    if k == 1:
        return Linear(n_in, n_out)
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


def _set_mode(module, mode, train):
    """``nn.Module.train(mode)`` unless the module is in that mode already.

    skorch sets the mode before every step, and setting it again walks every
    submodule through torch's slow ``__setattr__`` (5% of a step of
    bench_abalone's joint_reference network). Modes change through the root
    here (skorch, ``predict_raw``), so the root's flag speaks for all.
    """
    if module.training == mode:
        return module
    return train(mode)


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
        Keyword arguments of an input layer (``FeatureInput``: numeric
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
                self.heads.append(nn.Sequential(*layers, Linear(w, k)))
            self.output = None
        elif k > 1:
            from tabm import LinearEnsemble

            self.heads = None
            self.output = LinearEnsemble(width, sum(head_sizes), k=k)
        else:
            self.heads = None
            self.output = Linear(width, sum(head_sizes))
        if init == "he":
            self._init_he()
        # in eval mode the outputs are divided by it: 1 for regression heads,
        # a classification head's fitted temperature (``set_temperatures``);
        # kept in the model file beside the tensors, not in the state dict
        self.register_buffer(
            "temperature", torch.ones(sum(head_sizes)), persistent=False
        )

    def set_temperatures(self, temperatures):
        """Divide each head's eval-mode outputs by its entry of
        ``temperatures`` (one positive number per head; 1 for none)."""
        with torch.no_grad():
            for cols, t in zip(self.head_slices, temperatures):
                self.temperature[cols] = float(t)

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

    def train(self, mode=True):
        return _set_mode(self, mode, super().train)

    def forward(self, X):
        if self.n_ensemble > 1:
            out = self.member_outputs(X)
            return out if self.training else average_members(out, self)
        h = self.trunk(X if self.inputs is None else self.inputs(X))
        if self.output is not None:
            out = self.output(h)
        else:
            out = torch.cat([head(h) for head in self.heads], dim=-1)
        return out if self.training else out / self.temperature

    def member_outputs(self, X):
        """``(n, k, outputs)``: each ensemble member's outputs, not averaged
        (in eval mode divided by the heads' temperatures)."""
        if self.n_ensemble == 1:
            return self.forward(X).unsqueeze(1)
        h = X if self.inputs is None else self.inputs(X)
        h = h.unsqueeze(1).expand(-1, self.n_ensemble, -1)
        out = self.output(self.trunk(h))
        return out if self.training else out / self.temperature


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
        # one mode for all, the members' (eval after their fit): the root's
        # flag speaks for every submodule (``_set_mode``)
        super().train(all(m.training for m in members))

    def train(self, mode=True):
        return _set_mode(self, mode, super().train)

    def forward(self, X):
        out = self.member_outputs(X)
        return out if self.training else average_members(out, self)

    def member_outputs(self, X):
        return torch.cat([m.member_outputs(X) for m in self.members], dim=1)


class PackedMLPs(nn.Module):
    """``MultiHeadMLP`` networks of one configuration as one module: every
    parameter and buffer gets a leading member axis, held by a copy of the
    networks' own layers (``network``), so a step of all the members is one
    pass of batched matrix products rather than one pass per network
    (``benchmarks/bench_packed.py``). Every layer takes the member axis
    itself (``Linear``, ``FeatureInput``, ``PiecewiseLinearEmbeddings``;
    activations and dropout act per element) but rtdl's periodic
    embeddings: with them the members' forward is mapped over the axis
    (``torch.func.vmap``) instead (``native`` is False).

    ``forward(X)``: with a 3-D X ``(n, members, features)`` (each member its
    own rows, as in training and validation) every member's outputs,
    ``(n, members, outputs)``; with a 2-D X the same rows for all, and in
    eval mode their average (``average_members``), as ``AveragedMLPs``.

    Build it with ``pack(networks)``; ``select(positions)`` keeps some
    members (a network whose training has ended leaves the module);
    ``networks()`` gives the members back as ``MultiHeadMLP``. ``ids``: each
    member's number among the networks first packed. ``shared_buffers``: the
    buffers every member holds the same (the numeric scaling and bins, from
    the training rows), kept once, without the member axis.
    """

    def __init__(self, template, params, buffers, ids):
        super().__init__()
        if not isinstance(template, MultiHeadMLP) or template.n_ensemble != 1:
            raise ValueError("PackedMLPs packs MultiHeadMLP networks of n_ensemble=1.")
        if any(isinstance(m, nn.BatchNorm1d) for m in template.modules()):
            raise ValueError("PackedMLPs cannot pack batch normalisation.")
        # the layers' code without their tensors; in a tuple, so that it is
        # not a submodule of this module
        self._template = (copy.deepcopy(template).to("meta"),)
        # see the docstring
        self.native = template.inputs is None or template.inputs.periodic is None
        self.param_names = list(params)
        self.buffer_names = list(buffers)
        self.ids = [int(i) for i in ids]
        if len(self.ids) != len(params[self.param_names[0]]):
            raise ValueError("PackedMLPs needs one id per member.")
        # ``network``: the members' layers holding the stacked tensors (each
        # layer takes the member axis); a buffer that every member holds the
        # same (the numeric scaling and bins, from the training rows) is kept
        # once, without the axis (it broadcasts), and not mapped over
        network = copy.deepcopy(self.template)
        for name in self.param_names:
            _put(network, name, nn.Parameter(params[name].detach().clone()))
        self.shared_buffers = set()
        for name in self.buffer_names:
            b = buffers[name].detach()
            if torch.equal(b, b[:1].expand_as(b)):
                self.shared_buffers.add(name)
                b = b[0]
            _put(network, name, b.clone())
        self.network = network.train(self.training)  # as _set_mode expects
        self.head_sizes, self.head_slices = template.head_sizes, template.head_slices
        self.head_kinds = template.head_kinds
        self.n_ensemble = len(self.ids)

    @classmethod
    def pack(cls, networks):
        """The networks (``MultiHeadMLP`` of one configuration) as one module."""
        params, buffers = stack_module_state(list(networks))
        return cls(networks[0], params, buffers, range(len(networks)))

    @property
    def template(self):
        """One member's layers, on torch's "meta" device (no values)."""
        return self._template[0]

    @property
    def packed(self):
        """The stacked parameters, in the order of ``param_names``."""
        return [self.network.get_parameter(name) for name in self.param_names]

    def stacked_buffers(self):
        """The members' buffers by their names in one network, stacked (a
        shared buffer as a view of its one copy)."""
        k = len(self.ids)
        out = {}
        for name in self.buffer_names:
            b = self.network.get_buffer(name)
            out[name] = b.expand(k, *b.shape) if name in self.shared_buffers else b
        return out

    def select(self, positions):
        """A module of the members at ``positions`` (their current weights)."""
        index = torch.as_tensor(positions, dtype=torch.long)
        params = {
            n: p.detach()[index.to(p.device)]
            for n, p in zip(self.param_names, self.packed)
        }
        buffers = {n: b[index.to(b.device)] for n, b in self.stacked_buffers().items()}
        module = PackedMLPs(
            self.template, params, buffers, [self.ids[i] for i in positions]
        )
        return module.train(self.training)

    def networks(self):
        """Each member as a ``MultiHeadMLP`` holding a copy of its weights."""
        out = []
        device = self.packed[0].device
        stacked = dict(zip(self.param_names, self.packed)) | self.stacked_buffers()
        for j in range(len(self.ids)):
            network = copy.deepcopy(self.template).to_empty(device=device)
            with torch.no_grad():
                for name, t in [*network.named_parameters(), *network.named_buffers()]:
                    t.copy_(stacked[name][j])
            out.append(network.train(self.training))
        return out

    def train(self, mode=True):
        return _set_mode(self, mode, super().train)

    def forward(self, X):
        out = self.member_outputs(X)
        if X.dim() == 2 and not self.training:
            return average_members(out, self)
        return out

    def member_outputs(self, X):
        """``(n, members, outputs)``: each member's outputs on its rows of a
        3-D X, or on the rows of a 2-D X."""
        if self.native:
            # every layer takes the member axis itself (``Linear``,
            # ``FeatureInput``): no vmap, no tensors swapped in and out; a
            # step at 0.87x the CPU of the vmap route (``bench_packed.py``)
            k = len(self.ids)
            return self.network(X.unsqueeze(1).expand(-1, k, -1) if X.dim() == 2 else X)
        template = self.template.train(self.training)
        params = dict(zip(self.param_names, self.packed))
        own, shared = {}, {}
        for name in self.buffer_names:
            b = self.network.get_buffer(name)
            (shared if name in self.shared_buffers else own)[name] = b

        def one(p, b, s, x):  # the network has no tied weights to look for
            return functional_call(template, (p, b, s), (x,), tie_weights=False)

        mapped = vmap(
            one,
            in_dims=(0, 0, None, 1 if X.dim() == 3 else None),
            out_dims=1,
            randomness="different",  # each member its own dropout
        )
        return mapped(params, own, shared, X)


def _put(module, name, tensor):
    """Set the parameter or buffer ``name`` (a dotted path) of ``module``."""
    path, _, leaf = name.rpartition(".")
    setattr(module.get_submodule(path), leaf, tensor)


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
