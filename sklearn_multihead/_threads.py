"""How many threads torch uses for a fit or a predict call (torch only).

Inside:

- ``thread_budget``: a context that sets torch's intra-op threads for a block
  and restores them after. The budget is what the caller allows: torch's
  current setting (which threadpoolctl limits change), lowered to
  ``OMP_NUM_THREADS`` when a parallel runner (joblib, Dask) set it so that
  workers x threads <= cores. Within it, ``choose_threads`` decides.
- ``choose_threads``: the policy. An explicit ``n_threads`` wins (-1: the
  whole budget). Otherwise small steps (rows per step x widest layer below
  ``PARALLEL_WORK``) run on one thread: a second one gains nothing there and
  costs 4-50 x when the CPU is busy (OpenMP pools spin against the other
  work). Larger steps use the budget, but only the cores that no other task
  is running on right now (``idle_cores``), and never fewer than one.
  Predict calls (a forward pass, no backward) take the idle cores at any
  size.
- ``idle_cores``: this process's cores minus the tasks of other processes
  that are runnable (``/proc/loadavg`` less our own running threads, as
  OpenMP workers spin on after a parallel step); the fewest in three reads
  0.5 ms apart for a fit (one for a predict call), so that a task
  running for a moment is not a busy core; the 1-minute load average where
  ``/proc`` is missing. Kept for
  half a second, and read only for large steps: a read costs ~0.1 ms.
"""

import os
import threading
import time
from contextlib import contextmanager

import torch

#: rows per step x widest layer from which a second thread is worth trying
#: (benchmarks/bench_threads.py: below it one thread is as fast, idle or busy)
PARALLEL_WORK = 2**15
#: seconds an ``idle_cores`` answer is reused
IDLE_MAX_AGE_S = 0.5
_idle_cache = {"at": -1e9, "cores": 1}
_idle_lock = threading.Lock()


def cpu_count():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _runnable_others():
    """Runnable tasks of other processes, now (None where unknown): the
    machine's runnable count less this process's running threads (the one
    reading, and OpenMP workers still spinning after a parallel step)."""
    try:
        with open("/proc/loadavg") as f:
            # the 4th field is "runnable/total"
            runnable = int(f.read().split()[3].split("/")[0])
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    own += f.read().rpartition(")")[2].split()[0] == "R"
            except (OSError, IndexError):  # a thread that just ended
                continue
    except (OSError, ValueError, IndexError):
        return None
    return max(runnable - max(own, 1), 0)


def idle_cores(samples=3, gap_s=0.0005):
    """Cores not taken by another runnable task (at least 1)."""
    with _idle_lock:
        now = time.monotonic()
        if now - _idle_cache["at"] < IDLE_MAX_AGE_S:
            return _idle_cache["cores"]
        cores = cpu_count()
        others = None
        for i in range(samples):
            if i and gap_s:
                time.sleep(gap_s)
            seen = _runnable_others()
            if seen is None:
                break
            others = seen if others is None else min(others, seen)
        if others is None:
            try:
                others = os.getloadavg()[0]
            except (AttributeError, OSError):
                others = 0
        idle = max(1, int(cores - max(others, 0)))
        _idle_cache.update(at=time.monotonic(), cores=idle)
        return idle


def omp_budget(current):
    """``current`` lowered to ``OMP_NUM_THREADS`` when that is set lower."""
    try:
        budget = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return current
    return budget if 0 < budget < current else current


def choose_threads(work, budget, n_threads=None, predict=False):
    """Threads for a step of ``work`` (rows x widest layer) within ``budget``.

    ``predict``: a forward pass only, whose matrix products gain from a
    second thread even on small calls, so it takes the idle cores whatever
    its size, from one read of the machine's load that serving loops share
    (``IDLE_MAX_AGE_S``).
    """
    if n_threads is not None:
        return budget if n_threads == -1 else max(1, int(n_threads))
    if work is None:
        return budget
    if budget <= 1:
        return 1
    if predict:
        return max(1, min(budget, idle_cores(samples=1)))
    if work < PARALLEL_WORK:
        return 1
    return max(1, min(budget, idle_cores()))


@contextmanager
def thread_budget(work=None, n_threads=None, predict=False):
    """Run the block on the threads ``choose_threads`` picks; restore torch's
    setting after. Without ``work`` and ``n_threads``, only the caller's
    budget applies (``OMP_NUM_THREADS``)."""
    before = torch.get_num_threads()
    threads = choose_threads(work, omp_budget(before), n_threads, predict)
    changed = threads != before
    if changed:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if changed:
            torch.set_num_threads(before)
