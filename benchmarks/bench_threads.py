"""Does the thread policy (``n_threads=None``) fit and predict as fast as the
best fixed thread count, on an idle machine and on a busy one?

For each network size (from the abalone default up to hidden (256, 128) with
batch 1024) and each background load (0, 1 or 2 busy processes, bounded
busy loops that this script starts and stops), fit and predict with 1
thread, 2 threads and the policy; the three run interleaved in each repeat
so that a slow phase of the machine hits all of them. Times are wall-clock
(a busy machine is what a user waits on), medians over repeats. The bar
(issue "fast on busy machines"): policy / fastest fixed count at most 1.05
idle and at most 1.3 with two busy processes, at every size.

    python benchmarks/bench_threads.py --out benchmarks/results/threads.json
"""

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset

SIZES = {
    # name: rows, features, hidden, batch, epochs
    "abalone default (64, 32) b256": (4177, 8, (64, 32), 256, 10),
    "(128, 64) b512": (20000, 32, (128, 64), 512, 3),
    "(256, 128) b1024": (20000, 32, (256, 128), 1024, 3),
}
CONFIGS = {"1 thread": 1, "2 threads": 2, "policy": None}
#: a busy process never outlives this many seconds
BUSY_LIMIT_S = 900


def busy(deadline):
    x = 0
    while time.time() < deadline:
        x += 1


def start_busy(n):
    deadline = time.time() + BUSY_LIMIT_S
    procs = [mp.Process(target=busy, args=(deadline,), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let them reach the run queue
    return procs


def stop_busy(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        p.join()


def measure(size, repeats):
    rows, features, hidden, batch, epochs = SIZES[size]
    X, Y = make_joint_dataset(n_samples=rows, n_features=features, random_state=0)
    X = X.to_numpy(dtype=np.float32)
    fit_s = {c: [] for c in CONFIGS}
    predict_s = {c: [] for c in CONFIGS}
    for _ in range(repeats):
        for name, n_threads in CONFIGS.items():
            est = JointRegressorClassifier(
                hidden_layer_sizes=hidden,
                batch_size=batch,
                max_iter=epochs,
                n_threads=n_threads,
                n_models=1,  # the thread policy of one network's steps
                random_state=0,
            )
            t0 = time.perf_counter()
            est.fit(X, Y)
            fit_s[name].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            est.predict(X)
            predict_s[name].append(time.perf_counter() - t0)
    return {
        "fit_s": {c: statistics.median(v) for c, v in fit_s.items()},
        "predict_s": {c: statistics.median(v) for c, v in predict_s.items()},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loads", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="benchmarks/results/threads.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    torch.set_num_threads(2)
    results = {
        "torch": torch.__version__,
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
        "rows": [],
    }
    header = (
        f"{'size':<32} {'busy':>4}  {'fit 1t':>7} {'fit 2t':>7} {'policy':>7} "
        f"{'/best':>6}  {'pred 1t':>7} {'pred 2t':>7} {'policy':>7} {'/best':>6}"
    )
    print(header)
    for load in args.loads:
        procs = start_busy(load)
        try:
            for size in SIZES:
                r = measure(size, args.repeats)
                fit, pred = r["fit_s"], r["predict_s"]
                row = {
                    "size": size,
                    "busy_processes": load,
                    **r,
                    "fit_policy_over_best": fit["policy"]
                    / min(fit["1 thread"], fit["2 threads"]),
                    "predict_policy_over_best": pred["policy"]
                    / min(pred["1 thread"], pred["2 threads"]),
                }
                results["rows"].append(row)
                print(
                    f"{size:<32} {load:>4}  {fit['1 thread']:>7.3f} "
                    f"{fit['2 threads']:>7.3f} {fit['policy']:>7.3f} "
                    f"{row['fit_policy_over_best']:>6.2f}  "
                    f"{pred['1 thread']:>7.4f} {pred['2 threads']:>7.4f} "
                    f"{pred['policy']:>7.4f} {row['predict_policy_over_best']:>6.2f}",
                    flush=True,
                )
        finally:
            stop_busy(procs)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
