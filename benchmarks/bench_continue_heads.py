"""What does ``continue_heads`` cost in fit CPU?

Question: the heads still learning at a network's stop are trained on
(``continue_heads=True``, the default) one network at a time, on one
thread. The suite's records of the default with and without it ran on
different days, so their fit CPU does not compare. Here both fit the same
split of each table one right after the other in one process (split 0,
``random_state=0``, after one fit unmeasured, ``--repeats`` fits each in
turn, medians of process CPU time),
and the script records per table the medians, their ratio and, per network,
the epoch of further training it kept (``continued_epochs_``).

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> OMP_NUM_THREADS=1 \\
        python benchmarks/bench_continue_heads.py \\
        --out benchmarks/results/continue_heads_cpu.json
"""

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_real import load_tables
from bench_suite import load_more_tables
from sklearn.model_selection import train_test_split

from sklearn_multihead import JointRegressorClassifier

HERE = Path(__file__).resolve().parent
#: the suite's tables where a network kept further training at some seed,
#: and two large ones
TABLES = [
    "carseats",
    "hitters",
    "salaries",
    "housing",
    "doctor",
    "creditcard",
    "star",
    "flights",
]


def paired_fit_cpu(X, Y, types, param, repeats, **params):
    """Median fit CPU of the default with ``param=False`` and with it True
    on the same rows, in turn in this process (after one fit unmeasured:
    the first fit of a process pays for lazy imports and allocator
    warm-up; each side first in every other repeat); and the last model
    fitted with it True."""
    cpu = {False: [], True: []}
    model = None
    JointRegressorClassifier(target_types=types, random_state=0, **params).fit(X, Y)
    for repeat in range(repeats):
        for flag in (False, True) if repeat % 2 == 0 else (True, False):
            fitted = JointRegressorClassifier(
                target_types=types, random_state=0, **{**params, param: flag}
            )
            start = time.process_time()
            fitted.fit(X, Y)
            cpu[flag].append(time.process_time() - start)
            if flag:
                model = fitted
    return statistics.median(cpu[False]), statistics.median(cpu[True]), model


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
        train, _ = train_test_split(np.arange(len(X)), test_size=0.25, random_state=0)
        off, on, model = paired_fit_cpu(
            X.iloc[train], Y.iloc[train], types, "continue_heads", args.repeats
        )
        kept = model.continued_epochs_
        rows.append(
            {
                "table": name,
                "rows": len(train),
                "fit_cpu_s_off": off,
                "fit_cpu_s_on": on,
                "ratio": on / off,
                "continued_epochs": kept,
            }
        )
        print(f"{name:12s} {off:7.1f} s {on:7.1f} s {on / off:5.2f}x kept {kept}")
    total_off = sum(r["fit_cpu_s_off"] for r in rows)
    total_on = sum(r["fit_cpu_s_on"] for r in rows)
    ratio = total_on / total_off
    print(f"total        {total_off:7.1f} s {total_on:7.1f} s {ratio:5.2f}x")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
