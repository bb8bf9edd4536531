"""Model selection in parallel: joblib workers and a real Dask cluster give the
serial results, and torch threads x workers never exceed the cores."""

import os

import joblib
import numpy as np
import pytest
import torch
from conftest import joint
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset

GRID = {"hidden_layer_sizes": [(16,), (32,)], "alpha": [1e-4, 1e-2]}


class ThreadProbe(JointRegressorClassifier):
    """Records the torch threads its training ran with."""

    def _fit(self, X, y, sample_weight, *args, **kwargs):
        threads = torch.get_num_threads()
        super()._fit(X, y, sample_weight, *args, **kwargs)
        self.fit_threads_ = threads
        return self


@pytest.fixture(scope="module")
def data():
    return make_joint_dataset(n_samples=240, random_state=0)


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
    est = joint(max_iter=10, random_state=0)
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
