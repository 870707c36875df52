"""A night where nothing changed, without Prefect's flow engine: `tradewh load` with a Prefect server running.

A no-op night does no data work: every source's file is the one loaded last (``lake.unchanged``), and what the
warehouse is built from is what the published file records (``build_inputs``), so it publishes the file again
with the run's audit rows (``publish.republish``). Run as the nightly flow, such a night cost 3.4-6 s with the
project's server running, of which the work itself was 0.3 s: importing Prefect (1.2-1.6 s on two cores), the
flow engine's start and end, and a task run per source with its states (issue 22, target 5: at most 2 s).

``quick_noop`` does the same night without importing Prefect: it fetches the local files (kept in the raw zone
by ``prefetch``: their stat is checked, their bytes are not read again), checks every source unchanged and the
published file's build inputs equal, and only then records the run: in the lake's audit and the published file
(``republish``), and on the Prefect server through its REST API (a flow run of ``tradewh-nightly`` created
Running and set Completed or Failed, with the run's log lines and the three artifacts the flow makes). Anything
that could need more than a republish returns None before anything is recorded, and `tradewh load` runs the
flow: a source with a URL (the flow's fetch has retries and HTTP validators), no server, a changed file, a
changed input, a stored view reading the audit, a server that does not answer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

import httpx

from warehouse import build, lake, publish
from warehouse.build.inputs import AUDIT_TABLES, truncation
from warehouse.common import runlog
from warehouse.common.readonly import connect_read_only
from warehouse.common.settings import Settings
from warehouse.extract import fetch, file_state, prefetch
from warehouse.extract.catalogue import Source, load_catalogue
from warehouse.lake import audit
from warehouse.orchestrate import notify

log = logging.getLogger(__name__)

FLOW_NAME = "tradewh-nightly"  # the flow's name (flows/nightly.py): the no-op's run shows among the nightly's
TAGS = ["no-op"]


class _Lines(logging.Handler):
    """Keeps the run's log records, for the Prefect server's run log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def surely_changed(catalogue: list[Source], settings: Settings) -> bool:
    """Whether the night surely changes something, from what costs no read: no published file, a URL source, a
    local source never kept (no file state), or a kept file gone or of another size. Checked before waiting for the
    prefetch, which copies a new or changed file into the raw zone (a 2 GB file: 1.4-3 s): the flow then starts while
    it copies, instead of after. A file with only a new timestamp may hold the same bytes (rewritten by a sync):
    the full check after the prefetch decides, so such a night stays a quick no-op. False says only that."""
    if not settings.warehouse_path.exists():
        return True
    for source in catalogue:
        if source.location_kind == "url":
            return True
        seen = file_state.load_state(settings.raw_dir, source.id)
        if not seen:
            return True
        for path, entry in seen.items():
            try:
                if os.stat(path).st_size != entry.size:
                    return True
            except OSError:
                return True
    return False


def _fetch_all(catalogue: list[Source], settings: Settings) -> list[audit.SourceResult] | None:
    """Each source's result when every one is a local file unchanged since the last load; else None."""
    results = []
    for source in catalogue:
        if source.location_kind == "url":
            return None  # fetched by the flow's task: retries on network errors, HTTP validators
        payloads = fetch.fetch_source(
            source,
            seeds_dir=settings.seeds_dir,
            project_root=settings.project_root,
            roots=settings.allowed_roots,
            raw_dir=settings.raw_dir,
        )
        if not lake.unchanged(source, payloads, settings.lake_dir):
            return None
        result = audit.SourceResult(source.id, source.dataset, "skipped", files=audit.files_of(payloads))
        result.message = "unchanged since the last load"
        results.append(result)
    return results


def unchanged_build(published: Path, inputs: build.BuildInputs, *, lake_dir: Path, sql_dir: Path) -> bool:
    """Whether ``build.reason_to_rebuild`` will find no reason once this run's audit is recorded: the published file
    records these inputs and every run the lake's audit holds, and no stored view reads the audit."""
    if not published.exists():
        return False
    try:
        with connect_read_only(published) as con:
            if truncation(con, published) is not None:
                return False
            row = con.execute(
                "select inputs_sha256 from audit.builds order by published_at desc, run_id desc limit 1"
            ).fetchone()
            runs = {r[0] for r in con.execute("select run_id from audit.load_runs").fetchall()}
    except Exception:  # noqa: BLE001 (whatever the file says, the flow finds it again and says why)
        return False
    recorded = {p.stem for p in (lake_dir / "_audit" / "load_runs").glob("*.parquet")}
    return (
        row is not None
        and row[0] == inputs.sha256
        and runs == recorded
        and not build.stored_views_reading_audit(sql_dir)
    )


