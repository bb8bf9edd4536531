"""
A census-style table: a class and a number from mixed features.
===============================================================

Predict whether a person earns over 50K (a binary class) and their weekly
hours (a number) from age, education, occupation and sex. The categorical
columns are one-hot encoded and the numbers scaled by a ColumnTransformer in
a Pipeline; GridSearchCV tunes the network with one scorer per target and
refits on the mean of the two.

    python examples/census_gridsearch.py
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_multihead import (
    JointRegressorClassifier,
    estimator_report,
    make_target_scorers,
)

rng = np.random.RandomState(0)
n = 3000
education = rng.choice(["school", "college", "bachelor", "master"], n)
occupation = rng.choice(["craft", "sales", "tech", "service", "admin"], n)
age = rng.randint(18, 70, n)
sex = rng.choice(["female", "male"], n)
level = pd.Series(education).map(
    {"school": 0, "college": 1, "bachelor": 2, "master": 3}
)
job = pd.Series(occupation).map(
    {"craft": 0.2, "sales": 0.5, "tech": 1.0, "service": -0.5, "admin": 0.0}
)
signal = 0.8 * level + job + 0.04 * (age - 40) - 0.03 * (age - 40) ** 2 / 10
X = pd.DataFrame({"age": age, "education": education, "occupation": occupation})
X["sex"] = sex
Y = pd.DataFrame(
    {
        "over_50k": (signal + rng.normal(0, 0.7, n)) > 1.5,
        "hours_per_week": 38 + 4 * job + 2 * (sex == "male") + rng.normal(0, 3, n),
    }
)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

model = Pipeline(
    [
        (
            "prep",
            ColumnTransformer(
                [
                    ("numbers", StandardScaler(), ["age"]),
                    ("categories", OneHotEncoder(), ["education", "occupation", "sex"]),
                ]
            ),
        ),
        # one network per candidate (n_models=1), without each target's own
        # model beside it (target_networks=False), keeps the search fast
        (
            "net",
            JointRegressorClassifier(
                max_iter=60, n_models=1, target_networks=False, random_state=0
            ),
        ),
    ]
)
search = GridSearchCV(
    model,
    {
        "net__hidden_layer_sizes": [(32,), (64, 32)],
        "net__alpha": [1e-4, 1e-2],
    },
    scoring=make_target_scorers(Y_train),  # "<target>__<metric>" and "joint"
    refit="joint",
    cv=3,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, Y_train)

print("best parameters:", search.best_params_)
results = pd.DataFrame(search.cv_results_)
columns = ["mean_test_over_50k__accuracy", "mean_test_hours_per_week__r2"]
print(results[["params", *columns]].to_string(index=False))
report = estimator_report(search.best_estimator_, X_test, Y_test)
print(report[["target", "type", "mae", "r2", "accuracy", "f1_macro"]].round(3))
