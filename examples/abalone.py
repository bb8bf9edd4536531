"""
Abalone: rings as a number and as a class in one model, a forest beside it.
===========================================================================

The tutorial's case: from seven shell measurements, predict an abalone's age
in rings both as a number (regression) and as a class (one of the ring
counts), with one network and two heads; a RandomForestRegressorClassifier
is the baseline. Needs the UCI abalone file: load_abalone downloads it once
(and caches it); offline, point SKLEARN_MULTIHEAD_DATA at a folder that holds
a copy (abalone.data or abalone.csv).

    python examples/abalone.py
    SKLEARN_MULTIHEAD_DATA=/path/to/folder python examples/abalone.py
"""

import warnings

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_multihead import (
    JointRegressorClassifier,
    RandomForestRegressorClassifier,
    estimator_report,
)
from sklearn_multihead.datasets import load_abalone

try:
    data = load_abalone()
except OSError as exc:  # offline, with no local copy: say so in one line
    raise SystemExit(f"examples/abalone.py: {exc}") from None
X = data.drop(columns=["sex", "rings"])
Y = pd.DataFrame(
    {
        "rings": data["rings"].astype(float),  # a number: regression
        "ring_class": data["rings"].astype(str),  # a label: classification
    }
)
X_train, X_test, Y_train, Y_test = train_test_split(
    X, Y, test_size=0.33, random_state=1
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    joint = JointRegressorClassifier(random_state=0).fit(X_train, Y_train)
forest = RandomForestRegressorClassifier(random_state=0).fit(X_train, Y_train)

for name, model in [("joint network", joint), ("random forest", forest)]:
    report = estimator_report(model, X_test, Y_test).set_index("target")
    print(
        f"{name:<14} rings MAE {report.loc['rings', 'mae']:.3f}   "
        f"ring class accuracy {report.loc['ring_class', 'accuracy']:.3f}"
    )
print(joint.predict(X_test.head(3)))
