"""The fitted feature plan: which columns are numbers and which are categories,
and how a raw X becomes the one float32 matrix the network takes (numpy,
pandas and scikit-learn only; no torch).

Inside:

- ``FeaturePlan``: learned from the training X. Numeric columns come first in
  the matrix, as float32 with missing cells kept as NaN (the network's input
  layer, ``_inputs.FeatureInput``, scales them robustly, fills them and adds
  missing indicators). Target-encoded values follow (below), then the
  categorical columns, as integer codes stored in float32 (exact below
  2**24): ``0`` for a category unseen in fit or rarer than ``MIN_FREQUENCY``,
  ``1`` for a missing cell, ``2 + i`` for the ``i``-th category of the
  column's vocabulary (most frequent first, at most ``MAX_CATEGORIES``). So
  a column with a distinct value on every row (an ID) costs one code, never
  one embedding row per value.
- Target encoding (``target_encoding="auto"``): a categorical column whose
  levels are mostly too rare for an embedding to learn (levels seen 2 to 9
  times in fit hold at least a tenth of its known cells: names, models, tail
  numbers) also gets, per classification target, each class's share among
  the fit rows of its level, shrunk towards the overall share by
  scikit-learn's ``TargetEncoder`` (empirical Bayes). These values join the
  numeric block. In fit each row's value comes from the other four of five
  folds (its own label never feeds its value); a level seen once in fit
  still informs predict.
- Discrete numeric columns (``discrete_numeric="auto"``): a numeric column
  of more distinct values than the default's quantile bins can keep apart
  (49 to 256) and at least 64 known cells per value (disk sizes, school
  numbers, years of experience) stays in the numeric block and also gets a
  code per value, after the categorical codes, so that each exact value has
  an embedding of its own.
- ``numeric_statistics``: the medians and robust spreads of the numeric
  block (from at most ``STATISTICS_ROWS`` rows, ``statistics_rows``), and
  which numeric columns had a missing cell (for the input layer).
- ``robust_scaling``: per numeric column, the median and a robust spread
  (what the input layer centres and divides by).
- ``resolve_categorical``: the ``categorical_features`` parameter (HistGradient
  Boosting's vocabulary: ``"from_dtype"``, names, indices or a boolean mask)
  as a boolean mask over the columns, with errors that name the column.

The plan's state is plain data (``get_state`` / ``from_state``): positions and
vocabularies, saved in the model file's JSON document and checked on load.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold
from sklearn.preprocessing import TargetEncoder

#: categories seen fewer times than this in fit share the "unknown" code
MIN_FREQUENCY = 2
#: at most this many categories per column get a code of their own
MAX_CATEGORIES = 1000
#: ``unseen_warnings``: the fewest known cells of a column it judges, and how
#: far above fit's share of unknown categories a predict's share must be
UNSEEN_MIN_CELLS = 20
UNSEEN_EXCESS = 0.3
#: the codes before the vocabulary: unknown / rare, then missing
UNKNOWN, MISSING, FIRST = 0, 1, 2
#: ``target_encoding="auto"`` encodes a categorical column when its levels
#: seen from 2 to ``ENCODE_RARE_COUNT - 1`` times in fit hold at least
#: ``ENCODE_MIN_SHARE`` of its known cells (levels seen once count for
#: nothing here: an ID column, all of them, is not encoded)
ENCODE_RARE_COUNT = 10
ENCODE_MIN_SHARE = 0.1
#: an encoded column's levels (the most frequent first; others: unknown):
#: the model file's document holds them (at most 64 MiB, ``_persist``)
ENCODE_MAX_LEVELS = 10_000
#: classification targets with more classes are not encoded (one value each)
ENCODE_MAX_CLASSES = 32
#: the folds of fit's out-of-fold values
ENCODE_FOLDS = 5
#: the model file's tensors holding the encodings' tables
ENCODING_PREFIX = "plan.encoding."
#: ``discrete_numeric="auto"``: a numeric column with from
#: ``LEVELS_MIN_VALUES`` to ``LEVELS_MAX_VALUES`` distinct values in fit, and
#: at least ``LEVELS_ROWS_PER_VALUE`` known cells per value, also enters as a
#: categorical column (each value its own embedding). The fewest: more values
#: than the default's 48 quantile bins, which then merge neighbours
LEVELS_MIN_VALUES = 49
LEVELS_MAX_VALUES = 256
LEVELS_ROWS_PER_VALUE = 64


def _is_categorical_dtype(dtype):
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def needs_plan(X, categorical_features):
    """Whether X must go through the plan (strings, categories, or columns
    named categorical); else scikit-learn's float conversion does it all."""
    if isinstance(X, pd.DataFrame):
        if any(not pd.api.types.is_numeric_dtype(dt) for dt in X.dtypes):
            return True
        if any(pd.api.types.is_bool_dtype(dt) for dt in X.dtypes):
            return categorical_features is not None
    return categorical_features not in (None, "from_dtype")


