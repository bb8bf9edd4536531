"""Target handling shared by every estimator of the package.

Inside:

- ``REGRESSION`` / ``CLASSIFICATION``: the two target types.
- ``TargetEncoder``: learns, from a 2-D (or 1-D) y, what each target column is
  (``resolve_target_types``), its classes with their original type, or its mean
  and scale; turns y into one float32 matrix (regression cells standardised,
  classification cells as class codes, missing cells as NaN; ``fit_transform``
  reads each column once and hashes class labels once, ``pd.factorize``) and
  turns predictions back into original labels, units and dtypes (``decode``:
  per-target codes, taken from class arrays already in the target's dtype).
- ``as_target_columns``: y of any accepted form (array, list of lists, pandas
  or polars DataFrame / Series) as a list of named 1-D columns, and what y was
  (so that predictions are given back in the same form); polars is read
  without being imported (it is not a dependency).
- ``infer_target_type`` / ``resolve_target_types``: each column's type, from
  "auto" (its dtype), a list or a dict by column name.
- ``column_values`` / ``missing_cells``: a column's cells as numpy, and which
  are missing.

numpy, pandas and scikit-learn only: no torch in this layer.
"""

import numbers
import warnings

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


#: "auto" warns when an integer column typed as classification has more classes.
MANY_CLASSES = 20


