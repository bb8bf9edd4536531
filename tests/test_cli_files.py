"""The command never loses a user's data: outputs checked before the work,
written atomically, inputs never overwritten, model folders swapped whole."""

import os

import numpy as np
import pandas as pd
import pytest
from conftest import joint

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.cli import main
from sklearn_multihead.datasets import make_joint_dataset

FAST = ["--max-iter", "3", "--n-models", "1", "--no-progress"]


@pytest.fixture
def table_csv(tmp_path):
    X, Y = make_joint_dataset(n_samples=120, n_features=3, random_state=0)
    path = tmp_path / "table.csv"
    pd.concat([X, Y], axis=1).to_csv(path, index=False)
    return path


@pytest.fixture
def model(table_csv, tmp_path):
    folder = tmp_path / "model"
    argv = ["fit", str(table_csv), "-t", "reg_0", "-t", "cls_0"]
    assert main([*argv, "--model", str(folder), *FAST]) == 0
    return folder


def _error(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: " in err, err
    return err


def test_predict_out_refuses_to_overwrite_without_force(model, table_csv, tmp_path):
    out = tmp_path / "pred.csv"
    out.write_text("my only copy\n")
    assert main(["predict", str(model), str(table_csv), "--out", str(out)]) == 2
    assert out.read_text() == "my only copy\n"
    argv = ["predict", str(model), str(table_csv), "--out", str(out), "--force"]
    assert main(argv) == 0
    assert list(pd.read_csv(out).columns) == ["reg_0", "cls_0"]


def test_predict_never_overwrites_its_input(model, table_csv, capsys):
    before = table_csv.read_bytes()
    argv = ["predict", str(model), str(table_csv), "--out", str(table_csv)]
    assert main([*argv, "--force"]) == 2
    assert "is an input of this command" in _error(capsys)
    assert table_csv.read_bytes() == before


@pytest.mark.parametrize(
    "out, message",
    [
        ("{tmp}/missing/pred.csv", "does not exist"),
        ("{tmp}", "is a folder; give a file name"),
    ],
)
def test_predict_out_is_checked_before_the_work(
    model, table_csv, tmp_path, capsys, out, message
):
    out = out.format(tmp=tmp_path)
    assert main(["predict", str(model), str(table_csv), "--out", out]) == 2
    assert message in _error(capsys)


def test_compare_out_refuses_existing_reports_before_cross_validating(
    table_csv, tmp_path, capsys
):
    out = tmp_path / "results"
    out.mkdir()
    (out / "report.md").write_text("last week's report")
    (out / "notes.txt").write_text("mine")
    argv = ["compare", str(table_csv), "-t", "reg_0", "--out", str(out), *FAST]
    assert main([*argv, "--models", "forest", "--n-estimators", "2"]) == 2
    err = _error(capsys)
    assert "report.md' exists. Add --force" in err
    assert "fitted in" not in err  # refused before any fit
    assert (out / "report.md").read_text() == "last week's report"
    assert main([*argv, "--models", "forest", "--n-estimators", "2", "--force"]) == 0
    assert "last week" not in (out / "report.md").read_text()
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no leftovers


def test_fit_refuses_to_replace_a_model_or_other_files(
    model, table_csv, tmp_path, capsys
):
    argv = ["fit", str(table_csv), "-t", "reg_0", *FAST]
    before = (model / "model.safetensors").read_bytes()
    assert main([*argv, "--model", str(model)]) == 2
    assert "holds a model. Add --force" in _error(capsys)
    assert (model / "model.safetensors").read_bytes() == before
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    assert main([*argv, "--model", str(mine), "--force"]) == 2
    assert "holds other files" in _error(capsys)
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert main([*argv, "--model", str(model), "--force"]) == 0
    assert (model / "model.safetensors").read_bytes() != before


def test_fit_never_writes_through_planted_symlinks(model, table_csv, tmp_path):
    victims = {}
    for name in ("model.safetensors",):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("do not touch")
        if (model / name).exists():
            (model / name).unlink()
        (model / name).symlink_to(victim)
        victims[name] = victim
    argv = ["fit", str(table_csv), "-t", "reg_0", "--model", str(model), "--force"]
    assert main([*argv, *FAST]) == 0
    for victim in victims.values():
        assert victim.read_text() == "do not touch"
    assert sorted(p.name for p in model.iterdir()) == ["model.safetensors"]
    assert not (model / "model.safetensors").is_symlink()


def test_a_failed_refit_leaves_the_previous_model_whole(
    model, table_csv, tmp_path, capsys, monkeypatch
):
    def full_disk(self, path, command=None):
        with open(path, "wb") as f:
            f.write(b"half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(JointRegressorClassifier, "_save", full_disk)
    argv = ["fit", str(table_csv), "-t", "reg_0", "--model", str(model), "--force"]
    assert main([*argv, *FAST]) == 2
    assert "No space left on device" in _error(capsys)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(table_csv), "--out", str(out)]) == 0
    assert list(pd.read_csv(out).columns) == ["reg_0", "cls_0"]  # the old model


