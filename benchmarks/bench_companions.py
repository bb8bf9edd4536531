"""Which companions cost a target? The worst targets fitted beside fewer others.

Question: fitted alone, Carseats' US and Hitters' League reach CatBoost's
log loss; fitted with their tables' other targets, they are 10-13% behind
(``bench_real.py``'s ``joint_separate``). Is that one companion (a noisy
target such as Carseats' Urban, or the regression target that sets the
stopping epoch), or does each companion cost a little? And does a recipe
that the whole suite has not tried (more dropout, a larger L2 penalty, one-
hot categories where the table has categorical features) get the joint
model there? For each ``--case`` (a table, the
target watched, the targets fitted together, parameters of the default):
the watched target's test log loss, 3 random 75 / 25 splits (as
``bench_real.py``) x ``--seeds`` model seeds, one thread.

    python benchmarks/bench_companions.py --out benchmarks/results/companions.json

A case is ``table:target:name=TARGET,TARGET,...[|param=json;param=json]``;
``--report FILE`` prints a result file's table. A difference below the
spread over the seeds and splits (printed beside each mean) is a tie.
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_real import _categorical, _rdata, _split_xy
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sklearn_multihead import JointRegressorClassifier

REG, CLS = "regression", "classification"
TABLES = {
    "carseats": (
        ("ISLR", "Carseats"),
        {"Sales": REG, "ShelveLoc": CLS, "US": CLS, "Urban": CLS},
    ),
    "hitters": (("ISLR", "Hitters"), {"Salary": REG, "League": CLS, "Division": CLS}),
    "auto": (("ISLR", "Auto"), {"mpg": REG, "origin": CLS}),
    "computers": (("Ecdat", "Computers"), {"price": REG, "premium": CLS, "cd": CLS}),
}
CASES = [
    "carseats:US:all=Sales,ShelveLoc,US,Urban",
    "carseats:US:alone=US",
    "carseats:US:with Sales=Sales,US",
    "carseats:US:without Urban=Sales,ShelveLoc,US",
    "carseats:US:classes only=ShelveLoc,US,Urban",
    "carseats:US:dropout 0.3=Sales,ShelveLoc,US,Urban|dropout=0.3",
    "carseats:US:alpha 1e-2=Sales,ShelveLoc,US,Urban|alpha=0.01",
    'carseats:US:held-out weights=Sales,ShelveLoc,US,Urban|loss_weights="held_out"',
    "carseats:US:batch 32=Sales,ShelveLoc,US,Urban|batch_size=32",
    "carseats:US:10 networks=Sales,ShelveLoc,US,Urban|n_models=10",
    "hitters:League:all=Salary,League,Division",
    "hitters:League:alone=League",
    "hitters:League:dropout 0.3=Salary,League,Division|dropout=0.3",
    "hitters:League:alpha 1e-2=Salary,League,Division|alpha=0.01",
    "hitters:League:one-hot=Salary,League,Division|onehot=true",
    'hitters:League:held-out weights=Salary,League,Division|loss_weights="held_out"',
    "hitters:League:batch 32=Salary,League,Division|batch_size=32",
    "hitters:League:10 networks=Salary,League,Division|n_models=10",
    "auto:origin:all=mpg,origin",
    "auto:origin:alone=origin",
    "computers:premium:all=price,premium,cd",
    "computers:premium:alone=premium",
]


def parse_case(text):
    """``table:target:name=T1,T2|p=v;p=v`` -> (table, target, name,
    targets, params); ``onehot=true`` one-hot encodes the categorical
    columns (pandas) instead of the model's embeddings."""
    table, target, rest = text.split(":", 2)
    name, rest = rest.split("=", 1)
    targets, _, settings = rest.partition("|")
    params = {}
    for item in filter(None, settings.split(";")):
        key, value = item.split("=", 1)
        params[key] = json.loads(value)
    targets = targets.split(",")
    if table not in TABLES or target not in targets:
        raise SystemExit(f"{text!r}: unknown table, or the target is not fitted")
    if any(t not in TABLES[table][1] for t in targets):
        raise SystemExit(f"{text!r}: a target the table does not have")
    return table, target, name, targets, params


def run(cases, splits, seeds):
    rows = []
    frames = {}
    for text in cases:
        table, target, name, targets, params = parse_case(text)
        if table not in frames:
            source, types = TABLES[table]
            frames[table] = _split_xy(_rdata(*source), types)
        X, Y, types = frames[table]
        params = dict(params)
        if params.pop("onehot", False):
            X = pd.get_dummies(X, columns=_categorical(X), dtype=float)
        for split in range(splits):
            tr, te = train_test_split(
                np.arange(len(X)), test_size=0.25, random_state=split
            )
            known = Y[target].iloc[te].notna().to_numpy()
            for seed in range(seeds):
                model = JointRegressorClassifier(
                    target_types={t: types[t] for t in targets},
                    random_state=seed,
                    n_threads=1,
                    **params,
                )
                with threadpool_limits(1), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X.iloc[tr], Y[targets].iloc[tr])
                    proba = model.predict_proba(X.iloc[te])
                if isinstance(proba, list):
                    classified = [t for t in targets if types[t] == CLS]
                    proba = proba[classified.index(target)]
                classes = model.target_classes_[targets.index(target)]
                y = Y[target].iloc[te].to_numpy()[known]
                loss = log_loss(y, proba[known], labels=classes)
                rows.append(
                    dict(
                        table=table,
                        target=target,
                        case=name,
                        targets=targets,
                        params=dict(params),
                        split=split,
                        seed=seed,
                        log_loss=float(loss),
                    )
                )
                print(
                    f"{table:>9} {target:>8} {name:<16} split {split} "
                    f"seed {seed}: log loss {loss:.4f}",
                    flush=True,
                )
    return rows


def report(rows):
    df = pd.DataFrame(rows)
    print("| table | target | fitted | log loss: mean | over `all` | min-max |")
    print("|---|---|---|---:|---:|---|")
    for (table, target), group in df.groupby(["table", "target"], sort=False):
        base = group[group["case"] == "all"].set_index(["split", "seed"])["log_loss"]
        for case, g in group.groupby("case", sort=False):
            mine = g.set_index(["split", "seed"])["log_loss"]
            ratio = (mine / base).mean() if len(base) else float("nan")
            print(
                f"| {table} | {target} | {case} | {mine.mean():.4f} | "
                f"{ratio:.3f} | {mine.min():.3f}-{mine.max():.3f} |"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", default=None)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()
    if args.report:
        report(json.loads(args.report.read_text())["rows"])
        return
    rows = run(args.case or CASES, args.splits, args.seeds)
    report(rows)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
