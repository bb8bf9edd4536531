"""plot_history and summary(): what a user sees of a fitted network."""

import re

import matplotlib
import pytest
from conftest import joint

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset
from sklearn_multihead.plotting import plot_history

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def fitted():
    X, Y = make_joint_dataset(n_samples=200, n_labels=2, random_state=0)
    est = joint(
        max_iter=6, early_stopping=True, head_hidden_layer_sizes=(4,), random_state=0
    )
    return est.fit(X, Y)


def test_plot_history_draws_train_and_valid_curves_per_target(fitted, tmp_path):
    ax = plot_history(fitted)
    labels = [line.get_label() for line in ax.get_lines()]
    targets = ["reg_0", "bin_0", "cls_0", "label_0", "label_1"]
    assert labels == [
        *(f"{t} ({split})" for t in targets for split in ("train", "valid")),
        "total (train)",
        "total (valid)",
    ]
    assert all(len(line.get_xdata()) == fitted.n_iter_ for line in ax.get_lines())
    ax.figure.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_history_needs_a_fitted_model():
    with pytest.raises(ValueError, match="needs a fitted JointRegressorClassifier"):
        plot_history(JointRegressorClassifier())


def test_summary_lists_layers_heads_and_parameters(fitted):
    text = fitted.summary()
    module = fitted.net_.module_
    n_params = sum(p.numel() for p in module.parameters())
    assert f"parameters: {n_params:,} ({n_params:,} trainable)" in text
    assert "JointRegressorClassifier: 10 features -> 5 targets" in text
    assert re.search(r"\ntrunk\.0 +Linear +\(batch, 128\) +\d", text)
    for line in [
        "reg_0            regression  column 0       -> a number",
        "cls_0            multiclass  column 2:5     -> one of 3 classes",
        "label_1          binary      column 6       -> one of 2 classes",
    ]:
        assert line in text
    # every parameterised layer of the first network is listed with its count
    members = getattr(module, "members", None)
    if members is not None:
        assert f"(the first of {len(members)} networks of this shape" in text
    for name, m in (module if members is None else members[0]).named_modules():
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if own:
            assert any(
                row.split()[0] == name and row.split()[-1] == f"{own:,}"
                for row in text.splitlines()
                if row.strip()
            ), name
