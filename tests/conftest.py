"""Shared fixtures: seeded randomness, the abalone data, fast model settings."""

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

#: a folder holding abalone.csv for the tests that need it: the environment
#: variable SKLEARN_MULTIHEAD_TEST_DATA, else the project's shared data folder
SHARED_DATA = Path(
    os.environ.get(
        "SKLEARN_MULTIHEAD_TEST_DATA",
        Path(__file__).resolve().parents[2] / "shared" / "datasets",
    )
)


#: the one set of fast settings: a single network (the default averages 5),
#: without each target's own model beside it (tests/test_target_networks.py
#: and the default-parameter checks fit those)
FAST = {"n_models": 1, "target_networks": False}


def joint(**params):
    """``JointRegressorClassifier`` at the fast settings; ``params`` win."""
    from sklearn_multihead import JointRegressorClassifier

    return JointRegressorClassifier(**{**FAST, **params})


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: long end-to-end tests and the default-parameter common checks "
        "(the README's test command skips them; CI runs them: pytest -m slow)",
    )


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global random state."""
    np.random.seed(0)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="session")
def abalone():
    path = SHARED_DATA / "abalone.csv"
    if not path.is_file():
        pytest.skip(
            "abalone data not found: set SKLEARN_MULTIHEAD_TEST_DATA to a folder "
            "holding abalone.csv"
        )
    from sklearn_multihead.datasets import load_abalone

    return load_abalone(data_home=SHARED_DATA)


@pytest.fixture(scope="session")
def abalone_xy(abalone):
    """Features (7 measurements) and Y = rings (float), sex (str), rings (int)."""
    X = abalone.drop(columns=["sex", "rings"])
    Y = pd.DataFrame(
        {
            "rings": abalone["rings"].astype(float),
            "sex": abalone["sex"],
            "ring_class": abalone["rings"].astype(int),
        }
    )
    return X, Y
