"""Prefect's database for a new data folder, from a copy of one migrated before.

A new Prefect home starts with no database: its server's first start creates the SQLite file and runs Prefect's
migrations into it (about 200 of them, 6.7 s on two cores; the same file again, 0.04 s), the larger part of what a
first load on a new data folder pays over one whose server runs. The file those migrations make is the same for
every data folder with the same Prefect. So the first server that starts on a new data folder leaves a copy of its
database in the cache folder (``keep_template``: SQLite's backup API, once the server answers its health check,
only while the file holds nothing but the migrations and Prefect's block types), named after Prefect's version and
its SQLite migrations; each later new data folder starts from a copy of it (``seed``), and the server's start
finds every migration applied.

Only for Prefect's default database, the SQLite file in its home: where any Prefect setting could name another
(a ``PREFECT_*DATABASE*`` variable, a Prefect profile or ``prefect.toml`` / ``.env`` / ``pyproject.toml`` naming a
database), nothing is copied either way. Any failure to copy is silent: the server then migrates as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

# the tables a new database holds rows in once started: the migrations' version and the block types
_SEEDED_TABLES = ("alembic_version", "block_type", "block_schema", "block_schema_reference")
# files of the working directory and of Prefect's home where Prefect reads settings from
_SETTING_FILES = (".env", "prefect.toml", "pyproject.toml")


def database_file(env: Mapping[str, str], cwd: Path) -> Path | None:
    """Prefect's SQLite database of the home ``env["PREFECT_HOME"]``, or None when Prefect may be set to use
    another database (any ``PREFECT_*DATABASE*`` variable; a profile or settings file that names a database)."""
    home = env.get("PREFECT_HOME")
    if not home or any(k.startswith("PREFECT_") and "DATABASE" in k for k in env):
        return None
    for file in (Path(home) / "profiles.toml", *(cwd / name for name in _SETTING_FILES)):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = file.read_text(encoding="utf-8").lower()
            if "database" in text and (file.name != "pyproject.toml" or "tool.prefect" in text):
                return None
    return Path(home) / "prefect.db"


def template_path(cache_dir: Path) -> Path | None:
    """The template for this Prefect: named after its version and the names of its SQLite migrations (a release
    that adds one gets a template of its own); None when Prefect is not installed."""
    spec = importlib.util.find_spec("prefect")  # not imported: its import takes a second
    if spec is None or not spec.submodule_search_locations:
        return None
    migrations = Path(spec.submodule_search_locations[0]) / "server" / "database" / "_migrations" / "versions"
    names = sorted(p.name for p in (migrations / "sqlite").glob("*.py"))
    if not names:
        return None
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
    return cache_dir / f"prefect-{importlib.metadata.version('prefect')}-{digest}.db"


def seed(database: Path | None, cache_dir: Path) -> bool:
    """Copy the template into a new Prefect home (no database there yet); True if it did."""
    template = template_path(cache_dir) if database is not None else None
    if database is None or template is None or not template.is_file() or _exists(database):
        return False
    partial = database.with_name(f".{database.name}.{os.getpid()}.seeding")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        _backup(template, partial)
        os.replace(partial, database)  # a server that starts meanwhile sees no file or the whole one
    except (OSError, sqlite3.Error) as exc:
        log.debug("Prefect's database not seeded from %s: %s", template, exc)
        partial.unlink(missing_ok=True)
        return False
    return True


def keep_template(database: Path | None, cache_dir: Path) -> bool:
    """Leave a copy of a newly migrated database as the template, unless there is one; True if it did.

    Taken only while the database holds rows in ``_SEEDED_TABLES`` alone: no run, no deployment, no setting of
    the user's."""
    template = template_path(cache_dir) if database is not None else None
    if database is None or template is None or template.exists() or not database.is_file():
        return False
    partial = template.with_name(f".{template.name}.{os.getpid()}.partial")
    try:
        if not _only_migrated(database):
            return False
        cache_dir.mkdir(parents=True, exist_ok=True)
        _backup(database, partial)
        os.replace(partial, template)
    except (OSError, sqlite3.Error) as exc:
        log.debug("no template of Prefect's database kept from %s: %s", database, exc)
        partial.unlink(missing_ok=True)
        return False
    return True


def _exists(database: Path) -> bool:
    return any(database.with_name(database.name + suffix).exists() for suffix in ("", "-wal", "-journal"))


def _only_migrated(database: Path) -> bool:
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
        if "alembic_version" not in tables or not con.execute("select count(*) from alembic_version").fetchone()[0]:
            return False
        return not any(
            con.execute(f'select 1 from "{t}" limit 1').fetchone()  # noqa: S608 (names from sqlite_master)
            for t in tables
            if t not in _SEEDED_TABLES and not t.startswith("sqlite_")
        )


def _backup(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file (its WAL included) that another process may be using."""
    target.unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        dst.execute("pragma journal_mode = delete")  # one file at rest (Prefect's connections turn WAL on again)
        if dst.execute("pragma quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError(f"the copy of {source} fails SQLite's quick_check")
