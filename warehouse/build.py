"""Load the lake into a new DuckDB file, create the views, check them, and publish the file atomically.

A view file may ask to be stored (dbt's idea): a line ``-- materialized: table`` in its header comment makes the
build run its query once into the table ``store.<schema>__<name>`` and create the public view as ``select * from
store.<schema>__<name>``, keeping the file's comments on it. Analysts and BI tools see the same views as before; queries
read stored rows instead of recomputing the layers below. A line ``-- order by: <columns>`` stores the rows in
that order: runs of equal values compress into runs, and queries grouping by them read less.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from warehouse.catalogue import Source
from warehouse.failpoints import failpoint
from warehouse.lake import verified_lake_files
from warehouse.reference import load_countries, load_country_aliases
from warehouse.runlog import bar
from warehouse.settings import load_settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa_arrow

# pandas, pandera and pyarrow are imported by the functions that build (not at the top): a run that only
# publishes again (warehouse.freshness, which uses ``publish``) does not import them

STORE = "store"  # the tables behind materialized views
SCHEMAS = ("raw", "staging", "core", "marts", "audit", STORE)
LAYERS = ("staging", "core", "marts", "audit")
MATERIALIZATIONS = ("view", "table")
_REFERENCE = re.compile(r"\b(raw|staging|core|marts|audit)\.([a-z_][a-z0-9_]*)\b")
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(\S*)\s*$")
_ORDER_BY = re.compile(r"^--\s*order by:\s*(.*?)\s*$")
_STORED = re.compile(r"^--\s*stored:\s*(.*?)\s*$")
_FINAL_SELECT = re.compile(r"\bselect \* from final\s*;?\s*$")
# what a view file's code is not: comments, strings and quoted names (an unclosed one runs to the end)
_LITERAL = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*(?:'|\Z)|\"(?:[^\"]|\"\")*(?:\"|\Z)", re.S)
_CTE = re.compile(r"^([a-z_][a-z0-9_]*) as (?:not materialized )?\(", re.M)
_PARENS = re.compile(r"[()]")
# DuckDB settings of the build's connection only (BI tools and analysts query with their own). DuckDB's
# common-subplan optimizer stores a scan read by several branches once and re-reads it: for the balance mart
# (the filtered fact read to find the repeated series, the paired ones and the one-row ones) that made the
# stored query 14.8 s instead of 9.1 s at 10M rows; the other stored queries were unchanged by it.
BUILD_CONFIG: dict[str, str] = {"disabled_optimizers": "common_subplan"}
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
_CREATE_VIEW = re.compile(r"^create (?:or replace )?view ([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*) as\b", re.M)


class BuildError(RuntimeError):
    """The warehouse could not be built; nothing was published."""


def _code(path: Path) -> str:
    """The SQL of a file without comments and string literals (so only real references count)."""
    return _blank_literals(path.read_text())


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


def _header(path: Path) -> list[str]:
    """The leading ``--`` comment lines of a view file."""
    lines = path.read_text().splitlines()
    return lines[: next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))]


def materialization(path: Path) -> str:
    """How a view file is built: ``view`` (the default) or ``table`` (``-- materialized: table`` in its header)."""
    for line in _header(path):
        found = _MATERIALIZED.match(line)
        if found:
            if found.group(1) not in MATERIALIZATIONS:
                raise BuildError(
                    f"{path}: materialized must be one of {', '.join(MATERIALIZATIONS)}, not {found.group(1)!r}"
                )
            return found.group(1)
    return "view"


def stored_order(path: Path) -> list[str]:
    """The columns a stored table's rows are sorted by (``-- order by: a, b`` in the header); empty if none."""
    for line in _header(path):
        found = _ORDER_BY.match(line)
        if found:
            columns = [c.strip() for c in found.group(1).split(",")]
            if not all(_COLUMN.match(c) for c in columns) or materialization(path) != "table":
                raise BuildError(f"{path}: `-- order by: a, b` takes column names, with `-- materialized: table`")
            return columns
    return []


