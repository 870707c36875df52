"""polars' CSV -> Parquet of one Comtrade ``plus_api_csv`` file: issue 22's floor (``benchmarks/run.py``).

``pl.scan_csv`` with the explicit column types of ``benchmarks/bare_duckdb.py``'s ``read_csv`` (codes as text,
keeping their leading zeros; the value as text), then ``sink_parquet`` (zstd), streaming. CSV to Parquet only:
no table, no rules, no uniqueness, no marts: the least any pipeline must do with the file, so the floor of the
comparison, not a competitor that does the same work.

Runs in the bench-only environment ``.venv-bench`` (``make bench-env``: ``benchmarks/requirements-baselines.txt``),
never in the project's. Prints one JSON line: the seconds, the rows written (from the Parquet footer), the version.

Usage::

    .venv-bench/bin/python benchmarks/polars_parquet.py --csv FILE --workdir DIR
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import shutil
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
POLARS: dict[str, pl.DataType] = {"VARCHAR": pl.String(), "INTEGER": pl.Int32(), "DOUBLE": pl.Float64(),
                                  "BOOLEAN": pl.Boolean()}  # fmt: skip


def schema() -> dict[str, pl.DataType]:
    """The 47 columns and their types, as ``benchmarks/bare_duckdb.py`` reads them (its ``TYPES``)."""
    sys.path.insert(0, str(BENCH_DIR))
    try:
        from bare_duckdb import TYPES
    finally:
        sys.path.remove(str(BENCH_DIR))
    return {name: POLARS[kind] for name, kind in TYPES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True, help="where data.parquet goes")
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    out = args.workdir / "data.parquet"
    started = time.perf_counter()
    pl.scan_csv(args.csv, schema=schema(), has_header=True).sink_parquet(out, compression="zstd")
    seconds = time.perf_counter() - started
    meta = pq.ParquetFile(out).metadata
    print(
        json.dumps(
            {
                "steps": {"csv_to_parquet": round(seconds, 4)},
                "rows_written": meta.num_rows,
                "columns": meta.num_columns,
                "parquet_bytes": out.stat().st_size,
                "versions": {n: importlib.metadata.version(n) for n in ("polars", "pyarrow")},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
