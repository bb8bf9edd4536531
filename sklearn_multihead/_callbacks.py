"""The callbacks of a fit (skorch, numpy): when to stop, and the validation
score that scikit-learn's MLP users know.

Inside:

- ``ValidationScore``: records ``valid_score`` (mean R^2 / accuracy over the
  targets on the held-out rows) after every epoch.
- ``StopOnPlateau``: skorch's ``EarlyStopping`` with scikit-learn's ``tol``
  semantics, a flag that tells whether it stopped the training, and the
  best weights restored (always with early stopping; without it only when
  the loss diverged, ``DIVERGED``).
"""

import numpy as np
from skorch.callbacks import Callback, EarlyStopping


class ValidationScore(Callback):
    """Records ``valid_score`` after every epoch: the mean over targets of R^2
    (regression) and accuracy (classification) on the held-out rows, from the
    encoded targets (R^2 does not change with the standardisation), as
    scikit-learn's MLP records ``validation_scores_``."""

    def __init__(self, valid, head_kinds, one_class):
        self.valid, self.head_kinds, self.one_class = valid, head_kinds, one_class

    def on_epoch_end(self, net, **kwargs):
        raw = net.predict_raw(self.valid.X)
        Y = self.valid.Y.cpu().numpy()
        scores = []
        for j, (sl, kind) in enumerate(zip(net.module_.head_slices, self.head_kinds)):
            y = Y[:, j]
            known = ~np.isnan(y)
            if not known.any():
                continue
            y = y[known]
            if kind == "regression":
                pred = raw[known, sl.start]
                spread = ((y - y.mean()) ** 2).sum()
                if spread > 0:
                    scores.append(1.0 - ((y - pred) ** 2).sum() / spread)
                continue
            if self.one_class[j]:  # one class seen in fit: always predicted
                pred = np.zeros_like(y)
            elif kind == "binary":
                pred = (raw[known, sl.start] > 0).astype(np.float32)
            else:
                pred = raw[known, sl].argmax(axis=1)
            scores.append(float((pred == y).mean()))
        net.history.record("valid_score", float(np.mean(scores)) if scores else np.nan)


#: a monitored loss that ends above this many times its best has diverged
DIVERGED = 2.0


class StopOnPlateau(EarlyStopping):
    """Stop when ``monitor`` has not improved by ``threshold`` for ``patience``
    epochs; ``stopped_`` tells whether it did.

    It keeps the weights of the best epoch (skorch's ``load_best``) and, at
    the end, restores them when ``restore="best"`` (early stopping), or when
    ``restore="diverged"`` and the loss ended more than ``DIVERGED`` times
    above its best (a learning rate too high: the last weights would be far
    worse than ones the fit already had), and above it by more than
    ``divergence_floor`` (the estimator passes 1% of a constant
    prediction's loss: a loss near zero that doubles by noise has not
    diverged). ``restored_epoch_``: the epoch whose weights were restored,
    or None.
    """

    def __init__(
        self,
        monitor="valid_loss",
        patience=5,
        threshold=1e-4,
        threshold_mode="rel",
        lower_is_better=True,
        sink=print,
        load_best=True,
        restore="best",
        divergence_floor=0.0,
    ):
        super().__init__(
            monitor=monitor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            lower_is_better=lower_is_better,
            sink=sink,
            load_best=True,  # the best weights are always kept; restore decides
        )
        self.restore = restore
        self.divergence_floor = divergence_floor

    def on_train_begin(self, net, **kwargs):
        self.stopped_ = False
        self.restored_epoch_ = None
        return super().on_train_begin(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        last_epoch = net.history[-1, "epoch"]
        if self.best_model_weights_ is None or self.best_epoch_ == last_epoch:
            return
        best = net.history[self.best_epoch_ - 1, self.monitor]
        last = net.history[-1, self.monitor]
        rise = max(self.threshold, self.divergence_floor)
        if self.restore == "best" or last > DIVERGED * best + rise:
            net.module_.load_state_dict(self.best_model_weights_)
            self.restored_epoch_ = self.best_epoch_

    def on_epoch_end(self, net, **kwargs):
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            self.stopped_ = True
            raise
