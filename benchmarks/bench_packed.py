"""Five networks in one module: what does a packed ensemble save on abalone?

Question: fitted one after the other (``pack_models=False``), the default's
``n_models=5`` networks cost five networks' steps; the abalone bar of issue
#26 asks for a fit at 0.4x the hand loop's time, where that stands at
0.72-0.77x.
Would training the five networks as one module of batched matrix products
(TabM's "packed" ensemble: ``tabm.MLPBackboneEnsemble`` and
``tabm.LinearEnsemble``, each member on its own mini-batch) make a step of
all five cost much less than five steps, on the default's shapes?

Setup: abalone's training split (as ``bench_abalone.py``), the default's
shapes (7 numeric columns, piecewise-linear embeddings of 48 bins and 8
dimensions, a (128, 128) trunk, 28 outputs: rings and 27 classes), batch
128, Adam at 4e-3 with an L2 penalty of 1e-3, MSE + cross-entropy. Both
sides draw each member's rows at random on their own and compute the
piecewise-linear encoding every step.

- ``separate``: five copies of the default's own module (one fitted for an
  epoch, so its bins are the default's), five Adam optimisers, five steps;
- ``package``: the package's ``PackedMLPs`` of five copies of that module
  (their stacked weights, every layer taking the member axis itself);
- ``package_vmap``: the same module mapped over the members with
  ``torch.func.vmap`` instead (``native = False``: the route it takes with
  rtdl's periodic embeddings, and took for every network before);
- ``packed``: one module, the same layers with a member axis (a
  piecewise-linear encoding on 48 equal-width bins, written out in
  ``Packed`` for the member axis, a per-member per-column linear map of
  it, then ``tabm``'s ensemble trunk and heads), one Adam, one step.
- ``embedding_native``, ``embedding_vmap`` and ``embedding_packed``: the
  input layers alone (forward and backward, no optimiser): the five
  networks' own (robust transform, piecewise-linear embeddings) with the
  member axis as ``PackedMLPs`` runs them, the same under ``vmap``, and the
  prototype's encoding and per-member map.

Process CPU time on one thread, the sides alternated in one process,
the median of ``--repeats`` rounds of ``--steps`` steps. Only torch's work
is timed (forward, backward and Adam: about three quarters of a default
fit's CPU on abalone under cProfile); the rest (skorch's per-step
bookkeeping, validation) would be paid once per packed step instead of
five times.

With ``--fit``, a second question: does a packed ensemble trained as the
default trains its networks (each member its own 10% validation rows and
its own batch order; early stopping with patience 16 per member, each
member's best epoch kept; a member that has stopped leaves the module, or
with ``no_drop`` trains on until the last one stops)
score as the default does on abalone, and in what share of the hand loop's
fit CPU? A prototype written here with torch and ``tabm`` only (not the
package's module, but its input transform, bins, embeddings and
initialisation as the package's, drawn per member; it lacks the input
layer's missing-value indicators and skorch's loop); the default, the hand
loop and the prototype each fitted at ``--seeds`` seeds in one process. The
package's own packed training (the default, ``pack_models=True``) and the
networks fitted one after the other (``joint_sequential``) run beside them.

    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_packed.py --out benchmarks/results/packed.json
    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_packed.py --fit --out benchmarks/results/packed_fit.json
"""

import argparse
import copy
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from bench_abalone import TYPES, HandTorchReference, load_split
from sklearn.metrics import accuracy_score, mean_absolute_error
from tabm import LinearEnsemble, MLPBackboneEnsemble
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from sklearn_multihead import JointRegressorClassifier
from sklearn_multihead._joint.features import quantile_edges, robust_scaling
from sklearn_multihead._joint.module import PackedMLPs, bin_edges, transform_numbers

HERE = Path(__file__).resolve().parent
K, BATCH, BINS, D_EMB, WIDTH = 5, 128, 48, 8, 128


