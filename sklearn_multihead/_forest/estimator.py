"""``RandomForestRegressorClassifier``: the classical baseline, same contract.

Inside:

- ``RandomForestRegressorClassifier``: one ``RandomForestRegressor`` for the
  regression targets and one ``RandomForestClassifier`` for the classification
  targets (both multi-output), behind the same API as
  ``JointRegressorClassifier``: targets typed and encoded by
  ``_targets.TargetEncoder``, ``predict`` in original labels and dtypes,
  ``predict_proba`` as a list, ``classes_``, ``score``.

Missing target cells: a forest cannot mask a cell, so a group of targets
(the regression ones, or the classification ones) with no missing cell is
learned by one multi-output forest, and a group with missing cells by one
forest per target, each on the rows where its target is known. Nothing is
imputed and no row is dropped for all targets.

Safe files (``save`` / ``load``): the trees go in as arrays of numbers
(``_trees``: children, features, thresholds, values), every index checked
on load, and a loaded forest predicts by walking them in numpy; the targets
and parameters go in the package's own JSON document. No object graph is
rebuilt from a file.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from sklearn_multihead._base import (
    JointTargetsMixin,
    has_classification_target,
    interval_residuals,
    residual_arrays,
)
from sklearn_multihead._forest.arrays import FIELDS, ForestArrays, forest_arrays
from sklearn_multihead._persist import ModelFileError
from sklearn_multihead._targets import CLASSIFICATION, REGRESSION, TargetEncoder
from sklearn_multihead._validation import (
    Interval,
    StrOptions,
    check_sample_weight,
    validated_fit,
)

__all__ = ["RandomForestRegressorClassifier"]


def check_numeric_frame(X):
    """Name the non-numeric columns of a DataFrame X and how to encode them."""
    if not isinstance(X, pd.DataFrame):
        return
    bad = [c for c, dt in X.dtypes.items() if not pd.api.types.is_numeric_dtype(dt)]
    if bad:
        raise ValueError(
            f"X has non-numeric columns {bad}. The forest needs numbers: encode "
            "them first, e.g. with a Pipeline of ColumnTransformer([('cat', "
            "OneHotEncoder(), columns)]) and this estimator "
            "(JointRegressorClassifier takes them as they are)."
        )


class RandomForestRegressorClassifier(JointTargetsMixin, BaseEstimator):
    """Random forests for mixed regression and classification targets.

    Parameters
    ----------
    n_estimators : int, default=100
        Trees in each forest.
    max_depth : int, default=None
        Maximum depth of the trees.
    min_samples_leaf : int or float, default=1
        Minimum samples in a leaf.
    max_features : {"default", "sqrt", "log2"}, int, float or None, \
            default="default"
        Features considered per split; "default" keeps each forest's own
        default (1.0 for regression, "sqrt" for classification).
    class_weight : None, "balanced", "balanced_subsample" or list of dict, \
            default=None
        Passed to the classification forest (a list: one dict per
        classification target, keyed by label).
    target_types : "auto", list or dict, default="auto"
        As in ``JointRegressorClassifier``.
    n_jobs : int, default=None
        Parallel jobs of each forest.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    target_types_, classes_, n_outputs_, n_features_in_, feature_names_in_
        As in ``JointRegressorClassifier``.
    estimators_ : list of (forest, list of int)
        The fitted forests with the target positions each one predicts:
        scikit-learn forests after ``fit``; after ``load``, ``ForestArrays``
        (the same trees as checked arrays, with ``predict`` and
        ``predict_proba`` giving the same results).

    Examples
    --------
    >>> from sklearn_multihead import RandomForestRegressorClassifier
    >>> from sklearn_multihead.datasets import make_joint_dataset
    >>> X, Y = make_joint_dataset(n_samples=100, random_state=0)
    >>> rf = RandomForestRegressorClassifier(n_estimators=10, random_state=0)
    >>> [str(dtype) for dtype in rf.fit(X, Y).predict(X[:2]).dtypes]
    ['float64', 'bool', 'str']
    """

    _NO_RESIDUALS = (
        "no row was out of the bag of any tree (too few trees or rows). Fit it "
        "with more trees."
    )
    _parameter_rules = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "min_samples_leaf": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0.0, 1.0, closed="neither"),
        ],
        "max_features": [
            StrOptions({"default", "sqrt", "log2"}),
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0.0, 1.0, closed="right"),
            None,
        ],
        "class_weight": [
            StrOptions({"balanced", "balanced_subsample"}),
            list,
            None,
        ],
        "target_types": [StrOptions({"auto"}), list, tuple, dict],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_estimators=100,
        *,
        max_depth=None,
        min_samples_leaf=1,
        max_features="default",
        class_weight=None,
        target_types="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.target_types = target_types
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _forest(self, kind, class_weight=None):
        params = dict(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        if self.max_features != "default":
            params["max_features"] = self.max_features
        if kind == REGRESSION:  # out-of-bag predictions calibrate the intervals
            return RandomForestRegressor(oob_score=True, **params)
        return RandomForestClassifier(class_weight=class_weight, **params)

    @validated_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the forests.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like or DataFrame of shape (n_samples, n_targets) or (n_samples,)
            Mixed targets; missing cells are skipped (see the module notes).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit_keeping_state_on_error(X, y, sample_weight)

    def _fit(self, X, y, sample_weight):
        X, sample_weight = self._validate_fit_data(X, y, sample_weight)
        encoder = TargetEncoder(self.target_types, scale_regression=False)
        Y = encoder.fit_transform(y, sample_weight)
        self._encoder = encoder
        self._set_target_attributes(encoder)
        cls_cols = [j for j, t in enumerate(self.target_types_) if t == CLASSIFICATION]
        class_weight = self._class_weight_by_target(cls_cols)

        self.estimators_ = []
        self.interval_residuals_ = [None] * self.n_outputs_
        for kind in (REGRESSION, CLASSIFICATION):
            cols = [j for j, t in enumerate(self.target_types_) if t == kind]
            if not cols:
                continue
            if not np.isnan(Y[:, cols]).any():
                groups = [cols]
            else:
                groups = [[j] for j in cols]
            for group in groups:
                rows = ~np.isnan(Y[:, group]).any(axis=1)
                targets = Y[rows][:, group]
                if kind == CLASSIFICATION:
                    targets = targets.astype(np.intp)
                    cw = class_weight
                    if isinstance(cw, list):
                        cw = [cw[cls_cols.index(j)] for j in group]
                else:
                    cw = None
                forest = self._forest(kind, cw)
                with warnings.catch_warnings():
                    # rows in every tree's sample (few trees) get no OOB
                    # prediction: they are left out of the residuals
                    warnings.filterwarnings("ignore", message="Some inputs do not")
                    forest.fit(
                        X[rows],
                        targets[:, 0] if len(group) == 1 else targets,
                        sample_weight=None
                        if sample_weight is None
                        else sample_weight[rows],
                    )
                self.estimators_.append((forest, group))
                if kind == REGRESSION:
                    oob = forest.oob_prediction_.reshape(len(targets), len(group))
                    for i, j in enumerate(group):
                        r = np.abs(targets[:, i] - oob[:, i])
                        r = np.sort(r[np.isfinite(r)])
                        self.interval_residuals_[j] = r if len(r) else None
        return self

    def _class_weight_by_target(self, cls_cols):
        """Forest class weights keyed by class code instead of label."""
        cw = self.class_weight
        if not isinstance(cw, list):
            return cw
        if len(cw) != len(cls_cols):
            raise ValueError(
                f"class_weight has {len(cw)} entries but there are {len(cls_cols)} "
                "classification targets. Give one dict per classification target."
            )
        out = []
        for j, weights in zip(cls_cols, cw):
            classes = self.target_classes_[j].tolist()
            unknown = [k for k in weights if k not in classes]
            if unknown:
                raise ValueError(
                    f"class_weight for target {self._encoder.names_[j]!r} names "
                    f"labels {unknown} that are not among its classes {classes}."
                )
            out.append({classes.index(k): w for k, w in weights.items()})
        return out

    # -- X checks ----------------------------------------------------------------
    def _validate_fit_data(
        self, X, y, sample_weight, sample_weight_dtype=None, reset=True
    ):
        """X as float32, and sample_weight checked, with scikit-learn's errors
        (``reset=False``: X must have the features of the first fit)."""
        check_numeric_frame(X)
        X = validate_data(self, X, dtype=np.float32, accept_sparse="csr", reset=reset)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        check_consistent_length(X, y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(
                sample_weight, X.shape[0], dtype=sample_weight_dtype
            )
        return X, sample_weight

    def _validate_X(self, X):
        """X at predict time: numeric, as float32, the features seen in fit."""
        check_is_fitted(self)
        check_numeric_frame(X)
        return validate_data(
            self, X, dtype=np.float32, accept_sparse="csr", reset=False
        )

    def _codes(self, X):
        X_in = X
        X = self._validate_X(X)
        codes = np.empty((X.shape[0], self.n_outputs_), dtype=np.float64)
        for forest, group in self.estimators_:
            codes[:, group] = forest.predict(X).reshape(X.shape[0], len(group))
        return codes, X_in.index if isinstance(X_in, pd.DataFrame) else None

    def predict(self, X):
        """Predict every target, in its original labels and units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray or DataFrame of shape (n_samples, n_targets)
            Same forms as ``JointRegressorClassifier.predict``.
        """
        codes, index = self._codes(X)
        return self._encoder.inverse_transform(codes, index=index)

    @available_if(has_classification_target)
    def predict_proba(self, X):
        """Class probabilities of every classification target.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : list of ndarray of shape (n_samples, n_classes_j)
            One array per classification target, columns in ``classes_[j]``
            order (the array itself when y was 1-D).
        """
        X = self._validate_X(X)
        by_target = {}
        for forest, group in self.estimators_:
            if getattr(forest, "classes_", None) is None:  # regression
                continue
            probas = forest.predict_proba(X)
            probas = probas if isinstance(probas, list) else [probas]
            classes = forest.classes_ if len(group) > 1 else [forest.classes_]
            for j, p, seen in zip(group, probas, classes):
                full = np.zeros((X.shape[0], len(self.target_classes_[j])))
                full[:, np.asarray(seen, dtype=np.intp)] = p
                by_target[j] = full
        out = [by_target[j] for j in sorted(by_target)]
        return out[0] if self._encoder.kind_ == "1d" else out

    # -- safe persistence -----------------------------------------------------
    def save(self, path):
        """Write the fitted model to ``path`` in a format that never unpickles.

        One safetensors file: the trees as arrays (children, split features,
        thresholds, leaf values), and a JSON document with the parameters,
        targets (classes with their label types, dtypes) and features, under
        a SHA-256 digest.
        Read it back with
        ``RandomForestRegressorClassifier.load(path)``.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        path : str or os.PathLike
        """
        return self._save(path)

    @classmethod
    def load(cls, path):
        """Read a model written by ``save``; runs no code from the file.

        Every child and feature index of every tree is checked before the
        forest can predict; the loaded forests are ``ForestArrays``, which
        predict as the saved scikit-learn forests did (see ``estimators_``).

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        estimator : RandomForestRegressorClassifier

        Raises
        ------
        ValueError
            (a ``ModelFileError``) for a file that is not a sklearn-multihead
            model file, holds another estimator, or was changed or truncated.
        """
        return cls._load(path)

    def _file_state(self):
        descriptions, tensors = [], {}
        for i, (forest, _) in enumerate(self.estimators_):
            description, arrays = forest_arrays(forest)
            descriptions.append(description)
            tensors.update({f"forest{i}.{k}": v for k, v in arrays.items()})
        groups = [list(group) for _, group in self.estimators_]
        tensors.update(residual_arrays(getattr(self, "interval_residuals_", None)))
        return {"forests": {"groups": groups, "trees": descriptions}}, tensors

    def _restore_file_state(self, parts, tensors):
        intervals = {
            k: tensors.pop(k) for k in list(tensors) if k.startswith("intervals.")
        }
        try:
            self.interval_residuals_ = interval_residuals(intervals, self.target_types_)
        except ValueError as exc:
            raise ModelFileError(str(exc)) from None
        groups = parts["forests"]["groups"]
        descriptions = parts["forests"]["trees"]
        if (
            not isinstance(groups, list)
            or not isinstance(descriptions, list)
            or len(groups) != len(descriptions)
            or not all(isinstance(g, list) for g in groups)
            or sorted(j for g in groups for j in g) != list(range(self.n_outputs_))
            or len(tensors) != len(FIELDS) * len(groups)
        ):
            raise ModelFileError("the forests do not match the targets")
        self.estimators_ = []
        for i, (group, description) in enumerate(zip(groups, descriptions)):
            kinds = {self.target_types_[j] for j in group}
            if len(kinds) != 1:
                raise ModelFileError("a forest for targets of two kinds")
            n_classes = None
            if kinds == {CLASSIFICATION}:
                n_classes = [len(self.target_classes_[j]) for j in group]
            arrays = {k: tensors.get(f"forest{i}.{k}") for k in FIELDS}
            if any(v is None for v in arrays.values()):
                raise ModelFileError("the forests do not match the targets")
            forest = ForestArrays(
                description, arrays, self.n_features_in_, len(group), n_classes
            )
            self.estimators_.append((forest, list(group)))
