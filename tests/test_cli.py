"""The sklearn-multihead command: compare, fit, predict, score, and its errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sklearn_multihead.cli import compare as _report
from sklearn_multihead.cli import main
from sklearn_multihead.datasets import make_joint_dataset

FIT_FAST = ["--max-iter", "5", "--n-models", "1"]
#: fits in turn (as on a busy machine): no worker processes to start in a test
IN_TURN = ["--n-jobs", "1"]
COMPARE_FAST = [*FIT_FAST, "--n-estimators", "5", "--no-progress", *IN_TURN]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def table_csv(tmp_path):
    X, Y = make_joint_dataset(
        n_samples=150, n_features=4, n_categorical=1, missing_rate=0.1, random_state=0
    )
    path = tmp_path / "table.csv"
    pd.concat([X, Y], axis=1).to_csv(path, index=False)
    return path


def _table_lines(printed):
    """The rows of the printed summary table, split into cells."""
    return [line.split() for line in printed.splitlines()]


def test_compare_on_the_embedded_default_writes_report_json_and_plots(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["compare", "--cv", "2", "--out", str(out), *COMPARE_FAST]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    lines = printed.splitlines()
    assert lines[0].startswith(
        "data: 2,000 rows | features: 8 numeric (x0, x1, x2, x3, x4, x5, +2 more), "
        "2 categorical (cat0, cat1)"
    )
    assert "2-fold cross-validation" in lines[1]
    assert lines[3].split() == [
        "target",
        "metric",
        "joint",
        "forest",
        "separate",
        "dummy",
    ]
    for target, metric in [
        ("reg_0", "r2"),
        ("bin_0", "accuracy"),
        ("cls_0", "f1_macro"),
    ]:
        assert [target, metric] in [r[:2] for r in _table_lines(printed)]
    # a line per finished fit, with its time and epochs: 2 folds x (1 + 1 + 3
    # + the dummy)
    done = [line for line in captured.err.splitlines() if "fitted in" in line]
    assert len(done) == 12
    assert "fold 1/2 joint: fitted in" in done[0] and "(5 epochs)" in done[0]
    report = (out / "report.md").read_text()
    assert "| target | metric | joint | forest | separate | dummy |" in report
    assert "![scores](scores.png)" in report
    assert lines[0] in report
    results = json.loads((out / "results.json").read_text())
    assert results["cv"] == 2 and results["audit"] == lines[0]
    r2 = next(
        r for r in results["summary"] if r["target"] == "reg_0" and r["metric"] == "r2"
    )
    assert set(r2) == {"target", "metric", "joint", "forest", "separate", "dummy"}
    assert all(isinstance(r2[m]["mean"], float) for m in ("joint", "forest"))
    for png in ("scores.png", "history.png"):
        assert (out / png).read_bytes()[:8] == PNG


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "fresh"])
def test_fits_in_worker_processes_give_the_same_table(
    tmp_path, capsys, monkeypatch, fork
):
    """--n-jobs 2 runs the fits side by side in two processes, forked from
    the command or fresh (joblib): the same scores as one after another, a
    line per finished fit, and the times of each model's fits (the separate
    networks summed per fold)."""
    if fork and not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    monkeypatch.setattr(_report, "can_fork", lambda: fork)
    base = ["compare", "--cv", "2", *FIT_FAST, "--n-estimators", "5"]
    results = {}
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        argv = [*base, "--n-jobs", jobs, "--out", str(out)]
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert err.count("fitted in") == 2 * (1 + 1 + 3 + 1), err
        assert "fold 2/2 separate [cls_0]: fitted in" in err
        results[jobs] = json.loads((out / "results.json").read_text())
    one, two = (pd.DataFrame(results[j]["folds"]) for j in ("1", "2"))
    assert list(one["model"]) == list(two["model"])  # rows in report order
    scores = [c for c in one.columns if c not in ("model", "target", "type")]
    scores = [c for c in scores if c not in ("fit_s", "predict_s", "fold")]
    np.testing.assert_allclose(
        one[scores].to_numpy(float), two[scores].to_numpy(float), rtol=1e-4
    )
    times = two[two["target"].isna()]
    assert (times["fit_s"] > 0).all() and len(times) == 2 * 4


def test_an_error_in_a_forked_worker_reaches_the_command(monkeypatch):
    """A fit that fails in a worker fails the command with its own error (the
    forked worker runs the parent's code, patched here)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")

    def failing(model, *args, **kwargs):
        raise ValueError("this fit failed on purpose")

    monkeypatch.setattr(_report, "can_fork", lambda: True)
    monkeypatch.setattr(_report, "fit_predict", failing)
    argv = ["compare", "--cv", "2", *FIT_FAST, "--n-jobs", "2", "--no-progress"]
    with pytest.raises(ValueError, match="this fit failed on purpose"):
        main(argv)


def test_a_worker_that_dies_fails_the_command_with_what_to_do(monkeypatch, capsys):
    """A worker killed mid-fit (as the system does when memory runs out)
    fails the command at once with an error that says what to try, and
    leaves no worker running."""
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    import os
    import time
    from pathlib import Path

    def dying(model, *args, **kwargs):
        os._exit(9)

    def running_children():  # by the system's table: a zombie has ended
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:  # ended while listed
                continue
            if int(fields[1]) == os.getpid() and fields[0] not in ("Z", "X"):
                found.add(int(stat.parent.name))
        return found

    monkeypatch.setattr(_report, "can_fork", lambda: True)
    monkeypatch.setattr(_report, "fit_predict", dying)
    argv = ["compare", "--cv", "2", *FIT_FAST, "--n-jobs", "2", "--no-progress"]
    before = running_children()  # e.g. joblib's workers, kept for reuse
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ended abruptly" in err and "--n-jobs 1" in err
    # process ids, not multiprocessing's Process objects: the pool's own
    # thread reaps the workers too, and a Process that lost that race to it
    # reads as alive for a moment after its process has ended
    deadline = time.monotonic() + 10
    while running_children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running_children() - before


def test_forked_workers_take_a_few_fits_at_a_time(monkeypatch):
    """Each fit carries a copy of its fold's rows: the forked pool takes the
    next fits as earlier ones finish (a few ahead, as joblib does), never
    every fold's copies at once."""
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    monkeypatch.setattr(_report, "can_fork", lambda: True)
    monkeypatch.setattr(_report, "fit_predict", lambda *args, **kwargs: args[1:3])
    taken = []

    def calls():
        for i in range(40):
            taken.append(i)
            yield i, None, i, -i, None, None, False

    results = _report.side_by_side(calls(), workers=2)
    first = next(results)
    assert len(taken) <= 2 * 2 + 1
    rest = list(results)
    assert sorted(r[0] for r in [first, *rest]) == list(range(40))
    assert all(r[1] == (i, -i) for r in [first, *rest] for i in [r[0]])


def test_the_command_process_may_fork_its_workers():
    """Importing the command and showing its bars starts no Python thread
    (tqdm's monitor would): the workers may then be forked; a running thread
    forbids it."""
    code = (
        "import threading\n"
        "from sklearn_multihead.cli import compare as _report\n"
        "from sklearn_multihead.cli.progress import Progress\n"
        "bar = Progress(3)\n"
        "bar.start('fold 1/3 joint', 10)\n"
        "bar.done('fold 1/3 joint', 1.0, 10)\n"
        "print(_report.can_fork())\n"
        "stop = threading.Event()\n"
        "thread = threading.Thread(target=stop.wait)\n"
        "thread.start()\n"
        "print(_report.can_fork())\n"
        "stop.set()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    linux = sys.platform.startswith("linux")
    assert out == [str(linux), "False"]


def test_progress_moves_per_epoch_inside_a_fit(tmp_path, capsys):
    argv = ["compare", "--cv", "2", "--models", "joint", "--max-iter", "7", *IN_TURN]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "  epochs:" in err and "/7 [" in err  # a bar over the 7 epochs
    assert "fold 2/2 joint: fitted in" in err and "(7 epochs)" in err


def test_compare_on_a_headered_abalone_csv_gets_rings_within_1_6(
    abalone, tmp_path, capsys
):
    path = tmp_path / "abalone.csv"
    abalone.to_csv(path, index=False)
    argv = ["compare", str(path), "-t", "rings:regression", "-t", "sex", *IN_TURN]
    assert main([*argv, "--models", "joint", "--no-progress"]) == 0
    rows = {tuple(r[:2]): r[2:] for r in _table_lines(capsys.readouterr().out)}
    assert float(rows[("rings", "mae")][0]) < 1.6
    assert float(rows[("sex", "accuracy")][0]) > 0.5


def test_fit_then_predict_then_score(table_csv, tmp_path, capsys):
    model = tmp_path / "model"
    argv = ["fit", str(table_csv), "-t", "reg_0", "-t", "bin_0", "-t", "cls_0"]
    assert main([*argv, "--model", str(model), *FIT_FAST, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(
        "data: 150 rows | features: 4 numeric (x0, x1, x2, x3), 1 categorical"
    )
    assert (
        "fitted the joint network in" in printed and "5 epochs on 150 rows" in printed
    )
    assert "cls_0 (3 classes)" in printed
    # one file: the network, its feature encoding and the column spec
    assert sorted(p.name for p in model.iterdir()) == ["model.safetensors"]
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

    capsys.readouterr()
    assert main(["score", str(model), str(table_csv)]) == 0
    rows = {r[0]: r for r in _table_lines(capsys.readouterr().out) if r}
    assert rows["reg_0"][1] == "regression" and rows["cls_0"][1] == "classification"
    header = rows["target"]
    assert float(rows["cls_0"][header.index("accuracy")]) > 0.3
    assert 0 < float(rows["reg_0"][header.index("mae")]) < 10


def test_integer_regression_target_is_predicted_as_floats(abalone, tmp_path, capsys):
    path = tmp_path / "abalone.csv"
    abalone.head(400).to_csv(path, index=False)
    model = tmp_path / "model"
    argv = ["fit", str(path), "-t", "rings:regression", "--model", str(model)]
    assert main([*argv, "--max-iter", "20", "--no-progress"]) == 0
    abalone.head(50).drop(columns="rings").to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "pred.csv"
    assert (
        main(["predict", str(model), str(tmp_path / "new.csv"), "--out", str(out)]) == 0
    )
    rings = pd.read_csv(out)["rings"]
    assert rings.dtype == np.float64
    assert not np.allclose(rings, rings.round())  # not cut to whole numbers


def test_semicolon_csv_is_detected_and_sep_can_be_given(table_csv, tmp_path, capsys):
    table = pd.read_csv(table_csv)
    semi = tmp_path / "semi.csv"
    table.to_csv(semi, sep=";", index=False)
    argv = ["compare", str(semi), "-t", "reg_0", "--cv", "2", "--models", "forest"]
    assert main([*argv, *COMPARE_FAST]) == 0
    assert (
        "features: 4 numeric (x0, x1, x2, x3), 3 categorical" in capsys.readouterr().out
    )
    piped = tmp_path / "piped.txt"
    table.to_csv(piped, sep="|", index=False)
    argv = ["compare", str(piped), "--sep", "|", "-t", "reg_0", "--cv", "2"]
    assert main([*argv, "--models", "forest", *COMPARE_FAST]) == 0


def test_dates_become_numbers_and_ids_are_set_aside(tmp_path, capsys):
    rng = np.random.RandomState(0)
    n = 300
    days = rng.randint(0, 3000, size=n)
    table = pd.DataFrame(
        {
            "order_id": [f"ord-{i:06d}" for i in rng.permutation(n)],
            "when": (pd.Timestamp("2015-01-01") + pd.to_timedelta(days, "D")).strftime(
                "%Y-%m-%d"
            ),
            "x": rng.normal(size=n),
            "same": 1,
            "empty": np.nan,
        }
    )
    table["price"] = days / 100 + table["x"] + rng.normal(scale=0.1, size=n)
    table["big"] = np.where(table["price"] > 15, "yes", "no")
    path = tmp_path / "orders.csv"
    table.to_csv(path, index=False)
    model = tmp_path / "model"
    argv = ["fit", str(path), "-t", "price", "-t", "big", "--model", str(model)]
    assert main([*argv, "--max-iter", "150", "--no-progress"]) == 0
    audit = capsys.readouterr().out.splitlines()[0]
    assert "features: 1 numeric (x), 1 dates as days (when)" in audit
    assert "order_id (ID-like: 300 distinct values in 300 rows)" in audit
    assert "same (constant)" in audit and "empty (all missing)" in audit
    assert "big classification (2 classes)" in audit
    assert main(["score", str(model), str(path)]) == 0
    rows = {r[0]: r for r in _table_lines(capsys.readouterr().out) if r}
    r2 = float(rows["price"][rows["target"].index("r2")])
    assert r2 > 0.8  # learnt from the date: it carries most of the price


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
        (["compare", "--cv", "1"], "--cv must be between 2 and the number of rows"),
        (["compare", "--max-iter", "0"], "--max-iter must be at least 1"),
        (["compare", "--n-jobs", "0"], "--n-jobs must not be 0"),
        (["compare", "--random-state", "-1"], "--random-state must be 0 or more"),
        (["compare", "--out", "{csv}"], "is a file; give a folder"),
        (["predict", "{dir}", "{csv}"], "is not a model folder written by"),
        (
            ["compare", "{header}", "-t", "a"],
            "has a header (2 columns) but no data rows",
        ),
        (
            ["compare", "{csv}", "-t", "reg_0:classfication"],
            "Unknown target type 'classfication' in 'reg_0:classfication': write "
            "reg_0:regression or reg_0:classification",
        ),
        (
            ["compare", "{odd}", "-t", "one"],
            "Target 'one' has one class only ('a'): there is nothing to learn",
        ),
        (
            ["compare", "{odd}", "-t", "empty"],
            "Target 'empty' has no value: all 40 cells are empty",
        ),
        (
            ["compare", "{odd}", "-t", "word:regression"],
            "Target 'word' is typed as regression but holds text (40 cells, e.g. 'w0' "
            "in row 1). Type it as word:classification",
        ),
        (
            ["compare", "{odd}", "-t", "word"],
            "Target 'word' has 40 classes",
        ),
    ],
)
def test_errors_are_one_clear_line(table_csv, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n3,4,5,6\n")
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    odd = tmp_path / "odd.csv"
    pd.DataFrame(
        {
            "x": np.arange(40.0),
            "one": "a",
            "empty": np.nan,
            "word": [f"w{i}" for i in range(40)],
        }
    ).to_csv(odd, index=False)
    argv = [
        a.format(csv=table_csv, dir=tmp_path, bad=bad, header=header, odd=odd)
        for a in argv
    ] + ["--no-progress"] * (argv[0] == "compare")
    import sklearn_multihead.cli.tables as table_module

    table_module.MAX_CLASSES, saved = 30, table_module.MAX_CLASSES
    try:
        assert main(argv) == 2
    finally:
        table_module.MAX_CLASSES = saved
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith(
        f"sklearn-multihead {argv[0]}: error"
    )


def test_predict_errors_name_the_column(table_csv, tmp_path, capsys):
    model = tmp_path / "model"
    argv = ["fit", str(table_csv), "-t", "reg_0", "--model", str(model)]
    assert main([*argv, *FIT_FAST, "--no-progress"]) == 0
    table = pd.read_csv(table_csv)
    table.drop(columns=["x0"]).to_csv(tmp_path / "n.csv")
    assert main(["predict", str(model), str(tmp_path / "n.csv")]) == 2
    assert "lacks the feature column(s) ['x0']" in capsys.readouterr().err
    text = table.astype({"x1": object})
    text.loc[3, "x1"] = "twelve"
    text.to_csv(tmp_path / "t.csv", index=False)
    assert main(["predict", str(model), str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err
    assert (
        "Column 'x1' held numbers when the model was fitted, but here it holds " in err
    )
    assert "e.g. 'twelve' in row 4" in err
    assert main(["score", str(model), str(tmp_path / "n.csv")]) == 2
    table.drop(columns=["reg_0"]).to_csv(tmp_path / "u.csv", index=False)
    assert main(["score", str(model), str(tmp_path / "u.csv")]) == 2
    assert "lacks the target column(s) ['reg_0']" in capsys.readouterr().err
    with open(model / "model.safetensors", "r+b") as f:  # one byte of the body
        f.seek(-3, 2)
        byte = f.read(1)
        f.seek(-3, 2)
        f.write(bytes([byte[0] ^ 1]))
    assert main(["predict", str(model), str(table_csv)]) == 2
    assert "was changed after it was written" in capsys.readouterr().err


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


def test_each_subcommand_lists_only_its_own_options(capsys):
    for command in ("compare", "fit", "predict", "score"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out.split("examples:")[0]
        assert ("--n-estimators" in out) == (command == "compare")
        assert ("--target" in out) == (command in ("compare", "fit"))
        assert ("--proba" in out) == (command == "predict")
        assert "--sep" in out


def test_version_and_help_import_neither_torch_nor_sklearn():
    code = (
        "import sys\n"
        "from sklearn_multihead.cli import main\n"
        "for argv in (['--version'], ['compare', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "[]"
    assert "examples:" in out and "sklearn-multihead compare abalone.csv" in out


def test_the_module_runs():
    out = subprocess.run(
        [sys.executable, "-m", "sklearn_multihead.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == __import__("sklearn_multihead").__version__


def test_n_models_sets_the_networks_averaged(table_csv, tmp_path):
    from sklearn_multihead import JointRegressorClassifier

    model = tmp_path / "model"
    argv = ["fit", str(table_csv), "-t", "reg_0", "-t", "cls_0", "--model", str(model)]
    assert main([*argv, *FIT_FAST, "--n-models", "2", "--no-progress"]) == 0
    loaded = JointRegressorClassifier.load(model / "model.safetensors")
    assert loaded.n_models == 2 and len(loaded.net_.module_.members) == 2
    with pytest.raises(SystemExit):
        main(["compare", "--n-models", "x"])


def test_n_models_below_one_is_a_usage_error(capsys):
    assert main(["compare", "--n-models", "0"]) == 2
    assert "--n-models must be at least 1." in capsys.readouterr().err


def test_the_command_stops_early_as_the_estimator_does(capsys):
    """compare and fit follow the estimator's early_stopping="auto" (they
    trained every --max-iter epoch before); --no-early-stopping turns it off."""
    import re

    argv = ["compare", "--cv", "2", "--models", "joint", "--max-iter", "150"]
    argv += IN_TURN
    assert main(argv) == 0
    epochs = [int(e) for e in re.findall(r"\((\d+) epochs\)", capsys.readouterr().err)]
    assert epochs and max(epochs) < 150
    argv = ["compare", "--cv", "2", "--models", "joint", "--max-iter", "4"]
    assert main([*argv, "--no-early-stopping"]) == 0
    err = capsys.readouterr().err
    assert re.findall(r"\((\d+) epochs\)", err) == ["4", "4"]


def test_fit_learns_a_text_column_as_categories(tmp_path, capsys):
    """The saved network takes the table's text column itself (one embedding
    per level, not one-hot columns), learns from it, and predicts rows with a
    level it never saw and rows where it is missing."""
    from sklearn_multihead import JointRegressorClassifier

    rng = np.random.RandomState(0)
    n = 400
    shop = rng.choice(["north", "south", "east", "west"], n)
    effect = {"north": -3.0, "south": 0.0, "east": 1.5, "west": 4.0}
    table = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "shop": shop,
            "sales": [effect[s] for s in shop] + 0.1 * rng.normal(size=n),
        }
    )
    table.to_csv(tmp_path / "t.csv", index=False)
    model = tmp_path / "model"
    argv = ["fit", str(tmp_path / "t.csv"), "-t", "sales", "--model", str(model)]
    assert main([*argv, "--no-progress", "--n-models", "1"]) == 0
    capsys.readouterr()
    est = JointRegressorClassifier.load(model / "model.safetensors")
    assert list(est.feature_names_in_) == ["x", "shop"]
    new = pd.DataFrame(
        {"x": [0.0] * 6, "shop": ["north", "south", "east", "west", "moon", None]}
    )
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "p.csv"
    argv = ["predict", str(model), str(tmp_path / "new.csv"), "--out", str(out)]
    assert main(argv) == 0
    pred = pd.read_csv(out)["sales"].to_numpy()
    np.testing.assert_allclose(pred[:4], [-3.0, 0.0, 1.5, 4.0], atol=0.5)
    assert np.isfinite(pred[4:]).all()  # unseen and missing levels: still a number


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_killing_the_command_kills_its_workers(tmp_path):
    """SIGKILL or SIGTERM to compare: its forked workers die with it, instead
    of running on (adopted by init) with the command's stdout open."""
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    import os
    import signal
    import time

    code = (
        "import os, time\n"
        "from sklearn_multihead.cli import compare as c, main\n"
        "c.can_fork = lambda: True\n"
        "def slow(*args, **kwargs):\n"
        f"    open(os.path.join({str(tmp_path)!r}, str(os.getpid())), 'w').close()\n"
        "    time.sleep(120)\n"
        "c.fit_predict = slow\n"
        "main(['compare', '--cv', '2', '--max-iter', '1', '--n-jobs', '2',"
        " '--no-progress'])\n"
    )
    for sig in (signal.SIGKILL, signal.SIGTERM):
        for f in tmp_path.iterdir():
            f.unlink()
        command = subprocess.Popen([sys.executable, "-c", code])
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [int(f.name) for f in tmp_path.iterdir()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        command.send_signal(sig)
        command.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), sig
        for p in workers:  # never leave one behind, whatever the verdict
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def test_compare_shows_the_dummy_baseline_and_marks_who_does_not_beat_it(
    capsys, tmp_path
):
    out = tmp_path / "report"
    argv = ["compare", "--cv", "2", "--models", "joint", "--out", str(out)]
    assert main([*argv, *COMPARE_FAST]) == 0
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("target"))
    assert header.split() == ["target", "metric", "joint", "dummy"]
    results = json.loads((out / "results.json").read_text())
    assert results["models"] == ["joint", "dummy"]
    assert "dummy" in (out / "report.md").read_text()
    # the marking itself, on a summary where the forest does not beat it
    summary = pd.DataFrame(
        [
            {
                "target": "k",
                "metric": "accuracy",
                "joint": (0.9, 0.01, 2),
                "forest": (0.5, 0.01, 2),
                "dummy": (0.5, 0.0, 2),
            },
            {
                "target": "v",
                "metric": "rmse",
                "joint": (1.0, 0.1, 2),
                "forest": (2.5, 0.1, 2),
                "dummy": (2.0, 0.0, 2),
            },
        ]
    )
    text = _report.format_table(summary, baseline="dummy")
    rows = {line.split()[0]: line for line in text.splitlines()[2:4]}
    assert "0.900 ± 0.010 *" in rows["k"] and "0.500 ± 0.010 !" in rows["k"]
    assert "2.500 ± 0.100 !" in rows["v"] and "1.000 ± 0.100 *" in rows["v"]
    assert "! not better than dummy" in text


def test_python_dash_m_runs_the_command(capsys, monkeypatch):
    import runpy

    monkeypatch.setattr(sys, "argv", ["sklearn-multihead", "--version"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("sklearn_multihead.cli", run_name="__main__")
    assert done.value.code == 0
    from sklearn_multihead import __version__

    assert capsys.readouterr().out.strip() == __version__


def test_a_pool_broken_while_the_first_fits_are_submitted_gives_the_same_error(
    monkeypatch, capsys
):
    """A worker can die before the command has submitted its first fits:
    the pool then refuses the next submit, and the command says the same."""
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    submitted, original = [], ProcessPoolExecutor.submit

    def breaking(self, fn, /, *args, **kwargs):
        if submitted:
            raise BrokenProcessPool("A child process terminated abruptly")
        submitted.append(fn)
        return original(self, fn, *args, **kwargs)

    monkeypatch.setattr(_report, "can_fork", lambda: True)
    monkeypatch.setattr(ProcessPoolExecutor, "submit", breaking, raising=True)
    argv = ["compare", "--cv", "2", *FIT_FAST, "--n-jobs", "2", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ended abruptly" in err and "--n-jobs 1" in err
