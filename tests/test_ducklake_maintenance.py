"""The lake's maintenance (issue 21, part 4): old snapshots expired but never the latest K publishes nor the
current one, small files merged, unreferenced and orphaned files deleted, and every public view's rows unchanged.

The lake is made the way it grows: four publishes of the nightly's two warehouse files (each replaces every table,
so the older snapshots keep their own files), a table appended in small commits (as the parallel ingestion writes
partitions: one small file each), and a publish killed before its commit (files no snapshot references). The
maintenance runs as the Prefect flow in the lake environment (``flows/lake_maintenance.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_ducklake import (  # noqa: F401 (lake_python is a fixture)
    assert_same,
    compare,
    history,
    lake,
    lake_args,
    lake_python,
    lake_script,
    public_views,
)
from tests.test_scheduling import BIN, _env, _gone, _stop, server  # noqa: F401 (a fixture: the project's Prefect server)

pytestmark = pytest.mark.slow

# In the lake environment: the catalog's snapshots, the files it references, the appended table's rows.
STATE = """
import json, sys
from warehouse.ducklake import connect, target_from
con = connect(target_from(sys.argv[1], sys.argv[2]))  # not read-only: DuckLake's dry runs need a writable attach
print(json.dumps({
    "orphans": [p for (p,) in con.execute(
        "call ducklake_delete_orphaned_files('lake', dry_run => true, cleanup_all => true)").fetchall()],
    "snapshots": [s for (s,) in con.execute("select snapshot_id from lake.snapshots() order by 1").fetchall()],
    "referenced": sorted(p for (p,) in con.execute(
        "select data_file from ducklake_list_files('lake', 'parts', schema => 'raw')").fetchall()),
    "parts": con.execute("select count(*), count(distinct (b, i)), sum(i) from raw.parts").fetchone(),
}))
"""

APPEND = """
import json, sys
from warehouse.ducklake import connect, target_from
con = connect(target_from(sys.argv[1], sys.argv[2]))
con.execute("create table lake.raw.parts (b integer, i bigint)")
for b in range(6):  # one commit, one small file each
    con.execute("insert into lake.raw.parts select ?, range from range(1000)", [b])
