"""One place that reads the environment. Every function elsewhere takes paths as arguments."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # warehouse/common/settings.py -> the checkout


@dataclass(frozen=True)
class Settings:
    """Where tradewh reads and writes.

    Attributes:
        project_root: the checkout (catalogue, seeds and SQL live here).
        home: the data folder: raw payloads, the Parquet lake, the published warehouse, Prefect's state.
        catalogue_path: the source catalogue (TOML).
        allowed_roots: folders a catalogue ``path`` may point into (the project and the shared data by default).
        reject_threshold: share of rejected rows above which a whole source fails (0.05 = 5 %).
        storage_version: DuckDB storage version of the published file (readable by older DuckDB clients).
        cron: the nightly schedule used by ``tradewh serve``.
        timezone: the time zone of that schedule.
        duckdb_memory_limit: DuckDB's memory limit while building the warehouse; beyond it DuckDB spills to
            ``duckdb_temp_dir``. The default leaves room for Python, pandas and Prefect in a 1 GiB process.
        duckdb_staging_memory_limit: DuckDB's memory limit for the rules run over all staged rows of a source
            (``duckdb_config``), beside what the load holds then: the staged rows' rejected rows and quarantine,
            Python's and Arrow's heaps (about 540 MiB at 10M rows with 1 % bad rows, which with 512MB more took
            the process to 1,035 MiB; at 256MB the pass takes 0.2 s longer).
        batch_rows: rows per batch for parsers that stream (``TRADEWH_BATCH_ROWS``): memory grows with it, not
            with the input.
        publish_history: how many publishes ``<home>/warehouse/history`` keeps for ``tradewh rollback``
            (``TRADEWH_PUBLISH_HISTORY``; hard links of the published file, so the one in place costs no space).
        notify_url: where a failed or partial run is reported (``TRADEWH_NOTIFY_URL``): an http(s) webhook that
            receives JSON, or any Apprise URL (``slack://``, ``mailto://``, ...); empty: no notification.
        log_days: how many days of run logs ``<home>/logs`` keeps (``TRADEWH_LOG_DAYS``).
        server_port: the port ``tradewh server start`` binds on 127.0.0.1 (``TRADEWH_SERVER_PORT``).
    """

    project_root: Path
    home: Path
    catalogue_path: Path
    allowed_roots: tuple[Path, ...]
    reject_threshold: float
    storage_version: str
    cron: str
    timezone: str
    duckdb_memory_limit: str = "512MB"
    batch_rows: int = 200_000
    duckdb_staging_memory_limit: str = "256MB"
    publish_history: int = 3
    notify_url: str = ""
    log_days: int = 14
    server_port: int = 4200

    @property
    def raw_dir(self) -> Path:
        return self.home / "raw"

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse" / "tradewh.duckdb"

    @property
    def duckdb_config(self) -> dict[str, str]:
        """DuckDB settings for the staging's own connections: the memory limit and the spill folder."""
        self.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
        return {"memory_limit": self.duckdb_staging_memory_limit, "temp_directory": str(self.duckdb_temp_dir)}

    @property
    def duckdb_temp_dir(self) -> Path:
        """Where DuckDB spills while building (an in-memory DuckDB has no spill folder of its own)."""
        return self.home / "tmp"

    @property
    def seeds_dir(self) -> Path:
        return self.project_root / "seeds"

    @property
    def sql_dir(self) -> Path:
        return self.project_root / "sql"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read ``TRADEWH_*`` variables, with defaults relative to the project.

    Args:
        env: the environment to read (``os.environ`` when None); tests pass their own.

    Returns:
        The settings.
    """
    env = dict(os.environ) if env is None else env
    root = Path(env.get("TRADEWH_PROJECT_ROOT", PROJECT_ROOT)).resolve()
    home = Path(env.get("TRADEWH_HOME", root / "data")).resolve()
    extra = [Path(p).resolve() for p in env.get("TRADEWH_ALLOWED_ROOTS", "").split(os.pathsep) if p]
    return Settings(
        project_root=root,
        home=home,
        catalogue_path=Path(env.get("TRADEWH_CATALOGUE", root / "catalogue.toml")).resolve(),
        allowed_roots=(root, (root.parent / "shared").resolve(), *extra),
        reject_threshold=float(env.get("TRADEWH_REJECT_THRESHOLD", "0.05")),
        storage_version=env.get("TRADEWH_STORAGE_VERSION", "v1.3.0"),
        cron=env.get("TRADEWH_CRON", "0 2 * * *"),
        timezone=env.get("TRADEWH_TIMEZONE", "UTC"),
        duckdb_memory_limit=env.get("TRADEWH_DUCKDB_MEMORY_LIMIT", "512MB"),
        batch_rows=int(env.get("TRADEWH_BATCH_ROWS", "200000")),
        duckdb_staging_memory_limit=env.get("TRADEWH_DUCKDB_STAGING_MEMORY_LIMIT", "256MB"),
        publish_history=int(env.get("TRADEWH_PUBLISH_HISTORY", "3")),
        notify_url=env.get("TRADEWH_NOTIFY_URL", ""),
        log_days=int(env.get("TRADEWH_LOG_DAYS", "14")),
        server_port=int(env.get("TRADEWH_SERVER_PORT", "4200")),
    )
