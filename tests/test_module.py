"""The torch module: trunk, fused and per-head outputs (``_module``)."""

import pytest
import torch

from sklearn_multihead._joint.module import MultiHeadMLP


def test_fused_heads_share_one_output_layer():
    m = MultiHeadMLP(n_features=5, head_sizes=[1, 1, 4], hidden_layer_sizes=(8,))
    out = m(torch.randn(10, 5))
    assert out.shape == (10, 6)
    assert m.heads is None and m.output.out_features == 6
    assert [s.stop - s.start for s in m.head_slices] == [1, 1, 4]


def test_per_head_hidden_layers_and_options():
    m = MultiHeadMLP(
        n_features=3,
        head_sizes=[2, 1],
        hidden_layer_sizes=(),
        head_hidden_layer_sizes=(4, 4),
        batch_norm=True,
        dropout=0.5,
        activation="tanh",
    )
    assert m(torch.randn(7, 3)).shape == (7, 3)
    assert len(m.heads) == 2 and m.output is None
    assert any(isinstance(x, torch.nn.BatchNorm1d) for x in m.modules())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_features=0), "n_features must be >= 1"),
        (dict(head_sizes=[]), "head_sizes must name at least one head"),
        (dict(head_sizes=[0]), "head_sizes must hold positive integers"),
        (dict(activation="swish"), "activation must be one of"),
        (dict(dropout=1.0), "dropout must be in \\[0, 1\\)"),
        (dict(init="xavier"), "init must be 'he' or 'default'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadMLP(**{"n_features": 2, "head_sizes": [1], **kwargs})
