"""
How sure, and why: intervals and importances per target.
========================================================

On the abalone table, one network predicts an abalone's rings (a number)
and its sex (three classes: female, male, infant) from seven shell
measurements. ``predict_interval`` gives 90% intervals of the rings,
calibrated on the rows the averaged networks held out; ``target_importances``
shuffles one feature at a time on held-out rows and reports, for every
target, how much its score drops: the features the network uses for that
target. Needs the UCI abalone file, as ``examples/abalone.py``.

    python examples/how_sure_and_why.py
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
    raise SystemExit(f"examples/how_sure_and_why.py: {exc}") from None
X = data.drop(columns=["sex", "rings"])
Y = pd.DataFrame({"rings": data["rings"].astype(float), "sex": data["sex"]})
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = JointRegressorClassifier(n_models=3, random_state=0).fit(X_train, Y_train)

bounds = model.predict_interval(X_test, coverage=0.9)
rings = Y_test["rings"]
inside = (rings >= bounds["rings_lower"]) & (rings <= bounds["rings_upper"])
print("90% intervals of the rings, first rows of the test set:\n")
print(
    pd.concat(
        [rings, model.predict(X_test)["rings"].rename("predicted"), bounds], axis=1
    )
    .head()
    .round(2)
    .to_string()
)
print(
    f"\n{inside.mean():.1%} of the {len(rings)} test rows lie inside their interval "
    f"(mean width {(bounds['rings_upper'] - bounds['rings_lower']).mean():.2f} rings)\n"
)

table = target_importances(model, X_test, Y_test, n_repeats=5, random_state=0)
wide = table.pivot_table(
    index="feature", columns="target", values="importance_mean", sort=False
)
print("Drop of each target's held-out score (rings: R^2, sex: accuracy) when")
print("a feature is shuffled; larger = the network relies on it more:\n")
print(wide.round(3).sort_values("rings", ascending=False).to_string())
print(f"\nheld-out score: {model.score(X_test, Y_test):.3f}")
