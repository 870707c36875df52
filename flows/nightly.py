"""The nightly load: every catalogue source through fetch, parse, validate and Parquet; then build and publish."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from warehouse import build, lake, publish
from warehouse.common import runlog
from warehouse.common.errors import SourceError, storage_error
from warehouse.common.reference import known_country_codes
from warehouse.common.settings import Settings, load_settings
from warehouse.extract import fetch, prefetch
from warehouse.extract.catalogue import Source, load_catalogue
from warehouse.lake import audit
from warehouse.orchestrate import notify
from warehouse.orchestrate.heartbeat import flow_run_heartbeats
from warehouse.publish.debris import clear_debris
from warehouse.publish.lock import writer_lock

if TYPE_CHECKING:
    from schemas.context import RunContext
    from warehouse import stage as ingest

# warehouse.stage.staging (pandas, pandera) is imported by the tasks that stage rows: a run that finds every source
# unchanged does not import it (0.4 s of a no-op run)


def _network_error(task, task_run, state) -> bool:  # noqa: ANN001 (Prefect's callback signature)
    """Retry only what a retry can fix: connection errors, timeouts, 429 and 5xx (raised as ConnectionError)."""
    try:
        state.result()
    except ConnectionError:
        return True
    except Exception:  # noqa: BLE001 (any other failure is final)
        return False
    return False


@task(retries=3, retry_delay_seconds=[2, 10, 30], retry_condition_fn=_network_error, cache_policy=NO_CACHE)
def fetch_source(source: Source, settings: Settings) -> list[fetch.Payload]:
    """Fetch a source's payloads into the raw zone."""
    payloads = fetch.fetch_source(
        source,
        seeds_dir=settings.seeds_dir,
        project_root=settings.project_root,
        roots=settings.allowed_roots,
        raw_dir=settings.raw_dir,
        headers_from_env=dict(source.headers_from_env),
        secret_blocks=dict(source.secret_blocks),
    )
    get_run_logger().info("%s: fetched %d file(s), %d bytes", source.id, len(payloads), sum(p.size for p in payloads))
    return payloads


@task(cache_policy=NO_CACHE)
def parse_and_validate(
    source: Source, payloads: list[fetch.Payload], context: RunContext, settings: Settings, run_id: str
) -> ingest.Staged:
    """Parse the payloads batch by batch, validate each batch, stage the valid rows as Parquet."""
    from warehouse import stage as ingest

    staged = ingest.stage_source(
        source,
        payloads,
        context,
        settings.lake_dir,
        run_id,
        batch_rows=settings.batch_rows,
        duckdb_config=settings.duckdb_config,
    )
    get_run_logger().info(
        "%s: parsed %d rows in %d batch(es): %d valid, %d quarantine row(s)",
        source.id,
        staged.rows_read,
        staged.batches,
        staged.rows_valid,
        len(staged.quarantine),
    )
    return staged


@task(cache_policy=NO_CACHE)
def write_parquet(
    source: Source, staged: ingest.Staged, payloads: list[fetch.Payload], settings: Settings, run_id: str
) -> list[str]:
    """Commit the staged rows to the lake, one folder per vintage."""
    from warehouse import stage as ingest

    return ingest.commit_lake(source, staged, payloads, settings.lake_dir, run_id)


def _build_inputs(settings: Settings, catalogue: list[Source]) -> build.BuildInputs:
    return build.build_inputs(
        lake_dir=settings.lake_dir,
        sql_dir=settings.sql_dir,
        seeds_dir=settings.seeds_dir,
        catalogue=catalogue,
        storage_version=settings.storage_version,
    )


