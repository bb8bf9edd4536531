"""The thread policy: one torch thread for small steps, the caller's budget
(torch's setting, lowered to OMP_NUM_THREADS) for large ones, an explicit
n_threads winning but never above the machine's cores; torch's setting
restored after every call; concurrent predictions equal to sequential ones."""

import os
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint import training
from sklearn_multihead._joint.training import (
    PARALLEL_WORK,
    PREDICT_PARALLEL_WORK,
    threads_for,
    torch_threads,
)


@pytest.fixture
def four_threads(monkeypatch):
    """torch on 4 threads of a machine of 8 cores, with no budget from the
    environment (other tests' parallel runners may have left
    OMP_NUM_THREADS set)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(training, "cpu_count", lambda: 8)
    monkeypatch.setattr(training, "busy_cores", lambda **kwargs: 0)
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


def test_small_steps_run_on_one_thread_large_ones_on_the_budget(
    monkeypatch, four_threads
):
    assert threads_for(PARALLEL_WORK - 1) == 1
    assert threads_for(PARALLEL_WORK) == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a parallel runner's budget
    assert threads_for(PARALLEL_WORK) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert threads_for(PARALLEL_WORK) == 4


def test_large_steps_leave_out_the_busy_cores(monkeypatch, four_threads):
    monkeypatch.setattr(training, "busy_cores", lambda **kwargs: 7)
    assert threads_for(PARALLEL_WORK) == 1
    monkeypatch.setattr(training, "busy_cores", lambda **kwargs: 5)
    assert threads_for(PARALLEL_WORK) == 3
    assert threads_for(PARALLEL_WORK - 1) == 1
    assert threads_for(PARALLEL_WORK, n_threads=4) == 4  # the parameter wins
    # predict calls: one thread below their own, larger, threshold
    assert threads_for(PARALLEL_WORK, parallel_work=PREDICT_PARALLEL_WORK) == 1
    assert threads_for(PREDICT_PARALLEL_WORK, parallel_work=PREDICT_PARALLEL_WORK) == 3


def test_busy_cores_sees_a_busy_process():
    import multiprocessing
    import time

    if not os.path.exists("/proc/loadavg"):
        pytest.skip("reads Linux's /proc")
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=_spin, args=(stop,))
    spinner.start()
    try:
        time.sleep(0.3)
        assert training.busy_cores() >= 1
    finally:
        stop.set()
        spinner.join()


def _spin(stop):
    while not stop.is_set():
        pass


def test_an_explicit_n_threads_wins_within_the_machine(monkeypatch, four_threads):
    assert threads_for(1, n_threads=3) == 3
    assert threads_for(1, n_threads=-1) == 4
    monkeypatch.setattr(training, "cpu_count", lambda: 2)
    # a model file's n_threads=100000 cannot ask OpenMP for 100,000 threads
    assert threads_for(1, n_threads=100_000) == 2


def test_torch_threads_restores_torch_on_exit_and_on_errors(four_threads):
    with torch_threads(1) as n:
        assert n == torch.get_num_threads() == 1
    assert torch.get_num_threads() == 4
    with pytest.raises(RuntimeError), torch_threads(2):
        raise RuntimeError("restored on errors too")
    assert torch.get_num_threads() == 4


def test_torch_threads_sets_torch_even_when_openmp_already_says_so(
    monkeypatch, four_threads
):
    """``threadpool_limits(1)`` lowers OpenMP's count, which
    ``torch.get_num_threads`` reads, but not the count torch gave its MKL at
    the last ``torch.set_num_threads``: the scope must set it itself, or
    MKL's matrix products run on the old count."""
    from threadpoolctl import threadpool_limits

    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    with threadpool_limits(1):
        if torch.get_num_threads() != 1:
            pytest.skip("threadpoolctl does not see torch's OpenMP here")
        with torch_threads(1):
            assert calls == [1]
    assert calls[-1] == 1  # the setting found is put back


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
    params, expected, four_threads
):
    seen = []
    X = np.random.RandomState(0).normal(size=(300, 4))
    est = JointRegressorClassifier(
        max_iter=2, n_models=2, callbacks=[ThreadsSeen(seen)], **params
    )
    est.fit(X, X[:, 0])
    assert seen == [expected] * 2  # every epoch (the two networks packed)
    assert torch.get_num_threads() == 4


def test_threads_predicting_at_once_give_the_results_they_give_in_turn():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 5))
    Y = pd.DataFrame({"v": X[:, 0], "k": X[:, 1] > 0})
    est = JointRegressorClassifier(max_iter=3, n_models=2, random_state=0)
    est.fit(X, Y)
    chunks = [X[i : i + 7] for i in range(0, 400, 7)]
    in_turn = [est.predict_proba(c)[0] for c in chunks]
    results = [None] * len(chunks)
    barrier = threading.Barrier(4)

    def work(offset):
        barrier.wait()
        for i in range(offset, len(chunks), 4):
            results[i] = est.predict_proba(chunks[i])[0]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(results, in_turn):
        np.testing.assert_array_equal(a, b)


def test_n_threads_is_validated():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="The 'n_threads' parameter"):
        JointRegressorClassifier(n_threads=0).fit(X, X[:, 0])


class FlushSeen(Callback):
    def __init__(self, seen):
        self.seen = seen

    def on_epoch_end(self, net, **kwargs):
        self.seen.append(training.denormals_flushed())


@pytest.mark.parametrize("users_setting", [False, True])
def test_fit_flushes_subnormals_and_leaves_the_threads_setting_as_it_was(
    users_setting,
):
    """Subnormal weights slow a CPU fit down by up to 7x (bench_denormals):
    fit and further training run with them flushed to zero, and the calling
    thread's setting is what it was afterwards."""
    seen = []
    X = np.random.RandomState(0).normal(size=(300, 4))
    torch.set_flush_denormal(users_setting)
    try:
        est = JointRegressorClassifier(
            max_iter=2, n_models=2, callbacks=[FlushSeen(seen)], warm_start=True
        )
        est.fit(X, X[:, 0])
        assert training.denormals_flushed() is users_setting
        est.fit(X, X[:, 0])  # more training
        assert training.denormals_flushed() is users_setting
    finally:
        torch.set_flush_denormal(False)
    assert seen == [True] * 4  # 2 epochs of the packed networks, 2 more
    # a subnormal is a subnormal again outside fit
    assert float(torch.tensor(1e-40) * 1.0) != 0.0


def test_the_flush_setting_is_read_in_float32_whatever_the_default_dtype():
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.set_flush_denormal(True)
        assert training.denormals_flushed() is True
        with training.flushed_denormals():
            pass
        assert training.denormals_flushed() is True  # the user's setting kept
    finally:
        torch.set_flush_denormal(False)
        torch.set_default_dtype(dtype)
    assert training.denormals_flushed() is False
