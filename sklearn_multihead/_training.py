"""How the joint network is set up for training (skorch, torch, numpy): the
estimator's plumbing between its parameters and ``_net`` / ``_module``.

Inside:

- ``TrainingSetupMixin`` (for ``JointRegressorClassifier``): the module and
  loss configurations from the fitted targets and feature plan
  (``_network_configs``; plain data, saved in the model file), the module and
  loss built from them, the skorch net, the validation split of early
  stopping, the head kind of a target, and the loop that trains the
  ``n_models`` networks and averages them.
- ``auto_batch_size`` (``batch_size="auto"``), ``AUTO_EARLY_STOPPING_ROWS``
  (``early_stopping="auto"``), and the small helpers that name the user's
  callbacks and fix the validation split.
"""

from numbers import Integral

import numpy as np
import torch
from skorch.callbacks import EpochTimer, PrintLog

from sklearn_multihead._callbacks import StopOnPlateau, ValidationScore
from sklearn_multihead._features import quantile_edges
from sklearn_multihead._inputs import N_BINS, bin_edges
from sklearn_multihead._losses import JointLoss
from sklearn_multihead._module import AveragedMLPs, build_module
from sklearn_multihead._net import (
    PREDICT_FLOATS,
    JointNet,
    thread_budget,
    widest_layer,
)
from sklearn_multihead._weights import resolve_class_weights, resolve_loss_weights
from sklearn_multihead._xcheck import numeric_statistics, statistics_rows
from sklearn_multihead._ycolumns import REGRESSION

#: the largest mini-batch of ``batch_size="auto"``
AUTO_BATCH_SIZE = 256
#: ``early_stopping="auto"`` holds out a validation split from this many rows
AUTO_EARLY_STOPPING_ROWS = 200


