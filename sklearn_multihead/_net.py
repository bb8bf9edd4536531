"""The skorch net that trains the multi-head module (skorch + torch).

Inside:

- ``thread_budget``: re-exported from ``_threads`` (the thread policy).
- ``resolve_device``: the device a fit uses ("auto": a GPU when there is one).
- ``SparseRows``: a sparse X densified a batch at a time.
- ``TensorData``: X, encoded Y and sample weights as tensors, built once.
- ``BatchIterator``: yields batches by slicing those tensors (a permutation per
  epoch from its own seeded generator); no DataLoader, no per-sample collate.
- ``eval_batch_size``: rows per forward pass when predicting or validating:
  on a CPU, chunks whose activations stay in the caches; ``widest_layer``:
  the widest Linear layer of a module (the work of a step is rows x that).
- ``JointNet``: a ``skorch.NeuralNet`` with the small hooks changed:
  ``get_dataset`` / ``get_iterator`` (the two above), ``initialize_optimizer``
  (L2 penalty on the network, none on learned loss weights), and
  ``run_single_epoch``,
  which trains or validates an epoch with no per-batch Python bookkeeping and
  records per-target losses once per epoch (``train_loss_<target>``,
  ``valid_loss_<target>``) and stops with a clear error when the loss is not
  finite (``verbose >= 2`` adds a progress bar over the batches);
  ``predict_raw`` runs the module over ``eval_batch_size`` chunks into one
  output array.

The callbacks of a fit (``StopOnPlateau``, ``ValidationScore``) are in
``_callbacks``.
"""

import copy
import math
import warnings
import weakref

import numpy as np
import torch
from skorch import NeuralNet
from tqdm.auto import tqdm

from sklearn_multihead._threads import thread_budget

__all__ = ["thread_budget"]  # re-exported: callers of the policy import it here

#: CPU: floats of the widest layer's activations per forward chunk when
#: predicting or validating (4 MiB of float32): chunks that stay in the CPU's
#: caches run about twice as fast as one pass over 65,536 rows or more
#: (benchmarks/README.md)
CPU_EVAL_FLOATS = 2**20
#: GPU: rows per forward chunk (no caches to fit; fewer, larger launches)
GPU_EVAL_ROWS = 65536


