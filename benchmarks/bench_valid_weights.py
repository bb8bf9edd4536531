"""Loss weights from the held-out losses: how loss_weights="auto" was chosen.

Question: learned loss weights that only raise regression targets (Kendall's,
floored at 1; ``bench_loss_weights.py``) fix diamonds' price, the default's
worst target, but on Star they cost the class type 23% log loss: Star's
class type is predicted almost exactly too (held-out log loss 0.14), and
only the regression targets beside it were weighted up. Would weights set
after every epoch from each target's *held-out* loss, for every kind of
target, keep the fix without the cost? Two candidates, each a skorch
callback passed through ``callbacks`` (an experiment; the option the
second became, ``loss_weights="held_out"``, computes the same rule inside
the estimator, equal from the first epoch's weights, not to the bit):

- ``joint_valid_up``: weight ``max(1, 0.5 / validation loss)``;
- ``joint_valid_up_rel`` (``--relative``): the validation loss relative to
  the loss of the best constant prediction of the target on the training
  rows (1 for a standardised regression target, the class shares' entropy
  for a class target), ``max(1, 0.5 / relative loss)``: a rare class
  (flights' cancellations) has a low log loss without being well learnt.

Both start from equal weights and set them after every epoch; early
stopping watches the targets' losses with equal weights. On the 19 tables
of ``bench_real.py`` and ``bench_suite.py``, 3 splits, one thread; paired
with the records of equal weights (``joint_equal_weights``).

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_valid_weights.py --relative --tables diamonds hi
    (and the other tables in other processes: cps1988 star doctor flights; abalone
    ames auto boston carseats computers creditcard hitters housing males
    salaries stackoverflow wage)

``--cpu`` answers what the default's weights cost: split 0 of each named
table, the default and ``loss_weights=None`` fitted in turn in one process,
``--rounds`` times each, one thread; the ratio of the medians of their
process CPU times (the suite's own fit CPU moves by 1.3x between runs on
these machines), to ``results/valid_weights_cpu_<tables>.json``.

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_valid_weights.py --cpu --tables diamonds star doctor
"""

import argparse
import functools
import json
import statistics
import time
import warnings
from pathlib import Path

import torch
from bench_real import _save, joint_models, load_tables, run_model
from bench_suite import load_more_tables
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

from sklearn_multihead._joint.training import constant_target_losses

RESULTS = Path(__file__).parent / "results"


class HeldOutWeights(Callback):
    """After every epoch: each target's weight from its validation loss,
    ``max(1, 0.5 * yardstick / loss)``; here every yardstick is 1."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.yardsticks_ = [1.0] * len(net.target_names)

    def on_epoch_end(self, net, **kwargs):
        criterion = net.criterion_
        criterion.watched = lambda losses: losses.sum()
        row = net.history[-1]
        losses = [row.get(f"valid_loss_{name}") for name in net.target_names]
        if any(v is None for v in losses):
            return
        weights = [
            max(1.0, 0.5 * c / max(v, 1e-12)) for v, c in zip(losses, self.yardsticks_)
        ]
        criterion.weights.copy_(torch.tensor(weights))
        criterion.unit_weights = False


class RelativeHeldOutWeights(HeldOutWeights):
    """The same, each yardstick the loss of the best constant prediction of
    its target on the training rows (1 for a standardised regression target;
    the class shares' entropy for a class target), as the estimator's
    ``loss_weights="held_out"`` computes it. (The records were made with a
    hand-written copy of that computation, which parts from it by float
    rounding only.)"""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        losses = constant_target_losses(X, net.module_, net.criterion_)
        self.yardsticks_ = losses.clamp_min(1e-12).tolist()


def fitter(callback):
    def fit(X, Y, types):
        from sklearn_multihead import JointRegressorClassifier

        model = JointRegressorClassifier(
            target_types=types,
            loss_weights=None,
            callbacks=[callback()],
            random_state=0,
            n_threads=1,
        )
        return model.fit(X, Y)

    return fit


def paired_cpu(tables, rounds):
    """Process CPU of the default and of equal weights, fitted in turn."""
    models = {
        "default": joint_models({}),
        "equal": joint_models({"loss_weights": None}),
    }
    rows = []
    for table, (X, Y, types) in tables.items():
        train, _ = train_test_split(range(len(X)), test_size=0.25, random_state=0)
        Xtr, Ytr = X.iloc[train], Y.iloc[train]
        times = {name: [] for name in models}
        for _ in range(rounds):
            for name, fit in models.items():
                with threadpool_limits(1), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    start = time.process_time()
                    fit(Xtr, Ytr, types)
                    times[name].append(time.process_time() - start)
        med = {name: statistics.median(t) for name, t in times.items()}
        rows.append({"table": table, "times": times, "median": med})
        print(
            f"{table:>10}: default {med['default']:6.1f} s, equal weights "
            f"{med['equal']:6.1f} s CPU: {med['default'] / med['equal']:.2f}x"
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--tables", nargs="*", required=True)
    parser.add_argument("--relative", action="store_true")
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    tables = {**load_more_tables(), **load_tables(50_000)}
    tables = {k: v for k, v in tables.items() if k in args.tables}
    if args.cpu:
        out = RESULTS / f"valid_weights_cpu_{'_'.join(sorted(tables))}.json"
        out.write_text(json.dumps(paired_cpu(tables, args.rounds), indent=1))
        return
    kind = "valid_up_rel" if args.relative else "valid_up"
    out = RESULTS / f"variant_{kind}_{'_'.join(sorted(tables))}.json"
    records = []
    save = functools.partial(_save, out, records)
    callback = RelativeHeldOutWeights if args.relative else HeldOutWeights
    run_model(f"joint_{kind}", fitter(callback), tables, args.splits, records, save)


if __name__ == "__main__":
    main()