def has_discrete_columns(X, rows=50_000):
    """Whether a dense float array X may hold a column for
    ``discrete_numeric="auto"``, judged on its first ``rows`` rows (a column
    of few values there may have more in all: the plan's fit decides)."""
    head = np.asarray(X[:rows], dtype=np.float64)
    for j in range(head.shape[1]):
        known = head[:, j][~np.isnan(head[:, j])]
        if _discrete(len(np.unique(known)), len(known)):
            return True
    return False


def _discrete(n_values, n_known):
    """Whether a numeric column of ``n_values`` distinct values in
    ``n_known`` known cells gets codes (``discrete_numeric="auto"``)."""
    return (
        LEVELS_MIN_VALUES <= n_values <= LEVELS_MAX_VALUES
        and n_known >= LEVELS_ROWS_PER_VALUE * n_values
    )


def resolve_categorical(X, categorical_features):
    """A boolean mask: which of X's columns are categorical."""
    n = X.shape[1]
    names = list(X.columns) if isinstance(X, pd.DataFrame) else None
    spec = categorical_features
    if spec is None:
        return np.zeros(n, dtype=bool)
    if isinstance(spec, str):
        if spec != "from_dtype":
            raise ValueError(
                "categorical_features must be 'from_dtype', None, or a list of "
                f"column names, indices or a boolean mask. Got {spec!r} instead."
            )
        if names is None:
            return np.zeros(n, dtype=bool)
        return np.array([_is_categorical_dtype(dt) for dt in X.dtypes], dtype=bool)
    spec = list(spec)
    if spec and all(isinstance(s, (bool, np.bool_)) for s in spec):
        if len(spec) != n:
            raise ValueError(
                f"categorical_features is a boolean mask of {len(spec)} entries, "
                f"but X has {n} columns. Give one entry per column."
            )
        return np.asarray(spec, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    for s in spec:
        if isinstance(s, str):
            if names is None or s not in names:
                where = "X has no column names" if names is None else "X has no such"
                raise ValueError(
                    f"categorical_features names the column {s!r}, but {where} "
                    "column. Name columns of a DataFrame X, or give indices."
                )
            mask[names.index(s)] = True
        elif isinstance(s, Integral) and not isinstance(s, (bool, np.bool_)):
            if not -n <= s < n:
                raise ValueError(
                    f"categorical_features holds the index {s}, but X has {n} columns."
                )
            mask[s] = True
        else:
            raise ValueError(
                "categorical_features must hold column names, integer indices or "
                f"booleans. Got {s!r} instead."
            )
    return mask


def _numeric_values(column, name):
    """A column as float64 with NaN for missing cells; ValueError naming the
    column when it holds text or infinities."""
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
        dtype
    ):
        raise ValueError(
            f"X's column {name!r} holds dates ({dtype}). Turn them into numbers "
            "(e.g. days since a start date) or into categories (strings) first."
        )
    try:
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(
            f"X's column {name!r} is treated as numeric but holds values that "
            "are not numbers. Name it in categorical_features (or give it a "
            "category / string dtype with categorical_features='from_dtype')."
        ) from None
    with np.errstate(invalid="ignore"):
        too_large = np.abs(values) > np.finfo(np.float32).max
    if too_large.any():
        raise ValueError(
            f"Input X contains infinity or a value too large for float32 in column "
            f"{name!r}. Replace it with a finite value or a missing value (NaN), "
            "which the model handles."
        )
    return values


