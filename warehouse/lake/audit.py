"""Run bookkeeping: run ids, per-source results, and the audit records kept in the lake.

Written with DuckDB: a run that loads nothing (every source unchanged) records its audit without importing
pandas (pyarrow's arrays from Python values import it; the quarantine rows of a run that staged some are a
pandas frame already).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from warehouse.extract.fetch import Payload

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Loss:
    """A partial loss: every row of one reporter, partner, indicator or year of a file was rejected (one row of
    ``audit.partial_losses``). Below the reject threshold the source still loads, without it: every sum over that
    dimension lacks it, so the run says so loudly.

    Attributes:
        file_name: the payload whose rows these were.
        dimension: reporter, partner, indicator, year, or file (every row of the file).
        column_name: the dataset's column holding it (``reporter_code``, ``country_code``, ...).
        value: the value as published ('381').
        rows: how many rows it had in the file, all rejected.
        rules: the rules that blamed that column and value ('known_reporter'), '' when other columns were blamed.
    """

    file_name: str
    dimension: str
    column_name: str
    value: str
    rows: int
    rules: str = ""

    def text(self) -> str:
        """One line for the log, the summary and ``tradewh status``."""
        what = "every row" if self.dimension == "file" else f"every row of {self.dimension} {self.value!r}"
        where = "" if self.dimension == "file" else f" ({self.column_name})"
        why = f", rule {self.rules}" if self.rules else ", see audit.rejected_rows"
        return f"{self.file_name}: {what}{where} rejected: {self.rows:,} row(s){why}"


MAX_LOSS_LINES = 5  # per source, in the summary and the log: the rest are in audit.partial_losses


def loss_lines(losses: list[Loss], limit: int = MAX_LOSS_LINES) -> list[str]:
    """The losses as lines, at most ``limit`` of them and a line saying how many more there are."""
    lines = [loss.text() for loss in losses[:limit]]
    if len(losses) > limit:
        lines.append(f"... and {len(losses) - limit} more (audit.partial_losses)")
    return lines


@dataclass
class SourceResult:
    """What happened to one source in one run (one row of ``audit.source_runs``)."""

    source_id: str
    dataset: str
    status: str  # 'loaded', 'skipped' (unchanged), 'failed'
    files: list[dict[str, object]] = field(default_factory=list)
    vintages: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    rows_loaded: int = 0
    message: str = ""
    quarantine: pd.DataFrame | None = None  # rows of ``schemas.rules.QUARANTINE_COLUMNS``; None: no row
    losses: list[Loss] = field(default_factory=list)  # whole reporters, partners, indicators, years rejected


def over_threshold(rows_read: int, rows_rejected: int, threshold: float) -> str | None:
    """Why a source fails as a whole when too many of its rows were rejected, or None when it may load."""
    share = rows_rejected / max(rows_read, 1)
    if share <= threshold:
        return None
    return (
        f"{rows_rejected} of {rows_read} rows rejected ({share:.1%}), above the threshold of {threshold:.0%}: "
        "nothing of this source is loaded; see audit.rejected_rows"
    )


@dataclass
class Run:
    """One load run."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    status: str = "running"  # running, succeeded, partial, failed
    message: str = ""
    results: list[SourceResult] = field(default_factory=list)


def new_run() -> Run:
    """A run with a sortable, unique id (UTC time + random suffix)."""
    now = dt.datetime.now(dt.UTC)
    return Run(run_id=f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}", started_at=now)


def run_status(results: list[SourceResult]) -> tuple[str, str]:
    """succeeded when no source failed, partial when some did, failed when all did."""
    failed = [r for r in results if r.status == "failed"]
    if not failed:
        return "succeeded", ""
    reason = "; ".join(f"{r.source_id}: {r.message}" for r in failed)
    return ("failed" if len(failed) == len(results) else "partial"), reason


def files_of(payloads: list[Payload]) -> list[dict[str, object]]:
    return [{"file_name": p.name, "origin": p.origin, "file_sha256": p.sha256, "bytes": p.size} for p in payloads]


