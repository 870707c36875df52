"""Readers of the DuckLake (issue 21, part 3): a SQLAlchemy engine (duckdb-engine with a connect hook), the DuckDB
CLI of the lake environment with the init file ``cli-init`` writes, and the URI a BI tool takes (``bi-uri``).
Each reads every public view with the same row count as the DuckDB file the nightly built, is refused writes with
DuckDB's read-only error, and a pinned snapshot reads the older state after a second publish.

The readers run in the lake environment (DuckDB 1.5.5, ``make lake-env``), driven through subprocesses; the DuckDB
file's counts are read here with the project's own DuckDB.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_ducklake import history, lake, lake_args, lake_python, lake_script, public_views  # noqa: F401

pytestmark = pytest.mark.slow

# In the lake environment: the row count of each view through lake_engine (pinned or not) and through bi_uri's URI.
ENGINES = """
import json, sys
from pathlib import Path
import sqlalchemy as sa
from warehouse.ducklake import target_from
from warehouse.ducklake.readers import bi_uri, install_extensions, lake_engine
catalog, data, snapshot, ext, views = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), json.loads(sys.argv[5])
target = target_from(catalog, data)
engines = {"engine": lake_engine(target, snapshot=int(snapshot) if snapshot else None)}
if not snapshot:
    install_extensions(ext)
    engines["bi_uri"] = sa.create_engine(bi_uri(target, ext))
out = {}
for name, engine in engines.items():
    counts, refused = {}, {}
    with engine.connect() as con:
        for view in views:
            counts[view] = con.execute(sa.text(f"select count(*) from {view}")).scalar_one()
        for kind, sql in [("insert", "insert into audit.builds select * from audit.builds"),
                          ("create", "create table marts.scratch (a integer)"),
                          ("drop", "drop view marts.trade_balance")]:
            try:
                con.execute(sa.text(sql))
                refused[kind] = None
            except sa.exc.DBAPIError as exc:
                refused[kind] = str(exc.orig)
                con.rollback()
    out[name] = {"counts": counts, "refused": refused}
print(json.dumps(out))
"""

LAKE_CLI = PROJECT_ROOT / ".venv-lake" / "bin" / "duckdb"


def file_counts(file: Path, views: list[str]) -> dict[str, int]:
    with duckdb.connect(str(file), read_only=True) as con:
        return {v: con.execute(f"select count(*) from {v}").fetchone()[0] for v in views}


def cli(init: Path, sql: str) -> subprocess.CompletedProcess:
    """The lake environment's DuckDB CLI with the init file, in safe mode, one statement or query."""
    return subprocess.run(
        [str(LAKE_CLI), "-init", str(init), "-cmd", ".safe_mode", "-csv", "-noheader", "-c", sql],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )  # fmt: skip


def cli_counts(init: Path, views: list[str]) -> dict[str, int]:
    done = cli(init, " union all ".join(f"select '{v}', count(*) from {v}" for v in views))
    assert done.returncode == 0, done.stdout + done.stderr
    return {v: int(n) for v, n in (line.split(",") for line in done.stdout.splitlines() if line)}


def init_file(python: Path, tmp_path: Path, snapshot: int | None = None) -> Path:
    out = tmp_path / f"lake-{snapshot or 'latest'}.sql"
    pin = ["--snapshot", str(snapshot)] if snapshot is not None else []
    printed = lake(python, *lake_args(tmp_path), "cli-init", *pin, "--out", str(out))
    assert f"-init {out}" in printed
    return out


def engines(python: Path, tmp_path: Path, views: list[str], snapshot: int | None = None) -> dict:
    return lake_script(
        python, ENGINES, f"sqlite:{tmp_path / 'catalog.sqlite'}", str(tmp_path / "data"),
        "" if snapshot is None else str(snapshot), str(tmp_path / "extensions"), json.dumps(views),
    )  # fmt: skip


@pytest.fixture(scope="module")
def lake_cli(lake_python: Path) -> Path:  # noqa: F811 (a fixture)
    """The lake environment's DuckDB CLI, which must be the extensions' version."""
    version = subprocess.run([str(LAKE_CLI), "--version"], capture_output=True, text=True, check=False).stdout
    assert version.startswith("v1.5.5"), f"{version}: `make lake-env` again (requirements-ducklake.lock pins 1.5.5)"
    return LAKE_CLI


def test_engine_cli_and_bi_uri_read_every_view_as_the_file_and_refuse_writes(lake_python, lake_cli, loaded, tmp_path):  # noqa: F811
    warehouse = loaded["warehouse"]
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(warehouse), "--run-id", "run-b")
    views = sorted(public_views(warehouse))
    expected = file_counts(warehouse, views)
    assert len(views) > 20 and sum(expected.values()) > 0

    found = engines(lake_python, tmp_path, views)
    init = init_file(lake_python, tmp_path)
    assert found["engine"]["counts"] == expected
    assert found["bi_uri"]["counts"] == expected
    assert cli_counts(init, views) == expected

    for reader in ("engine", "bi_uri"):
        for kind, error in found[reader]["refused"].items():
            assert error is not None and "attached in read-only mode" in error, (reader, kind, error)
    for sql in (
        "insert into audit.builds select * from audit.builds",
        "create table marts.scratch (a integer)",
        "drop view marts.trade_balance",
    ):
        done = cli(init, sql)
        assert done.returncode != 0 and "attached in read-only mode" in done.stderr, (sql, done.stderr)
    # locked: no file outside the lake's data path, the configuration cannot be unlocked
    done = cli(init, "select * from read_csv('/etc/passwd')")
    assert done.returncode != 0 and "disabled by configuration" in done.stderr, done.stderr
    done = cli(init, "set enable_external_access = true")
    assert done.returncode != 0 and "locked" in done.stderr, done.stderr
    # nothing was written: one snapshot still, every count as before
    assert [e[3] for e in history(lake_python, tmp_path)] == ["run-b"]
    assert cli_counts(init, views) == expected


def test_a_pinned_snapshot_reads_the_older_state_after_a_second_publish(lake_python, lake_cli, loaded, tmp_path):  # noqa: F811
    first, second = loaded["after_first"], loaded["warehouse"]
    views = ["audit.load_runs", "audit.builds", "audit.source_runs", "marts.trade_balance"]
    before, after = file_counts(first, views), file_counts(second, views)
    assert before != after  # the second run's audit rows: what a pinned read must not see
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(first), "--run-id", "run-a")
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(second), "--run-id", "run-b")
    snapshots = {e[3]: int(e[0]) for e in history(lake_python, tmp_path)}

    assert engines(lake_python, tmp_path, views, snapshot=snapshots["run-a"])["engine"]["counts"] == before
    assert engines(lake_python, tmp_path, views)["engine"]["counts"] == after
    assert cli_counts(init_file(lake_python, tmp_path, snapshots["run-a"]), views) == before
    assert cli_counts(init_file(lake_python, tmp_path), views) == after
