"""The lake's weekly maintenance: expire old snapshots (never the latest publishes), merge small files, delete the
files nothing references. Runs in the lake environment (DuckDB 1.5.5): the prefect.yaml deployment
``tradewh-lake-maintenance`` starts it with ``.venv-lake/bin/python``; ``.venv-lake/bin/python -m
flows.lake_maintenance`` runs it once. The steps are ``warehouse.ducklake.maintenance.maintain``."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from warehouse.common.settings import load_settings
from warehouse.ducklake.connect import LakeTarget, configured_target
from warehouse.ducklake.maintenance import MaintenanceReport, maintain
from warehouse.publish.lock import writer_lock

WEEKLY = "0 4 * * 0"  # Sundays 04:00 UTC, two hours after the nightly's start


def lake_target() -> LakeTarget:
    """The lake ``python -m warehouse.ducklake`` and the nightly publish into (``TRADEWH_LAKE_CATALOG``,
    ``TRADEWH_LAKE_DATA``; by default a SQLite catalog under ``<TRADEWH_HOME>/ducklake``)."""
    return configured_target(load_settings())


@task(cache_policy=NO_CACHE)
def maintain_lake(
    target: LakeTarget, older_than_days: float, keep: int, files_older_than_hours: float, dry_run: bool
) -> MaintenanceReport:
    """Expire, merge, clean up (``warehouse.ducklake.maintenance.maintain``)."""
    return maintain(
        target, older_than_days=older_than_days, keep=keep, files_older_than_hours=files_older_than_hours,
        dry_run=dry_run,
    )  # fmt: skip


@flow(name="tradewh-lake-maintenance", persist_result=False)
def lake_maintenance(
    older_than_days: float = 30, keep: int = 7, files_older_than_hours: float = 24, dry_run: bool = False
) -> dict:
    """Maintain the lake, holding the data folder's writer lock (queued behind a running nightly)."""
    settings, logger, target = load_settings(), get_run_logger(), lake_target()
    if target.catalog.startswith("sqlite:") and not Path(target.catalog.removeprefix("sqlite:")).exists():
        raise FileNotFoundError(f"no lake at {target.catalog}: publish into it first (python -m warehouse.ducklake)")
    with writer_lock(settings.home, wait=True):
        report = maintain_lake(target, older_than_days, keep, files_older_than_hours, dry_run)
    logger.info("lake maintenance: %s", report.summary())
    create_markdown_artifact(f"**Lake maintenance**: {report.summary()}", key="tradewh-lake-maintenance")
    return dataclasses.asdict(report)


if __name__ == "__main__":  # once; with --serve, weekly in this process (without a worker)
    if "--serve" in sys.argv:
        lake_maintenance.serve(name="tradewh-lake-maintenance", cron=WEEKLY)
    else:
        lake_maintenance()
