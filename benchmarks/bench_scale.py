"""Scale: fit and predict throughput and peak memory from 10,000 to 1,000,000 rows.

Question: does JointRegressorClassifier cost no more than a hand-written torch
loop over the same tensors at every size, does its cost grow linearly with
rows, and does it stay within 2 x (bytes of X as float32 + bytes of Y) +
600 MB of resident memory?

Setup: 32 features; targets 2 regression + 1 binary + 1 ten-class + a group
of 5 labels (9 heads, 20 outputs), from ``make_joint_dataset``; hidden
(256, 128), batch 1024, ``--epochs`` epochs (no early stop). Models:

- ``hand_torch``: the reference, the loop a torch user writes by hand: targets
  standardised and class codes made with pandas (``pd.factorize``), tensors
  built once, a permutation per epoch, index slicing, fused Adam, MSE + BCE +
  CE summed per head; predict is a bare ``module(X)`` forward over the same
  tensor, all rows at once;
- ``joint``: ``JointRegressorClassifier(...).fit(X, Y)`` and ``predict(X)``
  (input checks, labels decoded back to the original dtypes, a DataFrame).

Both also predict the first 100 rows (``predict_100_rows_s``): the part of a
call's cost that does not grow with rows. For ``joint``, ``own_forward_s`` is a
bare forward of its own fitted module over the same tensor, timed like the
reference: ``predict_ratio_own_module`` (own forward / predict) is the cost of
everything predict does around the network (checks, chunks, decisions, labels,
the DataFrame), without the differences between the two modules (ours
applies ReLU in place).

Timing (the machines are noisy: slow phases of seconds, and the same ratio
measured in two processes can differ by 10%): a process measures
``--repeats`` pairs after a small warm-up fit of each model. A pair fits the
two models back to back (alternating which goes first), then times their
predicts, each the median of a block of calls. Every size runs in at least
3 such processes; tables under 300,000 rows, whose fits last a fraction of a
second, in up to 5 (up to 25 pairs). ``fit`` is the whole fit from (X, Y)
to a trained module, preparation included, for both models; ``loop`` is the
epochs alone (``history_["dur"]`` for joint). Ratios are medians over all
pairs of joint / hand throughput.

Linear cost: from 100,000 rows up, each pair also fits ``joint`` on the
table's first tenth of the rows, once before the pair's fits and once after
(``fit_tenth_s``, their mean); ``time_per_row_over_tenth`` is the median over
pairs of (fit time / rows) over (tenth's fit time / its rows), a comparison
whose two sides run seconds apart, not minutes (as the sizes' own rows do:
``time_per_row_1m_over_100k_across_sizes``).

Memory: each (size, model) also runs once in a fresh process, where
``peak_rss_mb`` is the process's peak resident memory during fit and predict
(torch and the data are already there; the peak is reset after making the
data).

    python benchmarks/bench_scale.py --max-rows 1000000 --epochs 2 --repeats 5 \
        --out benchmarks/results/scale.json
"""

import argparse
import functools
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
HIDDEN, BATCH = (256, 128), 1024
MODELS = ("hand_torch", "joint")
#: predict is called until this much time has passed (at least 3 calls)
PREDICT_SECONDS = 0.2


def make_data(n_rows):
    """The benchmark's table: X as a float32 array, Y as a DataFrame."""
    X, Y = make_tables(n_rows)
    return X.to_numpy(np.float32), Y


def make_tables(n_rows):
    """The benchmark's table, X and Y as DataFrames (also bench_latency's)."""
    from sklearn_multihead.datasets import make_joint_dataset

    return make_joint_dataset(
        n_samples=n_rows,
        n_features=32,
        n_regression=2,
        n_binary=1,
        n_multiclass=1,
        n_classes=10,
        n_labels=5,
        random_state=0,
    )


