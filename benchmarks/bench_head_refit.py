"""Class heads refitted on the trained trunk: what would they buy?

Question: fitted beside their table's other targets, Carseats' US and
Hitters' League end 12-13% above the log loss they reach alone, and no
training recipe tried (per-head layers, loss weights, PCGrad, each head's
own best epoch) gets it back. Is it the head or the trunk? After the
default's fit, each classification head's output layer is refitted on the
trained trunk's features of the training rows, per network, by scikit-learn's
``LogisticRegressionCV`` (L2, 10 strengths chosen by 5-fold log loss on the
training rows), and the networks' probabilities averaged as the default
averages them. On the tables under 10,000 rows (``bench_real.py``'s six and
``bench_suite.py``'s seven), 3 splits, one thread: the test log loss and
accuracy of every classification target, refitted against the default's
own heads (the same fit; only the heads differ).

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_head_refit.py --out benchmarks/results/head_refit.json

``--tables`` runs some tables only; ``--report FILE`` prints a result
file's table.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from bench_real import CLS, load_tables
from bench_suite import load_more_tables
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sklearn_multihead import JointRegressorClassifier

SMALL = [
    "carseats",
    "hitters",
    "auto",
    "computers",
    "abalone",
    "ames",
    "salaries",
    "boston",
    "housing",
    "creditcard",
    "stackoverflow",
    "males",
    "wage",
]


def trunk_features(model, X):
    """Per network of a fitted default model, its trunk's outputs on X."""
    matrix = torch.as_tensor(model._features.transform(X))
    module = model.net_.module_  # the fitted networks, side by side
    out = []
    for network in module.members:
        network.eval()
        with torch.no_grad():
            out.append(network.trunk(network.inputs(matrix)).numpy())
    return out


def refit_proba(train_features, test_features, y, classes):
    """The networks' average test probabilities (columns in the order of
    ``classes``) from heads refitted on their training features."""
    probas = []
    for f_train, f_test in zip(train_features, test_features):
        head = LogisticRegressionCV(
            Cs=10, cv=5, scoring="neg_log_loss", max_iter=1000, l1_ratios=(0,)
        ).fit(f_train, y)
        order = [list(head.classes_).index(c) for c in classes]
        probas.append(head.predict_proba(f_test)[:, order])
    return np.mean(probas, axis=0)


def run(tables, splits, out):
    records = []
    for name, (X, Y, types) in tables.items():
        classes_of = [t for t in types if types[t] == CLS]
        for split in range(splits):
            tr, te = train_test_split(
                np.arange(len(X)), test_size=0.25, random_state=split
            )
            with threadpool_limits(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = JointRegressorClassifier(
                    target_types=types, random_state=0, n_threads=1
                ).fit(X.iloc[tr], Y.iloc[tr])
                probas = model.predict_proba(X.iloc[te])
                f_train = trunk_features(model, X.iloc[tr])
                f_test = trunk_features(model, X.iloc[te])
                for target in classes_of:
                    j = list(types).index(target)
                    classes = [str(c) for c in model.target_classes_[j]]
                    y_train, y_test = Y[target].iloc[tr], Y[target].iloc[te]
                    known_train = y_train.notna().to_numpy()
                    known = y_test.notna().to_numpy()
                    start = time.process_time()
                    refit = refit_proba(
                        [f[known_train] for f in f_train],
                        [f[known] for f in f_test],
                        y_train[known_train].astype(str).to_numpy(),
                        classes,
                    )
                    cpu = time.process_time() - start
                    truth = y_test[known].astype(str).to_numpy()
                    own = probas[classes_of.index(target)][known]
                    labels = np.array(classes)
                    records.append(
                        {
                            "table": name,
                            "target": target,
                            "split": split,
                            "log_loss": log_loss(truth, own, labels=classes),
                            "log_loss_refit": log_loss(truth, refit, labels=classes),
                            "accuracy": accuracy_score(truth, labels[own.argmax(1)]),
                            "accuracy_refit": accuracy_score(
                                truth, labels[refit.argmax(1)]
                            ),
                            "refit_cpu_s": cpu,
                        }
                    )
                    print(
                        f"{name:>13} {target:>12} split {split}: log loss "
                        f"{records[-1]['log_loss']:.4f} -> "
                        f"{records[-1]['log_loss_refit']:.4f}",
                        flush=True,
                    )
            out.write_text(json.dumps({"records": records}, indent=1))
    return records


def report(records):
    df = pd.DataFrame(records)
    df["ratio"] = df["log_loss_refit"] / df["log_loss"]
    df["change"] = df["accuracy_refit"] - df["accuracy"]
    per = df.groupby(["table", "target"], sort=False).agg(
        own=("log_loss", "mean"),
        refit=("log_loss_refit", "mean"),
        ratio=("ratio", "mean"),
        low=("ratio", "min"),
        high=("ratio", "max"),
        change=("change", "mean"),
    )
    print(
        "| table | target | log loss: own heads | refitted | ratio (min-max) "
        "| accuracy change |"
    )
    print("|---|---|---:|---:|---|---:|")
    for (table, target), r in per.iterrows():
        print(
            f"| {table} | {target} | {r.own:.4f} | {r.refit:.4f} "
            f"| {r.ratio:.3f} ({r.low:.3f}-{r.high:.3f}) | {r.change:+.3f} |"
        )
    print(
        f"\nlog loss refitted / own: mean {df['ratio'].mean():.3f} over "
        f"{len(df)} target-splits, lower on {int((df['ratio'] < 1).sum())}; "
        f"targets lower on the mean {int((per['ratio'] < 1).sum())} of {len(per)}; "
        f"accuracy change {df['change'].mean():+.4f}; refit CPU "
        f"{df['refit_cpu_s'].sum() / df['split'].nunique():.0f} s per split"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--tables", nargs="*", default=SMALL)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results/head_refit.json"
    )
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()
    if args.report:
        report(json.loads(args.report.read_text())["records"])
        return
    every = {**load_tables(flight_rows=1), **load_more_tables()}
    tables = {name: every[name] for name in args.tables}
    report(run(tables, args.splits, args.out))


if __name__ == "__main__":
    main()
