"""sklearn-multihead: one torch network for mixed regression and classification
targets, behind the scikit-learn API."""

from sklearn_multihead._baseline import RandomForestRegressorClassifier
from sklearn_multihead._estimator import JointRegressorClassifier
from sklearn_multihead.metrics import (
    estimator_report,
    joint_score,
    make_joint_scorer,
    make_target_scorers,
    target_report,
)

__version__ = "0.1.0"

__all__ = [
    "JointRegressorClassifier",
    "RandomForestRegressorClassifier",
    "estimator_report",
    "joint_score",
    "make_joint_scorer",
    "make_target_scorers",
    "target_report",
]