def run_pair(n_rows, epochs, device, repeats):
    """Timing child: ``repeats`` pairs on one dataset. A pair fits both models
    back to back (alternating which goes first), so that a slow phase of the
    machine hits both fits, then times their predicts.

    A small warm-up fit of each (2,000 rows, one epoch) pays the one-time
    costs of a fresh process (lazy imports, first calls of torch kernels).
    """
    Xw, Yw = make_data(2000)
    for model in MODELS:
        fit_predict(model, Xw, Yw, 1, device)
    X, Y = make_data(n_rows)
    runs = {model: [] for model in MODELS}
    tenth = n_rows // 10 if n_rows >= 100_000 else 0

    def fit_tenth():
        gc.collect()
        return fit_model("joint", X[:tenth], Y.iloc[:tenth], epochs, device)[0]

    for i in range(repeats):
        fitted = {}
        tenth_s = [fit_tenth()] if tenth else []
        for model in MODELS if i % 2 == 0 else MODELS[::-1]:
            gc.collect()
            fitted[model] = fit_model(model, X, Y, epochs, device)
        tenth_s += [fit_tenth()] if tenth else []
        predicts = {m: fit[2] for m, fit in fitted.items()}
        full = _median_times(predicts)
        own = _median_times({"joint": fitted["joint"][3]})["joint"]
        # the cost of a call that does not grow with rows
        small = _median_times(
            {m: functools.partial(p, slice(100)) for m, p in predicts.items()}
        )
        for model, (fit_s, loop_s, *_) in fitted.items():
            runs[model].append(
                {
                    "fit_s": fit_s,
                    "loop_s": loop_s,
                    "predict_s": full[model],
                    "predict_100_rows_s": small[model],
                    **({"own_forward_s": own} if model == "joint" else {}),
                    **(
                        {"fit_tenth_s": statistics.mean(tenth_s)}
                        if model == "joint" and tenth
                        else {}
                    ),
                }
            )
    return runs


def processes_for(n_rows, repeats):
    """Timing processes for a table, each of ``repeats`` pairs: at least 3 (a
    process's luck moves a ratio too: at 1,000,000 rows two processes' medians
    once came out 0.99 and 0.84), and more for small tables, whose fits last a
    fraction of a second and are the most exposed to the machine's slow
    phases: up to 5, and 25 pairs in all."""
    total = max(repeats, min(25, round(repeats * 300_000 / n_rows)))
    return max(3, min(5, round(total / repeats)))


def run_memory(model, n_rows, epochs, device):
    """Memory child: one fit and predict in a fresh process; its peak RSS."""
    Xw, Yw = make_data(2000)
    fit_predict(model, Xw, Yw, 1, device)
    X, Y = make_data(n_rows)
    gc.collect()
    _reset_peak_rss()  # the peak below is that of fit + predict, not of make_data
    fit_predict(model, X, Y, epochs, device)
    y_bytes = int(Y.memory_usage(index=False, deep=True).sum())
    return {"peak_rss_mb": _peak_rss_mb(), "data_mb": (X.nbytes + y_bytes) / 2**20}


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


def fit_model(model, X, Y, epochs, device):
    """Fit one model: its fit time, the time of its epochs alone (s), its
    predict function (of a row selection) and a bare forward of its fitted
    module over all rows (for the hand loop, its predict)."""
    if model == "hand_torch":
        return hand_torch(X, Y, epochs, device)
    from sklearn_multihead import JointRegressorClassifier

    est = JointRegressorClassifier(
        hidden_layer_sizes=HIDDEN,
        batch_size=BATCH,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        alpha=0.0,
        n_models=1,  # one network, as the hand loop trains
        numeric_embedding=None,  # the hand loop's layers: no embeddings
        random_state=0,
        device=device,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X, Y)
        fit_s = time.perf_counter() - t0

    def predict(rows=slice(None)):
        est.predict(X[rows])

    import torch

    module, X_t = est.net_.module_, torch.from_numpy(X).to(device)

    def forward():
        with torch.no_grad():
            module(X_t).cpu()

    return fit_s, float(est.history_["dur"].sum()), predict, forward


