"""The skorch net that trains the multi-head module, and its callbacks
(skorch + torch).

Training runs through skorch's own loop: ``NeuralNet.fit_loop`` and
``run_single_epoch`` call ``train_step`` -> ``train_step_single`` ->
``infer`` / ``get_loss`` and ``notify`` for every batch, so every skorch
callback (``on_batch_begin`` / ``on_batch_end``, ``on_grad_computed``,
``LRScheduler``, ``GradientNormClipping``, ``Checkpoint``, loggers) sees
what it sees on a plain ``NeuralNet``. ``JointNet`` changes only skorch's
small hooks.

Inside:

- ``resolve_device``: the device a fit uses ("auto": a GPU when there is one).
- ``SparseRows``: a sparse X densified a batch at a time.
- ``TensorData``: X, encoded Y and sample weights as tensors, built once.
- ``BatchIterator``: yields ``(X, (Y, sample_weight))`` batches by slicing
  those tensors (a permutation per epoch from its own seeded generator); no
  DataLoader, no per-sample collate.
- ``eval_batch_size``: rows per forward pass when predicting or validating:
  on a CPU, chunks whose activations stay in the caches; ``widest_layer``:
  the widest Linear layer of a module (the work of a step is rows x that).
- ``JointNet``: a ``skorch.NeuralNet`` with ``get_dataset`` /
  ``get_iterator`` (the two above), ``get_loss`` (the joint loss of a batch,
  its per-target parts kept for ``TargetLosses``), ``initialize_optimizer``
  (L2 penalty on the network, none on learned loss weights), and
  ``predict_raw`` (the module over ``eval_batch_size`` chunks into one
  array; in float64 on the CPU, on a copy of the weights).
- ``TargetLosses``: the first callback of every fit: the epoch's total and
  per-target losses (``train_loss``, ``train_loss_<target>``,
  ``valid_loss``, ...; weighted by the known cells and sample weights, not
  by batch), ``*_best`` flags as skorch's ``PassthroughScoring`` records
  them, and a clear error when a loss is not finite.
- ``head_decisions``: the per-target numbers or class codes from the
  network's outputs (``predict`` and ``ValidationScore`` share it).
- ``ValidationScore``: ``valid_score`` (mean R^2 / accuracy over the targets
  on the held-out rows) after every epoch.
- ``StopOnPlateau``: skorch's ``EarlyStopping`` with scikit-learn's ``tol``
  semantics, a flag that tells whether it stopped the training, and the
  best weights restored (always with early stopping; without it only when
  the loss diverged, ``DIVERGED``).
- Packed networks (``module.PackedMLPs``, ``pack_models``): ``MemberRows``
  (each member's own training or validation rows), ``MemberBatches`` (their
  batches, ``(batch, members, ...)``, each member's own order),
  ``MemberSplit`` (skorch's ``train_split`` for them), ``MemberStopping``
  (early stopping member by member; a stopped member leaves the module,
  ``shrink_packed``), ``eval_outputs`` (a module's eval-mode outputs in
  chunks).
"""

import copy
import math
import warnings

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, EpochTimer

from sklearn_multihead._joint.module import PackedMLPs

#: CPU: floats of the widest layer's activations per forward chunk when
#: predicting or validating (4 MiB of float32): chunks that stay in the CPU's
#: caches run about twice as fast as one pass over 65,536 rows or more
#: (benchmarks/README.md)
CPU_EVAL_FLOATS = 2**20
#: GPU: rows per forward chunk (no caches to fit; fewer, larger launches)
GPU_EVAL_ROWS = 65536


#: outputs (rows x the network's outputs) that ``predict`` and
#: ``predict_proba`` compute at a time: 64 MB of float64 logits, so a target
#: of 100,000 classes is predicted a few hundred rows at a time, not at once
PREDICT_FLOATS = 2**23


