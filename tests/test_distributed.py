"""Model selection in parallel: joblib workers and a real Dask cluster give the
serial results, and torch threads x workers never exceed the cores."""

import os

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset

GRID = {"hidden_layer_sizes": [(16,), (32,)], "alpha": [1e-4, 1e-2]}


class ThreadProbe(JointRegressorClassifier):
    """Records the torch threads its training ran with."""

    def _fit(self, X, y, sample_weight):
        threads = torch.get_num_threads()
        super()._fit(X, y, sample_weight)
        self.fit_threads_ = threads
        return self


@pytest.fixture(scope="module")
def data():
    return make_joint_dataset(n_samples=240, random_state=0)


def test_thread_budget_follows_omp_num_threads(monkeypatch):
    from sklearn_multihead._net import thread_budget

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with thread_budget():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    with thread_budget():
        assert torch.get_num_threads() == before


def test_predict_holds_its_torch_work_to_the_thread_budget(monkeypatch, data):
    # the decisions and probabilities after the forward pass run on torch's
    # threads too: the budget covers them, not only the network
    if torch.get_num_threads() < 2:
        pytest.skip("needs torch to use 2 threads or more")
    X, Y = data
    est = JointRegressorClassifier(max_iter=2, random_state=0).fit(X, Y)
    seen = []

    def probe(name, fn):
        def wrapped(*args, **kwargs):
            seen.append((name, torch.get_num_threads()))
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(torch.Tensor, "argmax", probe("argmax", torch.Tensor.argmax))
    monkeypatch.setattr(torch, "softmax", probe("softmax", torch.softmax))
    monkeypatch.setattr(torch, "sigmoid", probe("sigmoid", torch.sigmoid))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    est.predict(X)
    est.predict_proba(X)
    assert {name for name, _ in seen} == {"argmax", "softmax", "sigmoid"}
    assert all(threads == 1 for _, threads in seen), seen


def test_n_jobs_2_does_not_oversubscribe(data):
    X, Y = data
    est = ThreadProbe(max_iter=5, random_state=0)
    serial = cross_validate(est, X, Y, cv=2, n_jobs=1)
    parallel = cross_validate(est, X, Y, cv=2, n_jobs=2, return_estimator=True)
    np.testing.assert_allclose(parallel["test_score"], serial["test_score"], rtol=1e-5)
    cores = os.cpu_count()
    assert all(e.fit_threads_ * 2 <= max(cores, 2) for e in parallel["estimator"])


def test_grid_search_on_a_dask_cluster_matches_serial(data):
    distributed = pytest.importorskip("distributed")
    X, Y = data
    est = JointRegressorClassifier(max_iter=10, random_state=0)
    serial = GridSearchCV(est, GRID, cv=2, n_jobs=1).fit(X, Y)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with joblib.parallel_config(backend="dask"):
            on_dask = GridSearchCV(est, GRID, cv=2, n_jobs=-1).fit(X, Y)
        threads = client.run(torch.get_num_threads)
    assert on_dask.best_params_ == serial.best_params_
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=1e-6,
    )
    # 2 workers x their torch threads <= the cores of this machine
    assert len(threads) == 2
    assert sum(threads.values()) <= max(os.cpu_count(), 2)
