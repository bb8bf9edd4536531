"""Every bad input gets a clear error before any training, for both estimators;
the usual good inputs are accepted."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import joint
from sklearn.exceptions import NotFittedError

from sklearn_multihead import (
    JointRegressorClassifier,
    RandomForestRegressorClassifier,
)

N = 30
rng = np.random.RandomState(0)
X_OK = rng.normal(size=(N, 3))
Y_OK = pd.DataFrame({"size": X_OK[:, 0] * 2.0, "big": X_OK[:, 1] > 0})
COLUMNS = ["f0", "f1", "f2"]


def _estimators():
    return [
        joint(max_iter=3, random_state=0),
        RandomForestRegressorClassifier(n_estimators=3, random_state=0),
    ]


@pytest.fixture(params=_estimators(), ids=lambda e: type(e).__name__)
def est(request):
    from sklearn.base import clone

    return clone(request.param)


def _with(value, where=(0, 0), X=X_OK):
    X = X.astype(np.float64 if np.isrealobj(value) else complex, copy=True)
    X[where] = value
    return X


BAD_X = {
    "nan": (_with(np.nan), ValueError, "Input X contains NaN"),
    "inf": (_with(np.inf), ValueError, "Input X contains infinity"),
    "overflows float32": (
        _with(1e39),
        ValueError,
        "Input X contains infinity or a value too large for dtype\\('float32'\\)",
    ),
    "complex": (_with(1 + 2j), ValueError, "Complex data not supported"),
    "0 rows": (X_OK[:0], ValueError, "Found array with 0 sample\\(s\\)"),
    "0 columns": (X_OK[:, :0], ValueError, "Found array with 0 feature\\(s\\)"),
    "1-D": (X_OK[:, 0], ValueError, "Expected 2D array, got 1D array instead"),
    "3-D": (X_OK[:, :, None], ValueError, "Found array with dim 3"),
    # sparse X is accepted (tests/test_sparse.py); bad values in it are not
    "sparse with NaN": (sp.csr_matrix(_with(np.nan)), ValueError, "contains NaN"),
    "strings": (
        pd.DataFrame(X_OK, columns=COLUMNS).assign(f1="a"),
        ValueError,
        "X has non-numeric columns \\['f1'\\].*OneHotEncoder",
    ),
}


#: bad for the forest, and taken by the network (missing values, categories)
NETWORK_TAKES = {"nan", "sparse with NaN", "strings", "nan frame"}


def _network_takes(est, name, X):
    """For the network, the inputs it takes: fit and predict work."""
    if not (isinstance(est, JointRegressorClassifier) and name in NETWORK_TAKES):
        return False
    est.fit(X, Y_OK)
    pred = est.predict(X)
    assert np.isfinite(pred["size"]).all() and len(pred) == N
    return True


@pytest.mark.parametrize("name", list(BAD_X))
def test_bad_X_in_fit(est, name):
    X, error, match = BAD_X[name]
    y = Y_OK.iloc[: X.shape[0]] if name == "0 rows" else Y_OK
    if _network_takes(est, name, X):
        return
    with pytest.raises(error, match=match):
        est.fit(X, y)
    with pytest.raises(NotFittedError):  # nothing half-fitted is left
        est.predict(X_OK)


@pytest.mark.parametrize("name", list(BAD_X))
def test_bad_X_in_predict(est, name):
    X, error, match = BAD_X[name]
    est.fit(X_OK, Y_OK)
    if isinstance(est, JointRegressorClassifier) and name in NETWORK_TAKES:
        if name == "strings":  # fitted on numbers: a text column is refused
            with pytest.raises(ValueError, match="could not convert string"):
                est.predict(X)
        else:
            assert np.isfinite(est.predict(X)["size"]).all()
        return
    with pytest.raises(error, match=match):
        est.predict(X)


# -- predict's quick checks ------------------------------------------------------
# Float arrays of the fitted width, and float DataFrames with the fitted names,
# skip scikit-learn's full checks at predict time when those would pass them:
# the same array, and for anything else the same errors and warnings.
DF_OK = pd.DataFrame(X_OK * 3, columns=COLUMNS)
QUICK_X = {
    "float32": (X_OK * 3).astype(np.float32),
    "float64": X_OK * 3,
    "float16": (X_OK * 3).astype(np.float16),
    "fortran": np.asfortranarray(X_OK * 3),
    "reversed rows": (X_OK * 3).astype(np.float32)[::-1],
    "strided columns": np.repeat(X_OK * 3, 2, axis=1)[:, ::2],
    "sum overflows float32": _with(np.finfo(np.float32).max, where=(slice(0, 2), 0)),
}
QUICK_DF = {
    "float64 frame": DF_OK,
    "float32 frame": DF_OK.astype(np.float32),
    "mixed float frame": DF_OK.astype({"f1": np.float32}),
    "sum overflows float32": DF_OK.assign(f0=np.finfo(np.float32).max),
}


@pytest.mark.parametrize("fit_on", ["array", "frame"])
def test_quick_checks_return_what_scikit_learn_returns(est, fit_on):
    from sklearn.utils.validation import validate_data

    cases = QUICK_X if fit_on == "array" else QUICK_DF
    est.fit(X_OK if fit_on == "array" else DF_OK, Y_OK)
    for name, X in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning on either path
            ours = est._validate_X(X)
            reference = validate_data(est, X, dtype=np.float32, reset=False)
        assert ours.dtype == np.float32, name
        np.testing.assert_array_equal(ours, reference, err_msg=name)
    # and the predictions of the full checks' path (a list; a nullable frame)
    full_path = (X_OK * 3).tolist() if fit_on == "array" else DF_OK.astype("Float64")
    first = next(iter(cases.values()))
    pd.testing.assert_frame_equal(est.predict(first), est.predict(full_path))


BAD_QUICK_X = {
    "nan": (_with(np.nan).astype(np.float32), "Input X contains NaN"),
    "inf": (_with(-np.inf), "Input X contains infinity"),
    "overflows float32": (
        _with(1e39),
        "Input X contains infinity or a value too large for dtype\\('float32'\\)",
    ),
    "0 rows": (X_OK[:0].astype(np.float32), "Found array with 0 sample\\(s\\)"),
    "narrower": (X_OK[:, :2], "X has 2 features, but .* is expecting 3 features"),
    "1-D": (X_OK[:, 0].astype(np.float32), "Expected 2D array, got 1D array"),
    "nan frame": (DF_OK.assign(f1=np.nan), "Input X contains NaN"),
    "inf frame": (DF_OK.assign(f2=np.inf), "Input X contains infinity"),
    "0-row frame": (DF_OK.iloc[:0], "Found array with 0 sample\\(s\\)"),
    "reordered frame": (
        DF_OK[["f1", "f0", "f2"]],
        "Feature names must be in the same order",
    ),
    "renamed frame": (
        DF_OK.rename(columns={"f0": "g"}),
        "Feature names unseen at fit time:\n- g",
    ),
}


@pytest.mark.parametrize("name", list(BAD_QUICK_X))
def test_bad_X_past_quick_checks(est, name):
    X, match = BAD_QUICK_X[name]
    est.fit(DF_OK if isinstance(X, pd.DataFrame) else X_OK, Y_OK)
    if isinstance(est, JointRegressorClassifier) and name in NETWORK_TAKES:
        assert np.isfinite(est.predict(X)["size"]).all()
        return
    with pytest.raises(ValueError, match=match):
        est.predict(X)


def test_float_array_after_fit_on_names_warns(est):
    est.fit(DF_OK, Y_OK)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(X_OK.astype(np.float32))


def test_frame_after_fit_on_array_warns(est):
    est.fit(X_OK, Y_OK)
    with pytest.warns(UserWarning, match="X has feature names, but"):
        est.predict(DF_OK)


def test_fit_on_reversed_rows(est):
    X32 = X_OK.astype(np.float32)
    est.fit(X32[::-1], Y_OK.iloc[::-1])
    assert est.predict(X32).shape == Y_OK.shape


BAD_Y = {
    "None": (None, "requires y to be passed, but the target y is None"),
    "other length": (
        Y_OK.iloc[:20],
        "Found input variables with inconsistent numbers of samples: \\[30, 20\\]",
    ),
    "inf in a regression target": (
        Y_OK.assign(size=np.inf),
        "Regression target 'size' contains infinity. Replace it",
    ),
    "no known value": (
        Y_OK.assign(size=np.nan),
        "Target column 'size' has no known value: every cell is missing",
    ),
    "mixed label types": (
        Y_OK.assign(big=["a", 1] * (N // 2)),
        "Target column 'big' mixes value types \\(mixed-integer\\).*astype\\(str\\)",
    ),
    "3-D": (np.zeros((N, 2, 2)), "y must be 1-D .* Got an array with 3 dimensions"),
    "no column": (Y_OK.iloc[:, :0], "y has no target column"),
    "duplicate names": (
        pd.concat([Y_OK, Y_OK], axis=1),
        "Target column names must be unique",
    ),
}


@pytest.mark.parametrize("name", list(BAD_Y))
def test_bad_y(est, name):
    y, match = BAD_Y[name]
    with pytest.raises(ValueError, match=match):
        est.fit(X_OK, y)


def test_sparse_y_is_refused(est):
    with pytest.raises(TypeError, match="A sparse y is not supported.*toarray"):
        est.fit(X_OK, sp.csr_matrix(np.ones((N, 2))))


@pytest.mark.parametrize(
    "sample_weight, match",
    [
        (np.ones(5), "sample_weight.shape == \\(5,\\), expected \\(30,\\)!"),
        (np.ones((N, 2)), "Sample weights must be 1D array or scalar"),
        (-np.ones(N), "Negative values in data passed to `sample_weight`"),
        (np.zeros(N), "Sample weights must contain at least one non-zero number"),
        (np.full(N, np.nan), "Input sample_weight contains NaN"),
    ],
    ids=["shape", "2-D", "negative", "all zero", "nan"],
)
def test_bad_sample_weight(est, sample_weight, match):
    with pytest.raises(ValueError, match=match):
        est.fit(X_OK, Y_OK, sample_weight=sample_weight)


def test_feature_checks_at_predict(est):
    df = pd.DataFrame(X_OK, columns=COLUMNS)
    est.fit(df, Y_OK)
    with pytest.raises(ValueError, match="X has 2 features, but .* is expecting 3"):
        est.predict(X_OK[:, :2])
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.predict(df[["f1", "f0", "f2"]])
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- g"):
        est.predict(df.rename(columns={"f0": "g"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(X_OK)


def test_predict_before_fit(est):
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        est.predict(X_OK)


# -- accepted as usual ------------------------------------------------------------
@pytest.mark.parametrize(
    "make_X",
    [
        lambda X: X.astype(np.int64),
        lambda X: X.astype(np.float32),
        lambda X: X.astype(np.float64),
        lambda X: np.asfortranarray(X),
        lambda X: _read_only(X),
        lambda X: pd.DataFrame(X, columns=COLUMNS).astype("Float64"),
    ],
    ids=["int", "float32", "float64", "fortran", "read-only", "nullable float"],
)
def test_accepted_X(est, make_X):
    X = make_X(X_OK * 3)
    before = np.array(X, copy=True)
    pred = est.fit(X, Y_OK).predict(X)
    assert pred.shape == Y_OK.shape
    assert pred["big"].dtype == bool
    np.testing.assert_array_equal(np.asarray(X), before)  # the input is untouched


def _read_only(X):
    X = np.array(X)
    X.setflags(write=False)
    return X


def test_one_sample_and_a_single_class_are_accepted(est):
    one = est.fit(X_OK[:1], Y_OK.iloc[:1]).predict(X_OK[:4])
    assert one.shape == (4, 2)
    assert (one["big"] == Y_OK["big"].iloc[0]).all()
    Y = Y_OK.assign(big=True)
    est.fit(X_OK, Y)
    assert est.predict(X_OK)["big"].all()
    (proba,) = est.predict_proba(X_OK)
    assert proba.shape == (N, 1)
    np.testing.assert_allclose(proba, 1.0)


def test_inputs_are_not_modified(est):
    X = pd.DataFrame(X_OK, columns=COLUMNS)
    Y = Y_OK.copy()
    Y.loc[3, "size"] = np.nan
    X_copy, Y_copy = X.copy(), Y.copy()
    w = np.linspace(0.5, 2.0, N)
    w_copy = w.copy()
    est.fit(X, Y, sample_weight=w)
    pd.testing.assert_frame_equal(X, X_copy)
    pd.testing.assert_frame_equal(Y, Y_copy)
    np.testing.assert_array_equal(w, w_copy)


@pytest.mark.parametrize("magnitude", [1e300, 1e-300])
def test_regression_targets_of_any_magnitude_fit_and_score(est, magnitude):
    y = Y_OK.assign(size=Y_OK["size"] * magnitude)
    est.fit(X_OK, y)
    pred = est.predict(X_OK)
    assert np.isfinite(pred["size"]).all()
    assert np.isfinite(est.score(X_OK, y))
    from sklearn_multihead.metrics import target_report

    report = target_report(y, pred, est.target_types_).set_index("target")
    assert np.isfinite(report.loc["size", ["mae", "rmse", "r2"]].astype(float)).all()
