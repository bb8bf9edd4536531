"""sklearn-multihead: one torch network for mixed regression and classification
targets, behind the scikit-learn API."""

from sklearn_multihead._estimator import JointRegressorClassifier
from sklearn_multihead.metrics import joint_score

__version__ = "0.1.0"

__all__ = ["JointRegressorClassifier", "joint_score"]
