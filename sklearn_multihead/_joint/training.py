"""How the joint network is trained: the functions between the estimator's
parameters and the skorch net (numpy, torch).

Inside:

- ``auto_batch_size`` (``batch_size="auto"``), ``AUTO_EARLY_STOPPING_ROWS``
  (``early_stopping="auto"``), ``head_kind`` (a target's head: regression,
  binary or multiclass), ``split_rows`` (the validation split of early
  stopping), ``PredefinedSplit`` (skorch's ``train_split`` for it),
  ``named_callbacks`` (the user's callbacks named apart from the package's).
- ``constant_loss``: the training loss of a network that learnt nothing (the
  best constant prediction), the yardstick of the training warnings;
  ``constant_target_losses`` the same per target, the yardstick of
  ``HeldOutWeights`` (``loss_weights="held_out"``: each target's weight from
  its validation loss after every epoch).
- ``torch_threads`` / ``threads_for``: the thread policy, one
  ``torch.set_num_threads`` scope per fit or predict call (``busy_cores``:
  one reading of the machine's load per call of large steps).
- ``training_warnings`` / ``many_class_warnings``: what a fit says about its
  own training when it went wrong.
"""

import os
import time
from contextlib import contextmanager
from numbers import Integral

import numpy as np
import torch
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau

from sklearn_multihead._joint.net import PREDICT_FLOATS
from sklearn_multihead._targets import REGRESSION

#: the largest mini-batch of ``batch_size="auto"``
AUTO_BATCH_SIZE = 256
#: ``early_stopping="auto"`` holds out a validation split from this many rows
AUTO_EARLY_STOPPING_ROWS = 200
#: rows per step x widest layer from which a second thread is worth having
#: (benchmarks/bench_threads.py: below it one thread is as fast on an idle
#: machine and 4-50 x faster on a busy one, where OpenMP pools spin)
PARALLEL_WORK = 2**15
#: a predict call's rows x widest layer from which a second thread is worth
#: reading the machine's load for (bench_threads.py: 2 threads gain 1.5-2 x
#: on an idle machine from 20,000 rows at width 128; below this a call is
#: too short for the reading, ~1.5 ms, and one thread never spins)
PREDICT_PARALLEL_WORK = 2**21


def head_kind(target_type, classes):
    """The head of a target: "regression", "binary" (one logit, for 1 or 2
    classes) or "multiclass" (one logit per class)."""
    if target_type == REGRESSION:
        return "regression"
    return "binary" if len(classes) <= 2 else "multiclass"


def cpu_count():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_cores(samples=3, gap_s=0.0005):
    """Runnable tasks of other processes (0 where unknown): the machine's
    runnable count (``/proc/loadavg``) less this process's running threads
    (OpenMP workers still spinning after a parallel step); the most of
    ``samples`` reads ``gap_s`` apart, since one read can land in the moment
    another task is switched out."""
    seen = 0
    for i in range(samples):
        if i:
            time.sleep(gap_s)
        try:
            with open("/proc/loadavg") as f:
                runnable = int(f.read().split()[3].split("/")[0])
            own = 0
            for tid in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{tid}/stat") as f:
                        own += f.read().rpartition(")")[2].split()[0] == "R"
                except (OSError, IndexError):  # a thread that just ended
                    continue
        except (OSError, ValueError, IndexError):
            return 0
        seen = max(seen, runnable - max(own, 1))
    return seen


