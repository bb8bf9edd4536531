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
  * with ``numeric_embedding="periodic"``, each transformed number becomes a
    vector of learned periodic features (``rtdl_num_embeddings``, Gorishniy
    et al. 2022);
  * categorical codes look up one embedding table shared by all columns
    (each column has its own rows in it, so one lookup serves them all).

No training code lives here; the module is checked in its constructor.
"""

import torch
from torch import nn

NUMERIC_TRANSFORMS = ("robust", "none")
NUMERIC_EMBEDDINGS = (None, "periodic")
#: the soft bound of the robust transform, in robust spreads
CLIP = 3.0


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
    numeric_embedding : {None, "periodic"}, default=None
    d_numeric_embedding : int, default=8
        Width of each number's periodic embedding.
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
        self.periodic = None
        width_numeric = self.n_numeric
        if numeric_embedding == "periodic" and self.n_numeric:
            from rtdl_num_embeddings import PeriodicEmbeddings

            self.periodic = PeriodicEmbeddings(
                self.n_numeric, int(d_numeric_embedding), lite=True
            )
            width_numeric = self.n_numeric * int(d_numeric_embedding)
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

    def forward(self, X):
        parts = []
        if self.n_numeric:
            x = X[:, : self.n_numeric] if self.n_categorical else X
            z = x
            if self.robust:
                # bounded first: (z / 3)^2 of a value near the float32 limit
                # overflows, and inf * 0 would turn an outlier into a NaN
                z = ((x - self.center) / self.scale).clamp(-1e18, 1e18)
                z = z * torch.rsqrt(1.0 + (z * (1.0 / CLIP)) ** 2)
            z = torch.nan_to_num(z, nan=0.0)
            if self.periodic is not None:
                z = self.periodic(z).flatten(1)
            parts.append(z)
            if self.n_missing:
                parts.append(torch.isnan(x[:, self.missing_columns]).to(z.dtype))
        if self.n_categorical:
            codes = X[:, self.n_numeric :].long() + self.offsets
            parts.append(self.embedding(codes).flatten(1))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
