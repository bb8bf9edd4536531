"""What both estimators of the package share (scikit-learn side).

Inside:

- ``JointTargetsMixin``: the tags (multi-output, y required), the
  ``predict_proba`` availability check, and ``score`` (mean over targets of
  R^2 and accuracy, via ``metrics.joint_score``) of an estimator that encodes
  its targets with ``_targets.TargetEncoder`` as ``_encoder``; and the two
  halves of safe persistence that do not depend on the model (``_save`` /
  ``_load``: parameters, targets and features in JSON, through
  ``_persist``), which call the estimator's ``_file_state`` and
  ``_restore_file_state`` for the model itself.
"""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import MultiOutputMixin
from sklearn.utils import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_is_fitted,
)

from sklearn_multihead._persist import (
    ModelFileError,
    decode,
    encode,
    read_model,
    write_model,
)
from sklearn_multihead._targets import (
    CLASSIFICATION,
    REGRESSION,
    TARGET_TYPES,
    TargetEncoder,
)
from sklearn_multihead._validation import check_params
from sklearn_multihead.metrics import joint_score


def has_classification_target(est):
    """``available_if`` check: predict_proba needs a classification target."""
    if hasattr(est, "target_types_") and CLASSIFICATION not in est.target_types_:
        raise AttributeError(
            "predict_proba is not available: this model was fitted with regression "
            "targets only, which have no class probabilities."
        )
    return True


def has_regression_target(est):
    """``available_if`` check: intervals need a regression target."""
    if hasattr(est, "target_types_") and REGRESSION not in est.target_types_:
        raise AttributeError(
            "predict_interval is not available: this model was fitted with "
            "classification targets only; intervals are for numbers."
        )
    return True


def is_single_classifier(est):
    """``available_if`` check: classifier-only methods need one class target."""
    if est._single_target_type() != CLASSIFICATION:
        raise AttributeError(
            "This method is only available on a model of one classification "
            "target (fitted on a 1-D y, or with target_types=['classification']), "
            "which behaves as a scikit-learn classifier."
        )
    return True


