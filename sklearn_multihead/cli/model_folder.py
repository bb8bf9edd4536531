"""The model folder of the command: written by ``fit``, read by ``predict``
and ``score``.

Inside:

- ``fit_and_save``: the joint network fitted on a table's planned columns as
  they are (numbers, dates as days, categories as text: the network's own
  feature layer encodes them) and written to a folder as one file,
  ``model.safetensors`` (the package's safe format). The command's column
  spec (the feature plan, the columns' dtypes, the target names) is in the
  same document, under the same SHA-256 digest: there is no other file to
  go stale or to be forged, and no object graph to rebuild.
- ``load_saved``: the model and its spec back, refused with one clear line
  when the file is missing, damaged, or not written by the command.
- ``predict_table`` / ``score_table``: predictions (and probabilities) for a
  table's rows; the per-target report on a labelled table.
"""

import time
import warnings
from pathlib import Path

from sklearn_multihead import __version__
from sklearn_multihead.cli.outputs import replace_folder
from sklearn_multihead.cli.tables import (
    DATE_FORMATS,
    UsageError,
    check_numeric_cells,
    prepare_features,
)

MODEL_FILE = "model.safetensors"


def check_model_folder(folder, force=False):
    """Refuse, before fitting, a ``--model`` folder that would lose data: one
    that holds another model (without ``--force``) or files of its own."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--model {str(folder)!r} is a file; give a folder.")
    if folder.is_dir():
        others = sorted(p.name for p in folder.iterdir() if p.name != MODEL_FILE)
        if others:
            raise UsageError(
                f"--model {str(folder)!r} holds other files ({others[:3]}); give a "
                "new or empty folder: fit replaces the whole folder."
            )
        if any(folder.iterdir()) and not force:
            raise UsageError(
                f"--model {str(folder)!r} holds a model. Add --force to replace "
                "it, or give another folder."
            )
    parent = folder.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"--model: the folder {str(parent)!r} does not exist.")


def fit_and_save(X, Y, types, plan, args):
    """Fit the joint network on all rows and save it to ``args.model``: the
    file is written to a new folder beside it, then swapped in, so a failure
    leaves the previous model whole."""
    from sklearn.exceptions import ConvergenceWarning

    from sklearn_multihead.cli.compare import make_joint
    from sklearn_multihead.cli.progress import Progress

    progress = Progress(1, enabled=not args.no_progress)
    est = make_joint(types, args, progress.ticker(), plan)
    progress.start("fit joint", args.max_iter)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(prepare_features(X, plan), Y)
    finally:
        progress.close()
    seconds = time.perf_counter() - t0
    spec = {
        "version": __version__,
        "features": [*plan["numeric"], *plan["categorical"], *plan["dates"]],
        "plan": {k: plan[k] for k in ("numeric", "categorical", "dates")},
        "feature_dtypes": {str(c): str(t) for c, t in X.dtypes.items()},
        "targets": [str(c) for c in Y.columns],
    }

    def write(tmp):
        est._save(tmp / MODEL_FILE, command=spec)

    folder = replace_folder(Path(args.model), write)
    targets = ", ".join(
        f"{n} ({t})" if c is None else f"{n} ({len(c)} classes)"
        for n, t, c in zip(Y.columns, est.target_types_, est.target_classes_)
    )
    print(
        f"fitted the joint network in {seconds:.1f} s: {est.n_iter_} epochs on "
        f"{len(X):,} rows, {est.n_features_in_} feature columns; targets "
        f"{targets}; final training loss {est.history_['train_loss'].iloc[-1]:.4g}"
    )
    return est, folder


def load_saved(folder):
    """The model and the column spec saved by ``fit``."""
    from sklearn_multihead import JointRegressorClassifier

    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise UsageError(
            f"{str(folder)!r} is not a model folder written by 'sklearn-multihead "
            f"fit' (missing {[MODEL_FILE]})."
        )
    try:
        model, spec = JointRegressorClassifier._load_with_command(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if spec is None:
        raise UsageError(
            f"{str(path)!r} is a model saved by est.save(), without the command's "
            "column spec. Load it in Python with JointRegressorClassifier.load, or "
            "fit a model folder with 'sklearn-multihead fit'."
        )
    try:
        _check_spec(spec)
        names = [str(n) for n in model._encoder.names_]
        if spec["targets"] != names or spec["features"] != [
            str(n) for n in getattr(model, "feature_names_in_", [])
        ]:
            raise ValueError("columns")
    except (ValueError, TypeError, KeyError):
        raise UsageError(
            f"{str(path)!r} is inconsistent: its column spec does not describe the "
            "model's columns. Fit the model again."
        ) from None
    return model, spec


def _check_spec(spec):
    """Raise ValueError unless ``spec`` is a well-formed column spec: name
    lists, and a plan whose columns are the features, each once."""

    def names(v):
        return isinstance(v, list) and all(isinstance(n, str) for n in v)

    if not isinstance(spec, dict):
        raise ValueError("not a spec")
    if not (names(spec["features"]) and names(spec["targets"])):
        raise ValueError("bad column lists")
    plan = spec["plan"]
    dates = plan["dates"]
    if not (
        names(plan["numeric"])
        and names(plan["categorical"])
        and isinstance(dates, dict)
        and all(v in DATE_FORMATS for v in dates.values())
        and plan["numeric"] + plan["categorical"] + list(dates) == spec["features"]
        and len(set(spec["features"])) == len(spec["features"])
    ):
        raise ValueError("bad plan")


def predict_table(folder, table, proba=False, model_parts=None, interval=None):
    """Predictions (and class probabilities, and with ``interval`` the
    bounds of the regression targets' intervals of that coverage) of a saved
    model for ``table``."""

    model, spec = model_parts or load_saved(folder)
    missing = [c for c in spec["features"] if c not in table.columns]
    if missing:
        raise UsageError(
            f"The data lacks the feature column(s) {missing} the model was fitted on."
        )
    plan = spec["plan"]
    X = prepare_features(check_numeric_cells(table, plan["numeric"]), plan)
    try:
        pred = model.predict(X)
        probas = None
        if any(c is not None for c in model.target_classes_):
            probas = model.predict_proba(X)
    except ValueError as exc:  # e.g. 1e300 in a numeric column: beyond float32
        raise UsageError(
            f"The data holds values the model cannot take ({exc}). Check the "
            "numeric columns for extreme values."
        ) from None
    if proba and probas is not None:
        classified = [
            (name, classes)
            for name, classes in zip(spec["targets"], model.target_classes_)
            if classes is not None
        ]
        made = {str(c): f"the target {c!r}" for c in pred.columns}
        for (name, classes), p in zip(classified, probas):
            for k, label in enumerate(classes):
                column = f"{name}_proba_{label}"
                source = f"the probability of class {label!r} of {name!r}"
                if column in made:
                    raise UsageError(
                        f"--proba would write {column!r} twice: as {made[column]} "
                        f"and as {source}. Rename the target (or drop --proba)."
                    )
                made[column] = source
                pred[column] = p[:, k]
    if interval is not None:
        if "regression" not in model.target_types_:
            raise UsageError(
                "--interval needs a regression target; this model has only "
                "classification targets."
            )
        try:
            bounds = model.predict_interval(X, coverage=interval)
        except ValueError as exc:
            raise UsageError(f"--interval {interval}: {exc}") from None
        made = {str(c): f"the column {c!r}" for c in pred.columns}
        for column in bounds.columns:
            if column in made:
                raise UsageError(
                    f"--interval would write {column!r} twice: as {made[column]} "
                    "and as an interval bound. Rename the target."
                )
            pred[column] = bounds[column].to_numpy()
    return pred, probas, model


def score_table(folder, table):
    """The per-target report of a saved model on a labelled table."""
    from sklearn_multihead import target_report

    parts = load_saved(folder)
    targets = parts[1]["targets"]
    missing = [t for t in targets if t not in table.columns]
    if missing:
        raise UsageError(
            f"The data lacks the target column(s) {missing}: 'score' needs the "
            "true values beside the features."
        )
    pred, probas, model = predict_table(folder, table, model_parts=parts)
    Y = table[targets]
    try:
        return target_report(
            Y,
            pred[targets],
            model.target_types_,
            y_proba=probas,
            classes=model.target_classes_ if probas is not None else None,
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"The target columns do not match the model's targets: {exc}"
        ) from None
