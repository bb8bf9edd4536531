"""Abalone: rings as a number and as a class, in one model.

Question: on the tutorial's experiment (a Keras joint model on abalone), does
JointRegressorClassifier (1) cost nothing over the loop a torch user would
write by hand, (2) with its defaults, match or beat the tutorial's numbers
(MAE 1.495 rings, accuracy 25.6%) and a random forest, fast, and (3) does
learning both targets jointly help or at least not hurt?

Setup (the tutorial's): sex column dropped, 7 measurements as features, a
67 / 33 random split with ``random_state=1``; targets rings (regression) and
rings as a class (classification). Models, each over ``--seeds`` seeds:

- ``hand_torch_reference``: tensors built once, a random permutation per
  epoch, index slicing, ``torch.optim.Adam`` with its defaults; hidden (20, 10),
  ReLU, He-normal, lr 1e-3, 150 epochs, batch 32, MSE + cross-entropy;
- ``joint_reference``: JointRegressorClassifier in that configuration;
- ``joint_default``: JointRegressorClassifier with its defaults;
- ``separate_default``: one default JointRegressorClassifier per target;
- ``rf``: RandomForestRegressorClassifier with its defaults.

Times are ratios against ``hand_torch_reference`` measured in the same run.

    python benchmarks/bench_abalone.py --seeds 5 --out benchmarks/results/abalone.json
"""

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from torch import nn

from sklearn_multihead import JointRegressorClassifier, RandomForestRegressorClassifier
from sklearn_multihead.datasets import load_abalone

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "datasets"
TYPES = {"rings": "regression", "ring_class": "classification"}
REFERENCE = dict(
    hidden_layer_sizes=(20, 10),
    learning_rate_init=1e-3,
    max_iter=150,
    batch_size=32,
    alpha=0.0,
    n_iter_no_change=150,  # never stop early: 150 epochs, as the tutorial
    early_stopping=False,
    # the hand loop's network: the numbers as they are, no embeddings
    numeric_transform="none",
    numeric_embedding=None,
    n_models=1,  # one network, as the hand loop trains
)


def load_split():
    data = load_abalone(data_home=os.environ.get("SKLEARN_MULTIHEAD_DATA", SHARED))
    X = data.drop(columns=["sex", "rings"]).to_numpy(np.float32)
    Y = pd.DataFrame(
        {"rings": data["rings"].astype(float), "ring_class": data["rings"]}
    )
    return train_test_split(X, Y, test_size=0.33, random_state=1)


class HandTorchReference:
    """The straightforward torch loop (the overhead reference)."""

    def __init__(self, seed):
        self.seed = seed

    def fit(self, X, Y):
        torch.manual_seed(self.seed)
        self.classes = np.unique(Y["ring_class"])
        x = torch.from_numpy(X)
        r = torch.tensor(Y["rings"].to_numpy(), dtype=torch.float32)
        c = torch.from_numpy(np.searchsorted(self.classes, Y["ring_class"]))
        self.trunk = nn.Sequential(
            nn.Linear(x.shape[1], 20), nn.ReLU(), nn.Linear(20, 10), nn.ReLU()
        )
        self.reg, self.cls = nn.Linear(10, 1), nn.Linear(10, len(self.classes))
        for m in self.trunk:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        params = [
            *self.trunk.parameters(),
            *self.reg.parameters(),
            *self.cls.parameters(),
        ]
        opt = torch.optim.Adam(params, lr=1e-3)
        n = len(x)
        for _ in range(150):
            perm = torch.randperm(n)
            for i in range(0, n, 32):
                idx = perm[i : i + 32]
                h = self.trunk(x[idx])
                loss = F.mse_loss(self.reg(h)[:, 0], r[idx]) + F.cross_entropy(
                    self.cls(h), c[idx]
                )
                opt.zero_grad()
                loss.backward()
                opt.step()
        return self

    def predict(self, X):
        with torch.no_grad():
            h = self.trunk(torch.from_numpy(X))
            rings = self.reg(h)[:, 0].numpy()
            cls = self.classes[self.cls(h).argmax(1).numpy()]
        return pd.DataFrame({"rings": rings, "ring_class": cls})


