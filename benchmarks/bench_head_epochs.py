"""Per-target best epoch: what would each head's own best epoch buy?

Question: early stopping keeps the epoch where the *sum* of the targets'
validation losses was lowest. A head whose own validation loss bottomed
out earlier (a small classification target next to a regression target
that keeps improving) is dragged along past its best. On the real-table
suite of ``bench_real.py`` (3 splits; flights sampled to ``--flight-rows``),
how do the test scores change when each target is predicted by the weights
of the epoch where its own validation loss was lowest (every network's
snapshot of that epoch), against the default's one shared epoch? The
snapshots are taken by a skorch callback passed through ``callbacks``, so the
fits are the default's, one thread each; only the prediction differs.

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_head_epochs.py --out benchmarks/results/head_epochs.json

``--seed`` fits at another model seed, ``--tables`` on some tables only;
``--report FILE ...`` prints the table of result files pooled (their
ratios' range over the seeds, and the median epochs kept).
"""

import argparse
import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_real import REG, load_tables
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

from sklearn_multihead import JointRegressorClassifier


class HeadSnapshots(Callback):
    """Per network and target, the module's weights at the epoch of that
    target's lowest validation loss."""

    def __init__(self, targets):
        self.targets = targets
        self.networks = []

    def on_train_begin(self, net, **kwargs):
        self.networks.append(
            {"best": {}, "state": {}, "epoch": {}, "shared": (np.inf, None)}
        )

    def on_epoch_end(self, net, **kwargs):
        mine = self.networks[-1]
        row = net.history[-1]
        total = row.get("valid_loss")
        if total is not None and total < mine["shared"][0]:
            mine["shared"] = (total, row["epoch"])  # the epoch the fit keeps
        for t in self.targets:
            loss = row.get(f"valid_loss_{t}")
            if loss is None or not np.isfinite(loss):
                continue
            if loss < mine["best"].get(t, np.inf):
                mine["best"][t] = loss
                mine["epoch"][t] = row["epoch"]
                mine["state"][t] = copy.deepcopy(net.module_.state_dict())


def per_head_predictions(model, snaps, X, names):
    """Per target, the predictions (and probabilities) with every network's
    weights of that target's best epoch."""
    module = model.net_.module_
    members = list(module.members) if hasattr(module, "members") else [module]
    kept = [copy.deepcopy(m.state_dict()) for m in members]
    out = {}
    try:
        for j, t in enumerate(names):
            for m, network in zip(members, snaps.networks):
                state = network["state"].get(str(t))
                if state is not None:
                    m.load_state_dict(state)
            pred = model.predict(X)[t]
            proba = None
            if model.target_types_[j] != REG:
                k = [i for i, kind in enumerate(model.target_types_) if kind != REG]
                proba = model.predict_proba(X)[k.index(j)]
            out[t] = (pred, proba)
            for m, state in zip(members, kept):
                m.load_state_dict(state)
    finally:
        for m, state in zip(members, kept):
            m.load_state_dict(state)
    return out


def score(y, pred, proba, classes, kind):
    known = y.notna().to_numpy()
    if kind == REG:
        err = y.to_numpy(float)[known] - pred.to_numpy(float)[known]
        return {"rmse": float(np.sqrt(np.mean(err**2)))}
    p = np.clip(proba[known], 1e-15, 1)
    return {
        "accuracy": float(np.mean(y.to_numpy()[known] == pred.to_numpy()[known])),
        "log_loss": float(
            log_loss(y[known], p / p.sum(1, keepdims=True), labels=classes)
        ),
    }


def report(rows):
    """Per target: the scores with the shared and the own epochs (means over
    splits and seeds), their ratio and its range over the model seeds, and
    the median epoch kept (shared) and the median of the head's own best."""
    lines = [
        "| table | target | metric | shared epoch | own epoch | own / shared "
        "| over the seeds | epoch kept: shared / own (medians) |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    ratios = []
    frame = pd.DataFrame(rows)
    if "seed" not in frame:
        frame["seed"] = 0
    for (table, target), g in frame.groupby(["table", "target"], sort=False):
        epochs = "-"
        if "shared_best_epochs" in g and g["shared_best_epochs"].notna().all():
            shared = [e for r in g["shared_best_epochs"] for e in r if e]
            own = [e for r in g["head_best_epochs"] for e in r if e]
            epochs = f"{np.median(shared):.0f} / {np.median(own):.0f}"
        for metric in g["shared"].iloc[0]:

            def ratio(x, metric=metric):
                a = np.mean([r[metric] for r in x["shared"]])
                return a, np.mean([r[metric] for r in x["own"]]) / a

            a, r = ratio(g)
            per_seed = [ratio(x)[1] for _, x in g.groupby("seed")]
            if metric != "accuracy":
                ratios.append(r)
            lines.append(
                f"| {table} | {target} | {metric} | {a:.4f} | {a * r:.4f} "
                f"| {r:.4f} | {min(per_seed):.3f}-{max(per_seed):.3f} | {epochs} |"
            )
    print("\n".join(lines))
    print(
        f"\nRMSE and log loss, own / shared: mean {np.mean(ratios):.4f}, "
        f"lower on {sum(r < 1 for r in ratios)} of {len(ratios)} targets"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--flight-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0, help="the model's seed")
    parser.add_argument("--tables", nargs="*", default=None)
    parser.add_argument(
        "--report",
        nargs="+",
        type=Path,
        help="only print the table of these result files, pooled",
    )
    args = parser.parse_args()
    if args.report:
        report([r for p in args.report for r in json.loads(p.read_text())["rows"]])
        return
    tables = load_tables(flight_rows=args.flight_rows)
    if args.tables:
        tables = {k: v for k, v in tables.items() if k in args.tables}
    rows = []
    for table, (X, Y, types) in tables.items():
        for split in range(args.splits):
            tr, te = train_test_split(
                np.arange(len(X)), test_size=0.25, random_state=split
            )
            snaps = HeadSnapshots([str(c) for c in Y.columns])
            # the default's networks one after the other (pack_models=False,
            # the same networks): each one's validation losses per target
            # are its own in the history the snapshots read
            model = JointRegressorClassifier(
                target_types=types,
                random_state=args.seed,
                n_threads=1,
                pack_models=False,
                callbacks=[snaps],
            )
            with threadpool_limits(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X.iloc[tr], Y.iloc[tr])
                Xte, Yte = X.iloc[te], Y.iloc[te]
                shared = model.predict(Xte)
                shared_proba = (
                    model.predict_proba(Xte)
                    if any(k != REG for k in types.values())
                    else []
                )
                own = per_head_predictions(model, snaps, Xte, list(Y.columns))
            k = 0
            for j, (t, kind) in enumerate(types.items()):
                classes = model.target_classes_[j]
                proba = None
                if kind != REG:
                    proba = shared_proba[k]
                    k += 1
                before = score(Yte[t], shared[t], proba, classes, kind)
                after = score(Yte[t], *own[t], classes, kind)
                stop = [n["epoch"].get(t) for n in snaps.networks]
                chosen = [len(n["best"]) for n in snaps.networks]
                rows.append(
                    {
                        "table": table,
                        "target": t,
                        "kind": kind,
                        "split": split,
                        "seed": args.seed,
                        "head_best_epochs": stop,
                        "shared_best_epochs": [n["shared"][1] for n in snaps.networks],
                        "n_epochs": int(model.n_iter_),
                        "shared": before,
                        "own": after,
                        "targets_tracked": chosen,
                    }
                )
            print(f"{table:>10} split {split} done", flush=True)
    report(rows)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
