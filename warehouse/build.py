"""Load the lake into a new DuckDB file, create the views, check them, and publish the file atomically."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa_arrow

from warehouse.catalogue import Source
from warehouse.failpoints import failpoint
from warehouse.ingest import lake_files, model_for
from warehouse.reference import load_countries, load_country_aliases

SCHEMAS = ("raw", "staging", "core", "marts", "audit")
LAYERS = ("staging", "core", "marts")
_REFERENCE = re.compile(r"\b(raw|staging|core|marts|audit)\.([a-z_][a-z0-9_]*)\b")


class BuildError(RuntimeError):
    """The warehouse could not be built; nothing was published."""


def _code(path: Path) -> str:
    """The SQL of a file without comments and string literals (so only real references count)."""
    text = re.sub(r"--[^\n]*", "", path.read_text())
    return re.sub(r"'(?:[^']|'')*'", "''", text)


def sql_files(sql_dir: Path) -> list[Path]:
    """The view files in dependency order (a view after every view it reads)."""
    files = {f"{f.parent.name}.{f.stem}": f for layer in LAYERS for f in sorted((sql_dir / layer).glob("*.sql"))}
    deps = {
        name: {f"{s}.{v}" for s, v in _REFERENCE.findall(_code(path))} & set(files) - {name}
        for name, path in files.items()
    }
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise BuildError(f"views depend on each other in a cycle through {name}")
        visiting.add(name)
        for dep in sorted(deps[name]):
            visit(dep)
        visiting.discard(name)
        ordered.append(name)

    for name in sorted(files, key=lambda n: (LAYERS.index(n.split(".")[0]), n)):
        visit(name)
    return [files[n] for n in ordered]


def _empty_table(dataset: str) -> pa_arrow.Table:
    """A zero-row table with the dataset's columns, so its staging view binds before any load succeeded."""
    schema = model_for(dataset).to_schema()
    columns = {name: pd.Series(dtype=str(col.dtype)) for name, col in schema.columns.items()}
    for extra in ("source_id", "vintage", "file_name", "file_sha256"):
        columns.setdefault(extra, pd.Series(dtype="str"))
    frame = pd.DataFrame(columns)
    return pa_arrow.Table.from_pandas(frame, preserve_index=False)


def _load_raw(con: duckdb.DuckDBPyConnection, lake_dir: Path, datasets: list[str]) -> dict[str, int]:
    counts = {}
    for dataset in datasets:
        files = [str(f) for f in lake_files(lake_dir, dataset)]
        if files:
            con.execute(f"create table raw.{dataset} as select * from read_parquet(?, union_by_name = true)", [files])
        else:
            empty = _empty_table(dataset)  # noqa: F841 (read by DuckDB's replacement scan)
            con.execute(f"create table raw.{dataset} as select * from empty")
        counts[dataset] = con.execute(f"select count(*) from raw.{dataset}").fetchall()[0][0]
    return counts


def _load_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("frame_to_load", frame)
    con.execute(f"create table {table} as select * from frame_to_load")
    con.unregister("frame_to_load")


def _load_reference(con: duckdb.DuckDBPyConnection, seeds_dir: Path, catalogue: list[Source]) -> None:
    """Every reference list in ``seeds/reference/`` as ``raw.ref_<name>`` (text columns), the catalogue as
    ``raw.ref_sources``; countries and their aliases with their types."""
    reference = seeds_dir / "reference"
    typed = {"countries": load_countries(reference), "country_aliases": load_country_aliases(reference)}
    for path in sorted(reference.glob("*.csv")):
        frame = typed.get(path.stem)
        if frame is None:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        _load_frame(con, f"raw.ref_{path.stem}", frame)
    sources = pd.DataFrame([{k: v for k, v in asdict(s).items() if k != "measures"} for s in catalogue])
    _load_frame(con, "raw.ref_sources", sources)


def _load_audit(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    for table in ("load_runs", "source_runs", "source_files", "rejected_rows"):
        files = sorted(str(f) for f in (lake_dir / "_audit" / table).glob("*.parquet"))
        if files:
            con.execute(
                f"create table audit.{table} as select * from read_parquet(?, union_by_name = true) order by all",
                [files],
            )


def build_warehouse(
    target: Path,
    *,
    lake_dir: Path,
    seeds_dir: Path,
    sql_dir: Path,
    catalogue: list[Source],
    storage_version: str,
    check: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> dict[str, int]:
    """Build a complete warehouse file at ``target`` (which must not exist yet).

    Args:
        target: the new DuckDB file.
        lake_dir: the Parquet lake (raw tables and audit come from there).
        seeds_dir: the shipped reference lists.
        sql_dir: the view files (``staging/``, ``core/``, ``marts/``).
        catalogue: the catalogue entries (``core.dim_source``).
        storage_version: DuckDB storage version written, so older clients can open the file.
        check: called with the open connection after the views exist; raises to refuse the build.

    Returns:
        Row counts of the raw tables.
    """
    con = duckdb.connect()
    try:
        con.execute(f"attach '{_quote(target)}' as wh (storage_version '{_quote(storage_version)}')")
        con.execute("use wh")
        con.execute("begin transaction")
        for schema in SCHEMAS:
            con.execute(f"create schema {schema}")
        staged = {p.stem.removeprefix("stg_") for p in (sql_dir / "staging").glob("stg_*.sql")}
        datasets = sorted({s.dataset for s in catalogue} | staged)  # every staging view needs its raw table
        counts = _load_raw(con, lake_dir, datasets)
        failpoint("load")  # raw tables loaded into the new file, views not yet built
        _load_reference(con, seeds_dir, catalogue)
        _load_audit(con, lake_dir)
        for path in sql_files(sql_dir):
            try:
                con.execute(path.read_text())
            except duckdb.Error as exc:
                raise BuildError(f"{path.relative_to(sql_dir.parent)}: {exc}") from exc
        if check is not None:
            check(con)
        con.execute("commit")
        con.execute("checkpoint wh")
        con.execute("use memory")
        con.execute("detach wh")
    finally:
        con.close()
    return counts


def _quote(text: object) -> str:
    return str(text).replace("'", "''")


def publish(built: Path, final: Path) -> Path | None:
    """Swap a built file into place atomically, keeping the one it replaces as ``<name>.previous``.

    Readers that hold the old file open keep reading it; new readers see the new one.

    Returns:
        The path of the previous file, or None on the first publish.
    """
    with open(built, "rb") as fh:
        os.fsync(fh.fileno())
    previous = final.with_name(final.name + ".previous")
    had_previous = final.exists()
    if had_previous:
        if previous.exists():
            previous.unlink()
        os.link(final, previous)
    failpoint("publish")  # previous kept, new file not yet swapped in
    os.replace(built, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return previous if had_previous else None


def check_trade_figures(con: duckdb.DuckDBPyConnection) -> None:
    """Validate the conformed fact with its pandera model; a failure refuses the build (a mapping bug)."""
    from pandera.errors import SchemaErrors

    from schemas.trade_figure import TradeFigure

    frame = con.execute("select * from core.fct_trade_figure").df()
    try:
        TradeFigure.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases.head(20).to_string()
        raise BuildError(f"core.fct_trade_figure breaks the conformed trade figure's rules:\n{cases}") from exc


def rollback(final: Path) -> None:
    """Put the previously published file back in place (atomically); the rolled-back one is discarded.

    Raises:
        FileNotFoundError: when there is no previous publish to return to.
    """
    previous = final.with_name(final.name + ".previous")
    if not previous.exists():
        raise FileNotFoundError(f"no previous publish to roll back to ({previous} does not exist)")
    os.replace(previous, final)
