"""Regression targets predict floats, whatever the dtype of their column.

An integer, nullable-integer or bool column typed as regression holds a
quantity; predicting it in the column's own dtype would cut every prediction to
a whole number (a silent wrong result). Float columns keep their float dtype.
"""

import numpy as np
import pandas as pd
import pytest
from conftest import joint

from sklearn_multihead import RandomForestRegressorClassifier
from sklearn_multihead.metrics import estimator_report

ESTIMATORS = {
    "joint": lambda: joint(hidden_layer_sizes=(16,), max_iter=30, random_state=0),
    "forest": lambda: RandomForestRegressorClassifier(n_estimators=10, random_state=0),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    count = np.round(3 * X[:, 0] + 10).astype(np.int64)
    label = np.where(X[:, 1] > 0, "up", "down")
    return X, count, label


WHOLE = {
    "int64": lambda c: c,
    "int32": lambda c: c.astype(np.int32),
    "Int64": lambda c: pd.array(c, dtype="Int64"),
    "bool": lambda c: c > 10,
}


@pytest.mark.parametrize("kind", list(ESTIMATORS))
@pytest.mark.parametrize("dtype", list(WHOLE))
def test_whole_number_columns_typed_as_regression_predict_floats(
    data, kind, dtype, tmp_path
):
    X, count, label = data
    column = WHOLE[dtype](count)
    Y = pd.DataFrame({"count": column, "label": label})
    Y_float = Y.assign(count=np.asarray(column, dtype=np.float64))
    types = {"count": "regression"}
    est = ESTIMATORS[kind]().set_params(target_types=types).fit(X, Y)
    ref = ESTIMATORS[kind]().set_params(target_types=types).fit(X, Y_float)

    pred = est.predict(X)
    assert pred["count"].dtype == np.float64
    assert pred["label"].dtype == Y["label"].dtype
    assert not np.allclose(pred["count"], np.round(pred["count"]))  # not truncated
    np.testing.assert_allclose(pred["count"], ref.predict(X)["count"], rtol=1e-6)
    assert est.score(X, Y) == pytest.approx(ref.score(X, Y_float), rel=1e-6)
    report = estimator_report(est, X, Y).set_index("target")
    ref_report = estimator_report(ref, X, Y_float).set_index("target")
    assert report.loc["count", "mae"] == pytest.approx(ref_report.loc["count", "mae"])

    # 1-D and 2-D array forms, and a saved and loaded model, too
    one = ESTIMATORS[kind]().set_params(target_types=["regression"])
    assert one.fit(X, np.asarray(column)).predict(X).dtype == np.float64
    loaded = type(est).load(est.save(tmp_path / "model.safetensors"))
    assert loaded.predict(X)["count"].dtype == np.float64
    np.testing.assert_allclose(loaded.predict(X)["count"], pred["count"])


@pytest.mark.parametrize("kind", list(ESTIMATORS))
@pytest.mark.parametrize("dtype", ["float32", "Float64"])
def test_float_columns_keep_their_float_dtype(data, kind, dtype):
    X, count, _ = data
    Y = pd.DataFrame({"size": pd.array(count * 0.5, dtype=dtype)})
    pred = ESTIMATORS[kind]().fit(X, Y).predict(X)
    assert pred["size"].dtype == Y["size"].dtype
