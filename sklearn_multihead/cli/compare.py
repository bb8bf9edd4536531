"""The command's ``compare``: cross-validation, progress, tables and reports.

Inside:

- ``make_models``: the compared models, each a ``Pipeline``: the joint
  network alone (it encodes the planned columns itself), the forest behind
  the one-hot ``make_preprocessor``, and the network fitted once per target
  (``"separate"``).
- ``compare``: K-fold cross-validation of the models with per-target
  metrics; its fits (``fit_predict``) one after another or in worker
  processes side by side (``side_by_side``: forked from the command where
  that is safe, else joblib's), as ``--n-jobs`` allows.
- ``summarize`` / ``format_table``: mean and std over folds, as text or
  Markdown, the best model of each row marked.

What ``--out`` receives (``report.md``, ``results.json``, the plots) is
written by ``report_files``.

Uses the public API of the package and scikit-learn (``progress`` shows
the fits as they run); imported by ``cli`` only when a command needs it.
"""

import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline

from sklearn_multihead import (
    DummyRegressorClassifier,
    JointRegressorClassifier,
    RandomForestRegressorClassifier,
    target_report,
)
from sklearn_multihead.cli.progress import Progress
from sklearn_multihead.cli.tables import UsageError, make_preprocessor
from sklearn_multihead.metrics import CLASSIFICATION_METRICS, LOWER_IS_BETTER

#: metrics shown per target type (``LOWER_IS_BETTER`` names those where lower wins)
REGRESSION_SHOWN = ("mae", "rmse", "r2")
CLASSIFICATION_SHOWN = CLASSIFICATION_METRICS


# -- models -------------------------------------------------------------------------
def make_joint(types, args, callbacks=None, plan=None, target_networks="auto"):
    """The joint network of the command; with the feature ``plan``, its
    categorical columns are named (the table's text columns as categories,
    encoded by the network's own feature layer). ``target_networks``: the
    estimator's (``fit`` keeps its default; ``compare`` sets False)."""
    return JointRegressorClassifier(
        categorical_features="from_dtype" if plan is None else plan["categorical"],
        target_types=types or "auto",
        max_iter=args.max_iter,
        early_stopping=args.early_stopping,
        n_models=args.n_models,
        random_state=args.random_state,
        callbacks=callbacks,
        target_networks=target_networks,
    )


def make_models(plan, types, args, progress=None, forest_jobs=1):
    """The compared models: the joint network (a one-step Pipeline), the
    forest (on ``forest_jobs`` threads) behind its preprocessor, and the
    template of the networks of one target each (``"separate"``, fitted once
    per target column)."""
    callbacks = progress.ticker() if progress is not None else None
    # the command's question is the joint network against one network per
    # target, so it fits them apart: without the estimator's average of the
    # two below 2,500 rows (target_networks), which "separate" shows alone
    joint = make_joint(types, args, callbacks, plan, target_networks=False)
    forest = RandomForestRegressorClassifier(
        target_types=types or "auto",
        n_estimators=args.n_estimators,
        n_jobs=forest_jobs,
        random_state=args.random_state,
    )
    models = {
        # the network takes the planned columns as they are; the forest
        # needs numbers: one-hot categories and imputed cells
        "joint": Pipeline([("model", joint)]),
        "forest": Pipeline([("prep", make_preprocessor(plan)), ("model", forest)]),
        "separate": Pipeline([("model", clone(joint).set_params(target_types="auto"))]),
        "dummy": Pipeline(
            [("model", DummyRegressorClassifier(target_types=types or "auto"))]
        ),
    }
    return {name: models[name] for name in args.models}


def _units(models, folds, columns, types):
    """The fits of a cross-validation, in report order: ``(fold, name,
    targets, model)``, ``targets`` the columns the model learns (all of
    them, or one for each network of ``"separate"``)."""
    for fold in range(len(folds)):
        for name, model in models.items():
            if name != "separate":
                yield fold, name, list(columns), model
                continue
            for column in columns:
                kind = types.get(column)
                one = clone(model)
                one[-1].set_params(target_types={column: kind} if kind else "auto")
                yield fold, name, [column], one


