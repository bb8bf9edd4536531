"""Scale: fit and predict throughput and peak memory from 10,000 to 1,000,000 rows.

Question: does JointRegressorClassifier cost no more than a hand-written torch
loop over the same tensors at every size, does its cost grow linearly with
rows, and does it stay within 2 x (bytes of X as float32 + bytes of Y) +
600 MB of resident memory?

Setup: 32 features; targets 2 regression + 1 binary + 1 ten-class + a group
of 5 labels (9 heads, 20 outputs), from ``make_joint_dataset``; hidden
(256, 128), batch 1024, ``--epochs`` epochs (no early stop). Every (size,
model) runs in a fresh process, after a small warm-up fit; ``peak_rss_mb`` is
that process's peak resident memory during fit and predict (torch, the data
already made, and everything the fit adds), and nothing leaks between runs.
Models:

- ``hand_torch``: the reference: tensors built once, a permutation per epoch,
  index slicing, fused Adam, MSE + BCE + CE summed per head; predict is a bare
  ``module(X)`` forward over the same tensor;
- ``joint``: ``JointRegressorClassifier(...).fit(X, Y)`` and ``predict(X)``
  (labels decoded back to the original dtypes).

    python benchmarks/bench_scale.py --max-rows 1000000 \
        --out benchmarks/results/scale.json
"""

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
HIDDEN, BATCH = (256, 128), 1024


def make_data(n_rows):
    from sklearn_multihead.datasets import make_joint_dataset

    X, Y = make_joint_dataset(
        n_samples=n_rows,
        n_features=32,
        n_regression=2,
        n_binary=1,
        n_multiclass=1,
        n_classes=10,
        n_labels=5,
        random_state=0,
    )
    return X.to_numpy(np.float32), Y


def run_one(model, n_rows, epochs, device):
    """Fit and predict one model on one size; returns the JSON row.

    A small warm-up fit (2,000 rows, one epoch) runs first in the same
    process, for both models: it pays the one-time costs of a fresh process
    (lazy imports, first calls of torch kernels), which are not per-row costs.
    """
    import torch

    Xw, Yw = make_data(2000)
    _fit_predict(model, Xw, Yw, 1, device)
    X, Y = make_data(n_rows)
    gc.collect()
    _reset_peak_rss()  # the peak below is that of fit + predict, not of make_data
    fit_s, predict_s = _fit_predict(model, X, Y, epochs, device)
    y_bytes = int(Y.memory_usage(index=False, deep=True).sum())
    return {
        "rows": n_rows,
        "model": model,
        "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "epochs": epochs,
        "fit_samples_per_s": n_rows * epochs / fit_s,
        "predict_rows_per_s": n_rows / predict_s,
        "peak_rss_mb": _peak_rss_mb(),
        "data_mb": (X.nbytes + y_bytes) / 2**20,
        "threads": torch.get_num_threads(),
    }


