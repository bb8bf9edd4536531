"""Checks of the estimators' constructor parameters, in scikit-learn's style
but on its public API only (its own machinery, ``sklearn.utils._param_validation``
and ``sklearn.base._fit_context``, is private and may change in any release).

Inside:

- ``Interval``, ``StrOptions``, ``Options``: the constraints a parameter's
  list in ``_parameter_rules`` may hold, beside ``None``, a type, and
  the names ``"array-like"``, ``"boolean"``, ``"random_state"`` and
  ``"verbose"``.
- ``InvalidParameterError``: a ``ValueError`` (and ``TypeError``) whose
  message names the parameter, what it must be and what it got.
- ``check_sample_weight``: ``sample_weight`` as a checked float vector, one
  weight per row (scikit-learn's messages; its own helper is private).
- ``validated_fit``: decorates ``fit`` / ``partial_fit``: the parameters are
  checked first (unless ``sklearn.set_config(skip_parameter_validation=True)``),
  and scikit-learn estimators fitted inside skip their own checks.
"""

import functools
import math
from numbers import Integral, Number, Real

import numpy as np
from sklearn import config_context, get_config
from sklearn.utils import check_array


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter has a type or value it cannot have."""


class Interval:
    """Numbers of ``type`` (``Integral`` or ``Real``) between ``left`` and
    ``right`` (None: unbounded); ``closed`` in {"left", "right", "both",
    "neither"}. Booleans are not numbers here."""

    def __init__(self, type, left, right, *, closed):
        self.type, self.left, self.right, self.closed = type, left, right, closed

    def accepts(self, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, self.type):
            return False
        if isinstance(value, Real) and math.isnan(value):
            return False
        if self.left is not None:
            if value < self.left or (
                value == self.left and self.closed in ("right", "neither")
            ):
                return False
        if self.right is not None:
            if value > self.right or (
                value == self.right and self.closed in ("left", "neither")
            ):
                return False
        return True

    def __str__(self):
        kind = "an int" if self.type is Integral else "a float"
        lo = "-inf" if self.left is None else repr(self.left)
        hi = "inf" if self.right is None else repr(self.right)
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{kind} in the range {lb}{lo}, {hi}{rb}"


class Options:
    """One of ``options``, which are instances of ``type``."""

    def __init__(self, type, options):
        self.type, self.options = type, set(options)

    def accepts(self, value):
        if isinstance(value, (bool, np.bool_)) and self.type is not bool:
            return False
        return isinstance(value, self.type) and value in self.options

    def __str__(self):
        kind = {str: "a str", Integral: "an int", Real: "a float"}.get(
            self.type, f"an instance of {getattr(self.type, '__name__', self.type)!r}"
        )
        return f"{kind} among {sorted(self.options, key=repr)}"


class StrOptions(Options):
    """One of the strings ``options``."""

    def __init__(self, options):
        super().__init__(str, options)


def _accepts(constraint, value):
    if constraint is None:
        return value is None
    if isinstance(constraint, (Interval, Options)):
        return constraint.accepts(value)
    if constraint == "array-like":
        return (
            hasattr(value, "__len__")
            or hasattr(value, "shape")
            or hasattr(value, "__array__")
        ) and not np.isscalar(value)
    if constraint == "boolean":
        return isinstance(value, (bool, np.bool_))
    if constraint == "random_state":
        return (
            value is None
            or isinstance(value, np.random.RandomState)
            or (
                isinstance(value, Integral)
                and not isinstance(value, (bool, np.bool_))
                and 0 <= value <= 2**32 - 1
            )
        )
    if constraint == "verbose":
        return isinstance(value, (bool, np.bool_)) or (
            isinstance(value, Integral) and value >= 0
        )
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    raise TypeError(f"unknown parameter constraint {constraint!r}")


def _describe(constraint):
    if constraint is None:
        return "None"
    if isinstance(constraint, (Interval, Options)):
        return str(constraint)
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__!r}"
    return {
        "array-like": "an array-like",
        "boolean": "a bool",
        "random_state": "an int in the range [0, 4294967295], a RandomState or None",
        "verbose": "an int >= 0 or a bool",
    }[constraint]


def check_params(estimator):
    """Raise ``InvalidParameterError`` for the first parameter of
    ``estimator`` that satisfies none of its constraints."""
    constraints = type(estimator)._parameter_rules
    for name, value in estimator.get_params(deep=False).items():
        allowed = constraints[name]
        if any(_accepts(c, value) for c in allowed):
            continue
        described = [_describe(c) for c in allowed]
        text = (
            described[0]
            if len(described) == 1
            else ", ".join(described[:-1]) + " or " + described[-1]
        )
        raise InvalidParameterError(
            f"The {name!r} parameter of {type(estimator).__name__} must be "
            f"{text}. Got {value!r} instead."
        )


def validated_fit(method):
    """``method`` with the estimator's parameters checked first."""

    @functools.wraps(method)
    def wrapper(estimator, *args, **kwargs):
        if not get_config()["skip_parameter_validation"]:
            check_params(estimator)
        with config_context(skip_parameter_validation=True):
            return method(estimator, *args, **kwargs)

    return wrapper


def check_sample_weight(sample_weight, n_samples, dtype=None):
    """One finite, non-negative float weight per row, not all zero (a scalar
    is every row's weight); float32 and float64 are kept unless ``dtype`` says
    otherwise, anything else becomes float64."""
    if dtype not in (np.float32, np.float64):
        dtype = [np.float64, np.float32] if dtype is None else np.float64
    if isinstance(sample_weight, Number):
        dtype = dtype[0] if isinstance(dtype, list) else dtype
        sample_weight = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        sample_weight = check_array(
            sample_weight,
            accept_sparse=False,
            ensure_2d=False,
            dtype=dtype,
            order="C",
            input_name="sample_weight",
        )
        if sample_weight.ndim != 1:
            raise ValueError("Sample weights must be 1D array or scalar")
        if sample_weight.shape != (n_samples,):
            raise ValueError(
                f"sample_weight.shape == {sample_weight.shape}, expected "
                f"{(n_samples,)}!"
            )
    if not np.isfinite(sample_weight).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (sample_weight < 0).any():
        raise ValueError("Negative values in data passed to `sample_weight`")
    if n_samples and not sample_weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight
