"""Build a complete warehouse file from the lake: raw tables, reference lists, the audit, every view in dependency
order, the checks; on any failure the new file is removed (``build_warehouse``)."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from warehouse.build.models import BuildError, create_object, read_header, sql_files
from warehouse.build.raw_tables import create_raw_table
from warehouse.build.sqltext import text_literal
from warehouse.build.statements import SCHEMAS
from warehouse.common.failpoints import failpoint
from warehouse.common.reference import load_countries, load_country_aliases
from warehouse.common.runlog import bar
from warehouse.common.settings import Settings
from warehouse.extract.catalogue import Source
from warehouse.lake.manifest import verified_lake_files

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa_arrow

log = logging.getLogger(__name__)

# DuckDB settings of the build's connection only (BI tools and analysts query with their own). DuckDB's
# common-subplan optimizer stores a scan read by several branches once and re-reads it: for the balance mart
# (the filtered fact read to find the repeated series, the paired ones and the one-row ones) that made the
# stored query 14.8 s instead of 9.1 s at 10M rows; the other stored queries were unchanged by it.
BUILD_CONFIG: dict[str, str] = {"disabled_optimizers": "common_subplan"}


def _empty_table(dataset: str) -> pa_arrow.Table:
    """A zero-row table with the dataset's columns, so its staging view binds before any load succeeded."""
    import pandas as pd
    import pyarrow as pa_arrow

    from warehouse.stage.batches import model_for

    schema = model_for(dataset).to_schema()
    columns = {name: pd.Series(dtype=str(col.dtype)) for name, col in schema.columns.items()}
    for extra in ("source_id", "vintage", "file_name", "file_sha256"):
        columns.setdefault(extra, pd.Series(dtype="str"))
    frame = pd.DataFrame(columns)
    return pa_arrow.Table.from_pandas(frame, preserve_index=False)


def _load_raw(con: duckdb.DuckDBPyConnection, lake_dir: Path, datasets: list[str]) -> dict[str, int]:
    counts = {}
    for dataset in datasets:
        files = [str(f) for f in verified_lake_files(lake_dir, dataset)]  # each checked against its SHA-256
        if files:
            create_raw_table(con, f"raw.{dataset}", files)  # its one-valued columns stored once
        else:
            empty = _empty_table(dataset)  # noqa: F841 (read by DuckDB's replacement scan)
            con.execute(f"create table raw.{dataset} as select * from empty")
        counts[dataset] = con.execute(f"select count(*) from raw.{dataset}").fetchall()[0][0]
        log.info("build: raw.%s loaded, %s rows from %d lake file(s)", dataset, f"{counts[dataset]:,}", len(files))
    return counts


def _load_frame(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, types: dict[str, str] | None = None
) -> None:
    """A frame as a table, with ``types`` (column -> DuckDB type) cast explicitly. A column DuckDB would type
    ``NULL`` (nothing but empty lists or nulls to infer from) becomes text of the same shape (``"NULL"[]`` ->
    ``VARCHAR[]``): BI tools cannot map a NULL-typed column."""
    con.register("frame_to_load", frame)
    try:
        inferred = con.execute("select column_name, column_type from (describe select * from frame_to_load)").fetchall()
        casts = {name: kind.replace('"NULL"', "VARCHAR") for name, kind in inferred if '"NULL"' in kind}
        casts.update(types or {})
        replace = ", ".join(f'cast("{name}" as {kind}) as "{name}"' for name, kind in casts.items())
        con.execute(f"create table {table} as select * {f'replace ({replace})' if replace else ''} from frame_to_load")
    finally:
        con.unregister("frame_to_load")


# catalogue fields whose type DuckDB cannot infer when every source leaves them empty: (header, name) pairs
SOURCE_TYPES = {"headers_from_env": "varchar[][]", "secret_blocks": "varchar[][]"}


