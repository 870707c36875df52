"""Run bookkeeping: run ids, per-source results, and the audit records kept in the lake."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa_arrow
import pyarrow.parquet as pq

from warehouse.fetch import Payload
from warehouse.ingest import SourceResult


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


def _write(frame: pd.DataFrame, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-", suffix=".parquet")
    os.close(fd)
    pq.write_table(pa_arrow.Table.from_pandas(frame, preserve_index=False), tmp, compression="zstd")
    os.replace(tmp, target)


def record_run(run: Run, lake_dir: Path) -> None:
    """Write (or rewrite) the run's audit records into the lake, where every later build reads them."""
    audit = lake_dir / "_audit"
    runs = pd.DataFrame(
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
        ]
    )
    _write(runs, audit / "load_runs" / f"{run.run_id}.parquet")
    sources = pd.DataFrame(
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
        ]
    )
    _write(sources, audit / "source_runs" / f"{run.run_id}.parquet")
    files = pd.DataFrame(
        [{"run_id": run.run_id, "source_id": r.source_id, **f} for r in run.results for f in r.files],
        columns=["run_id", "source_id", "file_name", "origin", "file_sha256", "bytes"],
    )
    _write(files, audit / "source_files" / f"{run.run_id}.parquet")
    rejected = [r.quarantine.assign(run_id=run.run_id) for r in run.results if len(r.quarantine)]
    if rejected:
        frame = pd.concat(rejected, ignore_index=True)
        frame["file_row"] = frame["file_row"].astype("int64")
        _write(
            frame[["run_id", *[c for c in frame.columns if c != "run_id"]]],
            audit / "rejected_rows" / f"{run.run_id}.parquet",
        )


def summary_lines(run: Run) -> list[str]:
    """The run summary, one line per source, for logs and the CLI."""
    lines = [f"run {run.run_id}: {run.status}" + (f" ({run.message})" if run.message else "")]
    for r in run.results:
        lines.append(
            f"  {r.source_id:<32} {r.status:<8} read {r.rows_read:>7}  valid {r.rows_valid:>7}  "
            f"rejected {r.rows_rejected:>5}  loaded {r.rows_loaded:>7}" + (f"  {r.message}" if r.message else "")
        )
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
    lines += ["", "## Largest revisions", ""]
    if not revisions:
        lines.append("No figure was revised.")
    else:
        lines += ["| source | reporter | period | flow | category | previous | now | revision |", "|---" * 8 + "|"]
        for row in revisions:
            lines.append("| " + " | ".join(f"{v:,.0f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)