@task(cache_policy=NO_CACHE)
def publish_unchanged(settings: Settings, catalogue: list[Source], run: audit.Run) -> Path | None:
    """When nothing the warehouse is built from changed, publish it again with this run's audit rows, unbuilt."""
    run_id = run.run_id
    inputs, target = _build_inputs(settings, catalogue), settings.warehouse_path
    reason = build.reason_to_rebuild(target, inputs, run_id, lake_dir=settings.lake_dir, sql_dir=settings.sql_dir)
    if reason:
        get_run_logger().info("rebuilding the warehouse: %s", reason)
        return None
    run.finished_at = dt.datetime.now(dt.UTC)  # start to publish: the republish itself takes a moment
    audit.record_run(run, settings.lake_dir)
    carried = publish.republish(target, inputs, run_id, lake_dir=settings.lake_dir)
    get_run_logger().info(
        "nothing it is built from changed: published %s again with this run's audit (%s)",
        target,
        "on the copy made while Prefect started" if carried else "copied now",
    )
    return target


def _build_on_published(settings: Settings, plan: build.Plan, inputs: build.BuildInputs, run: audit.Run) -> bool:
    """Build on a copy of the published file, replacing only the changed sources (``build.build_incremental``) and
    publish it; False (the reason logged) when the night must build in full instead."""
    logger, target = get_run_logger(), settings.warehouse_path
    if plan.reason is not None:
        logger.info("full build: %s", plan.reason)
        return False
    copy = publish.working_copy(target, run.run_id)
    try:
        try:
            done = build.build_incremental(
                copy,
                plan,
                lake_dir=settings.lake_dir,
                sql_dir=settings.sql_dir,
                memory_limit=settings.duckdb_memory_limit,
                temp_dir=settings.duckdb_temp_dir,
                check=build.check_trade_figures,
                finish=lambda con: (_finished(run)(con), build.stamp_build(con, inputs, run.run_id)),
            )
        except Exception as exc:  # noqa: BLE001 (any doubt: the full build, which reads everything again)
            logger.warning("full build: building on the published file failed: %s: %s", type(exc).__name__, exc)
            return False
        publish.publish(copy, target, run_id=run.run_id)
    finally:
        copy.unlink(missing_ok=True)
        copy.with_name(copy.name + ".wal").unlink(missing_ok=True)
    replaced = ", ".join(f"{d}/{s}" for d, s in plan.sources)
    logger.info("published %s, built on the published file: %s replaced; stored views: %s", target, replaced, done)
    return True


@task(cache_policy=NO_CACHE)
def build_and_publish(settings: Settings, catalogue: list[Source], run: audit.Run) -> Path:
    """Build a new warehouse file (on the published one when only some sources changed) and swap it in atomically."""
    run_id = run.run_id
    target = settings.warehouse_path
    inputs = _build_inputs(settings, catalogue)  # before the build reads them: a change meanwhile rebuilds next time
    if _build_on_published(settings, build.plan_incremental(target, inputs), inputs, run):
        return target
    publish.drop_carried(target)  # the copy made in case nothing changed: a build does not need it
    target.parent.mkdir(parents=True, exist_ok=True)
    built = target.with_name(f".{target.name}.{run_id}.building")
    built.unlink(missing_ok=True)
    try:
        build.build_warehouse(
            built,
            lake_dir=settings.lake_dir,
            seeds_dir=settings.seeds_dir,
            sql_dir=settings.sql_dir,
            catalogue=catalogue,
            storage_version=settings.storage_version,
            memory_limit=settings.duckdb_memory_limit,
            temp_dir=settings.duckdb_temp_dir,
            check=build.check_trade_figures,
            finish=lambda con: (_finished(run)(con), build.stamp_build(con, inputs, run_id)),
        )
        publish.publish(built, target, run_id=run_id)
    finally:
        built.unlink(missing_ok=True)
        built.with_name(built.name + ".wal").unlink(missing_ok=True)
    get_run_logger().info("published %s", target)
    return target


