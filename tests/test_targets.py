"""Target typing, label encoding and decoding (``_targets``)."""

import numpy as np
import pandas as pd
import pytest

from sklearn_multihead._targets import TargetEncoder


def test_auto_types_follow_dtypes():
    Y = pd.DataFrame(
        {
            "f": [1.0, 2.0, 3.0],
            "whole_floats": [1.0, 2.0, 2.0],
            "i": [1, 2, 2],
            "b": [True, False, True],
            "s": pd.Series(["a", "b", "a"], dtype="str"),
            "c": pd.Categorical(["x", "y", "x"]),
            "o": np.array(["a", "b", None], dtype=object),
            "nullable": pd.array([1, None, 2], dtype="Int64"),
        }
    )
    enc = TargetEncoder().fit(Y)
    assert enc.types_ == ["regression"] * 2 + ["classification"] * 6


def test_round_trip_keeps_labels_and_dtypes():
    Y = pd.DataFrame(
        {
            "f": [1.5, -2.0, 3.0, 0.0],
            "i": np.array([7, 3, 7, 3], dtype=np.int32),
            "b": [True, False, True, True],
            "s": pd.Series(["x", "y", "z", "x"], dtype="str"),
            "c": pd.Categorical(["lo", "hi", "lo", "hi"], categories=["lo", "hi"]),
        }
    )
    enc = TargetEncoder().fit(Y)
    Z = enc.transform(Y)
    assert Z.dtype == np.float32
    assert np.allclose(Z[:, 0].mean(), 0, atol=1e-6)  # standardised
    back = enc.inverse_transform(Z.astype(np.float64))
    pd.testing.assert_frame_equal(back, Y, check_exact=False)
    assert list(enc.classes_[4]) == ["lo", "hi"]  # category order kept


def test_missing_cells_become_nan_in_every_form():
    Y = pd.DataFrame(
        {
            "f": [1.0, np.nan, 3.0],
            "s": pd.Series(["a", None, "b"], dtype="str"),
            "o": np.array(["a", pd.NA, "b"], dtype=object),
            "nb": pd.array([True, None, False], dtype="boolean"),
        }
    )
    Z = TargetEncoder().fit(Y).transform(Y)
    assert np.isnan(Z[1]).all() and not np.isnan(Z[[0, 2]]).any()


def test_array_forms():
    enc = TargetEncoder().fit(np.array([1.0, 2.0, 4.0]))
    assert enc.kind_ == "1d" and enc.types_ == ["regression"]
    out = enc.inverse_transform(enc.transform(np.array([1.0, 2.0, 4.0]))[:, :1])
    np.testing.assert_allclose(out, [1.0, 2.0, 4.0], rtol=1e-6)
    Y = np.array([["a", 1.5], ["b", 2.5]], dtype=object)
    enc = TargetEncoder().fit(Y)
    assert enc.types_ == ["classification", "regression"]
    assert enc.inverse_transform(enc.transform(Y)).dtype == object


def test_many_integer_classes_warn_with_the_fix():
    y = pd.DataFrame({"rings": np.arange(30) % 25})
    with pytest.warns(UserWarning, match="target_types=\\{'rings': 'regression'\\}"):
        TargetEncoder().fit(y)


@pytest.mark.parametrize(
    "y, target_types, match",
    [
        (pd.DataFrame({"a": [np.nan, np.nan]}), "auto", "'a' has no known value"),
        (
            np.array([[1, "x"], ["y", 2]], dtype=object),
            "auto",
            "mixes value types",
        ),
        (pd.DataFrame({"a": [1.0, np.inf]}), "auto", "'a' contains infinity"),
        (np.zeros((3, 2, 2)), "auto", "Got an array with 3 dimensions"),
        (pd.DataFrame({"t": pd.to_datetime(["2020-01-01"])}), "auto", "neither"),
        (pd.DataFrame({"a": [1.0]}), "guess", "target_types must be 'auto'"),
        (
            pd.DataFrame({"a": np.array([1, "x", 2], dtype=object)}),
            {"a": "classification"},
            r"'a' mixes label types \(\['int', 'str'\]\).*\.astype\(str\)",
        ),
        (
            pd.DataFrame({"a": ["x", "y"]}),
            {"a": "regression"},
            "'a' is typed as regression but holds values that are not numbers",
        ),
    ],
)
def test_bad_targets(y, target_types, match):
    with pytest.raises(ValueError, match=match):
        TargetEncoder(target_types).fit(y)


def test_sparse_y_is_refused():
    sp = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="A sparse y is not supported"):
        TargetEncoder().fit(sp.csr_matrix(np.eye(3)))


def test_unseen_label_at_transform():
    enc = TargetEncoder().fit(pd.DataFrame({"s": ["a", "b"]}))
    with pytest.raises(ValueError, match="labels not seen in fit: \\['c'\\]"):
        enc.transform(pd.DataFrame({"s": ["a", "c"]}))


def test_weighted_scaling_ignores_zero_weight_rows():
    y = np.array([1.0, 3.0, 1000.0])
    enc = TargetEncoder().fit(y, sample_weight=np.array([1.0, 1.0, 0.0]))
    assert enc.means_[0] == pytest.approx(2.0) and enc.scales_[0] == pytest.approx(1.0)