def fit_predict(model, X_train, Y_train, X_test, Y_test, keep=False):
    """Fit a clone of ``model``, predict the test rows and report per target:
    ``(report, fit_s, predict_s, epochs, fitted model or None)``. A module
    function, so that worker processes can run it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = clone(model)
        est = model[-1]
        t0 = time.perf_counter()
        model.fit(X_train, Y_train)
        t1 = time.perf_counter()
        pred = model.predict(X_test)
        proba = model.predict_proba(X_test) if hasattr(est, "predict_proba") else None
        t2 = time.perf_counter()
    report = target_report(
        Y_test, pred, est.target_types_, y_proba=proba, classes=est.target_classes_
    )
    epochs = est.n_iter_ if isinstance(est, JointRegressorClassifier) else None
    return report, t1 - t0, t2 - t1, epochs, model if keep else None


# -- compare ------------------------------------------------------------------------
def compare(X, Y, types, plan, args, progress=True):
    """Cross-validate the models; returns (per-fold rows, summary, last joint,
    its permutation importances on the last fold's test rows: with ``--out``
    only, else None).

    The fits run one after another, with a bar over each network's epochs,
    or, when ``--n-jobs`` (default: every core) allows more than one, in
    that many worker processes side by side (a line per finished fit); the
    forest takes the cores left per worker."""
    if args.cv < 2 or args.cv > len(X):
        raise UsageError(
            f"--cv must be between 2 and the number of rows ({len(X)}). Got {args.cv}."
        )
    folds = list(KFold(args.cv, shuffle=True, random_state=args.random_state).split(X))
    per_fold = sum(Y.shape[1] if n == "separate" else 1 for n in args.models)
    n_units = len(folds) * per_fold
    cores = _cores(args.n_jobs)
    workers = min(cores, n_units)
    bar = Progress(n_units, progress)
    models = make_models(
        plan,
        types,
        args,
        bar if workers == 1 else None,
        forest_jobs=max(1, cores // workers),
    )
    units = list(_units(models, folds, list(Y.columns), types))
    last = len(folds) - 1

    def data(fold, targets):
        train, test = folds[fold]
        Y_fold = Y[targets]
        return X.iloc[train], Y_fold.iloc[train], X.iloc[test], Y_fold.iloc[test]

    def label(fold, name, targets):
        one = f" [{targets[0]}]" if name == "separate" else ""
        return f"fold {fold + 1}/{len(folds)} {name}{one}"

    results = {}
    try:
        if workers == 1:
            for i, (fold, name, targets, model) in enumerate(units):
                network = isinstance(model[-1], JointRegressorClassifier)
                bar.start(
                    label(fold, name, targets), args.max_iter if network else None
                )
                keep = name == "joint" and fold == last
                results[i] = fit_predict(model, *data(fold, targets), keep=keep)
                bar.done(label(fold, name, targets), results[i][1], results[i][3])
        else:
            calls = (
                (i, model, *data(fold, targets), name == "joint" and fold == last)
                for i, (fold, name, targets, model) in enumerate(units)
            )
            for i, result in side_by_side(calls, workers):
                results[i] = result
                fold, name, targets, _ = units[i]
                bar.done(label(fold, name, targets), result[1], result[3])
    finally:
        bar.close()
    rows, joint_last = [], None
    for fold in range(len(folds)):
        for name in models:
            parts = [
                results[i]
                for i, (f, n, _, _) in enumerate(units)
                if f == fold and n == name
            ]
            report = pd.concat([p[0] for p in parts], ignore_index=True)
            fit_s, predict_s = sum(p[1] for p in parts), sum(p[2] for p in parts)
            rows += _fold_rows(name, fold, report, fit_s, predict_s)
            if name == "joint" and fold == last:
                joint_last = parts[0][4]
    importances = None
    if joint_last is not None and getattr(args, "out", None):
        from sklearn_multihead.inspection import target_importances

        _, _, X_test, Y_test = data(last, list(Y.columns))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            importances = target_importances(
                joint_last, X_test, Y_test, n_repeats=3, random_state=args.random_state
            )
    return rows, summarize(rows), joint_last, importances


def _indexed(call):
    i, model, X_train, Y_train, X_test, Y_test, keep = call
    return i, fit_predict(model, X_train, Y_train, X_test, Y_test, keep=keep)


def side_by_side(calls, workers):
    """``(i, fit_predict result)`` for each call, as the fits finish, from
    ``workers`` processes.

    Forked from this process where ``can_fork`` says so: the workers start
    with torch, scikit-learn and the data already imported, 3 s or more
    sooner than fresh processes. Elsewhere joblib's fresh processes (loky).
    After an error in a fit, or Ctrl-C, no new fit starts."""
    if not can_fork():
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
        yield from parallel(delayed(_indexed)(call) for call in calls)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    others = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )
    calls, pending = iter(calls), set()

    def submit(n):  # the next n calls: each holds a copy of its fold's rows
        for call in itertools.islice(calls, n):
            pending.add(pool.submit(_indexed, call))

    completed = False
    try:
        submit(2 * workers)  # as joblib's pre_dispatch: a few copies at a time
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.discard(future)
                result = future.result()
                submit(1)
                yield result
        completed = True
    except BrokenProcessPool:
        # from a result, or from a submit once the pool has seen a worker die
        # (a worker can die before the first calls are all submitted)
        raise UsageError(
            "A worker process of compare ended abruptly: the system "
            "may have stopped it for lack of memory. Run the fits in "
            "turn with --n-jobs 1, or on fewer rows."
        ) from None
    finally:
        # every fit done: wait for the workers to exit; an error or Ctrl-C: no
        # new fits, and the pool's workers are stopped now (one may be stuck,
        # e.g. a fork taken while another thread held a lock), so that none
        # outlives the command's work
        pool.shutdown(wait=completed, cancel_futures=True)
        if not completed:
            _stop_workers(others)


def can_fork():
    """Whether the workers may be forked from this process: on Linux, while
    this process runs no other Python thread (one could hold a lock that the
    copy would wait on forever). The native threads of an idle BLAS pool are
    fork-safe (OpenBLAS and torch prepare for a fork); the workers run
    torch on one thread, so a copied OpenMP pool is never entered. (Python
    3.12+ counts those native threads too and issues a DeprecationWarning,
    hidden by default, on any fork of such a process.)"""
    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


def _stop_workers(others, grace_s=2.0):
    """End this process's children but ``others``: SIGTERM, then SIGKILL
    after ``grace_s`` seconds."""
    mine = [c for c in multiprocessing.active_children() if c not in others]
    for child in mine:
        child.terminate()
    deadline = time.monotonic() + grace_s
    for child in mine:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(1.0)


#: Linux's prctl option that sends a signal to a process when its parent dies
PR_SET_PDEATHSIG = 1


def _worker_start(parent):
    """A forked worker's set-up: it dies with the command (SIGKILL when the
    command's process ends, however it ends: a worker adopted by init would
    keep running, and keep the command's stdout open, so that
    ``compare | tee log`` never returned), and runs torch on one thread, as
    joblib gives its workers when there is a worker per core."""
    import ctypes

    import torch

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pool is not forked there
        pass
    if os.getppid() != parent:  # the command ended before the line above
        os._exit(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def _cores(n_jobs):
    """The cores ``--n-jobs`` gives the fits: -1 (or -2 ...) counts back
    from every core of this process, and the default is every core. The
    workers run torch on one thread each and the forest on threads that do
    not spin, so on a busy machine they take their fair share of the cores
    and no more (benchmarks/bench_cli.py)."""
    every = cpu_count()
    if n_jobs is None:
        return every
    if n_jobs < 0:
        return max(1, every + 1 + n_jobs)
    return n_jobs


def _fold_rows(name, fold, report, fit_s, predict_s):
    rows = []
    for _, r in report.iterrows():
        rows.append(
            {
                "model": name,
                "fold": fold,
                "target": r["target"],
                "type": r["type"],
                **{
                    m: json_number(r[m])
                    for m in REGRESSION_SHOWN + CLASSIFICATION_SHOWN
                    if m in r and pd.notna(r[m])
                },
            }
        )
    rows.append({"model": name, "fold": fold, "fit_s": fit_s, "predict_s": predict_s})
    return rows


def json_number(v):
    """A metric as JSON has it: a float, or None where it is not finite."""
    return None if v is None or not np.isfinite(v) else float(v)


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


def format_table(summary, markdown=False, baseline=None):
    """The summary as text: one row per target and metric, one column per model;
    the best model of each row is marked with *, and a model that does not
    beat the ``baseline`` model's score (the one that learns nothing) with !."""
    models = [c for c in summary.columns if c not in ("target", "metric")]
    header = ["target", "metric", *models]
    lines, flagged = [], False
    for _, r in summary.iterrows():
        cells = {}
        values = {m: r[m][0] for m in models if isinstance(r[m], tuple)}
        finite = {m: v for m, v in values.items() if np.isfinite(v)}
        best = None
        scored = r["target"] != "(time)"
        lower = r["metric"] in LOWER_IS_BETTER
        if finite and scored:
            best = (min if lower else max)(finite, key=finite.get)
        floor = finite.get(baseline) if scored else None
        for m in models:
            if not isinstance(r[m], tuple) or not np.isfinite(r[m][0]):
                cells[m] = "-"
                continue
            mean, std, _ = r[m]
            cells[m] = f"{mean:.3f} ± {std:.3f}" + (" *" if m == best else "")
            if (
                floor is not None
                and m != baseline
                and (mean >= floor if lower else mean <= floor)
            ):
                cells[m] += " !"
                flagged = True
        lines.append([str(r["target"]), r["metric"], *[cells[m] for m in models]])
    text = render(header, lines, markdown)
    if flagged:
        text += (
            f"\n\n! not better than {baseline} (each target's mean or most "
            "frequent class): the model learned nothing there"
        )
    return text


def render(header, lines, markdown=False):
    """Rows of cells as an aligned text table or a Markdown table."""
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


def cpu_count():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