class FeaturePlan:
    """Which columns are numeric or categorical, and the categories' codes.

    Parameters
    ----------
    categorical_features : "from_dtype", None, or list, default="from_dtype"
        See ``JointRegressorClassifier``.
    target_encoding : "auto" or None, default=None
        See ``JointRegressorClassifier``; used by ``fit_transform``.
    discrete_numeric : "auto" or None, default=None
        See ``JointRegressorClassifier``.
    """

    #: a plan pickled before discrete numeric columns has none
    levels_ = level_vocabularies_ = ()

    def __init__(
        self,
        categorical_features="from_dtype",
        target_encoding=None,
        discrete_numeric=None,
    ):
        self.categorical_features = categorical_features
        self.target_encoding = target_encoding
        self.discrete_numeric = discrete_numeric

    # -- fit ------------------------------------------------------------------
    def fit(self, X, sample_weight=None):
        """Learn the plan from the training X (DataFrame or 2-D array); a
        category's frequency is its rows' total weight."""
        mask = resolve_categorical(X, self.categorical_features)
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        self.numeric_ = np.flatnonzero(~mask)
        self.categorical_ = np.flatnonzero(mask)
        self.vocabularies_ = [
            self._vocabulary(X.iloc[:, j], sample_weight) for j in self.categorical_
        ]
        # the share of each column's known cells that get the "unknown" code
        # in fit (categories seen once): what rows held out of fit would see
        self.unknown_shares_ = [
            _unknown_share(self._codes(X.iloc[:, j], vocab))
            for j, vocab in zip(self.categorical_, self.vocabularies_)
        ]
        self.encodings_ = []
        self.levels_, self.level_vocabularies_ = [], []
        if self.discrete_numeric == "auto":
            use = None if sample_weight is None else np.asarray(sample_weight) > 0
            for j in self.numeric_:
                # as the matrix holds them
                values = _numeric_values(X.iloc[:, j], X.columns[j]).astype(np.float32)
                vocab = _level_vocabulary(values if use is None else values[use])
                if vocab is not None:
                    self.levels_.append(int(j))
                    self.level_vocabularies_.append(vocab)
        return self

    def fit_transform(self, X, sample_weight=None, Y=None, n_classes=(), seed=0):
        """Fit the plan to the DataFrame X and return its matrix. With
        ``target_encoding="auto"`` and the encoded targets ``Y`` (class codes,
        NaN where missing; ``n_classes`` per target, 0 for regression), the
        encoded values of X's rows are out-of-fold (folds shuffled by
        ``seed``)."""
        self.fit(X, sample_weight)
        if self.target_encoding != "auto" or Y is None:
            return self.transform(X)
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        use = None if sample_weight is None else np.asarray(sample_weight) > 0
        blocks = []
        for j in self.categorical_:
            column = X.iloc[:, j]
            vocab = _encoding_vocabulary(column if use is None else column[use])
            if vocab is None:
                continue
            codes = self._codes(column, vocab)
            for t, k in enumerate(n_classes):
                shares = _encoded_outputs(Y[:, t], k)
                if shares is None:
                    continue
                known = ~np.isnan(Y[:, t]) if use is None else ~np.isnan(Y[:, t]) & use
                table, values = _fit_encoding(
                    codes, FIRST + len(vocab), shares, known, seed
                )
                self.encodings_.append(
                    {"column": int(j), "target": t, "vocabulary": vocab, "table": table}
                )
                blocks.append(values)
        return self._matrix(X, blocks)

    @classmethod
    def numeric_only(cls, n_features):
        """The plan of ``n_features`` numeric columns."""
        plan = cls(None)
        plan.numeric_ = np.arange(n_features)
        plan.categorical_ = np.arange(0)
        plan.vocabularies_ = []
        plan.unknown_shares_ = []
        plan.encodings_ = []
        plan.levels_, plan.level_vocabularies_ = [], []
        return plan

    @staticmethod
    def _vocabulary(column, sample_weight=None):
        if sample_weight is None:
            counts = column.value_counts(dropna=True, sort=True)
        else:  # in rows of the mean positive weight: weights of 0.1 each are
            # as many rows as weights of 1, not a tenth of them
            w = np.asarray(sample_weight, dtype=float)
            w = w / w[w > 0].mean() if (w > 0).any() else w
            weights = pd.Series(w, column.index)
            counts = weights.groupby(column, observed=True, dropna=True).sum()
            counts = counts.sort_values(ascending=False, kind="stable")
        counts = counts[counts >= MIN_FREQUENCY - 1e-9].iloc[:MAX_CATEGORIES]
        vocab = np.empty(len(counts), dtype=object)
        vocab[:] = _python_values(counts.index)
        return vocab

    @property
    def cardinalities_(self):
        """Codes per categorical column of the matrix (unknown and missing
        included): X's categorical columns, then the discrete numeric ones."""
        vocabularies = [*self.vocabularies_, *self.level_vocabularies_]
        return [FIRST + len(v) for v in vocabularies]

    @property
    def is_identity(self):
        """No categorical column: the matrix is X as floats, column for column."""
        return len(self.categorical_) == 0 and not self.levels_

    @property
    def n_numeric_columns(self):
        """The matrix's numeric block: X's numeric columns, then the
        target-encoded values."""
        return len(self.numeric_) + sum(len(e["table"]) for e in self.encodings_)

    @property
    def width(self):
        """The matrix's number of columns."""
        return self.n_numeric_columns + len(self.categorical_) + len(self.levels_)

    # -- transform ------------------------------------------------------------
    def transform(self, X):
        """The float32 matrix ``[numeric columns | target-encoded values |
        categorical codes | discrete numeric columns' codes]``."""
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        codes = {}  # a column encoded for several targets is looked up once
        for e in self.encodings_:
            if e["column"] not in codes:
                column = X.iloc[:, e["column"]]
                codes[e["column"]] = self._codes(column, e["vocabulary"])
        blocks = [e["table"][:, codes[e["column"]]].T for e in self.encodings_]
        return self._matrix(X, blocks)

    def _matrix(self, X, blocks):
        n = X.shape[0]
        out = np.empty((n, self.width), np.float32)
        for i, j in enumerate(self.numeric_):
            out[:, i] = _numeric_values(X.iloc[:, j], X.columns[j])
        base = len(self.numeric_)
        for values in blocks:
            out[:, base : base + values.shape[1]] = values
            base += values.shape[1]
        for i, (j, vocab) in enumerate(zip(self.categorical_, self.vocabularies_)):
            out[:, base + i] = self._codes(X.iloc[:, j], vocab)
        base += len(self.categorical_)
        numeric = list(self.numeric_)
        for i, (j, vocab) in enumerate(zip(self.levels_, self.level_vocabularies_)):
            out[:, base + i] = _level_codes(out[:, numeric.index(j)], vocab)
        return out

    def unseen_warnings(self, matrix, names=None):
        """Messages for the categorical columns of a transformed ``matrix`` (at
        predict) whose share of categories unseen in fit is far above fit's
        own (at least 20 known cells; at least 30 points above and twice the
        share of fit): labels that changed type (1 and "1"), case or spacing
        all become "unknown", and the model predicts without the column."""
        messages = []
        base = self.n_numeric_columns
        for i, (j, fitted) in enumerate(
            zip(self.categorical_, getattr(self, "unknown_shares_", []))
        ):
            codes = matrix[:, base + i]
            known = int((codes != MISSING).sum())
            if known < UNSEEN_MIN_CELLS:
                continue
            share = float((codes == UNKNOWN).sum()) / known
            if share >= fitted + UNSEEN_EXCESS and share >= 2 * fitted:
                name = repr(names[j]) if names is not None else f"at position {j}"
                messages.append(
                    f"{share:.0%} of the categories in column {name} were not seen "
                    f"in fit (fit's own share of rare ones: {fitted:.0%}); the model "
                    "predicts as if the column were missing for them. Check the "
                    "column's labels: a change of type (1 and '1'), case or spacing "
                    "makes every label unknown."
                )
        return messages

    @staticmethod
    def _codes(column, vocab):
        missing = column.isna().to_numpy()
        values = column.to_numpy(dtype=object)
        codes = pd.Index(vocab, dtype=object).get_indexer(values).astype(np.int64)
        codes += FIRST
        codes[codes == FIRST - 1] = UNKNOWN
        codes[missing] = MISSING
        return codes

    # -- state ----------------------------------------------------------------
    def get_state(self):
        return {
            "categorical_features": _plain(self.categorical_features),
            "numeric": self.numeric_.tolist(),
            "categorical": self.categorical_.tolist(),
            "vocabularies": [v.tolist() for v in self.vocabularies_],
            "unknown_shares": [float(x) for x in self.unknown_shares_],
            "target_encoding": self.target_encoding,
            "discrete_numeric": self.discrete_numeric,
            "levels": list(self.levels_),
            "level_vocabularies": [v.tolist() for v in self.level_vocabularies_],
            "encodings": [
                {
                    "column": e["column"],
                    "target": e["target"],
                    "vocabulary": e["vocabulary"].tolist(),
                }
                for e in self.encodings_
            ],
        }

    def get_arrays(self):
        """The target encodings' tables, for the model file's tensors (the
        document holds the rest of the state)."""
        return {
            f"{ENCODING_PREFIX}{i}": e["table"] for i, e in enumerate(self.encodings_)
        }

    @classmethod
    def from_state(cls, state, n_features, arrays=None):
        """The plan a model file describes (``arrays``: the file's tensors
        named ``ENCODING_PREFIX`` + index), checked against the model's
        width."""
        plan = cls(state["categorical_features"])
        numeric = [int(i) for i in state["numeric"]]
        categorical = [int(i) for i in state["categorical"]]
        if sorted(numeric + categorical) != list(range(n_features)):
            raise ValueError("the feature plan does not cover the features")
        vocabularies = state["vocabularies"]
        if len(vocabularies) != len(categorical) or any(
            not isinstance(v, list) or len(v) > MAX_CATEGORIES for v in vocabularies
        ):
            raise ValueError("the feature plan's vocabularies are malformed")
        # files saved before the shares were recorded: no unseen warnings
        shares = state.get("unknown_shares", [0.0] * len(categorical))
        if (
            not isinstance(shares, list)
            or len(shares) != len(categorical)
            or not all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in shares)
        ):
            raise ValueError("the feature plan's unknown shares are malformed")
        plan.unknown_shares_ = [float(x) for x in shares]
        if "unknown_shares" not in state:
            plan.unknown_shares_ = []
        plan.numeric_ = np.array(numeric, dtype=np.intp)
        plan.categorical_ = np.array(categorical, dtype=np.intp)
        plan.vocabularies_ = []
        for v in vocabularies:
            plan.vocabularies_.append(_plain_vocabulary(v, MAX_CATEGORIES))
        # files saved before target encoding: none
        plan.target_encoding = state.get("target_encoding")
        if plan.target_encoding not in (None, "auto"):
            raise ValueError("the feature plan's target_encoding is malformed")
        plan.encodings_ = _checked_encodings(
            state.get("encodings", []), arrays or {}, categorical
        )
        # files saved before discrete numeric columns: none
        plan.discrete_numeric = state.get("discrete_numeric")
        levels = state.get("levels", [])
        level_vocabularies = state.get("level_vocabularies", [])
        if (
            plan.discrete_numeric not in (None, "auto")
            or not isinstance(levels, list)
            or not isinstance(level_vocabularies, list)
            or len(levels) != len(level_vocabularies)
            or any(type(j) is not int or j not in numeric for j in levels)
            or len(set(levels)) != len(levels)
        ):
            raise ValueError(
                "the feature plan's discrete numeric columns are malformed"
            )
        plan.levels_ = list(levels)
        plan.level_vocabularies_ = [_checked_levels(v) for v in level_vocabularies]
        return plan


