"""The network's input layer: from the feature plan's matrix to the trunk's
input (torch, rtdl-num-embeddings).

Inside:

- ``NUMERIC_TRANSFORMS`` / ``NUMERIC_EMBEDDINGS``: the names the estimator
  accepts.
- ``FeatureInput``: takes ``[numeric columns | categorical codes]`` (the
  layout of ``_features.FeaturePlan``) and returns one row of features:

  * numeric columns, with ``numeric_transform="robust"``, are centred on
    their median, divided by a robust spread and smoothly clipped,
    ``z / sqrt(1 + (z / 3) ** 2)`` (RealMLP's recipe, Holzmüller et al.
    2024): a data-entry error of 100 spreads reaches the trunk as 3, not
    100. Missing cells become 0 (the median), and every column that had a
    missing cell in fit adds a 0 / 1 indicator. The medians and spreads are
    buffers (``set_numeric_scaling``), saved with the weights;
  * with ``numeric_embedding="piecewise"``, each transformed number becomes
    a learned vector that is linear between the edges of its quantile bins
    (piecewise-linear embeddings, version "B" of TabM: linear at the start,
    the per-bin part learnt; ``rtdl_num_embeddings``, Gorishniy et al. 2022
    and 2025). The edges come from fit (``bin_edges``, then
    ``set_numeric_bins``); the layer is built with their counts
    (``bin_counts``) and the edges travel in its buffers. With
    ``numeric_embedding="periodic"``, a vector of learned periodic features;
  * categorical codes look up one embedding table shared by all columns
    (each column has its own rows in it, so one lookup serves them all).

No training code lives here; the module is checked in its constructor.
"""

import numpy as np
import torch
from torch import nn

NUMERIC_TRANSFORMS = ("robust", "none")
NUMERIC_EMBEDDINGS = (None, "periodic", "piecewise")
#: the soft bound of the robust transform, in robust spreads
CLIP = 3.0
#: quantile bins per numeric column of ``numeric_embedding="piecewise"``
N_BINS = 48


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
        Bins of each numeric column (from 2 to ``N_BINS``), needed with
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
                2 <= c <= N_BINS for c in counts
            ):
                raise ValueError(
                    "bin_counts must give 2 to N_BINS bins for each numeric column."
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
        from rtdl_num_embeddings import PiecewiseLinearEmbeddings

        edges = [torch.as_tensor(e, dtype=torch.float32) for e in edges]
        self.piecewise = PiecewiseLinearEmbeddings(
            edges, self.d_numeric, activation=False, version="B"
        )

    def forward(self, X):
        parts = []
        if self.n_numeric:
            x = X[:, : self.n_numeric] if self.n_categorical else X
            z = transform_numbers(x, self.center, self.scale, self.robust)
            z = torch.nan_to_num(z, nan=0.0)
            if self.periodic is not None:
                z = self.periodic(z).flatten(1)
            elif self.piecewise is not None:
                z = self.piecewise(z).flatten(1)
            parts.append(z)
            if self.n_missing:
                parts.append(torch.isnan(x[:, self.missing_columns]).to(z.dtype))
        if self.n_categorical:
            codes = X[:, self.n_numeric :].long() + self.offsets
            parts.append(self.embedding(codes).flatten(1))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def transform_numbers(x, center, scale, robust=True):
    """The numeric transform of ``FeatureInput`` (missing cells stay NaN)."""
    if not robust:
        return x
    # bounded first: (z / 3)^2 of a value near the float32 limit overflows,
    # and inf * 0 would turn an outlier into a NaN
    z = ((x - center) / scale).clamp(-1e18, 1e18)
    return z * torch.rsqrt(1.0 + (z * (1.0 / CLIP)) ** 2)


def bin_edges(raw_edges, center, scale, robust=True):
    """Quantile edges of the numeric columns (``_features.quantile_edges``)
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
