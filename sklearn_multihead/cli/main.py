"""The ``sklearn-multihead`` command: compare, fit, predict and score a table.

Inside:

- ``build_parser`` / ``main``: the console script. Each subcommand lists only
  its own options; ``--version`` and ``--help`` answer without importing
  torch, scikit-learn or pandas (they are imported when a command runs).

The tables are read, audited and prepared by ``tables``; ``compare`` and its
reports live in ``compare`` and ``report_files``; the model folders of ``fit``,
``predict`` and ``score`` in ``model_folder``. Every foreseeable mistake is
one ``error:`` line on stderr and exit status 2.
"""

import argparse
import sys
import time
from pathlib import Path

from sklearn_multihead import __version__

#: the models that compare can run (kept here: --help imports nothing heavy)
MODELS = ("joint", "forest", "separate")
#: the model that learns nothing (each target's mean or most frequent class),
#: always compared
BASELINE = "dummy"


# -- command line -------------------------------------------------------------------
EPILOG = """\
examples:
  sklearn-multihead compare
      the side-by-side table on the package's own synthetic data (seconds)
  sklearn-multihead compare abalone.csv -t rings:regression -t sex --out abalone-results
      rings as a number and sex as a class; writes abalone-results/report.md,
      abalone-results/results.json and PNG plots
  sklearn-multihead fit abalone.csv -t rings:regression -t sex --model model/
  sklearn-multihead predict model/ new_rows.csv --out predictions.csv --proba
  sklearn-multihead score model/ labelled_rows.csv

A target's type is "regression" or "classification"; without one it is
inferred from the column (floats are numbers; integers, booleans and strings
are classes). Feature columns are all the others, or --features. Before any
fitting, one line says what was read: numeric, categorical and date columns,
the columns set aside (constant, all missing, ID-like text) and the targets.
Dates become days since 1970; the joint network scales numbers robustly and
learns an embedding per category (missing is a category of its own); the
forest of compare gets imputed numbers and one-hot categories.
Missing target cells are fine: the joint model masks them.
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

    def subcommand(name, help, description):
        return sub.add_parser(
            name,
            help=help,
            description=description,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def force_option(p, help):
        p.add_argument("--force", action="store_true", help=help)

    def data_argument(p, required=True):
        p.add_argument(
            "data",
            metavar="DATA",
            nargs=None if required else "?",
            help="a CSV (with a header) or Parquet file"
            + ("" if required else "; omitted: the package's synthetic data"),
        )
        p.add_argument(
            "--sep",
            metavar="CHAR",
            help="the CSV field separator (default: detected from the first lines)",
        )

    def target_options(p):
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
        stopping = p.add_mutually_exclusive_group()
        stopping.add_argument(
            "--early-stopping",
            action="store_const",
            const=True,
            default="auto",
            help="hold out 10%% of the training rows, stop when their loss stalls "
            "and keep the best epoch (the default from 200 rows on; compare's "
            "history.png then shows validation curves)",
        )
        stopping.add_argument(
            "--no-early-stopping",
            dest="early_stopping",
            action="store_const",
            const=False,
            help="train for --max-iter epochs on every training row",
        )
        p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = subcommand(
        "compare",
        "cross-validate the joint network, a forest and one network per target",
        "Cross-validate, side by side, one joint network for all targets, a random "
        "forest (RandomForestRegressorClassifier) and one network per target; "
        "print per-target metrics (mean ± std over folds) and times.",
    )
    data_argument(p, required=False)
    target_options(p)
    p.add_argument(
        "--n-estimators",
        type=int,
        default=100,
        help="trees of the forest (default 100)",
    )
    p.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="processes that run the fits side by side, each on one core (default "
        "and -1: every core; -2: all but one); with 1, the fits run in turn with "
        "a bar over each network's epochs",
    )
    p.add_argument(
        "--n-models",
        type=int,
        default=1,
        help="networks averaged in each network model (default 1, a quick "
        "answer; fit and the estimator average 5, which scores better)",
    )
    p.add_argument("--cv", type=int, default=3, help="number of folds (default 3)")
    p.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=list(MODELS),
        help="models to compare (default: all three; the dummy baseline, which "
        "predicts each target's mean or most frequent class, is always shown)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="write report.md, results.json and plots here"
    )
    force_option(p, "replace report files that exist in --out")

    p = subcommand(
        "fit",
        "fit the joint network on a table and save it",
        "Fit the joint network (with its preprocessing) on all rows of DATA and save "
        "it to a model folder, in a safe format (safetensors + JSON): loading "
        "it never unpickles.",
    )
    data_argument(p)
    target_options(p)
    p.add_argument(
        "--model", required=True, metavar="DIR", help="model folder to write"
    )
    p.add_argument(
        "--n-models",
        type=int,
        default=5,
        help="networks fitted apart and averaged (default 5, as the estimator; "
        "1 fits 5 x faster)",
    )
    force_option(p, "replace the model that --model holds")

    p = subcommand(
        "predict",
        "predict with a saved model",
        "Predict every target for the rows of DATA with a model folder written by "
        "'sklearn-multihead fit'.",
    )
    p.add_argument("model", metavar="MODEL", help="model folder written by 'fit'")
    data_argument(p)
    p.add_argument(
        "--out", metavar="FILE", help="CSV to write (default: print to stdout)"
    )
    force_option(p, "replace the --out file if it exists (never an input)")
    p.add_argument("--proba", action="store_true", help="add class probability columns")
    p.add_argument(
        "--interval",
        type=float,
        metavar="COVERAGE",
        help="add <target>_lower and <target>_upper columns for each regression "
        "target: intervals that hold the true value with this probability "
        "(e.g. 0.9), calibrated on the rows the model held out in fit",
    )

    p = subcommand(
        "score",
        "score a saved model on a labelled table",
        "Print the per-target metrics (MAE, RMSE, R²; accuracy, balanced accuracy, "
        "macro F1, log loss) of a model folder written by 'sklearn-multihead fit' on "
        "the rows of DATA, which holds the feature and the target columns.",
    )
    p.add_argument("model", metavar="MODEL", help="model folder written by 'fit'")
    data_argument(p)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from sklearn_multihead.cli.tables import UsageError

    try:
        return _run(args)
    except UsageError as exc:
        print(f"sklearn-multihead {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _run(args):
    from sklearn_multihead.cli import tables as _table
    from sklearn_multihead.cli.model_folder import (
        check_model_folder,
        fit_and_save,
        predict_table,
        score_table,
    )
    from sklearn_multihead.cli.outputs import (
        check_output_file,
        spreadsheet_safe,
        write_file,
    )

    if args.command in ("predict", "score"):
        table = _table.read_table(args.data, args.sep)
        if args.command == "score":
            from sklearn_multihead.cli.compare import render

            report = score_table(args.model, table)
            print(f"{args.data}: {len(table):,} rows, model {args.model}\n")
            print(_report_text(report, render))
            return 0
        if args.out:
            inputs = [args.data, *Path(args.model).glob("*")]
            check_output_file(args.out, "--out", inputs, args.force)
        pred, _, _ = predict_table(
            args.model, table, proba=args.proba, interval=args.interval
        )
        pred = spreadsheet_safe(pred)  # no cell or name a spreadsheet would run
        if args.out:
            write_file(args.out, lambda path: pred.to_csv(path, index=False))
            print(f"wrote {len(pred)} rows to {args.out}")
        else:
            pred.to_csv(sys.stdout, index=False)
        return 0

    for name in ("max_iter", "n_estimators", "n_models"):
        if getattr(args, name, 1) < 1:
            raise _table.UsageError(f"--{name.replace('_', '-')} must be at least 1.")
    if getattr(args, "n_jobs", None) == 0:
        raise _table.UsageError("--n-jobs must not be 0: use -1 for all cores, or 1.")
    if args.random_state < 0:
        raise _table.UsageError("--random-state must be 0 or more.")
    if args.data is None:
        import pandas as pd

        from sklearn_multihead.datasets import make_joint_dataset

        X, Y = make_joint_dataset(
            n_samples=2000,
            n_features=8,
            n_categorical=2,
            missing_rate=0.05,
            random_state=args.random_state,
        )
        table = pd.concat([X, Y], axis=1)
        specs = args.target or list(Y.columns)
        data_name = "synthetic (make_joint_dataset, 2000 rows, 5% missing targets)"
    else:
        table, specs = _table.read_table(args.data, args.sep), args.target
        data_name = f"{args.data} ({len(table):,} rows)"
    targets = _table.parse_targets(specs, list(table.columns))
    X, Y, given = _table.split_columns(table, targets, args.features)
    types = _table.check_targets(Y, given)
    plan = _table.plan_features(X)
    audit = _table.audit_line(X, Y, plan, types)
    print(audit, flush=True)
    if args.command == "fit":
        check_model_folder(args.model, args.force)
        _, folder = fit_and_save(X, Y, types, plan, args)
        print(f"saved the model to {folder}/")
        return 0
    return _compare(X, Y, types, plan, args, data_name, audit)


def _compare(X, Y, types, plan, args, data_name, audit):
    from sklearn_multihead.cli.compare import compare, format_table
    from sklearn_multihead.cli.outputs import check_output_folder
    from sklearn_multihead.cli.report_files import REPORT_FILES, write_outputs
    from sklearn_multihead.cli.tables import prepare_features

    if args.out:
        inputs = [args.data] if args.data else []
        check_output_folder(args.out, "--out", REPORT_FILES, inputs, args.force)
    # the baseline that learns nothing goes beside every score
    args.models = [m for m in args.models if m != BASELINE] + [BASELINE]
    t0 = time.perf_counter()
    rows, summary, joint, importances = compare(
        prepare_features(X, plan), Y, types, plan, args, progress=not args.no_progress
    )
    print(
        f"{data_name}: {args.cv}-fold cross-validation, mean ± std over folds "
        f"(* best), {time.perf_counter() - t0:.1f} s\n"
    )
    print(format_table(summary, baseline=BASELINE))
    if args.out:
        paths = write_outputs(
            args.out, rows, summary, joint, args, data_name, audit, importances
        )
        print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0


def _report_text(report, render):
    """A ``target_report`` as an aligned table (metrics that apply, 3 digits)."""
    metrics = [c for c in report.columns if c not in ("target", "type", "n_known")]
    lines = []
    for _, r in report.iterrows():
        cells = [str(r["target"]), str(r["type"]), str(int(r["n_known"]))]
        cells += ["-" if r[m] != r[m] else f"{r[m]:.3f}" for m in metrics]
        lines.append(cells)
    return render(["target", "type", "n_known", *metrics], lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
