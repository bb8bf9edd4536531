"""The ``sklearn-multihead`` command: compare, fit and predict from a table.

Inside:

- ``main``: the console script (``compare``, ``fit``, ``predict``).
- ``read_table`` / ``parse_targets`` / ``make_preprocessor``: a CSV or Parquet
  file to features and typed targets, and the ``ColumnTransformer`` that
  imputes and scales the numeric features and one-hot encodes the others.
- ``compare``: K-fold cross-validation of the joint network, the forest
  baseline and one network per target, with per-target metrics (mean and
  std over folds), fit and predict times, a printed table, and
  ``report.md`` / ``results.json`` / plots in ``--out``.

Uses the public API of the package only; scikit-learn does the
preprocessing, tqdm the progress bar, matplotlib (the ``plot`` extra) the
plots.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tqdm.auto import tqdm

from sklearn_multihead import (
    JointRegressorClassifier,
    RandomForestRegressorClassifier,
    __version__,
    target_report,
)
from sklearn_multihead.datasets import make_joint_dataset

#: metrics shown per target type (lower is better for the first two of each)
REGRESSION_SHOWN = ("mae", "rmse", "r2")
CLASSIFICATION_SHOWN = ("accuracy", "balanced_accuracy", "f1_macro", "log_loss")
LOWER_IS_BETTER = {"mae", "rmse", "log_loss"}
MODELS = ("joint", "forest", "separate")
MODEL_FILE, PREPROCESSOR_FILE, SPEC_FILE = (
    "model.safetensors",
    "preprocessor.skops",
    "columns.json",
)

#: types outside skops' defaults that the saved preprocessor holds (the
#: encoder's output dtype); loading refuses any other
TRUSTED_TYPES = ("numpy.dtype",)


class UsageError(Exception):
    """A mistake in the command line or the data: printed without a traceback."""


# -- data ------------------------------------------------------------------------
def read_table(path):
    """A CSV (any extension but .parquet / .pq) or Parquet file as a DataFrame."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"No file at {str(path)!r}.")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except ImportError as exc:
        raise UsageError(
            f"Reading {str(path)!r} needs a Parquet engine: pip install pyarrow "
            f"({exc})."
        ) from None
    except Exception as exc:  # pandas' parser errors vary by format
        raise UsageError(
            f"Could not read {str(path)!r} as a table ({type(exc).__name__}: {exc}). "
            "Give a CSV file with a header row, or a Parquet file."
        ) from None


def default_table(n_samples=2000, random_state=0):
    """The embedded default: synthetic data from ``make_joint_dataset``."""
    X, Y = make_joint_dataset(
        n_samples=n_samples,
        n_features=8,
        n_categorical=2,
        missing_rate=0.05,
        random_state=random_state,
    )
    return pd.concat([X, Y], axis=1), [(c, None) for c in Y.columns]


def parse_targets(specs):
    """``["rings:regression", "sex"]`` -> ``[("rings", "regression"),
    ("sex", None)]``."""
    out = []
    for spec in specs:
        name, sep, kind = spec.rpartition(":")
        if not sep or kind not in ("regression", "classification"):
            name, kind = spec, None
        out.append((name, kind))
    return out


def split_columns(table, targets, features=None):
    """Features X and targets Y of ``table``, with clear errors for bad names."""
    if not targets:
        raise UsageError(
            "Name at least one target: --target NAME[:regression|classification]."
        )
    columns = [str(c) for c in table.columns]
    table = table.set_axis(columns, axis=1)
    names = [n for n, _ in targets]
    unknown = [n for n in names + list(features or []) if n not in columns]
    if unknown:
        raise UsageError(
            f"Unknown column(s) {unknown}. The table has the columns {columns}."
        )
    if len(set(names)) != len(names):
        raise UsageError(f"A target is named twice in {names}.")
    both = [n for n in features or [] if n in names]
    if both:
        raise UsageError(
            f"{both} is both a target and a feature. A target cannot be a feature: "
            "drop it from --features."
        )
    features = list(features) if features else [c for c in columns if c not in names]
    if not features:
        raise UsageError("No feature column is left once the targets are taken out.")
    types = {n: k for n, k in targets if k is not None}
    return table[features], table[names], types