print(json.dumps("ok"))
"""

# The flow itself, in the lake environment (Prefect's temporary server, in a Prefect home of its own).
FLOW = """
import json, sys
from flows.lake_maintenance import lake_maintenance
print(json.dumps(lake_maintenance(older_than_days=0, keep=int(sys.argv[1]), files_older_than_hours=0)))
"""


def run_flow(python: Path, tmp_path: Path, keep: int) -> dict:
    """The maintenance flow on the test's lake (TRADEWH_LAKE_CATALOG / TRADEWH_LAKE_DATA); its report."""
    env = {
        **os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "TRADEWH_HOME": str(tmp_path / "home"),
        "TRADEWH_LAKE_CATALOG": f"sqlite:{tmp_path / 'catalog.sqlite'}", "TRADEWH_LAKE_DATA": str(tmp_path / "data"),
    }  # fmt: skip
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [str(python), "-c", FLOW, str(keep)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_same_as(found: dict) -> None:
    """``assert_same``, the appended table (in the lake only, by design) aside."""
    assert_same({**found, "only_lake": [o for o in found["only_lake"] if o != ["raw", "parts", "table"]]})


def parquet_files(tmp_path: Path) -> set[Path]:
    return set((tmp_path / "data").rglob("*.parquet"))


def test_maintenance_keeps_every_view_and_the_latest_publishes(lake_python, loaded, tmp_path):  # noqa: F811
    files = {"run-a": loaded["after_first"], "run-b": loaded["warehouse"]}
    files |= {"run-c": files["run-a"], "run-d": files["run-b"]}
    for run, file in files.items():
        lake(lake_python, *lake_args(tmp_path), "publish", "--warehouse", str(file), "--run-id", run)
    catalog, data = f"sqlite:{tmp_path / 'catalog.sqlite'}", str(tmp_path / "data")
    lake_script(lake_python, APPEND, catalog, data)
    killed = subprocess.run(
        [str(lake_python), "-m", "warehouse.ducklake", *lake_args(tmp_path), "publish",
         "--warehouse", str(files["run-a"]), "--run-id", "run-killed"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env={**os.environ, "TRADEWH_FAILPOINT": "lake_commit"},
        timeout=300, check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before = lake_script(lake_python, STATE, catalog, data)
    on_disk_before = parquet_files(tmp_path)
    assert len(before["referenced"]) == 6  # the appended table's small files
    snapshots = {e[3]: int(e[0]) for e in history(lake_python, tmp_path)}
    assert list(snapshots) == ["run-a", "run-b", "run-c", "run-d"]

    # the age rule first: in a lake younger than 30 days, the defaults expire nothing
    dry = lake(lake_python, *lake_args(tmp_path), "maintain", "--dry-run")
    assert dry.startswith("would expire 0 snapshot(s)"), dry

    assert before["orphans"]  # the killed publish's files
    report = run_flow(lake_python, tmp_path, keep=2)
    after = lake_script(lake_python, STATE, catalog, data)
    on_disk_after = parquet_files(tmp_path)

    # expired: every snapshot but the latest two publishes and the current one; those two still read as of
    assert report["kept_publishes"] == [snapshots["run-c"], snapshots["run-d"]]
    assert report["current"] == before["snapshots"][-1]
    assert sorted(report["expired"]) == sorted(
        set(before["snapshots"]) - {snapshots["run-c"], snapshots["run-d"], before["snapshots"][-1]}
    )
    assert not set(report["expired"]) & set(after["snapshots"])
    assert [e[3] for e in history(lake_python, tmp_path)] == ["run-c", "run-d"]
    latest = compare(lake_python, files["run-d"], tmp_path)
    assert_same_as(latest)  # latest: every view and table of the file, rows both ways (EXCEPT ALL), comments
    assert public_views(files["run-d"]) <= set(latest["objects"])
    assert_same_as(compare(lake_python, files["run-c"], tmp_path, snapshot=snapshots["run-c"]))
    # merged: the appended table's six small files are one, its rows the same
    assert report["merged"] >= 6 and len(after["referenced"]) < len(before["referenced"])
    assert after["parts"] == before["parts"] == [6000, 6000, 6 * sum(range(1000))]
    # deleted: fewer files on disk, and none left that the catalog does not know (the killed publish's included)
    assert len(on_disk_after) < len(on_disk_before)
    assert report["orphans_deleted"] and report["files_deleted"]
    assert after["orphans"] == []
    assert len(on_disk_after - on_disk_before) == 1  # only the merged file is new

    # a rollback to a kept run still works; to an expired one it says which runs it can put back
    out = lake(lake_python, *lake_args(tmp_path), "rollback", "--to", "run-c")
    assert "rolled back to run run-c" in out
    assert_same_as(compare(lake_python, files["run-c"], tmp_path))
    refused = subprocess.run(
        [str(lake_python), "-m", "warehouse.ducklake", *lake_args(tmp_path), "rollback", "--to", "run-a"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "no publish of run 'run-a'" in refused.stderr, refused.stderr


def test_the_weekly_deployment_runs_in_the_lake_environment_through_the_worker(lake_python, loaded, server):  # noqa: F811
    """prefect.yaml's ``tradewh-lake-maintenance`` deployed beside the nightly's, run by the nightly's process worker
    (the project's environment), which starts the flow with the lake environment's interpreter (DuckDB 1.5.5)."""
    env = _env(server.home, PREFECT_API_URL=server.api_url, TRADEWH_PROJECT_ROOT=str(PROJECT_ROOT))
    for run in ("run-a", "run-b"):
        publish = subprocess.run(
            [str(lake_python), "-m", "warehouse.ducklake", "publish", "--warehouse", str(loaded["warehouse"]),
             "--run-id", run],
            capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=300, check=False,
        )  # fmt: skip
        assert publish.returncode == 0, publish.stderr

    def prefect(*args: str) -> str:
        done = subprocess.run(
            [str(BIN / "prefect"), *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=180,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    prefect("work-pool", "create", "tradewh", "--type", "process")
    prefect("--no-prompt", "deploy", "--name", "tradewh-lake-maintenance")
    deployment = httpx.post(f"{server.api_url}/deployments/filter", json={}, timeout=10).json()
    (weekly,) = [d for d in deployment if d["name"] == "tradewh-lake-maintenance"]
    assert [s["schedule"]["cron"] for s in weekly["schedules"]] == ["0 4 * * 0"]
    assert weekly["job_variables"]["command"] == f"{PROJECT_ROOT}/.venv-lake/bin/python -m prefect.engine"
    prefect(
        "deployment", "run", "tradewh-lake-maintenance/tradewh-lake-maintenance",
        "--param", "older_than_days=0", "--param", "keep=1", "--param", "files_older_than_hours=0",
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "tradewh"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=server.home,
        start_new_session=True,
    )  # fmt: skip
    try:
        run = server.wait_for_run("COMPLETED", timeout=240)
    finally:
        _stop(worker)
    assert _gone(worker.pid)
    assert run["deployment_id"] == weekly["id"], run
    # it ran in the lake environment: only the latest publish is left, and the lake reads as the file
    entries = [line.split() for line in lake(lake_python, "history", env=env).splitlines()]
    assert [e[3] for e in entries] == ["run-b"]