def _load_reference(con: duckdb.DuckDBPyConnection, seeds_dir: Path, catalogue: list[Source]) -> None:
    """Every reference list in ``seeds/reference/`` as ``raw.ref_<name>`` (text columns), the catalogue as
    ``raw.ref_sources``; countries and their aliases with their types."""
    import pandas as pd

    reference = seeds_dir / "reference"
    from schemas.wdi import load_indicators

    typed = {  # the aliases and WDI indicators: the shipped lists, extended by the catalogue's declarations
        "countries": load_countries(reference),
        "country_aliases": load_country_aliases(reference, catalogue),
        "wdi_indicators": load_indicators(reference, catalogue),
    }
    for path in sorted(reference.glob("*.csv")):
        frame = typed.get(path.stem)
        if frame is None:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        _load_frame(con, f"raw.ref_{path.stem}", frame)
    declared = ("measures", "indicators", "country_aliases")  # in reference tables of their own, not columns here
    sources = pd.DataFrame([{k: v for k, v in asdict(s).items() if k not in declared} for s in catalogue])
    _load_frame(con, "raw.ref_sources", sources, SOURCE_TYPES)


def _load_audit(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    """Every audit table (``warehouse.lake.audit.TABLES``) created with its columns, then filled with every record in
    ``lake/_audit/<table>/``: a table nothing was recorded in yet exists, empty."""
    from warehouse.lake.audit import TABLES, table_ddl

    for table in TABLES:
        con.execute(table_ddl(table))
        files = sorted(str(f) for f in (lake_dir / "_audit" / table).glob("*.parquet"))
        if files:
            con.execute(
                f"insert into audit.{table} by name select * from read_parquet(?, union_by_name = true) order by all",
                [files],
            )


def _create_within_memory(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """``create_object``; when DuckDB runs out of memory under the build's limit, once more on one thread.

    Each thread of a join, aggregate or window holds some memory DuckDB cannot spill: at 100M rows two threads
    need more than the 512MB limit for ``core.fct_trade_figure`` ("could not allocate block ... 488.2 MiB/488.2 MiB
    used"), one thread does not (measured: the whole 100M build on one thread, peak RSS 967 MiB). Smaller builds
    keep both threads. The statement that failed changed nothing (DuckDB statements are atomic), so it runs again.
    """
    try:
        create_object(con, path, autocommit=True)
    except duckdb.OutOfMemoryException as exc:
        threads = con.execute("select current_setting('threads')").fetchone()[0]
        if int(threads) <= 1:
            raise
        log.warning("%s: out of memory on %s threads (%s); building it again on one thread", path.stem, threads, exc)
        con.execute("set threads = 1")
        try:
            create_object(con, path, autocommit=True)
        finally:
            con.execute(f"set threads = {int(threads)}")


def build_warehouse(
    target: Path,
    *,
    lake_dir: Path,
    seeds_dir: Path,
    sql_dir: Path,
    catalogue: list[Source],
    storage_version: str,
    check: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    finish: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    memory_limit: str | None = None,
    temp_dir: Path | None = None,
) -> dict[str, int]:
    """Build a complete warehouse file at ``target`` (which must not exist yet); on any failure, remove it.

    Args:
        target: the new DuckDB file.
        lake_dir: the Parquet lake (raw tables and audit come from there).
        seeds_dir: the shipped reference lists.
        sql_dir: the view files (``staging/``, ``core/``, ``marts/``).
        catalogue: the catalogue entries (``core.dim_source``).
        storage_version: DuckDB storage version written, so older clients can open the file.
        check: called with the open connection after the views exist; raises to refuse the build.
        finish: called with the open connection once the check passed, before the file is checkpointed (to
            record what the build was made from).
        memory_limit: DuckDB's memory limit for the build (``Settings.duckdb_memory_limit``'s default when None); beyond
            it, sorts, joins, aggregates and windows spill to ``temp_dir``.
        temp_dir: where DuckDB spills (a ``tmp`` folder beside ``target`` when None), created if missing. An in-memory
            DuckDB has no spill folder of its own: without one, work larger than the limit fails.

    Returns:
        Row counts of the raw tables.
    """
    # the defaults, not the environment read again: the flow passes the settings it read once
    memory_limit = memory_limit or Settings.duckdb_memory_limit
    temp_dir = temp_dir or target.parent / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(temp_dir),
            "preserve_insertion_order": False,  # nothing the build writes relies on row order; ORDER BY still holds
            **BUILD_CONFIG,
        }
    )
    try:
        con.execute("set enable_progress_bar = false")  # a long statement would print bars into the flow's log
        con.execute(f"attach {text_literal(target)} as wh (storage_version {text_literal(storage_version)})")
        con.execute("use wh")
        # no enclosing transaction: each statement commits on its own (measured at 10M rows: reading tables
        # written in a still open transaction made the build 59.9 s instead of 50.6 s). The file is new and
        # unpublished, so a failure mid-way only leaves a file that is deleted below.
        for schema in SCHEMAS:
            con.execute(f"create schema {schema}")
        staged = {p.stem.removeprefix("stg_") for p in (sql_dir / "staging").glob("stg_*.sql")}
        datasets = sorted({s.dataset for s in catalogue} | staged)  # every staging view needs its raw table
        counts = _load_raw(con, lake_dir, datasets)
        failpoint("load")  # raw tables loaded into the new file, views not yet built
        _load_reference(con, seeds_dir, catalogue)
        _load_audit(con, lake_dir)
        files = sql_files(sql_dir)
        for number, path in enumerate(files, start=1):
            began = time.monotonic()
            try:
                _create_within_memory(con, path)
            except duckdb.Error as exc:
                raise BuildError(f"{path.relative_to(sql_dir.parent)}: {exc}") from exc
            log.info(
                "build %s %d/%d %s.%s (%s, %.1f s)",
                bar(number, len(files)),
                number,
                len(files),
                path.parent.name,
                path.stem,
                read_header(path).materialized,
                time.monotonic() - began,
            )
        if check is not None:
            check(con)
        if finish is not None:
            finish(con)
        con.execute("checkpoint wh")
        con.execute("use memory")
        con.execute("detach wh")
    except BaseException:
        con.close()
        for path in (target, target.with_name(target.name + ".wal")):
            path.unlink(missing_ok=True)  # half a warehouse is no warehouse
        raise
    finally:
        con.close()
    return counts