def stored_cte(path: Path) -> str | None:
    """The CTE whose rows a stored table keeps (``-- stored: <cte>`` in the header); None: the whole query's."""
    for line in _header(path):
        found = _STORED.match(line)
        if found:
            if not _COLUMN.match(found.group(1)) or materialization(path) != "table":
                raise BuildError(f"{path}: `-- stored: <cte>` names a CTE of the query, with `-- materialized: table`")
            return found.group(1)
    return None


def _blank_literals(sql: str) -> str:
    """The SQL with its comments, strings and quoted names turned into spaces, every other character where it
    was: what is left is code, to search for references and parentheses at the same positions as in ``sql``."""
    return _LITERAL.sub(lambda found: " " * len(found.group()), sql)


def _cte_spans(sql: str) -> dict[str, tuple[int, int, int]]:
    """Each CTE of a query, written at the start of a line as ``<cte> as (`` or ``<cte> as not materialized (``:
    where its line starts, where its body's ``(`` is, and the position after its ``)``."""
    code = _blank_literals(sql)
    spans = {}
    for found in _CTE.finditer(code):
        depth = 0
        for paren in _PARENS.finditer(code, found.end() - 1):
            depth += 1 if paren.group() == "(" else -1
            if depth == 0:
                spans[found.group(1)] = (found.start(), found.end() - 1, paren.end())
                break
    return spans


def cte_body(sql: str, cte: str) -> tuple[int, int] | None:
    """Where the body of ``cte`` lies in a query (``_cte_spans``): from its opening parenthesis to the position
    after its closing one; None when there is no such CTE."""
    span = _cte_spans(sql).get(cte)
    return None if span is None else (span[1], span[2])


def prune_ctes(sql: str) -> str:
    """The query without the CTEs nothing reads any more (those a stored CTE's rows were made from), so the view
    a BI tool shows is the query it runs: those the final select reads, and those they read."""
    spans, code = _cte_spans(sql), _blank_literals(sql)
    if not spans:
        return sql

    def read_by(text: str) -> set[str]:
        return {name for name in spans if re.search(rf"\b{name}\b", text)}

    reads = {name: read_by(code[body:end]) - {name} for name, (_, body, end) in spans.items()}
    todo = list(read_by(code[max(end for *_, end in spans.values()) :]))
    wanted: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(reads[name])
    for name, (start, _, end) in sorted(spans.items(), key=lambda item: -item[1][0]):
        if name not in wanted:
            comma = re.match(r"\s*,\s*", sql[end:])  # the separator before the next CTE goes with it
            sql = sql[:start] + sql[end + (comma.end() if comma else 0) :]
    return sql


def stored_table(path: Path) -> str:
    """The table behind a ``-- materialized: table`` view file: ``store.<schema>__<view>`` (``sql/marts/x.sql`` ->
    ``store.marts__x``), a name no public view has: a BI tool that keys datasets by table name (Superset) sees no
    second ``trade_balance``."""
    return f"{STORE}.{path.parent.name}__{path.stem}"


