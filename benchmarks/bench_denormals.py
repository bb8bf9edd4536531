"""Subnormal floats: what does flushing them to zero during fit save?

Question: during a long fit, weights of units that no longer get a gradient
(and Adam's moments of them) decay through the float32 subnormal range,
where the CPU multiplies 10-100 times slower. The estimator fits with
subnormals flushed to zero (``training.flushed_denormals``). On the
real-table suite of ``bench_real.py`` (one split; the flights table sampled
to ``--flight-rows``), how much fit CPU does that save, for the default (5
networks) and for a TabM ensemble of 8 members in one network, and do the
scores move? Each fit runs twice in one process, flushed and not (the
context manager replaced by a no-op), one thread, process CPU time.

    for v in default tabm_k8; do
        SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
            python benchmarks/bench_denormals.py --variants $v \\
            --out benchmarks/results/denormals_$v.json
    done
"""

import argparse
import contextlib
import json
import time
import warnings
from pathlib import Path

import numpy as np
from bench_real import REG, load_tables
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import sklearn_multihead._joint.estimator as joint_estimator
from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint.training import flushed_denormals

VARIANTS = {"default": {}, "tabm_k8": {"n_models": 1, "n_ensemble": 8}}


def fit_once(X, Y, types, params, flush):
    joint_estimator.flushed_denormals = (
        flushed_denormals if flush else contextlib.nullcontext
    )
    model = JointRegressorClassifier(
        target_types=types, random_state=0, n_threads=1, **params
    )
    t0 = time.process_time()
    model.fit(X, Y)
    return model, time.process_time() - t0


def scores(model, X, Y, types):
    pred = model.predict(X)
    out = {}
    for t, kind in types.items():
        known = Y[t].notna().to_numpy()
        y, p = Y[t][known], pred[t][known]
        if kind == REG:
            out[t] = float(
                np.sqrt(np.mean((y.to_numpy(float) - p.to_numpy(float)) ** 2))
            )
        else:
            out[t] = float(np.mean(y.to_numpy() == p.to_numpy()))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--flight-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tables = load_tables(flight_rows=args.flight_rows)
    rows = []
    for variant in args.variants:
        for table, (X, Y, types) in tables.items():
            tr, te = train_test_split(np.arange(len(X)), test_size=0.25, random_state=0)
            row = {"variant": variant, "table": table}
            for flush in (True, False):
                with threadpool_limits(1), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model, cpu = fit_once(
                        X.iloc[tr], Y.iloc[tr], types, VARIANTS[variant], flush
                    )
                    key = "flushed" if flush else "kept"
                    row[f"cpu_{key}"] = cpu
                    row[f"epochs_{key}"] = int(model.n_iter_)
                    row[f"scores_{key}"] = scores(model, X.iloc[te], Y.iloc[te], types)
            print(
                f"{variant:>8} {table:>10}: {row['cpu_kept']:7.1f} s kept, "
                f"{row['cpu_flushed']:7.1f} s flushed "
                f"(x{row['cpu_kept'] / row['cpu_flushed']:.2f}); epochs "
                f"{row['epochs_kept']} / {row['epochs_flushed']}",
                flush=True,
            )
            rows.append(row)
    joint_estimator.flushed_denormals = flushed_denormals
    print(
        "\n| variant | table | fit CPU s, subnormals kept | flushed | kept / flushed "
        "| epochs kept / flushed | largest score change |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        change = max(
            abs(r["scores_flushed"][t] - r["scores_kept"][t])
            / max(abs(r["scores_kept"][t]), 1e-12)
            for t in r["scores_kept"]
        )
        print(
            f"| {r['variant']} | {r['table']} | {r['cpu_kept']:.1f} | "
            f"{r['cpu_flushed']:.1f} | {r['cpu_kept'] / r['cpu_flushed']:.2f} | "
            f"{r['epochs_kept']} / {r['epochs_flushed']} | {change:.2%} |"
        )
    for variant in args.variants:
        mine = [r for r in rows if r["variant"] == variant]
        kept = sum(r["cpu_kept"] for r in mine)
        flushed = sum(r["cpu_flushed"] for r in mine)
        print(
            f"{variant}: suite {kept:.1f} s kept, {flushed:.1f} s flushed "
            f"(x{kept / flushed:.2f})"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
