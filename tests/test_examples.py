"""Smoke test: every script in examples/ runs to the end and prints results."""

import runpy
from pathlib import Path

import pytest
from conftest import SHARED_DATA

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
#: examples that read the abalone file (from SKLEARN_MULTIHEAD_DATA)
NEEDS_ABALONE = {"abalone.py", "how_sure_and_why.py"}


def test_there_is_an_example_per_use_case():
    assert {p.name for p in EXAMPLES} >= {
        "quickstart.py",
        "abalone.py",
        "census_gridsearch.py",
        "yes_no_loss_weights.py",
        "multilabel_tagging.py",
        "forest_vs_joint_gridsearch.py",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, capsys, monkeypatch):
    if path.name in NEEDS_ABALONE:
        if not (SHARED_DATA / "abalone.csv").is_file():
            pytest.skip(
                "abalone data not found: set SKLEARN_MULTIHEAD_TEST_DATA to a "
                "folder holding abalone.csv"
            )
        monkeypatch.setenv("SKLEARN_MULTIHEAD_DATA", str(SHARED_DATA))
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip()


def test_abalone_example_offline_says_so_in_one_line(monkeypatch):
    import sklearn_multihead.datasets

    def offline(*args, **kwargs):
        raise OSError("No local copy of the abalone data was found in [...].")

    monkeypatch.setattr(sklearn_multihead.datasets, "load_abalone", offline)
    path = next(p for p in EXAMPLES if p.name == "abalone.py")
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(path), run_name="__main__")
    message = str(exit_info.value)
    assert message.startswith("examples/abalone.py: No local copy of the abalone")
    assert "\n" not in message