def create_object(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Run a view file; for ``-- materialized: table``, store its query's rows once and put the view over them.

    With ``-- stored: <cte>`` as well, only that CTE's rows are stored (the query ending in ``select * from
    <cte>``), and the public view is the file's own query reading them: the CTEs after it (names joined from a
    dimension, figures computed from stored ones) run when the view is read. A column costs more to write than
    to compute again (measured at 10M rows: a text column of one value, 0.3 s to store).

    The file's other statements (its comments) run unchanged, so the public view keeps its descriptions.
    """
    text = path.read_text()
    order, cte = stored_order(path), stored_cte(path)
    if materialization(path) == "view":
        con.execute(text)
        return
    name = f"{path.parent.name}.{path.stem}"
    stored = stored_table(path)
    statements = duckdb.extract_statements(text)
    create = _CREATE_VIEW.search(statements[0].query) if statements else None
    if create is None or create.group(1) != name:
        raise BuildError(f"{path}: a materialized file must start with `create or replace view {name} as`")
    query = statements[0].query.rstrip().rstrip(";")
    view = f"create or replace view {name} as select * from {stored}"
    if cte is not None:
        body = cte_body(query, cte)
        if body is None or not _FINAL_SELECT.search(query):
            raise BuildError(
                f"{path}: `-- stored: {cte}` needs a CTE `{cte} as (...)` and a query ending in `select * from final`"
            )
        view = prune_ctes(query[: body[0]] + f"(\n    select * from {stored}\n)" + query[body[1] :])
        query = _FINAL_SELECT.sub(f"select * from {cte}", query)
    query = _CREATE_VIEW.sub(f"create or replace table {stored} as", query, count=1)
    con.execute(query + (f"\norder by {', '.join(order)}" if order else ""))
    con.execute(view)
    con.execute(f"comment on table {stored} is 'Stored rows of {name} (-- materialized: table): query {name}'")
    for statement in statements[1:]:
        con.execute(statement.query)


def refresh_stored(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> list[str]:
    """Recompute every stored table (``-- materialized: table``) from what is below it now, in dependency order.

    For a warehouse whose raw rows were changed in place (a hand repair, a test): the views read live, the
    stored tables would otherwise keep the rows they were built with.

    Returns:
        The views whose rows were stored again.
    """
    refreshed = []
    for path in sql_files(sql_dir):
        if materialization(path) == "table":
            create_object(con, path)
            refreshed.append(f"{path.parent.name}.{path.stem}")
    return refreshed


def _empty_table(dataset: str) -> pa_arrow.Table:
    """A zero-row table with the dataset's columns, so its staging view binds before any load succeeded."""
    import pandas as pd
    import pyarrow as pa_arrow

    from warehouse.ingest import model_for

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
            con.execute(f"create table raw.{dataset} as select * from read_parquet(?, union_by_name = true)", [files])
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
    typed = {"countries": load_countries(reference), "country_aliases": load_country_aliases(reference)}
    for path in sorted(reference.glob("*.csv")):
        frame = typed.get(path.stem)
        if frame is None:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        _load_frame(con, f"raw.ref_{path.stem}", frame)
    sources = pd.DataFrame([{k: v for k, v in asdict(s).items() if k != "measures"} for s in catalogue])
    _load_frame(con, "raw.ref_sources", sources, SOURCE_TYPES)


