"""Training a fitted network further: ``warm_start`` and ``partial_fit``.

Inside:

- ``ContinuedTrainingMixin`` (for ``JointRegressorClassifier``):

  - ``partial_fit(X, y, sample_weight=None)``: one pass (epoch) over the
    given rows, as scikit-learn's MLP defines it. The first call fits the
    target encoding (types, classes, regression scales) and builds the
    network; later calls keep both, and refuse a new class label or another
    set of target columns with an error that names them. Early stopping does
    not apply (there is no held-out split of a chunk).
  - ``_continue_fit``: what ``fit`` does with ``warm_start=True`` on a fitted
    model: up to ``max_iter`` more epochs from the current weights and
    optimiser state, with the same stopping rule (and, with early stopping,
    a validation split of the new rows).
  - ``_record_history``: ``history_``, ``n_iter_``, ``loss_curve_`` and
    ``best_loss_`` from the net's history (epochs count on across calls).
"""

import warnings

import numpy as np
import pandas as pd

from sklearn_multihead._net import TensorData, as_tensor, thread_budget
from sklearn_multihead._params import validated_fit


class ContinuedTrainingMixin:
    """``partial_fit`` and ``warm_start`` for the joint network."""

    @validated_fit
    def partial_fit(self, X, y, sample_weight=None):
        """One pass over the rows of (X, y): the first call builds the model,
        later ones train it further.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like or DataFrame of shape (n_samples, n_targets)
            The targets of these rows; their columns, types and class labels
            must be those of the first call.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        with thread_budget():
            if not hasattr(self, "net_"):
                return self._fit_keeping_state_on_error(X, y, sample_weight, 1)
            return self._fit_keeping_state_on_error(X, y, sample_weight, 1, True)

    def _continue_fit(self, X, y, sample_weight, epochs, chunk):
        """Train the fitted network further on (X, y); ``chunk``: a
        ``partial_fit`` call (no validation split)."""
        X, sample_weight = self._validate_fit_data(
            X, y, sample_weight, np.float32, reset=False
        )
        Y = self._encode_more(y)
        data = TensorData(
            as_tensor(X, self.device_),
            as_tensor(Y, self.device_),
            None if sample_weight is None else as_tensor(sample_weight, self.device_),
        )
        net = self.net_
        net.train_split = False
        if self.early_stopping_ and not chunk:
            seed = int(np.random.RandomState(len(net.history)).randint(2**31 - 1))
            data, valid = self._split(data, seed)
            net.train_split = self._predefined_split(valid)
            scorer = dict(net.callbacks_).get("valid_score")
            if scorer is not None:
                scorer.valid = valid
        work = net.batch_size * self._widest()
        stopper = dict(net.callbacks_)["stopper"]
        monitor = stopper.monitor
        if net.train_split is False:  # a chunk after an early-stopped fit
            stopper.monitor = "train_loss"  # there is no valid_loss to watch
        try:
            with thread_budget(work, self.n_threads):
                net.partial_fit(data, None, epochs=epochs)
        finally:
            stopper.monitor = monitor
        self._record_history(stopper, len(data), warn=not chunk)
        return self

    def _encode_more(self, y):
        """y encoded as in the first fit; an error naming what changed."""
        from sklearn_multihead._ycolumns import as_target_columns

        _, names, _ = as_target_columns(y)
        known = list(self._encoder.names_)
        if [str(n) for n in names] != [str(n) for n in known]:
            raise ValueError(
                f"y has the target columns {names}, but the model was fitted with "
                f"{known}. Training further needs the same targets; fit a new "
                "model for others."
            )
        return self._encoder.transform(y)

    def _set_curves(self):
        """scikit-learn's MLP attributes from ``history_``: ``loss_curve_``,
        ``best_loss_`` (None with early stopping, as there), and with early
        stopping ``validation_scores_`` / ``best_validation_score_`` (the mean
        over targets of R^2 and accuracy on the held-out rows, per epoch; None
        without)."""
        history = self.history_
        self.loss_curve_ = history["train_loss"].astype(float).tolist()
        self.best_loss_ = None if self.early_stopping_ else min(self.loss_curve_)
        scores = history["valid_score"] if "valid_score" in history else None
        if scores is None or not self.early_stopping_:
            self.validation_scores_ = self.best_validation_score_ = None
        else:
            self.validation_scores_ = scores.astype(float).tolist()
            self.best_validation_score_ = max(self.validation_scores_)

    def _record_history(self, stopper, n_train, warn=True, baseline=None, label=""):
        from sklearn_multihead._health import training_warnings

        rows = [
            {k: v for k, v in r.items() if k != "batches"} for r in self.net_.history
        ]
        self.history_ = pd.DataFrame(rows).set_index("epoch")
        self.n_iter_ = len(self.history_)
        self._set_curves()
        if warn:
            for message in training_warnings(self, stopper, n_train, baseline):
                warnings.warn(
                    f"{type(self).__name__}: {label}{message}",
                    UserWarning,
                    stacklevel=3,
                )
