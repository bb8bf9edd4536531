"""The model folder of the command: written by ``fit``, read by ``predict``
and ``score``.

Inside:

- ``fit_and_save``: the joint network and its preprocessing fitted on a table
  and written to a folder: the network in ``model.safetensors`` (the
  package's safe format), the fitted ``ColumnTransformer`` in
  ``preprocessor.skops`` (skops, scikit-learn types only), and the feature
  plan and column names in ``columns.json``.
- ``load_saved``: the three parts back, each refused with one clear line
  when it is missing, damaged or holds types that are not scikit-learn's.
- ``predict_table`` / ``score_table``: predictions (and probabilities) for a
  table's rows; the per-target report on a labelled table.
"""

import json
import time
import warnings
from pathlib import Path

from sklearn_multihead import __version__
from sklearn_multihead._outputs import replace_folder
from sklearn_multihead._table import (
    UsageError,
    check_numeric_cells,
    make_preprocessor,
    prepare_features,
)

MODEL_FILE, PREPROCESSOR_FILE, SPEC_FILE = (
    "model.safetensors",
    "preprocessor.skops",
    "columns.json",
)

#: types outside skops' defaults that the saved preprocessor holds (the
#: encoder's output dtype); loading refuses any other
TRUSTED_TYPES = ("numpy.dtype",)
#: columns.json holds names and a plan: far below this for any real table
MAX_SPEC_BYTES = 16 * 2**20


def check_model_folder(folder, force=False):
    """Refuse, before fitting, a ``--model`` folder that would lose data: one
    that holds another model (without ``--force``) or files of its own."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--model {str(folder)!r} is a file; give a folder.")
    if folder.is_dir():
        others = sorted(
            p.name
            for p in folder.iterdir()
            if p.name not in (MODEL_FILE, PREPROCESSOR_FILE, SPEC_FILE)
        )
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
    """Fit the joint pipeline on all rows and save it to ``args.model``: the
    three files are written to a new folder beside it, then swapped in, so a
    failure leaves the previous model whole."""
    import skops.io as sio
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import Pipeline

    from sklearn_multihead._progress import Progress
    from sklearn_multihead._report import make_joint

    progress = Progress(1, enabled=not args.no_progress)
    joint = make_joint(types, args, progress.ticker())
    model = Pipeline([("prep", make_preprocessor(plan)), ("model", joint)])
    progress.start("fit joint", args.max_iter)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(prepare_features(X, plan), Y)
    finally:
        progress.close()
    seconds = time.perf_counter() - t0
    est = model[-1]
    spec = {
        "version": __version__,
        "features": [*plan["numeric"], *plan["categorical"], *plan["dates"]],
        "plan": {k: plan[k] for k in ("numeric", "categorical", "dates")},
        "feature_dtypes": {c: str(t) for c, t in X.dtypes.items()},
        "targets": list(Y.columns),
    }

    def write(tmp):
        est.save(tmp / MODEL_FILE)
        sio.dump(model[0], tmp / PREPROCESSOR_FILE)
        (tmp / SPEC_FILE).write_text(json.dumps(spec, indent=2))

    folder = replace_folder(Path(args.model), write)
    targets = ", ".join(
        f"{n} ({t})" if c is None else f"{n} ({len(c)} classes)"
        for n, t, c in zip(Y.columns, est.target_types_, est.target_classes_)
    )
    print(
        f"fitted the joint network in {seconds:.1f} s: {est.n_iter_} epochs on "
        f"{len(X):,} rows, {est.n_features_in_} inputs; targets {targets}; final "
        f"training loss {est.history_['train_loss'].iloc[-1]:.4g}"
    )
    return model, folder


def load_saved(folder):
    """The preprocessor, the model and the column spec saved by ``fit``."""
    import skops.io as sio

    from sklearn_multihead import JointRegressorClassifier

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
    if (folder / SPEC_FILE).stat().st_size > MAX_SPEC_BYTES:
        raise UsageError(
            f"{str(folder / SPEC_FILE)!r} is larger than a model's column list "
            f"can be ({MAX_SPEC_BYTES:,} bytes); it is not read. Fit the model again."
        )
    try:
        spec = json.loads((folder / SPEC_FILE).read_text())
        _check_spec(spec)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        raise UsageError(
            f"{str(folder / SPEC_FILE)!r} is damaged: it does not describe the "
            "model's columns. Fit the model again."
        ) from None
    prep_path = folder / PREPROCESSOR_FILE
    try:
        untrusted = [
            t for t in sio.get_untrusted_types(file=prep_path) if t not in TRUSTED_TYPES
        ]
    except Exception as exc:  # skops raises whatever a broken zip file gives
        raise UsageError(
            f"{str(prep_path)!r} is damaged ({type(exc).__name__}). Fit the model "
            "again."
        ) from None
    if untrusted:
        raise UsageError(
            f"{str(prep_path)!r} holds types that are not scikit-learn's own "
            f"({untrusted}); it was not written by 'sklearn-multihead fit' and is "
            "not loaded."
        )
    try:
        prep = sio.load(prep_path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:  # skops' errors for inconsistent content vary
        raise UsageError(
            f"{str(prep_path)!r} is damaged ({type(exc).__name__}). Fit the model "
            "again."
        ) from None
    if not _is_our_preprocessor(prep, spec):
        raise UsageError(
            f"{str(prep_path)!r} is not the preprocessing that 'sklearn-multihead "
            "fit' writes (other steps, columns or array sizes); it is not used. "
            "Fit the model again."
        )
    try:
        model = JointRegressorClassifier.load(folder / MODEL_FILE)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # columns.json is not under the model file's digest: its target names must
    # be the model's own, or probabilities would be labelled with wrong names
    if [str(n) for n in model._encoder.names_] != spec["targets"]:
        raise UsageError(
            f"{str(folder / SPEC_FILE)!r} does not match the model: it names the "
            f"targets {spec['targets']}, the model holds "
            f"{[str(n) for n in model._encoder.names_]}. Fit the model again."
        )
    return prep, model, spec


def _is_our_preprocessor(prep, spec):
    """Whether ``prep`` is exactly the ColumnTransformer that ``fit`` writes:
    its step types, columns and fitted array sizes. skops rebuilds any
    scikit-learn type it trusts by default, and scikit-learn's native code
    does not bound-check fitted arrays (a precomputed-kernel SVR with a forged
    ``support_`` crashes the process), so nothing else is ever called."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    plan = spec.get("plan")
    if type(prep) is not ColumnTransformer or not isinstance(
        getattr(prep, "transformers_", None), list
    ):
        return False
    expected = [
        ("numeric", [SimpleImputer, StandardScaler]),
        ("categorical", [SimpleImputer, OneHotEncoder]),
    ]
    if plan is not None:
        columns = [plan["numeric"] + list(plan["dates"]), plan["categorical"]]
    else:  # a folder from before the plan: the same steps, columns unchecked
        columns = [None, None]
    parts = prep.transformers_
    extra = parts[len(expected) :]
    if len(parts) < len(expected) or any(
        not (isinstance(p, tuple) and p[0] == "remainder" and p[1] == "drop")
        for p in extra
    ):
        return False
    for (name, steps), cols, part in zip(expected, columns, parts):
        if not (isinstance(part, tuple) and len(part) == 3 and part[0] == name):
            return False
        pipe, used = part[1], part[2]
        if type(pipe) is not Pipeline:
            return False
        if [type(step) for _, step in pipe.steps] != steps:
            return False
        if cols is not None and list(used) != cols:
            return False
        n = len(used)
        if n == 0:
            continue
        imputer, last = pipe.steps[0][1], pipe.steps[1][1]
        arrays = [getattr(imputer, "statistics_", None)]
        if type(last) is StandardScaler:
            arrays += [getattr(last, "mean_", None), getattr(last, "scale_", None)]
        else:
            categories = getattr(last, "categories_", None)
            if not (isinstance(categories, list) and len(categories) == n):
                return False
            if any(getattr(c, "ndim", None) != 1 for c in categories):
                return False
        if any(getattr(a, "shape", None) != (n,) for a in arrays):
            return False
    return True