def _python_values(index):
    """An index's values as Python scalars: an object column may hold numpy
    ones (``np.int64``, ``np.bool_``), which the model file's document could
    not give back as the same plain values."""
    return [v.item() if isinstance(v, np.generic) else v for v in index.tolist()]


def _plain_vocabulary(v, limit):
    """A file's vocabulary as an object array; ValueError unless it is a list
    of at most ``limit`` distinct plain values."""
    if not isinstance(v, list) or len(v) > limit:
        raise ValueError("the feature plan's vocabularies are malformed")
    if any(not isinstance(x, (str, int, float, bool)) for x in v):
        raise ValueError("the feature plan's categories must be plain values")
    if len(set(v)) != len(v):
        raise ValueError("the feature plan repeats a category")
    arr = np.empty(len(v), dtype=object)
    arr[:] = v
    return arr


def _checked_encodings(encodings, arrays, categorical):
    """A file's target encodings, each checked: a categorical column, a
    target index, a vocabulary, and its table (the tensor of its index): one
    row per encoded class (at most ``ENCODE_MAX_CLASSES``), one column per
    code, finite float64 values in [0, 1]."""
    if not isinstance(encodings, list) or set(arrays) != {
        f"{ENCODING_PREFIX}{i}" for i in range(len(encodings))
    }:
        raise ValueError("the feature plan's target encodings are malformed")
    checked = []
    for i, e in enumerate(encodings):
        if not isinstance(e, dict) or set(e) != {"column", "target", "vocabulary"}:
            raise ValueError("the feature plan's target encodings are malformed")
        column, target = e["column"], e["target"]
        if (
            type(column) is not int
            or column not in categorical
            or type(target) is not int
            or target < 0
        ):
            raise ValueError("a target encoding names no categorical column or target")
        vocab = _plain_vocabulary(e["vocabulary"], ENCODE_MAX_LEVELS)
        # a column's codes are looked up once for all its encodings
        same = [c["vocabulary"] for c in checked if c["column"] == column]
        if same and same[0].tolist() != vocab.tolist():
            raise ValueError("a column's target encodings differ in vocabulary")
        table = np.asarray(arrays[f"{ENCODING_PREFIX}{i}"])
        if (
            table.dtype != np.float64
            or table.ndim != 2
            or not 1 <= table.shape[0] <= ENCODE_MAX_CLASSES
            or table.shape[1] != FIRST + len(vocab)
        ):
            raise ValueError("a target encoding's table does not match its vocabulary")
        if not (np.isfinite(table).all() and (table >= 0).all() and (table <= 1).all()):
            raise ValueError("a target encoding's table holds values outside [0, 1]")
        checked.append(
            {"column": column, "target": target, "vocabulary": vocab, "table": table}
        )
    return checked