def make_preprocessor(X):
    """Impute and scale the numeric columns of X; impute and one-hot encode the
    others. Columns are named explicitly, so the fitted object holds only
    scikit-learn types and plain data (what skops loads safely)."""
    numeric = [c for c, t in X.dtypes.items() if pd.api.types.is_numeric_dtype(t)]
    other = [c for c in X.columns if c not in numeric]
    return ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                other,
            ),
        ],
        verbose_feature_names_out=False,
    )


def make_models(X, types, args):
    """The compared models, each a Pipeline(preprocessor, estimator)."""
    joint = JointRegressorClassifier(
        target_types=types or "auto",
        max_iter=args.max_iter,
        random_state=args.random_state,
    )
    forest = RandomForestRegressorClassifier(
        target_types=types or "auto",
        n_estimators=args.n_estimators,
        n_jobs=args.n_jobs,
        random_state=args.random_state,
    )
    models = {
        "joint": Pipeline([("prep", make_preprocessor(X)), ("model", joint)]),
        "forest": Pipeline([("prep", make_preprocessor(X)), ("model", forest)]),
        "separate": SeparateModels(
            Pipeline(
                [
                    ("prep", make_preprocessor(X)),
                    ("model", clone(joint).set_params(target_types="auto")),
                ]
            ),
            types,
        ),
    }
    return {name: models[name] for name in args.models}


# -- compare ---------------------------------------------------------------------
class SeparateModels:
    """The "separate" contender: one joint-network pipeline per target."""

    def __init__(self, template, types):
        self.template, self.types = template, types

    def fit_predict_report(self, X_train, Y_train, X_test, Y_test):
        reports, fit_s, predict_s = [], 0.0, 0.0
        for name in Y_train.columns:
            model = clone(self.template)
            kind = self.types.get(name)
            model[-1].set_params(target_types={name: kind} if kind else "auto")
            report, f, p, _ = _fit_predict(
                model, X_train, Y_train[[name]], X_test, Y_test[[name]]
            )
            reports.append(report)
            fit_s, predict_s = fit_s + f, predict_s + p
        return pd.concat(reports, ignore_index=True), fit_s, predict_s, None


def _fit_predict(model, X_train, Y_train, X_test, Y_test):
    """Fit, predict, and the per-target report of one model on one fold."""
    if isinstance(model, SeparateModels):
        return model.fit_predict_report(X_train, Y_train, X_test, Y_test)
    model = clone(model)
    t0 = time.perf_counter()
    model.fit(X_train, Y_train)
    t1 = time.perf_counter()
    pred = model.predict(X_test)
    est = model[-1]
    proba = model.predict_proba(X_test) if hasattr(est, "predict_proba") else None
    t2 = time.perf_counter()
    report = target_report(
        Y_test, pred, est.target_types_, y_proba=proba, classes=est.classes_
    )
    return report, t1 - t0, t2 - t1, model


