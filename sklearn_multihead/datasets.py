"""Data: a synthetic mixed-target generator and the abalone loader.

Inside:

- ``make_joint_dataset``: features and a DataFrame of mixed targets (regression,
  binary, multiclass, a multi-label group) driven by one shared latent
  structure, with optional categorical features and missing target cells. It
  is the package's embedded default data.
- ``load_abalone``: the UCI abalone table, read from a local copy
  (``data_home`` or the ``SKLEARN_MULTIHEAD_DATA`` environment variable) or
  downloaded once from the UCI repository, checked by sha256 and cached. The
  package never ships the file.
"""

import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home
from sklearn.utils import check_random_state

__all__ = ["load_abalone", "make_joint_dataset"]

ABALONE_URL = (
    "https://archive.ics.uci.edu/ml/machine-learning-databases/abalone/abalone.data"
)
ABALONE_SHA256 = "eb2de13be807e9bb9ec4128b9c89b98ab23d7739121cfd17b7dde69b46ba7bf6"
ABALONE_FILES = ("abalone.csv", "abalone.data")
ABALONE_COLUMNS = [
    "sex",
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
    "rings",
]
DATA_ENV = "SKLEARN_MULTIHEAD_DATA"


def make_joint_dataset(
    n_samples=1000,
    n_features=10,
    *,
    n_regression=1,
    n_binary=1,
    n_multiclass=1,
    n_classes=3,
    n_labels=0,
    n_latent=4,
    n_categorical=0,
    noise=0.1,
    missing_rate=0.0,
    random_state=None,
):
    """Generate features and mixed targets that share one latent structure.

    Every target is a function of the same ``n_latent`` factors, which are a
    non-linear function of the numeric features (plus an offset per level of
    each categorical feature), so one shared trunk can serve all heads.

    Parameters
    ----------
    n_samples : int, default=1000
    n_features : int, default=10
        Number of numeric features (standard normal).
    n_regression, n_binary, n_multiclass : int, default=1
        Number of targets of each kind: float, bool, and str labels.
    n_classes : int, default=3
        Classes of every multiclass target (labels ``"c0"``, ``"c1"``, ...).
    n_labels : int, default=0
        Size of a multi-label group: bool columns ``label_0 ...`` that share
        one extra latent factor, so that they are correlated.
    n_latent : int, default=4
        Number of shared latent factors.
    n_categorical : int, default=0
        Extra categorical feature columns (str levels ``"a"`` to ``"d"``).
    noise : float, default=0.1
        Standard deviation of the noise added to every target's signal.
    missing_rate : float, default=0.0
        Share of target cells set missing (NaN for numbers, ``pd.NA`` for
        labels), independently per cell.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : DataFrame of shape (n_samples, n_features + n_categorical)
        Columns ``x0 ...`` (float) then ``cat0 ...`` (str).
    Y : DataFrame of shape (n_samples, n_targets)
        Columns ``reg_j`` (float64), ``bin_j`` (bool, or pandas "boolean" with
        missing cells), ``cls_j`` (str) and ``label_j`` (bool).

    Examples
    --------
    >>> from sklearn_multihead.datasets import make_joint_dataset
    >>> X, Y = make_joint_dataset(n_samples=5, n_labels=2, random_state=0)
    >>> list(Y.columns)
    ['reg_0', 'bin_0', 'cls_0', 'label_0', 'label_1']
    """
    for name, value in [("n_samples", n_samples), ("n_features", n_features)]:
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer. Got {value} instead.")
    counts = dict(
        n_regression=n_regression,
        n_binary=n_binary,
        n_multiclass=n_multiclass,
        n_labels=n_labels,
        n_categorical=n_categorical,
    )
    for name, value in counts.items():
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be an integer >= 0. Got {value} instead.")
    if n_regression + n_binary + n_multiclass + n_labels == 0:
        raise ValueError("make_joint_dataset needs at least one target.")
    if n_multiclass and n_classes < 2:
        raise ValueError(f"n_classes must be >= 2. Got {n_classes} instead.")
    if not 0 <= missing_rate < 1:
        raise ValueError(f"missing_rate must be in [0, 1). Got {missing_rate} instead.")
    if noise < 0:
        raise ValueError(f"noise must be >= 0. Got {noise} instead.")

    rng = check_random_state(random_state)
    n = int(n_samples)
    Xnum = rng.standard_normal((n, n_features)).astype(np.float32)
    proj = rng.standard_normal((n_features, n_latent)) / np.sqrt(n_features)
    Z = np.tanh(Xnum @ proj) + 0.5 * (Xnum @ proj)
    X = pd.DataFrame(Xnum, columns=[f"x{i}" for i in range(n_features)])
    levels = np.array(list("abcd"))
    for c in range(n_categorical):
        codes = rng.randint(len(levels), size=n)
        Z = Z + rng.standard_normal((len(levels), n_latent))[codes] * 0.5
        X[f"cat{c}"] = pd.Series(levels[codes], dtype="str")
    Z = (Z - Z.mean(0)) / (Z.std(0) + 1e-12)

    def signal(k=1):
        return Z @ rng.standard_normal((n_latent, k)) / np.sqrt(n_latent)

    Y = {}
    for j in range(n_regression):
        s = signal()[:, 0]
        Y[f"reg_{j}"] = 3.0 * s + np.sin(2 * s) + noise * 3.0 * rng.standard_normal(n)
    for j in range(n_binary):
        s = 3.0 * signal()[:, 0] + noise * 3.0 * rng.standard_normal(n)
        Y[f"bin_{j}"] = s > np.median(s)
    for j in range(n_multiclass):
        s = 3.0 * signal(n_classes) + noise * 3.0 * rng.standard_normal((n, n_classes))
        Y[f"cls_{j}"] = np.array([f"c{k}" for k in range(n_classes)])[s.argmax(1)]
    if n_labels:
        shared = rng.standard_normal(n)
        for j in range(n_labels):
            s = 2.0 * signal()[:, 0] + shared + noise * 3.0 * rng.standard_normal(n)
            Y[f"label_{j}"] = s > np.quantile(s, 0.6)
    Y = pd.DataFrame(Y)
    for col in Y.columns:
        if Y[col].dtype == object:
            Y[col] = Y[col].astype("str")
    if missing_rate > 0:
        for col in Y.columns:
            mask = rng.uniform(size=n) < missing_rate
            if Y[col].dtype == bool:
                Y[col] = Y[col].astype("boolean")
            Y.loc[mask, col] = np.nan if Y[col].dtype == np.float64 else pd.NA
    return X, Y


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _find_local(folders):
    for folder in folders:
        for name in ABALONE_FILES:
            path = Path(folder).expanduser() / name
            if path.is_file():
                return path
    return None


