"""Intervals on real tables: do 90% intervals hold 90% of new rows?

Question: on the real-table suite of ``bench_real.py`` (its regression
targets), over 3 random 75 / 25 splits, what share of the test rows do the
90% intervals of ``predict_interval`` hold, for the joint default (calibrated
on the rows its networks held out) and the forest (on its out-of-bag rows),
and how wide are they (mean width over the target's spread)? The peer: MAPIE's
split-conformal intervals around one HistGradientBoosting model per target
(the ``mapie`` package; 80% of the training rows fit it, 20% calibrate it).
Every fit runs on one thread. Rows with a missing target cell are left out of
that target's scores. The flights table is sampled to ``--flight-rows``.

    pip install ".[benchmark]" mapie
    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_intervals.py --out benchmarks/results/intervals.json
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_real import REG, _transformer, forest, load_tables
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from sklearn_multihead import JointRegressorClassifier

COVERAGE = 0.9


def joint(X, Y, types):
    model = JointRegressorClassifier(target_types=types, random_state=0, n_threads=1)
    return model.fit(X, Y)


def mapie_bounds(X_train, y_train, X_test, seed):
    """MAPIE's split-conformal 90% interval around a HistGradientBoosting
    model of one target."""
    from mapie.regression import SplitConformalRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor

    known = y_train.notna().to_numpy()
    X_train, y_train = X_train[known], y_train[known]
    X_fit, X_cal, y_fit, y_cal = train_test_split(
        X_train, y_train, test_size=0.2, random_state=seed
    )
    model = make_pipeline(
        _transformer(X_train), HistGradientBoostingRegressor(random_state=0)
    )
    mapie = SplitConformalRegressor(model, confidence_level=COVERAGE, prefit=False)
    mapie.fit(X_fit, y_fit)
    mapie.conformalize(X_cal, y_cal)
    _, bounds = mapie.predict_interval(X_test)
    return bounds[:, 0, 0], bounds[:, 1, 0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--flight-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tables = load_tables(flight_rows=args.flight_rows)
    rows = []
    for table, (X, Y, types) in tables.items():
        targets = [t for t, kind in types.items() if kind == REG]
        for split in range(args.splits):
            tr, te = train_test_split(
                np.arange(len(X)), test_size=0.25, random_state=split
            )
            Xtr, Xte, Ytr, Yte = X.iloc[tr], X.iloc[te], Y.iloc[tr], Y.iloc[te]
            bounds = {}
            with threadpool_limits(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for name, fit in (("joint", joint), ("forest", forest)):
                    t0 = time.process_time()
                    model = fit(Xtr, Ytr, types)
                    if hasattr(model, "steps"):  # the forest behind its encoder
                        X_in, model = model[:-1].transform(Xte), model[-1]
                    else:
                        X_in = Xte
                    b = model.predict_interval(X_in, coverage=COVERAGE)
                    print(
                        f"{table:>10} split {split} {name:<7} "
                        f"{time.process_time() - t0:6.1f} s CPU",
                        flush=True,
                    )
                    for t in targets:
                        bounds[name, t] = (
                            b[f"{t}_lower"].to_numpy(),
                            b[f"{t}_upper"].to_numpy(),
                        )
                for t in targets:
                    bounds["mapie_hgb", t] = mapie_bounds(Xtr, Ytr[t], Xte, split)
            for (name, t), (lower, upper) in bounds.items():
                y = Yte[t].to_numpy(dtype=float)
                known = np.isfinite(y)
                spread = np.nanstd(Y[t].to_numpy(dtype=float))
                rows.append(
                    {
                        "table": table,
                        "target": t,
                        "split": split,
                        "model": name,
                        "test_rows": int(known.sum()),
                        "coverage": float(
                            np.mean(
                                (y[known] >= lower[known]) & (y[known] <= upper[known])
                            )
                        ),
                        "width_over_spread": float(
                            np.mean(upper[known] - lower[known]) / spread
                        ),
                    }
                )
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["table", "target", "model"], sort=False).agg(
        test_rows=("test_rows", "mean"),
        coverage=("coverage", "mean"),
        coverage_min=("coverage", "min"),
        coverage_max=("coverage", "max"),
        width=("width_over_spread", "mean"),
    )
    wide = summary.unstack("model")
    lines = [
        "| table | target | test rows | joint coverage (min-max) | forest coverage "
        "(min-max) | MAPIE + HGB coverage (min-max) | width / spread: joint | "
        "forest | MAPIE + HGB |",
        "|---|---|---:|---|---|---|---:|---:|---:|",
    ]
    for (table, target), r in wide.iterrows():

        def cov(m, r=r):
            return (
                f"{r['coverage', m]:.3f} ({r['coverage_min', m]:.3f}-"
                f"{r['coverage_max', m]:.3f})"
            )

        lines.append(
            f"| {table} | {target} | {r['test_rows', 'joint']:.0f} | {cov('joint')} | "
            f"{cov('forest')} | {cov('mapie_hgb')} | {r['width', 'joint']:.3f} | "
            f"{r['width', 'forest']:.3f} | {r['width', 'mapie_hgb']:.3f} |"
        )
    print("\n".join(lines))
    means = frame.groupby("model")["width_over_spread"].mean()
    print("\nmean width / spread:", means.round(3).to_dict())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"coverage": COVERAGE, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
