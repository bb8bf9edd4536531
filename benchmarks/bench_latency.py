"""Latency: what one small predict call costs, by the kind of X it is given.

Question: serving code calls ``predict`` many times on a few rows. How much
does a call cost beyond the network's forward pass, for the inputs users
pass (a DataFrame named as in fit, a float array, a list)?

Setup: the scale benchmark's model (32 features; 2 regression + 1 binary + 1
ten-class + 5 labels; hidden (256, 128)), fitted for 2 epochs on 10,000
rows, once on a DataFrame and once on a float32 array. Each input is timed
over ``--rows`` rows as the median of a block of calls, in ``--rounds``
rounds; the reference is a bare forward of the fitted module over a float32
tensor of the same rows, timed in the same rounds. Reported: the median over
rounds of each input's time per call and of its ratio to the reference.

Every input goes through scikit-learn's input checks (``validate_data``);
the table shows what each kind of X costs on top of the forward pass (a
float64 forward on the CPU, decisions and labels, the DataFrame).

    python benchmarks/bench_latency.py --rows 100 --out benchmarks/results/latency.json
"""

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_scale import HIDDEN, make_tables

from sklearn_multihead import JointRegressorClassifier

#: each input is called until this much time has passed (at least 5 calls)
BLOCK_SECONDS = 0.2


def fitted_models():
    X, Y = make_tables(10_000)
    # one network of the scale benchmark's layers (no numeric embeddings): the
    # per-call cost of the wrapper (the default, n_models=5, runs 5 of them)
    params = dict(
        hidden_layer_sizes=HIDDEN,
        max_iter=2,
        n_models=1,
        numeric_embedding=None,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        on_frame = JointRegressorClassifier(**params).fit(X, Y)
        on_array = JointRegressorClassifier(**params).fit(X.to_numpy(np.float32), Y)
    return X, on_frame, on_array


def calls(X, on_frame, on_array, n_rows):
    """name -> (checks, a call of predict or of the bare forward)."""
    df = X.iloc[:n_rows]
    arr = df.to_numpy(np.float32)
    tensor = torch.from_numpy(arr)
    module = on_frame.net_.module_.eval()

    def bare():
        with torch.no_grad():
            module(tensor)

    return {
        "DataFrame, float64 columns": ("full", lambda: on_frame.predict(df)),
        "array, float32": ("full", lambda: on_array.predict(arr)),
        "array, float64": ("full", lambda: on_array.predict(arr.astype(np.float64))),
        "DataFrame, nullable Float64": (
            "full",
            lambda: on_frame.predict(df.astype("Float64")),
        ),
        "list of rows": ("full", lambda: on_array.predict(arr.tolist())),
        "bare forward": ("reference", bare),
    }


def block_median(fn):
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < BLOCK_SECONDS:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    X, on_frame, on_array = fitted_models()
    fns = calls(X, on_frame, on_array, args.rows)
    for _, fn in fns.values():  # warm-up
        fn()
    per_round = {name: [] for name in fns}
    for _ in range(args.rounds):
        for name, (_, fn) in fns.items():
            per_round[name].append(block_median(fn))
    rows = []
    for name, (checks, _) in fns.items():
        ratios = [t / r for t, r in zip(per_round[name], per_round["bare forward"])]
        rows.append(
            {
                "input": name,
                "checks": checks,
                "rows": args.rows,
                "ms_per_call": 1e3 * statistics.median(per_round[name]),
                "x_bare_forward": statistics.median(ratios),
            }
        )
    lines = [
        f"| X ({args.rows} rows) | checks | ms per call | x bare forward |",
        "|---|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['input']} | {r['checks']} | {r['ms_per_call']:.3f} "
            f"| {r['x_bare_forward']:.1f} |"
        )
    print("\n".join(lines))
    if args.out:
        meta = {
            "command": " ".join(["python", *sys.argv]),
            "machine": f"{platform.processor() or platform.machine()}",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
