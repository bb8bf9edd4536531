"""The synthetic generator and the abalone loader (``datasets``)."""

import numpy as np
import pandas as pd
import pytest

from sklearn_multihead.datasets import DATA_ENV, load_abalone, make_joint_dataset


def test_make_joint_dataset_shapes_types_and_missing_cells():
    params = dict(
        n_samples=400,
        n_features=6,
        n_regression=2,
        n_binary=1,
        n_multiclass=1,
        n_classes=4,
        n_labels=3,
        n_categorical=1,
        missing_rate=0.2,
        random_state=0,
    )
    X, Y = make_joint_dataset(**params)
    assert X.shape == (400, 7) and X["cat0"].dtype == "str"
    assert list(Y.columns) == [
        "reg_0",
        "reg_1",
        "bin_0",
        "cls_0",
        "label_0",
        "label_1",
        "label_2",
    ]
    assert Y["reg_0"].dtype == np.float64 and Y["bin_0"].dtype == "boolean"
    assert set(Y["cls_0"].dropna()) == {"c0", "c1", "c2", "c3"}
    assert 0.1 < Y.isna().mean().mean() < 0.3
    pd.testing.assert_frame_equal(Y, make_joint_dataset(**params)[1])


def test_make_joint_dataset_errors():
    with pytest.raises(ValueError, match="needs at least one target"):
        make_joint_dataset(n_regression=0, n_binary=0, n_multiclass=0)
    with pytest.raises(ValueError, match="missing_rate must be in"):
        make_joint_dataset(missing_rate=1.0)


def test_load_abalone_from_data_home(abalone):
    assert abalone.shape == (4177, 9)
    assert set(abalone["sex"]) == {"M", "F", "I"}
    assert pd.api.types.is_integer_dtype(abalone["rings"])


def test_load_abalone_offline_without_copy_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "cache"))
    with pytest.raises(OSError, match="pass data_home=FOLDER, or set"):
        load_abalone(download_if_missing=False)


def test_load_abalone_refuses_a_wrong_file(tmp_path):
    (tmp_path / "abalone.csv").write_text("M,0.1,0.1,0.1,0.1,0.1,0.1,0.1,5\n")
    with pytest.raises(ValueError, match="does not look like the abalone data"):
        load_abalone(data_home=tmp_path)
