"""
Quickstart: one network for a float, a bool and a str target at once.
=====================================================================

Runs on the package's own synthetic data and prints, for each target, the
joint model's held-out score beside a Dummy baseline.

    python examples/quickstart.py
"""

import warnings

from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset

X, Y = make_joint_dataset(
    n_samples=2000, n_features=10, n_labels=2, missing_rate=0.1, random_state=0
)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = JointRegressorClassifier(random_state=0).fit(X_train, Y_train)
pred = model.predict(X_test)

print(f"{'target':<10}{'type':<16}{'metric':<10}{'joint':>8}{'dummy':>8}")
for name, kind in zip(Y.columns, model.target_types_):
    known_train = Y_train[name].notna().to_numpy()
    known = Y_test[name].notna().to_numpy()
    y_true = Y_test[name][known].to_numpy()
    if kind == "regression":
        dummy = DummyRegressor().fit(X_train[known_train], Y_train[name][known_train])
        metric, score = "R^2", r2_score
    else:
        dummy = DummyClassifier().fit(X_train[known_train], Y_train[name][known_train])
        metric, score = "accuracy", accuracy_score
        y_true = y_true.astype(str)
    ours = score(y_true, pred[name][known].to_numpy().astype(y_true.dtype))
    base = score(y_true, dummy.predict(X_test[known]).astype(y_true.dtype))
    print(f"{name:<10}{kind:<16}{metric:<10}{ours:>8.3f}{base:>8.3f}")
print(f"\nmean score (model.score): {model.score(X_test, Y_test):.3f}")
