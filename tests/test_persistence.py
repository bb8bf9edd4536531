"""Safe model files: round trips, and refusal of anything that is not one."""

import json
import pickle
import struct

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import joint
from safetensors.numpy import save_file

from sklearn_multihead import (
    JointRegressorClassifier,
    RandomForestRegressorClassifier,
)
from sklearn_multihead._persist import (
    ModelFileError,
    decode,
    encode,
    read_model,
    write_model,
)

FAST = {"max_iter": 5, "random_state": 0}


def _mixed_frame(n=80, seed=0):
    """Features and targets of every label type the estimators keep."""
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(
        rng.normal(size=(n, 3)),
        columns=["a", "b", "c"],
        index=pd.RangeIndex(100, 100 + n),
    )
    Y = pd.DataFrame(
        {
            "size": X["a"].to_numpy() * 3.0 + 10.0,
            "word": np.where(X["b"] > 0, "up", "down"),
            "count": (X["c"] > 0).to_numpy(dtype=np.int64) + 5,
            "grade": pd.Categorical(
                np.where(X["a"] > 0.5, "hi", np.where(X["a"] < -0.5, "lo", "mid")),
                categories=["lo", "mid", "hi", "unused"],
                ordered=True,
            ),
            "nullable_int": pd.array((X["c"] > 0).to_numpy(dtype=int), dtype="Int64"),
            "nullable_bool": pd.array(X["a"].to_numpy() > 0, dtype="boolean"),
            "flag": X["b"].to_numpy() > 0.3,
        },
        index=pd.RangeIndex(100, 100 + n),
    )
    Y.iloc[::7, 0] = np.nan  # missing cells are part of the fitted state
    return X, Y


def _assert_same_model(a, b, X):
    pa, pb = a.predict(X), b.predict(X)
    if isinstance(pa, pd.DataFrame):
        pd.testing.assert_frame_equal(pa, pb)
    else:
        np.testing.assert_array_equal(pa, pb)
        assert pa.dtype == pb.dtype
    for ca, cb in zip(a.target_classes_, b.target_classes_):
        if ca is None:
            assert cb is None
        else:
            np.testing.assert_array_equal(ca, cb)
            assert ca.dtype == cb.dtype
            assert [type(v) for v in ca] == [type(v) for v in cb]
    if hasattr(a, "predict_proba"):
        for qa, qb in zip(a.predict_proba(X), b.predict_proba(X)):
            np.testing.assert_array_equal(qa, qb)
    assert a.get_params() == b.get_params()
    assert a.score(X, a.predict(X)) == b.score(X, b.predict(X))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {
            "loss_weights": "uncertainty",
            "class_weight": "balanced",
            "batch_norm": True,
            "head_hidden_layer_sizes": (4,),
            "hidden_layer_sizes": (8,),
            "learning_rate": "adaptive",
        },
        {"loss_weights": {"size": 2.0}, "class_weight": {"flag": {True: 3.0}}},
        {"loss_weights": "held_out", "early_stopping": True},
    ],
)
def test_joint_round_trip_keeps_predictions_labels_and_dtypes(tmp_path, params):
    X, Y = _mixed_frame()
    est = joint(**FAST, **params).fit(X, Y)
    path = est.save(tmp_path / "model.safetensors")
    loaded = JointRegressorClassifier.load(path)
    _assert_same_model(est, loaded, X)
    pd.testing.assert_frame_equal(est.history_, loaded.history_)
    # fitted and loaded alike, every layer of the network in eval mode
    for model in (est, loaded):
        assert not any(m.training for m in model.net_.module_.modules())
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "c"])
    assert loaded.predict(X).index.equals(X.index)
    # the loaded model is an ordinary estimator: it can be refitted
    loaded.fit(X, Y)


@pytest.mark.parametrize(
    "y",
    [
        np.array(["b", "a", "c", "a"] * 10),
        np.arange(40) % 3 == 0,
        np.linspace(0, 1, 40),
        np.array([[1.5, "x"], [2.5, "y"]] * 20, dtype=object),
    ],
    ids=["str-1d", "bool-1d", "float-1d", "object-2d"],
)
def test_round_trip_of_array_targets(tmp_path, y):
    X = np.random.RandomState(0).normal(size=(40, 2))
    for est in (
        joint(**FAST),
        RandomForestRegressorClassifier(n_estimators=3, random_state=0),
    ):
        est.fit(X, y)
        loaded = type(est).load(est.save(tmp_path / "m.safetensors"))
        _assert_same_model(est, loaded, X)


def test_baseline_round_trip_with_missing_cells(tmp_path):
    X, Y = _mixed_frame()
    est = RandomForestRegressorClassifier(n_estimators=5, random_state=0).fit(X, Y)
    loaded = RandomForestRegressorClassifier.load(est.save(tmp_path / "rf.st"))
    _assert_same_model(est, loaded, X)
    assert len(loaded.estimators_) == len(est.estimators_)