#: widest Linear layer of each module seen by ``eval_batch_size`` (modules do
#: not change shape once built; entries go with their modules)
_WIDEST = weakref.WeakKeyDictionary()
#: float64 copies of modules for predict (``float64_copy``); entries go with
#: their modules
_FLOAT64 = weakref.WeakKeyDictionary()


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
    """The widest in- or output of the module's linear layers (cached), times
    the members of an ensemble (each row goes through all of them)."""
    widest = _WIDEST.get(module)
    if widest is None:
        widest = _WIDEST[module] = max(
            (
                max(m.in_features, m.out_features) * getattr(m, "k", 1)
                for m in module.modules()
                if isinstance(getattr(m, "in_features", None), int)
                and isinstance(getattr(m, "out_features", None), int)
            ),
            default=1,
        )
    return widest


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
    """

    def __init__(self, *args, target_names=(), alpha=0.0, seed=0, **kwargs):
        self.target_names = list(target_names)
        self.alpha = alpha
        self.seed = seed
        super().__init__(*args, **kwargs)

    @property
    def _default_callbacks(self):
        # the estimator passes every callback it wants (timer, stopper, printer);
        # losses are recorded per epoch by ``run_single_epoch``
        return []

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
        return super().initialize()

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("generator_", None)  # torch generators cannot be pickled
        return state

    def get_iterator(self, dataset, training=False):
        if training:
            batch_norm = any(
                isinstance(m, torch.nn.BatchNorm1d) for m in self.module_.modules()
            )
            return BatchIterator(
                dataset, self.batch_size, True, self.generator_, batch_norm
            )
        return BatchIterator(dataset, eval_batch_size(self.module_, self.device))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(*members_as_rows(y_pred, *y_true))

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

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Train (or validate) one epoch; record total and per-target losses."""
        if iterator is None:
            return
        module, criterion = self.module_, self.criterion_
        module.train(training)
        criterion.train(training)
        n = criterion.n_targets
        device = next(module.parameters()).device
        loss_sum = torch.zeros(n, device=device)
        weight_sum = torch.zeros(n, device=device)
        rows = 0  # rows of the batches where every cell counts once
        opt = self.optimizer_
        if training and self.verbose >= 2:  # a bar over the batches of long epochs
            iterator = tqdm(
                iterator,
                desc=f"epoch {len(self.history)}",
                unit="batch",
                leave=False,
            )
        with torch.set_grad_enabled(training):
            for Xb, (Yb, wb) in iterator:
                losses, weights = criterion.kind_losses(
                    *members_as_rows(module(Xb), Yb, wb)
                )
                if training:
                    opt.zero_grad(set_to_none=True)
                    criterion.combine_kinds(losses).backward()
                    opt.step()
                if weights is None:
                    loss_sum.add_(losses.detach(), alpha=len(Xb))
                    rows += len(Xb)
                else:
                    loss_sum.addcmul_(losses.detach(), weights)
                    weight_sum.add_(weights)
        per_target = loss_sum / (weight_sum + rows).clamp_min(1e-12)
        per_target = criterion.in_target_order(per_target)
        with torch.no_grad():
            total = float(criterion.combine(per_target))
        if not math.isfinite(total):
            raise FloatingPointError(
                f"Training diverged in epoch {len(self.history)}: the {prefix} loss "
                f"is {total}. Lower learning_rate_init (now {self.lr}), scale the "
                "features (e.g. with StandardScaler), or check X for extreme values."
            )
        self.history.record(f"{prefix}_loss", total)
        for name, value in zip(self.target_names, per_target.tolist()):
            self.history.record(f"{prefix}_loss_{name}", value)

    def predict_raw(self, X, float64=False):
        """Network outputs for X (a float32 tensor) as a numpy array.

        Chunks of ``eval_batch_size`` rows are written into one preallocated
        array: no list of chunks to concatenate. With ``float64`` on the CPU,
        the forward pass runs on float64 copies of the weights: a row's
        outputs then do not depend on the rows it is predicted with (float32
        kernels for 1 row and for 20 differ by ~1e-7) at twice the float32
        time. Float32 elsewhere (validation scores, GPUs).
        """
        module = getattr(self, "module_", None)
        if module is None:  # skorch's own error, which names the fix
            self.check_is_fitted()
        if module.training:  # modes change only through the root (skorch, here)
            module.train(False)
        n, chunk = len(X), eval_batch_size(module, X.device)
        float64 = float64 and torch.device(X.device).type == "cpu"
        dtype = torch.float64 if float64 else torch.float32
        out = torch.empty((n, sum(module.head_sizes)), dtype=dtype)
        if float64:
            module = float64_copy(module)
            chunk = max(1, chunk // 2)  # the same bytes of activations
        with torch.inference_mode():
            for start in range(0, n, chunk):
                x = X[start : start + chunk]
                out[start : start + chunk] = module(x.double() if float64 else x)
        return out.numpy()


def float64_copy(module):
    """A float64 copy of ``module`` in eval mode, made once and kept while
    every parameter and buffer of ``module`` still holds the value it copied
    (checked on each call: training, ``partial_fit`` or a user's edit of the
    weights makes a new copy)."""
    tensors = [*module.parameters(), *module.buffers()]
    copied = _FLOAT64.get(module)
    if copied is not None:
        theirs = [*copied.parameters(), *copied.buffers()]
        if len(theirs) == len(tensors) and all(
            torch.equal(mine, their.to(mine.dtype))
            for mine, their in zip(tensors, theirs)
        ):
            return copied
    with torch.no_grad():
        copied = copy.deepcopy(module).to(torch.float64).train(False)
    _FLOAT64[module] = copied
    return copied