def _level_vocabulary(values):
    """The distinct values of a numeric column (float32, NaN for missing),
    most frequent first, when the column qualifies (``_discrete``: from
    ``LEVELS_MIN_VALUES`` to ``LEVELS_MAX_VALUES`` of them, and at least
    ``LEVELS_ROWS_PER_VALUE`` known cells per value); else None."""
    values = values[~np.isnan(values)]
    distinct, counts = np.unique(values, return_counts=True)
    if not _discrete(len(distinct), len(values)):
        return None
    return distinct[np.argsort(-counts, kind="stable")]


def _level_codes(values, vocab):
    """Codes of a discrete numeric column's values (as the matrix holds them,
    float32): ``FIRST + i`` for the ``i``-th value of ``vocab``, unknown for
    a value not in it, missing for NaN."""
    index = pd.Index(np.asarray(vocab, dtype=np.float32))
    codes = index.get_indexer(values).astype(np.int64) + FIRST
    codes[codes == FIRST - 1] = UNKNOWN
    codes[np.isnan(values)] = MISSING
    return codes


def _checked_levels(v):
    """A file's discrete numeric column's values as float32 (as the matrix
    holds them); ValueError unless they are at most ``LEVELS_MAX_VALUES``
    numbers, finite and distinct in float32."""
    if (
        not isinstance(v, list)
        or len(v) > LEVELS_MAX_VALUES
        or any(type(x) not in (int, float) for x in v)
    ):
        raise ValueError("the feature plan's discrete numeric columns are malformed")
    try:  # an int too large for a float is not a value of the column
        arr = np.array([float(x) for x in v], dtype=np.float64)
    except OverflowError:
        raise ValueError(
            "the feature plan's discrete numeric columns are malformed"
        ) from None
    with np.errstate(over="ignore"):
        arr = arr.astype(np.float32)
    if not np.isfinite(arr).all() or len(np.unique(arr)) != len(arr):
        raise ValueError("the feature plan's discrete numeric columns are malformed")
    return arr