def test_loading_runs_no_unpickling(tmp_path, monkeypatch):
    X, Y = _mixed_frame()
    net = joint(**FAST).fit(X, Y)
    forest = RandomForestRegressorClassifier(n_estimators=3).fit(X, Y)
    net.save(tmp_path / "joint")
    forest.save(tmp_path / "forest")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    _assert_same_model(net, JointRegressorClassifier.load(tmp_path / "joint"), X)
    _assert_same_model(
        forest, RandomForestRegressorClassifier.load(tmp_path / "forest"), X
    )


class _Payload:
    """Unpickling this would create the file named ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize(
    "estimator", [JointRegressorClassifier, RandomForestRegressorClassifier]
)
@pytest.mark.parametrize("how", ["pickle", "joblib", "torch"])
def test_a_pickle_payload_is_refused_and_never_run(tmp_path, estimator, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    payload = _Payload(marker)
    if how == "pickle":
        path.write_bytes(pickle.dumps(payload))
    elif how == "joblib":
        import joblib

        joblib.dump(payload, path)
    else:
        torch.save({"w": torch.ones(2), "p": payload}, path)
    with pytest.raises(ModelFileError, match="cannot be read as safetensors"):
        estimator.load(path)
    assert not marker.exists()


@pytest.fixture
def saved(tmp_path):
    X, Y = _mixed_frame()
    path = joint(**FAST).fit(X, Y).save(tmp_path / "m.safetensors")
    return path


def _header(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _write_header(path, header, body):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)


def test_a_changed_tensor_is_refused(saved):
    raw = bytearray(saved.read_bytes())
    raw[-3] ^= 0xFF  # one byte of the last tensor
    saved.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="was changed after it was written"):
        JointRegressorClassifier.load(saved)


def test_a_changed_document_is_refused(saved):
    header, body = _header(saved)
    doc = header["__metadata__"]["sklearn_multihead"]
    header["__metadata__"]["sklearn_multihead"] = doc.replace('"up"', '"UP"')
    assert header["__metadata__"]["sklearn_multihead"] != doc
    _write_header(saved, header, body)
    with pytest.raises(ModelFileError, match="was changed after it was written"):
        JointRegressorClassifier.load(saved)


def test_a_truncated_file_is_refused(saved):
    raw = saved.read_bytes()
    saved.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="cannot be read as safetensors"):
        JointRegressorClassifier.load(saved)


def test_foreign_files_are_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": np.ones((2, 2), dtype=np.float32)}, str(path))
    with pytest.raises(ModelFileError, match="without sklearn-multihead metadata"):
        JointRegressorClassifier.load(path)
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="cannot be read as safetensors"):
        JointRegressorClassifier.load(path)
    with pytest.raises(FileNotFoundError, match="No model file at"):
        JointRegressorClassifier.load(tmp_path / "missing.safetensors")


def test_newer_format_and_other_estimator_are_refused(tmp_path, saved):
    doc, tensors = read_model(saved)
    newer = tmp_path / "newer"
    write_model(newer, {**doc, "format_version": 999}, tensors)
    with pytest.raises(ModelFileError, match="format version 999.*Upgrade"):
        JointRegressorClassifier.load(newer)
    with pytest.raises(
        ModelFileError, match="holds a 'JointRegressorClassifier', not a Random"
    ):
        RandomForestRegressorClassifier.load(saved)


def test_a_consistent_digest_does_not_make_a_bad_model_loadable(tmp_path, saved):
    """Someone who rewrites the digest still cannot load a network that does not
    match its description."""
    doc, tensors = read_model(saved)
    module = decode(doc["module"])
    module["hidden_layer_sizes"] = [7, 3]
    bad = tmp_path / "bad"
    write_model(bad, {**doc, "module": encode(module)}, tensors)
    with pytest.raises(ModelFileError, match="damaged or inconsistent"):
        JointRegressorClassifier.load(bad)
    extra = tmp_path / "extra"
    write_model(extra, doc, {**tensors, "module.evil": np.zeros(3, np.float32)})
    with pytest.raises(ModelFileError, match="damaged or inconsistent"):
        JointRegressorClassifier.load(extra)


def test_a_model_saved_on_a_gpu_loads_on_the_cpu(tmp_path, monkeypatch):
    X, Y = _mixed_frame()
    est = joint(**FAST).fit(X, Y)
    # tensors are always written from host memory; the file records the device
    est.device_ = "cuda:0"
    path = est.save(tmp_path / "gpu.safetensors")
    est.device_ = "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = JointRegressorClassifier.load(path)
    assert loaded.device_ == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    _assert_same_model(est, loaded, X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_model_fitted_on_a_gpu_loads_on_the_cpu(tmp_path):
    X, Y = _mixed_frame()
    est = joint(**FAST, device="cuda").fit(X, Y)
    loaded = JointRegressorClassifier.load(
        est.save(tmp_path / "gpu.safetensors"), device="cpu"
    )
    pd.testing.assert_frame_equal(
        est.predict(X), loaded.predict(X), check_exact=False, rtol=1e-4
    )


def test_saving_needs_a_fitted_model_and_savable_values(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        JointRegressorClassifier().save(tmp_path / "m")
    with pytest.raises(TypeError, match="x: a value of type object cannot be saved"):
        encode(object(), where="x")


def test_random_state_objects_are_saved_as_none(tmp_path):
    X, Y = _mixed_frame()
    est = joint(max_iter=3, random_state=np.random.RandomState(0))
    loaded = JointRegressorClassifier.load(est.fit(X, Y).save(tmp_path / "m"))
    assert loaded.random_state is None
    pd.testing.assert_frame_equal(est.predict(X), loaded.predict(X))


@pytest.mark.parametrize(
    "value",
    [
        None,
        (1, "a", 2.5),
        {1: "x", (2, "t"): None, "k": [1, 2]},
        np.array([1, 2], dtype=np.int16),
        np.array(["a", "bc"]),
        np.array([1, "a", np.int64(3)], dtype=object),
        np.float32(1.5),
        float("nan"),
        np.dtype("float32"),
        pd.CategoricalDtype(["b", "a"], ordered=True),
        pd.Int64Dtype(),
    ],
)
def test_encode_decode_is_the_identity(value):
    text = json.dumps(encode(value), allow_nan=False)
    back = decode(json.loads(text))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
        assert back.dtype == value.dtype
        assert [type(v) for v in back.tolist()] == [type(v) for v in value.tolist()]
    elif isinstance(value, float) and np.isnan(value):
        assert np.isnan(back)
    else:
        assert back == value


@pytest.mark.parametrize(
    "bad", [{"__eval__": "1"}, {"__dtype__": "V8"}, {"__float__": "1e400"}]
)
def test_decode_refuses_unknown_tags(bad):
    with pytest.raises(ModelFileError):
        decode(bad)


def test_skops_round_trip_of_the_forest_before_and_after_predict():
    import skops.io as sio

    from sklearn_multihead import RandomForestRegressorClassifier
    from sklearn_multihead.datasets import make_joint_dataset

    X, Y = make_joint_dataset(n_samples=100, random_state=0)
    rf = RandomForestRegressorClassifier(n_estimators=3, random_state=0).fit(X, Y)
    for _ in range(2):  # before predict, then after (the decode cache is built)
        blob = sio.dumps(rf)
        types = sio.get_untrusted_types(data=blob)
        assert set(types) == {
            "numpy.dtype",
            "pandas.StringDtype",
            "sklearn.tree._tree.Tree",
            "sklearn_multihead._forest.estimator.RandomForestRegressorClassifier",
            "sklearn_multihead._targets.TargetEncoder",
        }
        expected = rf.predict(X)
        pd.testing.assert_frame_equal(
            sio.loads(blob, trusted=types).predict(X), expected
        )


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_a_loaded_forest_predicts_exactly_as_the_fitted_one(
    tmp_path, sparse, monkeypatch
):
    """The loaded forest walks the saved trees in numpy (no scikit-learn tree
    objects are rebuilt from the file): its predictions and probabilities are
    the fitted forest's, bit for bit, for multi-output, multi-class and
    per-target (missing cells) forests."""
    import scipy.sparse as sp

    from sklearn_multihead._forest.arrays import ForestArrays

    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 5))
    if sparse:
        X[rng.rand(*X.shape) < 0.6] = 0.0
        X = sp.csr_matrix(X)
    dense = X.toarray() if sparse else X
    Y = pd.DataFrame(
        {
            "r": dense[:, 0] + rng.normal(size=400),
            "s": np.where(rng.rand(400) < 0.1, np.nan, dense[:, 1]),
            "b": dense[:, 2] > 0,
            "m": np.digitize(dense[:, 3], [-1, 0, 1]).astype(str),
        }
    )
    est = RandomForestRegressorClassifier(
        n_estimators=7, class_weight="balanced", random_state=0
    ).fit(X, Y)
    loaded = RandomForestRegressorClassifier.load(est.save(tmp_path / "rf.st"))
    assert all(isinstance(f, ForestArrays) for f, _ in loaded.estimators_)
    # walked in blocks of 50 rows (7 trees x 50 pairs), summed across blocks
    monkeypatch.setattr("sklearn_multihead._forest.arrays.WALK_PAIRS", 7 * 50)
    X_new = rng.normal(size=(300, 5))
    X_new = sp.csr_matrix(X_new) if sparse else X_new
    pd.testing.assert_frame_equal(
        loaded.predict(X_new), est.predict(X_new), check_exact=True
    )
    for got, want in zip(loaded.predict_proba(X_new), est.predict_proba(X_new)):
        np.testing.assert_array_equal(got, want)
    again = RandomForestRegressorClassifier.load(loaded.save(tmp_path / "rf2.st"))
    pd.testing.assert_frame_equal(again.predict(X_new), est.predict(X_new))


def test_a_description_too_large_to_read_back_is_never_written(tmp_path):
    from sklearn_multihead._persist import MAX_HEADER_BYTES, write_model

    path = tmp_path / "model.skmh"
    path.write_bytes(b"the user's earlier model")
    huge = {"labels": ["x" * 1000] * (MAX_HEADER_BYTES // 1000)}
    with pytest.raises(ValueError, match="more than a model file holds.*Nothing was"):
        write_model(path, huge, {})
    assert path.read_bytes() == b"the user's earlier model"