def load_source(
    source: Source, run: audit.Run, settings: Settings, country_codes: Callable[[], frozenset[str]]
) -> audit.SourceResult:
    """One source through fetch, parse, validate and Parquet; a failure stays with this source."""
    result = audit.SourceResult(source.id, source.dataset, "failed")
    logger = get_run_logger()
    try:
        payloads = fetch_source(source, settings)
        result.files = audit.files_of(payloads)
        if lake.unchanged(source, payloads, settings.lake_dir):
            result.status = "skipped"
            result.message = "unchanged since the last load"
            logger.info("%s: unchanged, skipped", source.id)
            return result
        damaged = lake.damaged(source, payloads, settings.lake_dir)
        if damaged:
            logger.warning("%s: staged again: %s", source.id, "; ".join(damaged))
        from warehouse.stage.staging import run_context

        context = run_context(source, settings.seeds_dir / "reference", country_codes())
        staged = parse_and_validate(source, payloads, context, settings, run.run_id)
        result.rows_read, result.rows_valid = staged.rows_read, staged.rows_valid
        result.rows_rejected = staged.rows_read - staged.rows_valid
        result.quarantine = staged.quarantine
        result.vintages = staged.vintages
        result.losses = staged.losses
        for line in audit.loss_lines(staged.losses):  # loud, whatever the threshold: sums lack what was lost
            logger.warning("%s: partial loss: %s", source.id, line)
        threshold = source.threshold(settings.reject_threshold)
        refusal = audit.over_threshold(staged.rows_read, result.rows_rejected, threshold)
        if refusal:
            staged.discard()
            result.message = refusal
            logger.error("%s: %s", source.id, refusal)
            return result
        write_parquet(source, staged, payloads, settings, run.run_id)
        result.status, result.rows_loaded = "loaded", staged.rows_valid
        notes = [f"staged again: {'; '.join(damaged)}"] if damaged else []
        if result.rows_rejected:
            notes.append(f"{result.rows_rejected} row(s) quarantined, see audit.rejected_rows")
            logger.warning("%s: %s", source.id, notes[-1])
        if staged.losses:
            notes.append(f"WARNING: {_losses_note(staged.losses)}")
        result.message = "; ".join(notes)
    except SourceError as exc:
        result.message = str(exc)
        logger.error("%s", exc)
    except Exception as exc:  # noqa: BLE001 (one source's failure must not stop the others)
        problem = storage_error(exc, settings.home)  # a full disk, a read-only folder: the path and the fix
        result.message = str(problem) if problem else f"{type(exc).__name__}: {exc}"
        logger.error("%s: %s", source.id, result.message)
    return result


def _losses_note(losses: list[audit.Loss]) -> str:
    """The source's message about its partial losses: how many of each dimension, the first values."""
    by_dimension: dict[str, list[str]] = {}
    for loss in losses:
        by_dimension.setdefault(loss.dimension, []).append(loss.value or loss.file_name)
    parts = [
        f"every row of {len(values)} {dimension}(s) rejected ({', '.join(values[:3])}"
        + (", ...)" if len(values) > 3 else ")")
        for dimension, values in by_dimension.items()
    ]
    return "; ".join(parts) + ", see audit.partial_losses"


@task(cache_policy=NO_CACHE)
def publish_artifacts(run: audit.Run, warehouse: Path) -> None:
    """A table of sources, each source's freshness and a markdown summary with the largest revisions, as Prefect
    artifacts; a source past its freshness threshold is a warning or an error line in the run's log."""
    logger = get_run_logger()
    create_table_artifact(
        key="tradewh-sources", table=audit.sources_table(run), description=f"Sources of run {run.run_id}"
    )
    stale = audit.freshness_rows(warehouse)
    for row in stale:
        if row["freshness_status"] in ("warn", "error"):
            log = logger.error if row["freshness_status"] == "error" else logger.warning
            log(
                "%s: freshness %s: %s h old, warn after %s h, error after %s h",
                row["source_id"],
                row["freshness_status"],
                row["age_hours"],
                row["warn_after_hours"],
                row["error_after_hours"],
            )
    create_table_artifact(key="tradewh-freshness", table=stale, description=f"Source freshness after {run.run_id}")
    revisions = publish.largest_revisions(warehouse)  # recorded at build: a no-op run does not query the marts
    create_markdown_artifact(key="tradewh-run-summary", markdown=audit.summary_markdown(run, revisions))


