"""Connections to a DuckLake: its extensions loaded with DuckDB's auto-install and auto-load off, the lake attached
under one name (``lake``), for writing or read-only, at the latest snapshot or a pinned one.

The extensions come from one of two places:
- **the PyPI-packaged builds** (``duckdb-extension-ducklake``, ``-sqlite``, ``-postgres``, each built for one DuckDB
  version, 1.5.5 in ``requirements-ducklake.lock``): loaded from the package's file, offline. DuckDB names an
  extension's entry point after its file, and two of these files are named after the extension's alias
  (``sqlite.duckdb_extension`` holds ``sqlite_scanner``): they are loaded through a symbolic link with the canonical
  name, made once in a cache folder (``TRADEWH_LAKE_EXTENSIONS``, default ``~/.cache/tradewh/duckdb-extensions``);
- **DuckDB's own extension folder**, the ordinary way (``INSTALL ducklake`` once where the internet is reachable),
  when no package is installed.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from warehouse.common.settings import Settings

# extension -> (PyPI package, the file the package ships, the name DuckDB loads it under)
PACKAGED = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake", "ducklake"),
    "sqlite": ("duckdb_extension_sqlite", "sqlite", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
}
ALIAS = "lake"  # the name the lake is attached under
# the settings of every lake connection: nothing installed or loaded behind the caller's back
BASE_CONFIG = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


class LakeUnavailable(RuntimeError):
    """DuckLake cannot be loaded in this environment (the message says how to get the lake environment)."""


def duckdb_version() -> str:
    return duckdb.__version__.removeprefix("v")


def packaged_file(extension: str) -> Path | None:
    """The extension file a PyPI package ships for this DuckDB's version, or None when none is installed.

    Raises:
        LakeUnavailable: the package is installed but built for another DuckDB version.
    """
    package, stem, _ = PACKAGED[extension]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    wanted = folder / f"v{duckdb_version()}" / f"{stem}.duckdb_extension"
    if wanted.is_file():
        return wanted
    built_for = sorted(p.parent.name for p in folder.glob(f"v*/{stem}.duckdb_extension"))
    raise LakeUnavailable(
        f"{package.replace('_', '-')} is built for DuckDB {', '.join(built_for) or '(none)'}, this is DuckDB "
        f"v{duckdb_version()}: run the lake in its own environment (`make lake-env`, then .venv-lake/bin/python)"
    )


def _link_dir() -> Path:
    default = Path.home() / ".cache" / "tradewh" / "duckdb-extensions"
    return Path(os.environ.get("TRADEWH_LAKE_EXTENSIONS", default)) / f"v{duckdb_version()}"


def loadable_path(file: Path, canonical: str) -> Path:
    """``file`` itself when DuckDB finds its entry point from its name, else a symbolic link named ``canonical``."""
    if file.stem == canonical:
        return file
    folder = _link_dir()
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"{canonical}.duckdb_extension"
    if not (link.is_symlink() and link.resolve() == file.resolve()):
        temp = folder / f".{canonical}.{os.getpid()}.link"
        temp.unlink(missing_ok=True)
        temp.symlink_to(file)
        os.replace(temp, link)  # atomic: another process loading at the same time sees the old link or the new
    return link


def load_extensions(con: duckdb.DuckDBPyConnection, extensions: tuple[str, ...]) -> dict[str, str]:
    """Load each extension, from its PyPI package's file where one is installed, else from DuckDB's own folder.

    Returns:
        extension -> where it was loaded from (a file, or ``duckdb`` for DuckDB's folder).

    Raises:
        LakeUnavailable: neither is there, or the package does not match this DuckDB.
    """
    loaded = {}
    for extension in extensions:
        file = packaged_file(extension)
        try:
            if file is not None:
                path = loadable_path(file, PACKAGED[extension][2])
                con.execute(f"load '{_quote(path)}'")
                loaded[extension] = str(file)
            else:
                con.execute(f"load {extension}")
                loaded[extension] = "duckdb"
        except duckdb.Error as exc:
            raise LakeUnavailable(
                f"cannot load the DuckDB extension {extension!r} ({exc}); install the lake environment: "
                "`make lake-env` (.venv-lake, DuckDB 1.5.5 with the packaged extensions), or `INSTALL "
                f"{extension}` where DuckDB can reach its extension repository"
            ) from exc
    return loaded


@dataclass(frozen=True)
class LakeTarget:
    """Where a DuckLake lives.

    Attributes:
        catalog: the catalog database, as DuckLake takes it after ``ducklake:``: ``sqlite:/path/lake.sqlite`` (one
            machine), ``postgres:dbname=... host=... port=...`` (several writers), or a plain path (a DuckDB file:
            one process at a time).
        data_path: the folder (or object store URL) of the lake's Parquet files.
    """

    catalog: str
    data_path: str

    @property
    def extensions(self) -> tuple[str, ...]:
        kind = self.catalog.split(":", 1)[0] if ":" in self.catalog else ""
        return ("ducklake", *((kind,) if kind in ("sqlite", "postgres") else ()))


def target_from(catalog: str, data_path: str | Path) -> LakeTarget:
    """A target from a command line's words: a bare ``*.sqlite`` path means a SQLite catalog."""
    if ":" not in catalog and catalog.endswith((".sqlite", ".db")):
        catalog = f"sqlite:{Path(catalog).resolve()}"
    data = str(data_path) if "://" in str(data_path) else str(Path(data_path).resolve())
    return LakeTarget(catalog=catalog, data_path=data.rstrip("/") + "/")


def configured_target(
    settings: Settings, *, catalog: str | None = None, data_path: str | Path | None = None, create: bool = False
) -> LakeTarget:
    """The lake of the settings (``TRADEWH_LAKE_CATALOG``, ``TRADEWH_LAKE_DATA``), a command line's ``catalog`` and
    ``data_path`` first; by default a SQLite catalog and a data folder under ``<TRADEWH_HOME>/ducklake``. With
    ``create``, the SQLite catalog's folder and a local data folder are made (a writer's first publish)."""
    catalog = catalog or settings.lake_catalog or str(settings.home / "ducklake" / "catalog.sqlite")
    target = target_from(catalog, data_path or settings.lake_data_path)
    if create:
        if target.catalog.startswith("sqlite:"):
            Path(target.catalog.removeprefix("sqlite:")).parent.mkdir(parents=True, exist_ok=True)
        if "://" not in target.data_path:
            Path(target.data_path).mkdir(parents=True, exist_ok=True)
    return target


def connect(
    target: LakeTarget,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
    config: dict[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as ``lake`` (and selected): read-only, or pinned to ``snapshot``
    (a pinned lake is read-only too)."""
    con = duckdb.connect(config={**BASE_CONFIG, **(config or {})})
    try:
        con.execute("set enable_progress_bar = false")  # a long publish would print bars into a flow's log
        load_extensions(con, target.extensions)
        options = [f"data_path '{_quote(target.data_path)}'"]
        if read_only or snapshot is not None:
            options.append("read_only")
        if snapshot is not None:
            options.append(f"snapshot_version {int(snapshot)}")
        con.execute(f"attach 'ducklake:{_quote(target.catalog)}' as {ALIAS} ({', '.join(options)})")
        con.execute(f"use {ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def _quote(text: object) -> str:
    return str(text).replace("'", "''")
