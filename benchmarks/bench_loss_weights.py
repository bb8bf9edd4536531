"""Learned loss weights that only weight regression targets up: a candidate.

Question: the default loses most on regression targets that the features
predict almost exactly (diamonds' log price: 0.880 of the best), because a
standardised squared error near 0.01 beside a log loss near 0.5 is invisible
to the trunk's gradient and to early stopping. Learned weights
(``loss_weights="uncertainty"``, Kendall et al. 2018) fix that target but
weight noisy targets down and tie over the suite (0.985 against 0.987).
Would learned weights that can only *raise* a regression target's weight
(at least 1, as the default's; classification heads stay at 1) keep the
fix without the harm? This is an experiment, not an option of the
estimator: it replaces ``JointLoss.combine`` in this process only. (The
default that came of it, ``loss_weights="auto"``, sets weights from the
held-out losses instead: ``bench_valid_weights.py``.) On the
19 tables of ``bench_real.py`` and ``bench_suite.py`` (flights at 50,000
rows, as in ``results/real.json``), 3 splits, one thread; scored against
the peers' records there.

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_loss_weights.py --suite real
    python benchmarks/bench_loss_weights.py --suite more   # in a second process
    (--tables names some tables, for more processes)
    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_loss_weights.py --report
"""

import argparse
import functools
import json
from pathlib import Path

import torch
from bench_real import _save, joint_models, load_tables, run_model, summarise
from bench_suite import MODELS, load_more_tables

from sklearn_multihead._joint import loss

RESULTS = Path(__file__).parent / "results"
NAME = "joint_regression_up"


def regression_weighted_up(self, losses):
    """Kendall's learned weights, floored at 1, for regression heads only:
    the log-variances learn as in Kendall's loss (straight through the
    floor), the weight used is never below 1; class heads keep weight 1."""
    if self.log_vars is None:
        return (self.weights * losses).sum()
    cap = torch.log(self.factor)  # weight factor * exp(-s) >= 1  <=>  s <= cap
    s = self.log_vars - torch.relu(self.log_vars - cap).detach()
    s = torch.where(self.factor < 1, s, cap)  # factor 0.5: a regression head
    return (self.factor * torch.exp(-s) * losses + 0.5 * s).sum()


def run(suite, splits, names=None):
    loss.JointLoss.combine = regression_weighted_up
    tables = load_tables(50_000) if suite == "real" else load_more_tables()
    part = ""
    if names:
        tables = {k: v for k, v in tables.items() if k in names}
        part = "_" + "_".join(sorted(tables))[:40]
    out = RESULTS / f"variant_regression_up_{suite}{part}.json"
    records = []
    fit = joint_models({"loss_weights": "uncertainty"})
    save = functools.partial(_save, out, records)
    run_model(NAME, fit, tables, splits, records, save)


def report():
    records = []
    for path in sorted(RESULTS.glob("suite*.json")) + [RESULTS / "real.json"]:
        records += json.loads(path.read_text())["records"]
    for path in sorted(RESULTS.glob("variant_*.json")):
        records += json.loads(path.read_text())["records"]
    names = ["joint_equal_weights", "joint_uncertainty", NAME]
    records = [r for r in records if r["model"] in MODELS + names]
    peers = [m for m in MODELS if m != "joint"]
    print(
        "| model | mean relative score | relative RMSE | worst target | targets "
        "above CatBoost | fit CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        others = peers + [name]
        summary, per = summarise(records, others)
        wide = per.pivot_table(
            index=["table", "target"], columns="model", values="relative"
        )
        r = summary.loc[name]
        above = int((wide[name] > wide["catboost"]).sum())
        print(
            f"| {name} | {r['relative']:.3f} | {r['relative_rmse']:.3f} | "
            f"{r['worst_target']:.3f} | {above} of {len(wide)} | "
            f"{r['fit_cpu_s']:.1f} |"
        )
    _, per = summarise(records, names)
    wide = per.pivot_table(
        index=["table", "target"], columns="model", values="relative"
    )
    print("\nthe three against each other, per target:\n")
    print(wide.round(3).to_string())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=["real", "more"])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--tables", nargs="*", default=None)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.report:
        report()
    else:
        run(args.suite, args.splits, args.tables)


if __name__ == "__main__":
    main()
