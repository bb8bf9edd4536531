"""
A random forest and the joint network in one GridSearchCV.
==========================================================

One Pipeline whose last step is searched over: a multi-output
RandomForestRegressorClassifier with two sizes, and the joint network with
two widths. Every candidate is scored per target ("<target>__<metric>"), so
the table shows where each model wins, and the refit picks the best mean.

    python examples/forest_vs_joint_gridsearch.py
"""

import warnings

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_multihead import (
    JointRegressorClassifier,
    RandomForestRegressorClassifier,
    make_target_scorers,
)
from sklearn_multihead.datasets import make_joint_dataset

X, Y = make_joint_dataset(n_samples=1500, missing_rate=0.05, random_state=0)

pipe = Pipeline([("scale", StandardScaler()), ("model", JointRegressorClassifier())])
grid = [
    {
        "model": [RandomForestRegressorClassifier(random_state=0)],
        "model__n_estimators": [50, 200],
    },
    {
        # one network per candidate (n_models=1), without each target's own
        # model beside it (target_networks=False), keeps the search fast
        "model": [
            JointRegressorClassifier(
                max_iter=80, n_models=1, target_networks=False, random_state=0
            )
        ],
        "model__hidden_layer_sizes": [(32,), (64, 32)],
    },
]
scoring = make_target_scorers(Y)
search = GridSearchCV(pipe, grid, scoring=scoring, refit="joint", cv=3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X, Y)

results = pd.DataFrame(search.cv_results_)
results["candidate"] = [
    type(p["model"]).__name__.replace("RegressorClassifier", "")
    + " "
    + str(p.get("model__n_estimators", p.get("model__hidden_layer_sizes")))
    for p in results["params"]
]
shown = ["mean_test_reg_0__r2", "mean_test_bin_0__accuracy"]
shown += ["mean_test_cls_0__accuracy", "mean_test_joint", "mean_fit_time"]
table = results.set_index("candidate")[shown]
table.columns = [c.replace("mean_test_", "") for c in table.columns]
print(table.round(3).to_string())
print("best:", results.loc[search.best_index_, "candidate"])
