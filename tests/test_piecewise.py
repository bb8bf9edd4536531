"""Piecewise-linear numeric embeddings: the quantile edges fitted on the
training rows (``_features.quantile_edges``), their transformed scale
(``_inputs.bin_edges``), the layer (``PiecewiseLinearEmbeddings``), model
files saved with rtdl-num-embeddings' layer, and the network with
``numeric_embedding="piecewise"``."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import joint
from sklearn.exceptions import ConvergenceWarning

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint.features import quantile_edges
from sklearn_multihead._joint.module import (
    MAX_BINS,
    FeatureInput,
    PiecewiseLinearEmbeddings,
    bin_edges,
)

DATA = Path(__file__).resolve().parent / "data"


def test_quantile_edges_weigh_rows_and_count_sparse_zeros():
    rng = np.random.RandomState(0)
    X = rng.exponential(size=(200, 2))
    X[rng.rand(200) < 0.5, 1] = 0.0
    X[::7, 0] = np.nan
    w = rng.randint(0, 3, 200).astype(float)
    repeated = np.repeat(X, w.astype(int), axis=0)
    for got, want in zip(quantile_edges(X, 8, w), quantile_edges(repeated, 8)):
        np.testing.assert_array_equal(got, want)
    dense = quantile_edges(np.nan_to_num(X), 8)
    for got, want in zip(quantile_edges(sp.csr_matrix(np.nan_to_num(X)), 8), dense):
        np.testing.assert_array_equal(got, want)
    assert len(quantile_edges(X, 8)[0]) == 9  # 8 bins of a continuous column
    empty = quantile_edges(np.full((5, 1), np.nan), 8)
    np.testing.assert_array_equal(empty[0], [0.0])


def test_edges_are_distinct_float32_and_give_every_column_two_bins_or_more():
    raw = [
        np.linspace(-100.0, 100.0, 49),  # a continuous column
        np.array([0.0, 1.0]),  # a binary one
        np.array([5.0]),  # a constant one
        np.array([1e6, 1e6 + 1e-3, 2e6]),  # values float32 cannot tell apart
    ]
    edges = bin_edges(raw, center=[0.0, 0.0, 5.0, 0.0], scale=[50.0, 1.0, 1.0, 1.0])
    for e in edges:
        assert e.dtype == torch.float32 and len(e) >= 3
        assert torch.all(e[1:] > e[:-1]) and torch.isfinite(e).all()
    assert float(edges[0].max()) < 3.0  # in the clipped scale the trunk sees
    assert [len(e) - 1 for e in edges] == [48, 2, 2, 2]


def test_a_layer_built_from_counts_takes_its_edges_from_the_state():
    edges = [torch.tensor([-1.0, 0.0, 0.5, 2.0]), torch.tensor([0.0, 1.0, 3.0])]
    counts = [len(e) - 1 for e in edges]
    kw = dict(n_numeric=2, numeric_embedding="piecewise", bin_counts=counts)
    fitted = FeatureInput(**kw)
    fitted.set_numeric_bins(edges)
    loaded = FeatureInput(**kw)
    loaded.load_state_dict(fitted.state_dict())
    x = torch.tensor([[-3.0, 0.2], [0.3, 2.0], [9.0, float("nan")]])
    torch.testing.assert_close(loaded(x), fitted(x))
    with pytest.raises(ValueError, match="bin_counts must give 2 to MAX_BINS"):
        FeatureInput(n_numeric=2, numeric_embedding="piecewise", bin_counts=[3])
    with pytest.raises(ValueError, match="bin_counts must give 2 to MAX_BINS"):
        FeatureInput(n_numeric=1, numeric_embedding="piecewise", bin_counts=[1])
    with pytest.raises(ValueError, match="bin_counts must give 2 to MAX_BINS"):
        FeatureInput(
            n_numeric=1, numeric_embedding="piecewise", bin_counts=[MAX_BINS + 1]
        )


def test_each_bin_is_linear_between_its_edges_and_the_ends_are_not_clipped():
    layer = PiecewiseLinearEmbeddings(
        [torch.tensor([0.0, 1.0, 3.0]), torch.tensor([-1.0, 0.0, 1.0, 2.0])], 2
    )
    with torch.no_grad():  # the map reads the encoding: one unit vector per bin
        layer.linear0.weight.zero_()
        layer.linear0.bias.zero_()
        layer.linear.weight.zero_()
        layer.linear.weight[:, :, 0] = torch.tensor([[1.0, 0.0, 2.0], [1.0, 3.0, 5.0]])
    x = torch.tensor([[-2.0, -3.0], [0.5, -0.5], [2.0, 0.5], [5.0, 1.5], [3.0, 4.0]])
    with torch.no_grad():
        got = layer(x)[:, :, 0]
    # column 0 (2 bins; the last in the last place): (x - 0) / 1 clipped
    # above only, then 2 x (x - 1) / 2 clipped below only
    a, z = x.numpy().T
    first = np.minimum(a, 1.0) + 2 * np.maximum((a - 1) / 2, 0)
    # column 1 (3 bins): the middle bin is clipped on both sides
    second = np.minimum(z + 1, 1) + 3 * np.clip(z, 0, 1) + 5 * np.maximum(z - 1, 0)
    np.testing.assert_allclose(got.numpy(), np.column_stack([first, second]))
    assert layer(torch.randn(3, 4, 2)).shape == (3, 4, 2, 2)  # any leading axes
    with pytest.raises(ValueError, match="at least 3 bin edges"):
        PiecewiseLinearEmbeddings([torch.tensor([0.0, 1.0])], 2)
    with pytest.raises(ValueError, match="finite and increasing"):
        PiecewiseLinearEmbeddings([torch.tensor([0.0, 2.0, 1.0])], 2)
    with pytest.raises(ValueError, match="finite and increasing"):
        PiecewiseLinearEmbeddings([torch.tensor([0.0, 1.0, float("nan")])], 2)


def _rtdl_file_data():
    """The rows ``tests/data/model_rtdl_piecewise.skmh`` was fitted on."""
    rng = np.random.RandomState(0)
    n = 120
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.exponential(size=n),
            "k": pd.Categorical(rng.choice(["p", "q"], size=n)),
        }
    )
    X["c"] = rng.randint(0, 3, n).astype(float)  # fewer bins than a and b
    X.loc[::9, "a"] = np.nan
    return X


def test_a_model_file_saved_with_rtdls_piecewise_layer_predicts_as_it_did():
    # the file was written by the package at commit 5a13267, whose networks
    # held rtdl-num-embeddings' PiecewiseLinearEmbeddings (version "B"):
    # JointRegressorClassifier(random_state=0, max_iter=3, n_models=2,
    # hidden_layer_sizes=(8,), n_bins=8, early_stopping=False) fitted on
    # _rtdl_file_data() and Y = {"v": b + noise, "m": "xyz"[c]}; the numbers
    # are its predictions then
    model = JointRegressorClassifier.load(DATA / "model_rtdl_piecewise.skmh")
    layer = model.net_.module_.members[0].inputs.piecewise
    assert isinstance(layer, PiecewiseLinearEmbeddings)
    assert layer.impl.mask.shape == (3, 8)  # the bin counts differ
    X = _rtdl_file_data().head(4)
    np.testing.assert_allclose(
        model.predict(X)["v"],
        [
            0.37843243774887636,
            1.0089622511229785,
            0.8812802808069407,
            1.030027012313391,
        ],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        model.predict_proba(X)[0],
        [
            [0.2656801860980344, 0.42087273735611325, 0.3134470765458524],
            [0.32009174399730206, 0.3387420040052466, 0.3411662519974513],
            [0.31880362713510024, 0.33661164827314993, 0.34458472459174994],
            [0.30953663370949946, 0.3589473648358664, 0.331516001454634],
        ],
        rtol=1e-6,
    )


def test_binary_constant_and_missing_columns_fit_without_warnings(tmp_path):
    rng = np.random.RandomState(0)
    n = 300
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "flag": (rng.rand(n) > 0.5).astype(float),
            "const": np.full(n, 7.0),
            "gappy": np.where(rng.rand(n) < 0.3, np.nan, rng.normal(size=n)),
            "colour": pd.Categorical(rng.choice(["a", "b"], n)),
        }
    )
    Y = pd.DataFrame({"v": X["x"] + X["flag"], "c": X["colour"].astype(str)})
    est = joint(numeric_embedding="piecewise", max_iter=5, early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rtdl warns about single-bin columns
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        est.fit(X, Y)
    assert est._module_config["inputs"]["bin_counts"][1:3] == [2, 2]
    out = est.predict(X)
    assert np.isfinite(out["v"]).all()
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "m.safetensors"))
    pd.testing.assert_frame_equal(loaded.predict(X), out)


def test_n_bins_sets_the_most_bins_a_column_gets_and_round_trips(tmp_path):
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=600), rng.randint(0, 5, 600)]
    y = X[:, 0] + X[:, 1]
    counts = {}
    for n_bins in [4, 200]:
        est = joint(n_bins=n_bins, max_iter=3, early_stopping=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        counts[n_bins] = est._module_config["inputs"]["bin_counts"]
    # a continuous column gets them all; 5 distinct values never more than 5
    assert counts[4] == [4, 4] and counts[200][0] == 200 and counts[200][1] <= 5
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    with pytest.raises(ValueError, match="'n_bins' parameter .* in the range"):
        joint(n_bins=1).fit(X, y)


def test_piecewise_learns_steps_that_a_plain_network_smooths_over():
    """A square wave of 12 steps in one feature: the quantile bins give the
    network the steps (trees' strength), the plain number does not."""
    rng = np.random.RandomState(0)
    n = 1200
    X = np.c_[rng.uniform(0, 3, n), rng.normal(size=n)]
    y = 3.0 * (np.floor(4 * X[:, 0]) % 2) + 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    train, test = slice(0, 900), slice(900, None)
    rmse = {}
    for embedding in ["piecewise", None]:
        est = joint(numeric_embedding=embedding, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X[train], y[train])
        rmse[embedding] = np.sqrt(np.mean((est.predict(X[test]) - y[test]) ** 2))
    assert rmse["piecewise"] < 0.6  # 1.5 is what a smooth fit of the wave costs
    assert rmse["piecewise"] < 0.5 * rmse[None]


def test_sparse_and_dense_x_fit_the_same_piecewise_network():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(250, 3))
    X[rng.rand(250, 3) < 0.6] = 0.0
    y = X[:, 0] - X[:, 1]
    kw = dict(numeric_embedding="piecewise", max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dense = joint(**kw).fit(X, y)
        sparse = joint(**kw).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X), rtol=1e-5)