# The check of the conformed fact runs under this share of the build's memory limit. Its duplicate-key rule groups
# every row by its hash, DuckDB's largest grouping of the build, and a grouping holds memory beyond the limit:
# at 100M rows, the check alone took a process from 131 to 726 MiB at 512MB, 588 MiB at 384MB and 482 MiB at
# 256MB (17.9, 18.2 and 21.2 s); in the load, beside the ~400 MiB Python holds then, it was the peak (1,016 MiB,
# sampled every 0.2 s; the raw table's and the balance mart's stages 940 and 956 MiB).
CHECK_MEMORY_SHARE = 0.75
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B|bytes)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "bytes": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_UNITS.update({"kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4})


def size_bytes(text: str) -> int | None:
    """A DuckDB size (``512MB``, ``488.2 MiB``) in bytes; None for anything else."""
    found = _SIZE.match(text)
    if found is None:
        return None
    return int(float(found.group(1)) * _UNITS[(found.group(2) or "").lower()])


@contextlib.contextmanager
def memory_share(con: duckdb.DuckDBPyConnection, share: float) -> Iterator[None]:
    """Run the block under ``share`` of the connection's memory limit, then set the limit back (as DuckDB states
    it: to a tenth of its unit). A connection whose configuration is locked (``warehouse.common.readonly``: a
    rollback checks its candidate so) keeps its limit."""
    limit = str(con.execute("select current_setting('memory_limit')").fetchone()[0])
    size = size_bytes(limit)  # None: no limit DuckDB states as a size, left as it is
    lowered = False
    if size is not None:
        with contextlib.suppress(duckdb.InvalidInputException):  # the configuration is locked
            con.execute(f"set memory_limit = '{int(size * share)}B'")
            lowered = True
    try:
        yield
    finally:
        if lowered:
            con.execute("set memory_limit = ?", [limit])


def check_trade_figures(con: duckdb.DuckDBPyConnection) -> None:
    """Check the conformed fact against its pandera model, as SQL inside DuckDB; a broken rule refuses the build
    (it is a mapping bug: the sources' rows were validated before)."""
    from schemas.trade_figure import TradeFigure
    from warehouse.build.checks import UntranslatableRule, check_relation, describe_failures

    try:
        with memory_share(con, CHECK_MEMORY_SHARE):
            failures = check_relation(con, "core.fct_trade_figure", TradeFigure)
    except UntranslatableRule as exc:
        raise BuildError(f"schemas/trade_figure.py: {exc}") from exc
    if failures:
        raise BuildError(
            "core.fct_trade_figure breaks the conformed trade figure's rules (schemas/trade_figure.py):\n"
            + describe_failures(failures)
        )
