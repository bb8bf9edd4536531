"""
Multi-label tagging: a group of yes/no tags per row.
====================================================

Six tags (``label_0`` .. ``label_5``), each a binary head of one network with
dropout, batch normalisation and early stopping. Instead of the 0.5 default,
one decision threshold is chosen on a validation split to maximise the
micro-averaged F1, then per-tag precision, recall and F1 are reported on the
test split.

    python examples/multilabel_tagging.py
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead.datasets import make_joint_dataset

X, Y = make_joint_dataset(
    n_samples=4000,
    n_regression=0,
    n_binary=0,
    n_multiclass=0,
    n_labels=6,
    noise=0.3,
    random_state=0,
)
tags = list(Y.columns)
X_rest, X_test, Y_rest, Y_test = train_test_split(X, Y, random_state=0)
X_train, X_val, Y_train, Y_val = train_test_split(X_rest, Y_rest, random_state=0)

model = JointRegressorClassifier(
    hidden_layer_sizes=(128, 64),
    dropout=0.2,
    batch_norm=True,
    early_stopping=True,
    n_iter_no_change=8,
    max_iter=150,
    random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X_train, Y_train)
print(f"stopped after {model.n_iter_} epochs")


def positive_proba(X):
    """P(tag is True) for every tag, as an (n_samples, n_tags) array."""
    columns = []
    for classes, proba in zip(model.classes_, model.predict_proba(X)):
        columns.append(proba[:, list(classes).index(True)])
    return np.column_stack(columns)


thresholds = np.linspace(0.1, 0.9, 17)
val_f1 = [
    f1_score(Y_val.to_numpy(), positive_proba(X_val) >= t, average="micro")
    for t in thresholds
]
best = float(thresholds[int(np.argmax(val_f1))])
print(f"threshold chosen on validation: {best:.2f} (micro F1 {max(val_f1):.3f})")

Y_pred = positive_proba(X_test) >= best
precision, recall, f1, support = precision_recall_fscore_support(
    Y_test.to_numpy(), Y_pred, zero_division=0
)
print(f"{'tag':<10}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>10}")
for tag, p, r, f, s in zip(tags, precision, recall, f1, support):
    print(f"{tag:<10}{p:>10.3f}{r:>10.3f}{f:>10.3f}{s:>10d}")
micro = f1_score(Y_test.to_numpy(), Y_pred, average="micro")
default = f1_score(Y_test.to_numpy(), positive_proba(X_test) >= 0.5, average="micro")
print(f"micro F1: {micro:.3f} at {best:.2f}, {default:.3f} at 0.50")
