"""The thread policy: small steps on one thread, large ones on the idle cores,
within OMP_NUM_THREADS, an explicit n_threads winning; torch's setting restored."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_multihead import JointRegressorClassifier, _threads
from sklearn_multihead._threads import (
    PARALLEL_WORK,
    choose_threads,
    cpu_count,
    idle_cores,
    thread_budget,
)


@pytest.fixture
def idle(monkeypatch):
    """Pretend that this many cores are idle."""

    def set_idle(n):
        monkeypatch.setattr(_threads, "idle_cores", lambda **kwargs: n)

    return set_idle


@pytest.fixture
def four_threads(monkeypatch):
    """torch on 4 threads, with no budget from the environment (other tests'
    parallel runners may have left OMP_NUM_THREADS set)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


def test_small_steps_run_on_one_thread_large_ones_on_the_idle_cores(idle):
    idle(4)
    assert choose_threads(PARALLEL_WORK - 1, budget=4) == 1
    assert choose_threads(PARALLEL_WORK, budget=4) == 4
    assert choose_threads(PARALLEL_WORK, budget=2) == 2  # never above the budget
    assert choose_threads(10, budget=4, predict=True) == 4  # forward only
    idle(1)  # a busy machine: one thread, whatever the step
    assert choose_threads(10**9, budget=4) == 1
    assert choose_threads(10, budget=4, predict=True) == 1


def test_an_explicit_n_threads_wins(idle):
    idle(1)
    assert choose_threads(1, budget=2, n_threads=3) == 3
    assert choose_threads(1, budget=2, n_threads=-1) == 2


def test_thread_budget_restores_torch_and_honours_omp_num_threads(
    monkeypatch, idle, four_threads
):
    idle(4)
    with thread_budget(10**9) as n:
        assert n == torch.get_num_threads() == 4
    with thread_budget(10) as n:
        assert n == torch.get_num_threads() == 1
    assert torch.get_num_threads() == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with thread_budget(10**9):
        assert torch.get_num_threads() == 2
    with thread_budget(10**9, n_threads=3):  # the parameter over the environment
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == 4
    with pytest.raises(RuntimeError), thread_budget(10):
        raise RuntimeError("restored on errors too")
    assert torch.get_num_threads() == 4


def test_idle_cores_reads_the_machine():
    assert 1 <= idle_cores() <= cpu_count()


class ThreadsSeen(Callback):
    def __init__(self, seen):
        self.seen = seen

    def on_epoch_end(self, net, **kwargs):
        self.seen.append(torch.get_num_threads())


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, 1),  # the default network: a small step
        ({"n_threads": 3}, 3),
        ({"hidden_layer_sizes": (512,), "batch_size": 128}, 4),
    ],
)
def test_fit_trains_on_the_chosen_threads_and_restores_them(
    params, expected, idle, four_threads
):
    idle(4)
    seen = []
    X = np.random.RandomState(0).normal(size=(300, 4))
    est = JointRegressorClassifier(max_iter=2, callbacks=[ThreadsSeen(seen)], **params)
    est.fit(X, X[:, 0])
    assert seen == [expected] * (2 * est.n_models)  # every epoch of every network
    assert torch.get_num_threads() == 4


def test_n_threads_is_validated():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="The 'n_threads' parameter"):
        JointRegressorClassifier(n_threads=0).fit(X, X[:, 0])
