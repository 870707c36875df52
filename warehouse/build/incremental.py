"""A night that changed some sources builds on the published file: only those sources' rows are read from the lake
and only what depends on them is computed again (issue 22).

A full build reads every source's Parquet into the raw tables and stores every ``-- materialized: table`` view
from them: at 10M Comtrade rows a night that revised a press release paid for the 10M rows again. Here the build
starts from a copy of the published file (the one ``warehouse.publish.carry_over`` made while Prefect started) and:

1. in each raw table of a changed dataset, deletes the changed sources' rows and inserts their lake files (each
   verified against its SHA-256 first, as the full build does);
2. loads the audit tables again from ``lake/_audit`` (the full build's own ``_load_audit``: small, and exact);
3. computes the stored tables again in dependency order: one that reads nothing that changed is kept; one whose
   file says ``-- incremental: source_id`` (its rows of a source come from that source's dataset and the
   reference lists alone) is computed over the changed datasets' rows only, in a scratch catalogue whose raw
   tables hold those datasets and no other, and its rows of those datasets' sources replace the old ones; any
   other is computed whole;
4. runs the build's check on the conformed figures it computed (the unchanged sources' rows passed it when
   they were built), stamps the file like a build (``audit.builds``), and leaves the swap to the caller.

Plain views need nothing: the SQL files are those of the published build, or this is not an incremental night.
Anything else goes to the full build, with the reason (``plan_incremental``): a change of the SQL, the reference
lists, the catalogue, the code or the libraries; a source that left the lake; a file that does not say what it
was built from; a raw table whose columns the changed files would change.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.build import raw_tables
from warehouse.build.builder import BUILD_CONFIG, _load_audit
from warehouse.build.inputs import LAKE_PART, LARGEST_REVISIONS, REVISIONS_VARIABLE, BuildInputs, truncation
from warehouse.build.models import (
    STORE,
    BuildError,
    create_object,
    file_references,
    read_header,
    sql_files,
    stored_statements,
    view_without_comments,
)
from warehouse.build.parts import part_name, parts, union_of_parts
from warehouse.build.sqltext import ident, text_literal
from warehouse.common.readonly import connect_read_only
from warehouse.common.settings import Settings
from warehouse.lake.audit import TABLES
from warehouse.lake.manifest import LakeIntegrityError, file_problems, lake_files, manifest

log = logging.getLogger(__name__)

LARGEST, REVISION = 10, 7  # LARGEST_REVISIONS: its limit, and the column of the revision it is ordered by
SCRATCH = "memory"  # the connection's own in-memory catalogue: the stored tables computed over the changed rows


@dataclass(frozen=True)
class Plan:
    """What an incremental build replaces, or why the night builds in full.

    Attributes:
        reason: why a full build is needed (for the log); None when the published file can be built on.
        sources: the changed source folders, ``(dataset, source id)``.
    """

    reason: str | None
    sources: tuple[tuple[str, str], ...] = ()

    @property
    def datasets(self) -> list[str]:
        """The datasets (raw tables) the changed sources belong to."""
        return sorted({dataset for dataset, _ in self.sources})


def _recorded(published: Path) -> dict[str, str] | str:
    """The inputs the published file records having been built from, or why it cannot say."""
    try:
        with connect_read_only(published) as con:
            short = truncation(con, published)
            if short is not None:
                return short
            row = con.execute(
                "select inputs from audit.builds order by published_at desc, run_id desc limit 1"
            ).fetchone()
    except (duckdb.Error, FileNotFoundError) as exc:
        return f"the published file cannot say what it was built from ({type(exc).__name__})"
    if row is None:
        return "the published file records no build"
    try:
        recorded = json.loads(row[0])
    except (TypeError, ValueError):
        recorded = None
    return recorded if isinstance(recorded, dict) else "the published file's inputs are unreadable"


def plan_incremental(published: Path, inputs: BuildInputs) -> Plan:
    """Whether a build can start from the published file and replace only the sources whose lake files changed.

    Args:
        published: the published warehouse file.
        inputs: what a build would read now (``build_inputs``).

    Returns:
        The plan: the changed sources, or the reason for a full build.
    """
    if not published.exists():
        return Plan("no warehouse published yet")
    recorded = _recorded(published)
    if isinstance(recorded, str):
        return Plan(recorded)
    changed = inputs.changed_since(recorded)
    others = [name for name in changed if not name.startswith(LAKE_PART)]
    if others:
        return Plan(f"changed since the published build: {', '.join(others)}")
    gone = [name.removeprefix(LAKE_PART) for name in changed if name not in inputs.parts]
    if gone:
        return Plan(f"source(s) no longer in the lake: {', '.join(gone)}")
    if not changed:
        return Plan("no source changed since the published build")
    sources = tuple(tuple(name.removeprefix(LAKE_PART).split("/", 1)) for name in changed)
    return Plan(None, sources)  # type: ignore[arg-type]


def _columns(con: duckdb.DuckDBPyConnection, relation: str, params: list[object] | None = None) -> list[tuple]:
    return [tuple(r[:2]) for r in con.execute(f"describe {relation}", params).fetchall()]


def _replace_raw(con: duckdb.DuckDBPyConnection, lake_dir: Path, plan: Plan) -> dict[str, int]:
    """In each changed dataset's raw table, the changed sources' rows replaced by their lake files (verified)."""
    counts = {}
    for dataset in plan.datasets:
        ids = [source_id for d, source_id in plan.sources if d == dataset]
        files: list[str] = []
        for source_id in ids:
            base = lake_dir / dataset / source_id
            state = manifest(base)
            problems = file_problems(base, state)  # each read in full against its SHA-256, as the full build does
            if problems:
                raise LakeIntegrityError(problems)
            files += [str(base / vintage / name) for vintage, name in sorted(state["files"].items())]
        every = [str(f) for f in lake_files(lake_dir, dataset)]
        if not every:
            raise BuildError(f"raw.{dataset} would have no lake file left: the full build makes it empty")
        # the columns the full build would give the table (read from the Parquet footers only)
        described = raw_tables.columns(con, every)
        if described != _columns(con, f"wh.raw.{dataset}"):
            raise BuildError(f"the columns of raw.{dataset} would change")
        if files:
            stray = con.execute(
                "select distinct source_id from read_parquet(?, union_by_name = true) where source_id not in "
                "(select unnest(?))",
                [files, ids],
            ).fetchall()
            if stray:
                raise BuildError(f"lake files of {', '.join(ids)} hold rows of {stray}")
        constant = raw_tables.constant_values(con, every, described)  # the columns the full build would store once
        if raw_tables.generated_constants(con, f"wh.raw.{dataset}") == constant:
            con.execute(f"delete from wh.raw.{dataset} where source_id in (select unnest(?))", [ids])
            if files:
                raw_tables.insert_rows(con, f"wh.raw.{dataset}", files, constant)
            how = "replaced"
        else:  # a value stored once is no longer every row's (a source's new vintage): made as the full build does
            con.execute(f"drop table wh.raw.{dataset}")
            raw_tables.create_raw_table(con, f"wh.raw.{dataset}", every)
            how = "replaced (the table made again from its lake files: a value stored once changed)"
        counts[dataset] = con.execute(f"select count(*) from wh.raw.{dataset}").fetchall()[0][0]
        log.info("build: raw.%s: %s %s, %s rows", dataset, ", ".join(ids), how, f"{counts[dataset]:,}")
    return counts


def _reads(sql_dir: Path) -> dict[str, set[str]]:
    """What each view reads, directly or through other views."""
    files = {f"{f.parent.name}.{f.stem}": f for f in sql_files(sql_dir)}
    direct = {name: file_references(path) - {name} for name, path in files.items()}
    closed: dict[str, set[str]] = {}
    for name in files:  # sql_files' order: a view after what it reads
        closed[name] = set(direct[name])
        for read in direct[name]:
            closed[name] |= closed.get(read, set())
    return closed


def _scratch(con: duckdb.DuckDBPyConnection, datasets: list[str]) -> None:
    """The scratch catalogue's raw and audit tables: views over the file's, the unchanged datasets' empty."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'wh' "
        "and schema_name in ('raw', 'audit')"
    ).fetchall()
    for schema in ("raw", "staging", "core", "marts", "audit", STORE):
        con.execute(f"create schema if not exists {SCRATCH}.{schema}")
    for schema, table in tables:
        kept = schema == "audit" or table.startswith("ref_") or table in datasets
        con.execute(
            f"create or replace view {SCRATCH}.{schema}.{table} as select * from wh.{schema}.{table}"
            + ("" if kept else " limit 0")
        )