def _rewrite_spec(path, change):
    """Change the command spec inside a model file and recompute its digest,
    as anyone can (the digest is a checksum, not a signature)."""
    from sklearn_multihead._persist import decode, encode, read_model, write_model

    doc, tensors = read_model(path)
    spec = decode(doc["command"])
    change(spec)
    doc["command"] = encode(spec)
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(targets=["price", "cls_0"]),
        lambda s: s.update(features=s["features"][::-1]),
        lambda s: s["plan"].update(numeric=[]),
        lambda s: s["plan"].update(dates={"x0": "%Y; import os"}),
        lambda s: s.update(plan=[]),
    ],
    ids=["target-names", "feature-order", "plan-columns", "date-format", "no-plan"],
)
def test_a_spec_that_does_not_describe_the_model_is_refused(
    model, table_csv, capsys, change
):
    """The column spec is in the model file, under its digest; a forged one
    with a recomputed digest must still describe the model's own columns, or
    probabilities would be labelled with another target's name."""
    _rewrite_spec(model / "model.safetensors", change)
    assert main(["predict", str(model), str(table_csv), "--proba"]) == 2
    assert "its column spec does not describe the model's columns" in _error(capsys)


def test_a_model_saved_in_python_is_not_a_model_folder(table_csv, tmp_path, capsys):
    X, Y = make_joint_dataset(n_samples=60, n_features=3, random_state=0)
    folder = tmp_path / "saved"
    folder.mkdir()
    joint(max_iter=2, n_models=1).fit(X, Y).save(folder / "model.safetensors")
    assert main(["predict", str(folder), str(table_csv)]) == 2
    assert "a model saved by est.save(), without the command's column spec" in (
        _error(capsys)
    )


