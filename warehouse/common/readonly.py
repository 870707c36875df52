"""Open the published warehouse for reading, locked down: the one way tradewh reads its published file.

A read-only DuckDB connection still runs SQL that reads and writes files (``read_csv('/etc/passwd')``,
``COPY ... TO``, ``ATTACH ... (READ_WRITE)``, ``EXPORT DATABASE``), installs and loads extensions, and changes
its own settings. Every connection opened here has, from its first statement on:

- ``enable_external_access = false``: no file but the warehouse itself (and its spill folder
  ``<file>.tmp/``) is opened, listed, created or removed; no other database is attached; no extension is
  installed or loaded; no Python object is scanned;
- ``autoinstall_known_extensions = false`` and ``autoload_known_extensions = false``: a query never fetches or
  loads an extension by itself;
- ``lock_configuration = true``: no ``SET`` / ``RESET`` changes any of this (nor any other setting) later.

``allowed_directories`` opens folders again, for reading and writing, to the statements of that connection only
(``tradewh export`` writes its output folder). DuckDB 2.0 refuses ``allowed_directories`` in the configuration
a database starts with when external access is off ("Cannot change/set allowed_directories before the database
is started"), and refuses to change it once external access is off: so such a connection starts with only the
extension settings and sets the folders, then external access and the lock, before it is returned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

# DuckDB's own settings for untrusted SQL (operations manual, "Securing DuckDB")
LOCKED_CONFIG: dict[str, bool] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}
_EXTENSIONS_OFF = {k: v for k, v in LOCKED_CONFIG.items() if k.startswith("auto")}


def _folder(path: Path) -> str:
    """An absolute folder with a trailing separator: DuckDB matches ``allowed_directories`` as prefixes."""
    return str(Path(path).resolve()).rstrip(os.sep) + os.sep


def connect_read_only(path: Path, *, allowed_directories: Sequence[Path] = ()) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a warehouse file, with external access off and its configuration locked.

    Args:
        path: the published DuckDB file.
        allowed_directories: folders this connection may still read and write (they must exist to be
            written into); none by default.

    Returns:
        The open connection (close it, or use it as a context manager).

    Raises:
        FileNotFoundError: there is no file at ``path``.
        duckdb.Error: the file cannot be opened (not a DuckDB file, or this process holds it open with another
            configuration).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no warehouse at {path} yet: run `tradewh load` first")
    if not allowed_directories:
        return duckdb.connect(str(path), read_only=True, config=dict(LOCKED_CONFIG))
    con = duckdb.connect(str(path), read_only=True, config=dict(_EXTENSIONS_OFF))
    try:
        con.execute("set allowed_directories = ?", [[_folder(d) for d in allowed_directories]])
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con
