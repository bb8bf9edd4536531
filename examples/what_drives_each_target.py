"""
What drives each target: permutation importance per feature and target.
=======================================================================

On the abalone table, one network predicts an abalone's rings (a number)
and its sex (three classes: female, male, infant) from seven shell
measurements. ``target_importances`` shuffles one feature at a time on
held-out rows and reports, for every target, how much its score drops: the
features the network uses for that target. Needs the UCI abalone file, as
``examples/abalone.py``.

    python examples/what_drives_each_target.py
"""

import warnings

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import load_abalone
from sklearn_multihead.inspection import target_importances

try:
    data = load_abalone()
except OSError as exc:  # offline, with no local copy: say so in one line
    raise SystemExit(f"examples/what_drives_each_target.py: {exc}") from None
X = data.drop(columns=["sex", "rings"])
Y = pd.DataFrame({"rings": data["rings"].astype(float), "sex": data["sex"]})
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = JointRegressorClassifier(n_models=3, random_state=0).fit(X_train, Y_train)

table = target_importances(model, X_test, Y_test, n_repeats=5, random_state=0)
wide = table.pivot_table(
    index="feature", columns="target", values="importance_mean", sort=False
)
print("Drop of each target's held-out score (rings: R^2, sex: accuracy) when")
print("a feature is shuffled; larger = the network relies on it more:\n")
print(wide.round(3).sort_values("rings", ascending=False).to_string())
print(f"\nheld-out score: {model.score(X_test, Y_test):.3f}")
