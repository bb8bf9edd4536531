"""Reading y (numpy, pandas): what the targets are before anything is fitted.

Inside:

- ``REGRESSION`` / ``CLASSIFICATION`` / ``TARGET_TYPES``: the two target types.
- ``as_target_columns``: y of any accepted form (array, list of lists, pandas
  or polars DataFrame / Series) as a list of named 1-D columns, and what y was
  (so that predictions are given back in the same form).
- ``infer_target_type`` / ``resolve_target_types``: each column's type, from
  "auto" (its dtype), a list or a dict by column name.
- ``column_values`` / ``missing_cells``: a column's cells as numpy, and which
  are missing.

polars is read without being imported (it is not a dependency).
"""

import numpy as np
import pandas as pd

REGRESSION = "regression"
CLASSIFICATION = "classification"
TARGET_TYPES = (REGRESSION, CLASSIFICATION)


def as_target_columns(y):
    """Split ``y`` into named 1-D columns.

    Returns
    -------
    columns : list of ndarray or pandas Series
    names : list of str or int
        Column names of a DataFrame, else the positions ``0 .. n_targets - 1``.
    kind : {"frame", "2d", "1d"}
        What ``y`` was, so predictions can be given back in the same form.
    """
    if y is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None."
        )
    if isinstance(y, pd.DataFrame):
        names = list(y.columns)
        if len(set(names)) != len(names):
            raise ValueError(
                f"Target column names must be unique. Got {names} instead."
            )
        return [col for _, col in y.items()], names, "frame"
    if isinstance(y, pd.Series):
        return [y], [0], "1d"
    if _is_polars(y, "DataFrame"):
        return as_target_columns(_polars_frame(y))
    if _is_polars(y, "Series"):
        return [_polars_frame(y.to_frame()).iloc[:, 0]], [0], "1d"
    if hasattr(y, "toarray") or hasattr(y, "tocsr"):
        raise TypeError(
            "A sparse y is not supported. Convert it with y.toarray() first."
        )
    arr = np.asarray(y)
    if isinstance(y, (list, tuple)) and arr.ndim == 2 and arr.dtype.kind == "U":
        cells = np.asarray(y, dtype=object)
        if any(not isinstance(v, str) for v in cells.ravel()):
            # numpy made every cell of a mixed list a string (1.5 -> "1.5"):
            # read each column on its own, as a DataFrame's would be
            return (
                [
                    pd.Series(cells[:, j], dtype=object).infer_objects().to_numpy()
                    for j in range(cells.shape[1])
                ],
                list(range(cells.shape[1])),
                "2d",
            )
    if arr.ndim == 1:
        return [arr], [0], "1d"
    if arr.ndim != 2:
        raise ValueError(
            "y must be 1-D (one target) or 2-D of shape (n_samples, n_targets). "
            f"Got an array with {arr.ndim} dimensions instead."
        )
    return [arr[:, j] for j in range(arr.shape[1])], list(range(arr.shape[1])), "2d"


def _is_polars(obj, kind):
    """Whether ``obj`` is a polars ``kind`` (polars itself is not imported:
    it is not a dependency)."""
    cls = type(obj)
    return cls.__module__.split(".")[0] == "polars" and cls.__name__ == kind


def _polars_frame(y):
    """A polars DataFrame as a pandas one with the same names, column by column
    through numpy (polars' own ``to_pandas`` needs pyarrow). Integer and
    boolean columns with missing cells become pandas' nullable types, not
    floats or objects, so that they are typed as they would be in pandas."""
    cols = {}
    for name in y.columns:
        s = y[name]
        dtype, values = s.dtype, s.to_numpy()
        if s.null_count() and dtype.is_integer():
            values = pd.array(s.to_list(), dtype="Int64")
        elif s.null_count() and str(dtype) == "Boolean":
            values = pd.array(s.to_list(), dtype="boolean")
        elif str(dtype).startswith(("Categorical", "Enum")):
            values = pd.Categorical(values)
        cols[name] = values
    if len(cols) != len(y.columns):  # polars refuses duplicate names itself
        raise ValueError(f"Target column names must be unique. Got {y.columns}.")
    return pd.DataFrame(cols)


def column_values(col):
    """The cells of a column as a numpy array (object for pandas extension types)."""
    if isinstance(col, pd.Series):
        dtype = col.dtype
        if isinstance(
            dtype, pd.CategoricalDtype
        ) or pd.api.types.is_extension_array_dtype(dtype):
            return col.to_numpy(dtype=object, na_value=np.nan)
        return col.to_numpy()
    return np.asarray(col)


def missing_cells(values, col=None):
    """Which cells are missing (NaN, None, pd.NA); ``col`` (the Series the
    values came from, if any) answers faster for pandas extension types."""
    if isinstance(col, pd.Series) and pd.api.types.is_extension_array_dtype(col.dtype):
        return col.isna().to_numpy(dtype=bool)
    return np.asarray(pd.isna(values), dtype=bool)


def infer_target_type(col, name):
    """The "auto" rule: floating -> regression; int, bool, str, category -> classes."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return CLASSIFICATION
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return CLASSIFICATION
    if pd.api.types.is_float_dtype(dtype):
        return REGRESSION
    if isinstance(dtype, pd.StringDtype):  # strings or missing, by construction
        return CLASSIFICATION
    if pd.api.types.is_string_dtype(dtype) or dtype is np.dtype(object):
        kind = pd.api.types.infer_dtype(column_values(col), skipna=True)
        if kind in ("floating", "mixed-integer-float", "decimal"):
            return REGRESSION
        if kind in ("integer", "string", "boolean", "empty", "categorical", "bytes"):
            return CLASSIFICATION
        raise ValueError(
            f"Target column {name!r} mixes value types ({kind}): labels must all be "
            "of one type (all strings, all integers, ...). Convert the column, e.g. "
            "with .astype(str)."
        )
    raise ValueError(
        f"Target column {name!r} has dtype {dtype}, which is neither a number nor "
        "a label. Convert it to float (regression) or to str / int / category "
        "(classification)."
    )


def resolve_target_types(columns, names, target_types):
    """The type of every target column, from "auto", a list or a dict by name."""
    n = len(columns)
    if isinstance(target_types, str):
        if target_types != "auto":
            raise ValueError(
                "target_types must be 'auto', a list or a dict of "
                f"{list(TARGET_TYPES)}. Got {target_types!r} instead."
            )
        given = {}
    elif isinstance(target_types, dict):
        unknown = [k for k in target_types if k not in names]
        if unknown:
            raise ValueError(
                f"target_types names unknown target columns {unknown}; the targets "
                f"are {names}."
            )
        given = dict(target_types)
    else:
        target_types = list(target_types)
        if len(target_types) != n:
            raise ValueError(
                f"target_types has {len(target_types)} entries but y has {n} target "
                "columns. Give one type per column, or a dict by column name."
            )
        given = dict(zip(names, target_types))
    types, inferred = [], []
    for col, name in zip(columns, names):
        t = given.get(name, "auto")
        inferred.append(t == "auto")
        if t == "auto":
            t = infer_target_type(col, name)
        elif t not in TARGET_TYPES:
            raise ValueError(
                f"The type of target {name!r} must be one of {list(TARGET_TYPES)} or "
                f"'auto'. Got {t!r} instead."
            )
        types.append(t)
    return types, inferred
