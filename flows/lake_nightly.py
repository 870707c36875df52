"""The nightly on the DuckLake target, in parallel: every catalogue source fetched and staged by its own task on
Prefect's Dask task runner (a local cluster of worker processes), each of its vintages written into the DuckLake as
it is staged (``lake.ingest.<dataset>``, one transaction a vintage, the writes into one dataset serialised by a
Prefect global concurrency limit and retried on a conflict); then ONE build of the warehouse file from the local
lake zone the stage step committed, and its publish into the lake as one snapshot (commit message: the run id).

Runs in the lake environment against a Prefect server that outlives the run (``tradewh server start``'s server for
the home is found as ``tradewh load`` finds it, or ``PREFECT_API_URL``): the Dask workers report to it; Prefect's
temporary server is not for them (issue 21: the workers of a second run timed out against it), so without one the
command says how to start it and exits.

    TRADEWH_LAKE_CATALOG='postgres:dbname=lake host=127.0.0.1 port=5432 user=tradewh' \\
        .venv-lake/bin/python -m flows.lake_nightly --workers 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from functools import cache
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.states import Failed

from flows import nightly
from warehouse import publish
from warehouse.common import runlog
from warehouse.common.reference import known_country_codes
from warehouse.common.settings import Settings, load_settings
from warehouse.ducklake import ingest, publish_to_lake
from warehouse.ducklake.connect import LakeTarget, configured_target
from warehouse.extract.catalogue import Source, load_catalogue
from warehouse.lake import audit
from warehouse.orchestrate.prefect_server import configure_prefect
from warehouse.publish.debris import clear_debris
from warehouse.publish.lock import writer_lock


def lake_target(settings: Settings) -> LakeTarget:
    """The lake from ``TRADEWH_LAKE_CATALOG`` / ``TRADEWH_LAKE_DATA``, by default a SQLite catalog and a data folder
    under ``<TRADEWH_HOME>/ducklake`` (the catalog's folder made)."""
    return configured_target(settings, create=True)


def where_am_i() -> dict[str, Any]:
    """The Dask worker running this task (its address) and the process id."""
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker: the flow's own process
        worker = "local"
    return {"worker": worker, "pid": os.getpid()}


@task(cache_policy=NO_CACHE)
def ingest_source(source: Source, settings: Settings, run_id: str) -> dict[str, Any]:
    """Fetch, stage and commit one source to the local lake zone (the nightly's own steps, its quarantine and audit)."""
    run = audit.Run(run_id=run_id, started_at=dt.datetime.now(dt.UTC))  # load_source reads only the run id
    codes = cache(lambda: known_country_codes(settings.seeds_dir / "reference"))
    result = nightly.load_source(source, run, settings, codes)
    return {"source_id": source.id, "result": result, **where_am_i()}


@task(cache_policy=NO_CACHE)
def write_partition(part: ingest.Partition, target: LakeTarget, run_id: str) -> dict[str, Any]:
    """Replace one vintage of a source in the DuckLake, one writer per dataset at a time (the Prefect limit)."""
    from prefect.concurrency.sync import concurrency

    with concurrency(ingest.concurrency_name(part.dataset), occupy=1, strict=True):
        held_from = time.time()  # the slot held from here to ``held_to``: no other write into this dataset meanwhile
        written = ingest.replace_partition(target, part, run_id)
        held_to = time.time()
    get_run_logger().info(
        "%s/%s: %d rows into lake %s in %d attempt(s), snapshot %d",
        part.source_id, part.vintage, written.rows, part.table, written.attempts, written.snapshot_id,
    )  # fmt: skip
    return {"source_id": part.source_id, "vintage": part.vintage, "dataset": part.dataset, "rows": written.rows,
            "attempts": written.attempts, "snapshot_id": written.snapshot_id, "held_from": held_from,
            "held_to": held_to, **where_am_i()}  # fmt: skip


@task(cache_policy=NO_CACHE)
def publish_lake(settings: Settings, target: LakeTarget, run_id: str) -> int:
    """The warehouse file the build published, into the lake as one snapshot (commit message: the run id)."""
    snapshot = publish_to_lake(settings.warehouse_path, target, run_id=run_id)
    get_run_logger().info("published run %s into the lake: snapshot %d", run_id, snapshot)
    return snapshot


def ensure_limits(datasets: set[str]) -> None:
    """One Prefect global concurrency limit per dataset (one slot): the writes into its table take turns."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for dataset in sorted(datasets):
            client.upsert_global_concurrency_limit_by_name(ingest.concurrency_name(dataset), 1)


# the outcome of the last lake_nightly run in this process: its returned state may come back from the API without
# its data (Prefect's MissingResult: seen once in a CI run of two Dask workers, the run Completed), and the flow ran
# here, so run_lake_nightly reads it from here then
_LAST_OUTCOME: dict[str, Any] = {}


@flow(name="tradewh-lake-nightly", persist_result=False)
def lake_nightly() -> object:
    """Load every catalogue source in parallel into the DuckLake, then build and publish the warehouse once."""
    settings, logger, run = load_settings(), get_run_logger(), audit.new_run()
    target = lake_target(settings)
    tasks: list[dict[str, Any]] = []
    with runlog.run_log(settings.logs_dir, run.run_id, settings.log_days), writer_lock(settings.home):
        for path in clear_debris(settings.home, keep=publish.carried_copies()):
            logger.warning("removed %s, left by a run that did not finish", path)
        catalogue = load_catalogue(settings.catalogue_path)
        ensure_limits({s.dataset for s in catalogue})
        known = ingest.recorded(target)  # and a new lake created, before the writers start
        staged = [ingest_source.submit(source, settings, run.run_id) for source in catalogue]
        writes = []
        for future in as_completed(staged):  # a source's vintages go to the lake while others still stage
            done = future.result()
            tasks.append({"task": "ingest_source", **{k: v for k, v in done.items() if k != "result"}})
            run.results.append(done["result"])
            source = next(s for s in catalogue if s.id == done["source_id"])
            for part in ingest.pending(ingest.partitions(source, settings.lake_dir), known):
                writes.append(write_partition.submit(part, target, run.run_id))
        failed_writes = []
        for future in writes:
            future.wait()
            state = future.state
            if state.is_completed():
                tasks.append({"task": "write_partition", **future.result()})
            else:
                failed_writes.append(str(state.message))
        run.results.sort(key=lambda r: [s.id for s in catalogue].index(r.source_id))
        run.status, run.message = audit.run_status(run.results)
        if failed_writes:
            run.status, run.message = "partial", f"{len(failed_writes)} lake write(s) failed: {failed_writes[0]}"
        audit.record_run(run, settings.lake_dir)
        loaded_nothing = not any(r.status == "loaded" for r in run.results)
        published = nightly.publish_unchanged(settings, catalogue, run) if loaded_nothing else None
        published = published or nightly.build_and_publish(settings, catalogue, run)
        audit.record_run(run, settings.lake_dir)
        snapshot = publish_lake(settings, target, run.run_id)
        for line in audit.summary_lines(run):
            logger.info(line)
    outcome = {"run_id": run.run_id, "status": run.status, "snapshot_id": snapshot, "tasks": tasks,
               "failed_sources": [(r.source_id, r.message) for r in run.results if r.status == "failed"],
               "failed_writes": failed_writes}  # fmt: skip
    _LAST_OUTCOME.clear()
    _LAST_OUTCOME.update(outcome)
    if run.status == "succeeded":
        return outcome
    return Failed(name="Partial", message=run.message or "", data=outcome)


def result_of(state: Any) -> object:  # noqa: ANN401 (a Prefect state; its result, whatever the flow returned)
    """The flow's result from its final state; where the state came back from the API without its data (Prefect's
    MissingResult), the outcome the run recorded in this process before it returned."""
    from prefect.exceptions import MissingResult

    try:
        return state.result(raise_on_failure=False)
    except MissingResult:
        if not _LAST_OUTCOME:
            raise
        return dict(_LAST_OUTCOME)


def run_lake_nightly(workers: int | None = None) -> dict[str, Any]:
    """Run the flow on a local Dask cluster of ``workers`` processes (``TRADEWH_LAKE_WORKERS``, default 2)."""
    from prefect_dask import DaskTaskRunner

    workers = workers or load_settings().lake_workers
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": workers, "processes": True, "threads_per_worker": 1})
    _LAST_OUTCOME.clear()
    state = lake_nightly.with_options(task_runner=runner)(return_state=True)
    result = result_of(state)
    if isinstance(result, BaseException):
        raise result
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.lake_nightly", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=None, help="Dask worker processes (TRADEWH_LAKE_WORKERS, 2)")
    args = parser.parse_args(argv)
    if not configure_prefect(load_settings()):  # finds `tradewh server start`'s server for this home
        print(
            "tradewh lake: no Prefect server to run on: start one with `tradewh server start` (or set "
            "PREFECT_API_URL); the Dask workers report to it, and Prefect's temporary server is not for them",
            file=sys.stderr,
        )
        return 2
    outcome = run_lake_nightly(args.workers)
    print(json.dumps(outcome, default=str))
    return 0 if outcome["status"] == "succeeded" else 1


if __name__ == "__main__":
    from flows.lake_nightly import main as _main  # the flow and tasks by their module's name, for the Dask workers

    sys.exit(_main())
