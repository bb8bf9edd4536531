"""The command's tables: reading, auditing and preparing them (pandas, numpy).

Inside:

- ``UsageError``: a mistake in the command line or the data, printed as one
  ``error:`` line without a traceback.
- ``read_table``: a CSV (separator detected from its first lines unless
  given) or Parquet file as a DataFrame; a file with a header and no rows is
  refused.
- ``parse_targets`` / ``split_columns``: ``-t NAME[:TYPE]`` specs checked
  against the table's columns; features X and targets Y.
- ``plan_features`` / ``prepare_features``: which feature columns are numeric,
  categorical or dates, and which are set aside and why (constant, all
  missing, ID-like text); dates become numbers (days since 1970-01-01).
- ``check_targets``: one-line errors for targets that no model can learn
  (empty, one class, text typed as regression, an ID as classes).
- ``audit_line``: the one-line summary printed before any fitting.
- ``check_numeric_cells``: text in a column that was numeric in fit.
- ``make_preprocessor``: the forest's scikit-learn ``ColumnTransformer``
  (imputing and scaling numbers, one-hot encoding at most ``MAX_LEVELS``
  levels per categorical column), imported only when a model is built; the
  joint network takes ``prepare_features``' columns as they are.
"""

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_multihead._targets import (
    CLASSIFICATION,
    REGRESSION,
    TARGET_TYPES,
    infer_target_type,
)

#: a text column with at least this many distinct values ...
ID_MIN_DISTINCT = 50
#: ... that are at least this share of its known cells is an ID: set aside
ID_SHARE = 0.5
#: one-hot columns per categorical feature (the rarest levels share the last)
MAX_LEVELS = 32
#: a classification target with more classes than this is refused
MAX_CLASSES = 200
#: share of a text column's sampled values that must parse as dates
DATE_SHARE = 0.9
#: the date format of a column of times of day ("12:30", "07:05:30"): they
#: become minutes since midnight, never a date (pandas reads "12:30" as
#: today at 12:30, a different number every day)
TIME_OF_DAY = "time of day"
#: the formats a column spec may name (a saved plan is checked against them)
DATE_FORMATS = ("ISO8601", "infer", "datetime", TIME_OF_DAY)
#: a full date: three numbers (day, month, year in some order) or a month's name
FULL_DATE = (
    r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"
    r"|(?i:\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b.*\d{4})"
    r"|(?i:\d{4}.*\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b)"
)
#: a time of day: hours 0-23, two-digit minutes, optional seconds
CLOCK = r"^\s*(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?\s*$"
#: integer columns with these names (lowercased) and a distinct value per row
#: are row IDs, whatever their order
INDEX_NAMES = ("rownames", "index", "id", "row", "row_id", "rowid", "unnamed: 0")
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


class UsageError(Exception):
    """A mistake in the command line or the data: printed without a traceback."""


# -- reading ------------------------------------------------------------------------
def detect_separator(path, sample_bytes=65536):
    """The CSV field separator of ``path``: ``,``, ``;``, tab or ``|``, judged
    from its first lines (``,`` when they do not tell)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        sample = f.read(sample_bytes)
    lines = sample.splitlines()
    if len(lines) > 1 and len(sample) == sample_bytes:
        sample = "\n".join(lines[:-1])  # the last line may be cut
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_table(path, sep=None):
    """A CSV (any extension but .parquet / .pq) or Parquet file as a DataFrame.

    ``sep``: the CSV separator; None detects it from the first lines.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"No file at {str(path)!r}.")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, sep=sep or detect_separator(path))
    except ImportError as exc:
        raise UsageError(
            f"Reading {str(path)!r} needs a Parquet engine: pip install pyarrow "
            f"({exc})."
        ) from None
    except Exception as exc:  # pandas' parser errors vary by format
        raise UsageError(
            f"Could not read {str(path)!r} as a table ({type(exc).__name__}: "
            f"{str(exc).strip()}). Give a CSV file with a header row (--sep if its "
            "separator is unusual), or a Parquet file."
        ) from None
    if len(table) == 0:
        raise UsageError(
            f"{str(path)!r} has a header ({len(table.columns)} columns) but no data "
            "rows."
        )
    return table.set_axis([str(c) for c in table.columns], axis=1)


# -- targets ------------------------------------------------------------------------
def parse_targets(specs, columns):
    """``["rings:regression", "sex"]`` -> ``[("rings", "regression"),
    ("sex", None)]``; a column whose name holds ``:`` is taken whole."""
    out = []
    for spec in specs:
        name, sep, kind = spec.rpartition(":")
        if spec in columns or not sep:
            out.append((spec, None))
            continue
        if kind not in TARGET_TYPES:
            raise UsageError(
                f"Unknown target type {kind!r} in {spec!r}: write {name}:regression "
                f"or {name}:classification (or just {name} to infer it)."
            )
        out.append((name, kind))
    return out


def split_columns(table, targets, features=None):
    """Features X and targets Y of ``table``, with clear errors for bad names."""
    if not targets:
        raise UsageError(
            "Name at least one target: --target NAME[:regression|classification]."
        )
    columns = list(table.columns)
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


