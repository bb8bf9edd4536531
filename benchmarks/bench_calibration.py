"""Calibrated probabilities on real tables: does temperature scaling help?

Question: on the real-table suite of ``bench_real.py`` (its classification
targets), over 3 random 75 / 25 splits, does ``calibrate=True`` (one
temperature per classification head, fitted on the rows the networks held
out for early stopping) lower the test log loss and the expected calibration
error (ECE, 15 bins, top label) without lowering accuracy, for the default
(5 averaged networks) and for one network? Both settings train the same
networks (the same seeds; only the division of the logits differs), so the
differences are calibration's alone. Each variant runs in its own process
(``--variant``; run two at once on two cores), one thread per fit, and
writes ``results/calibration_<variant>.json``; ``--report`` prints the
tables from them.

    pip install ".[benchmark]"
    for v in raw calibrated raw_1 calibrated_1; do
        SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
            python benchmarks/bench_calibration.py --variant $v
    done
    python benchmarks/bench_calibration.py --report
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_real import CLS, load_tables
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sklearn_multihead import JointRegressorClassifier, target_report

RESULTS = Path(__file__).parent / "results"
VARIANTS = {
    "raw": dict(calibrate=False),
    "calibrated": dict(calibrate=True),
    "raw_1": dict(calibrate=False, n_models=1),
    "calibrated_1": dict(calibrate=True, n_models=1),
}


def run(variant, splits, flight_rows):
    tables = load_tables(flight_rows=flight_rows)
    rows = []
    for table, (X, Y, types) in tables.items():
        targets = [t for t, kind in types.items() if kind == CLS]
        if not targets:
            continue
        for split in range(splits):
            tr, te = train_test_split(
                np.arange(len(X)), test_size=0.25, random_state=split
            )
            model = JointRegressorClassifier(
                target_types=types, random_state=0, n_threads=1, **VARIANTS[variant]
            )
            t0 = time.process_time()
            with threadpool_limits(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X.iloc[tr], Y.iloc[tr])
                report = target_report(
                    Y.iloc[te],
                    model.predict(X.iloc[te]),
                    model.target_types_,
                    y_proba=model.predict_proba(X.iloc[te]),
                    classes=model.target_classes_,
                ).set_index("target")
            print(
                f"{table:>10} split {split} {variant:<13} "
                f"{time.process_time() - t0:6.1f} s CPU",
                flush=True,
            )
            for t in targets:
                j = list(Y.columns).index(t)
                rows.append(
                    {
                        "table": table,
                        "target": t,
                        "split": split,
                        "test_rows": int(report.loc[t, "n_known"]),
                        "temperature": float(model.temperatures_[j]),
                        **{
                            m: float(report.loc[t, m])
                            for m in ("accuracy", "log_loss", "ece")
                        },
                    }
                )
    out = RESULTS / f"calibration_{variant}.json"
    out.write_text(json.dumps({"variant": variant, "rows": rows}, indent=1))
    print(f"wrote {out}")


def report():
    frames = []
    for variant in VARIANTS:
        path = RESULTS / f"calibration_{variant}.json"
        if path.exists():
            frame = pd.DataFrame(json.loads(path.read_text())["rows"])
            frames.append(frame.assign(variant=variant))
    frame = pd.concat(frames)
    keys = ["table", "target"]
    for networks, (raw, cal) in {
        "5 networks (default)": ("raw", "calibrated"),
        "1 network": ("raw_1", "calibrated_1"),
    }.items():
        pair = frame[frame.variant.isin([raw, cal])]
        if pair.variant.nunique() < 2:
            continue
        wide = pair.pivot_table(
            index=keys + ["split"],
            columns="variant",
            values=["log_loss", "ece", "accuracy", "temperature"],
        )
        per = wide.groupby(level=keys, sort=False).mean()
        print(f"\n{networks}: test log loss, ECE and accuracy, mean of 3 splits\n")
        print(
            "| table | target | temperature | log loss before | after | "
            "ECE before | after | accuracy before | after |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for (table, target), r in per.iterrows():
            print(
                f"| {table} | {target} | {r['temperature', cal]:.2f} | "
                f"{r['log_loss', raw]:.4f} | {r['log_loss', cal]:.4f} | "
                f"{r['ece', raw]:.4f} | {r['ece', cal]:.4f} | "
                f"{r['accuracy', raw]:.4f} | {r['accuracy', cal]:.4f} |"
            )
        ratio = wide["log_loss", cal] / wide["log_loss", raw]
        ece_diff = wide["ece", cal] - wide["ece", raw]
        acc_diff = wide["accuracy", cal] - wide["accuracy", raw]
        print(
            f"\nlog loss after / before: mean {ratio.mean():.4f} "
            f"(min {ratio.min():.4f}, max {ratio.max():.4f}; lower on "
            f"{int((ratio < 1).sum())} of {len(ratio)} target-splits); "
            f"ECE change: mean {ece_diff.mean():+.4f}; accuracy change: mean "
            f"{acc_diff.mean():+.4f} (min {acc_diff.min():+.4f})"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=list(VARIANTS))
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--flight-rows", type=int, default=50_000)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.report:
        report()
    else:
        run(args.variant, args.splits, args.flight_rows)


if __name__ == "__main__":
    main()