def fit_predict(model, X, Y, epochs, device):
    """Fit one model and predict all rows once (warm-up and memory runs)."""
    fit_model(model, X, Y, epochs, device)[2]()


def _median_times(fns):
    """Median time of each function over a block of calls of its own, at
    least 3 and until ``PREDICT_SECONDS`` have passed. (Calls interleaved
    a, b, a, b would slow the bare forward down by up to 3 x at 10,000 rows:
    its one large pass then finds no freed memory to reuse.)"""
    out = {}
    for name, fn in fns.items():
        times, start = [], time.perf_counter()
        while len(times) < 3 or time.perf_counter() - start < PREDICT_SECONDS:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def hand_torch(X, Y, epochs, device):
    """The loop a torch user writes by hand, timed from (X, Y) like ``fit``.

    Returns the fit time, the time of the epochs alone, and a bare predict.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    t_start = time.perf_counter()
    torch.manual_seed(0)
    reg = Y[["reg_0", "reg_1"]].to_numpy(np.float32)
    reg = (reg - reg.mean(0)) / reg.std(0)
    labels = [c for c in Y.columns if c.startswith("label_")]
    binary = Y[["bin_0", *labels]].to_numpy(np.float32)
    cls = pd.factorize(Y["cls_0"], sort=True)[0].astype(np.int64)
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
    t_loop = time.perf_counter()
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
    t_end = time.perf_counter()
    module.eval()

    def predict(rows=slice(None)):
        with torch.no_grad():
            module(Xt[rows]).cpu()

    return t_end - t_start, t_end - t_loop, predict, predict


def _child(args):
    kind, *rest = args.child
    if kind == "pair":
        return run_pair(int(rest[0]), args.epochs, args.device, args.repeats)
    return run_memory(rest[0], int(rest[1]), args.epochs, args.device)


def _spawn(child, args):
    cmd = [sys.executable, __file__, "--child", *child]
    cmd += ["--epochs", str(args.epochs), "--device", args.device]
    cmd += ["--repeats", str(args.repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--table",
        type=Path,
        help="print the README table of a results JSON file and redraw its plot",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.table:  # and redraw its plot beside it
        results = json.loads(args.table.read_text())
        print(markdown_table(results["rows"], results["summary"]))
        plot(results["rows"], args.table.with_suffix(".png"))
        return
    if args.child:  # child process: one measurement, printed as JSON
        print(json.dumps(_child(args)))
        return
    import torch

    device_name = (
        "cpu" if args.device == "cpu" else torch.cuda.get_device_name(args.device)
    )
    rows = []
    for n in [s for s in SIZES if s <= args.max_rows]:
        runs = {model: [] for model in MODELS}
        for _ in range(processes_for(n, args.repeats)):
            part = _spawn(["pair", str(n)], args)  # pairs stay in order
            for model in MODELS:
                runs[model] += part[model]
        for model in MODELS:
            memory = _spawn(["memory", model, str(n)], args)
            rs = runs[model]
            row = {
                "rows": n,
                "model": model,
                "device": device_name,
                "epochs": args.epochs,
                "fit_samples_per_s": n
                * args.epochs
                / statistics.median(r["fit_s"] for r in rs),
                "loop_samples_per_s": n
                * args.epochs
                / statistics.median(r["loop_s"] for r in rs),
                "predict_rows_per_s": n / statistics.median(r["predict_s"] for r in rs),
                "predict_100_rows_ms": 1e3
                * statistics.median(r["predict_100_rows_s"] for r in rs),
                **memory,
                "runs": rs,
            }
            rows.append(row)
            print(
                f"{n:>9,} {model:<10} fit {row['fit_samples_per_s']:>9,.0f} rows/s  "
                f"predict {row['predict_rows_per_s']:>11,.0f} rows/s  "
                f"peak {row['peak_rss_mb']:>6,.0f} MB (data {row['data_mb']:,.0f} MB)",
                flush=True,
            )
    summary = summarize(rows)
    print(json.dumps(summary, indent=2))
    print(markdown_table(rows, summary))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "command": " ".join(["python", *sys.argv]),
            "machine": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        args.out.write_text(
            json.dumps({"meta": meta, "rows": rows, "summary": summary}, indent=2)
        )
        plot(rows, args.out.with_suffix(".png"))


def summarize(rows):
    """The must-show ratios: joint / hand at each size (medians of the paired
    repeats), cost per row, and memory against its bar."""
    by = {(r["rows"], r["model"]): r for r in rows}
    sizes = sorted({r["rows"] for r in rows})
    out = {
        "fit_ratio": {},
        "loop_ratio": {},
        "predict_ratio": {},
        "predict_ratio_own_module": {},
        "time_per_row_over_tenth": {},
        "memory_mb": {},
    }
    for n in sizes:
        j, h = by[(n, "joint")]["runs"], by[(n, "hand_torch")]["runs"]
        for key, time_key in (
            ("fit_ratio", "fit_s"),
            ("loop_ratio", "loop_s"),
            ("predict_ratio", "predict_s"),
        ):
            out[key][n] = statistics.median(
                hr[time_key] / jr[time_key] for hr, jr in zip(h, j)
            )
        if all("own_forward_s" in r for r in j):  # files from before it was kept
            out["predict_ratio_own_module"][n] = statistics.median(
                r["own_forward_s"] / r["predict_s"] for r in j
            )
        if all("fit_tenth_s" in r for r in j):
            out["time_per_row_over_tenth"][n] = statistics.median(
                0.1 * r["fit_s"] / r["fit_tenth_s"] for r in j
            )
        out["memory_mb"][n] = {
            "peak_rss_mb": by[(n, "joint")]["peak_rss_mb"],
            "bar_mb": 2 * by[(n, "joint")]["data_mb"] + 600,
        }
    if 100_000 in sizes and 1_000_000 in sizes:
        per_row = {n: 1 / by[(n, "joint")]["fit_samples_per_s"] for n in sizes}
        out["time_per_row_1m_over_100k_across_sizes"] = (
            per_row[1_000_000] / per_row[100_000]
        )
    return out


def markdown_table(rows, summary):
    """The results table of benchmarks/README.md, from the JSON rows."""
    by = {(r["rows"], r["model"]): r for r in rows}
    lines = [
        "| rows | joint fit rows/s | hand fit rows/s | fit ratio | loop ratio "
        "| joint predict rows/s | bare forward rows/s | predict ratio "
        "| own module ratio | 100-row call ms, joint / bare "
        "| fit time per row / a tenth's | joint peak RSS | bar 2 x data + 600 MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted({r["rows"] for r in rows}):
        j, h = by[(n, "joint")], by[(n, "hand_torch")]
        key = str(n) if str(n) in summary["fit_ratio"] else n
        mem = summary["memory_mb"][key]
        own = summary.get("predict_ratio_own_module", {}).get(key)
        per_row = summary.get("time_per_row_over_tenth", {}).get(key)
        lines.append(
            f"| {n:,} | {j['fit_samples_per_s']:,.0f} | {h['fit_samples_per_s']:,.0f} "
            f"| {summary['fit_ratio'][key]:.2f} | {summary['loop_ratio'][key]:.2f} "
            f"| {j['predict_rows_per_s']:,.0f} | {h['predict_rows_per_s']:,.0f} "
            f"| {summary['predict_ratio'][key]:.2f} "
            f"| {'-' if own is None else format(own, '.2f')} "
            f"| {j['predict_100_rows_ms']:.2f} / {h['predict_100_rows_ms']:.2f} "
            f"| {'-' if per_row is None else format(per_row, '.2f')} "
            f"| {mem['peak_rss_mb']:,.0f} MB "
            f"| {mem['bar_mb']:,.0f} MB |"
        )
    return "\n".join(lines)


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
        for model in MODELS:
            part = sorted(
                (r for r in rows if r["model"] == model), key=lambda r: r["rows"]
            )
            ax.plot(
                [r["rows"] for r in part], [r[key] for r in part], "o-", label=model
            )
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("rows")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
