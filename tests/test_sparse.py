"""Sparse X: the same model as dense X, densified one batch at a time."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import joint
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_multihead import RandomForestRegressorClassifier
from sklearn_multihead._joint.net import SparseRows


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 40))
    X[X < 1.0] = 0.0
    Y = pd.DataFrame({"n": X[:, 0] * 2 + X[:, 1], "c": np.where(X[:, 2] > 0, "a", "b")})
    return X, Y


@pytest.mark.parametrize("kind", ["csr", "csc", "coo"])
def test_sparse_and_dense_x_give_the_same_network(data, kind):
    X, Y = data
    params = dict(max_iter=3, batch_size=256, random_state=0)
    dense = joint(**params).fit(X, Y)
    sparse = joint(**params).fit(sp.csr_matrix(X).asformat(kind), Y)
    pd.testing.assert_frame_equal(dense.predict(X), sparse.predict(sp.csr_matrix(X)))
    np.testing.assert_allclose(
        dense.predict_proba(X)[0], sparse.predict_proba(sp.csr_matrix(X))[0]
    )


def test_no_full_dense_copy(data, monkeypatch):
    # a wide sparse X (10,000 columns): densified whole it would be 120 MB
    _, Y = data
    X = sp.random(3000, 10_000, density=0.001, format="csr", random_state=0)
    densified = []
    original = SparseRows.__getitem__

    def spy(self, idx):
        out = original(self, idx)
        densified.append(out.shape[0])
        return out

    monkeypatch.setattr(SparseRows, "__getitem__", spy)
    est = joint(max_iter=2, batch_size=128, early_stopping=True, n_models=1)
    est.fit(X, Y).predict(X)
    assert densified and max(densified) <= 512  # training and predict chunks


def test_the_readme_pipeline_with_a_sparse_one_hot_encoder():
    rng = np.random.RandomState(0)
    city = rng.randint(0, 300, size=1500).astype(str)  # many levels
    X = pd.DataFrame({"city": city})
    Y = pd.DataFrame({"n": (city.astype(int) % 7).astype(float), "big": city > "5"})
    model = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"),  # sparse output
        joint(max_iter=30, random_state=0),
    )
    assert model.fit(X, Y).score(X, Y) > 0.5


def test_the_forest_takes_sparse_x_too(data):
    X, Y = data
    rf = RandomForestRegressorClassifier(n_estimators=5, random_state=0)
    dense = rf.fit(X, Y).predict(X)
    sparse = rf.fit(sp.csr_matrix(X), Y).predict(sp.csr_matrix(X))
    # scikit-learn's sparse and dense splitters break ties between equally
    # good splits apart (in float64 targets): the same forest up to those
    assert (dense["c"] == sparse["c"]).mean() > 0.99
    spread = Y["n"].std()
    assert np.abs(dense["n"] - sparse["n"]).mean() < 0.01 * spread