# the columns of each audit record and their DuckDB types (the Parquet files keep them)
LOAD_RUNS = {
    "run_id": "varchar",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
    "status": "varchar",
    "message": "varchar",
    **{c: "bigint" for c in ("sources_loaded", "sources_skipped", "sources_failed", "rows_rejected")},
}
SOURCE_RUNS = {
    **{c: "varchar" for c in ("run_id", "source_id", "dataset", "status", "vintages")},
    "files": "bigint",
    "bytes": "bigint",
    "file_sha256": "varchar",
    **{c: "bigint" for c in ("rows_read", "rows_valid", "rows_rejected", "rows_loaded")},
    "message": "varchar",
}
SOURCE_FILES = {
    **{c: "varchar" for c in ("run_id", "source_id", "file_name", "origin", "file_sha256")},
    "bytes": "bigint",
}
# one row per quarantined row and broken rule, identified by the payload's SHA-256, its file name and line
REJECTED_ROWS = {
    **{c: "varchar" for c in ("run_id", "source_id", "file_name", "file_sha256")},
    "file_row": "bigint",
    **{c: "varchar" for c in ("column_name", "rule", "value")},
}
# one row per reporter, partner, indicator or year (or file) of a payload whose every row was rejected (``Loss``)
PARTIAL_LOSSES = {
    **{c: "varchar" for c in ("run_id", "source_id", "file_name", "dimension", "column_name", "value")},
    "rows_rejected": "bigint",
    **{c: "varchar" for c in ("rules", "message")},
}
# one row per `tradewh rollback`, done or refused (``record_rollback``)
ROLLBACKS = {
    "rollback_id": "varchar",
    "requested_at": "timestamptz",
    "status": "varchar",  # rolled_back, refused
    "from_run_id": "varchar",  # the build the published file carried before (null: unreadable)
    "to_run_id": "varchar",  # the build asked for or put back (null: none found)
    "candidate": "varchar",  # the file checked
    "message": "varchar",
}
# every table of the published file's audit schema with its columns: each exists, empty if need be, from the first
# publish (warehouse.build.models._load_audit), filled from lake/_audit/<table>/*.parquet
TABLES: dict[str, dict[str, str]] = {
    "load_runs": LOAD_RUNS,
    "source_runs": SOURCE_RUNS,
    "source_files": SOURCE_FILES,
    "rejected_rows": REJECTED_ROWS,
    "partial_losses": PARTIAL_LOSSES,
    "rollbacks": ROLLBACKS,
}
COMMENTS = {
    "load_runs": "One row per load run: when, its status (succeeded, partial, failed) and counts",
    "source_runs": "One row per source and load run: status, vintages, rows read, valid, rejected, loaded, message",
    "source_files": "One row per payload a load run fetched: file name, origin, SHA-256, bytes",
    "rejected_rows": "One row per quarantined row and broken rule: the payload (file_sha256, file_name), its line "
    "(file_row), the column, the rule and the value",
    "partial_losses": "One row per reporter, partner, indicator or year of a payload whose every row was rejected "
    "(a warning even under the reject threshold: sums over that dimension lack it); dimension 'file': every row",
    "rollbacks": "One row per `tradewh rollback`: done (rolled_back) or refused, from which build to which, and why",
}


def table_ddl(table: str) -> str:
    """The ``create table audit.<table>`` statement (with its comment) of an audit table, empty."""
    columns = ", ".join(f"{c} {t}" for c, t in TABLES[table].items())
    comment = COMMENTS[table].replace("'", "''")
    return f"create table if not exists audit.{table} ({columns}); comment on table audit.{table} is '{comment}'"


def _copy_to(con: duckdb.DuckDBPyConnection, relation: str, target: Path) -> None:
    """Write a relation of ``con`` as a Parquet file atomically: at a temporary name, renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-", suffix=".parquet")
    os.close(fd)
    con.execute(f"copy {relation} to ? (format parquet, compression zstd)", [tmp])
    os.replace(tmp, target)


def _records(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], columns: dict[str, str]) -> str:
    """The rows as the temporary table ``records`` with these columns and types; returns its name."""
    con.execute(f"create or replace temp table records ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    if rows:
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"insert into records values ({marks})", [[row.get(c) for c in columns] for row in rows])
    return "records"


def record_run(run: Run, lake_dir: Path) -> None:
    """Write (or rewrite) the run's audit records into the lake, where every later build reads them."""
    with duckdb.connect() as con:  # one in-memory connection for every record (0.03 s to open each)
        _record_run(con, run, lake_dir / "_audit")


