"""The ``sklearn-multihead`` command: ``fit``, ``predict``, ``compare``.

- ``main``: the parser and the subcommands (the console script's entry).
- ``tables``: reading a table (CSV / Parquet / Excel), auditing its columns
  (IDs, constants, dates) and splitting features from targets.
- ``compare``: the models side by side under cross-validation, in worker
  processes when cores allow.
- ``report_files``: what ``compare --out`` writes (report, plots, JSON).
- ``model_folder``: the one-file model folder of ``fit`` / ``predict``.
- ``outputs``: the CSV files the command writes.
- ``progress``: the bars on stderr.

The command uses the package's public API only.
"""

from sklearn_multihead.cli.main import main

__all__ = ["main"]
