"""One place that reads the environment. Every function elsewhere takes paths as arguments."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

DEFAULT_BATCH_ROWS = 200_000  # rows parsed and validated at a time (TRADEWH_BATCH_ROWS): memory follows it
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
        lake_catalog: the DuckLake the nightly also publishes into, after the DuckDB file
            (``TRADEWH_LAKE_CATALOG``: ``sqlite:/path/catalog.sqlite`` or ``postgres:dbname=... host=...``; empty:
            the DuckDB file only, the embedded default).
        lake_data: the DuckLake's data path (``TRADEWH_LAKE_DATA``; empty: ``<home>/ducklake/data``).
        lake_python: the interpreter of the lake environment (``TRADEWH_LAKE_PYTHON``; empty: this interpreter when
            it can load DuckLake, else the checkout's ``.venv-lake/bin/python``).
        lake_workers: Dask worker processes of the parallel lake nightly (``TRADEWH_LAKE_WORKERS``).
        cache_dir: where tradewh keeps what any data folder of this machine can start from
            (``TRADEWH_CACHE_DIR``; empty: the user's cache folder, ``~/.cache/tradewh`` on Linux): today a
            migrated Prefect database (``warehouse.orchestrate.prefect_db``).
    """

    project_root: Path
    home: Path
    catalogue_path: Path
    allowed_roots: tuple[Path, ...]
    reject_threshold: float = 0.05
    storage_version: str = "v1.3.0"
    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    duckdb_memory_limit: str = "512MB"
    batch_rows: int = DEFAULT_BATCH_ROWS
    duckdb_staging_memory_limit: str = "256MB"
    publish_history: int = 3
    notify_url: str = ""
    log_days: int = 14
    server_port: int = 4200
    lake_catalog: str = ""
    lake_data: str = ""
    lake_python: str = ""
    lake_workers: int = 2
    cache_dir: str = ""

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

    @property
    def cache_path(self) -> Path:
        """``cache_dir``, or the user's cache folder (platformdirs)."""
        if self.cache_dir:
            return Path(self.cache_dir)
        import platformdirs

        return Path(platformdirs.user_cache_dir("tradewh", appauthor=False))

    @property
    def lake_data_path(self) -> str:
        """The DuckLake's data path: ``lake_data``, or ``<home>/ducklake/data``."""
        return self.lake_data or str(self.home / "ducklake" / "data")


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
    defaults = {f.name: f.default for f in fields(Settings) if f.default is not MISSING}  # each written once, above
    read = {
        name: cast(env[variable]) if variable in env else defaults[name]
        for name, (variable, cast) in ENVIRONMENT.items()
    }
    return Settings(
        project_root=root,
        home=home,
        catalogue_path=Path(env.get("TRADEWH_CATALOGUE", root / "catalogue.toml")).resolve(),
        allowed_roots=(root, (root.parent / "shared").resolve(), *extra),
        **read,
    )


# the settings read from the environment: field -> (variable, how its text is read)
ENVIRONMENT: dict[str, tuple[str, Callable[[str], object]]] = {
    "reject_threshold": ("TRADEWH_REJECT_THRESHOLD", float),
    "storage_version": ("TRADEWH_STORAGE_VERSION", str),
    "cron": ("TRADEWH_CRON", str),
    "timezone": ("TRADEWH_TIMEZONE", str),
    "duckdb_memory_limit": ("TRADEWH_DUCKDB_MEMORY_LIMIT", str),
    "batch_rows": ("TRADEWH_BATCH_ROWS", int),
    "duckdb_staging_memory_limit": ("TRADEWH_DUCKDB_STAGING_MEMORY_LIMIT", str),
    "publish_history": ("TRADEWH_PUBLISH_HISTORY", int),
    "notify_url": ("TRADEWH_NOTIFY_URL", str),
    "log_days": ("TRADEWH_LOG_DAYS", int),
    "server_port": ("TRADEWH_SERVER_PORT", int),
    "lake_catalog": ("TRADEWH_LAKE_CATALOG", str),
    "lake_data": ("TRADEWH_LAKE_DATA", str),
    "lake_python": ("TRADEWH_LAKE_PYTHON", str),
    "lake_workers": ("TRADEWH_LAKE_WORKERS", int),
    "cache_dir": ("TRADEWH_CACHE_DIR", str),
}
