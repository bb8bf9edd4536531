"""What does ``target_networks`` cost in fit and predict CPU?

Question: below 2,500 rows given to fit, each target is also fitted alone
and its predictions are averaged with the joint networks'
(``target_networks="auto"``). The suite's records of the default with and
without it ran on different days and beside other processes, so their fit
CPU does not compare. Here both fit the same split of each table one right
after the other in one process (split 0, ``random_state=0``, after one fit
unmeasured, ``--repeats`` fits each in turn, medians of process CPU time),
and predict its test rows; the script records per table the medians and
their ratios. The nine tables are the suite's under 2,500 training rows.

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> OMP_NUM_THREADS=1 \\
        python benchmarks/bench_target_networks.py \\
        --out benchmarks/results/target_networks_cpu.json
"""

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_continue_heads import paired_fit_cpu
from bench_real import load_tables
from bench_suite import load_more_tables
from sklearn.model_selection import train_test_split

TABLES = [
    "hitters",
    "auto",
    "carseats",
    "salaries",
    "boston",
    "housing",
    "creditcard",
    "ames",
    "wage",
]


def predict_cpu(model, X, repeats=5):
    """Median process CPU of ``model.predict(X)``."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        model.predict(X)
        times.append(time.process_time() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="*", default=TABLES)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    tables = {**load_tables(), **load_more_tables()}
    rows = []
    for name in args.tables:
        X, Y, types = tables[name]
        train, test = train_test_split(
            np.arange(len(X)), test_size=0.25, random_state=0
        )
        off, on, model = paired_fit_cpu(
            X.iloc[train], Y.iloc[train], types, "target_networks", args.repeats
        )
        joint = model.get_params()
        joint.update(target_networks=False)
        alone = type(model)(**joint).fit(X.iloc[train], Y.iloc[train])
        p_off = predict_cpu(alone, X.iloc[test])
        p_on = predict_cpu(model, X.iloc[test])
        rows.append(
            {
                "table": name,
                "rows": len(train),
                "targets": len(types),
                "fit_cpu_s_off": off,
                "fit_cpu_s_on": on,
                "fit_ratio": on / off,
                "predict_cpu_s_off": p_off,
                "predict_cpu_s_on": p_on,
                "predict_ratio": p_on / p_off,
            }
        )
        print(
            f"{name:12s} {len(types)} targets: fit {off:6.1f} s {on:6.1f} s "
            f"{on / off:5.2f}x; predict {p_off * 1e3:6.1f} ms {p_on * 1e3:6.1f} ms "
            f"{p_on / p_off:5.2f}x"
        )
    total_off = sum(r["fit_cpu_s_off"] for r in rows)
    total_on = sum(r["fit_cpu_s_on"] for r in rows)
    ratio = total_on / total_off
    print(f"total fit    {total_off:6.1f} s {total_on:6.1f} s {ratio:5.2f}x")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
