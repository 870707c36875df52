"""dlt's plain load of one Comtrade ``plus_api_csv`` file into DuckDB: issue 22's baseline (``benchmarks/run.py``).

What a user who picks dlt instead of tradewh would run: a resource yielding pyarrow tables read from the CSV
(``pyarrow.csv.open_csv``, streaming, with the explicit column types of ``benchmarks/bare_duckdb.py``'s
``read_csv``), destination duckdb, loader file format parquet. dlt writes the batches as Parquet files (extract,
normalize), then the duckdb destination reads them into a table (load). It is a load only: no rules, no
quarantine, no uniqueness check, no marts (what bare DuckDB and tradewh do beyond it).

dlt's own ``read_csv_duckdb`` source is not used: on DuckDB 2.0.1 it fails ("Relations no longer have
fetchmany()", issue 22), and reading with pyarrow is what dlt's documentation shows for files anyway.

Runs in the bench-only environment ``.venv-bench`` (``make bench-env``: ``benchmarks/requirements-baselines.txt``),
never in the project's. Prints one JSON line: the seconds of each step, the rows loaded (counted in the
destination afterwards), the versions.

Usage::

    .venv-bench/bin/python benchmarks/dlt_pipeline.py --csv FILE --workdir DIR
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# no network, no files outside the work folder: set before dlt is imported
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
BLOCK_BYTES = 16 << 20  # pyarrow's CSV block: one record batch per block
ARROW: dict[str, pa.DataType] = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "DOUBLE": pa.float64(),
                                 "BOOLEAN": pa.bool_()}  # fmt: skip


def column_types() -> dict[str, pa.DataType]:
    """The 47 columns and their types, as ``benchmarks/bare_duckdb.py`` reads them (its ``TYPES``)."""
    sys.path.insert(0, str(BENCH_DIR))
    try:
        from bare_duckdb import TYPES
    finally:
        sys.path.remove(str(BENCH_DIR))
    return {name: ARROW[kind] for name, kind in TYPES.items()}


def read_batches(csv: Path, types: dict[str, pa.DataType]) -> Iterator[pa.Table]:
    """The CSV as pyarrow tables, one per block read (streaming: one block in memory at a time).

    An empty field is null in every column, and only an empty field, as in DuckDB's ``read_csv`` (pyarrow's
    default null markers would also null the publisher's ``N/A`` unit abbreviation)."""
    reader = pacsv.open_csv(
        csv,
        read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            include_columns=list(types),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    for batch in reader:
        yield pa.Table.from_batches([batch])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True, help="dlt's pipelines folder and dlt.duckdb go here")
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    started = time.perf_counter()
    import dlt

    imported = time.perf_counter()
    types = column_types()

    @dlt.resource(name="comtrade", write_disposition="replace")
    def comtrade() -> Iterator[pa.Table]:
        yield from read_batches(args.csv, types)

    db = args.workdir / "dlt.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="bench_comtrade",
        pipelines_dir=str(args.workdir / "pipelines"),
        destination=dlt.destinations.duckdb(str(db)),
        dataset_name="bench",
    )
    steps: dict[str, float] = {"import_dlt": round(imported - started, 4)}
    t = time.perf_counter()
    pipeline.extract(comtrade(), loader_file_format="parquet")
    steps["extract"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    pipeline.normalize()
    steps["normalize"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    info = pipeline.load()
    steps["load"] = round(time.perf_counter() - t, 4)
    steps["total"] = round(time.perf_counter() - started, 4)
    with pipeline.sql_client() as client:
        rows = client.execute_sql("select count(*) from comtrade")[0][0]
        columns = client.execute_sql(
            "select count(*) from information_schema.columns where table_schema = 'bench' and table_name = 'comtrade'"
        )[0][0]
    print(
        json.dumps(
            {
                "steps": steps,
                "rows_loaded": rows,
                "columns": columns,  # the 47 of the file; dlt adds no column of its own to an arrow table
                "failed_jobs": bool(info.has_failed_jobs),
                "db": str(db),
                "versions": {n: importlib.metadata.version(n) for n in ("dlt", "duckdb", "pyarrow")},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