def _record_run(con: duckdb.DuckDBPyConnection, run: Run, audit: Path) -> None:
    runs = _records(
        con,
        [
            {
                "run_id": run.run_id,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "status": run.status,
                "message": run.message,
                "sources_loaded": sum(r.status == "loaded" for r in run.results),
                "sources_skipped": sum(r.status == "skipped" for r in run.results),
                "sources_failed": sum(r.status == "failed" for r in run.results),
                "rows_rejected": sum(r.rows_rejected for r in run.results),
            }
        ],
        LOAD_RUNS,
    )
    _copy_to(con, runs, audit / "load_runs" / f"{run.run_id}.parquet")
    sources = _records(
        con,
        [
            {
                "run_id": run.run_id,
                "source_id": r.source_id,
                "dataset": r.dataset,
                "status": r.status,
                "vintages": ", ".join(r.vintages),
                "files": len(r.files),
                "bytes": int(sum(int(f["bytes"]) for f in r.files)),
                "file_sha256": ", ".join(str(f["file_sha256"]) for f in r.files),
                "rows_read": r.rows_read,
                "rows_valid": r.rows_valid,
                "rows_rejected": r.rows_rejected,
                "rows_loaded": r.rows_loaded,
                "message": r.message,
            }
            for r in run.results
        ],
        SOURCE_RUNS,
    )
    _copy_to(con, sources, audit / "source_runs" / f"{run.run_id}.parquet")
    files = _records(
        con, [{"run_id": run.run_id, "source_id": r.source_id, **f} for r in run.results for f in r.files], SOURCE_FILES
    )
    _copy_to(con, files, audit / "source_files" / f"{run.run_id}.parquet")
    rejected = [
        r.quarantine.assign(run_id=run.run_id) for r in run.results if r.quarantine is not None and len(r.quarantine)
    ]
    if rejected:
        import pandas as pd  # imported already: the quarantine rows are pandas frames

        frame = pd.concat(rejected, ignore_index=True)
        frame["file_row"] = frame["file_row"].astype("int64")
        con.register("rejected_frame", frame)
        columns = ", ".join(f"cast({c} as {t}) as {c}" for c, t in REJECTED_ROWS.items())
        con.execute(f"create or replace temp table rejected_rows as select {columns} from rejected_frame")
        con.unregister("rejected_frame")
        _copy_to(con, "rejected_rows", audit / "rejected_rows" / f"{run.run_id}.parquet")
    losses = [
        {
            "run_id": run.run_id,
            "source_id": r.source_id,
            "file_name": loss.file_name,
            "dimension": loss.dimension,
            "column_name": loss.column_name,
            "value": loss.value,
            "rows_rejected": loss.rows,
            "rules": loss.rules,
            "message": loss.text(),
        }
        for r in run.results
        for loss in r.losses
    ]
    if losses:  # a run with losses quarantined rows: it is always built, never republished (reason_to_rebuild)
        _copy_to(con, _records(con, losses, PARTIAL_LOSSES), audit / "partial_losses" / f"{run.run_id}.parquet")


def record_rollback(
    lake_dir: Path,
    *,
    status: str,
    from_run_id: str | None,
    to_run_id: str | None,
    candidate: Path | None,
    message: str,
) -> str:
    """Write one rollback (done or refused) to ``lake/_audit/rollbacks/<rollback_id>.parquet``: every later build
    and republish copies it into ``audit.rollbacks``; ``rollback_events`` reads it before then.

    Returns:
        The rollback's id (sortable by time).
    """
    now = dt.datetime.now(dt.UTC)
    rollback_id = f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"
    row = {
        "rollback_id": rollback_id,
        "requested_at": now,
        "status": status,
        "from_run_id": from_run_id,
        "to_run_id": to_run_id,
        "candidate": None if candidate is None else str(candidate),
        "message": message,
    }
    with duckdb.connect() as con:
        _copy_to(con, _records(con, [row], ROLLBACKS), lake_dir / "_audit" / "rollbacks" / f"{rollback_id}.parquet")
    return rollback_id


