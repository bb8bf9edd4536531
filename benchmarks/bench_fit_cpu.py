"""Fit CPU time on one thread: what does a fit of the abalone networks cost?

Question: how much process CPU does ``fit`` take, on one torch thread, for
the tutorial's network (hidden (20, 10), batch 32, 20 epochs: many tiny
steps, where per-batch bookkeeping shows most) and for the default network
(one of them, ``n_models=1``, 30 epochs at most), and for the whole default
(five networks, packed)? Process CPU time on one
thread is what the shared, noisy machines measure best; compare two commits
by running this script on each, one right after the other, and taking the
ratio of their medians.

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \
        python benchmarks/bench_fit_cpu.py --out benchmarks/results/fit_cpu.json
"""

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import load_abalone

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "datasets"
NETWORKS = {
    "reference (20, 10), batch 32, 20 epochs": dict(
        hidden_layer_sizes=(20, 10),
        learning_rate_init=1e-3,
        max_iter=20,
        batch_size=32,
        alpha=0.0,
        n_iter_no_change=150,
        early_stopping=False,
        numeric_transform="none",
        numeric_embedding=None,
        n_models=1,
        random_state=0,
    ),
    "default, one network, 30 epochs": dict(
        n_models=1, max_iter=30, n_iter_no_change=100, random_state=0
    ),
    # the whole default: five networks packed, early stopping
    "default": dict(random_state=0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    data = load_abalone(data_home=os.environ.get("SKLEARN_MULTIHEAD_DATA", SHARED))
    X = data.drop(columns=["sex", "rings"])
    Y = pd.DataFrame(
        {"rings": data["rings"].astype(float), "ring_class": data["rings"].astype(int)}
    )
    rows = []
    for name, params in NETWORKS.items():
        JointRegressorClassifier(**{**params, "max_iter": 2}).fit(X, Y)  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.process_time()
            JointRegressorClassifier(**params).fit(X, Y)
            times.append(time.process_time() - t0)
        rows.append({"network": name, "cpu_s_median": statistics.median(times)})
        print(f"{name:<42} {statistics.median(times):.3f} s CPU (median)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = {"torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
        args.out.write_text(json.dumps({**result, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
