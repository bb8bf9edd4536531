"""The sklearn-multihead command: compare, fit, predict, and its errors."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from sklearn_multihead.cli import main
from sklearn_multihead.datasets import make_joint_dataset

FIT_FAST = ["--max-iter", "5", "--n-estimators", "5"]
FAST = [*FIT_FAST, "--no-progress"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def table_csv(tmp_path):
    X, Y = make_joint_dataset(
        n_samples=150, n_features=4, n_categorical=1, missing_rate=0.1, random_state=0
    )
    path = tmp_path / "table.csv"
    pd.concat([X, Y], axis=1).to_csv(path, index=False)
    return path


def test_compare_on_the_embedded_default_writes_report_json_and_plots(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["compare", "--cv", "2", "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "2-fold cross-validation" in printed
    header = printed.splitlines()[2].split()
    assert header == ["target", "metric", "joint", "forest", "separate"]
    for target, metric in [
        ("reg_0", "r2"),
        ("bin_0", "accuracy"),
        ("cls_0", "f1_macro"),
    ]:
        assert any(
            line.split()[:2] == [target, metric] for line in printed.splitlines()
        )
    report = (out / "report.md").read_text()
    assert "| target | metric | joint | forest | separate |" in report
    assert "![scores](scores.png)" in report
    results = json.loads((out / "results.json").read_text())
    assert results["cv"] == 2
    r2 = next(
        r for r in results["summary"] if r["target"] == "reg_0" and r["metric"] == "r2"
    )
    assert set(r2) == {"target", "metric", "joint", "forest", "separate"}
    assert all(isinstance(r2[m]["mean"], float) for m in ("joint", "forest"))
    for png in ("scores.png", "history.png"):
        assert (out / png).read_bytes()[:8] == PNG


def test_compare_on_a_headered_abalone_csv(abalone, tmp_path, capsys):
    path = tmp_path / "abalone.csv"
    abalone.to_csv(path, index=False)
    argv = ["compare", str(path), "-t", "rings:regression", "-t", "sex", "--cv", "2"]
    assert main([*argv, "--models", "joint", "forest", *FAST]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["rings", "mae"] in [r[:2] for r in rows]
    assert ["sex", "accuracy"] in [r[:2] for r in rows]
    assert ["target", "metric", "joint", "forest"] in rows


def test_fit_then_predict(table_csv, tmp_path, capsys):
    model = tmp_path / "model"
    argv = ["fit", str(table_csv), "-t", "reg_0", "-t", "bin_0", "-t", "cls_0"]
    assert main([*argv, "--model", str(model), *FIT_FAST]) == 0
    assert sorted(p.name for p in model.iterdir()) == [
        "columns.json",
        "model.safetensors",
        "preprocessor.skops",
    ]
    new_rows = pd.read_csv(table_csv).drop(columns=["reg_0", "bin_0", "cls_0"])
    new_rows.head(20).to_csv(tmp_path / "new.csv", index=False)
    preds = tmp_path / "preds.csv"
    argv = ["predict", str(model), str(tmp_path / "new.csv"), "--out", str(preds)]
    assert main([*argv, "--proba"]) == 0
    got = pd.read_csv(preds)
    assert len(got) == 20
    assert list(got.columns[:3]) == ["reg_0", "bin_0", "cls_0"]
    assert {"bin_0_proba_True", "cls_0_proba_c0"} <= set(got.columns)
    assert got["cls_0"].isin(["c0", "c1", "c2"]).all()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "{csv}", "-t", "nope"], "Unknown column(s) ['nope']. The table"),
        (
            ["compare", "{csv}", "-t", "reg_0", "--features", "x0", "reg_0"],
            "['reg_0'] is both a target and a feature",
        ),
        (["compare", "{csv}"], "Name at least one target"),
        (["compare", "{csv}", "-t", "reg_0", "-t", "reg_0"], "named twice"),
        (["compare", "{dir}/missing.csv", "-t", "a"], "No file at"),
        (["compare", "{bad}", "-t", "a"], "Could not read"),
        (["compare", "--cv", "1"], "--cv must be between 2 and"),
        (["compare", "--max-iter", "0"], "--max-iter must be at least 1"),
        (["predict", "{dir}", "{csv}"], "is not a model folder written by"),
    ],
)
def test_errors_are_one_clear_line(table_csv, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n3,4,5,6\n")
    argv = [a.format(csv=table_csv, dir=tmp_path, bad=bad) for a in argv] + [
        "--no-progress"
    ] * (argv[0] == "compare")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_parquet_without_an_engine_says_what_to_install(tmp_path, capsys):
    try:
        import pyarrow  # noqa: F401

        pytest.skip("a Parquet engine is installed")
    except ImportError:
        pass
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    assert main(["compare", str(path), "-t", "a", "--no-progress"]) == 2
    assert "needs a Parquet engine: pip install pyarrow" in capsys.readouterr().err


def test_predict_names_missing_feature_columns(table_csv, tmp_path, capsys):
    model = tmp_path / "model"
    main(["fit", str(table_csv), "-t", "reg_0", "--model", str(model), *FIT_FAST])
    pd.read_csv(table_csv).drop(columns=["x0"]).to_csv(tmp_path / "n.csv")
    assert main(["predict", str(model), str(tmp_path / "n.csv")]) == 2
    assert "lacks the feature column(s) ['x0']" in capsys.readouterr().err


def test_help_teaches_and_the_module_runs():
    out = subprocess.run(
        [sys.executable, "-m", "sklearn_multihead.cli", "compare", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--target NAME[:TYPE]" in out
    assert "examples:" in out
    assert "sklearn-multihead compare abalone.csv" in out