def _reset_peak_rss():
    """Linux: restart the process's peak-RSS count (VmHWM) from the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # elsewhere the peak includes making the data


def _peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit_predict(model, X, Y, epochs, device):
    if model == "joint":
        from sklearn_multihead import JointRegressorClassifier

        est = JointRegressorClassifier(
            hidden_layer_sizes=HIDDEN,
            batch_size=BATCH,
            max_iter=epochs,
            n_iter_no_change=epochs + 1,
            alpha=0.0,
            random_state=0,
            device=device,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            est.fit(X, Y)
            fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        est.predict(X)
        predict_s = time.perf_counter() - t0
        return fit_s, predict_s
    return hand_torch(X, Y, epochs, device)


def hand_torch(X, Y, epochs, device):
    """The loop a torch user writes by hand, over tensors built once."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)
    reg = Y[["reg_0", "reg_1"]].to_numpy(np.float32)
    reg = (reg - reg.mean(0)) / reg.std(0)
    labels = [c for c in Y.columns if c.startswith("label_")]
    binary = Y[["bin_0", *labels]].to_numpy(np.float32)
    cls = Y["cls_0"].astype("category").cat.codes.to_numpy(np.int64)
    Xt = torch.from_numpy(X).to(device)
    Rt, Bt = torch.from_numpy(reg).to(device), torch.from_numpy(binary).to(device)
    Ct = torch.from_numpy(cls).to(device)
    layers, width = [], X.shape[1]
    for h in HIDDEN:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    module = nn.Sequential(*layers, nn.Linear(width, 2 + 6 + 10)).to(device)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)
    n = len(Xt)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, BATCH):
            idx = perm[start : start + BATCH]
            out = module(Xt[idx])
            loss = (
                0.5 * F.mse_loss(out[:, :2], Rt[idx], reduction="none").mean(0).sum()
                + F.binary_cross_entropy_with_logits(
                    out[:, 2:8], Bt[idx], reduction="none"
                )
                .mean(0)
                .sum()
                + F.cross_entropy(out[:, 8:], Ct[idx])
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if device != "cpu":
        torch.cuda.synchronize()
    fit_s = time.perf_counter() - t0
    module.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        out = module(Xt).cpu()
    predict_s = time.perf_counter() - t0
    del out
    return fit_s, predict_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--one", nargs=2, metavar=("MODEL", "ROWS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:  # child process: one measurement, printed as JSON
        row = run_one(args.one[0], int(args.one[1]), args.epochs, args.device)
        print(json.dumps(row))
        return
    rows = []
    for n in [s for s in SIZES if s <= args.max_rows]:
        for model in ("hand_torch", "joint"):
            cmd = [sys.executable, __file__, "--one", model, str(n)]
            cmd += ["--epochs", str(args.epochs), "--device", args.device]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            fit, pred = row["fit_samples_per_s"], row["predict_rows_per_s"]
            peak, data = row["peak_rss_mb"], row["data_mb"]
            print(
                f"{n:>9,} {model:<10} fit {fit:>9,.0f} rows/s  predict {pred:>11,.0f}"
                f" rows/s  peak {peak:>6,.0f} MB (data {data:,.0f} MB)",
                flush=True,
            )
    summary = summarize(rows)
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "command": " ".join(["python", *sys.argv]),
            "machine": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores",
        }
        args.out.write_text(
            json.dumps({"meta": meta, "rows": rows, "summary": summary}, indent=2)
        )
        plot(rows, args.out.with_suffix(".png"))


def summarize(rows):
    """The must-show ratios: joint / hand at each size, and cost per row."""
    by = {(r["rows"], r["model"]): r for r in rows}
    sizes = sorted({r["rows"] for r in rows})
    out = {"fit_ratio": {}, "predict_ratio": {}, "memory_bar_mb": {}}
    for n in sizes:
        j, h = by[(n, "joint")], by[(n, "hand_torch")]
        out["fit_ratio"][n] = j["fit_samples_per_s"] / h["fit_samples_per_s"]
        out["predict_ratio"][n] = j["predict_rows_per_s"] / h["predict_rows_per_s"]
        out["memory_bar_mb"][n] = {
            "peak_rss_mb": j["peak_rss_mb"],
            "bar_mb": 2 * j["data_mb"] + 600,
        }
    if 100_000 in sizes and 1_000_000 in sizes:
        per_row = {n: 1 / by[(n, "joint")]["fit_samples_per_s"] for n in sizes}
        out["time_per_row_1m_over_100k"] = per_row[1_000_000] / per_row[100_000]
    return out


def plot(rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    keys = [
        ("fit_samples_per_s", "fit samples / s"),
        ("predict_rows_per_s", "predict rows / s"),
        ("peak_rss_mb", "peak RSS (MB)"),
    ]
    for ax, (key, label) in zip(axes, keys):
        for model in ("hand_torch", "joint"):
            part = sorted(
                (r for r in rows if r["model"] == model), key=lambda r: r["rows"]
            )
            ax.plot(
                [r["rows"] for r in part], [r[key] for r in part], "o-", label=model
            )
        ax.set_xscale("log")
        ax.set_xlabel("rows")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
