"""sklearn-multihead: one torch network for mixed regression and classification
targets, behind the scikit-learn API.

The public names below are imported on first use (PEP 562), so that
``sklearn-multihead --version`` and ``--help`` answer without importing torch
and scikit-learn; ``from sklearn_multihead import JointRegressorClassifier``
works as usual.
"""

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "JointRegressorClassifier": "sklearn_multihead._joint.estimator",
    "RandomForestRegressorClassifier": "sklearn_multihead._forest.estimator",
    "DummyRegressorClassifier": "sklearn_multihead._dummy",
    "estimator_report": "sklearn_multihead.metrics",
    "expected_calibration_error": "sklearn_multihead.metrics",
    "joint_score": "sklearn_multihead.metrics",
    "make_joint_scorer": "sklearn_multihead.metrics",
    "make_target_scorers": "sklearn_multihead.metrics",
    "target_report": "sklearn_multihead.metrics",
}

__all__ = [
    "DummyRegressorClassifier",
    "JointRegressorClassifier",
    "RandomForestRegressorClassifier",
    "estimator_report",
    "expected_calibration_error",
    "joint_score",
    "make_joint_scorer",
    "make_target_scorers",
    "target_report",
]

if TYPE_CHECKING:  # explicit imports for type checkers and IDEs
    from sklearn_multihead._dummy import DummyRegressorClassifier
    from sklearn_multihead._forest.estimator import RandomForestRegressorClassifier
    from sklearn_multihead._joint.estimator import JointRegressorClassifier
    from sklearn_multihead.metrics import (
        estimator_report,
        expected_calibration_error,
        joint_score,
        make_joint_scorer,
        make_target_scorers,
        target_report,
    )


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
