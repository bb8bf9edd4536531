"""Loss weights per target and class weights per classification target.

Inside:

- ``resolve_loss_weights``: the estimator's ``loss_weights`` (None, a list, a
  dict by target name, "uncertainty", "held_out" or "auto") as one weight per
  target, or the name of the weighting that moves during training. "auto"
  is "held_out" from ``AUTO_HELD_OUT_ROWS`` rows given to fit with a
  validation split, else equal weights.
- ``resolve_class_weights``: its ``class_weight`` (None, "balanced", a list
  per classification target, or a dict by target name, each entry None,
  "balanced" or ``{label: weight}``) as one per-class weight vector per target;
  ``class_weight_entries``: the entry itself per target (a target's own
  networks, ``target_networks``, are given theirs).

numpy and scikit-learn only; both raise errors that name the bad entry.
"""

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from sklearn_multihead._targets import CLASSIFICATION, REGRESSION

#: from this many rows given to fit (a validation split of 1,000 rows at the
#: default ``validation_fraction``), loss_weights="auto" sets the weights from
#: the held-out losses; below, the held-out losses are too few rows to weigh
#: by (benchmarks/README.md, "Loss weights from held-out losses")
AUTO_HELD_OUT_ROWS = 10_000


def resolve_loss_weights(loss_weights, names, n_rows, validation):
    """Per-target loss weights from None, a list or a dict by name, or the
    name of a weighting that moves ("uncertainty", "held_out"). "auto" is
    resolved by ``n_rows`` (the rows given to fit) and ``validation``
    (whether the fit holds out a validation split)."""
    lw = loss_weights
    n = len(names)
    if isinstance(lw, str) and lw == "auto":
        lw = "held_out" if validation and n_rows >= AUTO_HELD_OUT_ROWS else None
    if isinstance(lw, str) and lw == "held_out" and not validation:
        raise ValueError(
            "loss_weights='held_out' sets the weights from the validation "
            "losses, but this fit holds out no validation split "
            "(early_stopping=False, fewer than 200 rows with "
            "early_stopping='auto', or partial_fit). Set early_stopping=True "
            "and use fit, or choose other loss_weights."
        )
    if lw is None:
        return [1.0] * n
    if isinstance(lw, str):
        return lw
    if isinstance(lw, dict):
        unknown = [k for k in lw if k not in names]
        if unknown:
            raise ValueError(
                f"loss_weights names unknown targets {unknown}; the targets are "
                f"{names}."
            )
        weights = [float(lw.get(name, 1.0)) for name in names]
    else:
        weights = [float(w) for w in np.ravel(lw)]
        if len(weights) != n:
            raise ValueError(
                f"loss_weights has {len(weights)} entries but there are {n} "
                "targets. Give one weight per target, or a dict by target name."
            )
    if any(not np.isfinite(w) or w < 0 for w in weights):
        raise ValueError(
            f"loss_weights must be finite and non-negative. Got {weights} instead."
        )
    if not any(w > 0 for w in weights):
        raise ValueError(
            f"loss_weights are all zero ({weights}): no target would be learnt. "
            "Give at least one target a positive weight."
        )
    return weights


def class_weight_entries(class_weight, encoder):
    """The user's ``class_weight`` entry of every target, in target order:
    None, "balanced" or ``{label: weight}`` (None for regression targets)."""
    cw = class_weight
    names, types = encoder.names_, encoder.types_
    cls_names = [nm for nm, t in zip(names, types) if t == CLASSIFICATION]
    if cw is None:
        spec = {}
    elif isinstance(cw, str):
        spec = {nm: cw for nm in cls_names}
    elif isinstance(cw, dict):
        reg = [k for k in cw if k in names and k not in cls_names]
        if reg:
            raise ValueError(
                f"class_weight is given for regression targets {reg}; class "
                "weights apply to classification targets only."
            )
        unknown = [k for k in cw if k not in names]
        if unknown:
            raise ValueError(
                f"class_weight names unknown targets {unknown}; the "
                f"classification targets are {cls_names}."
            )
        spec = dict(cw)
    else:
        cw = list(cw)
        if len(cw) != len(cls_names):
            raise ValueError(
                f"class_weight has {len(cw)} entries but there are "
                f"{len(cls_names)} classification targets {cls_names}. Give one "
                "entry (None, 'balanced' or a dict) per classification target."
            )
        spec = dict(zip(cls_names, cw))
    return [
        spec.get(name) if t == CLASSIFICATION else None for name, t in zip(names, types)
    ]


def resolve_class_weights(class_weight, encoder, Y):
    """Per-class weight vectors (None where unweighted), one entry per target.

    ``Y`` is the encoded target matrix (class codes), for \"balanced\".
    """
    names, types = encoder.names_, encoder.types_
    entries = class_weight_entries(class_weight, encoder)
    out = []
    for j, (name, entry) in enumerate(zip(names, entries)):
        classes = encoder.classes_[j]
        if entry is None or types[j] == REGRESSION:
            out.append(None)
            continue
        if isinstance(entry, str):
            if entry != "balanced":
                raise ValueError(
                    f"class_weight for target {name!r} must be None, 'balanced' "
                    f"or a dict. Got {entry!r} instead."
                )
            codes = Y[:, j][~np.isnan(Y[:, j])].astype(np.intp)
            present = np.unique(codes)
            weights = np.ones(len(classes))
            weights[present] = compute_class_weight(
                "balanced", classes=present, y=codes
            )
        else:
            unknown = [k for k in entry if k not in set(classes.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight for target {name!r} names labels {unknown} "
                    f"that are not among its classes {classes.tolist()}."
                )
            weights = np.array([float(entry.get(c, 1.0)) for c in classes.tolist()])
            bad = {c: w for c, w in zip(classes.tolist(), weights) if not w >= 0}
            if bad or not np.isfinite(weights).all():
                raise ValueError(
                    f"class_weight for target {name!r} must be finite and "
                    f"non-negative for every class. Got {entry!r}: fix the weights "
                    f"of {list(bad) or 'the infinite entries'}."
                )
            if not weights.any():
                raise ValueError(
                    f"class_weight for target {name!r} is zero for every class: "
                    "the target would not be learnt. Give a class a positive weight."
                )
        if len(classes) <= 2:
            weights = np.resize(weights, 2)
        out.append(weights.tolist())
    return out