class TrainingSetupMixin:
    """Module, loss, net and validation split of the joint network."""

    def _network_configs(self, X, Y, sample_weight, head_kinds):
        """Set ``_module_config`` / ``_loss_config`` from the fitted targets and
        plan; return the numeric block's medians and spreads, and the bin
        edges of ``numeric_embedding="piecewise"`` (else None)."""
        head_sizes = [
            len(c) if k == "multiclass" else 1
            for k, c in zip(head_kinds, self.target_classes_)
        ]
        plan, encoder = self._features, self._encoder
        n_numeric = len(plan.numeric_)
        # medians, spreads and bin edges from the same rows (a sample of large X)
        rows = statistics_rows(X.shape[0], sample_weight)
        center, scale, missing = numeric_statistics(
            X, n_numeric, sample_weight, rows=rows
        )
        edges = bin_counts = None
        if self.numeric_embedding == "piecewise" and n_numeric:
            block, weights = X[:, :n_numeric], sample_weight
            if rows is not None:
                block = block[rows]
                weights = None if weights is None else np.asarray(weights)[rows]
            raw = quantile_edges(block, N_BINS, weights)
            edges = bin_edges(raw, center, scale, self.numeric_transform == "robust")
            bin_counts = [len(e) - 1 for e in edges]
        self._module_config = {
            "n_features": int(X.shape[1]),
            "inputs": {
                "n_numeric": len(plan.numeric_),
                "cardinalities": plan.cardinalities_,
                "missing_columns": missing,
                "numeric_transform": self.numeric_transform,
                "numeric_embedding": self.numeric_embedding,
                **({} if bin_counts is None else {"bin_counts": bin_counts}),
            },
            "n_ensemble": int(self.n_ensemble),
            "n_models": int(self.n_models),
            "head_kinds": head_kinds,
            "head_sizes": head_sizes,
            "hidden_layer_sizes": list(_sizes(self.hidden_layer_sizes)),
            "head_hidden_layer_sizes": list(_sizes(self.head_hidden_layer_sizes)),
            "activation": self.activation,
            "dropout": float(self.dropout),
            "batch_norm": bool(self.batch_norm),
        }
        weights = resolve_loss_weights(self.loss_weights, encoder.names_)
        self._loss_config = {
            "head_kinds": head_kinds,
            "loss_weights": weights if isinstance(weights, str) else list(weights),
            "class_weights": [
                None if cw is None else [float(w) for w in cw]
                for cw in resolve_class_weights(self.class_weight, encoder, Y)
            ],
            "regression_loss": self.regression_loss,
            "masked": bool(np.isnan(Y).any()),
        }
        return center, scale, edges

    def _constant_loss(self, data, module, criterion):
        """The training loss of the best constant prediction on ``data`` (the
        weighted mean of each standardised regression target, the weighted
        class shares as probabilities): the loss of a network that learnt
        nothing, computed on the CPU for ``module`` and ``criterion`` before
        they are trained. None with learned loss weights, whose scale moves.
        The constants come from every row; the loss is taken on at most
        ``PREDICT_FLOATS`` outputs (evenly spaced rows: a target of many
        classes would otherwise take rows x classes floats)."""
        if self._loss_config["loss_weights"] == "uncertainty":
            return None
        Y, w = data.Y.cpu(), data.sample_weight
        w = None if w is None else w.cpu()
        weights = torch.ones(len(Y)) if w is None else w
        n_out = sum(module.head_sizes)
        rows = torch.arange(len(Y))
        if len(Y) * n_out > PREDICT_FLOATS:
            rows = torch.linspace(0, len(Y) - 1, max(PREDICT_FLOATS // n_out, 1))
            rows = rows.long().unique()
        pred = torch.zeros((len(rows), n_out))
        kinds = self._loss_config["head_kinds"]
        for j, (kind, cols) in enumerate(zip(kinds, module.head_slices)):
            known = ~torch.isnan(Y[:, j])
            y, wk = Y[known, j], weights[known]
            if kind == "multiclass":
                shares = torch.zeros(cols.stop - cols.start, device=Y.device)
                shares.index_add_(0, y.long(), wk)
                pred[:, cols] = torch.log(shares / shares.sum()).clamp_min(-30.0)
                continue
            mean = (wk * y).sum() / wk.sum().clamp_min(1e-12)
            if kind == "binary":
                mean = torch.logit(mean.clamp(1e-6, 1 - 1e-6))
            pred[:, cols] = mean
        with torch.no_grad():
            return float(criterion(pred, Y[rows], None if w is None else w[rows]))

    def _build_module_and_loss(self, every_model=False):
        """One network of ``_module_config`` (with ``every_model``, all its
        ``n_models``) and the loss of ``_loss_config`` (fresh weights from
        torch's current random state)."""
        config = {k: v for k, v in self._module_config.items() if k != "n_models"}
        module = build_module(self._module_config if every_model else config)
        criterion = JointLoss(head_slices=module.head_slices, **self._loss_config)
        return module, criterion

    def _train_networks(self, data, seeds, head_kinds, numbers, epochs, first_chunk):
        """Fit one network per seed (``_train_one``), record each one's
        history, and leave ``self.net_`` carrying them all (averaged, with
        each network's Adam moments) when there are several. Returns whether
        a network ran out of epochs before its loss stopped improving."""
        nets, reached_max_iter = [], False
        for seed in seeds:
            # each network: its own initial weights and validation split
            stopper, train = self._train_one(data, seed, head_kinds, numbers, epochs)
            nets.append(self.net_)
            baseline = None if first_chunk else stopper.baseline_
            label = f"network {len(nets)} of {len(seeds)}: " if len(seeds) > 1 else ""
            self._record_history(
                stopper, len(train), not first_chunk, baseline, label=label
            )
            reached_max_iter |= not (stopper.stopped_ or stopper.restored_epoch_)
        if len(nets) > 1:  # the last net carries them all, averaged
            self.net_.module_ = AveragedMLPs([net.module_ for net in nets])
            self.net_.initialize_optimizer()
            state = self.net_.optimizer_.state  # each network's Adam moments
            for net in nets:
                for param, moments in net.optimizer_.state.items():
                    state[param] = moments
        return reached_max_iter

    def _train_one(self, data, seed, head_kinds, numbers, epochs):
        """Fit one network of the model on ``data`` (``self.net_``), seeded by
        ``seed`` (initial weights, validation split, batch order); ``numbers``:
        what ``_network_configs`` returned. Returns its stopper (with
        ``baseline_``: a constant prediction's training loss, or None) and the
        rows it trained on."""
        center, scale, edges = numbers
        train_split = False
        if self.early_stopping_:
            data, valid = self._split(data, seed)
            train_split = _PredefinedSplit(valid)
        batch_size = (
            auto_batch_size(len(data)) if self.batch_size == "auto" else self.batch_size
        )
        with torch.random.fork_rng(devices=self._cuda_devices()):
            # seed only the generators this fit uses (torch.manual_seed also
            # queues every accelerator backend's seeding, ~0.1 ms a fit)
            torch.default_generator.manual_seed(seed)
            for index in self._cuda_devices():
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
            module, criterion = self._build_module_and_loss()
            module.inputs.set_numeric_scaling(center, scale)
            if edges is not None:
                module.inputs.set_numeric_bins(edges)
            baseline = self._constant_loss(data, module, criterion)
            stopper = StopOnPlateau(
                monitor="valid_loss" if self.early_stopping_ else "train_loss",
                patience=self.n_iter_no_change,
                threshold=self.tol,
                threshold_mode="abs",
                restore="best" if self.early_stopping_ else "diverged",
                # a rise smaller than 1% of a constant prediction's loss is
                # noise around a loss near zero, not a divergence
                divergence_floor=0.0 if baseline is None else 0.01 * baseline,
            )
            stopper.baseline_ = baseline  # for the fit's warnings
            callbacks = [("epoch_timer", EpochTimer())]
            if train_split:  # scored before the stopper may end the last epoch
                one_class = [c is not None and len(c) < 2 for c in self.target_classes_]
                scorer = ValidationScore(train_split.valid, head_kinds, one_class)
                callbacks.append(("valid_score", scorer))
            callbacks.append(("stopper", stopper))
            if self.verbose:
                callbacks.append(("print_log", PrintLog()))
            callbacks += _named_callbacks(self.callbacks)
            self.net_ = self._build_net(
                module,
                criterion,
                batch_size=batch_size,
                train_split=train_split,
                callbacks=callbacks,
                seed=seed,
                max_epochs=epochs,
            )
            work = batch_size * widest_layer(module)
            with thread_budget(work, self.n_threads):
                self.net_.fit(data, None)
        return stopper, data

    def _predefined_split(self, valid):
        return _PredefinedSplit(valid)

    def _widest(self):
        return widest_layer(self.net_.module_)

    def _build_net(
        self,
        module,
        criterion,
        *,
        batch_size,
        train_split,
        callbacks,
        seed,
        max_epochs=None,
    ):
        return JointNet(
            module=module,
            criterion=criterion,
            optimizer=torch.optim.Adam,
            optimizer__fused=self.device_ == "cpu" or self.device_.startswith("cuda"),
            lr=self.learning_rate_init,
            alpha=self.alpha,
            max_epochs=max_epochs or self.max_iter,
            batch_size=batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=self.device_,
            verbose=self.verbose,
            target_names=[str(n) for n in self._encoder.names_],
            seed=seed,
        )

    @staticmethod
    def _head_kind(target_type, classes):
        if target_type == REGRESSION:
            return "regression"
        return "binary" if len(classes) <= 2 else "multiclass"

    def _cuda_devices(self):
        if self.device_.startswith("cuda"):
            return [torch.device(self.device_).index or 0]
        return []

    def _split(self, data, seed):
        n = len(data)
        n_valid = int(np.ceil(self.validation_fraction * n))
        if n < 2 or n_valid >= n:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction} of the rows, which leaves no rows to "
                f"train on ({n} samples). Lower validation_fraction, give more "
                "samples, or set early_stopping=False."
            )
        perm = np.random.RandomState(seed).permutation(n)
        return data.subset(torch.from_numpy(perm[n_valid:])), data.subset(
            torch.from_numpy(perm[:n_valid])
        )


def _named_callbacks(callbacks):
    """The user's callbacks as skorch's (name, callback) pairs, named apart
    from the package's own."""
    named = []
    for i, cb in enumerate(callbacks or ()):
        if isinstance(cb, tuple) and len(cb) == 2 and isinstance(cb[0], str):
            name, cb = cb
        else:
            name = f"{type(cb).__name__}_{i}"
        named.append((f"user_{name}", cb))
    return named


class _PredefinedSplit:
    """``train_split`` that returns a validation set fixed in advance."""

    def __init__(self, valid):
        self.valid = valid

    def __call__(self, dataset, y=None, **kwargs):
        return dataset, self.valid


def _sizes(sizes):
    if isinstance(sizes, Integral):
        return (int(sizes),)
    return tuple(sizes)


def auto_batch_size(n_train):
    """``batch_size="auto"``: a power of 2 that gives 16 steps per epoch or
    more, from 16 up to 256 rows (and never more than the rows): small tables
    get enough steps per epoch for early stopping to judge."""
    size = 2 ** int(np.floor(np.log2(max(n_train, 1) / 16)))
    return int(min(AUTO_BATCH_SIZE, max(16, size), n_train))
