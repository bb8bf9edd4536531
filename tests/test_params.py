"""Constructor parameters are checked at fit, with messages that name the
parameter, what it must be and what it got (``_params``: scikit-learn's
style on its public API only)."""

import numpy as np
import pytest
import sklearn
from conftest import joint

from sklearn_multihead import RandomForestRegressorClassifier
from sklearn_multihead._validation import InvalidParameterError

X = np.random.RandomState(0).normal(size=(40, 3))
y = X[:, 0]


@pytest.mark.parametrize(
    "est, message",
    [
        (
            joint(max_iter=0),
            "The 'max_iter' parameter of JointRegressorClassifier must be an int "
            "in the range [1, inf). Got 0 instead.",
        ),
        (
            joint(early_stopping=1),
            "The 'early_stopping' parameter of JointRegressorClassifier must be a "
            "bool or a str among ['auto']. Got 1 instead.",
        ),
        (
            joint(validation_fraction=float("nan")),
            "The 'validation_fraction' parameter of JointRegressorClassifier must "
            "be a float in the range (0, 1). Got nan instead.",
        ),
        (
            joint(n_threads=0),
            "The 'n_threads' parameter of JointRegressorClassifier must be None, "
            "an int in the range [1, inf) or an int among [-1]. Got 0 instead.",
        ),
        (
            joint(numeric_embedding="splines"),
            "The 'numeric_embedding' parameter of JointRegressorClassifier must be "
            "None or a str among ['periodic', 'piecewise']. Got 'splines' instead.",
        ),
        (
            joint(learning_rate="cosine"),
            "The 'learning_rate' parameter of JointRegressorClassifier must be a "
            "str among ['adaptive', 'constant']. Got 'cosine' instead.",
        ),
        (
            joint(loss_weights="kendall"),
            "The 'loss_weights' parameter of JointRegressorClassifier must be "
            "None, a str among ['auto', 'held_out', 'uncertainty'], an "
            "instance of 'list', an instance of 'tuple', an instance of 'dict' or "
            "an instance of 'ndarray'. Got 'kendall' instead.",
        ),
        (
            joint(calibrate="yes"),
            "The 'calibrate' parameter of JointRegressorClassifier must be a "
            "bool. Got 'yes' instead.",
        ),
        (
            RandomForestRegressorClassifier(max_features=1.5),
            "The 'max_features' parameter of RandomForestRegressorClassifier must "
            "be a str among ['default', 'log2', 'sqrt'], an int in the range "
            "[1, inf), a float in the range (0.0, 1.0] or None. Got 1.5 instead.",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_bad_parameters_are_named_with_what_they_must_be(est, message):
    with pytest.raises(InvalidParameterError) as info:
        est.fit(X, y)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError) and not hasattr(est, "n_features_in_")


def test_booleans_are_not_numbers_and_partial_fit_is_checked_too():
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter"):
        joint(batch_size=True).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'max_iter' parameter"):
        joint(max_iter=-1).partial_fit(X, y)


def test_scikit_learns_switch_turns_the_checks_off():
    est = joint(max_iter=-1)
    with sklearn.config_context(skip_parameter_validation=True):
        with pytest.raises(Exception) as info:
            est.fit(X, y)
    assert not isinstance(info.value, InvalidParameterError)