def _encoding_vocabulary(column):
    """The levels of a column to encode, most frequent first, or None where
    ``target_encoding="auto"`` leaves it (see ``ENCODE_RARE_COUNT``)."""
    counts = column.value_counts(dropna=True, sort=True)
    counts = counts[counts > 0]  # a category dtype lists unused categories
    known = int(counts.sum())
    few = counts[(counts >= 2) & (counts < ENCODE_RARE_COUNT)].sum()
    if known == 0 or few < ENCODE_MIN_SHARE * known:
        return None
    vocab = np.empty(min(len(counts), ENCODE_MAX_LEVELS), dtype=object)
    vocab[:] = _python_values(counts.index[: len(vocab)])
    return vocab


def _encoded_outputs(y, n_classes):
    """What is encoded of a target (its column of the encoded Y, with
    ``n_classes``, 0 for regression): ``(n, outputs)`` floats in [0, 1] (a
    binary target's positive class, or each of a multiclass target's
    classes, as 0 / 1), or None for a target left out (regression, or more
    than ``ENCODE_MAX_CLASSES`` classes)."""
    if not 2 <= n_classes <= ENCODE_MAX_CLASSES:
        return None
    labels = np.nan_to_num(y).astype(np.int64)
    classes = [1] if n_classes == 2 else range(n_classes)
    return np.stack([labels == c for c in classes], axis=1).astype(np.float64)