def _sources(con: duckdb.DuckDBPyConnection, plan: Plan) -> set[str]:
    """The sources whose rows the changed datasets' stored rows are recomputed for."""
    sources = {source_id for _, source_id in plan.sources}  # a source whose every row went has none left to read
    for dataset in plan.datasets:
        sources |= {r[0] for r in con.execute(f"select distinct source_id from wh.raw.{dataset}").fetchall()}
    return sources


def _largest_revisions(con: duckdb.DuckDBPyConnection, sources: set[str]) -> str | None:
    """The ten largest revisions (``LARGEST_REVISIONS``, recorded by the stamp) without reading the unchanged
    sources' history, or None when that would not be exact (the stamp then queries the whole history).

    The changed datasets' revisions (the scratch catalogue's ``marts.revisions``: a revision compares vintages of
    one source) merged with the published file's list. Exact when that list names no source recomputed (its rows
    are all still there, and any other row of an unchanged source ranked below them) or holds fewer than ten rows
    (it was every revision). At 10M Comtrade rows the whole history is the largest query of an incremental night.
    """
    row = con.execute(
        "select largest_revisions from wh.audit.builds order by published_at desc, run_id desc limit 1"
    ).fetchone()
    if row is None or row[0] is None:
        return None
    previous = json.loads(row[0])
    if len(previous) >= LARGEST and any(r[0] in sources for r in previous):
        return None
    kept = [r for r in previous if r[0] not in sources]
    query = LARGEST_REVISIONS.replace("from marts.revisions", f"from {SCRATCH}.marts.revisions")
    assert query != LARGEST_REVISIONS, "LARGEST_REVISIONS reads marts.revisions"
    changed = json.loads(json.dumps(con.execute(query).fetchall(), default=str))  # as the stamp writes them
    merged = sorted(kept + changed, key=lambda r: -abs(float(r[REVISION])))[:LARGEST]
    return json.dumps(merged)


