"""Properties that must hold for any input (hypothesis, derandomised and bounded).

Each property draws a few dozen cases at most; together they run in seconds.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import joint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

from sklearn_multihead import (
    RandomForestRegressorClassifier,
)
from sklearn_multihead._targets import TargetEncoder
from sklearn_multihead.datasets import make_joint_dataset

PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)

#: finite features well inside float32 (values beyond it are refused, see
#: test_bad_input)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


def _X(n_min=1, n_max=40, n_features=4):
    return st.integers(n_min, n_max).flatmap(
        lambda n: hnp.arrays(np.float64, (n, n_features), elements=finite)
    )


@pytest.fixture(scope="module")
def fitted():
    X, Y = make_joint_dataset(
        n_samples=200,
        n_features=4,
        n_regression=1,
        n_binary=1,
        n_multiclass=1,
        n_classes=3,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = [
            joint(max_iter=10, random_state=0).fit(X.to_numpy(), Y),
            RandomForestRegressorClassifier(n_estimators=5, random_state=0).fit(
                X.to_numpy(), Y
            ),
        ]
    return models, Y.dtypes


@PROPERTY
@given(X=_X())
def test_predictions_are_fitted_labels_of_the_right_shape(fitted, X):
    models, dtypes = fitted
    for est in models:
        pred = est.predict(X)
        assert list(pred.columns) == ["reg_0", "bin_0", "cls_0"]
        assert pred.shape == (len(X), 3)
        assert np.isfinite(pred["reg_0"]).all()
        for name, classes, proba in zip(
            ["bin_0", "cls_0"], est.classes_[1:], est.predict_proba(X)
        ):
            assert pred[name].isin(classes).all()
            assert pred[name].dtype == dtypes[name]
            assert proba.shape == (len(X), len(classes))
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
            # the predicted label is the most probable one
            np.testing.assert_array_equal(
                proba[np.arange(len(X)), pd.Index(classes).get_indexer(pred[name])],
                proba.max(axis=1),
            )


@PROPERTY
@given(data=st.data(), X=_X(n_min=2))
def test_predict_is_row_order_equivariant(fitted, data, X):
    perm = data.draw(st.permutations(range(len(X))))
    for est in fitted[0]:
        pred, pred_perm = est.predict(X), est.predict(X[perm])
        np.testing.assert_allclose(
            pred_perm["reg_0"], pred["reg_0"].to_numpy()[perm], rtol=1e-5, atol=1e-5
        )
        for name in ["bin_0", "cls_0"]:
            np.testing.assert_array_equal(pred_perm[name], pred[name].to_numpy()[perm])


@settings(PROPERTY, max_examples=10)
@given(
    n_extra=st.integers(1, 20),
    X_extra=hnp.arrays(np.float64, (20, 4), elements=st.floats(-3, 3, width=32)),
)
def test_zero_weight_rows_without_targets_change_nothing(n_extra, X_extra):
    X, Y = make_joint_dataset(
        n_samples=60,
        n_features=4,
        n_regression=1,
        n_binary=1,
        n_multiclass=1,
        random_state=1,
    )
    X = X.to_numpy()
    # one batch per epoch: the extra rows cannot change which rows share a batch
    params = {"max_iter": 15, "batch_size": 128, "random_state": 0}
    base = joint(**params).fit(X, Y, sample_weight=np.ones(60))
    Y_extra = pd.DataFrame(
        {c: pd.Series([None] * n_extra, dtype=Y[c].dtype) for c in Y.columns}
    )
    grown = joint(**params).fit(
        np.vstack([X, X_extra[:n_extra]]),
        pd.concat([Y, Y_extra], ignore_index=True),
        sample_weight=np.r_[np.ones(60), np.zeros(n_extra)],
    )
    a, b = base.predict(X), grown.predict(X)
    np.testing.assert_allclose(a["reg_0"], b["reg_0"], rtol=1e-4, atol=1e-4)
    for pa, pb in zip(base.predict_proba(X), grown.predict_proba(X)):
        np.testing.assert_allclose(pa, pb, atol=1e-4)


labels = st.sampled_from(
    [
        st.sampled_from(["a", "b", "c"]),
        st.integers(-3, 3),
        st.booleans(),
    ]
).flatmap(lambda s: st.lists(s, min_size=8, max_size=8))


@settings(PROPERTY, max_examples=10)
@given(
    targets=st.lists(
        st.one_of(
            labels,
            st.lists(st.floats(-1e3, 1e3, width=32), min_size=8, max_size=8),
        ),
        min_size=1,
        max_size=3,
    ),
    X=hnp.arrays(np.float64, (8, 2), elements=st.floats(-10, 10, width=32)),
)
def test_save_then_load_is_the_identity_on_predictions(tmp_path_factory, targets, X):
    Y = pd.DataFrame({f"t{j}": col for j, col in enumerate(targets)})
    path = tmp_path_factory.mktemp("m") / "model.safetensors"
    for est in (
        joint(max_iter=2, random_state=0),
        RandomForestRegressorClassifier(n_estimators=2, random_state=0),
    ):
        est.fit(X, Y)
        loaded = type(est).load(est.save(path))
        pd.testing.assert_frame_equal(est.predict(X), loaded.predict(X))


@settings(PROPERTY, max_examples=30)
@given(
    targets=st.lists(
        st.one_of(
            labels,
            st.lists(st.floats(-1e6, 1e6), min_size=8, max_size=8),
        ),
        min_size=1,
        max_size=4,
    ),
    missing=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_target_encoding_round_trips(targets, missing):
    Y = pd.DataFrame({f"t{j}": col for j, col in enumerate(targets)})
    missing = np.array(missing)
    Y_missing = pd.DataFrame(
        {c: Y[c].astype(object).where(~missing, None) for c in Y.columns}
    )
    enc = TargetEncoder().fit(Y)
    Z = enc.transform(Y)
    back = enc.inverse_transform(Z)
    for name in Y:
        if enc.types_[list(Y).index(name)] == "regression":
            # encoded as float32: exact to float32 precision of the column's range
            atol = 1e-6 * float(np.abs(Y[name]).max())
            np.testing.assert_allclose(back[name], Y[name], rtol=1e-6, atol=atol)
        else:
            assert back[name].tolist() == Y[name].tolist()
            assert back[name].dtype == Y[name].dtype
    # missing cells become NaN codes, known cells keep theirs
    Zm = enc.transform(Y_missing)
    assert np.isnan(Zm[missing]).all()
    np.testing.assert_array_equal(Zm[~missing], Z[~missing])
