"""Piecewise-linear numeric embeddings: the quantile edges fitted on the
training rows (``_features.quantile_edges``), their transformed scale
(``_inputs.bin_edges``) and the network with ``numeric_embedding="piecewise"``."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import joint
from sklearn.exceptions import ConvergenceWarning

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint.features import quantile_edges
from sklearn_multihead._joint.module import MAX_BINS, FeatureInput, bin_edges


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