def _encoding_table(codes, shares, n_codes):
    """``(outputs, n_codes)``: per output, scikit-learn's ``TargetEncoder``
    encoding of each code seen in ``codes`` (the shrunk mean of ``shares``),
    and the overall mean for the others."""
    table = np.empty((shares.shape[1], n_codes))
    for o in range(shares.shape[1]):
        if len(codes) == 0:
            table[o] = 0.0
            continue
        encoder = TargetEncoder(target_type="continuous")
        encoder.fit(codes[:, None], shares[:, o])
        table[o] = encoder.target_mean_
        table[o, encoder.categories_[0]] = encoder.encodings_[0]
    return np.clip(table, 0.0, 1.0)


def _fit_encoding(codes, n_codes, shares, known, seed):
    """The table (``(outputs, n_codes)``) from every row with a known label,
    and each row's out-of-fold values (``(n, outputs)``): from the known rows
    of the other folds, for every row, labelled or not, so that a missing
    label changes nothing a row shows."""
    values = np.empty((len(codes), shares.shape[1]))
    folds = KFold(min(ENCODE_FOLDS, len(codes)), shuffle=True, random_state=seed)
    for rest, rows in folds.split(codes):
        fit = rest[known[rest]]
        table = _encoding_table(codes[fit], shares[fit], n_codes)
        values[rows] = table[:, codes[rows]].T
    table = _encoding_table(codes[known], shares[known], n_codes)
    return table, values


def _unknown_share(codes):
    known = codes != MISSING
    return float((codes[known] == UNKNOWN).mean()) if known.any() else 0.0


def robust_scaling(X, sample_weight=None):
    """Per column of a float array (NaN for missing; dense, or scipy sparse
    with its implicit zeros counted): the median and a robust spread (the
    interquartile range / 1.349, which is the standard deviation of normal
    data; half the range when the quartiles meet; 1 for a constant or empty
    column). Quantiles are weighted inverse-CDF quantiles, so a row of weight
    2 counts exactly as a repeated row, and rows of weight 0 do not count."""
    d = X.shape[1]
    center, scale = np.zeros(d), np.ones(d)
    for j, (values, weights) in enumerate(_columns(X, sample_weight)):
        q = _quantiles(values, weights, [0.0, 0.25, 0.5, 0.75, 1.0])
        if q is None:
            continue
        spread = (q[3] - q[1]) / 1.349
        if not spread > 0:
            spread = (q[4] - q[0]) / 2.0
        center[j] = q[2]
        scale[j] = spread if np.isfinite(spread) and spread > 0 else 1.0
    return center, scale


def quantile_edges(X, n_bins, sample_weight=None):
    """Per column (as in ``robust_scaling``): the distinct weighted quantiles
    at ``0, 1 / n_bins, ..., 1``, the bin edges of a piecewise-linear
    encoding (Gorishniy et al. 2022). An empty column gets ``[0.0]``."""
    levels = np.linspace(0.0, 1.0, int(n_bins) + 1)
    edges = []
    for values, weights in _columns(X, sample_weight):
        q = _quantiles(values, weights, levels)
        edges.append(np.zeros(1) if q is None else np.unique(q))
    return edges