class _FlowRun:
    """The run's record on the Prefect server, through its REST API (what the flow engine's client would send)."""

    def __init__(self, api_url: str) -> None:
        self.client = httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=10.0)
        self.id = ""
        self.name = ""

    def start(self, parameters: dict[str, Any]) -> None:
        flow = self._post("flows/", {"name": FLOW_NAME})
        state = {"type": "RUNNING", "name": "Running"}
        run = self._post("flow_runs/", {"flow_id": flow["id"], "parameters": parameters, "state": state, "tags": TAGS})
        self.id, self.name = run["id"], run["name"]

    def finish(self, *, failed: bool, message: str) -> None:
        state = {"type": "FAILED", "name": "Failed"} if failed else {"type": "COMPLETED", "name": "Completed"}
        self._post(f"flow_runs/{self.id}/set_state", {"state": {**state, "message": message}, "force": False})

    def artifact(self, key: str, kind: str, data: object, description: str | None = None) -> None:
        body = {"key": key, "type": kind, "data": data, "description": description, "flow_run_id": self.id}
        self._post("artifacts/", body)

    def logs(self, records: list[logging.LogRecord]) -> None:
        if os.environ.get("PREFECT_LOGGING_TO_API_ENABLED", "true").lower() in ("false", "0", "no", "off"):
            return
        entries = [
            {
                "name": r.name,
                "level": r.levelno,
                "message": r.getMessage(),
                "timestamp": dt.datetime.fromtimestamp(r.created, dt.UTC).isoformat(),
                "flow_run_id": self.id,
            }
            for r in records
        ]
        if entries:
            self._post("logs/", entries)

    def _post(self, path: str, body: object) -> Any:  # noqa: ANN401 (the API's JSON)
        response = self.client.post(path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None


def _discard_records(lake_dir: Path, run_id: str) -> None:
    """This run's audit records, removed: a run that turned out not to be a no-op is run by the flow instead."""
    for table in AUDIT_TABLES:
        (lake_dir / "_audit" / table / f"{run_id}.parquet").unlink(missing_ok=True)


def quick_noop(settings: Settings, api_url: str | None, started: dt.datetime) -> dict[str, Any] | None:
    """Run the night without Prefect's flow engine when it changes nothing; None when the flow must run it.

    Hold the writer lock, with ``publish.carry_over`` and ``prefetch`` started (``tradewh load`` does).

    Args:
        settings: the data folder's settings.
        api_url: the Prefect server the run is recorded on; None (Prefect's temporary server) runs the flow.
            A DuckLake target (``settings.lake_catalog``) runs the flow too: its publish into the lake is a task.
        started: when `tradewh load` started (the audit's start).

    Returns:
        The flow's result dict (run id, status, summary lines, failed sources, log file), or None.
    """
    if not api_url or settings.lake_catalog:
        return None
    try:
        catalogue = load_catalogue(settings.catalogue_path)
        if surely_changed(catalogue, settings):
            return None
        prefetch.wait_prefetched()
        results = _fetch_all(catalogue, settings)
        if results is None:
            return None
        inputs = build.build_inputs(
            lake_dir=settings.lake_dir,
            sql_dir=settings.sql_dir,
            seeds_dir=settings.seeds_dir,
            catalogue=catalogue,
            storage_version=settings.storage_version,
        )
        target = settings.warehouse_path
        if not unchanged_build(target, inputs, lake_dir=settings.lake_dir, sql_dir=settings.sql_dir):
            return None
        flow_run = _FlowRun(api_url)
        flow_run.start({"wait_for_lock": False, "lock_held": True, "started_at": started.isoformat()})
    except Exception:  # noqa: BLE001 (the flow meets it again, with its retries, and reports it)
        return None
    run = audit.new_run()
    run.started_at, run.results = started, results
    run.status, run.message = audit.run_status(results)
    lines, logger = _Lines(), logging.getLogger("warehouse")
    logger.addHandler(lines)
    try:
        with runlog.run_log(settings.logs_dir, run.run_id, settings.log_days) as log_file:
            return _republish(settings, catalogue, inputs, run, flow_run, lines, log_file)
    except BaseException as exc:  # a full disk while recording: the server's run must not stay Running
        with contextlib.suppress(Exception):
            flow_run.finish(failed=True, message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        logger.removeHandler(lines)


def _republish(
    settings: Settings,
    catalogue: list[Source],
    inputs: build.BuildInputs,
    run: audit.Run,
    flow_run: _FlowRun,
    lines: _Lines,
    log_file: Path,
) -> dict[str, Any] | None:
    target = settings.warehouse_path
    log.info(
        "run %s: log file %s; Prefect flow run %s (no flow engine: nothing changed)",
        run.run_id,
        log_file,
        flow_run.name,
    )
    for path in publish.clear_debris(settings.home, keep=publish.carried_copies()):
        log.warning("removed %s, left by a run that did not finish", path)
    for number, result in enumerate(run.results, start=1):
        log.info("[%d/%d] %s: unchanged, skipped", number, len(catalogue), result.source_id)
    run.finished_at = dt.datetime.now(dt.UTC)
    audit.record_run(run, settings.lake_dir)
    reason = build.reason_to_rebuild(target, inputs, run.run_id, lake_dir=settings.lake_dir, sql_dir=settings.sql_dir)
    if reason:  # changed since unchanged_build looked: the flow runs the night, this run never was
        _discard_records(settings.lake_dir, run.run_id)
        flow_run.finish(failed=False, message=f"not a no-op after all ({reason}): the flow runs the night")
        return None
    failed = ""
    try:
        carried = publish.republish(target, inputs, run.run_id, lake_dir=settings.lake_dir)
        log.info(
            "nothing it is built from changed: published %s again with this run's audit (%s)",
            target,
            "on the copy made while Prefect started" if carried else "copied now",
        )
        print(  # the flow's console shows its lines; this run's are in its log file, and this one
            f"tradewh load: nothing it is built from changed: published {target} again with this run's audit "
            f"(Prefect flow run {flow_run.name}, recorded without the flow engine)",
            flush=True,
        )
    except Exception as exc:  # noqa: BLE001 (recorded as the flow records a failed publish, then raised by the caller)
        failed = f"build or publish failed, previous warehouse kept: {exc}"
        run.status, run.message = "failed", failed
        run.finished_at = dt.datetime.now(dt.UTC)
        log.error("run %s: %s", run.run_id, failed)
    for line in audit.summary_lines(run):
        log.info(line)
    if failed:  # the lake's copy of the audit ends where the run did (a republish published it as recorded above)
        audit.record_run(run, settings.lake_dir)
    if not failed:
        _artifacts(run, target, flow_run)
    outcome = {
        "run_id": run.run_id,
        "status": run.status,
        "summary": audit.summary_lines(run),
        "failed_sources": [],
        "log_file": str(log_file),
    }
    try:
        flow_run.logs(lines.records)
        flow_run.finish(failed=bool(failed), message=failed)
    except httpx.HTTPError as exc:
        log.warning("the run could not be recorded on the Prefect server: %s", exc)
    if failed:
        event = notify.RunEvent(flow_run.id, flow_run.name, "Failed", failed, run.run_id, "failed", [], str(log_file))
        notify.notify_quietly(settings.notify_url, event)
    return outcome


def _artifacts(run: audit.Run, warehouse: Path, flow_run: _FlowRun) -> None:
    """The flow's three artifacts (sources, freshness, summary) and its freshness lines."""
    stale = audit.freshness_rows(warehouse)
    for row in stale:
        if row["freshness_status"] in ("warn", "error"):
            level = logging.ERROR if row["freshness_status"] == "error" else logging.WARNING
            log.log(
                level,
                "%s: freshness %s: %s h old, warn after %s h, error after %s h",
                row["source_id"],
                row["freshness_status"],
                row["age_hours"],
                row["warn_after_hours"],
                row["error_after_hours"],
            )
    summary = audit.summary_markdown(run, publish.largest_revisions(warehouse))
    try:
        flow_run.artifact(
            "tradewh-sources",
            "table",
            json.dumps(audit.sources_table(run), default=str),
            f"Sources of run {run.run_id}",
        )
        flow_run.artifact(
            "tradewh-freshness", "table", json.dumps(stale, default=str), f"Source freshness after {run.run_id}"
        )
        flow_run.artifact("tradewh-run-summary", "markdown", summary)
    except httpx.HTTPError as exc:
        log.warning("the run's artifacts could not be recorded on the Prefect server: %s", exc)
