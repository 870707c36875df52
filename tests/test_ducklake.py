"""The DuckLake target (issue 21): the nightly's warehouse published as one DuckLake snapshot per run, read the same
as the DuckDB file; a publish killed before its commit changes nothing; rollback to a named run; a reader during
publishes sees whole commits only.

DuckLake runs in its own environment (DuckDB 1.5.5 with the PyPI-packaged extensions, .venv-lake; see
docs/decisions/0002-ducklake-environment.md): these tests drive it in subprocesses of that interpreter and skip
where it is absent. Create it with ``make lake-env``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT

LAKE_PYTHON = PROJECT_ROOT / ".venv-lake" / "bin" / "python"

pytestmark = pytest.mark.slow  # every test starts DuckDB 1.5.5 processes of the lake environment


@pytest.fixture(scope="module")
def lake_python() -> Path:
    """The lake environment's interpreter, or skip with how to make it."""
    if not LAKE_PYTHON.exists():
        pytest.skip(f"the DuckLake environment is absent ({LAKE_PYTHON}): create it with `make lake-env`")
    probe = subprocess.run(
        [str(LAKE_PYTHON), "-c", "from warehouse.ducklake import packaged_file; print(packaged_file('ducklake'))"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, check=False,
    )  # fmt: skip
    if probe.returncode != 0 or probe.stdout.strip() == "None":
        pytest.skip(f"the DuckLake environment cannot load DuckLake (`make lake-env` again): {probe.stderr[-300:]}")
    return LAKE_PYTHON


def lake(python: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run ``python -m warehouse.ducklake <args>`` in the lake environment; its standard output."""
    done = subprocess.run(
        [str(python), "-m", "warehouse.ducklake", *args],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})}, timeout=timeout,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def lake_script(python: Path, code: str, *args: str, timeout: float = 300) -> object:
    """Run a script in the lake environment; the JSON of its last line of output."""
    done = subprocess.run(
        [str(python), "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def lake_args(tmp_path: Path) -> list[str]:
    return ["--catalog", f"sqlite:{tmp_path / 'catalog.sqlite'}", "--data-path", str(tmp_path / "data")]


# In the lake environment: every table and view of a DuckDB file against the lake (as of a snapshot, or latest):
# the rows each has that the other lacks (EXCEPT ALL both ways), the row counts, and the comments.
COMPARE = """
import json, sys
from warehouse.ducklake import connect, target_from
file, catalog, data, snapshot = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
con = connect(target_from(catalog, data), read_only=True, snapshot=int(snapshot) if snapshot else None)
con.execute(f"attach '{file}' as wh (read_only)")
def objects(db):
    return {(s, n, k): c for s, n, k, c in con.execute(
        "select schema_name, table_name, 'table', comment from duckdb_tables() "
        "where database_name = ? and not internal "
        "union all select schema_name, view_name, 'view', comment from duckdb_views() "
        "where database_name = ? and not internal", [db, db]).fetchall()}
file_objects, lake_objects = objects("wh"), objects("lake")
out = {"only_file": sorted(map(list, set(file_objects) - set(lake_objects))),
       "only_lake": sorted(map(list, set(lake_objects) - set(file_objects))), "objects": {}}
for (s, n, k), comment in sorted(file_objects.items()):
    if (s, n, k) not in lake_objects:
        continue
    a, b = f'wh."{s}"."{n}"', f'lake."{s}"."{n}"'
    count = lambda q: con.execute(f"select count(*) from ({q})").fetchone()[0]
    out["objects"][f"{s}.{n}"] = {
        "kind": k, "rows": count(f"select * from {a}"),
        "missing_in_lake": count(f"select * from {a} except all select * from {b}"),
        "extra_in_lake": count(f"select * from {b} except all select * from {a}"),
        "same_comment": comment == lake_objects[(s, n, k)],
    }
out["view_column_comments_file"] = sorted(con.execute(
    "select c.schema_name, c.table_name, c.column_name, c.comment from duckdb_columns() c join duckdb_views() v "
    "on v.database_name = c.database_name and v.schema_name = c.schema_name and v.view_name = c.table_name "
    "where c.database_name = 'wh' and c.comment is not null").fetchall())
out["view_column_comments_lake"] = sorted(con.execute(
    "select * from lake.store.view_column_comments").fetchall())
print(json.dumps(out, default=str))
"""


def compare(python: Path, file: Path, tmp_path: Path, snapshot: int | None = None) -> dict:
    catalog, data = f"sqlite:{tmp_path / 'catalog.sqlite'}", str(tmp_path / "data")
    return lake_script(python, COMPARE, str(file), catalog, data, "" if snapshot is None else str(snapshot))


def assert_same(found: dict) -> None:
    assert found["only_file"] == []
    assert found["only_lake"] == [["store", "view_column_comments", "table"]]  # what DuckLake keeps in a table
    differ = {name: o for name, o in found["objects"].items() if o["missing_in_lake"] or o["extra_in_lake"]}
    assert differ == {}, differ
    assert all(o["same_comment"] for o in found["objects"].values())


def history(python: Path, tmp_path: Path) -> list[list[str]]:
    return [line.split() for line in lake(python, *lake_args(tmp_path), "history").splitlines()]


def public_views(file: Path) -> set[str]:
    """The file's public views, read with the project's own DuckDB (not the lake's)."""
    with duckdb.connect(str(file), read_only=True) as con:
        return {
            f"{s}.{v}"
            for s, v in con.execute(
                "select schema_name, view_name from duckdb_views() where not internal "
                "and schema_name in ('marts', 'core', 'audit')"
            ).fetchall()
        }


def test_the_nightly_reads_the_same_on_the_lake_as_in_the_file(lake_python, loaded, tmp_path):
    warehouse = loaded["warehouse"]
    out = lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(warehouse))
    assert "published snapshot" in out
    found = compare(lake_python, warehouse, tmp_path)
    assert_same(found)
    views = public_views(warehouse)
    assert views and views <= set(found["objects"])  # every public view compared, rows both ways
    assert sum(found["objects"][v]["rows"] for v in views if v.startswith("marts.")) > 0
    # the view columns' descriptions, which DuckLake keeps in a table of the same snapshot
    assert found["view_column_comments_lake"] == found["view_column_comments_file"]
    assert len(found["view_column_comments_file"]) > 100
    with duckdb.connect(str(warehouse), read_only=True) as con:
        run_id = con.execute("select run_id from audit.builds order by published_at desc, run_id desc").fetchone()[0]
    (entry,) = history(lake_python, tmp_path)
    assert entry[3:5] == [run_id, "publish"]  # the snapshot's commit message is the build's run id


def test_a_publish_killed_before_its_commit_leaves_the_latest_snapshot(lake_python, loaded, tmp_path):
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(loaded["after_first"]), "--run-id", "run-a")
    before = history(lake_python, tmp_path)
    killed = subprocess.run(
        [str(lake_python), "-m", "warehouse.ducklake", *lake_args(tmp_path), "publish",
         "--warehouse", str(loaded["warehouse"]), "--run-id", "run-b"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env={**os.environ, "TRADEWH_FAILPOINT": "lake_commit"},
        timeout=300, check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr  # died with every table written, nothing committed
    assert list((tmp_path / "data").rglob("*.parquet"))  # it had written files
    assert history(lake_python, tmp_path) == before
    assert_same(compare(lake_python, loaded["after_first"], tmp_path))  # still run-a's rows, every object
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(loaded["warehouse"]), "--run-id", "run-b")
    assert [e[3] for e in history(lake_python, tmp_path)] == ["run-a", "run-b"]  # the lake takes the next publish


def test_rollback_to_a_named_run_and_as_of_reads(lake_python, loaded, tmp_path):
    first, second = loaded["after_first"], loaded["warehouse"]
    with duckdb.connect(str(first), read_only=True) as a, duckdb.connect(str(second), read_only=True) as b:
        runs = [c.execute("select count(*) from audit.load_runs").fetchone()[0] for c in (a, b)]
    assert runs[0] < runs[1]  # the two files differ (the second run's audit), so a rollback shows
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(first), "--run-id", "run-a")
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(second), "--run-id", "run-b")
    snapshots = {e[3]: int(e[0]) for e in history(lake_python, tmp_path)}
    assert_same(compare(lake_python, first, tmp_path, snapshot=snapshots["run-a"]))  # as of run-a: run-a's rows
    assert_same(compare(lake_python, second, tmp_path))
    out = lake(lake_python, *lake_args(tmp_path), "rollback", "--to", "run-a")
    assert "rolled back to run run-a" in out
    entries = history(lake_python, tmp_path)
    assert [e[3:] for e in entries] == [
        ["run-a", "publish"],
        ["run-b", "publish"],
        ["run-a", "rollback", "to", "run-a"],
    ]
    assert_same(compare(lake_python, first, tmp_path))  # latest: run-a's tables, views and comments again
    assert_same(compare(lake_python, second, tmp_path, snapshot=snapshots["run-b"]))  # run-b still readable as of


