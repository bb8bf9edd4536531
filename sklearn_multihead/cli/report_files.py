"""What the command's ``compare --out DIR`` writes (``compare`` computes it).

Inside:

- ``REPORT_FILES``: the files it may write (checked before any fit, so an
  existing report is replaced only with ``--force``).
- ``write_outputs``: ``report.md``, ``results.json`` and the plots
  (``scores.png``, ``history.png``; matplotlib, the ``plot`` extra), each
  through ``outputs.write_file`` (a temporary name, then a rename).
"""

import json
import sys
import textwrap
from pathlib import Path

import numpy as np

from sklearn_multihead import __version__
from sklearn_multihead.cli.compare import format_table, json_number
from sklearn_multihead.cli.outputs import write_file

#: what ``write_outputs`` may write into ``--out``
REPORT_FILES = (
    "report.md",
    "results.json",
    "scores.png",
    "history.png",
    "importance.png",
)


def write_outputs(out, rows, summary, joint, args, data_name, audit, importances=None):
    """``report.md``, ``results.json`` and the plots in ``out``; with
    ``importances`` (``inspection.target_importances`` of the joint network
    on the last fold's test rows), their table and ``importance.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "version": __version__,
        "data": data_name,
        "audit": audit,
        "targets": args.target or "(default)",
        "cv": args.cv,
        "models": list(args.models),
        "folds": rows,
        "summary": [
            {
                "target": r["target"],
                "metric": r["metric"],
                **{
                    m: {"mean": json_number(v[0]), "std": json_number(v[1])}
                    for m, v in r.items()
                    if isinstance(v, tuple)
                },
            }
            for _, r in summary.iterrows()
        ],
    }
    write_file(
        out / "results.json", lambda p: p.write_text(json.dumps(results, indent=2))
    )
    if importances is not None:
        results["importances"] = importances.to_dict(orient="records")
    plots = _plots(out, summary, joint, importances)
    lines = [
        "# sklearn-multihead compare",
        "",
        f"Data: {data_name}; {args.cv}-fold cross-validation; models: "
        f"{', '.join(args.models)}. Mean ± std over folds; * marks the best model "
        "of each row; dummy predicts each target's mean or most frequent class.",
        "",
        f"    {' '.join(['sklearn-multihead', *sys.argv[1:]])}",
        "",
        audit,
        "",
        format_table(summary, markdown=True, baseline="dummy"),
        "",
    ]
    if importances is not None:
        lines += [
            "## What drives each target",
            "",
            "Permutation importance of each feature for each target (the joint "
            "network of the last fold, on its test rows, 3 shuffles): the drop of "
            "the target's score (R² or accuracy) when the feature is shuffled.",
            "",
            _importance_table(importances),
            "",
        ]
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    if not plots:
        lines.append('Plots need matplotlib: pip install "sklearn-multihead[plot]".')
    write_file(out / "report.md", lambda p: p.write_text("\n".join(lines) + "\n"))
    return [out / "report.md", out / "results.json", *plots]


def _importance_table(importances):
    """Features by targets, the mean drop in each cell (Markdown)."""
    wide = importances.pivot_table(
        index="feature", columns="target", values="importance_mean", sort=False
    )
    header = ["feature", *[str(t) for t in wide.columns]]
    lines = [[str(f), *[f"{v:.3f}" for v in row]] for f, row in wide.iterrows()]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])


def _plots(out, summary, joint, importances=None):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    from sklearn_multihead.plotting import plot_history

    paths = []
    scores = summary[summary["target"] != "(time)"]
    shown = scores[scores["metric"].isin(["r2", "accuracy"])]
    models = [c for c in summary.columns if c not in ("target", "metric")]
    if len(shown):
        fig, ax = plt.subplots(
            figsize=(max(6.4, 1.2 + 1.1 * len(shown)), 4.2), layout="constrained"
        )
        width = 0.8 / len(models)
        x = np.arange(len(shown))
        for i, m in enumerate(models):
            means = [
                r[m][0] if isinstance(r[m], tuple) else np.nan
                for _, r in shown.iterrows()
            ]
            stds = [
                r[m][1] if isinstance(r[m], tuple) else 0 for _, r in shown.iterrows()
            ]
            ax.bar(
                x + (i - (len(models) - 1) / 2) * width,
                means,
                width,
                yerr=stds,
                label=m,
                capsize=3,
            )
        ax.set_xticks(
            x,
            [
                textwrap.fill(f"{t} {m}", 14)
                for t, m in zip(shown["target"], shown["metric"])
            ],
        )
        ax.set_ylabel("score (higher is better)")
        ax.set_title("Held-out score per target\n(mean ± std over folds)", fontsize=10)
        fig.legend(loc="outside lower center", ncol=len(models))
        paths.append(write_file(out / "scores.png", lambda p: _png(fig, p)))
        plt.close(fig)
    if joint is not None:
        est = joint[-1]
        fig, ax = plt.subplots(figsize=(8.0, 4.4), layout="constrained")
        plot_history(est, ax=ax)
        curves = (
            "training and validation" if "valid_loss" in est.history_ else ("training")
        )
        ax.set_title(f"Joint network, last fold: {curves} loss per target", fontsize=10)
        paths.append(write_file(out / "history.png", lambda p: _png(fig, p)))
        plt.close(fig)
    if importances is not None and len(importances):
        wide = importances.pivot_table(
            index="feature", columns="target", values="importance_mean", sort=False
        )
        fig, ax = plt.subplots(
            figsize=(max(4.8, 1.6 + 1.1 * wide.shape[1]), 1.6 + 0.35 * wide.shape[0]),
            layout="constrained",
        )
        values = wide.to_numpy(dtype=float)
        bound = max(float(np.nanmax(np.abs(values))), 1e-12)
        image = ax.imshow(values, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
        ax.set_xticks(range(wide.shape[1]), [str(t) for t in wide.columns])
        ax.set_yticks(range(wide.shape[0]), [str(f) for f in wide.index])
        for (i, j), v in np.ndenumerate(values):
            dark = abs(v) > 0.6 * bound  # white text on the darkest cells
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
        fig.colorbar(image, ax=ax, label="score drop when shuffled")
        ax.set_title("What drives each target (joint network, last fold)", fontsize=10)
        paths.append(write_file(out / "importance.png", lambda p: _png(fig, p)))
        plt.close(fig)
    return paths


def _png(fig, path):
    fig.savefig(path, dpi=120, format="png")  # the temporary name has no .png