class TargetEncoder:
    """Encode mixed targets as one float32 matrix and decode predictions back.

    Parameters
    ----------
    target_types : "auto", list or dict, default="auto"
        See ``JointRegressorClassifier``.
    scale_regression : bool, default=True
        Standardise regression columns (networks want this; forests do not).

    Attributes (after ``fit``)
    --------------------------
    names_, types_, classes_, kind_, dtypes_, means_, scales_
    """

    def __init__(self, target_types="auto", scale_regression=True):
        self.target_types = target_types
        self.scale_regression = scale_regression

    def fit(self, y, sample_weight=None):
        """Learn target types, classes and scales (weighted by sample_weight)."""
        self._fit(y, sample_weight, encode=False)
        return self

    def fit_transform(self, y, sample_weight=None):
        """``fit`` then ``transform``, reading and checking each column once."""
        return self._fit(y, sample_weight, encode=True)

    def _fit(self, y, sample_weight, encode):
        columns, names, kind = as_target_columns(y)
        if len(columns) == 0:
            raise ValueError("y has no target column: it needs at least one.")
        self.names_, self.kind_ = names, kind
        self.__dict__.pop("_decode_cache", None)
        self.types_, inferred = resolve_target_types(columns, names, self.target_types)
        self.dtypes_ = [getattr(c, "dtype", None) for c in columns]
        self.classes_, self.means_, self.scales_ = [], [], []
        out = np.empty((len(columns[0]), len(columns)), self._dtype) if encode else None
        for j, (col, name, t, auto) in enumerate(
            zip(columns, names, self.types_, inferred)
        ):
            values = column_values(col)
            missing = missing_cells(values, col)
            known = ~missing
            if not known.any():
                raise ValueError(
                    f"Target column {name!r} has no known value: every cell is "
                    "missing. Drop the column or give it at least one value."
                )
            if t == REGRESSION:
                floats = self._as_float(np.where(missing, np.nan, values), name)
                v = floats[known]
                w = None if sample_weight is None else sample_weight[known]
                if w is not None and not w.sum() > 0:
                    w = None
                # in units of the largest magnitude: 1e300 has a finite spread
                unit = float(np.max(np.abs(v))) or 1.0
                mean = np.average(v / unit, weights=w)
                scale = np.sqrt(np.average((v / unit - mean) ** 2, weights=w)) * unit
                mean *= unit
                if not self.scale_regression:
                    mean, scale = 0.0, 1.0
                self.means_.append(float(mean))
                self.scales_.append(float(scale) if scale > 0 else 1.0)
                self.classes_.append(None)
                if encode:
                    out[:, j] = self._encode(j, values, missing, floats)
            else:
                classes, codes = self._classes_and_codes(col, values, missing, name)
                if auto:
                    _warn_many_integer_classes(col, classes, name)
                self.classes_.append(classes)
                self.means_.append(None)
                self.scales_.append(None)
                if encode:
                    out[:, j] = codes
        self.n_classes_ = [None if c is None else len(c) for c in self.classes_]
        return out

    @staticmethod
    def _as_float(values, name):
        try:
            v = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Target column {name!r} is typed as regression but holds values that "
                f"are not numbers ({exc}). Type it as 'classification' or convert it."
            ) from None
        if np.isinf(v).any():
            raise ValueError(
                f"Regression target {name!r} contains infinity. Replace it with a "
                "finite value, or with NaN to mark the cell as missing."
            )
        return v

    @staticmethod
    def _classes_and_codes(col, values, missing, name):
        """The sorted classes of a column (categories in their order for a
        categorical) and its cells as class codes, NaN where missing.

        The cells are hashed once (``pd.factorize``, linear time); only the few
        distinct labels are then checked and sorted.
        """
        dtype = getattr(col, "dtype", None)
        if isinstance(dtype, pd.CategoricalDtype):
            cats = dtype.categories
            classes = cats[cats.isin(values[~missing])].to_numpy(dtype=object)
            codes = pd.Index(classes).get_indexer(values)
            return classes, np.where(missing, np.nan, codes).astype(np.float32)
        if values.dtype == np.bool_:  # no missing cells, at most two labels
            present = [not values.all(), values.any()]  # is False / True there
            classes = np.array([False, True])[present]
            codes = values if len(classes) == 2 else np.zeros(len(values))
            return classes, codes.astype(np.float32)
        seen, labels = pd.factorize(col if isinstance(col, pd.Series) else values)
        labels = np.asarray(labels)
        _check_one_label_type(labels, name)
        classes, rank = np.unique(labels, return_inverse=True)
        codes = np.where(seen < 0, np.nan, rank.reshape(-1)[seen])
        return classes, codes.astype(np.float32)

    def transform(self, y):
        """y as float32 (n_samples, n_targets): standardised numbers, class codes,
        NaN for missing cells."""
        columns, _, _ = as_target_columns(y)
        if len(columns) != len(self.names_):
            raise ValueError(
                f"y has {len(columns)} target columns, but the encoder was fitted "
                f"with {len(self.names_)}."
            )
        out = np.empty((len(columns[0]), len(columns)), dtype=self._dtype)
        for j, col in enumerate(columns):
            values = column_values(col)
            out[:, j] = self._encode(j, values, missing_cells(values, col))
        return out

    @property
    def _dtype(self):
        """float32 for standardised targets (the network's); float64 for raw
        ones (the forest's: 1e300 has no float32)."""
        return np.float32 if self.scale_regression else np.float64

    def _encode(self, j, values, missing, floats=None):
        """Column j encoded: a standardised number or a class code per cell, NaN
        where missing (``floats``: the cells as floats, if already made)."""
        name = self.names_[j]
        if self.types_[j] == REGRESSION:
            if floats is None:
                floats = self._as_float(np.where(missing, np.nan, values), name)
            return (floats - self.means_[j]) / self.scales_[j]
        codes = pd.Index(self.classes_[j]).get_indexer(values)
        unseen = (codes < 0) & ~missing
        if unseen.any():
            bad = pd.unique(values[unseen])[:5].tolist()
            raise ValueError(
                f"Target column {name!r} has labels not seen in fit: {bad}."
            )
        return np.where(missing, np.nan, codes)

    def inverse_transform(self, Z, index=None):
        """Encoded predictions (n_samples, n_targets) -> original labels and units.

        Returns a DataFrame with the fitted columns when y was one, a 1-D array
        when y was 1-D, else a 2-D array (object dtype when types differ).
        """
        return self.decode(
            [
                Z[:, j] if t == REGRESSION else Z[:, j].astype(np.intp)
                for j, t in enumerate(self.types_)
            ],
            index=index,
        )

    def decode(self, columns, index=None):
        """``inverse_transform`` of one 1-D array per target: standardised
        numbers for regression targets, class codes (of any integer dtype) for the
        others."""
        frame = self.kind_ == "frame"
        cols = []
        for j, (t, col) in enumerate(zip(self.types_, columns)):
            if t == REGRESSION:
                col = np.multiply(col, self.scales_[j], dtype=np.float64)
                col += self.means_[j]
                dtype = _regression_dtype(self.dtypes_[j])
                cols.append(_restore_dtype(col, dtype) if frame else col)
            else:
                labels = self._labels(j) if frame else self.classes_[j]
                if col.dtype == np.uint8 and _is_false_true(labels):
                    cols.append(col.view(np.bool_))  # codes 0 / 1 are the labels
                else:
                    cols.append(labels.take(col))
        if frame:
            return self._frame(cols, index)
        if self.kind_ == "1d":
            return cols[0]
        dtypes = {c.dtype for c in cols}
        dtype = dtypes.pop() if len(dtypes) == 1 else object
        out = np.empty((len(cols[0]), len(cols)), dtype=dtype)
        for j, col in enumerate(cols):
            out[:, j] = col
        return out

    def _frame(self, cols, index):
        """The predicted columns (new arrays, one per target) as a DataFrame,
        through pandas' public constructor (names are unique, checked in fit,
        so the dict keeps every column; ``copy=False`` keeps the arrays)."""
        if index is None:
            index = pd.RangeIndex(len(cols[0]))
        return pd.DataFrame(dict(zip(self.names_, cols)), index=index, copy=False)

    def _labels(self, j):
        """The classes of target j in the dtype of its fitted column (kept):
        predictions are ``take``s from it, with no per-cell conversion."""
        cache = self.__dict__.setdefault("_decode_cache", {})
        if j not in cache:
            cache[j] = _restore_dtype(self.classes_[j], self.dtypes_[j])
        return cache[j]

    def __getstate__(self):
        # the decode cache holds pandas objects (an Index, extension arrays)
        # that serialisers such as skops cannot rebuild; it is remade on use
        state = dict(self.__dict__)
        state.pop("_decode_cache", None)
        return state

    #: fitted attributes that describe the encoder completely (for safe files)
    _STATE = ("names_", "kind_", "types_", "dtypes_", "classes_", "means_", "scales_")

    def get_state(self):
        """The fitted encoder as plain values (see ``_persist.encode``)."""
        state = {k: getattr(self, k) for k in self._STATE}
        state["scale_regression"] = bool(self.scale_regression)
        return state

    @classmethod
    def from_state(cls, state, target_types="auto"):
        """An encoder fitted as described by ``get_state``; ValueError if the
        description does not hold together."""
        enc = cls(target_types, scale_regression=bool(state["scale_regression"]))
        for key in cls._STATE:
            value = state[key]
            setattr(enc, key, value if key == "kind_" else list(value))
        n = len(enc.names_)
        if enc.kind_ not in ("frame", "2d", "1d") or any(
            len(getattr(enc, k)) != n for k in cls._STATE if k != "kind_"
        ):
            raise ValueError("the description of the targets does not hold together")
        for t, classes, mean, scale in zip(
            enc.types_, enc.classes_, enc.means_, enc.scales_
        ):
            if t == REGRESSION:
                ok = classes is None and np.isfinite([mean, scale]).all() and scale > 0
            else:
                ok = t == CLASSIFICATION and isinstance(classes, np.ndarray)
                ok = ok and classes.ndim == 1 and len(classes) > 0
            if not ok:
                raise ValueError(
                    "the description of the targets does not hold together"
                )
        enc.n_classes_ = [None if c is None else len(c) for c in enc.classes_]
        return enc