def check_targets(Y, types):
    """The type of every target column, or a ``UsageError`` for a target that
    no model can learn."""
    resolved = {}
    for name, col in Y.items():
        known = col.dropna()
        if len(known) == 0:
            raise UsageError(
                f"Target {name!r} has no value: all {len(col)} cells are empty. "
                "Drop it from --target."
            )
        kind = types.get(name)
        if kind is None:
            try:
                kind = infer_target_type(col, name)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        if kind == REGRESSION:
            numbers = pd.to_numeric(known, errors="coerce")
            text = known[numbers.isna()]
            if len(text):
                raise UsageError(
                    f"Target {name!r} is typed as regression but holds text "
                    f"({len(text)} cells, e.g. {text.iloc[0]!r} in row "
                    f"{_row(text.index[0])}). Type it as {name}:classification, or "
                    "fix those cells."
                )
            if not np.isfinite(numbers.to_numpy(dtype=float)).all():
                raise UsageError(
                    f"Target {name!r} holds an infinite value. Replace it with a "
                    "number, or leave the cell empty (missing)."
                )
        else:
            n_classes = known.nunique()
            if n_classes < 2:
                raise UsageError(
                    f"Target {name!r} has one class only ({known.iloc[0]!r}): there "
                    "is nothing to learn. Drop it from --target."
                )
            if n_classes > MAX_CLASSES:
                hint = (
                    f"type it as {name}:regression if it is a quantity"
                    if pd.api.types.is_numeric_dtype(col.dtype)
                    else "drop it from --target if it is an identifier"
                )
                raise UsageError(
                    f"Target {name!r} has {n_classes} classes (more than "
                    f"{MAX_CLASSES}): {hint}."
                )
        resolved[name] = kind
    return resolved


def _row(label):
    """A DataFrame row label as the data row number a user sees (1-based)."""
    return label + 1 if isinstance(label, (int, np.integer)) else label


# -- features -----------------------------------------------------------------------
def _date_format(col):
    """ "ISO8601" or "infer" when the text column ``col`` holds full dates,
    ``TIME_OF_DAY`` when it holds times of day, else None. A time of day, a
    ratio ("16:9") or a fraction ("3/4") is no date."""
    sample = col.dropna()
    sample = sample.iloc[: min(len(sample), 200)]
    if len(sample) == 0 or not all(isinstance(v, str) for v in sample):
        return None
    text = sample.astype(str)
    if text.str.match(CLOCK).mean() >= DATE_SHARE:
        return TIME_OF_DAY
    if text.str.contains(FULL_DATE, regex=True).mean() < DATE_SHARE:
        return None
    for fmt in ("ISO8601", "infer"):
        if _parse_dates(text, fmt).notna().mean() >= DATE_SHARE:
            return fmt
    return None