class Separate:
    """One default JointRegressorClassifier per target."""

    def __init__(self, seed):
        self.models = {
            name: JointRegressorClassifier(target_types=[t], random_state=seed)
            for name, t in TYPES.items()
        }

    def fit(self, X, Y):
        for name, m in self.models.items():
            m.fit(X, Y[[name]])
        return self

    def predict(self, X):
        return pd.concat([m.predict(X) for m in self.models.values()], axis=1)


MODELS = {
    "hand_torch_reference": HandTorchReference,
    "joint_reference": lambda s: JointRegressorClassifier(
        target_types=TYPES, random_state=s, **REFERENCE
    ),
    "joint_default": lambda s: JointRegressorClassifier(
        target_types=TYPES, random_state=s
    ),
    "separate_default": Separate,
    "rf": lambda s: RandomForestRegressorClassifier(target_types=TYPES, random_state=s),
}


def run(seeds, models=tuple(MODELS)):
    X_train, X_test, Y_train, Y_test = load_split()
    # warm-up: first-call imports and allocations are not part of any model's time
    for name in models:
        MODELS[name](0).fit(X_train[:64], Y_train[:64])
    rows = []
    for seed in range(seeds):
        for name in models:
            model = MODELS[name](seed)
            t0 = time.perf_counter()
            model.fit(X_train, Y_train)
            t1 = time.perf_counter()
            pred = model.predict(X_test)
            t2 = time.perf_counter()
            rows.append(
                {
                    "model": name,
                    "seed": seed,
                    "mae": float(
                        np.mean(
                            np.abs(
                                pred["rings"].to_numpy() - Y_test["rings"].to_numpy()
                            )
                        )
                    ),
                    "accuracy": float(
                        np.mean(
                            pred["ring_class"].to_numpy()
                            == Y_test["ring_class"].to_numpy()
                        )
                    ),
                    "fit_s": t1 - t0,
                    "predict_s": t2 - t1,
                }
            )
            print(
                f"seed {seed} {name:<22} mae {rows[-1]['mae']:.3f} "
                f"acc {rows[-1]['accuracy']:.3f} fit {t1 - t0:.2f}s",
                flush=True,
            )
    return rows


def summarise(rows):
    df = pd.DataFrame(rows)
    ref = df[df.model == "hand_torch_reference"].set_index("seed")["fit_s"]
    df["fit_ratio"] = df["fit_s"] / df["seed"].map(ref)
    table = df.groupby("model", sort=False).agg(
        mae_mean=("mae", "mean"),
        mae_std=("mae", "std"),
        acc_mean=("accuracy", "mean"),
        acc_std=("accuracy", "std"),
        fit_s=("fit_s", "median"),
        fit_ratio=("fit_ratio", "median"),
        predict_ms=("predict_s", lambda s: 1e3 * s.median()),
    )
    lines = [
        "| model | MAE (rings) | accuracy | fit s (median) | fit / hand | predict ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in table.iterrows():
        lines.append(
            f"| {name} | {r.mae_mean:.3f} ± {r.mae_std:.3f} | "
            f"{r.acc_mean:.3f} ± {r.acc_std:.3f} | {r.fit_s:.2f} | "
            f"{r.fit_ratio:.2f} | {r.predict_ms:.1f} |"
        )
    return table, "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install '.[benchmark]')")
        return
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    names = list(dict.fromkeys(df.model))
    for ax, col, label in zip(
        axes,
        ["mae", "accuracy", "fit_s"],
        ["MAE (rings), lower is better", "accuracy, higher is better", "fit time (s)"],
    ):
        ax.boxplot([df[df.model == n][col] for n in names])
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right")
        ax.set_title(label)
    axes[0].axhline(1.495, ls="--", c="grey", label="tutorial (Keras joint)")
    axes[1].axhline(0.256, ls="--", c="grey", label="tutorial (Keras joint)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot written to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "abalone.json"))
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        rows = run(args.seeds, args.models)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    _, text = summarise(rows)
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print(text)
    plot(rows, Path(args.out).with_suffix(".png"))


if __name__ == "__main__":
    main()