def _part_columns(con: duckdb.DuckDBPyConnection, database: str, part: str) -> tuple[list[tuple[str, str]], dict]:
    """A part's columns (name, type) in order, and its generated constants (column -> value as text)."""
    rows = raw_tables.table_columns(con, database, STORE, part_name(part))
    generated = [c for c, _, is_generated in rows if is_generated]
    values = raw_tables.first_values(con, f"{database}.{part}", generated) if generated else {}
    return [(c, kind) for c, kind, _ in rows], values if values is not None else dict.fromkeys(generated)


def _replace_parts(con: duckdb.DuckDBPyConnection, table: str, column: str, sources: list[str]) -> None:
    """A partitioned stored table's parts (``-- partitioned:``) that hold the recomputed sources' rows replaced by the
    scratch catalogue's, and the view over the parts made again. A part holds the rows of one value of its column
    (a dataset): the sources recomputed are every source of the changed datasets, so a part holds only recomputed
    sources or none; one that held both (a file partitioned otherwise) is refused and the night builds in full."""
    for part in parts(con, table, "wh"):
        hit, other = con.execute(
            f"select count(*) filter (where {column} in (select unnest(?))), "
            f"count(*) filter (where {column} is null or {column} not in (select unnest(?))) from wh.{part}",
            [sources, sources],
        ).fetchone()
        if hit and other:
            raise BuildError(f"{part} holds rows of sources computed again and of sources kept")
        if hit or not other:  # computed again, or the part with no rows of a table that had none
            con.execute(f"drop table wh.{part}")
    columns: list[tuple[str, str]] = []
    for part in parts(con, table, SCRATCH):
        if part in parts(con, table, "wh"):
            raise BuildError(f"{part} holds rows of sources kept beside those computed again")
        columns, constants = _part_columns(con, SCRATCH, part)
        con.execute(raw_tables.table_definition(f"wh.{part}", columns, constants))
        kept = ", ".join(ident(c) for c, _ in columns if c not in constants)
        con.execute(f"insert into wh.{part} ({kept}) select {kept} from {SCRATCH}.{part}")
        comment = con.execute(
            "select comment from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
            [SCRATCH, STORE, part_name(part)],
        ).fetchone()[0]
        if comment:
            con.execute(f"comment on table wh.{part} is {text_literal(comment)}")
    con.execute("use wh")
    try:
        union_of_parts(con, table, columns)
    finally:
        con.execute(f"use {SCRATCH}")


