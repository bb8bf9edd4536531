"""``target_networks``: each target's own model beside the joint networks,
their predictions averaged."""

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.metrics import log_loss
from skorch.callbacks import Callback

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._persist import ModelFileError, decode, encode

PARAMS = dict(random_state=0, n_threads=1, hidden_layer_sizes=(32, 32), n_models=3)


def mixed(n, seed):
    """A number, a yes/no label set by a threshold of one feature (a target
    that a model of its own learns well), and a three-class label."""
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    Y = pd.DataFrame(
        {
            "amount": X["a"] * 2 + X["b"] + rng.normal(size=n),
            "flag": np.where(X["c"] + 0.3 * rng.normal(size=n) > 0, "yes", "no"),
            "grade": pd.Categorical(
                np.array(["lo", "mid", "hi"])[
                    np.digitize(X["d"] + rng.normal(size=n), [-0.5, 0.5])
                ]
            ),
        }
    )
    return X, Y


@pytest.fixture(scope="module")
def fitted():
    X, Y = mixed(500, 0)
    train, test = slice(0, 350), slice(350, None)
    models = {
        flag: JointRegressorClassifier(target_networks=flag, **PARAMS).fit(
            X[train], Y[train]
        )
        for flag in (False, True)
    }
    return models, X[test], Y[test]


def test_each_target_is_the_average_of_the_joint_and_its_own_model(fitted):
    models, X, _ = fitted
    joint, both = models[False], models[True]
    assert joint.target_networks_ == []
    assert len(both.target_networks_) == 3
    own = both.target_networks_
    # the same seeds: the joint networks of both fits are the same networks
    assert [m.target_types_ for m in own] == [[t] for t in both.target_types_]
    pred, alone = both.predict(X), [m.predict(X) for m in own]
    expected = (joint.predict(X)["amount"] + alone[0]["amount"]) / 2
    np.testing.assert_allclose(pred["amount"], expected, rtol=1e-6)
    for j, proba in enumerate(both.predict_proba(X)):
        mean = (joint.predict_proba(X)[j] + own[j + 1].predict_proba(X)[0]) / 2
        np.testing.assert_allclose(proba, mean, rtol=1e-6, atol=1e-9)
        assert np.array_equal(pred.iloc[:, j + 1], both.classes_[j + 1][mean.argmax(1)])


def test_it_learns_and_keeps_labels_and_dtypes(fitted):
    models, X, Y = fitted
    both = models[True]
    pred = both.predict(X)
    assert list(pred.columns) == list(Y.columns)
    assert pred.dtypes.equals(models[False].predict(X).dtypes)
    assert set(pred["flag"]) <= {"yes", "no"}
    dummy = DummyClassifier(strategy="prior").fit(X, Y["flag"])
    proba = both.predict_proba(X)[0]
    assert log_loss(Y["flag"], proba, labels=both.classes_[1]) < 0.6 * log_loss(
        Y["flag"], dummy.predict_proba(X), labels=dummy.classes_
    )


def test_intervals_come_from_the_held_out_rows_of_the_average(fitted):
    models, X, _ = fitted
    joint, both = models[False], models[True]
    # the same validation rows (the same seeds), other residuals: the average's
    assert len(both.interval_residuals_[0]) == len(joint.interval_residuals_[0])
    assert not np.allclose(both.interval_residuals_[0], joint.interval_residuals_[0])
    assert both.interval_residuals_[1] is None
    # the fit's per-row held-out predictions are not kept in the model
    assert not any("_held_out_fit" in vars(m) for m in [both, *both.target_networks_])
    bounds = both.predict_interval(X)
    centre = both.predict(X)["amount"].to_numpy()
    assert np.all(bounds.iloc[:, 0] <= centre) and np.all(centre <= bounds.iloc[:, 1])


def test_auto_is_on_below_2500_rows_with_two_to_four_targets():
    small = dict(hidden_layer_sizes=(8,), n_models=1, max_iter=2, random_state=0)
    X, Y = mixed(2_500, 1)
    big = JointRegressorClassifier(**small).fit(X, Y)
    assert big.target_networks_ == []
    fewer = JointRegressorClassifier(**small).fit(X[:2_499], Y[:2_499])
    assert len(fewer.target_networks_) == 3
    one = JointRegressorClassifier(**small).fit(X[:300], Y["flag"][:300])
    assert one.target_networks_ == []
    tags = pd.DataFrame({f"tag{i}": X[col] > 0 for i, col in enumerate("abcda")})
    many = JointRegressorClassifier(**small).fit(X[:300], tags[:300])
    assert many.target_networks_ == []  # five targets: off
    forced = JointRegressorClassifier(target_networks=True, **small).fit(X, Y)
    assert len(forced.target_networks_) == 3