def threads_for(work, n_threads=None, parallel_work=PARALLEL_WORK):
    """torch threads for a call whose work is ``work`` (fit: rows per batch x
    widest layer; predict: rows x widest layer).

    ``n_threads`` (the estimator's parameter) wins: -1 for the whole budget,
    an int for that many, never more than this process's cores (a number
    read from a model file cannot ask OpenMP for 100,000 threads). None:
    one thread below ``parallel_work``, else the budget: torch's current
    setting (which ``threadpoolctl`` limits change), lowered to
    ``OMP_NUM_THREADS`` when a parallel runner (joblib, Dask) set it so that
    workers x threads <= cores, less the cores other processes are running
    on when the call starts (read once per call, ~1.5 ms): two OpenMP threads
    on a busy core cost 2-14 x in fit and in predict (bench_threads.py, 1 and
    2 busy processes).
    """
    budget = torch.get_num_threads()
    try:
        omp = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        omp = 0
    if 0 < omp < budget:
        budget = omp
    if n_threads is not None:
        wanted = budget if n_threads == -1 else int(n_threads)
        return max(1, min(wanted, cpu_count()))
    if work is not None and work < parallel_work:
        return 1
    return max(1, min(budget, cpu_count() - busy_cores()))


@contextmanager
def torch_threads(n):
    """Run the block on ``n`` torch threads; restore torch's setting after.

    ``torch.set_num_threads`` is called even when ``torch.get_num_threads()``
    already says ``n``: that reads OpenMP's setting, which ``threadpoolctl``
    limits, while torch's MKL keeps the count of the last
    ``torch.set_num_threads``. Skipping the call left MKL's matrix products
    on 2 threads inside ``threadpool_limits(1)`` (8-9x the fit CPU on a busy
    machine, ``tests/test_threads.py``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


#: a float32 subnormal: multiplied by 1 it stays itself unless this thread
#: flushes subnormals to zero
_SUBNORMAL = 1e-40


def denormals_flushed():
    """Whether this thread flushes float32 subnormals to zero (torch has a
    setter, ``torch.set_flush_denormal``, but no getter: this asks the CPU
    by a multiplication)."""
    return float(torch.tensor(_SUBNORMAL, dtype=torch.float32) * 1.0) == 0.0


@contextmanager
def flushed_denormals():
    """Run the block with float32 subnormals flushed to zero on this thread;
    restore the thread's setting after.

    Weights of units that no longer get a gradient, and Adam's moments of
    them, decay towards zero during long fits and pass through the
    subnormal range, where every multiplication by them costs the CPU 10-100
    times more: ``bench_denormals.py`` measured TabM fits 3.8-7.4x slower on
    the larger real tables (the default, 1.05x over the suite), with the
    same epochs and scores. Flushed, they become zeros (a change of less than
    1.2e-38 to a weight). Only the calling thread is set: fits that run on
    several intra-op threads are helped on the calling one only.
    """
    before = denormals_flushed()
    changed = not before and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)


def split_rows(n, validation_fraction, seed):
    """``(train, valid)`` row indices of early stopping's split."""
    n_valid = int(np.ceil(validation_fraction * n))
    if n < 2 or n_valid >= n:
        raise ValueError(
            f"early_stopping=True holds out validation_fraction="
            f"{validation_fraction} of the rows, which leaves no rows to "
            f"train on ({n} samples). Lower validation_fraction, give more "
            "samples, or set early_stopping=False."
        )
    perm = np.random.RandomState(seed).permutation(n)
    return torch.from_numpy(perm[n_valid:]), torch.from_numpy(perm[:n_valid])


