"""The constructor parameters that ``JointRegressorClassifier`` accepts, as
rules that ``_params`` checks at ``fit``, ``partial_fit`` and ``load``."""

from numbers import Integral, Real

import numpy as np

from sklearn_multihead._inputs import NUMERIC_TRANSFORMS
from sklearn_multihead._losses import REGRESSION_LOSSES
from sklearn_multihead._module import ACTIVATIONS
from sklearn_multihead._params import Interval, Options, StrOptions

NETWORK_RULES = {
    "hidden_layer_sizes": [
        "array-like",
        Interval(Integral, 1, None, closed="left"),
    ],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
    "head_hidden_layer_sizes": ["array-like"],
    "categorical_features": [StrOptions({"from_dtype"}), None, "array-like"],
    "numeric_transform": [StrOptions(set(NUMERIC_TRANSFORMS))],
    "numeric_embedding": [None, StrOptions({"periodic", "piecewise"})],
    "n_ensemble": [Interval(Integral, 1, None, closed="left")],
    "n_models": [Interval(Integral, 1, None, closed="left")],
    "target_types": [StrOptions({"auto"}), list, tuple, dict],
    "regression_loss": [StrOptions(set(REGRESSION_LOSSES))],
    "loss_weights": [
        None,
        StrOptions({"uncertainty"}),
        list,
        tuple,
        dict,
        np.ndarray,
    ],
    "class_weight": [None, StrOptions({"balanced"}), list, tuple, dict],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [
        StrOptions({"auto"}),
        Interval(Integral, 1, None, closed="left"),
    ],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean", StrOptions({"auto"})],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "n_threads": [
        None,
        Interval(Integral, 1, None, closed="left"),
        Options(Integral, {-1}),
    ],
    "callbacks": [None, list],
}