def _refresh_stored(con: duckdb.DuckDBPyConnection, sql_dir: Path, plan: Plan) -> dict[str, str]:
    """Every view of ``sql/`` in the scratch catalogue, and each stored table of the file computed again as it must
    be (see the module's docstring). Returns stored view -> what was done."""
    reads = _reads(sql_dir)
    changed = {f"raw.{d}" for d in plan.datasets}
    sources = _sources(con, plan)
    done = {}
    for path in sql_files(sql_dir):
        name = f"{path.parent.name}.{path.stem}"
        header = read_header(path)
        con.execute(f"use {SCRATCH}")
        if header.materialized == "view":
            con.execute(view_without_comments(path))  # the scratch catalogue's: no one reads its descriptions
            continue
        began = time.monotonic()
        stored = stored_statements(path)
        affected = reads[name] & changed or any(r.startswith("audit.") for r in reads[name])
        by_source = header.incremental is not None and not any(r.startswith("audit.") for r in reads[name])
        if affected and by_source:
            create_object(con, path, comments=False)  # over the changed datasets' rows only
            column = header.incremental
            if header.partitioned:
                _replace_parts(con, stored.table, column, sorted(sources))
            else:
                con.execute(f"delete from wh.{stored.table} where {column} in (select unnest(?))", [sorted(sources)])
                con.execute(f"insert into wh.{stored.table} by name select * from {SCRATCH}.{stored.table}")
            done[name] = "the changed datasets' sources"
        else:
            if affected:
                con.execute("use wh")
                create_object(con, path)
                con.execute(f"use {SCRATCH}")
            con.execute(f"create or replace view {SCRATCH}.{stored.table} as select * from wh.{stored.table}")
            con.execute(stored.view)
            done[name] = "whole" if affected else "kept"
        log.info("build: %s: %s (%.1f s)", name, done[name], time.monotonic() - began)
    return done


def build_incremental(
    target: Path,
    plan: Plan,
    *,
    lake_dir: Path,
    sql_dir: Path,
    check: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    finish: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    memory_limit: str | None = None,
    temp_dir: Path | None = None,
) -> dict[str, str]:
    """Turn ``target``, a copy of the published file, into what a full build would make now; on any failure, remove
    it (the caller then builds in full).

    Args:
        target: the copy (``warehouse.publish.working_copy``), not published.
        plan: ``plan_incremental``'s, without a reason.
        lake_dir: the Parquet lake.
        sql_dir: the view files (the published build's).
        check: called with the connection using the scratch catalogue, whose ``core.fct_trade_figure`` holds the
            conformed figures computed again; raises to refuse the build.
        finish: called with the connection using the file, once the check passed, before the checkpoint.
        memory_limit: DuckDB's memory limit (``Settings.duckdb_memory_limit``'s default when None).
        temp_dir: where DuckDB spills (a ``tmp`` folder beside ``target`` when None).

    Returns:
        Each stored view -> what was done to it (kept, whole, or the changed datasets' sources).
    """
    if plan.reason is not None:
        raise ValueError(f"no incremental build: {plan.reason}")
    temp_dir = temp_dir or target.parent / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": memory_limit or Settings.duckdb_memory_limit, "temp_directory": str(temp_dir)}
    con = duckdb.connect(config={**config, "preserve_insertion_order": False, **BUILD_CONFIG})
    try:
        con.execute("set enable_progress_bar = false")
        con.execute(f"attach {text_literal(target)} as wh")
        _replace_raw(con, lake_dir, plan)
        con.execute("use wh")
        for table in TABLES:
            con.execute(f"delete from audit.{table}")
        _load_audit(con, lake_dir)  # the full build's: every record of the lake
        _scratch(con, plan.datasets)
        done = _refresh_stored(con, sql_dir, plan)
        began = time.monotonic()
        revisions = _largest_revisions(con, _sources(con, plan))
        if revisions is not None:  # what stamp_build records, instead of querying the whole history
            con.execute(f"set variable {REVISIONS_VARIABLE} = ?", [revisions])
        log.info(
            "build: largest revisions %s (%.1f s)",
            "from the changed sources and the published list" if revisions is not None else "left to the stamp",
            time.monotonic() - began,
        )
        con.execute(f"use {SCRATCH}")
        began = time.monotonic()
        if check is not None:
            check(con)
        log.info("build: check of the figures computed again (%.1f s)", time.monotonic() - began)
        con.execute("use wh")
        con.execute("delete from audit.builds")  # one row per publish since the file was built: this is a build
        began = time.monotonic()
        if finish is not None:
            finish(con)  # stamps the file (``stamp_build``): the one row of audit.builds, this build's
            con.execute("update audit.builds set build_kind = 'incremental'")
        log.info("build: stamp (%.1f s)", time.monotonic() - began)
        began = time.monotonic()
        con.execute("checkpoint wh")
        log.info("build: checkpoint (%.1f s)", time.monotonic() - began)
        con.execute(f"use {SCRATCH}")
        con.execute("detach wh")
    except BaseException:
        con.close()
        for path in (target, target.with_name(target.name + ".wal")):
            path.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    return done
