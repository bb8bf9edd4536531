"""Five networks in one module: what would a packed ensemble save on abalone?

Question: the default fits ``n_models=5`` networks one after the other, so
its fit costs five networks' steps; the abalone bar of issue #26 asks for a
fit at 0.4x the hand loop's time, where the default stands at about 0.77x.
Would training the five networks as one module of batched matrix products
(TabM's "packed" ensemble: ``tabm.MLPBackboneEnsemble`` and
``tabm.LinearEnsemble``, each member on its own mini-batch) make a step of
all five cost much less than five steps, on the default's shapes?

Setup: abalone's training split (as ``bench_abalone.py``), the default's
shapes (7 numeric columns, piecewise-linear embeddings of 48 bins and 8
dimensions, a (128, 128) trunk, 28 outputs: rings and 27 classes), batch
128, Adam at 4e-3 with an L2 penalty of 1e-3, MSE + cross-entropy. Both
sides draw each member's rows from its own permutation and compute the
piecewise-linear encoding every step.

- ``separate``: five copies of the default's own module (one fitted for an
  epoch, so its bins are the default's), five Adam optimisers, five steps;
- ``packed``: one module, the same layers with a member axis (the encoding
  by ``rtdl_num_embeddings.PiecewiseLinearEncoding`` on 48 equal-width
  bins, a per-member per-column linear map of it, then ``tabm``'s ensemble
  trunk and heads), one Adam, one step.

Process CPU time on one thread, the two sides alternated in one process,
the median of ``--repeats`` rounds of ``--steps`` steps. Only torch's work
is timed (forward, backward and Adam: about three quarters of a default
fit's CPU on abalone under cProfile); the rest (skorch's per-step
bookkeeping, validation) would be paid once per packed step instead of
five times.

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_packed.py --out benchmarks/results/packed.json
"""

import argparse
import copy
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_abalone import TYPES, load_split
from rtdl_num_embeddings import PiecewiseLinearEncoding
from tabm import LinearEnsemble, MLPBackboneEnsemble
from torch import nn

from sklearn_multihead import JointRegressorClassifier

HERE = Path(__file__).resolve().parent
K, BATCH, BINS, D_EMB, WIDTH = 5, 128, 48, 8, 128


class Packed(nn.Module):
    """K networks of the default's shapes as one module with a member axis."""

    def __init__(self, X, n_out):
        super().__init__()
        lo, hi = X.min(0), X.max(0)
        edges = [torch.linspace(a, b, BINS + 1) for a, b in zip(lo, hi)]
        self.encoding = PiecewiseLinearEncoding(edges)
        n_features = X.shape[1]
        self.weight = nn.Parameter(torch.randn(K, n_features, BINS, D_EMB) * 0.1)
        self.bias = nn.Parameter(torch.zeros(K, n_features, D_EMB))
        self.trunk = MLPBackboneEnsemble(
            d_in=n_features * D_EMB,
            n_blocks=2,
            d_block=WIDTH,
            dropout=0.0,
            activation="ReLU",
            k=K,
        )
        self.head = LinearEnsemble(WIDTH, n_out, k=K)

    def forward(self, x):  # x: (batch, K, features), each member its own rows
        b, k, f = x.shape
        z = self.encoding(x.reshape(b * k, f)).reshape(b, k, f, BINS)
        z = torch.einsum("bkfn,kfnd->bkfd", z, self.weight) + self.bias
        return self.head(self.trunk(z.flatten(2)))


def losses(out, rings, classes):
    return F.mse_loss(out[..., 0], rings) + F.cross_entropy(
        out[..., 1:].reshape(-1, out.shape[-1] - 1), classes.reshape(-1)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "packed.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    Xtr, _, Ytr, _ = load_split()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = JointRegressorClassifier(
            target_types=TYPES, n_models=1, max_iter=1, random_state=0
        ).fit(Xtr, Ytr)
    module = model.net_.module_
    n_out = module.output.out_features
    x = torch.from_numpy(np.asarray(Xtr, dtype=np.float32))
    r = torch.from_numpy(Ytr["rings"].to_numpy(np.float32))
    r = (r - r.mean()) / r.std()
    c = torch.from_numpy(
        np.searchsorted(model.classes_[1], Ytr["ring_class"].to_numpy())
    ) % (n_out - 1)
    n = len(x)

    separate = [copy.deepcopy(module).train() for _ in range(K)]
    optims = [
        torch.optim.Adam(m.parameters(), lr=4e-3, weight_decay=1e-3) for m in separate
    ]
    packed = Packed(x.numpy(), n_out).train()
    optim = torch.optim.Adam(packed.parameters(), lr=4e-3, weight_decay=1e-3)

    def rows():
        return torch.stack([torch.randint(n, (BATCH,)) for _ in range(K)], 1)

    def run_separate(steps):
        for _ in range(steps):
            idx = rows()
            for j, (m, opt) in enumerate(zip(separate, optims)):
                i = idx[:, j]
                loss = losses(m(x[i]), r[i], c[i])
                opt.zero_grad()
                loss.backward()
                opt.step()

    def run_packed(steps):
        for _ in range(steps):
            idx = rows()
            loss = losses(packed(x[idx]), r[idx], c[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()

    run_separate(20), run_packed(20)  # warm-up
    times = {"separate": [], "packed": []}
    for _ in range(args.repeats):
        for name, run in (("separate", run_separate), ("packed", run_packed)):
            t0 = time.process_time()
            run(args.steps)
            times[name].append((time.process_time() - t0) / args.steps * 1e3)
    med = {k: float(np.median(v)) for k, v in times.items()}
    result = {
        "question": "CPU ms per step of 5 networks: separate vs packed",
        "torch": torch.__version__,
        "batch": BATCH,
        "members": K,
        "steps": args.steps,
        "repeats": args.repeats,
        "ms_per_step_of_5": times,
        "median_ms": med,
        "packed_over_separate": med["packed"] / med["separate"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(
        f"5 networks, one step each: separate {med['separate']:.2f} ms, "
        f"packed {med['packed']:.2f} ms CPU "
        f"({result['packed_over_separate']:.2f}x); wrote {args.out}"
    )


if __name__ == "__main__":
    main()