def _check_one_label_type(labels, name):
    """Refuse a column whose distinct labels mix types (numbers may mix)."""
    kinds = {type(v) for v in labels.tolist()}
    if len(kinds) > 1 and not all(issubclass(k, numbers.Number) for k in kinds):
        raise ValueError(
            f"Target column {name!r} mixes label types "
            f"({sorted(k.__name__ for k in kinds)}). Labels of one target must "
            "all be of one type; convert the column, e.g. with .astype(str)."
        )


def _warn_many_integer_classes(col, classes, name):
    """Warn when "auto" made an integer column with many values a class target."""
    dtype = getattr(col, "dtype", None)
    if len(classes) > MANY_CLASSES and pd.api.types.is_integer_dtype(dtype):
        warnings.warn(
            f"Target column {name!r} has an integer dtype and {len(classes)} "
            "distinct values, so target_types='auto' made it a classification "
            "target. If it is a quantity, pass target_types={"
            f"{name!r}: 'regression'}} or cast the column to float.",
            UserWarning,
            stacklevel=5,  # the user's call of fit
        )


def _is_false_true(labels):
    """Whether the labels are the numpy bools [False, True]."""
    return (
        isinstance(labels, np.ndarray)
        and labels.dtype == np.bool_
        and labels.shape == (2,)
        and not labels[0]
        and bool(labels[1])
    )


def _regression_dtype(dtype):
    """The dtype of a regression target's predictions: the fitted column's own
    float dtype (float32, nullable Float64, ...), else None (float64).

    A number predicted in a column's units is a float even when every training
    value was whole: predicting an integer, nullable-integer or bool column in
    its own dtype would cut every prediction to a whole number.
    """
    if dtype is None:
        return None
    try:
        return dtype if pd.api.types.is_float_dtype(dtype) else None
    except TypeError:
        return None


def _restore_dtype(values, dtype):
    """Give a predicted column the dtype of the fitted target column."""
    if dtype is None:
        return values
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(
            values, categories=dtype.categories, ordered=dtype.ordered
        )
    try:
        return (
            pd.array(values, dtype=dtype)
            if pd.api.types.is_extension_array_dtype(dtype)
            else values.astype(dtype, copy=False)
        )
    except (TypeError, ValueError):
        return values