def test_training_further_trains_each_targets_own_model():
    X, Y = mixed(300, 2)
    model = JointRegressorClassifier(max_iter=3, **PARAMS).fit(X, Y)
    before = [m.n_iter_ for m in model.target_networks_]
    model.partial_fit(X, Y)
    assert [m.n_iter_ for m in model.target_networks_] == [n + 1 for n in before]
    model.set_params(warm_start=True).fit(X, Y)
    assert all(m.n_iter_ > n + 1 for m, n in zip(model.target_networks_, before))
    # a first partial_fit builds no target networks
    first = JointRegressorClassifier(**PARAMS).partial_fit(X, Y)
    assert first.target_networks_ == []


def test_class_weights_and_user_callbacks():
    class Epochs(Callback):
        def initialize(self):
            self.seen = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.seen += 1

    X, Y = mixed(300, 3)
    seen = {}
    for flag in (False, True):
        counter = Epochs()
        model = JointRegressorClassifier(
            target_networks=flag,
            class_weight={"grade": {"hi": 3.0}},
            callbacks=[counter],
            **PARAMS,
        ).fit(X, Y)
        seen[flag] = counter.seen
    # the user's callbacks see the joint networks' training only
    assert seen[True] == seen[False] > 0
    assert [m.class_weight for m in model.target_networks_] == [
        None,
        None,
        [{"hi": 3.0}],
    ]
    assert all(m.callbacks is None for m in model.target_networks_)


def test_a_model_file_keeps_them(fitted, tmp_path):
    models, X, _ = fitted
    both = models[True]
    path = both.save(tmp_path / "both.safetensors")
    loaded = JointRegressorClassifier.load(path)
    assert len(loaded.target_networks_) == 3
    pd.testing.assert_frame_equal(loaded.predict(X), both.predict(X))
    for a, b in zip(loaded.predict_proba(X), both.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(loaded.predict_interval(X), both.predict_interval(X))


def _forged(path, change):
    from sklearn_multihead._persist import read_model, write_model

    doc, tensors = read_model(path)
    nested = decode(doc["target_networks"])
    change(nested, tensors)
    doc["target_networks"] = encode(nested)
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)
    return path


def _swap_targets(nested, tensors):
    nested[1]["targets"], nested[2]["targets"] = (
        nested[2]["targets"],
        nested[1]["targets"],
    )


def _drop_one(nested, tensors):
    nested.pop()
    for k in [k for k in tensors if k.startswith("target_networks.2.")]:
        del tensors[k]


def _nest_deeper(nested, tensors):
    nested[0]["target_networks"] = [copy.deepcopy(nested[1])]


def _extra_tensor(nested, tensors):
    tensors["target_networks.7.module.x"] = np.zeros(1, dtype=np.float32)


@pytest.mark.parametrize(
    "change", [_swap_targets, _drop_one, _nest_deeper, _extra_tensor]
)
def test_a_forged_target_network_is_a_model_file_error(fitted, tmp_path, change):
    models, _, _ = fitted
    path = models[True].save(tmp_path / "both.safetensors")
    _forged(path, change)
    with pytest.raises(ModelFileError, match="damaged or inconsistent"):
        JointRegressorClassifier.load(path)


def test_summary_names_them(fitted):
    models, _, _ = fitted
    assert "target_networks_" not in models[False].summary()
    text = models[True].summary()
    assert "each target's own model (target_networks_): 3 models of one target" in text


def test_a_target_model_with_other_classes_is_an_error_that_says_so(monkeypatch):
    import sklearn_multihead._joint.estimator as estimator

    given = estimator._one_column

    def relabelled(column):  # a class the joint model never saw
        column = given(column)
        if "flag" in column:
            column = column.replace({"yes": "maybe"})
        return column

    monkeypatch.setattr(estimator, "_one_column", relabelled)
    X, Y = mixed(300, 4)
    model = JointRegressorClassifier(target_networks=True, max_iter=3, **PARAMS)
    with pytest.raises(
        RuntimeError,
        match="alone found the classes .* Fit with "
        "target_networks=False, and report this as a bug",
    ):
        model.fit(X, Y)
    assert not hasattr(model, "net_")  # a failed first fit leaves no model