class Packed(nn.Module):
    """K networks of the default's shapes as one module with a member axis.

    The piecewise-linear encoding is written out here: ``rtdl_num_embeddings``
    encodes a batch into one flat row of every column's bins, and the member
    axis needs each column's bins padded to the same count."""

    def __init__(self, n_out, edges, k=K):
        super().__init__()
        n_features, n_bins = len(edges), max(len(e) - 1 for e in edges)
        left = torch.zeros(n_features, n_bins)
        width = torch.ones(n_features, n_bins)
        used = torch.zeros(n_features, n_bins, dtype=torch.bool)
        last = torch.zeros(n_features, n_bins, dtype=torch.bool)
        for j, e in enumerate(edges):
            e = torch.as_tensor(e, dtype=torch.float32)
            m = len(e) - 1
            left[j, :m], width[j, :m] = e[:-1], e[1:] - e[:-1]
            used[j, :m], last[j, m - 1] = True, True
        # each bin clamped to [0, 1], the first open below, the last above;
        # a padded bin's bounds are [0, 0]
        low = torch.zeros(n_features, n_bins)
        low[:, 0] = -torch.inf
        high = torch.where(used, 1.0, 0.0)
        high[last] = torch.inf
        buffers = dict(left=left, inverse=1 / width, low=low, high=high)
        for name, t in buffers.items():
            self.register_buffer(name, t)
        self.n_bins = n_bins
        # as the package's embeddings (rtdl's version "B"): a linear term of
        # the number, plus the encoding's map, which starts at zero
        bound = D_EMB**-0.5
        self.weight0 = nn.Parameter(
            torch.empty(k, n_features, D_EMB).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(
            torch.empty(k, n_features, D_EMB).uniform_(-bound, bound)
        )
        self.weight = nn.Parameter(torch.zeros(k, n_features, n_bins, D_EMB))
        self.trunk = MLPBackboneEnsemble(
            d_in=n_features * D_EMB,
            n_blocks=2,
            d_block=WIDTH,
            dropout=0.0,
            activation="ReLU",
            k=k,
        )
        self.head = LinearEnsemble(WIDTH, n_out, k=k)
        # as the package's trunk: He-normal hidden layers, a Glorot-uniform
        # output, zero biases (each member drawn on its own)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, LinearEnsemble):
                    fan_in, fan_out = m.weight.shape[-2:]
                    if m is self.head:
                        b = (6 / (fan_in + fan_out)) ** 0.5
                        m.weight.uniform_(-b, b)
                    else:
                        m.weight.normal_(0.0, (2 / fan_in) ** 0.5)
                    m.bias.zero_()

    def encode(self, x):  # (..., features) -> (..., features, bins)
        z = (x[..., None] - self.left) * self.inverse
        return torch.clamp(z, min=self.low, max=self.high)

    def forward(self, x):  # x: (batch, K, features), each member its own rows
        z = torch.einsum("bkfn,kfnd->bkfd", self.encode(x), self.weight)
        z = z + x[..., None] * self.weight0 + self.bias
        return self.head(self.trunk(z.flatten(2)))


def equal_width_edges(X):
    """48 equal-width bins per column (the timing's)."""
    return [torch.linspace(a, b, BINS + 1) for a, b in zip(X.min(0), X.max(0))]


def losses(out, rings, classes):
    return F.mse_loss(out[..., 0], rings) + F.cross_entropy(
        out[..., 1:].reshape(-1, out.shape[-1] - 1), classes.reshape(-1)
    )


def fit_packed(X, Y, seed, drop=True, patience=16, max_epochs=200, valid_share=0.1):
    """The prototype: K members trained together as the default trains its
    networks apart; returns a predict function (X -> rings, class labels)
    and the member-epochs trained. With ``drop``, a member that has stopped
    leaves the module (a smaller one takes the others' weights and Adam
    moments), so that it costs no more work; without, every member trains
    until the last one stops."""
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    X = np.asarray(X, dtype=np.float32)
    center, scale = (torch.tensor(v, dtype=torch.float32) for v in robust_scaling(X))

    def transform(X_new):  # the package's robust scaling and smooth clipping
        x_new = torch.from_numpy(np.asarray(X_new, dtype=np.float32))
        return transform_numbers(x_new, center, scale)

    x = transform(X)
    rings = Y["rings"].to_numpy(np.float32)
    mean, std = rings.mean(), rings.std()
    r = torch.from_numpy((rings - mean) / std)
    classes, codes = np.unique(Y["ring_class"].to_numpy(), return_inverse=True)
    c = torch.from_numpy(codes)
    n = len(x)
    n_valid = max(1, int(round(valid_share * n)))
    orders = [rng.permutation(n) for _ in range(K)]
    valid = torch.from_numpy(np.stack([o[:n_valid] for o in orders], 1))
    train = [o[n_valid:] for o in orders]
    edges = bin_edges(quantile_edges(X, BINS), center.numpy(), scale.numpy())
    module = Packed(1 + len(classes), edges).train()
    buffers = dict(module.named_buffers())
    optim = torch.optim.Adam(module.parameters(), lr=4e-3, weight_decay=1e-3)
    active = list(range(K))  # the members still training, by their number

    def member_losses(idx):  # idx: (rows, active members) -> their mean losses
        out = module(x[idx])
        mse = ((out[..., 0] - r[idx]) ** 2).mean(0)
        ce = F.cross_entropy(out[..., 1:].transpose(1, 2), c[idx], reduction="none")
        return mse + ce.mean(0)

    def shrink(keep):  # a module and optimiser of the members at ``keep``
        nonlocal module, optim
        smaller = Packed(1 + len(classes), edges, k=len(keep)).train()
        moved = torch.optim.Adam(smaller.parameters(), lr=4e-3, weight_decay=1e-3)
        old = dict(module.named_parameters())
        with torch.no_grad():
            for name, p in smaller.named_parameters():
                p.copy_(old[name][keep])
                state = optim.state.get(old[name])
                if state:  # each member's Adam moments move with it
                    moved.state[p] = {
                        k: v if v.dim() == 0 else v[keep].clone()
                        for k, v in state.items()
                    }
        module, optim = smaller, moved

    best = torch.full((K,), float("inf"))
    best_epoch = torch.zeros(K, dtype=torch.long)
    kept = {k: v.detach().clone() for k, v in module.state_dict().items()}
    member_epochs, epoch = 0, 0
    for epoch in range(1, max_epochs + 1):
        perms = np.stack([rng.permutation(train[j]) for j in active], 1)
        perms = torch.from_numpy(perms)
        for i in range(0, len(perms), BATCH):
            loss = member_losses(perms[i : i + BATCH]).sum()
            optim.zero_grad()
            loss.backward()
            optim.step()
        member_epochs += len(active)
        with torch.no_grad():
            module.eval()
            held_out = member_losses(valid[:, active])
            module.train()
        ids = torch.tensor(active)
        better = held_out < best[ids] - 1e-4
        best[ids[better]] = held_out[better]
        best_epoch[ids[better]] = epoch
        for name, value in module.state_dict().items():
            if name not in buffers:
                kept[name][ids[better]] = value.detach()[better]
        going = [i for i, j in enumerate(active) if epoch - best_epoch[j] < patience]
        if not going:
            break
        if drop and len(going) < len(active):
            shrink(going)
            active = [active[i] for i in going]
    module = Packed(1 + len(classes), edges).eval()
    module.load_state_dict(kept)

    def predict(X_new):
        z = transform(X_new)
        with torch.no_grad():
            out = module(z[:, None, :].expand(-1, K, -1))
        ring = out[..., 0].mean(1).numpy() * std + mean
        proba = torch.softmax(out[..., 1:], -1).mean(1).numpy()
        return ring, classes[proba.argmax(1)]

    return predict, member_epochs


#: the prototype's two ways with a member that has stopped: drop it or not
PROTOTYPES = {"packed_prototype": True, "packed_prototype_no_drop": False}


def run_fit(args):
    """The prototype against the default and the hand loop, at each seed."""
    Xtr, Xte, Ytr, Yte = load_split()
    records = []
    for seed in range(args.seeds):
        names = ("hand_torch_reference", "joint_default", "joint_sequential")
        for name in (*names, *PROTOTYPES):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.process_time()
                if name in PROTOTYPES:
                    predict, epochs = fit_packed(Xtr, Ytr, seed, PROTOTYPES[name])
                    cpu = time.process_time() - t0
                    ring, cls = predict(Xte)
                else:
                    if name in ("joint_default", "joint_sequential"):
                        model = JointRegressorClassifier(
                            target_types=TYPES,
                            random_state=seed,
                            n_threads=1,
                            pack_models=name == "joint_default",
                        )
                    else:
                        model = HandTorchReference(seed)
                    model.fit(Xtr, Ytr)
                    cpu = time.process_time() - t0
                    pred = model.predict(Xte)
                    ring, cls, epochs = pred["rings"], pred["ring_class"], None
            records.append(
                {
                    "model": name,
                    "seed": seed,
                    "fit_cpu_s": cpu,
                    "mae": float(mean_absolute_error(Yte["rings"], ring)),
                    "accuracy": float(accuracy_score(Yte["ring_class"], cls)),
                    "member_epochs": epochs,
                }
            )
            print(records[-1])
    frame = pd.DataFrame(records)
    hand = frame[frame.model == "hand_torch_reference"].set_index("seed").fit_cpu_s
    frame["fit_over_hand"] = frame.fit_cpu_s / frame.seed.map(hand)
    table = frame.groupby("model")[["mae", "accuracy", "fit_cpu_s", "fit_over_hand"]]
    print(table.agg(["median", "min", "max"]).round(3).T.to_string())
    own = frame[frame.model == "joint_default"].set_index("seed")
    alone = frame[frame.model == "joint_sequential"].set_index("seed")
    ratio = own.fit_cpu_s / alone.fit_cpu_s
    print(
        f"packed / one by one, fit CPU: median {ratio.median():.2f}, "
        f"{ratio.min():.2f}-{ratio.max():.2f}"
    )
    for column in ("mae", "accuracy"):
        change = own[column] - alone[column]
        print(
            f"packed - one by one, {column}: mean {change.mean():+.4f}, "
            f"sd {change.std():.4f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"records": records}, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "packed.json")
    parser.add_argument("--fit", action="store_true", help="the prototype's fits")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.fit:
        run_fit(args)
        return
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
    packed = Packed(n_out, equal_width_edges(x.numpy())).train()
    optim = torch.optim.Adam(packed.parameters(), lr=4e-3, weight_decay=1e-3)
    # the package's own: the same five networks, every layer taking the
    # member axis; and the same mapped over the members with vmap
    own = PackedMLPs.pack([copy.deepcopy(m) for m in separate]).train()
    own_optim = torch.optim.Adam(own.parameters(), lr=4e-3, weight_decay=1e-3)
    mapped = PackedMLPs.pack([copy.deepcopy(m) for m in separate]).train()
    mapped.native = False
    mapped_optim = torch.optim.Adam(mapped.parameters(), lr=4e-3, weight_decay=1e-3)

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

    def packed_steps(module, opt):
        def run(steps):
            for _ in range(steps):
                idx = rows()
                loss = losses(module(x[idx]), r[idx], c[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()

        return run

    # the input layers alone (forward and backward): the five networks'
    # piecewise-linear embeddings with the member axis, as PackedMLPs runs
    # them, under vmap, and the prototype's encoding and per-member map
    inputs = [m.inputs for m in separate]
    in_params, in_buffers = stack_module_state(inputs)
    in_params = {k: v.detach().requires_grad_() for k, v in in_params.items()}
    template = copy.deepcopy(inputs[0]).to("meta")

    def one_input(p, b, xb):
        return functional_call(template, (p, b), (xb,), tie_weights=False)

    mapped_inputs = vmap(one_input, in_dims=(0, 0, 1), out_dims=1)

    def native_inputs(xb):
        return functional_call(template, (in_params, in_buffers), (xb,))

    def embedding_steps(forward):
        def run(steps):
            for _ in range(steps):
                forward(x[rows()]).square().mean().backward()

        return run

    def prototype_embedding(xb):
        z = torch.einsum("bkfn,kfnd->bkfd", packed.encode(xb), packed.weight)
        return z + xb[..., None] * packed.weight0 + packed.bias

    sides = {
        "separate": run_separate,
        "packed": packed_steps(packed, optim),
        "package": packed_steps(own, own_optim),
        "package_vmap": packed_steps(mapped, mapped_optim),
        "embedding_native": embedding_steps(native_inputs),
        "embedding_vmap": embedding_steps(
            lambda xb: mapped_inputs(in_params, in_buffers, xb)
        ),
        "embedding_packed": embedding_steps(prototype_embedding),
    }
    for run in sides.values():
        run(20)  # warm-up
    times = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, run in sides.items():
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
        "package_over_packed": med["package"] / med["packed"],
        "package_vmap_over_package": med["package_vmap"] / med["package"],
        "embedding_native_share_of_package_step": med["embedding_native"]
        / med["package"],
        "embedding_vmap_over_native": med["embedding_vmap"] / med["embedding_native"],
        "embedding_packed_over_native": med["embedding_packed"]
        / med["embedding_native"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(
        f"5 networks, one step each: separate {med['separate']:.2f} ms, "
        f"packed by hand {med['packed']:.2f} ms CPU "
        f"({result['packed_over_separate']:.2f}x), the package's PackedMLPs "
        f"{med['package']:.2f} ms ({result['package_over_packed']:.2f}x the "
        f"hand-packed step), the same under vmap {med['package_vmap']:.2f} ms; "
        f"the input layers alone (forward, backward): the package's "
        f"{med['embedding_native']:.2f} ms "
        f"({result['embedding_native_share_of_package_step']:.2f} of its step), "
        f"under vmap {med['embedding_vmap']:.2f} ms, the prototype's "
        f"{med['embedding_packed']:.2f} ms; wrote {args.out}"
    )


if __name__ == "__main__":
    main()