def _check_spec(spec):
    """Raise ValueError unless ``spec`` is a well-formed ``columns.json``."""

    def names(v):
        return isinstance(v, list) and all(isinstance(n, str) for n in v)

    if not (names(spec["features"]) and names(spec["targets"])):
        raise ValueError("bad column lists")
    plan = spec.get("plan")
    if plan is not None:
        dates = plan["dates"]
        if not (
            names(plan["numeric"])
            and names(plan["categorical"])
            and isinstance(dates, dict)
            and all(v in ("ISO8601", "infer", "datetime") for v in dates.values())
        ):
            raise ValueError("bad plan")


def predict_table(folder, table, proba=False, model_parts=None):
    """Predictions (and class probabilities) of a saved model for ``table``."""

    prep, model, spec = model_parts or load_saved(folder)
    missing = [c for c in spec["features"] if c not in table.columns]
    if missing:
        raise UsageError(
            f"The data lacks the feature column(s) {missing} the model was fitted on."
        )
    X = table[spec["features"]]
    plan = spec.get("plan")
    if plan is not None:  # folders from before the plan: no date columns
        X = prepare_features(check_numeric_cells(X, plan["numeric"]), plan)
    try:
        Xt = prep.transform(X)
    except ValueError as exc:
        raise UsageError(f"The data does not fit the model's columns: {exc}") from None
    try:
        pred = model.predict(Xt)
        probas = None
        if any(c is not None for c in model.target_classes_):
            probas = model.predict_proba(Xt)
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
        for (name, classes), p in zip(classified, probas):
            for k, label in enumerate(classes):
                pred[f"{name}_proba_{label}"] = p[:, k]
    return pred, probas, model


def score_table(folder, table):
    """The per-target report of a saved model on a labelled table."""
    from sklearn_multihead import target_report

    parts = load_saved(folder)
    targets = parts[2]["targets"]
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