@task(cache_policy=NO_CACHE)
def publish_lake(settings: Settings, warehouse: Path, run: audit.Run) -> int:
    """The DuckLake target (``TRADEWH_LAKE_CATALOG``): the file just published, into the lake as one snapshot."""
    from warehouse.ducklake.nightly import publish_nightly_to_lake  # only a night with a lake target needs it

    done = publish_nightly_to_lake(settings, warehouse, run.run_id)
    get_run_logger().info("published DuckLake snapshot %d to %s (run %s)", done.snapshot_id, done.catalog, run.run_id)
    return done.snapshot_id


def _finished(run: audit.Run) -> Callable[[object], None]:
    """The build's last step: the run ends now (start to publish), in the audit row the new file carries."""

    def finish(con) -> None:  # noqa: ANN001 (a DuckDB connection)
        run.finished_at = dt.datetime.now(dt.UTC)
        con.execute("update audit.load_runs set finished_at = ? where run_id = ?", [run.finished_at, run.run_id])

    return finish


# the tasks whose failure stays with one source: ``load_source`` says it on one line; Prefect's own lines about it
# (the exception with its traceback, the task's failed state) go to the run's log file only
_SOURCE_TASKS = ("fetch_source", "parse_and_validate", "write_parquet")
_TASK_FAILED = ("Task run failed with ", "Finished in state Failed")