class JointTargetsMixin(MultiOutputMixin):
    """Tags and ``score`` of an estimator for mixed regression / class targets.

    With one target (a 1-D y) the estimator behaves as a scikit-learn
    classifier or regressor of that kind: ``classes_`` is that target's label
    array (absent for a regression target), ``predict_proba`` one array, and
    the ``estimator_type`` tag says "classifier" or "regressor", so that
    stacking, voting, calibration and partial dependence accept it. The tag
    comes from the fitted target or, before fit, from ``target_types`` when
    it is a one-entry list (``target_types=["classification"]``): wrappers
    such as ``StackingClassifier`` check the type of unfitted estimators.
    With several targets it is neither, and ``classes_`` is the per-target
    list (``target_classes_`` is that list in every case).
    """

    def _single_target_type(self):
        """ "classification" or "regression" for one target, else None."""
        encoder = getattr(self, "_encoder", None)
        if encoder is not None:
            return encoder.types_[0] if encoder.kind_ == "1d" else None
        tt = self.target_types
        if isinstance(tt, (list, tuple)) and len(tt) == 1 and tt[0] in TARGET_TYPES:
            return tt[0]
        return None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.sparse = True  # networks densify a batch at a time
        # either kind of target may come: both sets of tags, whatever the type
        tags.classifier_tags = ClassifierTags()
        tags.regressor_tags = RegressorTags()
        kind = self._single_target_type()
        if kind == CLASSIFICATION:
            tags.estimator_type = "classifier"
        elif kind == REGRESSION:
            tags.estimator_type = "regressor"
        return tags

    def _set_target_attributes(self, encoder):
        """``target_types_``, ``target_classes_``, ``n_outputs_`` and
        ``classes_`` (an array for one class target, none for one regression
        target, the per-target list otherwise) from a fitted encoder."""
        self.target_types_ = list(encoder.types_)
        self.target_classes_ = list(encoder.classes_)
        self.n_outputs_ = len(self.target_types_)
        self.__dict__.pop("classes_", None)
        if encoder.kind_ != "1d":
            self.classes_ = list(self.target_classes_)
        elif self.target_types_[0] == CLASSIFICATION:
            self.classes_ = self.target_classes_[0]

    @available_if(is_single_classifier)
    def predict_log_proba(self, X):
        """Log of ``predict_proba`` (one classification target only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @available_if(has_regression_target)
    def predict_interval(self, X, coverage=0.9):
        """Prediction intervals of the regression targets (split conformal).

        The residuals of rows the model's parts did not train on calibrate
        the intervals (``interval_residuals_``): for the network, the rows
        each of its networks held out for early stopping, predicted by the
        networks that did not train on them (averaged); for the forest, its
        out-of-bag predictions. For a new row from the same distribution as
        the training rows, the interval holds the true value with probability
        at least ``coverage``, whatever the distribution of the errors (the
        whole model is at least as good as its parts, so the coverage errs on
        the safe side).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        coverage : float, default=0.9
            The share of rows whose interval should hold the true value,
            strictly between 0 and 1.

        Returns
        -------
        bounds : DataFrame or ndarray
            A DataFrame with the columns ``<target>_lower`` and
            ``<target>_upper`` for each regression target when y was a
            DataFrame (X's index kept); else an array of shape
            (n_samples, n_regression_targets, 2), lower then upper bound, in
            the target's units.

        Raises
        ------
        ValueError
            When ``coverage`` is not strictly between 0 and 1, when the model
            has no held-out residuals (fitted without early stopping, or
            trained further since), or when they are too few for
            ``coverage``.
        """
        check_is_fitted(self)
        if not (
            isinstance(coverage, Real)
            and not isinstance(coverage, bool)
            and 0 < coverage < 1
        ):
            raise ValueError(
                "coverage must be a number strictly between 0 and 1 (e.g. 0.9 for "
                f"90% intervals). Got {coverage!r} instead."
            )
        widths = {}
        residuals = getattr(self, "interval_residuals_", None) or []
        for j, kind in enumerate(self.target_types_):
            if kind != REGRESSION:
                continue
            r = residuals[j] if j < len(residuals) else None
            name = self._encoder.names_[j]
            if r is None:
                raise ValueError(
                    f"This model has no held-out residuals for {name!r}: "
                    f"{self._NO_RESIDUALS}"
                )
            n = len(r)
            rank = int(np.ceil((n + 1) * coverage))
            if rank > n:
                needed = int(np.ceil(coverage / (1 - coverage)))
                raise ValueError(
                    f"coverage={coverage} needs at least {needed} held-out "
                    f"residuals for {name!r}; the model has {n}. Lower coverage, "
                    "or fit on more rows (or with a larger validation_fraction)."
                )
            widths[j] = float(r[rank - 1])
        pred = self.predict(X)
        frame = isinstance(pred, pd.DataFrame)
        if not frame:
            pred = np.asarray(pred)
            if pred.ndim == 1:
                pred = pred[:, None]
        columns, bounds = {}, []
        for j, width in widths.items():
            name = self._encoder.names_[j]
            value = np.asarray(pred[name] if frame else pred[:, j], dtype=np.float64)
            lower, upper = value - width, value + width
            columns[f"{name}_lower"], columns[f"{name}_upper"] = lower, upper
            bounds.append(np.column_stack([lower, upper]))
        if frame:
            return pd.DataFrame(columns, index=pred.index)
        out = np.stack(bounds, axis=1)
        return out[:, 0, :] if self._encoder.kind_ == "1d" else out

    def score(self, X, y, sample_weight=None):
        """Mean over targets of R^2 (regression) and accuracy (classification).

        Missing cells of y are skipped, target by target; see
        ``sklearn_multihead.metrics`` for per-target scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like or DataFrame of shape (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return joint_score(y, self.predict(X), self.target_types_, sample_weight)

    #: why a model may have no held-out residuals (each estimator says its own)
    _NO_RESIDUALS = "fit it again."
    #: private attributes set by fit (besides the public ones ending in "_");
    #: each estimator names its own
    _FIT_STATE = ("_encoder",)

    def _fit_keeping_state_on_error(self, *args):
        """Run ``self._fit(*args)``; if it raises, put back the fitted state from
        before the call: a failed first fit leaves an unfitted estimator and a
        failed refit leaves the previous model, never a half-fitted one."""
        saved = {k: v for k, v in vars(self).items() if self._is_fit_attribute(k)}
        try:
            return self._fit(*args)
        except BaseException:
            for name in [k for k in vars(self) if self._is_fit_attribute(k)]:
                delattr(self, name)
            vars(self).update(saved)
            raise

    def _is_fit_attribute(self, name):
        public = name.endswith("_") and not name.startswith("__")
        return public or name in self._FIT_STATE

    # -- safe persistence (the estimators' save / load call these) ---------------
    def _save(self, path, command=None):
        """``save``; ``command``: the command's column spec (plain data), saved
        in the same document, under the same digest (``_load_with_command``)."""
        check_is_fitted(self)
        from sklearn_multihead import __version__

        extra, tensors = self._file_state()
        parts = {
            "params": self._saved_params(),
            "targets": self._encoder.get_state(),
            "features": {
                "n_features_in_": self.n_features_in_,
                "feature_names_in_": getattr(self, "feature_names_in_", None),
            },
            **extra,
        }
        if command is not None:
            parts["command"] = command
        doc = {"estimator": type(self).__name__, "library_version": __version__}
        doc.update(
            {k: encode(v, where=f"{type(self).__name__}.{k}") for k, v in parts.items()}
        )
        write_model(path, doc, tensors)
        return path

    def _saved_params(self):
        """The parameters as a model file holds them (plain data)."""
        params = self.get_params(deep=False)
        rs = params.get("random_state")
        if not (rs is None or isinstance(rs, Integral)):
            params["random_state"] = None  # a RandomState object has no JSON form
        if params.get("callbacks") is not None:
            params["callbacks"] = None  # code, not data: never saved
        return params

    @classmethod
    def _load(cls, path, **kwargs):
        return cls._load_with_command(path, **kwargs)[0]

    @classmethod
    def _load_with_command(cls, path, **kwargs):
        """The estimator of ``path`` and the command spec saved with it (None
        for a file written by ``save``)."""
        doc, tensors = read_model(path)
        if doc.get("estimator") != cls.__name__:
            raise ModelFileError(
                f"{str(path)!r} holds a {doc.get('estimator')!r}, not a "
                f"{cls.__name__}. Load it with that class."
            )
        try:
            parts = {
                k: decode(v)
                for k, v in doc.items()
                if k not in ("estimator", "library_version", "format", "format_version")
            }
            est = cls(**parts.pop("params"))
            check_params(est)
            est._encoder = TargetEncoder.from_state(
                parts.pop("targets"), est.target_types
            )
            est._set_target_attributes(est._encoder)
            features = parts.pop("features")
            est.n_features_in_ = int(features["n_features_in_"])
            if features["feature_names_in_"] is not None:
                est.feature_names_in_ = features["feature_names_in_"]
            command = parts.pop("command", None)
            est._restore_file_state(parts, tensors, **kwargs)
        except ModelFileError:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            IndexError,
            RuntimeError,
            OverflowError,
            RecursionError,
            ImportError,
        ) as exc:
            raise ModelFileError(
                f"{str(path)!r} is damaged or inconsistent and was not loaded: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        return est, command


def interval_residuals(arrays, target_types):
    """The held-out residuals of a model file (``intervals.<j>`` arrays of
    the regression targets), checked: one finite, non-negative, 1-D float64
    array per regression target named, sorted here; None for the others (and
    for files without them)."""
    out = [None] * len(target_types)
    for name, values in arrays.items():
        index = name.split(".", 1)[1]
        if not index.isdigit() or int(index) >= len(target_types):
            raise ValueError(f"the file's {name} names no target")
        j = int(index)
        values = np.asarray(values)
        if (
            target_types[j] != REGRESSION
            or values.ndim != 1
            or values.dtype != np.float64
            or not np.isfinite(values).all()
            or (values < 0).any()
        ):
            raise ValueError(f"the file's {name} are not the residuals of a target")
        out[j] = np.sort(values)
    return out


def residual_arrays(residuals):
    """``interval_residuals_`` as the arrays of a model file."""
    return {
        f"intervals.{j}": np.asarray(r, dtype=np.float64)
        for j, r in enumerate(residuals or [])
        if r is not None
    }