def load_abalone(data_home=None, *, download_if_missing=True):
    """Load the UCI abalone data (4,177 abalone, 8 measurements and the rings).

    Looks for ``abalone.csv`` or ``abalone.data`` (the UCI file: no header) in
    ``data_home``, then in the folder named by the environment variable
    ``SKLEARN_MULTIHEAD_DATA``, then in the cache
    ``<scikit-learn data home>/sklearn_multihead``. With none there, downloads
    the file from the UCI repository, checks its sha256, and caches it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        A folder holding a local copy.
    download_if_missing : bool, default=True
        If False, raise ``OSError`` instead of downloading.

    Returns
    -------
    frame : DataFrame of shape (4177, 9)
        Columns ``sex`` (str: "M", "F", "I"), seven float measurements, and
        ``rings`` (int).

    References
    ----------
    Nash, Sellers, Talbot, Cawthorn and Ford (1994), UCI Machine Learning
    Repository, https://doi.org/10.24432/C55C7W (CC BY 4.0).
    """
    cache = Path(get_data_home()) / "sklearn_multihead"
    folders = [f for f in (data_home, os.environ.get(DATA_ENV), cache) if f]
    path = _find_local(folders)
    if path is None:
        if not download_if_missing:
            raise OSError(
                "No local copy of the abalone data was found in "
                f"{[str(f) for f in folders]}. Put 'abalone.data' (from "
                f"{ABALONE_URL}) in one of them, pass data_home=FOLDER, or set "
                f"{DATA_ENV}=FOLDER."
            )
        path = _download(cache)
    frame = pd.read_csv(path, header=None, names=ABALONE_COLUMNS)
    frame["sex"] = frame["sex"].astype("str")
    if len(frame) != 4177 or frame.isna().any().any():
        raise ValueError(
            f"{path} does not look like the abalone data (expected 4,177 complete "
            f"rows, got {len(frame)}). Replace it with the UCI file."
        )
    return frame


def _download(cache):
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / "abalone.data"
    partial = target.with_suffix(".part")
    try:
        with (
            urllib.request.urlopen(ABALONE_URL, timeout=60) as r,
            open(partial, "wb") as f,
        ):
            shutil.copyfileobj(r, f)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OSError(
            f"Could not download the abalone data from {ABALONE_URL} ({exc}). "
            f"Offline? Put a copy of 'abalone.data' in a folder and pass "
            f"data_home=FOLDER, or set {DATA_ENV}=FOLDER."
        ) from exc
    digest = _sha256(partial)
    if digest != ABALONE_SHA256:
        partial.unlink(missing_ok=True)
        raise OSError(
            f"The downloaded abalone file has sha256 {digest}, expected "
            f"{ABALONE_SHA256}; it was not kept."
        )
    partial.replace(target)
    return target
