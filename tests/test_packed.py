"""``pack_models``: the networks of ``n_models`` trained as one packed module
(``_joint.module.PackedMLPs``, stopped member by member by
``_joint.net.MemberStopping``) are the networks that would be trained one
after the other, and every fitted-model feature works on them."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import joint
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback
from torch.func import stack_module_state

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint.module import MultiHeadMLP, PackedMLPs


def _data(n=600, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    X["e"] = pd.Categorical(rng.choice(["p", "q", "r"], size=n))
    X.loc[rng.rand(n) < 0.1, "a"] = np.nan  # a missing indicator too
    Y = pd.DataFrame(
        {
            "v": X["b"] - np.sin(2 * X["c"]) + 0.3 * rng.normal(size=n),
            "c": np.where(X["d"] + (X["e"] == "p") > 0, "up", "down"),
            "m": np.array(["x", "y", "z"])[
                (X["d"] > -0.4).astype(int) + (X["d"] > 0.4)
            ],
        }
    )
    return X, Y


class Members(Callback):
    """Records the networks in the module after every epoch."""

    def on_train_begin(self, net, **kwargs):
        self.counts = []

    def on_epoch_end(self, net, **kwargs):
        self.counts.append(getattr(net.module_, "n_ensemble", 1))


def _fit(pack, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X, Y = _data()
        params = {"n_models": 3, "random_state": 0, "pack_models": pack, **params}
        return joint(**params).fit(X, Y), X, Y


@pytest.fixture(scope="module")
def pair():
    return _fit(True, max_iter=6)[0], _fit(False, max_iter=6)[0]


def test_packed_networks_are_the_networks_trained_one_by_one(pair):
    # same initial weights, validation rows, batch order and stopping rule:
    # the packed networks differ only by float rounding (batched products)
    packed, alone = pair
    X, _ = _data()
    x = torch.as_tensor(np.array(packed._validate_X(X)))
    with torch.no_grad():
        for a, b in zip(packed.net_.module_.members, alone.net_.module_.members):
            torch.testing.assert_close(a(x), b(x), rtol=1e-3, atol=1e-3)
    for a, b in zip(packed.predict_proba(X), alone.predict_proba(X)):
        np.testing.assert_allclose(a, b, atol=1e-3)
    # the held-out rows of every network give the same interval widths
    for a, b in zip(packed.interval_residuals_, alone.interval_residuals_):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


def test_a_network_that_stopped_leaves_the_module_and_comes_back_at_its_best():
    members = Members()
    est, X, Y = _fit(True, n_models=4, n_iter_no_change=3, callbacks=[members])
    counts = members.counts
    assert counts[0] == 4 and counts == sorted(counts, reverse=True)
    assert counts[-1] < 4  # some stopped before the last one
    # every network is in the fitted model, each restored to its best epoch
    assert len(est.net_.module_.members) == 4
    assert all(isinstance(m, MultiHeadMLP) for m in est.net_.module_.members)
    training = est.history_["members_training"].tolist()
    assert training == sorted(training, reverse=True) and training[-1] == 0
    # callbacks after the stopper miss the last epoch's end, as with skorch's
    # EarlyStopping
    assert est.n_iter_ == len(counts) + 1
    assert est.score(X, Y) > 0.6


def test_the_fitted_model_trains_further_saves_and_calibrates(tmp_path):
    est, X, Y = _fit(True, max_iter=30, calibrate=True)
    # each network keeps its Adam moments for further training
    state = est.net_.optimizer_.state
    for network in est.net_.module_.members:
        for p in network.parameters():
            assert state[p]["exp_avg"].shape == p.shape
            assert state[p]["exp_avg_sq"].abs().sum() > 0
    assert est.temperatures_.shape == (3,)
    bounds = est.predict_interval(X)
    low, high = bounds["v_lower"].to_numpy(), bounds["v_upper"].to_numpy()
    assert np.all(low < high)
    loaded = JointRegressorClassifier.load(est.save(tmp_path / "m.safetensors"))
    pd.testing.assert_frame_equal(loaded.predict(X), est.predict(X))
    epochs = est.n_iter_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.partial_fit(X, Y)
        assert est.n_iter_ == epochs + 1
        est.set_params(warm_start=True, max_iter=2).fit(X, Y)
    assert est.n_iter_ == epochs + 3
    assert len(est.net_.module_.members) == 3
    assert est.score(X, Y) > 0.6


@pytest.mark.parametrize(
    "params", [{"batch_norm": True}, {"n_ensemble": 2}, {"early_stopping": False}]
)
def test_configurations_it_cannot_pack_train_one_network_after_the_other(params):
    members = Members()
    est, _, _ = _fit(True, max_iter=3, callbacks=[members], **params)
    assert "members_training" not in est.history_
    assert set(members.counts) == {est.n_ensemble}  # one network per training
    assert len(est.net_.module_.members) == 3


def test_pack_and_select_keep_each_members_weights():
    torch.manual_seed(0)
    config = dict(
        n_features=3,
        head_sizes=[1, 3],
        head_kinds=["regression", "multiclass"],
        hidden_layer_sizes=(8,),
        inputs={"n_numeric": 3},
    )
    networks = [MultiHeadMLP(**config).eval() for _ in range(3)]
    # one network scales its numbers otherwise: its own buffer; the others'
    # equal buffers are kept once
    networks[1].inputs.set_numeric_scaling([1.0, -2.0, 0.5], [1.0, 1.0, 1.0])
    packed = PackedMLPs.pack(networks).eval()
    assert "inputs.scale" in packed.shared_buffers
    assert "inputs.center" not in packed.shared_buffers
    x = torch.randn(5, 3)
    with torch.no_grad():
        outs = packed.member_outputs(x)
        for j, network in enumerate(networks):
            torch.testing.assert_close(outs[:, j], network(x))
        # a 3-D X: each member its own rows
        rows = torch.randn(5, 3, 3)
        own = packed(rows)
        for j, network in enumerate(networks):
            torch.testing.assert_close(own[:, j], network(rows[:, j]))
        kept = packed.select([2, 0])
        assert kept.ids == [2, 0]
        torch.testing.assert_close(kept.member_outputs(x), outs[:, [2, 0]])
        for a, b in zip(packed.networks(), networks):
            torch.testing.assert_close(a(x), b(x))
    with pytest.raises(ValueError, match="batch normalisation"):
        PackedMLPs.pack([MultiHeadMLP(**config, batch_norm=True)] * 2)
    with pytest.raises(ValueError, match="networks of n_ensemble=1"):
        PackedMLPs.pack([MultiHeadMLP(**config, n_ensemble=2)] * 2)
    with pytest.raises(ValueError, match="one id per member"):
        PackedMLPs(networks[0], *stack_module_state(networks), ids=[0])


@pytest.mark.parametrize(
    "inputs, extra, native",
    [
        (  # piecewise embeddings of unequal bin counts, categories, a missing flag
            {
                "n_numeric": 2,
                "cardinalities": [3, 2],
                "missing_columns": [1],
                "numeric_embedding": "piecewise",
                "bin_counts": [4, 2],
            },
            {},
            True,
        ),
        ({"n_numeric": 4}, {"head_hidden_layer_sizes": (5,)}, True),
        ({"n_numeric": 4, "numeric_embedding": "periodic"}, {}, False),
        (None, {}, True),
    ],
)
def test_every_layer_takes_the_member_axis_or_is_mapped_over_it(inputs, extra, native):
    torch.manual_seed(0)
    config = dict(
        n_features=4,
        head_sizes=[1, 3],
        head_kinds=["regression", "multiclass"],
        hidden_layer_sizes=(8,),
        inputs=inputs,
        **extra,
    )
    networks = [MultiHeadMLP(**config) for _ in range(3)]
    if inputs and inputs.get("numeric_embedding") == "piecewise":
        for network in networks:  # a learnt map, not the zero it starts from
            network.inputs.set_numeric_bins(
                [
                    torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0]),
                    torch.tensor([0.0, 1.0, 3.0]),
                ]
            )
            torch.nn.init.normal_(network.inputs.piecewise.linear.weight)
    packed = PackedMLPs.pack(networks)
    assert packed.native is native
    rows = torch.randn(6, 3, 4)
    if inputs and inputs.get("cardinalities"):
        rows[..., 2] = torch.randint(0, 3, (6, 3)).float()
        rows[..., 3] = torch.randint(0, 2, (6, 3)).float()
        rows[::2, :, 1] = float("nan")
    for mode in (True, False):
        packed.train(mode)
        out = packed(rows)
        for j, network in enumerate(networks):
            torch.testing.assert_close(out[:, j], network.train(mode)(rows[:, j]))
    # the gradients reach every member's own weights
    packed.train()
    packed(rows)[:, 1].sum().backward()
    for p in packed.packed:
        assert p.grad[[0, 2]].abs().sum() == 0
    assert all(p.grad[1].abs().sum() > 0 for p in packed.packed)
    same = rows[:, 0]  # a 2-D X: the same rows for every member
    with torch.no_grad():
        outs = packed.eval().member_outputs(same)
        for j, network in enumerate(networks):
            torch.testing.assert_close(outs[:, j], network.eval()(same))


def test_pack_models_must_be_a_bool():
    X, Y = _data(50)
    with pytest.raises(ValueError, match="pack_models"):
        JointRegressorClassifier(pack_models="yes").fit(X, Y)


@pytest.mark.parametrize(
    "params",
    [
        {"numeric_embedding": "periodic"},
        {"numeric_embedding": None, "activation": "gelu"},
        {"head_hidden_layer_sizes": (16,)},
        {"regression_loss": "huber", "class_weight": "balanced"},
    ],
)
def test_every_layer_and_loss_packs_into_the_same_networks(params):
    # (at some draws a rounding-level change, such as the weights x
    # 1.0000001, moves networks fitted one by one apart as much: the
    # packed and unpacked fits then differ by rounding the same way)
    rng = np.random.RandomState(3)
    X, Y = _data()
    Y.loc[rng.rand(len(Y)) < 0.2, "v"] = np.nan  # masked cells
    w = rng.uniform(0.5, 2.0, len(X))
    fits = []
    for pack in (True, False):
        est = joint(n_models=2, random_state=0, max_iter=5, pack_models=pack, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(est.fit(X, Y, sample_weight=w))
    assert "members_training" in fits[0].history_
    for a, b in zip(fits[0].predict_proba(X), fits[1].predict_proba(X)):
        np.testing.assert_allclose(a, b, atol=1e-3)
    np.testing.assert_allclose(
        fits[0].predict(X)["v"], fits[1].predict(X)["v"], rtol=1e-3, atol=1e-3
    )


def test_dropout_draws_its_own_mask_per_network():
    est, X, Y = _fit(True, dropout=0.3, max_iter=5)
    assert est.score(X, Y) > 0.6
    members = est.net_.module_.members
    x = torch.as_tensor(np.array(est._validate_X(X)))
    with torch.no_grad():
        assert not torch.allclose(members[0](x), members[1](x))


def test_a_packed_fit_with_dropout_repeats_and_leaves_torchs_random_state():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = _fit(True, dropout=0.3, max_iter=4)[0]
    assert torch.equal(torch.random.get_rng_state(), before)
    again, X, _ = _fit(True, dropout=0.3, max_iter=4)
    for a, b in zip(first.predict_proba(X), again.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
