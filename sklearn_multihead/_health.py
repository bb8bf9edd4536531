"""What a fit says about its own training when it went wrong (no torch).

Inside:

- ``training_warnings``: the messages a fit of ``JointRegressorClassifier``
  warns with, from its ``history_`` and its stopping callback:

  - the training loss diverged (ended more than ``_callbacks.DIVERGED`` times
    above its best, and by more than 1% of a constant prediction's loss):
    the best epoch's weights were restored, and the fix is a lower
    ``learning_rate_init``;
  - the training loss did not move (best within 1% of the first epoch's,
    or of a constant prediction's loss, over 3 epochs or more): the network
    learnt nothing (a learning rate or dropout that leaves no signal);
  - with early stopping, the best validation score (mean over targets of R^2
    and accuracy) is below 0: every epoch predicted the held-out rows worse
    than a constant would (a learning rate so high the loss exploded from
    the first epoch on, where neither check above can see it);
  - ``validation_fraction`` left fewer than 20 training rows.

- ``many_class_warnings``: a classification target with more than
  ``MANY_CLASSES`` classes (each class is an output of the network and a
  column of ``predict_proba``: an ID or a number stored as text, typed as
  classes, costs rows x classes floats).

Errors for settings that cannot work at all (all loss weights zero, negative
or NaN class weights) are raised before training, in ``_weights``.
"""

import numpy as np

#: no progress: the best training loss is above this share of the first epoch's
#: (or of a constant prediction's; dropout alone moves it by ~0.5%)
NO_PROGRESS = 0.99
#: a training split smaller than this is worth a warning
FEW_TRAINING_ROWS = 20
#: a classification target with more classes than this is worth a warning
MANY_CLASSES = 1000


def many_class_warnings(encoder, Y):
    """Messages for the classification targets of a fitted ``TargetEncoder``
    with more than ``MANY_CLASSES`` classes; ``Y``: its encoded targets."""
    out = []
    for j, (name, classes) in enumerate(zip(encoder.names_, encoder.classes_)):
        if classes is None or len(classes) <= MANY_CLASSES:
            continue
        labelled = int(np.sum(~np.isnan(np.asarray(Y[:, j], dtype=float))))
        out.append(
            f"target {name!r} has {len(classes):,} classes for {labelled:,} "
            "labelled rows: each class is an output of the model, and "
            f"predict_proba returns rows x {len(classes):,} probabilities. If it "
            "is an ID, drop it; if it holds numbers, type it 'regression' in "
            "target_types."
        )
    return out


def training_warnings(est, stopper, n_train, baseline=None):
    """Messages (str) about a finished fit; empty when training went well.
    ``baseline``: the training loss of the best constant prediction."""
    messages = []
    history = est.history_
    train = history["train_loss"].to_numpy()
    if stopper.restored_epoch_ is not None and not est.early_stopping_:
        best = history.loc[stopper.restored_epoch_, "train_loss"]
        messages.append(
            f"the training loss diverged: it ended at {train[-1]:.4g}, "
            f"{train[-1] / best:.1f} x its best ({best:.4g} at epoch "
            f"{stopper.restored_epoch_}), so the weights of that epoch were "
            f"restored. Lower learning_rate_init (now {est.learning_rate_init})."
        )
    elif len(train) >= 3 and min(train) > NO_PROGRESS * min(
        train[0], train[0] if baseline is None else baseline
    ):
        constant = "" if baseline is None else f", a constant's {baseline:.6g}"
        messages.append(
            f"the training loss did not improve over {len(train)} epochs (first "
            f"{train[0]:.6g}, best {min(train):.6g}{constant}): the network "
            "learnt nothing. "
            f"Check learning_rate_init (now {est.learning_rate_init}) and dropout "
            f"(now {est.dropout})."
        )
    scores = history["valid_score"] if "valid_score" in history else None
    if scores is not None and scores.notna().any() and scores.max() < 0:
        messages.append(
            f"the best validation score is {scores.max():.4g} (the mean over "
            "targets of R^2 and accuracy): the network predicts the held-out "
            "rows worse than a constant would. Lower learning_rate_init (now "
            f"{est.learning_rate_init})."
        )
    if est.early_stopping_ and n_train < FEW_TRAINING_ROWS:
        messages.append(
            f"validation_fraction={est.validation_fraction} leaves {n_train} rows "
            "to train on. Lower validation_fraction, or set early_stopping=False."
        )
    return messages