class _OneLinePerFailure(logging.Filter):
    """Keeps Prefect's lines about a source task's failure off the console (``load_source`` logs one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not record.name.startswith("prefect.task_runs"):
            return True
        task = str(getattr(record, "task_name", "") or getattr(record, "task_run_name", ""))
        return not (task.startswith(_SOURCE_TASKS) and str(record.msg).startswith(_TASK_FAILED))


class _WithoutTraceback(logging.Formatter):
    """A console handler's formatter that prints a record's message without its traceback (which the run's log
    file keeps: its handler formats the record first, on the ``prefect`` logger, before the root's console)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if not (record.exc_info or record.exc_text):
            return self.inner.format(record)
        copy = logging.makeLogRecord(record.__dict__)
        copy.exc_info, copy.exc_text, copy.stack_info = None, None, None
        return self.inner.format(copy) + " (traceback in the run's log file)"


@contextmanager
def one_line_per_failure() -> Iterator[None]:
    """While the block runs, the console (the root logger's stream handlers) shows a failure as one line: no
    traceback, and no repeat of a source's failure by Prefect's task engine; the run's log file keeps everything."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    quiet = _OneLinePerFailure()
    formatters = [h.formatter for h in handlers]
    for handler in handlers:
        handler.addFilter(quiet)
        handler.setFormatter(_WithoutTraceback(handler.formatter))
    try:
        yield
    finally:
        for handler, formatter in zip(handlers, formatters, strict=True):
            handler.removeFilter(quiet)
            handler.setFormatter(formatter)  # type: ignore[arg-type]


def notify_failure(flow, flow_run, state) -> None:  # noqa: ANN001 (Prefect's hook signature)
    """Prefect's on_failure / on_crashed hook: send a failed or partial night to ``TRADEWH_NOTIFY_URL``."""
    settings = load_settings()
    result = state.result(raise_on_failure=False) if state.is_failed() else None
    details = result if isinstance(result, dict) else {}
    event = notify.RunEvent(
        flow_run_id=str(flow_run.id),
        flow_run_name=flow_run.name,
        state=state.name or state.type.value,
        message=state.message or "",
        run_id=details.get("run_id"),
        status=details.get("status"),
        failed_sources=[notify.FailedSource(s, m) for s, m in details.get("failed_sources", [])],
        log_file=details.get("log_file"),
    )
    notify.notify_quietly(settings.notify_url, event)


# persist_result=False: the result (a small dict) stays in memory for `tradewh load` and the hooks; nothing is written
# to Prefect's result storage
@flow(name="tradewh-nightly", on_failure=[notify_failure], on_crashed=[notify_failure], persist_result=False)
def nightly(wait_for_lock: bool = False, lock_held: bool = False, started_at: str | None = None) -> object:
    """Load every catalogue source and publish the warehouse.

    A night where any source failed or was over its reject threshold ends in a FAILED state named ``Partial``
    (``Failed`` when every source failed), a failed build or publish in ``Failed``: Prefect's UI, automations
    and the notification hook see it. The result (``state.result()``) is the same dict either way.

    Args:
        wait_for_lock: queue behind a running load instead of exiting.
        lock_held: the caller (``tradewh load``) already holds the writer lock for this process.
        started_at: when the caller started (ISO 8601), so the audit's duration is the whole run's.
    """
    settings = load_settings()
    logger = get_run_logger()
    run = audit.new_run()
    if started_at:
        run.started_at = dt.datetime.fromisoformat(started_at)
    with (
        flow_run_heartbeats(),  # where `tradewh load` took them over from the engine
        runlog.run_log(settings.logs_dir, run.run_id, settings.log_days) as log_file,
        one_line_per_failure(),
        nullcontext() if lock_held else writer_lock(settings.home, wait=wait_for_lock),
    ):
        logger.info("run %s: log file %s", run.run_id, log_file)
        if prefetch.in_progress():  # a new file is being copied: the night stages it; import that code meanwhile
            import warehouse.stage.staging  # noqa: F401 (pandas, pandera, pyarrow: 1-2 s of GIL the copy does not need)
        prefetch.wait_prefetched()  # the local files `tradewh load` began keeping while Prefect started
        for path in clear_debris(settings.home, keep=publish.carried_copies()):
            logger.warning("removed %s, left by a run that did not finish", path)
        catalogue = load_catalogue(settings.catalogue_path)
        codes = cache(lambda: known_country_codes(settings.seeds_dir / "reference"))  # read once a source stages
        for number, source in enumerate(catalogue, start=1):
            logger.info("[%d/%d] %s (%s)", number, len(catalogue), source.id, source.dataset)  # progress
            result = load_source(source, run, settings, codes)
            logger.info(
                "[%d/%d] %s: %s, %d rows loaded", number, len(catalogue), source.id, result.status, result.rows_loaded
            )
            run.results.append(result)
        run.status, run.message = audit.run_status(run.results)
        run.finished_at = dt.datetime.now(dt.UTC)
        audit.record_run(run, settings.lake_dir)
        try:
            loaded_nothing = not any(r.status == "loaded" for r in run.results)
            published = publish_unchanged(settings, catalogue, run) if loaded_nothing else None
            published = published or build_and_publish(settings, catalogue, run)
        except Exception as exc:
            run.status, run.message = "failed", f"build or publish failed, previous warehouse kept: {exc}"
            run.finished_at = dt.datetime.now(dt.UTC)
            try:
                audit.record_run(run, settings.lake_dir)
            except Exception as record_failed:  # noqa: BLE001 (a full disk: the run's failure is what to raise)
                logger.error("run %s: its audit row could not be written either: %s", run.run_id, record_failed)
            raise
        finally:
            for line in audit.summary_lines(run):
                logger.info(line)
        audit.record_run(run, settings.lake_dir)  # the lake's copy of the audit ends where the published one does
        publish_artifacts(run, published)
        if settings.lake_catalog:  # after the file: a failed lake publish fails the night, the file stays published
            publish_lake(settings, published, run)
    outcome = {
        "run_id": run.run_id,
        "status": run.status,
        "summary": audit.summary_lines(run),
        "failed_sources": [(r.source_id, r.message) for r in run.results if r.status == "failed"],
        "log_file": str(log_file),
    }
    if run.status == "succeeded":
        return outcome
    failed = outcome["failed_sources"]
    message = f"{len(failed)} of {len(run.results)} source(s) failed: " + "; ".join(
        f"{source}: {why}" for source, why in failed
    )
    return Failed(name="Partial" if run.status == "partial" else "Failed", message=message, data=outcome)


if __name__ == "__main__":
    nightly()