def _minutes_of_day(col):
    """Times of day ("12:30", "07:05:30") as minutes since midnight (NaN
    where a cell is no time of day)."""
    text = col.astype(object).where(col.notna(), "").astype(str)
    parts = text.str.extract(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*$")
    hours, minutes = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    seconds = pd.to_numeric(parts[2]).fillna(0.0)
    valid = text.str.match(CLOCK)
    return (hours * 60 + minutes + seconds / 60).where(valid).astype(float)


def _parse_dates(col, fmt):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format", per element
        try:
            return pd.to_datetime(
                col,
                errors="coerce",
                utc=True,
                format=None if fmt == "infer" else fmt,
            )
        except (TypeError, ValueError, OverflowError):
            return pd.Series(pd.NaT, index=col.index, dtype="datetime64[ns, UTC]")


def dates_as_days(col, fmt):
    """A date column as float days since 1970-01-01 (NaN where not a date);
    a column of times of day as minutes since midnight."""
    if fmt == TIME_OF_DAY:
        return _minutes_of_day(col)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        parsed = col.dt.tz_localize("UTC") if col.dt.tz is None else col
        parsed = parsed.dt.tz_convert("UTC")
    else:
        parsed = _parse_dates(col.astype(object), fmt)
    return (parsed - EPOCH) / pd.Timedelta(days=1)


def plan_features(X):
    """What to do with each feature column.

    Returns a dict: ``numeric`` and ``categorical`` (lists of names), ``dates``
    (name -> date format), ``dropped`` (name -> reason) and ``levels`` (name ->
    distinct values, for categorical columns).
    """
    plan = {"numeric": [], "categorical": [], "dates": {}, "dropped": {}, "levels": {}}
    for name, col in X.items():
        known = col.dropna()
        if len(known) == 0:
            plan["dropped"][name] = "all missing"
            continue
        try:
            distinct = col.nunique(dropna=False)
        except TypeError:  # lists or dicts in cells (Parquet nested columns)
            raise UsageError(
                f"Column {name!r} holds values that are neither numbers nor labels "
                "(lists or records). Drop it, or list the features with --features."
            ) from None
        if distinct <= 1:
            plan["dropped"][name] = "constant"
            continue
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            plan["dates"][name] = "datetime"
            continue
        if pd.api.types.is_numeric_dtype(col.dtype):
            why = _row_id(name, known)
            if why:
                plan["dropped"][name] = why
                continue
            plan["numeric"].append(name)
            continue
        fmt = _date_format(col)
        if fmt is not None:
            plan["dates"][name] = fmt
            continue
        n = known.nunique()
        if n >= ID_MIN_DISTINCT and n >= ID_SHARE * len(known):
            plan["dropped"][name] = (
                f"ID-like: {n:,} distinct values in {len(known):,} rows"
            )
            continue
        plan["categorical"].append(name)
        plan["levels"][name] = int(n)
    if not (plan["numeric"] or plan["categorical"] or plan["dates"]):
        raise UsageError(
            "No usable feature column: every one was set aside ("
            + "; ".join(f"{k}: {v}" for k, v in plan["dropped"].items())
            + ")."
        )
    return plan


def _row_id(name, known):
    """Why an integer column is a row ID (a distinct value on every row, in
    order, or named like an index), else None: it would leak how the table
    was sorted (e.g. R's ``rownames`` of a table sorted by a target)."""
    if not pd.api.types.is_integer_dtype(known.dtype) or len(known) < 3:
        return None
    if known.nunique() != len(known):
        return None
    if str(name).strip().lower() in INDEX_NAMES:
        return f"ID-like: an index name, a distinct value on all {len(known):,} rows"
    if known.is_monotonic_increasing or known.is_monotonic_decreasing:
        return f"ID-like: {len(known):,} distinct integers in order"
    return None


def prepare_features(X, plan):
    """X as the preprocessor takes it: the planned columns, dates as numbers."""
    X = X[plan["numeric"] + plan["categorical"] + list(plan["dates"])].copy()
    for name, fmt in plan["dates"].items():
        X[name] = dates_as_days(X[name], fmt)
    for name in plan["categorical"]:  # one label type per column: str
        missing = X[name].isna().to_numpy()
        X[name] = np.where(missing, np.nan, X[name].astype(str).to_numpy(dtype=object))
    return X


def check_numeric_cells(X, numeric):
    """Refuse text in a column that was numeric in fit (one clear line)."""
    for name in numeric:
        col = X[name]
        if pd.api.types.is_numeric_dtype(col.dtype):
            continue
        numbers = pd.to_numeric(col, errors="coerce")
        text = col[numbers.isna() & col.notna()]
        if len(text):
            raise UsageError(
                f"Column {name!r} held numbers when the model was fitted, but here "
                f"it holds text ({len(text)} cells, e.g. {text.iloc[0]!r} in row "
                f"{_row(text.index[0])}). Fix those cells, or leave them empty "
                "(missing)."
            )
        X = X.assign(**{name: numbers})
    return X


def audit_line(X, Y, plan, types):
    """One line: rows, features by kind, columns set aside and why, targets with
    their types and class counts, rows with a missing target cell."""

    def names(cols, limit=6):
        shown = ", ".join(cols[:limit])
        return shown + (f", +{len(cols) - limit} more" if len(cols) > limit else "")

    parts = [f"{len(X):,} rows"]
    kinds = [f"{len(plan['numeric'])} numeric"]
    if plan["numeric"]:
        kinds[0] += f" ({names(plan['numeric'])})"
    if plan["categorical"]:
        many = [c for c in plan["categorical"] if plan["levels"][c] > MAX_LEVELS]
        text = f"{len(plan['categorical'])} categorical ({names(plan['categorical'])}"
        for c in many[:3]:
            text += f"; {c}: {plan['levels'][c]:,} levels, the rare ones grouped"
        text += ")"
        kinds.append(text)
    dates = [c for c, fmt in plan["dates"].items() if fmt != TIME_OF_DAY]
    times = [c for c, fmt in plan["dates"].items() if fmt == TIME_OF_DAY]
    if dates:
        kinds.append(f"{len(dates)} dates as days ({names(dates)})")
    if times:
        kinds.append(f"{len(times)} times of day as minutes ({names(times)})")
    parts.append("features: " + ", ".join(kinds))
    if plan["dropped"]:
        parts.append(
            "set aside: "
            + ", ".join(f"{name} ({why})" for name, why in plan["dropped"].items())
        )
    targets = []
    for name, col in Y.items():
        if types[name] == CLASSIFICATION:
            targets.append(f"{name} classification ({col.nunique()} classes)")
        else:
            targets.append(f"{name} regression")
    parts.append("targets: " + ", ".join(targets))
    missing = int(Y.isna().any(axis=1).sum())
    if missing:
        parts.append(f"{missing:,} rows with a missing target cell (masked)")
    return "data: " + " | ".join(parts)


def make_preprocessor(plan):
    """Impute and scale the numeric (and date) columns; impute missing as its
    own level and one-hot encode the categorical ones, at most ``MAX_LEVELS``
    columns each. Columns are named explicitly, so the fitted object holds only
    scikit-learn types and plain data (what skops loads safely)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = plan["numeric"] + list(plan["dates"])
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
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=MAX_LEVELS,
                        sparse_output=False,
                    ),
                ),
                plan["categorical"],
            ),
        ],
        verbose_feature_names_out=False,
    )
