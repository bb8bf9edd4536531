"""JointRegressorClassifier: learning, outputs, the scikit-learn workflow."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import joint
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import GridSearchCV, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset

FAST = dict(hidden_layer_sizes=(32,), max_iter=100, random_state=0)


def _abalone_split(abalone_xy, missing=0.0):
    X, Y = abalone_xy
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=1)
    if missing:
        rng = np.random.RandomState(0)
        Y_train = Y_train.copy()
        for col in Y_train.columns:
            mask = rng.uniform(size=len(Y_train)) < missing
            Y_train[col] = Y_train[col].astype(
                "Int64" if col == "ring_class" else Y_train[col].dtype
            )
            Y_train.loc[mask, col] = np.nan if col == "rings" else pd.NA
    return X_train, X_test, Y_train, Y_test


def _beats_dummies(est, X_train, Y_train, X_test, Y_test):
    pred = est.predict(X_test)
    for name in Y_train.columns:
        known = Y_train[name].notna().to_numpy()
        if name == "rings":
            dummy = DummyRegressor().fit(X_train[known], Y_train[name][known])
            ours = mean_absolute_error(Y_test[name], pred[name])
            base = mean_absolute_error(Y_test[name], dummy.predict(X_test))
            assert ours < 0.85 * base, (name, ours, base)
        else:
            y_train = Y_train[name][known].astype(Y_test[name].dtype)
            dummy = DummyClassifier().fit(X_train[known], y_train)
            ours = np.mean(pred[name].to_numpy() == Y_test[name].to_numpy())
            base = np.mean(dummy.predict(X_test) == Y_test[name].to_numpy())
            assert ours > base + 0.03, (name, ours, base)


@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_abalone_mixed_targets_learn_and_keep_types(abalone_xy, missing):
    X_train, X_test, Y_train, Y_test = _abalone_split(abalone_xy, missing)
    est = joint(hidden_layer_sizes=(64,), max_iter=60, random_state=0)
    with pytest.warns(UserWarning, match="'ring_class' has an integer dtype"):
        est.fit(X_train, Y_train)
    assert est.target_types_ == ["regression", "classification", "classification"]
    pred = est.predict(X_test)
    assert list(pred.columns) == list(Y_train.columns)
    assert pred["rings"].dtype == np.float64
    assert pred["sex"].dtype == Y_train["sex"].dtype
    assert set(pred["sex"]) <= {"M", "F", "I"}
    assert pd.api.types.is_integer_dtype(pred["ring_class"].dtype)
    assert pred.index.equals(X_test.index)

    proba = est.predict_proba(X_test)
    assert [p.shape for p in proba] == [
        (len(X_test), 3),
        (len(X_test), len(est.classes_[2])),
    ]
    for p in proba:
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert list(est.classes_[1]) == ["F", "I", "M"]
    assert est.classes_[0] is None
    assert np.isfinite(est.score(X_test, Y_test))
    _beats_dummies(est, X_train, Y_train, X_test, Y_test)


def test_missing_cells_add_no_loss_and_rows_still_train():
    X, Y = make_joint_dataset(n_samples=600, random_state=0)
    Y = Y.astype({"bin_0": "boolean"})
    Y.loc[:299, "reg_0"] = np.nan  # half the rows lack the number
    Y.loc[300:, "bin_0"] = pd.NA  # the other half lack the flag
    est = joint(**FAST).fit(X, Y)
    hist = est.history_
    assert hist["train_loss_reg_0"].iloc[-1] < hist["train_loss_reg_0"].iloc[0]
    assert hist["train_loss_bin_0"].iloc[-1] < hist["train_loss_bin_0"].iloc[0]
    assert np.isfinite(hist["train_loss"]).all()
    assert est.predict(X).notna().all().all()


def test_predict_keeps_label_types_of_arrays_and_series():
    X, Y = make_joint_dataset(n_samples=200, n_regression=0, n_multiclass=0)
    y_int = Y["bin_0"].astype(int).to_numpy() + 5  # labels 5 and 6
    est = joint(**FAST).fit(X, y_int)
    pred = est.predict(X)
    assert pred.ndim == 1 and pred.dtype == y_int.dtype
    assert set(np.unique(pred)) <= {5, 6}
    assert est.predict_proba(X).shape == (200, 2)

    y_cat = pd.Series(np.where(Y["bin_0"], "yes", "no"), dtype="category")
    pred = joint(**FAST).fit(X, y_cat).predict(X)
    assert set(np.unique(pred)) <= {"yes", "no"}

    Y2 = np.column_stack([Y["bin_0"].to_numpy(), ~Y["bin_0"].to_numpy()])
    pred = joint(**FAST).fit(X, Y2).predict(X)
    assert pred.shape == (200, 2) and pred.dtype == bool


def test_mixed_ndarray_predicts_object_array():
    X, Y = make_joint_dataset(n_samples=200, n_multiclass=0, random_state=0)
    est = joint(**FAST).fit(X, Y.to_numpy(dtype=object))
    pred = est.predict(X)
    assert pred.dtype == object and pred.shape == (200, 2)
    assert isinstance(pred[0, 0], float) and isinstance(pred[0, 1], bool | np.bool_)


def test_predict_proba_unavailable_without_classification_targets():
    X, Y = make_joint_dataset(n_samples=100, n_binary=0, n_multiclass=0)
    est = joint(**FAST).fit(X, Y)
    assert not hasattr(est, "predict_proba")
    with pytest.raises(AttributeError) as info:
        est.predict_proba(X)
    assert "fitted with regression targets only" in str(info.value.__cause__)


def test_cross_validate_default_score_is_finite():
    X, Y = make_joint_dataset(n_samples=300, missing_rate=0.1, random_state=0)
    res = cross_validate(joint(**FAST), X, Y, cv=3)
    assert np.isfinite(res["test_score"]).all()
    assert (res["test_score"] > 0.3).all()


def test_grid_search_over_hidden_layer_sizes():
    X, Y = make_joint_dataset(n_samples=300, random_state=0)
    search = GridSearchCV(
        joint(max_iter=20, random_state=0),
        {"hidden_layer_sizes": [(4,), (32, 16)]},
        cv=2,
        error_score="raise",
    ).fit(X, Y)
    assert search.best_params_["hidden_layer_sizes"] in [(4,), (32, 16)]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_pipeline_with_column_transformer_predicts_bool_as_bool():
    X, Y = make_joint_dataset(n_samples=300, n_categorical=2, random_state=0)
    cats = ["cat0", "cat1"]
    nums = [c for c in X.columns if c not in cats]
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(), cats), ("num", StandardScaler(), nums)]
    )
    pipe = make_pipeline(pre, joint(**FAST)).fit(X, Y)
    pred = pipe.predict(X)
    assert pred["bin_0"].dtype == bool
    assert pred["cls_0"].dtype == Y["cls_0"].dtype
    assert pipe.score(X, Y) > 0.5


def test_random_state_gives_identical_fits_and_leaves_global_rng_alone():
    X, Y = make_joint_dataset(n_samples=200, random_state=0)
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    est = joint(dropout=0.2, early_stopping=True, **FAST)
    a = clone(est).fit(X, Y)
    b = clone(est).fit(X, Y)
    for pa, pb in zip(a.net_.module_.parameters(), b.net_.module_.parameters()):
        assert torch.equal(pa, pb)
    pd.testing.assert_frame_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    c = clone(est).set_params(random_state=1).fit(X, Y)
    assert not np.allclose(a.predict(X)["reg_0"], c.predict(X)["reg_0"])


def test_early_stopping_records_validation_losses_and_stops():
    X, Y = make_joint_dataset(n_samples=400, random_state=0)
    est = joint(
        early_stopping=True, n_iter_no_change=3, max_iter=300, random_state=0
    ).fit(X, Y)
    cols = set(est.history_.columns)
    assert {"train_loss", "valid_loss"} <= cols
    assert {f"valid_loss_{c}" for c in Y.columns} <= cols
    assert est.n_iter_ < 300
    best = est.history_["valid_loss"].min()
    # the best weights are restored: the validation loss now equals the best
    assert best == pytest.approx(est.history_["valid_loss"].min())


def test_verbose_prints_per_target_columns(capsys):
    X, Y = make_joint_dataset(n_samples=100, random_state=0)
    joint(max_iter=2, verbose=1, n_models=1, random_state=0).fit(X, Y)
    out = capsys.readouterr().out
    assert "train_loss_reg_0" in out and "train_loss_cls_0" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 2
    assert "batch" not in capsys.readouterr().err  # no progress bar at verbose=1


def test_verbose_2_adds_a_progress_bar_over_batches(capsys):
    X, Y = make_joint_dataset(n_samples=200, random_state=0)
    joint(max_iter=2, batch_size=50, verbose=2, random_state=0).fit(X, Y)
    captured = capsys.readouterr()
    assert "train_loss_reg_0" in captured.out  # the per-epoch lines are kept
    # skorch's ProgressBar: it knows the total, 4 training batches (180 of
    # the 200 rows, in batches of 50) and 1 validation batch
    assert "0/5 " in captured.err and "it/s" in captured.err


def test_pickle_and_joblib_round_trips(tmp_path):
    X, Y = make_joint_dataset(n_samples=100, random_state=0)
    est = joint(**FAST).fit(X, Y)
    again = pickle.loads(pickle.dumps(est))
    pd.testing.assert_frame_equal(again.predict(X), est.predict(X))
    joblib.dump(est, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    pd.testing.assert_frame_equal(again.predict(X), est.predict(X))
    assert clone(est).get_params() == est.get_params()


def test_sample_weight_zero_rows_are_ignored():
    X, Y = make_joint_dataset(n_samples=300, n_binary=0, n_multiclass=0)
    w = np.ones(len(X))
    w[:150] = 0.0
    Y_bad = Y.copy()
    Y_bad.loc[:149, "reg_0"] = 1e3  # garbage that weight 0 must hide
    est = joint(**FAST).fit(X, Y_bad, sample_weight=w)
    pred = est.predict(X[150:])
    assert np.abs(pred["reg_0"] - Y["reg_0"][150:]).mean() < 2.0


def test_class_weight_balanced_raises_minority_recall():
    X, Y = make_joint_dataset(n_samples=600, n_regression=0, n_multiclass=0)
    # noisy: no model finds every rare row, so the weights have room to help
    s = X["x0"] + 0.5 * X["x1"] + np.random.RandomState(0).normal(size=600)
    y = pd.DataFrame({"rare": s > s.quantile(0.9)})
    plain = joint(**FAST).fit(X, y).predict(X)
    weighted = joint(class_weight="balanced", **FAST).fit(X, y).predict(X)
    recall = [np.mean(p["rare"][y["rare"]]) for p in (plain, weighted)]
    assert recall[1] > recall[0] + 0.2


@pytest.mark.parametrize("loss_weights", [[1.0, 0.0, 1.0], {"bin_0": 0.0}])
def test_loss_weight_zero_leaves_a_head_untrained(loss_weights):
    X, Y = make_joint_dataset(n_samples=300, random_state=0)
    est = joint(loss_weights=loss_weights, **FAST).fit(X, Y)
    hist = est.history_
    assert hist["train_loss_reg_0"].iloc[-1] < 0.5 * hist["train_loss_reg_0"].iloc[0]
    first, last = hist["train_loss_bin_0"].iloc[[0, -1]]
    assert last == pytest.approx(first, rel=0.2)


def test_uncertainty_weighting_learns_weights():
    X, Y = make_joint_dataset(n_samples=300, random_state=0)
    est = joint(loss_weights="uncertainty", **FAST).fit(X, Y)
    w = est.net_.criterion_.effective_weights()
    assert w.shape == (3,) and not torch.allclose(w, torch.tensor([0.5, 1.0, 1.0]))
    assert est.score(X, Y) > 0.5


@pytest.mark.parametrize("n_rows, weighted_up", [(9_999, False), (10_000, True)])
def test_auto_loss_weights_weigh_a_well_learnt_target_up_from_10000_rows(
    n_rows, weighted_up
):
    # an almost exact regression target beside a class target that nothing
    # predicts: from 10,000 rows "auto" weighs the regression target up by
    # its held-out loss after every epoch; below, equal weights
    X, Y = make_joint_dataset(
        n_samples=n_rows, n_multiclass=0, noise=0.02, random_state=0
    )
    Y["bin_0"] = np.random.RandomState(0).uniform(size=n_rows) < 0.5
    est = joint(hidden_layer_sizes=(16,), max_iter=8, random_state=0)
    assert est.get_params()["loss_weights"] == "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    hist = est.history_
    # early stopping watches the targets' losses with equal weights
    np.testing.assert_allclose(
        hist["valid_loss"], hist["valid_loss_reg_0"] + hist["valid_loss_bin_0"]
    )
    if not weighted_up:
        assert not any(c.startswith("loss_weight_") for c in hist.columns)
        assert est.net_.criterion_.effective_weights().tolist() == [1.0, 1.0]
        return
    assert (hist["loss_weight_bin_0"] == 1.0).all()
    reg = hist["loss_weight_reg_0"]
    assert reg.iloc[-1] > 5
    # each epoch's weight is half the constant prediction's loss over the
    # held-out loss (the standardised target's constant loss is about 1)
    # (at least 1, as for a target learnt less than halfway)
    expected = np.maximum(1.0, 0.5 / hist["valid_loss_reg_0"])
    np.testing.assert_allclose(reg, expected, rtol=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_auto_loss_weights_learn_a_nearly_exact_target_beside_a_noisy_one(seed):
    # 16,000 rows: a regression target the features give almost exactly,
    # beside a 3-class target with half its labels shuffled. With equal
    # weights the class loss (~1.0) drowns the regression loss (~0.01) and
    # stops training early; "auto" weighs the regression target up
    X, Y = make_joint_dataset(
        n_samples=16_000, n_binary=0, noise=0.005, random_state=seed
    )
    rng = np.random.RandomState(seed)
    shuffled = rng.uniform(size=len(Y)) < 0.5
    Y.loc[shuffled, "cls_0"] = rng.choice(Y["cls_0"].unique(), size=shuffled.sum())
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)
    scores = {}
    for weights in (None, "auto"):
        est = joint(hidden_layer_sizes=(64, 64), loss_weights=weights, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pred = est.fit(X_train, Y_train).predict(X_test)
        rmse = np.sqrt(np.mean((pred["reg_0"] - Y_test["reg_0"]) ** 2))
        scores[weights] = rmse, (pred["cls_0"] == Y_test["cls_0"]).mean()
    assert scores["auto"][0] < 0.5 * scores[None][0], scores
    assert scores["auto"][1] > scores[None][1] - 0.02, scores


def test_held_out_loss_weights_need_a_validation_split():
    X, Y = make_joint_dataset(n_samples=300, random_state=0)
    with pytest.raises(
        ValueError,
        match=r"loss_weights='held_out' sets the weights from the validation "
        r"losses, but this fit holds out no validation split \(early_stopping="
        r"False, fewer than 200 rows with early_stopping='auto', or "
        r"partial_fit\). Set early_stopping=True and use fit, or choose other "
        r"loss_weights.",
    ):
        joint(loss_weights="held_out", early_stopping=False, **FAST).fit(X, Y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_held_out_loss_weights_train_on_the_gpu():
    # the constants, the held-out losses and the weights meet on one device
    X, Y = make_joint_dataset(n_samples=600, noise=0.02, random_state=0)
    est = joint(loss_weights="held_out", device="cuda", **FAST).fit(X, Y)
    assert est.history_["loss_weight_reg_0"].iloc[-1] > 1
    assert est.score(X, Y) > 0.5


def test_head_hidden_layers_batch_norm_and_regression_losses():
    X, Y = make_joint_dataset(n_samples=300, random_state=0)
    for params in (
        dict(head_hidden_layer_sizes=(8,), batch_norm=True, dropout=0.1),
        dict(regression_loss="huber", activation="tanh"),
        dict(regression_loss="absolute_error", batch_size=64),
    ):
        est = joint(**FAST, **params).fit(X, Y)
        assert est.score(X, Y) > 0.5, params


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(hidden_layer_sizes=(0,)),
            "hidden_layer_sizes must hold positive integers",
        ),
        (dict(max_iter=0), "The 'max_iter' parameter .* must be an int"),
        (dict(regression_loss="l3"), "The 'regression_loss' parameter"),
        (
            dict(loss_weights=[1.0, 2.0]),
            "loss_weights has 2 entries but there are 3 targets",
        ),
        (dict(loss_weights={"nope": 1.0}), "loss_weights names unknown targets"),
        (
            dict(class_weight={"reg_0": "balanced"}),
            "class_weight is given for regression targets",
        ),
        (
            dict(class_weight=[None]),
            "class_weight has 1 entries but there are 2 classification",
        ),
        (
            dict(class_weight={"bin_0": {"maybe": 2.0}}),
            "names labels \\['maybe'\\] that are not among its classes",
        ),
        (
            dict(target_types=["regression"]),
            "target_types has 1 entries but y has 3 target columns",
        ),
        (dict(target_types={"zz": "regression"}), "names unknown target columns"),
        (
            dict(class_weight={"bin_0": "even"}),
            "class_weight for target 'bin_0' must be None, 'balanced' or a dict",
        ),
        (dict(target_types={"reg_0": "number"}), "must be one of"),
        (
            dict(target_types={"cls_0": "regression"}),
            "typed as regression but holds values that are not numbers",
        ),
        (dict(device="cuda:7"), "torch sees no CUDA GPU"),
    ],
)
def test_bad_parameters_are_reported(params, match):
    if "device" in params and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    X, Y = make_joint_dataset(n_samples=50, random_state=0)
    with pytest.raises(ValueError, match=match):
        joint(**{**FAST, **params}).fit(X, Y)


def test_bad_targets_are_reported():
    X, Y = make_joint_dataset(n_samples=50, random_state=0)
    est = joint(**FAST)
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.fit(X, None)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, Y[:40])
    Y_empty = Y.assign(reg_0=np.nan)
    with pytest.raises(ValueError, match="'reg_0' has no known value"):
        est.fit(X, Y_empty)
    with pytest.raises(ValueError, match="'reg_0' contains infinity"):
        est.fit(X, Y.assign(reg_0=np.inf))
    with pytest.raises(ValueError, match="column 's' holds dates"):
        est.fit(X.assign(s=pd.Timestamp("2025-01-01")), Y)
    with pytest.raises(ValueError, match="early_stopping=True holds out"):
        joint(early_stopping=True, validation_fraction=0.9).fit(X[:1], Y[:1])


def test_divergence_stops_with_a_clear_error():
    X, Y = make_joint_dataset(n_samples=200, random_state=0)
    est = joint(learning_rate_init=1e6, max_iter=50, random_state=0)
    with pytest.raises(FloatingPointError, match="Lower learning_rate_init"):
        est.fit(X * 1e6, Y)
    # no NaN model is left behind: the estimator is not fitted at all
    assert not [k for k in vars(est) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        est.predict(X)


def test_a_failed_refit_keeps_the_previous_model():
    X, Y = make_joint_dataset(n_samples=200, random_state=0)
    est = joint(**FAST).fit(X, Y)
    before = est.predict(X)
    est.set_params(learning_rate_init=1e6, max_iter=50, numeric_transform="none")
    with pytest.raises(FloatingPointError, match="Training diverged in epoch"):
        est.fit(X * 1e6, Y)
    pd.testing.assert_frame_equal(est.predict(X), before)
    assert np.isfinite(est.predict(X).select_dtypes("number").to_numpy()).all()


def test_predictions_do_not_depend_on_the_forward_chunk_size(monkeypatch):
    from sklearn_multihead._joint import net as _net

    X, Y = make_joint_dataset(
        n_samples=1500, n_binary=1, n_multiclass=1, n_labels=2, random_state=0
    )
    est = joint(hidden_layer_sizes=(32,), max_iter=3, random_state=0).fit(X, Y)
    one_pass = est.predict(X), est.predict_proba(X)
    assert _net.eval_batch_size(est.net_.module_, "cpu") >= len(X)
    monkeypatch.setattr(_net, "CPU_EVAL_FLOATS", 1)  # 512-row chunks
    assert _net.eval_batch_size(est.net_.module_, "cpu") == 512
    chunked = est.predict(X), est.predict_proba(X)
    pd.testing.assert_frame_equal(chunked[0], one_pass[0], check_exact=False)
    for a, b in zip(chunked[1], one_pass[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_forward_chunks_shrink_as_layers_widen():
    from sklearn_multihead._joint import net as _net
    from sklearn_multihead._joint.module import MultiHeadMLP

    def rows(width):
        module = MultiHeadMLP(n_features=8, head_sizes=[1], hidden_layer_sizes=(width,))
        return _net.eval_batch_size(module, "cpu")

    assert rows(64) == 16384 and rows(256) == 4096 and rows(1 << 14) == 512
    assert (
        _net.eval_batch_size(MultiHeadMLP(n_features=8, head_sizes=[1]), "cuda")
        == 65536
    )


def test_predict_runs_dropout_layers_in_eval_mode():
    X, Y = make_joint_dataset(n_samples=300, n_binary=1, random_state=0)
    est = joint(hidden_layer_sizes=(32,), dropout=0.5, max_iter=3, random_state=0).fit(
        X, Y
    )
    first = est.predict(X)
    pd.testing.assert_frame_equal(est.predict(X), first)
    est.net_.module_.train(True)  # e.g. left in training mode by user code
    pd.testing.assert_frame_equal(est.predict(X), first)
    # predicting runs a copy: the mode of a module being trained is its own
    assert est.net_.module_.training


def test_callbacks_run_every_epoch_and_are_not_saved(tmp_path):
    from skorch.callbacks import Callback

    seen = []

    class Count(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(len(net.history))

    X = np.random.RandomState(0).normal(size=(60, 3))
    est = joint(max_iter=4, n_models=1, callbacks=[Count(), ("again", Count())])
    est.fit(X, X[:, 0])
    assert seen == [1, 1, 2, 2, 3, 3, 4, 4]  # both callbacks, every epoch
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "m.safetensors"))
    assert loaded.callbacks is None
    np.testing.assert_allclose(loaded.predict(X), est.predict(X))


@pytest.mark.parametrize(
    "n_train, size", [(1, 1), (10, 10), (240, 16), (600, 32), (2200, 128), (50000, 256)]
)
def test_auto_batch_size_gives_small_tables_steps_to_learn_from(n_train, size):
    from sklearn_multihead._joint.training import auto_batch_size

    assert auto_batch_size(n_train) == size