def test_explicit_classification_type_does_not_warn(recwarn):
    y = pd.DataFrame({"rings": np.arange(30) % 25})
    TargetEncoder({"rings": "classification"}).fit(y)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_fit_transform_equals_fit_then_transform_with_missing_cells():
    Y = pd.DataFrame(
        {
            "f": [1.5, np.nan, 3.0, 0.0, 2.0],
            "o": np.array([1.0, pd.NA, 2.0, None, 4.0], dtype=object),
            "s": pd.Series(["x", None, "z", "x", "z"], dtype="str"),
            "c": pd.Categorical(["lo", "hi", None, "hi", "lo"]),
            "n": pd.array([1, None, 2, 2, 1], dtype="Int64"),
            "b": pd.array([True, None, False, True, True], dtype="boolean"),
        }
    )
    types = {"o": "regression"}
    Z = TargetEncoder(types).fit_transform(Y)
    enc = TargetEncoder(types).fit(Y)
    np.testing.assert_array_equal(Z, enc.transform(Y))
    # the missing cells (NaN, None, pd.NA) are NaN codes in every column
    np.testing.assert_array_equal(np.isnan(Z), Y.isna().to_numpy())
    assert enc.types_[1] == "regression"


def test_string_dtype_columns_are_classes_without_a_scan():
    s = pd.Series(["b", "a", None, "b"], dtype="str")
    enc = TargetEncoder().fit(s)
    assert enc.types_ == ["classification"]
    assert enc.classes_[0].tolist() == ["a", "b"]


@pytest.mark.parametrize(
    "y",
    [
        np.array([True, False, True]),
        np.array([True, True, True]),
        np.array([False, False]),
        np.array(["b", "a", "c", "a"]),
        np.array([3, 1, 3, 2]),
        np.array([2.0, np.nan, 1.0]),
        np.array(["b", None, "a"], dtype=object),
        pd.Series([2, 1, None], dtype="Int64"),
        pd.Series(["z", "y", "z"], dtype="category"),
    ],
)
def test_codes_from_fit_match_transform_and_keep_label_dtype(y):
    enc = TargetEncoder(["classification"])
    Z = enc.fit_transform(y)
    np.testing.assert_array_equal(Z, enc.transform(y))
    known = ~np.isnan(Z[:, 0])
    decoded = enc.inverse_transform(np.nan_to_num(Z).astype(np.float64))
    kept = np.asarray(y, dtype=object)[known]
    assert list(np.asarray(decoded, dtype=object)[known]) == list(kept)
    if isinstance(y, np.ndarray) and y.dtype != object:
        assert enc.classes_[0].dtype == y.dtype


DECODED = pd.DataFrame(
    {
        "f": [1.5, -2.0, 3.0, 0.0],
        "i01": [0, 1, 1, 0],
        "b": [True, False, True, True],
        "one_class": [True, True, True, True],
        "s": pd.array(["x", "y", "z", "x"], dtype="str"),
        "c": pd.Categorical(["lo", "hi", "lo", "hi"], categories=["lo", "hi"]),
        "nullable": pd.array([3, 1, 3, 1], dtype="Int64"),
        "nb": pd.array([True, False, False, True], dtype="boolean"),
    },
    index=pd.Index([10, 12, 11, 13], name="row"),
)


def test_decode_builds_the_frame_with_the_fitted_dtypes():
    # predict's columns: standardised numbers, and class codes as small ints
    enc = TargetEncoder().fit(DECODED)
    Z = enc.transform(DECODED)
    columns = [
        Z[:, j] if t == "regression" else Z[:, j].astype(np.uint8)
        for j, t in enumerate(enc.types_)
    ]
    out = enc.decode(columns, index=DECODED.index)
    pd.testing.assert_frame_equal(out, DECODED, check_exact=False)
    # a second call (cached labels and column index) gives the same frame
    pd.testing.assert_frame_equal(enc.decode(columns, index=DECODED.index), out)
    # without an index: 0 .. n - 1, as DataFrame's own default
    pd.testing.assert_index_equal(enc.decode(columns).index, pd.RangeIndex(4))


@pytest.mark.parametrize(
    "columns", [pd.RangeIndex(2), pd.Index([3, 1]), pd.Index(["b", 0])]
)
def test_decoded_frame_has_the_columns_of_the_public_constructor(columns):
    Y = pd.DataFrame({columns[0]: [1.0, 2.0, 0.5], columns[1]: ["x", "y", "x"]})
    enc = TargetEncoder().fit(Y)
    out = enc.inverse_transform(enc.transform(Y).astype(np.float64))
    expected = pd.DataFrame(dict(zip(columns, [Y.iloc[:, 0], Y.iloc[:, 1]])))
    pd.testing.assert_index_equal(out.columns, expected.columns, exact=True)
    pd.testing.assert_frame_equal(out, Y)


def test_a_mixed_list_of_lists_keeps_each_column_its_type():
    # np.asarray would make every cell a string: 1.5 -> "1.5", True -> "True"
    y = [[1.5, True, "a"], [2.0, False, "b"], [0.5, True, "a"]]
    enc = TargetEncoder().fit(y)
    assert enc.types_ == ["regression", "classification", "classification"]
    assert enc.classes_[1].tolist() == [False, True]
    assert enc.classes_[2].tolist() == ["a", "b"]
    decoded = enc.inverse_transform(enc.transform(y))
    assert decoded[:, 0].tolist() == pytest.approx([1.5, 2.0, 0.5])
    assert decoded[:, 1].tolist() == [True, False, True]
