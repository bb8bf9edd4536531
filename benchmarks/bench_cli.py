"""How fast does the command answer, and how much memory does it take on a
wide real-world CSV with an ID column?

Questions:

1. ``sklearn-multihead --version`` and ``sklearn-multihead compare --help``:
   wall time of the whole process (Python start included), median of
   ``--repeats`` runs. They must answer in well under a second: the command
   imports torch, scikit-learn and pandas only when a subcommand runs.
2. ``sklearn-multihead compare`` with no arguments (the README's first
   command, on the package's synthetic data): wall and CPU time on the
   machine as it is, and with two busy background processes (bounded busy
   loops this script starts and stops), medians of ``--runs`` runs each.
   The bars: 15 s and 45 s. And each script in ``examples/`` run as the
   README says (``python examples/NAME.py``): wall time, bar 30 s.
3. ``compare`` on a 30,000-row CSV with an ID column (a distinct text value
   per row), a 2,000-level text column and a date column: peak memory (the
   child process's maximum resident set) and whether the audit line names
   the ID column it set aside. Before the audit, such a column was one-hot
   encoded into 30,000 dense columns (killed at 8 GB).

Each command runs in a fresh process through a small wrapper that reports
``getrusage(RUSAGE_CHILDREN)``: its CPU time and peak RSS are the command's
own. Writes ``benchmarks/results/cli.json``.

    python benchmarks/bench_cli.py --out benchmarks/results/cli.json
"""

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': r.returncode, 'wall_s': wall,\n"
    "    'cpu_s': u.ru_utime + u.ru_stime, 'peak_mb': u.ru_maxrss / 1024,\n"
    "    'stdout': r.stdout, 'stderr': r.stderr[-2000:]}))\n"
)
COMMAND = [sys.executable, "-m", "sklearn_multihead.cli"]
ROOT = Path(__file__).resolve().parents[1]


def busy(deadline):
    x = 0
    while time.time() < deadline:
        x += 1


def run(argv, cwd, command=COMMAND):
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command, *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    ).stdout
    result = json.loads(out)
    if result["rc"] != 0:
        raise RuntimeError(f"{argv} failed: {result['stderr']}")
    return result


def medians(runs, keys):
    """The median of each of ``keys`` over ``runs``, and every run's wall time."""
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["wall_s_runs"] = [r["wall_s"] for r in runs]
    return out


def wide_csv(path, n=30_000, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 6))
    city = rng.randint(0, 2000, size=n)
    day = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.randint(0, 900, n), "D")
    table = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    table["customer_id"] = [f"C{v:08d}" for v in rng.permutation(n) * 7 + 11]
    table["city"] = [f"city_{c}" for c in city]
    table["segment"] = rng.choice(["a", "b", "c", "d"], size=n)
    table["signup"] = day.strftime("%Y-%m-%d")
    signal = X[:, 0] + 0.5 * X[:, 1] + (city % 7) / 7 + (day.day_of_year / 365)
    table["spend"] = 100 + 10 * signal + rng.normal(size=n)
    table["churned"] = np.where(signal + rng.normal(size=n) > 1, "yes", "no")
    table.to_csv(path, index=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of each default compare (median)"
    )
    parser.add_argument("--out", default="benchmarks/results/cli.json")
    args = parser.parse_args()
    results = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv in [("version", ["--version"]), ("help", ["compare", "--help"])]:
            runs = [run(argv, tmp) for _ in range(args.repeats)]
            results[name] = {
                "wall_s_median": statistics.median(r["wall_s"] for r in runs),
                "cpu_s_median": statistics.median(r["cpu_s"] for r in runs),
            }
            print(f"{name}: {results[name]}", flush=True)
        runs = [run(["compare", "--no-progress"], tmp) for _ in range(args.runs)]
        results["compare_default"] = medians(runs, ("wall_s", "cpu_s", "peak_mb"))
        print(f"compare (default): {results['compare_default']}", flush=True)
        deadline = time.time() + 600 * args.runs
        procs = [mp.Process(target=busy, args=(deadline,)) for _ in range(2)]
        for p in procs:
            p.start()
        try:
            runs = [run(["compare", "--no-progress"], tmp) for _ in range(args.runs)]
        finally:
            for p in procs:
                p.terminate()
                p.join()
        results["compare_default_2_busy"] = medians(runs, ("wall_s", "cpu_s"))
        print(f"compare (2 busy): {results['compare_default_2_busy']}", flush=True)
        results["examples"] = {}
        for path in sorted((ROOT / "examples").glob("*.py")):
            r = run([], ROOT, command=[sys.executable, str(path.relative_to(ROOT))])
            results["examples"][path.name] = {k: r[k] for k in ("wall_s", "cpu_s")}
            print(f"{path.name}: {results['examples'][path.name]}", flush=True)
        csv = Path(tmp) / "wide.csv"
        wide_csv(csv)
        argv = ["compare", str(csv), "-t", "spend", "-t", "churned", "--cv", "2"]
        argv += ["--models", "joint", "forest", "--max-iter", "20"]
        argv += ["--n-estimators", "50", "--no-progress"]
        r = run(argv, tmp)
        audit = r["stdout"].splitlines()[0]
        results["wide_30000_rows"] = {
            "argv": argv[:1] + ["wide.csv"] + argv[2:],
            **{k: r[k] for k in ("wall_s", "cpu_s", "peak_mb")},
            "audit": audit,
            "names_the_id_column": "customer_id (ID-like" in audit,
        }
        print(f"wide CSV: {results['wide_30000_rows']}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