def compare(table, targets, args, features=None, progress=True):
    """Cross-validate the models; returns (per-fold rows, summary DataFrame)."""
    X, Y, types = split_columns(table, targets, features)
    models = make_models(X, types, args)
    if args.cv < 2 or args.cv > len(X):
        raise UsageError(
            f"--cv must be between 2 and the {len(X)} rows. Got {args.cv}."
        )
    folds = list(KFold(args.cv, shuffle=True, random_state=args.random_state).split(X))
    tasks = [(f, name) for f in range(len(folds)) for name in models]
    rows, histories = [], {}
    bar = _progress(len(tasks), enabled=progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for fold, name in tasks:
            bar.set_description(f"fold {fold + 1}/{len(folds)}: {name}")
            train, test = folds[fold]
            model = models[name]
            report, fit_s, predict_s, fitted = _fit_predict(
                model,
                X.iloc[train],
                Y.iloc[train],
                X.iloc[test],
                Y.iloc[test],
            )
            if name == "joint":
                histories[fold] = fitted[-1].history_
                joint_last = fitted
            for _, r in report.iterrows():
                rows.append(
                    {
                        "model": name,
                        "fold": fold,
                        "target": r["target"],
                        "type": r["type"],
                        **{
                            m: _float(r[m])
                            for m in REGRESSION_SHOWN + CLASSIFICATION_SHOWN
                            if m in r and pd.notna(r[m])
                        },
                    }
                )
            rows.append(
                {"model": name, "fold": fold, "fit_s": fit_s, "predict_s": predict_s}
            )
            bar.update(1)
    bar.close()
    summary = summarize(rows)
    return rows, summary, (joint_last if "joint" in models else None)


def _float(v):
    return None if v is None or not np.isfinite(v) else float(v)


def _progress(total, enabled):
    return tqdm(
        total=total, unit="fit", file=sys.stderr, leave=False, disable=not enabled
    )


def summarize(rows):
    """Mean and std over folds of every metric, per model and target."""
    frame = pd.DataFrame(rows)
    target_rows = frame[frame["target"].notna()]
    out = []
    for (target, kind), part in target_rows.groupby(["target", "type"], sort=False):
        shown = REGRESSION_SHOWN if kind == "regression" else CLASSIFICATION_SHOWN
        for metric in shown:
            row = {"target": target, "metric": metric}
            for model, m in part.groupby("model", sort=False):
                values = m[metric].dropna() if metric in m else pd.Series(dtype=float)
                row[model] = (values.mean(), values.std(ddof=0), len(values))
            out.append(row)
    times = frame[frame["target"].isna()] if "target" in frame else frame
    for metric in ("fit_s", "predict_s"):
        row = {"target": "(time)", "metric": metric}
        for model, m in times.groupby("model", sort=False):
            row[model] = (m[metric].mean(), m[metric].std(ddof=0), len(m))
        out.append(row)
    return pd.DataFrame(out)


def format_table(summary, markdown=False):
    """The summary as text: one row per target and metric, one column per model;
    the best model of each row is marked with *."""
    models = [c for c in summary.columns if c not in ("target", "metric")]
    header = ["target", "metric", *models]
    lines = []
    for _, r in summary.iterrows():
        cells = {}
        values = {m: r[m][0] for m in models if isinstance(r[m], tuple)}
        finite = {m: v for m, v in values.items() if np.isfinite(v)}
        best = None
        if finite and r["target"] != "(time)":
            pick = min if r["metric"] in LOWER_IS_BETTER else max
            best = pick(finite, key=finite.get)
        for m in models:
            if not isinstance(r[m], tuple) or not np.isfinite(r[m][0]):
                cells[m] = "-"
                continue
            mean, std, _ = r[m]
            cells[m] = f"{mean:.3f} ± {std:.3f}" + (" *" if m == best else "")
        lines.append([str(r["target"]), r["metric"], *[cells[m] for m in models]])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(out)
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "  ".join("-" * w for w in widths)
    return "\n".join(
        [fmt.format(*header), rule, *(fmt.format(*line) for line in lines)]
    )


def write_outputs(out, rows, summary, joint, args, data_name):
    """``report.md``, ``results.json`` and the plots in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "version": __version__,
        "data": data_name,
        "targets": args.target or "(default)",
        "cv": args.cv,
        "models": list(args.models),
        "folds": rows,
        "summary": [
            {
                "target": r["target"],
                "metric": r["metric"],
                **{
                    m: {"mean": _float(v[0]), "std": _float(v[1])}
                    for m, v in r.items()
                    if isinstance(v, tuple)
                },
            }
            for _, r in summary.iterrows()
        ],
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    plots = _plots(out, summary, joint)
    lines = [
        "# sklearn-multihead compare",
        "",
        f"Data: {data_name}; {args.cv}-fold cross-validation; models: "
        f"{', '.join(args.models)}. Mean ± std over folds; * marks the best model "
        "of each row.",
        "",
        f"    {' '.join(['sklearn-multihead', *sys.argv[1:]])}",
        "",
        format_table(summary, markdown=True),
        "",
    ]
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    if not plots:
        lines.append('Plots need matplotlib: pip install "sklearn-multihead[plot]".')
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return [out / "report.md", out / "results.json", *plots]


def _plots(out, summary, joint):
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
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(shown), 3.6))
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
            x, [f"{t}\n{m}" for t, m in zip(shown["target"], shown["metric"])]
        )
        ax.set_ylabel("score (higher is better)")
        ax.set_title("Held-out score per target, mean ± std over folds", fontsize=10)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=len(models))
        fig.tight_layout()
        paths.append(out / "scores.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    if joint is not None:
        ax = plot_history(joint[-1])
        ax.set_title("Joint model: per-target training loss (last fold)")
        ax.figure.tight_layout()
        paths.append(out / "history.png")
        ax.figure.savefig(paths[-1], dpi=120)
        plt.close(ax.figure)
    return paths


# -- fit / predict -------------------------------------------------------------------
def fit_and_save(table, targets, args, features=None):
    """Fit the joint pipeline on the whole table and save it to ``args.model``."""
    import skops.io as sio

    X, Y, types = split_columns(table, targets, features)
    model = make_models(
        X, types, argparse.Namespace(**{**vars(args), "models": ["joint"]})
    )["joint"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, Y)
    folder = Path(args.model)
    folder.mkdir(parents=True, exist_ok=True)
    model[-1].save(folder / MODEL_FILE)
    sio.dump(model[0], folder / PREPROCESSOR_FILE)
    spec = {
        "version": __version__,
        "features": list(X.columns),
        "feature_dtypes": {c: str(t) for c, t in X.dtypes.items()},
        "targets": list(Y.columns),
    }
    (folder / SPEC_FILE).write_text(json.dumps(spec, indent=2))
    return model, folder


def load_saved(folder):
    """The preprocessor, the model and the column spec saved by ``fit``."""
    import skops.io as sio

    folder = Path(folder)
    missing = [
        f
        for f in (MODEL_FILE, PREPROCESSOR_FILE, SPEC_FILE)
        if not (folder / f).is_file()
    ]
    if missing:
        raise UsageError(
            f"{str(folder)!r} is not a model folder written by 'sklearn-multihead fit' "
            f"(missing {missing})."
        )
    spec = json.loads((folder / SPEC_FILE).read_text())
    prep_path = folder / PREPROCESSOR_FILE
    untrusted = [
        t for t in sio.get_untrusted_types(file=prep_path) if t not in TRUSTED_TYPES
    ]
    if untrusted:
        raise UsageError(
            f"{str(prep_path)!r} holds types that are not scikit-learn's own "
            f"({untrusted}); it was not written by 'sklearn-multihead fit' and is "
            "not loaded."
        )
    prep = sio.load(prep_path, trusted=list(TRUSTED_TYPES))
    model = JointRegressorClassifier.load(folder / MODEL_FILE)
    return prep, model, spec


def predict_table(folder, table, proba=False):
    prep, model, spec = load_saved(folder)
    table = table.set_axis([str(c) for c in table.columns], axis=1)
    missing = [c for c in spec["features"] if c not in table.columns]
    if missing:
        raise UsageError(
            f"The data lacks the feature column(s) {missing} the model was fitted on."
        )
    X = table[spec["features"]]
    Xt = prep.transform(X)
    pred = model.predict(Xt)
    if proba and hasattr(model, "predict_proba"):
        classified = [
            (name, classes)
            for name, classes in zip(spec["targets"], model.classes_)
            if classes is not None
        ]
        for (name, classes), p in zip(classified, model.predict_proba(Xt)):
            for k, label in enumerate(classes):
                pred[f"{name}_proba_{label}"] = p[:, k]
    return pred


# -- command line --------------------------------------------------------------------
EPILOG = """\
examples:
  sklearn-multihead compare
      the side-by-side table on the package's own synthetic data (seconds)
  sklearn-multihead compare abalone.csv -t rings:regression -t sex --out results
      rings as a number and sex as a class; writes results/report.md,
      results/results.json and PNG plots
  sklearn-multihead fit abalone.csv -t rings:regression -t sex --model model/
  sklearn-multihead predict model/ new_rows.csv --out predictions.csv --proba

A target's type is "regression" or "classification"; without one it is
inferred from the column (floats are numbers; integers, booleans and strings
are classes). Feature columns are all the others, or --features. Numeric
features are imputed (median) and scaled; the others imputed and one-hot
encoded. Missing target cells are fine: the joint model masks them.
"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-multihead",
        description="One neural network for several targets at once, numbers and "
        "classes, beside a random forest and one network per target.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_options(p, data_required):
        if data_required:
            p.add_argument(
                "data", metavar="DATA", help="a CSV (with a header) or Parquet file"
            )
        else:
            p.add_argument(
                "data",
                metavar="DATA",
                nargs="?",
                help="a CSV (with a header) or Parquet file; omitted: the package's "
                "synthetic data (make_joint_dataset)",
            )
        p.add_argument(
            "--target",
            "-t",
            action="append",
            default=[],
            metavar="NAME[:TYPE]",
            help="a target column, optionally typed (:regression or "
            ":classification); repeat for each target",
        )
        p.add_argument(
            "--features",
            nargs="+",
            metavar="NAME",
            help="feature columns (default: every column that is not a target)",
        )
        p.add_argument(
            "--max-iter", type=int, default=200, help="epochs at most (default 200)"
        )
        p.add_argument(
            "--n-estimators",
            type=int,
            default=100,
            help="trees of the forest (default 100)",
        )
        p.add_argument("--n-jobs", type=int, default=None, help="forest's n_jobs")
        p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")

    p = sub.add_parser(
        "compare",
        help="cross-validate the joint network, a forest and one network per target",
        description="Cross-validate, side by side, one joint network for all targets, "
        "a random forest (RandomForestRegressorClassifier) and one network per "
        "target; print per-target metrics (mean ± std over folds) and times.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data_options(p, data_required=False)
    p.add_argument("--cv", type=int, default=3, help="number of folds (default 3)")
    p.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=list(MODELS),
        help="models to compare (default: all three)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="write report.md, results.json and plots here"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "fit",
        help="fit the joint network on a table and save it",
        description="Fit the joint network (with its preprocessing) on all rows of "
        "DATA and save it to a model folder, in safe formats (safetensors + JSON, "
        "skops): loading it never unpickles.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data_options(p, data_required=True)
    p.add_argument(
        "--model", required=True, metavar="DIR", help="model folder to write"
    )

    p = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Predict every target for the rows of DATA with a model folder "
        "written by 'sklearn-multihead fit'.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="model folder written by 'fit'")
    p.add_argument(
        "data", metavar="DATA", help="a CSV or Parquet file with the feature columns"
    )
    p.add_argument(
        "--out", metavar="FILE", help="CSV to write (default: print to stdout)"
    )
    p.add_argument("--proba", action="store_true", help="add class probability columns")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except UsageError as exc:
        print(f"sklearn-multihead {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _run(args):
    if args.command == "predict":
        pred = predict_table(args.model, read_table(args.data), proba=args.proba)
        if args.out:
            pred.to_csv(args.out, index=False)
            print(f"wrote {len(pred)} rows to {args.out}")
        else:
            pred.to_csv(sys.stdout, index=False)
        return 0

    if args.data is None:
        table, targets = default_table(random_state=args.random_state)
        if args.target:
            targets = parse_targets(args.target)
        data_name = "synthetic (make_joint_dataset, 2000 rows, 5% missing targets)"
    else:
        table, targets = read_table(args.data), parse_targets(args.target)
        data_name = f"{args.data} ({len(table)} rows)"
    for name in ("max_iter", "n_estimators"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1.")

    if args.command == "fit":
        _, folder = fit_and_save(table, targets, args, args.features)
        print(f"saved the model to {folder}/")
        return 0

    t0 = time.perf_counter()
    rows, summary, joint = compare(
        table, targets, args, args.features, progress=not args.no_progress
    )
    print(
        f"{data_name}: {args.cv}-fold cross-validation, mean ± std over folds "
        f"(* best), {time.perf_counter() - t0:.1f} s\n"
    )
    print(format_table(summary))
    if args.out:
        paths = write_outputs(args.out, rows, summary, joint, args, data_name)
        print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
