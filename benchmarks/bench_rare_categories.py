"""Where does CatBoost's lead on Auto's origin come from, and does target
encoding close it?

Question: on ISLR's Auto table, CatBoost's log loss on the car's origin was
10-13% below the joint default's at every model seed, the suite's worst
target. The table's one categorical feature is the car's ``name`` (301
names in 392 rows, most seen 1-5 times; "toyota corolla" tells the origin).
Is the lead the name (fit both models without it), and does the joint
model's ``target_encoding="auto"`` (each class's share among the fit rows
of a name, out-of-fold in fit) take it back? How much of that comes from
names seen only once in fit (merged into one name)? Per model and feature set: the
origin's test log loss and accuracy and mpg's RMSE, means over the 3
random 75 / 25 splits of ``bench_real.py``, one thread, model seed 0.

    python benchmarks/bench_rare_categories.py \\
        --out benchmarks/results/rare_categories.json
    python benchmarks/bench_rare_categories.py \\
        --report benchmarks/results/rare_categories.json
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_real import (
    CLS,
    REG,
    _catboost,
    _predict_joint,
    _predict_per_target,
    _rdata,
    _split_xy,
    evaluate,
)
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sklearn_multihead import JointRegressorClassifier

TYPES = {"mpg": REG, "origin": CLS}


def _joint(encoding):
    def fit(X, Y):
        return JointRegressorClassifier(
            target_types=TYPES, random_state=0, n_threads=1, target_encoding=encoding
        ).fit(X, Y)

    return fit


def _per_target_catboost(X, Y):
    return {t: _catboost(X, Y[t], kind) for t, kind in TYPES.items()}


MODELS = {
    "joint (target_encoding='auto', the default)": _joint("auto"),
    "joint (target_encoding=None)": _joint(None),
    "catboost": _per_target_catboost,
}


#: the name as it is; names seen once in the split's fit rows (and names
#: unseen there) merged into one; no name
FEATURES = ("with name", "with name, names seen once merged", "without name")


def _features(X, train, features):
    if features == "without name":
        return X.drop(columns=["name"])
    if features == "with name":
        return X
    counts = X["name"].iloc[train].value_counts()
    repeated = counts.index[counts >= 2]
    return X.assign(name=X["name"].where(X["name"].isin(repeated), "(once)"))


def run(splits=3):
    X, Y, _ = _split_xy(_rdata("ISLR", "Auto"), TYPES)
    records = []
    for features in FEATURES:
        for model, fit in MODELS.items():
            for split in range(splits):
                tr, te = train_test_split(
                    np.arange(len(X)), test_size=0.25, random_state=split
                )
                Xf = _features(X, tr, features)
                with threadpool_limits(1), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = fit(Xf.iloc[tr], Y.iloc[tr])
                    row = {"model": model, "features": features, "split": split}
                    for target, kind in TYPES.items():
                        if isinstance(m, dict):
                            pred = _predict_per_target(m, Xf.iloc[te], target, kind)
                        else:
                            pred = _predict_joint(m, Xf.iloc[te], target, kind, TYPES)
                        scores = evaluate(*pred, Y[target].iloc[te], kind)
                        row.update({f"{target}_{k}": v for k, v in scores.items()})
                records.append(row)
                print(model, features, split, flush=True)
    return records


def report(records):
    frame = pd.DataFrame(records)
    table = frame.groupby(["features", "model"], sort=False)[
        ["origin_log_loss", "origin_accuracy", "mpg_rmse"]
    ].mean()
    print("| features | model | origin log loss | origin accuracy | mpg RMSE |")
    print("|---|---|---:|---:|---:|")
    for (features, model), r in table.iterrows():
        print(
            f"| {features} | {model} | {r['origin_log_loss']:.4f} "
            f"| {r['origin_accuracy']:.4f} | {r['mpg_rmse']:.3f} |"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--report", type=Path, default=None)
    args = ap.parse_args()
    if args.report:
        report(json.loads(args.report.read_text())["records"])
        return
    records = run()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"records": records}, indent=1))
    report(records)


if __name__ == "__main__":
    main()