def constant_predictions(data, module):
    """The best constant prediction of every target on ``data`` (the
    weighted mean of each standardised regression target, the weighted
    class shares as probabilities), as network outputs on the CPU, and the
    rows to take its loss on: every row, or at most ``PREDICT_FLOATS``
    outputs' worth, evenly spaced (a target of many classes would otherwise
    take rows x classes floats). The constants come from every row."""
    Y, w = data.Y.cpu(), data.sample_weight
    weights = torch.ones(len(Y)) if w is None else w.cpu()
    n_out = sum(module.head_sizes)
    rows = torch.arange(len(Y))
    if len(Y) * n_out > PREDICT_FLOATS:
        rows = torch.linspace(0, len(Y) - 1, max(PREDICT_FLOATS // n_out, 1))
        rows = rows.long().unique()
    pred = torch.zeros((len(rows), n_out))
    for j, (kind, cols) in enumerate(zip(module.head_kinds, module.head_slices)):
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
    return pred, rows


def constant_target_losses(data, module, criterion):
    """Each target's loss under its best constant prediction on ``data``
    (``constant_predictions``), on the criterion's device (0 for a target
    without known cells)."""
    pred, rows = constant_predictions(data, module)
    device = criterion.weights.device
    Y, w = data.Y[rows.to(data.Y.device)].to(device), data.sample_weight
    if w is not None:
        w = w[rows.to(w.device)].to(device)
    with torch.no_grad():
        losses, _ = criterion.target_losses(pred.to(device), Y, w)
    return losses


def constant_loss(data, module, criterion, loss_config):
    """The training loss of the best constant prediction on ``data``, as the
    history records a loss (``JointLoss.watched``): the loss of a network
    that learnt nothing, for ``module`` and ``criterion`` before they are
    trained. None with learned ("uncertainty") weights, whose scale moves."""
    if loss_config["loss_weights"] == "uncertainty":
        return None
    with torch.no_grad():
        return float(criterion.watched(constant_target_losses(data, module, criterion)))


class HeldOutWeights(Callback):
    """``loss_weights="held_out"`` (and "auto" from ``AUTO_HELD_OUT_ROWS``):
    after every epoch, each target's weight from its validation loss
    relative to its best constant prediction's loss on the training rows
    (``JointLoss.weigh_by_held_out``), recorded as ``loss_weight_<target>``.
    The first epoch trains with equal weights; each training call (a fit,
    further training) takes the constants of its own training rows."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.constant_ = constant_target_losses(X, net.module_, net.criterion_)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        keys = [f"valid_loss_{name}" for name in net.target_names]
        if not all(key in row for key in keys):  # no validation split
            return
        net.criterion_.weigh_by_held_out([row[k] for k in keys], self.constant_)
        for name, weight in zip(net.target_names, net.criterion_.weights.tolist()):
            net.history.record(f"loss_weight_{name}", weight)


def named_callbacks(callbacks):
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


#: ``learning_rate="adaptive"``: the factor the learning rate is multiplied by
#: (sklearn's MLP divides by 5), and the share of ``n_iter_no_change`` the
#: watched loss may stall before it is
ADAPTIVE_FACTOR = 0.2
ADAPTIVE_PATIENCE_SHARE = 4


def watched_loss(net):
    """The loss the learning-rate schedule watches: the validation loss of
    the last epoch, or its training loss where it had no validation split (a
    ``partial_fit`` chunk, ``early_stopping=False``)."""
    row = net.history[-1]
    return row["valid_loss"] if "valid_loss" in row else row["train_loss"]


def adaptive_schedule(n_iter_no_change, tol):
    """``learning_rate="adaptive"``: skorch's ``LRScheduler`` running torch's
    ``ReduceLROnPlateau``. The learning rate is divided by 5 each time the
    watched loss has not improved by ``tol`` for a quarter of
    ``n_iter_no_change`` epochs, so a network that early stopping would
    still let run settles into its minimum instead of bouncing around it."""
    return LRScheduler(
        policy=ReduceLROnPlateau,
        monitor=watched_loss,
        mode="min",
        factor=ADAPTIVE_FACTOR,
        patience=max(1, n_iter_no_change // ADAPTIVE_PATIENCE_SHARE),
        threshold=tol,
        threshold_mode="abs",
    )


class PredefinedSplit:
    """``train_split`` that returns a validation set fixed in advance."""

    def __init__(self, valid):
        self.valid = valid

    def __call__(self, dataset, y=None, **kwargs):
        return dataset, self.valid


def layer_sizes(sizes):
    if isinstance(sizes, Integral):
        return (int(sizes),)
    return tuple(sizes)


def auto_batch_size(n_train):
    """``batch_size="auto"``: a power of 2 that gives 16 steps per epoch or
    more, from 16 up to 256 rows (and never more than the rows): small tables
    get enough steps per epoch for early stopping to judge."""
    size = 2 ** int(np.floor(np.log2(max(n_train, 1) / 16)))
    return int(min(AUTO_BATCH_SIZE, max(16, size), n_train))


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