def rollback_events(lake_dir: Path, last: int = 10) -> list[dict[str, object]]:
    """The last rollbacks recorded in the lake, newest first (``ROLLBACKS`` columns): what ``tradewh status`` shows.

    Read from the lake, not from the published file: the file a rollback puts back was built before it.
    """
    files = sorted(str(p) for p in (lake_dir / "_audit" / "rollbacks").glob("*.parquet"))
    if not files:
        return []
    with duckdb.connect() as con:
        cursor = con.execute(
            "select * from read_parquet(?, union_by_name = true) order by rollback_id desc limit ?", [files, last]
        )
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def summary_lines(run: Run) -> list[str]:
    """The run summary, one line per source, for logs and the CLI."""
    lines = [f"run {run.run_id}: {run.status}" + (f" ({run.message})" if run.message else "")]
    width = max((len(r.source_id) for r in run.results), default=0)  # ids aligned, however long
    for r in run.results:
        lines.append(
            f"  {r.source_id:<{width}} {r.status:<8} read {r.rows_read:>7}  valid {r.rows_valid:>7}  "
            f"rejected {r.rows_rejected:>5}  loaded {r.rows_loaded:>7}" + (f"  {r.message}" if r.message else "")
        )
        lines += [f"    WARNING partial loss: {line}" for line in loss_lines(r.losses)]
    return lines


def sources_table(run: Run) -> list[dict[str, object]]:
    """One row per source for the run's Prefect table artifact."""
    return [
        {
            "source": r.source_id,
            "status": r.status,
            "vintages": ", ".join(r.vintages),
            "read": r.rows_read,
            "valid": r.rows_valid,
            "rejected": r.rows_rejected,
            "loaded": r.rows_loaded,
            "message": r.message,
        }
        for r in run.results
    ]


def summary_markdown(run: Run, revisions: list[tuple]) -> str:
    """The run's markdown artifact: status, counts and the largest revisions now in the marts.

    Args:
        run: the finished run.
        revisions: rows (source_id, reporter, period, flow, category, previous value, value, revision) of
            ``marts.revisions``, largest first.
    """
    loaded = sum(r.status == "loaded" for r in run.results)
    skipped = sum(r.status == "skipped" for r in run.results)
    failed = [r for r in run.results if r.status == "failed"]
    lines = [
        f"# tradewh run {run.run_id}: {run.status}",
        "",
        f"{loaded} source(s) loaded, {skipped} unchanged, {len(failed)} failed; "
        f"{sum(r.rows_rejected for r in run.results)} row(s) quarantined.",
    ]
    lines += [f"- **{r.source_id}** failed: {r.message}" for r in failed]
    losses = [(r.source_id, line) for r in run.results for line in loss_lines(r.losses)]
    if losses:
        lines += [
            "",
            "## Partial losses",
            "",
            "Every row of these was rejected, under the reject threshold or not:",
            "",
        ]
        lines += [f"- **{source}**: {line}" for source, line in losses]
    lines += ["", "## Largest revisions", ""]
    if not revisions:
        lines.append("No figure was revised.")
    else:
        lines += ["| source | reporter | period | flow | category | previous | now | revision |", "|---" * 8 + "|"]
        for row in revisions:
            lines.append("| " + " | ".join(f"{v:,.0f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def freshness_rows(warehouse: Path) -> list[dict[str, object]]:
    """``audit.source_freshness`` of a published file, as rows for the run's log and its artifact."""
    from warehouse.common.readonly import connect_read_only

    with connect_read_only(warehouse) as con:
        cursor = con.execute(
            "select source_id, freshness_status, freshness_of, age_hours, warn_after_hours, error_after_hours, "
            "last_fetched_at::varchar as last_fetched_at, newest_vintage::varchar as newest_vintage "
            "from audit.source_freshness order by source_id"
        )
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