def _columns(X, sample_weight):
    """``(values, weights)`` of each column, float64; a sparse column's
    implicit zeros are one more value with their total weight."""
    n, d = X.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    if hasattr(X, "tocsc"):
        X = X.tocsc()
        for j in range(d):
            rows = X.indices[X.indptr[j] : X.indptr[j + 1]]
            values = X.data[X.indptr[j] : X.indptr[j + 1]].astype(np.float64)
            zeros = w.sum() - w[rows].sum()  # the implicit zeros' weight
            yield np.append(values, 0.0), np.append(w[rows], zeros)
    else:
        X = np.asarray(X)
        for j in range(d):
            yield X[:, j].astype(np.float64), w


def _quantiles(values, weights, levels):
    """Weighted inverse-CDF quantiles of the known values of positive weight
    (None when there are none)."""
    keep = ~np.isnan(values) & (weights > 0)
    if not keep.any():
        return None
    values, weights = values[keep], weights[keep]
    if (weights == 1.0).all():  # unweighted: the same ranks, from one sort
        # (np.sort takes half the time of np.partition at 5 ranks and a fourth
        # to a sixth at 49, from 9,000 to 200,000 values)
        target = np.asarray(levels, dtype=np.float64) * float(len(values))
        ranks = np.clip(np.ceil(target).astype(np.intp) - 1, 0, len(values) - 1)
        return np.sort(values)[ranks]
    order = np.argsort(values, kind="stable")
    values, cum = values[order], np.cumsum(weights[order])
    at = np.searchsorted(cum, np.asarray(levels) * cum[-1], "left")
    return values[np.minimum(at, len(values) - 1)]


def _plain(spec):
    if spec is None or isinstance(spec, str):
        return spec
    return [s.item() if isinstance(s, np.generic) else s for s in spec]


#: medians and spreads come from at most this many rows (a fixed random
#: sample of larger tables, as HistGradientBoosting bins from 200,000): for
#: 1,000,000 x 32 normal values, 0.27 s of CPU instead of 1.63 s (with the
#: piecewise bins), medians within 0.009 spreads and spreads within 0.7%
STATISTICS_ROWS = 200_000


def statistics_rows(n_rows, sample_weight=None):
    """The rows that numeric quantiles are computed from: None (all rows)
    up to ``STATISTICS_ROWS`` rows, else a sorted random sample of that many
    rows of positive weight (the same for every fit of the same table size
    and weights), or all of those where there are no more."""
    if n_rows <= STATISTICS_ROWS:
        return None
    rows = np.arange(n_rows)
    if sample_weight is not None:
        rows = np.flatnonzero(np.asarray(sample_weight) > 0)
    if len(rows) <= STATISTICS_ROWS:
        return rows
    rng = np.random.default_rng(n_rows)
    return np.sort(rng.choice(rows, STATISTICS_ROWS, replace=False))


def numeric_statistics(X, n_numeric, sample_weight=None, rows=None):
    """``(center, scale, missing_columns)`` of the first ``n_numeric`` columns
    of the plan's matrix X (dense or scipy sparse), from the rows of positive
    weight: the quantiles from ``rows`` (``statistics_rows``; None: every
    row), the missing columns from every row."""
    if n_numeric == 0:
        return np.zeros(0), np.ones(0), []
    block = X[:, :n_numeric]
    if rows is None:
        center, scale = robust_scaling(block, sample_weight)
    else:
        weights = None if sample_weight is None else np.asarray(sample_weight)[rows]
        center, scale = robust_scaling(block[rows], weights)
    if sample_weight is not None:
        block = block[np.asarray(sample_weight) > 0]
    if hasattr(block, "tocsc"):  # only stored cells can be NaN
        block = block.tocsc()
        cols = np.repeat(np.arange(n_numeric), np.diff(block.indptr))
        missing = sorted(set(cols[np.isnan(block.data)].tolist()))
    else:
        missing = np.flatnonzero(np.isnan(block).any(axis=0)).tolist()
    return center, scale, missing
