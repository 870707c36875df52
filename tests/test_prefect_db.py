"""A new data folder's Prefect database from a copy of one migrated before (``warehouse.orchestrate.prefect_db``).

The copy rules on small SQLite files here; the real thing (a real Prefect server migrating a new home, leaving the
template, and a second home's server starting from it and recording a flow run) at the end."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
from pathlib import Path

import pytest

from warehouse.orchestrate import prefect_db


def _database(path: Path, *, runs: int = 0) -> Path:
    """A file shaped like a migrated Prefect database: the migration's version, block types, ``runs`` flow runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute("pragma journal_mode = wal")
        con.execute("create table alembic_version (version_num text)")
        con.execute("insert into alembic_version values ('abc123')")
        con.execute("create table block_type (name text)")
        con.execute("insert into block_type values ('secret')")
        con.execute("create table flow_run (id text)")
        con.executemany("insert into flow_run values (?)", [(str(i),) for i in range(runs)])
        con.commit()
    return path


def _rows(path: Path, table: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as con:
        return con.execute(f"select * from {table}").fetchall()  # noqa: S608 (the tests' own names)


def test_the_database_is_prefects_own_file_unless_a_setting_may_name_another(tmp_path):
    home, cwd = tmp_path / "prefect", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {"PREFECT_HOME": str(home)}
    assert prefect_db.database_file(env, cwd) == home / "prefect.db"
    assert prefect_db.database_file({}, cwd) is None
    for variable in ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"):
        assert prefect_db.database_file({**env, variable: "postgresql+asyncpg://x"}, cwd) is None
    (cwd / "pyproject.toml").write_text("[project]\nname = 'x'\n[tool.ruff]\n# database\n")
    assert prefect_db.database_file(env, cwd) == home / "prefect.db"  # no [tool.prefect]: not Prefect's
    (cwd / "pyproject.toml").write_text("[tool.prefect.server.database]\nconnection_url = 'postgresql://x'\n")
    assert prefect_db.database_file(env, cwd) is None
    (cwd / "pyproject.toml").unlink()
    (home / "profiles.toml").write_text("[profiles.x]\nPREFECT_API_DATABASE_CONNECTION_URL = 'postgresql://x'\n")
    assert prefect_db.database_file(env, cwd) is None


def test_the_template_is_named_after_prefects_version_and_its_migrations(tmp_path):
    import importlib.metadata

    template = prefect_db.template_path(tmp_path)
    assert template is not None and template.parent == tmp_path
    assert template.name.startswith(f"prefect-{importlib.metadata.version('prefect')}-") and template.suffix == ".db"
    assert prefect_db.template_path(tmp_path) == template  # the same Prefect: the same name


def test_a_new_home_starts_from_the_template_and_only_a_new_one(tmp_path):
    cache = tmp_path / "cache"
    first = _database(tmp_path / "a" / "prefect.db")
    assert prefect_db.keep_template(first, cache)
    template = prefect_db.template_path(cache)
    assert _rows(template, "alembic_version") == [("abc123",)]
    assert [p.name for p in cache.iterdir()] == [template.name]  # one file at rest: no WAL beside it, no partial
    with contextlib.closing(sqlite3.connect(template)) as con:
        assert con.execute("pragma journal_mode").fetchone()[0] == "delete"

    new = tmp_path / "b" / "prefect.db"
    assert prefect_db.seed(new, cache)
    assert _rows(new, "alembic_version") == [("abc123",)] and _rows(new, "flow_run") == []
    assert sorted(p.name for p in new.parent.iterdir()) == ["prefect.db"]

    used = _database(tmp_path / "c" / "prefect.db", runs=2)  # a home with its history: never replaced
    assert not prefect_db.seed(used, cache)
    assert len(_rows(used, "flow_run")) == 2
    wal_only = tmp_path / "d" / "prefect.db"
    wal_only.parent.mkdir()
    wal_only.with_name("prefect.db-wal").write_bytes(b"")  # a database whose file went: left to Prefect
    assert not prefect_db.seed(wal_only, cache) and not wal_only.exists()
    assert not prefect_db.seed(None, cache)  # another database configured
    assert not prefect_db.seed(tmp_path / "e" / "prefect.db", tmp_path / "no-cache")


def test_only_a_database_with_nothing_but_its_migrations_becomes_the_template(tmp_path):
    cache = tmp_path / "cache"
    assert not prefect_db.keep_template(_database(tmp_path / "a" / "prefect.db", runs=1), cache)
    assert not cache.exists()
    bare = tmp_path / "b" / "prefect.db"
    bare.parent.mkdir()
    with contextlib.closing(sqlite3.connect(bare)) as con:
        con.execute("create table alembic_version (version_num text)")  # no migration recorded in it
    assert not prefect_db.keep_template(bare, cache)
    assert not prefect_db.keep_template(tmp_path / "missing" / "prefect.db", cache)
    assert prefect_db.keep_template(_database(tmp_path / "c" / "prefect.db"), cache)
    kept = prefect_db.template_path(cache).read_bytes()
    assert not prefect_db.keep_template(_database(tmp_path / "d" / "prefect.db"), cache)  # there is one: kept
    assert prefect_db.template_path(cache).read_bytes() == kept


def test_a_broken_template_is_not_copied(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    prefect_db.template_path(cache).write_bytes(b"not a database" * 100)
    new = tmp_path / "a" / "prefect.db"
    assert not prefect_db.seed(new, cache)
    assert not new.exists() and list(new.parent.iterdir()) == []  # no partial copy left


@pytest.mark.slow
def test_a_second_new_home_starts_its_real_server_from_the_first_ones_database(tmp_path, monkeypatch):
    """Real Prefect servers (``tradewh server start``'s) on two new homes sharing a cache folder: the first
    migrates and leaves the template, the second's database is the template's copy, its server starts on it, and
    a real flow run is recorded and read back through its API."""
    from warehouse.orchestrate import server

    monkeypatch.delenv("PREFECT_HOME", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    cache = tmp_path / "cache"

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    first = tmp_path / "first"
    server.start(first, port=free_port(), cache_dir=cache)
    try:
        template = prefect_db.template_path(cache)
        assert template.is_file(), "the first new home's database was not kept"
        assert _rows(template, "alembic_version")  # migrated
    finally:
        server.stop(first)

    with contextlib.closing(sqlite3.connect(template)) as con:  # a mark the second home's file must carry
        con.execute("create table tradewh_test_mark (x integer)")
        con.commit()
    seeded = template.read_bytes()
    second = tmp_path / "second"
    database = second / "prefect" / "prefect.db"
    info = server.start(second, port=free_port(), cache_dir=cache)
    try:
        assert template.read_bytes() == seeded  # the template is left as it was
        assert _rows(database, "tradewh_test_mark") == []  # the file is the template's copy
        from prefect import flow
        from prefect.client.orchestration import get_client
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker
        from prefect.settings import PREFECT_API_URL, temporary_settings

        @flow(name="tradewh-seeded-database")
        def probe() -> int:
            return 42

        with temporary_settings(updates={PREFECT_API_URL: info.api_url}):
            state = probe(return_state=True)
            assert state.is_completed() and state.result() == 42
            with get_client(sync_client=True) as client:
                assert client.read_flow_run(state.state_details.flow_run_id).state.is_completed()
            EventsWorker.drain_all(timeout=30)  # the run's events and log lines sent before the server stops
            APILogWorker.drain_all(timeout=30)
        assert len(_rows(database, "flow_run")) == 1  # recorded in the seeded file
    finally:
        server.stop(second)