def _load_audit(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    """Every audit table (``warehouse.audit.TABLES``) created with its columns, then filled with every record in
    ``lake/_audit/<table>/``: a table nothing was recorded in yet exists, empty."""
    from warehouse.audit import TABLES, table_ddl

    for table in TABLES:
        con.execute(table_ddl(table))
        files = sorted(str(f) for f in (lake_dir / "_audit" / table).glob("*.parquet"))
        if files:
            con.execute(
                f"insert into audit.{table} by name select * from read_parquet(?, union_by_name = true) order by all",
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
        memory_limit: DuckDB's memory limit for the build (``TRADEWH_DUCKDB_MEMORY_LIMIT`` when None); beyond
            it, sorts, joins, aggregates and windows spill to ``temp_dir``.
        temp_dir: where DuckDB spills (``<TRADEWH_HOME>/tmp`` when None), created if missing. An in-memory
            DuckDB has no spill folder of its own: without one, work larger than the limit fails.

    Returns:
        Row counts of the raw tables.
    """
    if memory_limit is None or temp_dir is None:
        settings = load_settings()
        memory_limit = memory_limit or settings.duckdb_memory_limit
        temp_dir = temp_dir or settings.duckdb_temp_dir
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
        con.execute(f"attach '{_quote(target)}' as wh (storage_version '{_quote(storage_version)}')")
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
                create_object(con, path)
            except duckdb.Error as exc:
                raise BuildError(f"{path.relative_to(sql_dir.parent)}: {exc}") from exc
            log.info(
                "build %s %d/%d %s.%s (%s, %.1f s)",
                bar(number, len(files)),
                number,
                len(files),
                path.parent.name,
                path.stem,
                materialization(path),
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


def _quote(text: object) -> str:
    return str(text).replace("'", "''")


def discard(path: Path) -> threading.Thread:
    """Delete a file off the caller's path: renamed at once to ``.<name>.<token>.discarded``, unlinked in a thread.

    Unlinking a large file frees its extents in the call (0.16 s for a 600 MB warehouse file on ext4, a sixth of a
    no-op run's own time); the rename is instant. The thread is not a daemon: the interpreter waits for it before it
    exits. A process killed first leaves the renamed file to ``warehouse.debris`` (pattern ``.*.discarded``).

    Returns:
        The thread doing the unlink (join it to wait).
    """
    doomed = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}.discarded")
    os.replace(path, doomed)
    thread = threading.Thread(target=doomed.unlink, kwargs={"missing_ok": True}, name="tradewh-discard")
    thread.start()
    return thread


HISTORY = "history"  # <warehouse>/history/<run_id>.duckdb: the last publishes, for `tradewh rollback --to RUN`
_BUILT_NAME = re.compile(r"^\.(?P<final>.+)\.(?P<run>\d{8}T\d{6}-[0-9a-f]+)\.building$")


def history_dir(final: Path) -> Path:
    """Where the last publishes of ``final`` are kept: ``<folder>/history``."""
    return final.parent / HISTORY


def history(final: Path) -> dict[str, Path]:
    """The publishes kept in the history, run id -> file, oldest first (run ids sort by time)."""
    folder = history_dir(final)
    entries = sorted(folder.glob("*.duckdb")) if folder.is_dir() else []
    return {p.stem: p for p in entries if not p.name.startswith(".")}


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (no space used while both exist), a copy where links are refused."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _keep_in_history(final: Path, run_id: str, keep: int) -> None:
    """Add the published file to the history as ``<run_id>.duckdb`` and drop all but the ``keep`` newest."""
    folder = history_dir(final)
    folder.mkdir(exist_ok=True)
    entry = folder / f"{run_id}.duckdb"
    part = folder / f".{run_id}.duckdb.{os.getpid()}.building"  # warehouse.debris clears it after a crash
    part.unlink(missing_ok=True)
    _link_or_copy(final, part)
    os.replace(part, entry)
    kept = history(final)
    for name in list(kept)[: max(len(kept) - max(keep, 1), 0)]:
        with contextlib.suppress(FileNotFoundError):
            discard(kept[name])
    _fsync_dir(folder)


def publish(built: Path, final: Path, *, run_id: str | None = None, keep: int | None = None) -> Path | None:
    """Swap a built file into place atomically, keeping the one it replaces as ``<name>.previous``, and keep the new
    one in the history (``history/<run_id>.duckdb``, a hard link) with the ``keep`` publishes before it.

    Readers that hold the old file open keep reading it; new readers see the new one. A published file is never
    written to again (a later run publishes a new file), so its history entry stays as it was published.

    Args:
        built: the new file.
        final: the published path.
        run_id: the run that built or published it; None: taken from ``built``'s name (``.<name>.<run_id>.building``)
            or, failing that, from its build stamp (``audit.builds``).
        keep: how many publishes the history keeps (``TRADEWH_PUBLISH_HISTORY`` when None).

    Returns:
        The path of the previous file, or None on the first publish.
    """
    run_id = run_id or _run_of(built)
    keep = load_settings().publish_history if keep is None else keep
    with open(built, "rb") as fh:
        os.fsync(fh.fileno())
    previous = final.with_name(final.name + ".previous")
    had_previous = final.exists()
    if had_previous:
        if previous.exists():
            discard(previous)
        os.link(final, previous)
    failpoint("publish")  # previous kept, new file not yet swapped in
    os.replace(built, final)
    _fsync_dir(final.parent)
    if run_id is not None and keep > 0:
        _keep_in_history(final, run_id, keep)
    return previous if had_previous else None


def _run_of(built: Path) -> str | None:
    """The run a file was built or published by: from its temporary name, else its newest build stamp."""
    named = _BUILT_NAME.match(built.name)
    if named:
        return named.group("run")
    return build_stamp(built)


def build_stamp(path: Path) -> str | None:
    """The run of a warehouse file's newest build stamp (``audit.builds``), or None when it has none or cannot be
    opened."""
    try:
        with open_checked(path) as con:
            row = con.execute("select run_id from audit.builds order by published_at desc, run_id desc limit 1")
            found = row.fetchone()
    except (duckdb.Error, OSError):
        return None
    return found[0] if found else None


def check_trade_figures(con: duckdb.DuckDBPyConnection) -> None:
    """Check the conformed fact against its pandera model, as SQL inside DuckDB; a broken rule refuses the build
    (it is a mapping bug: the sources' rows were validated before)."""
    from schemas.trade_figure import TradeFigure
    from warehouse.sql_checks import UntranslatableRule, check_relation, describe_failures

    try:
        failures = check_relation(con, "core.fct_trade_figure", TradeFigure)
    except UntranslatableRule as exc:
        raise BuildError(f"schemas/trade_figure.py: {exc}") from exc
    if failures:
        raise BuildError(
            "core.fct_trade_figure breaks the conformed trade figure's rules (schemas/trade_figure.py):\n"
            + describe_failures(failures)
        )


class RollbackError(RuntimeError):
    """A rollback was refused; the published file is as it was."""


class NothingToRollBackTo(RollbackError, FileNotFoundError):
    """No earlier publish is kept (or none of the run asked for)."""


def open_checked(path: Path) -> duckdb.DuckDBPyConnection:
    """A candidate opened read-only, reaching nothing outside itself: its views cannot read or write other files."""
    config = {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "lock_configuration": True,
    }
    return duckdb.connect(str(path), read_only=True, config=config)


def truncation(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Whether a DuckDB file opened on ``con`` is shorter than the blocks its header counts (a truncated copy opens,
    and answers until a query reaches a missing block: "Corrupt database file"). None when it is long enough."""
    blocks, block_size = con.execute("select total_blocks, block_size from pragma_database_size()").fetchone()
    size = path.stat().st_size
    if size < blocks * block_size:
        return f"{path} is truncated: {size:,} bytes where its header counts {blocks} blocks of {block_size:,}"
    return None


def candidate_problem(path: Path, *, run_id: str | None, lake_dir: Path | None) -> str | None:
    """Why a file may not be published by a rollback, or None when it may: it must open read-only as a DuckDB
    database, carry a build stamp of this project (``audit.builds``, of ``run_id`` when given; a run recorded in its
    own ``audit.load_runs`` and, when ``lake_dir`` holds run records, in the lake's) and pass the build's checks of
    the conformed trade figure (``check_trade_figures``)."""
    from warehouse.freshness import BUILDS_COLUMNS

    try:
        con = open_checked(path)
    except duckdb.Error as exc:
        return f"{path} does not open as a DuckDB database ({str(exc).splitlines()[0]})"
    try:
        short = truncation(con, path)
        if short is not None:
            return short
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'audit' and table_name = 'builds'"
            ).fetchall()
        }
        if not set(BUILDS_COLUMNS) <= columns:
            return f"{path} carries no tradewh build stamp (audit.builds)"
        stamp = con.execute(
            "select run_id, inputs_sha256 from audit.builds order by published_at desc, run_id desc limit 1"
        ).fetchone()
        if stamp is None or not stamp[1]:
            return f"{path} carries no tradewh build stamp (audit.builds is empty)"
        if run_id is not None and stamp[0] != run_id:
            return f"{path} was published by run {stamp[0]}, not {run_id}"
        runs = {r[0] for r in con.execute("select run_id from audit.load_runs").fetchall()}
        if stamp[0] not in runs:
            return f"{path}: its build stamp names run {stamp[0]}, which its audit.load_runs does not hold"
        recorded = lake_dir / "_audit" / "load_runs" if lake_dir is not None else None
        if recorded is not None and recorded.is_dir() and not (recorded / f"{stamp[0]}.parquet").exists():
            return f"{path}: run {stamp[0]} is not a run of this home ({recorded} does not record it)"
        try:
            check_trade_figures(con)
        except BuildError as exc:
            return f"{path} fails the build's checks: {exc}"
    except duckdb.Error as exc:
        return f"{path} is not a tradewh warehouse ({str(exc).splitlines()[0]})"
    finally:
        con.close()
    return None


def _pick(final: Path, to_run: str | None) -> tuple[Path, str | None]:
    """The file a rollback would put back, and the run it must carry (None: the legacy ``.previous`` slot)."""
    kept = history(final)
    if to_run is not None:
        if to_run not in kept:
            known = ", ".join(kept) or "none"
            raise NothingToRollBackTo(f"no publish of run {to_run} is kept in {history_dir(final)} (kept: {known})")
        return kept[to_run], to_run
    current = build_stamp(final) if final.exists() else None
    for run, path in reversed(kept.items()):
        if (current is None or run < current) and not (final.exists() and os.path.samefile(path, final)):
            return path, run
    previous = final.with_name(final.name + ".previous")  # a home published before the history was kept
    if previous.exists() and not (final.exists() and os.path.samefile(previous, final)):
        stamp = build_stamp(previous)
        if stamp is None or (stamp not in kept and stamp != current):  # else: one of the publishes seen above
            return previous, None
    raise NothingToRollBackTo(f"no previous publish to roll back to (nothing older than {final} is kept)")


def rollback(final: Path, *, to_run: str | None = None, lake_dir: Path | None = None) -> str | None:
    """Put an earlier publish back in place, atomically, once it is checked (``candidate_problem``); every attempt,
    done or refused, is recorded in ``lake/_audit/rollbacks`` (``warehouse.audit.record_rollback``).

    Args:
        final: the published file.
        to_run: the run whose publish to put back (``history/<run>.duckdb``); None: the newest publish before the
            one in place (the ``.previous`` slot where no history is kept yet).
        lake_dir: the lake, where rollbacks are recorded (``<home>/lake`` when None, ``final`` being
            ``<home>/warehouse/<name>``).

    Returns:
        The run whose publish is now in place (None for the legacy ``.previous`` file).

    Raises:
        NothingToRollBackTo: nothing kept to go back to (``FileNotFoundError`` too).
        RollbackError: the candidate is not a warehouse this project built, or fails its checks; ``final`` is
            unchanged.
    """
    from warehouse.audit import record_rollback

    lake_dir = lake_dir if lake_dir is not None else final.parent.parent / "lake"
    current = build_stamp(final) if final.exists() else None
    try:
        source, run = _pick(final, to_run)
    except NothingToRollBackTo as exc:
        record_rollback(lake_dir, status="refused", from_run_id=current, to_run_id=to_run, candidate=None,
                        message=str(exc))  # fmt: skip
        raise
    # the very file checked is the one swapped in: a link to it, made first, checked, then renamed into place
    staging = final.with_name(f".{final.name}.rollback-{os.getpid()}.building")
    staging.unlink(missing_ok=True)
    try:
        _link_or_copy(source, staging)
        problem = candidate_problem(staging, run_id=run, lake_dir=lake_dir)
        if problem is not None:
            problem = problem.replace(str(staging), str(source))
            record_rollback(lake_dir, status="refused", from_run_id=current, to_run_id=run, candidate=source,
                            message=problem)  # fmt: skip
            raise RollbackError(f"rollback refused: {problem}; {final} is unchanged")
        with open(staging, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(staging, final)
        _fsync_dir(final.parent)
    finally:
        staging.unlink(missing_ok=True)
    record_rollback(lake_dir, status="rolled_back", from_run_id=current, to_run_id=run, candidate=source,
                    message=f"{final} is the publish of run {run or '(previous slot)'} again")  # fmt: skip
    return run