# In the lake environment: poll the lake until told to stop, each read one transaction: the snapshot it sees and
# the row counts of four objects that differ between the two published files.
READER = """
import json, sys, time
from pathlib import Path
from warehouse.ducklake import connect, target_from
catalog, data, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3])
seen, errors = [], []
while not stop.exists():
    con = connect(target_from(catalog, data), read_only=True)
    try:
        con.execute("begin")
        seen.append(con.execute(
            "select (select id from lake.current_snapshot()), (select count(*) from audit.load_runs), "
            "(select count(*) from audit.builds), (select count(*) from audit.source_runs), "
            "(select count(*) from marts.trade_balance)").fetchone())
        con.execute("commit")
    except Exception as exc:  # a catalog busy with a writer: counted, never a half state
        errors.append(str(exc)[:200])
    finally:
        con.close()
print(json.dumps({"seen": seen, "errors": errors}))
"""


def test_a_reader_during_publishes_sees_whole_commits_only(lake_python, loaded, tmp_path):
    files = {"run-a": loaded["after_first"], "run-b": loaded["warehouse"]}
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(files["run-a"]), "--run-id", "run-a")
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [str(lake_python), "-c", READER, f"sqlite:{tmp_path / 'catalog.sqlite'}", str(tmp_path / "data"), str(stop)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    try:
        time.sleep(2)
        for run in ("run-b", "run-a", "run-b"):
            lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(files[run]), "--run-id", run)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    polled = json.loads(out.strip().splitlines()[-1])
    seen = {tuple(row) for row in polled["seen"]}
    # what each committed snapshot holds, read afterwards as of it
    expected = {}
    for snapshot_id, *_ in history(lake_python, tmp_path):
        counts = lake_script(
            lake_python,
            """
            import json, sys
            from warehouse.ducklake import connect, target_from
            con = connect(target_from(sys.argv[1], sys.argv[2]), read_only=True, snapshot=int(sys.argv[3]))
            print(json.dumps(con.execute(
                "select (select count(*) from audit.load_runs), (select count(*) from audit.builds), "
                "(select count(*) from audit.source_runs), (select count(*) from marts.trade_balance)").fetchone()))
            """,
            f"sqlite:{tmp_path / 'catalog.sqlite'}", str(tmp_path / "data"), snapshot_id,
        )  # fmt: skip
        expected[int(snapshot_id)] = tuple(counts)
    assert len(set(expected.values())) == 2  # the two files' states differ in what the reader counts
    assert len(polled["seen"]) > 10, polled["errors"][:3]
    assert {s for s, *_ in seen} > {min(expected)}  # the reader saw more than the first snapshot
    half = [row for row in seen if expected.get(row[0]) != tuple(row[1:])]
    assert half == []  # every read is one committed snapshot's state, whole


def test_two_publishes_at_once_leave_one_whole_state(lake_python, loaded, tmp_path):
    files = {"run-a": loaded["after_first"], "run-b": loaded["warehouse"]}
    lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(files["run-a"]), "--run-id", "run-0")
    both = [
        subprocess.Popen(
            [
                str(lake_python),
                "-m",
                "warehouse.ducklake",
                *lake_args(tmp_path),
                "publish",
                "--warehouse",
                str(file),
                "--run-id",
                run,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )  # fmt: skip
        for run, file in files.items()
    ]
    outcomes = {}
    for run, proc in zip(files, both, strict=True):
        _, err = proc.communicate(timeout=300)
        outcomes[run] = proc.returncode
        # the one that loses says why in one line (SQLite: "database is locked"; DuckLake: a transaction conflict)
        assert proc.returncode == 0 or err.startswith("tradewh lake: "), err
    assert 0 in outcomes.values()
    entries = history(lake_python, tmp_path)
    assert [e[3] for e in entries][0] == "run-0"
    assert sorted(e[3] for e in entries[1:]) == sorted(run for run, code in outcomes.items() if code == 0)
    assert_same(compare(lake_python, files[entries[-1][3]], tmp_path))  # the latest is one file's state, whole
