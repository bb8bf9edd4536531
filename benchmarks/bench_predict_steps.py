"""Where a 10,000-row predict spends its time beyond the network.

Question: how fast is predict's chunked forward pass against one pass over
all rows, and what do the steps after it cost, right after a forward pass
(as in predict) and warm (repeated on their own)?

Setup: the scale benchmark's table and model (``bench_scale.py``: 32
features, 9 targets, hidden (256, 128)), fitted for 2 epochs on ``--rows``
rows. Forward passes are timed in blocks of 10 calls per variant, over
``--rounds`` rounds; the ratio column is the median over rounds of the one
pass's time over the variant's. A step is timed right after a forward pass
("after forward": the pass has evicted the CPU's caches) and on its own
("warm"), medians over ``--rounds`` x 10 calls.

    python benchmarks/bench_predict_steps.py --out benchmarks/results/predict_steps.json
"""

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from bench_scale import BATCH, HIDDEN, make_data


def _block(fn, calls=10):
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def forward_rows(module, X_t, rounds):
    """One pass against chunked passes written into one output array."""

    def one_pass():
        with torch.no_grad():
            module(X_t)

    def chunked(rows):
        def run():
            out = torch.empty((len(X_t), sum(module.head_sizes)))
            with torch.inference_mode():
                for s in range(0, len(X_t), rows):
                    out[s : s + rows] = module(X_t[s : s + rows])

        return run

    variants = {"one pass": one_pass}
    variants.update({f"chunks of {r:,} rows": chunked(r) for r in (2048, 4096, 5000)})
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            times[name].append(_block(fn))
    base = times["one pass"]
    return [
        {
            "variant": name,
            "ms": 1e3 * statistics.median(t),
            "speed_vs_one_pass": statistics.median(b / x for b, x in zip(base, t)),
        }
        for name, t in times.items()
    ]


def step_rows(est, X_t, rounds):
    """Steps of predict after the forward pass, cold and warm."""
    raw = est.net_.predict_raw(X_t)
    columns = est._decisions(raw)
    enc = est._encoder
    cols = [
        c if t == "regression" else enc._labels(j).take(c)
        for j, (t, c) in enumerate(zip(enc.types_, columns))
    ]
    names = pd.DataFrame(dict.fromkeys(enc.names_, ())).columns
    index = pd.RangeIndex(len(raw))
    multiclass = next(sl for sl, kind in est._heads() if kind == "multiclass")
    steps = {
        "pd.DataFrame(dict) of the 9 predicted columns": lambda: pd.DataFrame(
            dict(zip(enc.names_, cols)), copy=False
        ),
        "pd.DataFrame._from_arrays, same columns": lambda: pd.DataFrame._from_arrays(
            cols, columns=names, index=index, verify_integrity=False
        ),
        "argmax of the 10-class head": lambda: torch.from_numpy(
            raw[:, multiclass]
        ).argmax(dim=1),
        "decisions (9 targets)": lambda: est._decisions(raw),
        "decode (9 targets, with the DataFrame)": lambda: enc.decode(columns),
    }
    out = []
    for name, fn in steps.items():
        cold, warm = [], []
        for _ in range(rounds * 10):
            est.net_.predict_raw(X_t)
            t0 = time.perf_counter()
            fn()
            cold.append(time.perf_counter() - t0)
        for _ in range(rounds):
            warm.append(_block(fn))
        c, w = statistics.median(cold), statistics.median(warm)
        out.append(
            {"step": name, "after_forward_ms": 1e3 * c, "warm_ms": 1e3 * w, "x": c / w}
        )
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from sklearn_multihead import JointRegressorClassifier

    X, Y = make_data(args.rows)
    est = JointRegressorClassifier(
        hidden_layer_sizes=HIDDEN,
        batch_size=BATCH,
        max_iter=2,
        n_models=1,  # one network's forward pass
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, Y)
    X_t = torch.from_numpy(np.ascontiguousarray(X))
    forward = forward_rows(est.net_.module_, X_t, args.rounds)
    steps = step_rows(est, X_t, args.rounds)
    print(f"| forward pass, {args.rows:,} rows | ms | speed / one pass |")
    print("|---|---:|---:|")
    for r in forward:
        print(f"| {r['variant']} | {r['ms']:.2f} | {r['speed_vs_one_pass']:.3f} |")
    print()
    print("| step | ms after a forward pass | ms warm | x |")
    print("|---|---:|---:|---:|")
    for r in steps:
        print(
            f"| {r['step']} | {r['after_forward_ms']:.3f} | {r['warm_ms']:.3f} "
            f"| {r['x']:.1f} |"
        )
    if args.out:
        meta = {"command": " ".join(["python", *sys.argv]), "torch": torch.__version__}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"meta": meta, "forward": forward, "steps": steps}, indent=2)
        )


if __name__ == "__main__":
    main()
