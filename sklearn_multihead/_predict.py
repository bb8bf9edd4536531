"""Predictions of the joint network (torch, numpy).

Inside:

- ``NetworkPredictMixin`` (for ``JointRegressorClassifier``): ``predict``
  (original labels and units, through the target encoder's ``decode``),
  ``predict_proba`` (sigmoid / softmax in float64 from the logits),
  ``decision_function`` (the logits, one classification target only), and
  the forward pass they share (``_raw``: checked X, chunked, in float64 on
  the CPU so that a row's outputs do not depend on the rows predicted with
  it, on the threads the policy picks).
"""

import numpy as np
import pandas as pd
import torch
from sklearn.utils.metaestimators import available_if

from sklearn_multihead._base import has_classification_target, is_single_classifier
from sklearn_multihead._net import (
    PREDICT_FLOATS,
    as_tensor,
    eval_batch_size,
    thread_budget,
    widest_layer,
)


class NetworkPredictMixin:
    """``predict``, ``predict_proba`` and ``decision_function``."""

    def _raw(self, X):
        """Network outputs for X, and X's index when it is a DataFrame (call it
        within ``thread_budget``, which also covers the torch work after it)."""
        chunks, index, _ = self._raw_chunks(X)
        parts = [raw for _, raw in chunks]
        return (parts[0] if len(parts) == 1 else np.concatenate(parts)), index

    def _raw_chunks(self, X):
        """``(chunks, index, n)``: the network outputs for X as ``(rows, raw)``
        pairs of at most ``PREDICT_FLOATS`` outputs each (one chunk unless
        targets have thousands of classes), X's index when it is a
        DataFrame, and its number of rows. X is checked first, once."""
        X_df = X
        X = self._validate_X(X)
        index = X_df.index if isinstance(X_df, pd.DataFrame) else None
        module = self.net_.module_
        n = X.shape[0]
        step = max(1, PREDICT_FLOATS // max(1, sum(module.head_sizes)))
        work = min(n, eval_batch_size(module, self.device_)) * widest_layer(module)

        def chunks():
            for start in range(0, max(n, 1), step):
                rows = slice(start, min(start + step, n))
                x = X[rows] if step < n else X
                with thread_budget(work, self.n_threads, predict=True):
                    x = as_tensor(x, self.device_)
                    yield rows, self.net_.predict_raw(x, float64=True)

        return chunks(), index, n

    def predict(self, X):
        """Predict every target, in its original labels and units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray or DataFrame of shape (n_samples, n_targets)
            A DataFrame with the fitted columns and dtypes when y was one; a
            1-D array when y was 1-D; else an array (object dtype when the
            targets' types differ).
        """
        with thread_budget():
            chunks, index, _ = self._raw_chunks(X)
            parts = [self._decisions(raw) for _, raw in chunks]
        columns = [
            parts[0][j] if len(parts) == 1 else np.concatenate([p[j] for p in parts])
            for j in range(len(parts[0]))
        ]
        return self._encoder.decode(columns, index=index)

    def _decisions(self, raw):
        """Per target: a standardised number or a class code per row."""
        columns = []
        for j, (sl, kind) in enumerate(self._heads()):
            if kind == "regression":
                columns.append(raw[:, sl.start])
            elif kind == "binary" and len(self.target_classes_[j]) == 2:
                columns.append((raw[:, sl.start] > 0).view(np.uint8))
            elif kind == "binary":  # one class seen in fit
                columns.append(np.zeros(len(raw), dtype=np.uint8))
            else:  # torch's argmax uses the threads numpy's would not
                columns.append(torch.from_numpy(raw[:, sl]).argmax(dim=1).numpy())
        return columns

    @available_if(has_classification_target)
    def predict_proba(self, X):
        """Class probabilities of every classification target.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : list of ndarray of shape (n_samples, n_classes_j)
            One array per classification target, in target order, columns in
            ``classes_[j]`` order. When y was 1-D (one target), the array
            itself, as scikit-learn's forests do.
        """
        with thread_budget():  # sigmoid and softmax run on torch's threads too
            chunks, _, n = self._raw_chunks(X)
            out = None
            for rows, raw in chunks:
                parts = self._probabilities(raw)
                if rows.start == 0 and rows.stop == n:  # one chunk: no copy
                    out = parts
                    continue  # (the generator must end: it holds threads)
                if out is None:
                    out = [np.empty((n, p.shape[1])) for p in parts]
                for whole, part in zip(out, parts):
                    whole[rows] = part
        return out[0] if self._encoder.kind_ == "1d" else out

    def _probabilities(self, raw):
        """Per classification target: float64 probabilities from the logits."""
        out = []
        for j, (sl, kind) in enumerate(self._heads()):
            logits = torch.from_numpy(
                np.ascontiguousarray(raw[:, sl], dtype=np.float64)
            )
            if kind == "binary":
                p = torch.sigmoid(logits[:, 0]).numpy()
                if len(self.target_classes_[j]) == 2:
                    out.append(np.column_stack([1.0 - p, p]))
                else:
                    out.append(np.ones((len(p), 1)))
            elif kind == "multiclass":
                out.append(torch.softmax(logits, dim=1).numpy())
        return out

    @available_if(is_single_classifier)
    def decision_function(self, X):
        """The network's logits (one classification target only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the logit of the second class, as scikit-learn's
            binary classifiers give; else one logit per class.
        """
        with thread_budget():
            raw, _ = self._raw(X)
        ((sl, kind),) = self._heads()
        if kind == "binary":
            if len(self.target_classes_[0]) < 2:  # one class seen in fit
                return np.zeros(len(raw))
            return raw[:, sl.start].astype(np.float64)
        return raw[:, sl].astype(np.float64)

    def _heads(self):
        kinds = [
            self._head_kind(t, c)
            for t, c in zip(self.target_types_, self.target_classes_)
        ]
        return list(zip(self.net_.module_.head_slices, kinds))