def eval_batch_size(module, device):
    """Rows per forward pass at predict / validation time for this module."""
    if not isinstance(device, torch.device):
        device = torch.device(device)
    if device.type != "cpu":
        return GPU_EVAL_ROWS
    return int(min(max(CPU_EVAL_FLOATS // widest_layer(module), 512), GPU_EVAL_ROWS))


def members_as_rows(y_pred, Y, w):
    """An ensemble's ``(n, k, outputs)`` predictions in training as ``n * k``
    rows, each with its row's targets and weight: every member is trained on
    its own loss (TabM's recipe). 2-D predictions pass through."""
    if y_pred.ndim != 3:
        return y_pred, Y, w
    k = y_pred.shape[1]
    y_pred = y_pred.reshape(-1, y_pred.shape[2])
    Y = Y.repeat_interleave(k, dim=0)
    return y_pred, Y, None if w is None else w.repeat_interleave(k, dim=0)


def widest_layer(module):
    """The widest in- or output of the module's linear layers, times the
    members of an ensemble (each row goes through all of them)."""
    if hasattr(module, "template"):  # PackedMLPs: every row, every member
        return widest_layer(module.template) * module.n_ensemble
    return max(
        (
            max(m.in_features, m.out_features) * getattr(m, "k", 1)
            for m in module.modules()
            if isinstance(getattr(m, "in_features", None), int)
            and isinstance(getattr(m, "out_features", None), int)
        ),
        default=1,
    )


def resolve_device(device):
    """The torch device a fit uses: "auto" picks a GPU when there is one; a
    CUDA device without a GPU is a clear error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA GPU. Use "
            "device='cpu', or device='auto' to take a GPU only when there is one."
        )
    return device


class SparseRows:
    """A sparse X (scipy CSR, float32) that yields dense float32 tensors a
    batch at a time: ``rows[idx]`` with a slice or an index tensor is one
    dense batch; ``rows.subset(idx)`` stays sparse. A large sparse matrix is
    never densified whole."""

    def __init__(self, matrix, device="cpu"):
        self.matrix = matrix.tocsr().astype(np.float32, copy=False)
        self.device = torch.device(device)

    def __len__(self):
        return self.matrix.shape[0]

    @property
    def shape(self):
        return self.matrix.shape

    def _index(self, idx):
        return idx.cpu().numpy() if isinstance(idx, torch.Tensor) else idx

    def subset(self, idx):
        return SparseRows(self.matrix[self._index(idx)], self.device)

    def __getitem__(self, idx):
        dense = self.matrix[self._index(idx)].toarray()
        return torch.from_numpy(dense).to(self.device)


def as_tensor(array, device="cpu"):
    """A float32 numpy array as a tensor, without a copy on the CPU.

    Read-only arrays (e.g. from pandas' copy-on-write frames) are shared too:
    torch warns that it could write to them, and it never does here. Arrays
    with negative strides (``X[::-1]``), which torch cannot view, are copied.
    """
    if hasattr(array, "tocsr"):  # scipy sparse: densified a batch at a time
        return SparseRows(array, device)
    if any(s < 0 for s in array.strides):
        array = np.ascontiguousarray(array)
    if array.flags.writeable:
        tensor = torch.from_numpy(array)
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not w")
            tensor = torch.from_numpy(array)
    return tensor if device == "cpu" else tensor.to(device)


class TensorData:
    """Training or prediction data held as tensors on the training device."""

    def __init__(self, X, Y=None, sample_weight=None):
        self.X, self.Y, self.sample_weight = X, Y, sample_weight

    def __len__(self):
        return len(self.X)

    def subset(self, idx):
        def take(t):
            if isinstance(t, SparseRows):
                return t.subset(idx)
            return None if t is None else t[idx]

        return TensorData(take(self.X), take(self.Y), take(self.sample_weight))


class BatchIterator:
    """Batches ``(X, (Y, sample_weight))`` sliced from ``TensorData``.

    ``merge_single``: a last batch of one row joins the batch before it
    (batch normalisation cannot train on one row).
    """

    def __init__(
        self, data, batch_size, shuffle=False, generator=None, merge_single=False
    ):
        self.data, self.batch_size = data, batch_size
        self.shuffle, self.generator = shuffle, generator
        self.merge_single = merge_single

    def _starts(self):
        n, bs = len(self.data), self.batch_size
        starts = list(range(0, n, bs))
        if self.merge_single and len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        return list(zip(starts, [*starts[1:], n]))

    def __len__(self):
        return len(self._starts())

    def __iter__(self):
        d, n = self.data, len(self.data)
        if self.shuffle:
            perm = torch.randperm(n, generator=self.generator).to(d.X.device)
            for start, stop in self._starts():
                idx = perm[start:stop]
                w = None if d.sample_weight is None else d.sample_weight[idx]
                yield d.X[idx], (None if d.Y is None else d.Y[idx], w)
        else:
            for start, stop in self._starts():
                sl = slice(start, stop)
                w = None if d.sample_weight is None else d.sample_weight[sl]
                yield d.X[sl], (None if d.Y is None else d.Y[sl], w)


class MemberRows:
    """The rows of packed networks (``PackedMLPs``), each member its own:
    ``data`` (``TensorData`` of every row) and ``rows``, ``(members, m)``
    indices into it, one row of them per member (its training or its
    validation rows)."""

    def __init__(self, data, rows):
        self.data, self.rows = data, rows

    def __len__(self):
        return self.rows.shape[1]


class MemberBatches:
    """Batches ``(X, (Y, sample_weight))`` of ``MemberRows`` for the members
    still in the module (``ids()``, read when an epoch starts), each tensor
    ``(batch, members, ...)``: in training every member draws its own order
    of its rows from its own generator (the order the network would draw
    alone), else the rows in their order."""

    def __init__(self, rows, batch_size, ids, generators=None):
        self.rows, self.batch_size, self.ids = rows, batch_size, ids
        self.generators = generators

    def __len__(self):
        return math.ceil(len(self.rows) / self.batch_size)

    def __iter__(self):
        ids = self.ids()
        rows = self.rows.rows[ids]
        if self.generators is not None:
            m = rows.shape[1]
            rows = torch.stack(
                [
                    r[torch.randperm(m, generator=self.generators[i])]
                    for i, r in zip(ids, rows)
                ]
            )
        d = self.rows.data
        rows = rows.T.to(d.X.device)
        for start in range(0, rows.shape[0], self.batch_size):
            idx = rows[start : start + self.batch_size]
            w = None if d.sample_weight is None else d.sample_weight[idx]
            yield d.X[idx], (d.Y[idx], w)


class MemberSplit:
    """``train_split`` of packed networks: each member's training and
    validation rows (``(members, m)`` index tensors) as ``MemberRows``."""

    def __init__(self, train, valid):
        self.train, self.valid = train, valid

    def __call__(self, dataset, y=None, **kwargs):
        return MemberRows(dataset, self.train), MemberRows(dataset, self.valid)


class JointNet(NeuralNet):
    """skorch net for ``MultiHeadMLP`` + ``JointLoss`` on ``TensorData``.

    Extra parameters
    ----------------
    target_names : list of str
        Names used for the per-target history columns.
    alpha : float
        L2 penalty (Adam's ``weight_decay``) on the network's parameters, not
        on learned loss weights.
    seed : int
        Seed of the batch-order generator.
    member_seeds : sequence of int or None
        Packed networks (``PackedMLPs``): each member's batch-order seed.
    """

    def __init__(
        self, *args, target_names=(), alpha=0.0, seed=0, member_seeds=None, **kwargs
    ):
        self.target_names = list(target_names)
        self.alpha = alpha
        self.seed = seed
        self.member_seeds = member_seeds
        super().__init__(*args, **kwargs)

    @property
    def _default_callbacks(self):
        # the epoch's losses are recorded first, so that every later callback
        # (the stopper, a printer, the user's) reads them at on_epoch_end
        return [("epoch_timer", EpochTimer()), ("target_losses", TargetLosses())]

    # -- data ---------------------------------------------------------------
    def get_dataset(self, X, y=None):
        if isinstance(X, TensorData):
            return X
        if isinstance(X, SparseRows):
            return TensorData(X)
        if not isinstance(X, torch.Tensor):
            X = as_tensor(np.asarray(X, dtype=np.float32), self.device)
        return TensorData(X)

    def initialize(self):
        # batch order of a fresh fit depends only on ``seed``
        self.generator_ = torch.Generator().manual_seed(int(self.seed))
        self.member_generators_ = [
            torch.Generator().manual_seed(int(s)) for s in self.member_seeds or ()
        ]
        return super().initialize()

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("generator_", None)  # torch generators cannot be pickled
        state.pop("member_generators_", None)
        state.pop("float64_cache_", None)  # remade on the first predict
        return state

    def get_iterator(self, dataset, training=False):
        if isinstance(dataset, MemberRows):  # packed networks
            ids = lambda: self.module_.ids  # noqa: E731 (the members of now)
            if training:
                generators = self.member_generators_
                return MemberBatches(dataset, self.batch_size, ids, generators)
            size = eval_batch_size(self.module_, self.device)
            return MemberBatches(dataset, size, ids)
        if training:
            batch_norm = any(
                isinstance(m, torch.nn.BatchNorm1d) for m in self.module_.modules()
            )
            return BatchIterator(
                dataset, self.batch_size, True, self.generator_, batch_norm
            )
        return BatchIterator(dataset, eval_batch_size(self.module_, self.device))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The joint loss of a batch; ``y_true`` is ``(Y, sample_weight)``.

        The per-target losses behind it (in the loss's kind order, with the
        weight of the known cells, or None when every row counts once) are
        kept as ``batch_target_losses_`` for ``TargetLosses``.
        """
        Y, w = y_true
        if Y.ndim == 3:  # packed networks, each member on its own rows
            return self.packed_loss(y_pred, Y, w)
        y_pred, Y, w = members_as_rows(y_pred, Y, w)
        losses, weights = self.criterion_.kind_losses(y_pred, Y, w, training=training)
        self.batch_target_losses_ = (losses.detach(), weights, len(y_pred))
        return self.criterion_.combine_kinds(losses)

    def packed_loss(self, y_pred, Y, w):
        """Packed networks' loss: the sum of each member's loss on its own
        rows, each the loss its network would have alone (so the gradient of
        each member's weights is its network's, beside the same L2 penalty).
        Their per-target losses are kept per member
        (``batch_member_losses_``, for ``MemberStopping``) and pooled over
        the members (``batch_target_losses_``, for ``TargetLosses``)."""
        losses, weights = self.criterion_.kind_losses(y_pred, Y, w)
        self.batch_member_losses_ = (losses.detach(), weights)
        rows = len(y_pred) * y_pred.shape[1]
        if weights is None:
            pooled = losses.detach().mean(0)
        else:
            total = weights.sum(0)
            pooled = (losses.detach() * weights).sum(0) / total.clamp_min(1e-12)
            weights = total
        self.batch_target_losses_ = (pooled, weights, rows)
        return self.criterion_.combine_kinds(losses)

    # -- optimisation ---------------------------------------------------------
    def initialize_optimizer(self, triggered_directly=None):
        # one parameter group where possible: one fused Adam update per step
        network, loss = [], []
        for name, p in self.get_all_learnable_params():
            (loss if name.startswith("criterion") else network).append(p)
        groups = [{"params": network, "weight_decay": self.alpha}]
        if loss:  # learned loss weights are not penalised
            groups.append({"params": loss, "weight_decay": 0.0})
        kwargs = self.get_params_for("optimizer")
        kwargs.setdefault("lr", self.lr)
        self.optimizer_ = self.optimizer(groups, **kwargs)
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # the weights are about to change: predict makes a new float64 copy
        self.__dict__.pop("float64_cache_", None)
        return super().on_train_begin(net, X=X, y=y, **kwargs)

    def load_params(self, *args, **kwargs):
        self.__dict__.pop("float64_cache_", None)
        return super().load_params(*args, **kwargs)

    # -- prediction -----------------------------------------------------------
    def predict_raw(self, X, float64=False):
        """Network outputs for X (a float32 tensor) as a numpy array.

        Chunks of ``eval_batch_size`` rows are written into one preallocated
        array. With ``float64`` on the CPU, the forward pass runs on a float64
        copy of the module (made at the first such call after training, kept
        until the next training or ``load_params``): a row's outputs then do
        not depend on the rows it is predicted with (float32 kernels for 1 row
        and for 20 differ by ~1e-7). Float32 elsewhere (validation scores,
        GPUs), on the module itself when it is in eval mode, else on an eval
        copy: a predict from another thread never changes the mode of a
        module being trained.
        """
        module = getattr(self, "module_", None)
        if module is None:  # skorch's own error, which names the fix
            self.check_is_fitted()
        n, chunk = len(X), eval_batch_size(module, X.device)
        float64 = float64 and torch.device(X.device).type == "cpu"
        dtype = torch.float64 if float64 else torch.float32
        out = torch.empty((n, sum(module.head_sizes)), dtype=dtype)
        if float64:
            module = self.float64_module()
            chunk = max(1, chunk // 2)  # the same bytes of activations
        elif module.training:  # being trained (another thread): never touch it
            with torch.no_grad():
                module = copy.deepcopy(module).train(False)
        with torch.inference_mode():
            for start in range(0, n, chunk):
                x = X[start : start + chunk]
                out[start : start + chunk] = module(x.double() if float64 else x)
        return out.numpy()

    def float64_module(self):
        """The float64 eval-mode copy of ``module_`` that CPU predictions use.

        Made at the first call after training and kept while every parameter
        and buffer of ``module_`` still holds the value it copied (compared on
        each call, ~0.1 ms for the default model: an edit of the weights by
        hand is seen too).
        """
        cached = self.__dict__.get("float64_cache_")
        tensors = [*self.module_.parameters(), *self.module_.buffers()]
        if cached is not None:
            copied, theirs = cached
            if len(theirs) == len(tensors) and all(
                torch.equal(mine, their.to(mine.dtype))
                for mine, their in zip(tensors, theirs)
            ):
                return copied
        with torch.no_grad():
            copied = copy.deepcopy(self.module_).to(torch.float64).train(False)
        theirs = [*copied.parameters(), *copied.buffers()]
        # in a tuple: a module attribute would join the net's own modules
        self.float64_cache_ = (copied, theirs)
        return copied


class TargetLosses(Callback):
    """Total and per-target losses of every epoch, from the batches' parts.

    Each batch's per-target losses (``JointNet.get_loss``) are summed with the
    weight of their known cells (or their rows), so an epoch's loss of a
    target is its weighted mean over the epoch's known cells, whatever the
    batch sizes. Records ``train_loss`` / ``valid_loss`` (the targets'
    losses combined with the loss weights), ``<prefix>_loss_<target>`` and
    ``<prefix>_loss_best``; raises ``FloatingPointError`` with what to do
    when an epoch's loss is not finite.
    """

    def on_epoch_begin(self, net, **kwargs):
        self.batches_ = {"train": [], "valid": []}

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        parts = net.__dict__.pop("batch_target_losses_", None)
        if parts is not None:  # summed once per epoch, in on_epoch_end
            self.batches_["train" if training else "valid"].append(parts)

    def on_epoch_end(self, net, **kwargs):
        criterion = net.criterion_
        for prefix, batches in self.batches_.items():
            if not batches:
                continue
            losses = torch.stack([b[0] for b in batches])
            weights = torch.stack(
                [torch.full_like(b[0], b[2]) if b[1] is None else b[1] for b in batches]
            )
            mean = (losses * weights).sum(0) / weights.sum(0).clamp_min(1e-12)
            per_target = criterion.in_target_order(mean)
            with torch.no_grad():
                total = float(criterion.watched(per_target))
            if not math.isfinite(total):
                raise FloatingPointError(
                    f"Training diverged in epoch {len(net.history)}: the {prefix} "
                    f"loss is {total}. Lower learning_rate_init (now {net.lr}), "
                    "scale the features (e.g. with StandardScaler), or check X for "
                    "extreme values."
                )
            earlier = [
                h[f"{prefix}_loss"] for h in net.history[:-1] if f"{prefix}_loss" in h
            ]
            net.history.record(f"{prefix}_loss", total)
            best = not earlier or total < min(earlier)
            net.history.record(f"{prefix}_loss_best", best)
            for name, value in zip(net.target_names, per_target.tolist()):
                net.history.record(f"{prefix}_loss_{name}", value)
        self.batches_ = {"train": [], "valid": []}


def head_decisions(raw, head_slices, head_kinds, n_classes):
    """Per target, from the network's outputs ``raw`` (rows x outputs): the
    standardised number (regression) or the class code (uint8 for a binary
    head, int64 for a multiclass one) of every row. ``n_classes``: per
    target, its number of classes (a binary head of one class seen in fit
    always predicts it)."""
    columns = []
    for sl, kind, n in zip(head_slices, head_kinds, n_classes):
        if kind == "regression":
            columns.append(raw[:, sl.start])
        elif kind == "binary" and n == 2:
            columns.append((raw[:, sl.start] > 0).view(np.uint8))
        elif kind == "binary":  # one class seen in fit
            columns.append(np.zeros(len(raw), dtype=np.uint8))
        else:  # torch's argmax uses the threads numpy's would not
            columns.append(torch.from_numpy(raw[:, sl]).argmax(dim=1).numpy())
    return columns


class ValidationScore(Callback):
    """Records ``valid_score`` after every epoch: the mean over targets of R^2
    (regression) and accuracy (classification) on the held-out rows, from the
    encoded targets (R^2 does not change with the standardisation), as
    scikit-learn's MLP records ``validation_scores_``.

    ``valid`` are the rows of the net's validation split: the outputs of its
    validation pass are scored (no second pass over them). In an epoch
    without one (``partial_fit``), ``valid``'s rows are predicted."""

    def __init__(self, valid, head_kinds, n_classes):
        self.valid, self.head_kinds, self.n_classes = valid, head_kinds, n_classes

    def on_epoch_begin(self, net, **kwargs):
        self.outputs_ = []

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
        if not training and y_pred is not None:
            Y = batch[1][0]
            self.outputs_.append((y_pred.float().cpu().numpy(), Y.cpu().numpy()))

    def on_epoch_end(self, net, **kwargs):
        outputs, self.outputs_ = getattr(self, "outputs_", []), []
        packed = isinstance(self.valid, MemberRows)  # each member its rows
        if not outputs and packed:
            for X, (Y, _) in net.get_iterator(self.valid, training=False):
                outputs.append((eval_outputs(net.module_, X, len(X)), Y.cpu().numpy()))
        if outputs:
            raw = np.concatenate([o for o, _ in outputs])
            Y = np.concatenate([y for _, y in outputs])
        else:
            raw, Y = net.predict_raw(self.valid.X), self.valid.Y
        if packed:
            scores = [self.score(net, raw[:, j], Y[:, j]) for j in range(raw.shape[1])]
        else:
            scores = [self.score(net, raw, Y)]
        scores = [s for s in scores if s is not None]
        net.history.record("valid_score", float(np.mean(scores)) if scores else np.nan)

    def score(self, net, raw, Y):
        """The mean R^2 / accuracy of outputs ``raw`` for targets ``Y``."""
        Y = Y.cpu().numpy() if isinstance(Y, torch.Tensor) else Y
        decided = head_decisions(
            raw, net.module_.head_slices, self.head_kinds, self.n_classes
        )
        scores = []
        for j, (kind, pred) in enumerate(zip(self.head_kinds, decided)):
            known = ~np.isnan(Y[:, j])
            if not known.any():
                continue
            y, pred = Y[known, j], pred[known]
            if kind == "regression":
                spread = ((y - y.mean()) ** 2).sum()
                if spread > 0:
                    scores.append(1.0 - ((y - pred) ** 2).sum() / spread)
                continue
            scores.append(float((pred == y).mean()))
        return float(np.mean(scores)) if scores else None


def eval_outputs(module, X, chunk):
    """A module's eval-mode outputs for ``X``, ``chunk`` rows at a time, as a
    float32 numpy array (packed networks on their own rows of a 3-D X:
    ``(n, members, outputs)``); the module's mode is restored after."""
    was_training = module.training
    module.train(False)
    try:
        with torch.inference_mode():
            parts = [
                module(X[start : start + chunk]).float().cpu()
                for start in range(0, len(X), chunk)
            ]
    finally:
        module.train(was_training)
    return torch.cat(parts).numpy()


class MemberStopping(Callback):
    """Early stopping of packed networks (``PackedMLPs``), member by member,
    as ``StopOnPlateau`` stops a network trained alone: a member whose own
    validation loss (on its own held-out rows, the total that the history
    records) has not improved by ``threshold`` for ``patience`` epochs
    leaves the module, and its weights and Adam moments with it (a smaller
    module takes the others' weights and moments, so a stopped member costs
    no more work); the fit ends when the last member stops. At the end every
    member's weights of its best epoch are restored, all members in one
    module again.

    ``stopped_``: whether the last member stopped (else ``max_epochs`` ended
    the fit); ``best_epochs_``: each member's best epoch; ``moments_``: each
    member's Adam state when it left the module (or at the end), by its
    parameters' names, for further training;
    ``restored_epoch_``: None (the estimator's warnings read it as
    ``StopOnPlateau``'s); ``target_losses_``: each member's ``(epoch,
    per-target validation losses)`` of every epoch it trained (for
    ``continue_heads``). The history records ``members_training``: the
    members still training after each epoch.
    """

    def __init__(self, patience=5, threshold=1e-4):
        self.patience, self.threshold = patience, threshold

    def on_train_begin(self, net, **kwargs):
        module = net.module_
        k = len(module.ids)
        self.stopped_ = False
        self.restored_epoch_ = None
        self.best_ = torch.full((k,), math.inf, dtype=torch.float64)
        self.best_epochs_ = [0] * k
        self.first_ = module  # its buffers and layout, all members
        self.kept_ = [p.detach().clone() for p in module.packed]
        self.moments_ = [{} for _ in range(k)]
        self.target_losses_ = [[] for _ in range(k)]

    def on_epoch_begin(self, net, **kwargs):
        self.sums_, self.weights_ = None, None

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        parts = net.__dict__.pop("batch_member_losses_", None)
        if training or parts is None:
            return
        losses, weights = parts  # (members, targets), in kind order
        if weights is None:  # every row counts once
            weights = torch.full_like(losses, len(batch[0]))
        sums = net.criterion_.in_target_order(losses * weights)
        weights = net.criterion_.in_target_order(weights)
        if self.sums_ is None:
            self.sums_, self.weights_ = sums, weights
        else:
            self.sums_, self.weights_ = self.sums_ + sums, self.weights_ + weights

    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        if self.sums_ is None:  # no validation rows this epoch
            return
        epoch = len(net.history)
        per_target = self.sums_ / self.weights_.clamp_min(1e-12)
        with torch.no_grad():
            totals = [float(net.criterion_.watched(t)) for t in per_target]
        for j, (i, total) in enumerate(zip(module.ids, totals)):
            self.target_losses_[i].append((epoch, per_target[j].tolist()))
            if total < self.best_[i] - self.threshold:
                self.best_[i], self.best_epochs_[i] = total, epoch
                for kept, p in zip(self.kept_, module.packed):
                    kept[i].copy_(p.detach()[j])
        going = [
            j
            for j, i in enumerate(module.ids)
            if epoch - self.best_epochs_[i] < self.patience
        ]
        net.history.record("members_training", len(going))
        if not going:
            self.stopped_ = True
            raise KeyboardInterrupt  # skorch ends the fit (as EarlyStopping)
        if len(going) < len(module.ids):
            self.keep_moments(
                net, [j for j in range(len(module.ids)) if j not in going]
            )
            shrink_packed(net, going)

    def keep_moments(self, net, positions):
        """Keep the Adam state of the module's members at ``positions``."""
        module, state = net.module_, net.optimizer_.state
        for name, p in zip(module.param_names, module.packed):
            moments = state.get(p) or {}
            for j in positions:
                self.moments_[module.ids[j]][name] = {
                    key: value.clone() if value.dim() == 0 else value[j].clone()
                    for key, value in moments.items()
                }

    def on_train_end(self, net, **kwargs):
        self.keep_moments(net, range(len(net.module_.ids)))
        first = self.first_
        params = dict(zip(first.param_names, self.kept_))
        restored = PackedMLPs(
            first.template, params, first.stacked_buffers(), first.ids
        )
        net.module_ = restored.train(net.module_.training)
        self.first_ = self.kept_ = None  # the weights now live in the module


def shrink_packed(net, positions):
    """Keep the members at ``positions`` of the net's ``PackedMLPs``: a
    smaller module, and in the same optimiser (a learning-rate schedule
    keeps it) its parameters in place of the old ones, with their slices
    of Adam's moments."""
    old = net.module_
    new = old.select(positions)
    index = torch.as_tensor(positions, dtype=torch.long)
    optimizer = net.optimizer_
    replaced = dict(zip(map(id, old.packed), new.packed))
    for group in optimizer.param_groups:
        params = []
        for p in group["params"]:
            q = replaced.get(id(p))
            if q is None:  # learned loss weights: shared, kept
                params.append(p)
                continue
            state = optimizer.state.pop(p, None)
            if state:
                optimizer.state[q] = {
                    key: value if value.dim() == 0 else value[index.to(value.device)]
                    for key, value in state.items()
                }
            params.append(q)
        group["params"] = params
    net.module_ = new


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
