"""Readers of the lake: a SQLAlchemy engine (duckdb-engine), the DuckDB CLI's init file, and the URI a BI tool takes.

Each opens the lake READ-ONLY (at its latest snapshot, or pinned to one for a reproducible read), with the lake
selected (``use lake``), so ``marts.trade_balance`` names the same view as in the DuckDB file. The extensions come
from the PyPI-packaged files (``connect.load_extensions``), so DuckDB's auto-install and auto-load stay off.

After the attach, each locks the connection as the project's file readers do: file access only under the lake's
data path (``allowed_directories``), external access off, the configuration locked. Measured on DuckDB 1.5.5: that
refuses ``read_csv('/etc/passwd')`` and ``COPY ... TO`` outside the data path, but NOT a second ``ATTACH
'ducklake:...'`` of the catalog in read-write mode (DuckLake and its catalog's extension open the catalog
themselves), nor a ``COPY ... TO`` inside the data path. The read-only attach refuses a reader's writes by mistake;
against a reader who means harm, the catalog's and the storage's own permissions protect the lake: a Postgres role
with SELECT only, a read-only SQLite file, read-only storage credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import sqlalchemy
from sqlalchemy import event

from warehouse.ducklake.connect import (
    ALIAS,
    BASE_CONFIG,
    PACKAGED,
    LakeTarget,
    load_extensions,
    loadable_path,
    packaged_file,
)


def _q(text: object) -> str:
    return str(text).replace("'", "''")


def attach_sql(target: LakeTarget, snapshot: int | None = None) -> str:
    """The read-only ATTACH of the lake under ``lake`` (pinned to ``snapshot`` when given)."""
    options = [f"data_path '{_q(target.data_path)}'", "read_only"]
    if snapshot is not None:
        options.append(f"snapshot_version {int(snapshot)}")
    return f"attach 'ducklake:{_q(target.catalog)}' as {ALIAS} ({', '.join(options)})"


def lock_sql(target: LakeTarget) -> list[str]:
    """What locks a reader's connection once the lake is attached: files only under the data path, no external
    access beyond it, the configuration locked (nothing can turn these back on)."""
    return [
        f"set allowed_directories = ['{_q(target.data_path)}']",
        "set enable_external_access = false",
        "set lock_configuration = true",
    ]


def open_reader(con: Any, target: LakeTarget, snapshot: int | None = None, *, lock: bool = True) -> None:
    """Make a fresh in-memory connection (DuckDB's or duckdb-engine's) a reader of the lake: the extensions loaded,
    the lake attached read-only (pinned to ``snapshot``), selected, and the connection locked."""
    con.execute("set enable_progress_bar = false")
    load_extensions(con, target.extensions)
    con.execute(attach_sql(target, snapshot))
    con.execute(f"use {ALIAS}")
    if lock:
        for sql in lock_sql(target):
            con.execute(sql)


def lake_engine(
    target: LakeTarget, *, snapshot: int | None = None, lock: bool = True, **engine_kwargs: Any
) -> sqlalchemy.Engine:
    """A SQLAlchemy engine (duckdb-engine) on an in-memory DuckDB that reads the lake read-only.

    Every connection the pool opens loads the extensions, attaches the lake read-only (as of ``snapshot`` when
    given) and selects it (an event listener on ``connect``), then locks itself (``lock_sql``).

    Args:
        target: the lake.
        snapshot: a snapshot id to pin every read to (``history`` lists them), or None for the latest at connect.
        lock: lock each connection after the attach (default on).
        engine_kwargs: passed to ``sqlalchemy.create_engine``.

    Example:
        ``pandas.read_sql("select * from marts.trade_balance", lake_engine(target_from(catalog, data)))``
    """
    engine = sqlalchemy.create_engine("duckdb:///:memory:", connect_args={"config": dict(BASE_CONFIG)}, **engine_kwargs)

    @event.listens_for(engine, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        open_reader(dbapi_connection, target, snapshot, lock=lock)

    return engine


def _extension_file(extension: str) -> str:
    """The file to LOAD for an extension: the packaged one (through its canonically named link where needed)."""
    file = packaged_file(extension)
    if file is None:
        return extension  # DuckDB's own extension folder (INSTALL'ed the ordinary way)
    return str(loadable_path(file, PACKAGED[extension][2]))


def cli_init(target: LakeTarget, *, snapshot: int | None = None, lock: bool = True) -> str:
    """The init file for the DuckDB CLI of the lake environment (``.venv-lake/bin/duckdb -init FILE -cmd
    .safe_mode``): auto-install and auto-load off, the packaged extensions loaded, the lake attached read-only
    (pinned to ``snapshot``) and selected, files only under the data path and external access off.

    The CLI must be the extensions' DuckDB version (1.5.5; 1.5.6 refuses the files: "built specifically for DuckDB
    version 'v1.5.5'"). Safe mode (the configuration locked, no ``.shell``, ``.output``, ``.open`` or ``.read``)
    goes on the command line, not in the file: the PyPI package's ``duckdb`` sets ``extension_directories`` after
    the init file, which a locked configuration refuses.
    """
    pinned = f", as of snapshot {snapshot}" if snapshot is not None else ""
    lines = [
        f"-- tradewh: the DuckLake {target.catalog}, read-only{pinned}; open with: duckdb -init FILE -cmd .safe_mode"
    ]
    lines += [f"set {name} = {value};" for name, value in BASE_CONFIG.items()]
    lines += ["set enable_progress_bar = false;"]
    for extension in target.extensions:
        loadable = _extension_file(extension)
        lines.append(f"load '{_q(loadable)}';" if "/" in loadable else f"load {loadable};")
    lines.append(f"{attach_sql(target, snapshot)};")
    lines.append(f"use {ALIAS};")
    if lock:
        lines += [f"{sql};" for sql in lock_sql(target)[:2]]  # the configuration's lock: -cmd .safe_mode
    return "\n".join(lines) + "\n"


def install_extensions(directory: Path) -> dict[str, str]:
    """Install the packaged extension files into a DuckDB extension directory (``INSTALL '<file>'`` copies each
    under its canonical name), so that a client configured with ``extension_directory`` and auto-load on finds
    them offline: what a BI tool's connection URI needs (``bi_uri``).

    Returns:
        extension -> the installed file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={**BASE_CONFIG, "extension_directory": str(directory)})
    try:
        for extension in ("ducklake", "sqlite", "postgres"):
            file = packaged_file(extension)
            if file is not None:
                con.execute(f"install '{_q(file)}'")
        rows = con.execute(
            "select extension_name, install_path from duckdb_extensions() where installed and install_path like ?",
            [f"{directory}%"],
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def bi_uri(target: LakeTarget, extension_directory: Path) -> str:
    """The SQLAlchemy URI of the lake for a BI tool that takes only a URI (Superset, JupySQL): DuckDB opens the
    lake itself as its database (``ducklake:<catalog>``), read-only, loading the extensions ``install_extensions``
    put in ``extension_directory`` (auto-load on for that folder only; auto-install off). No snapshot pin: a pinned
    read needs ``lake_engine`` or the CLI's init file."""
    database = quote(f"ducklake:{target.catalog}", safe="/:=")
    query = (
        f"access_mode=read_only&extension_directory={quote(str(extension_directory), safe='/')}"
        "&autoinstall_known_extensions=false&autoload_known_extensions=true"
    )
    return f"duckdb:///{database}?{query}"