def test_damaged_model_files_are_one_line(model, table_csv, capsys):
    data = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(data[: len(data) // 2])
    assert main(["predict", str(model), str(table_csv)]) == 2
    _error(capsys)
    (model / "model.safetensors").unlink()
    assert main(["predict", str(model), str(table_csv)]) == 2
    assert "is not a model folder written by 'sklearn-multihead fit'" in (
        _error(capsys)
    )


def test_extreme_numbers_at_predict_are_one_line(model, table_csv, tmp_path, capsys):
    table = pd.read_csv(table_csv)
    table.loc[2, "x1"] = 1e300
    path = tmp_path / "extreme.csv"
    table.to_csv(path, index=False)
    assert main(["predict", str(model), str(path)]) == 2
    assert "values the model cannot take" in _error(capsys)
    assert np.isfinite(pd.read_csv(table_csv)["x1"]).all()
    assert os.path.exists(path)


def test_an_old_folder_with_a_crafted_preprocessor_is_never_read(
    model, table_csv, tmp_path
):
    """A folder without the model file is refused before any of its files
    is read: here a ``preprocessor.skops`` whose
    preprocessor is a precomputed-kernel SVR whose support_ points far out of
    range, which scikit-learn's native code would follow and crash on."""
    import subprocess
    import sys

    import skops.io as sio
    from sklearn.svm import SVR

    rng = np.random.RandomState(0)
    K = rng.rand(20, 20)
    svr = SVR(kernel="precomputed").fit(K @ K.T, rng.rand(20))
    svr.support_ = np.array([10**9], dtype=svr.support_.dtype)
    (model / "model.safetensors").unlink()
    sio.dump(svr, model / "preprocessor.skops")
    (model / "columns.json").write_text("{}")
    code = (
        "import sys\n"
        "from sklearn_multihead.cli import main\n"
        f"sys.exit(main(['predict', {str(model)!r}, {str(table_csv)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "is not a model folder written by 'sklearn-multihead fit'" in done.stderr
    # and fit --force does not delete files it did not write
    argv = ["fit", str(table_csv), "-t", "reg_0", "--model", str(model), "--force"]
    assert main([*argv, *FAST]) == 2
    assert (model / "preprocessor.skops").is_file()


def test_outputs_get_the_usual_permissions(model, table_csv, tmp_path):
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(table_csv), "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert model.stat().st_mode & 0o777 == 0o777 & ~umask


@pytest.mark.parametrize(
    "where, message",
    [
        ("{tmp}/table.csv", "--model '{tmp}/table.csv' is a file; give a folder."),
        ("{tmp}/no/such/model", "--model: the folder '{tmp}/no/such' does not exist."),
    ],
)
def test_bad_model_folders_are_refused_before_fitting(
    table_csv, tmp_path, capsys, where, message
):
    where = where.format(tmp=tmp_path)
    argv = ["fit", str(table_csv), "-t", "reg_0", "--model", where, *FAST]
    assert main(argv) == 2
    assert message.format(tmp=tmp_path) in _error(capsys)


def test_a_table_with_no_usable_feature_says_why(tmp_path, capsys):
    path = tmp_path / "t.csv"
    pd.DataFrame({"id": [f"u{i}" for i in range(60)], "y": np.arange(60.0)}).to_csv(
        path, index=False
    )
    assert main(["compare", str(path), "-t", "y", *FAST]) == 2
    assert "No usable feature column: every one was set aside (id: ID-like" in (
        _error(capsys)
    )


def test_nested_cells_are_one_line():
    from sklearn_multihead.cli.tables import UsageError, plan_features

    X = pd.DataFrame({"tags": [["a"], ["b", "c"]] * 10, "x": np.arange(20.0)})
    with pytest.raises(UsageError, match="Column 'tags' holds values that are"):
        plan_features(X)


def test_predictions_csv_defuses_spreadsheet_formulas(tmp_path, capsys):
    """A class label (or target name) that a spreadsheet would run as a
    formula is written with a leading quote; numbers stay numbers."""
    rng = np.random.RandomState(0)
    evil = "=cmd|' /C calc'!A0"
    table = pd.DataFrame(
        {
            "x": rng.normal(size=60),
            "kind": np.where(rng.rand(60) > 0.5, evil, "@SUM(A1)"),
            "-v": rng.normal(size=60) - 5,
        }
    )
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    model, out = tmp_path / "m", tmp_path / "pred.csv"
    argv = ["fit", str(path), "-t", "kind", "--target=-v", "--model", str(model)]
    assert main([*argv, *FAST]) == 0
    assert main(["predict", str(model), str(path), "--out", str(out), "--proba"]) == 0
    lines = out.read_text().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["kind", "'-v"]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in header)
    written = pd.read_csv(out)
    assert set(written["kind"]) <= {"'" + evil, "'@SUM(A1)"}
    assert (written["'-v"] < 0).all()  # negative numbers are written as numbers


def test_predict_proba_refuses_a_column_name_it_would_write_twice(tmp_path, capsys):
    rng = np.random.RandomState(0)
    k = np.where(rng.rand(80) > 0.5, "p", "q")
    table = pd.DataFrame(
        {"x": rng.normal(size=80), "k": k, "k_proba_p": rng.normal(size=80)}
    )
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    model = tmp_path / "m"
    argv = ["fit", str(path), "-t", "k", "-t", "k_proba_p", "--model", str(model)]
    assert main([*argv, *FAST]) == 0
    capsys.readouterr()
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(path), "--out", str(out), "--proba"]) == 2
    err = _error(capsys)
    assert "'k_proba_p' twice: as the target 'k_proba_p'" in err
    assert "the probability of class 'p' of 'k'" in err
    assert not out.exists()


def test_predict_interval_writes_bounds_beside_the_predictions(tmp_path, capsys):
    X, Y = make_joint_dataset(n_samples=400, n_features=3, random_state=0)
    path = tmp_path / "t.csv"
    pd.concat([X, Y], axis=1).to_csv(path, index=False)
    model, out = tmp_path / "m", tmp_path / "pred.csv"
    argv = ["fit", str(path), "-t", "reg_0", "-t", "cls_0", "--model", str(model)]
    assert main([*argv, *FAST]) == 0
    argv = ["predict", str(model), str(path), "--out", str(out)]
    assert main([*argv, "--interval", "0.9"]) == 0
    written = pd.read_csv(out)
    assert list(written.columns) == ["reg_0", "cls_0", "reg_0_lower", "reg_0_upper"]
    assert (written["reg_0_lower"] <= written["reg_0"]).all()
    assert (written["reg_0"] <= written["reg_0_upper"]).all()
    capsys.readouterr()
    assert main([*argv, "--force", "--interval", "1.5"]) == 2
    assert "--interval 1.5: coverage must be a number strictly between" in _error(
        capsys
    )


def test_predict_interval_needs_a_regression_target(model, table_csv, tmp_path, capsys):
    folder = tmp_path / "classes"
    argv = ["fit", str(table_csv), "-t", "cls_0", "--model", str(folder)]
    assert main([*argv, *FAST]) == 0
    capsys.readouterr()
    assert main(["predict", str(folder), str(table_csv), "--interval", "0.9"]) == 2
    assert "--interval needs a regression target" in _error(capsys)
