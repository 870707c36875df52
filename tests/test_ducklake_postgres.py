"""The DuckLake target with a Postgres catalog (issue 21): a Postgres 15 started by the fixture on 127.0.0.1 and a
free port, in a temporary folder, stopped afterwards. The nightly's warehouse published into it reads the same as
the DuckDB file; two writer processes appending at once commit every row once, in interleaved snapshots.

Skips where the lake environment (``make lake-env``) or Debian's ``postgresql`` (``apt-get install postgresql``) is
absent. As root, Postgres runs as the ``postgres`` user (it refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_ducklake import COMPARE, assert_same, lake, lake_python, lake_script  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A Postgres server of its own on 127.0.0.1 and a free port, with a database ``lake``: its DSN for DuckLake."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("Postgres not found (/usr/lib/postgresql/*/bin/pg_ctl): apt-get install -y postgresql")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="tradewh-pg-"))  # not under pytest's root-only folder: postgres reads it
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    port = _free_port()
    data, log = folder / "data", folder / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{args[0]}: {done.stdout}{done.stderr}"

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "tradewh", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(
            str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start",
            "-o", f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=50",
        )  # fmt: skip
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tradewh", "lake")
        yield f"postgres:dbname=lake host=127.0.0.1 port={port} user=tradewh"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def _fresh_database(dsn: str, name: str) -> str:
    """A new database on the fixture's server, so each test starts from an empty catalog."""
    port = dsn.split("port=")[1].split()[0]
    bindir = _postgres_bin()
    subprocess.run(
        [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "tradewh", name],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return dsn.replace("dbname=lake", f"dbname={name}")


def test_the_nightly_reads_the_same_on_a_postgres_catalog(lake_python, loaded, postgres, tmp_path):  # noqa: F811
    catalog = _fresh_database(postgres, "nightly")
    warehouse = loaded["warehouse"]
    args = ["--catalog", catalog, "--data-path", str(tmp_path / "data")]
    lake(lake_python, *args, "publish", "--warehouse", str(warehouse), "--run-id", "run-pg")
    found = lake_script(lake_python, COMPARE, str(warehouse), catalog, str(tmp_path / "data"), "")
    assert_same(found)
    assert found["view_column_comments_lake"] == found["view_column_comments_file"]
    (entry,) = [line.split() for line in lake(lake_python, *args, "history").splitlines()]
    assert entry[3:5] == ["run-pg", "publish"]


# In the lake environment: one writer appending its batches to one table, a snapshot per batch (its commit message
# "<writer>-<batch>"), retrying a batch that lost a conflict; prints how many retries it took.
WRITER = """
import json, sys, time
from warehouse.ducklake import connect, target_from
catalog, data, writer, batches, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
con = connect(target_from(catalog, data))
retries = 0
other = 2 if writer == 1 else 1
for batch in range(batches):
    # lockstep: batch b waits for the other writer's batch b - 1, so the two run at once whatever the scheduler
    # does (both write batch 0 at once; neither waits for a batch the other has not reached)
    deadline = time.monotonic() + 120
    while batch and not con.execute(
        "select count(*) from lake.snapshots() where commit_message = ?", [f"writer{other}-{batch - 1}"]
    ).fetchone()[0]:
        if time.monotonic() > deadline:
            raise SystemExit(f"writer{other}-{batch - 1} never committed")
        time.sleep(0.02)
    while True:
        try:
            con.execute("begin")
            con.execute("insert into lake.raw.parallel select ?, ?, range from range(?)", [writer, batch, rows])
            con.execute(f"call lake.set_commit_message('tradewh', 'writer{writer}-{batch}')")
            con.execute("commit")
            break
        except Exception:  # a conflict with the other writer's commit: roll back, take the batch again
            try:
                con.execute("rollback")
            except Exception:
                pass
            retries += 1
            if retries > 50:
                raise
            time.sleep(0.05)
print(json.dumps({"retries": retries}))
"""


def test_two_writers_at_once_commit_every_row_once(lake_python, postgres, tmp_path):  # noqa: F811
    catalog = _fresh_database(postgres, "writers")
    data = str(tmp_path / "data")
    lake_script(
        lake_python,
        """
        import sys, json
        from warehouse.ducklake import connect, target_from
        con = connect(target_from(sys.argv[1], sys.argv[2]))
        con.execute("create schema lake.raw")
        con.execute("create table lake.raw.parallel (writer integer, batch integer, i bigint)")
        print(json.dumps("ok"))
        """,
        catalog,
        data,
    )
    batches, rows = 8, 50_000
    writers = [
        subprocess.Popen(
            [str(lake_python), "-c", WRITER, catalog, data, str(w), str(batches), str(rows)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )  # fmt: skip
        for w in (1, 2)
    ]
    for proc in writers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    found = lake_script(
        lake_python,
        """
        import sys, json
        from warehouse.ducklake import connect, target_from
        con = connect(target_from(sys.argv[1], sys.argv[2]), read_only=True)
        total, distinct = con.execute(
            "select count(*), count(distinct (writer, batch, i)) from lake.raw.parallel").fetchone()
        order = [m for (m,) in con.execute(
            "select commit_message from lake.snapshots() where commit_message like 'writer%' order by snapshot_id"
        ).fetchall()]
        print(json.dumps({"total": total, "distinct": distinct, "order": order}))
        """,
        catalog,
        data,
    )
    assert found["total"] == found["distinct"] == 2 * batches * rows  # every row once
    assert sorted(found["order"]) == sorted(f"writer{w}-{b}" for w in (1, 2) for b in range(batches))
    writers_in_order = [m.split("-")[0] for m in found["order"]]
    switches = sum(a != b for a, b in zip(writers_in_order, writers_in_order[1:], strict=False))
    assert switches >= 2, found["order"]  # the two writers' snapshots interleave: they ran at once
