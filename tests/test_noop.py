"""A run that changed nothing publishes without rebuilding; a change to anything the warehouse is built from rebuilds.

Unit tests of ``warehouse.build.inputs`` on small folders, then the real flow (through Prefect) on a small project: a
copy of the SQL and seeds with a one-source catalogue, so a test can change a SQL file, a reference list or the
catalogue and see what the next run does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, run_nightly
from warehouse import build, publish
from warehouse.extract.catalogue import load_catalogue
from warehouse.orchestrate import prefect_server
from warehouse.publish import swap
from warehouse.publish.debris import clear_debris

SOURCE_ID = "mofcom_2012_technology_trade"
LAKE = f"lake:press_release/{SOURCE_ID}"  # the part of the inputs that is this source's folder of the lake


# --- what the warehouse is built from --------------------------------------------------------------------------


@pytest.fixture
def inputs_dirs(tmp_path: Path) -> dict[str, Path]:
    """Copies of the SQL files and the reference lists, a lake with one manifest, and the project's catalogue."""
    shutil.copytree(PROJECT_ROOT / "sql", tmp_path / "sql")
    shutil.copytree(PROJECT_ROOT / "seeds" / "reference", tmp_path / "seeds" / "reference")
    source = tmp_path / "lake" / "press_release" / SOURCE_ID
    (source / "2012-12-07").mkdir(parents=True)
    (source / "2012-12-07" / "data-r1.parquet").write_bytes(b"PAR1")
    (source / "_manifest.json").write_text(json.dumps({"files": {"2012-12-07": "data-r1.parquet"}}))
    return {"sql": tmp_path / "sql", "seeds": tmp_path / "seeds", "lake": tmp_path / "lake"}


def inputs_of(dirs: dict[str, Path], catalogue_path: Path | None = None, storage_version: str = "v1.2.0"):
    return build.build_inputs(
        lake_dir=dirs["lake"],
        sql_dir=dirs["sql"],
        seeds_dir=dirs["seeds"],
        catalogue=load_catalogue(catalogue_path or PROJECT_ROOT / "catalogue.toml"),
        storage_version=storage_version,
    )


def test_build_inputs_are_stable(inputs_dirs):
    first, second = inputs_of(inputs_dirs), inputs_of(inputs_dirs)
    assert first == second and len(first.sha256) == 64
    assert set(first.parts) == {LAKE, "sql", "reference", "catalogue", "storage_version", "code", "libraries"}


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.mark.parametrize(
    ("changed", "text", "part"),
    [
        ("sql/marts/trade_balance.sql", "\n-- a comment\n", "sql"),
        ("seeds/reference/categories.csv", "x,y,,z\n", "reference"),
        (f"lake/press_release/{SOURCE_ID}/_manifest.json", " ", LAKE),
        (f"lake/press_release/{SOURCE_ID}/2012-12-07/data-r1.parquet", "more", LAKE),  # rewritten under its name
    ],
    ids=["sql_file", "reference_list", "lake_manifest", "lake_file"],
)
def test_a_change_shows_in_its_part(inputs_dirs, changed, text, part):
    before = inputs_of(inputs_dirs)
    append(inputs_dirs["sql"].parent / changed, text)
    after = inputs_of(inputs_dirs)
    assert after.sha256 != before.sha256
    assert after.changed_since(before.parts) == [part]


def test_catalogue_and_storage_version_show_in_their_parts(inputs_dirs, tmp_path):
    before = inputs_of(inputs_dirs)
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text((PROJECT_ROOT / "catalogue.toml").read_text().replace("Li Jiabao", "Li J."))
    assert inputs_of(inputs_dirs, catalogue).changed_since(before.parts) == ["catalogue"]
    assert inputs_of(inputs_dirs, storage_version="v1.0.0").changed_since(before.parts) == ["storage_version"]


def test_stored_views_reading_the_audit_are_found_through_other_views(tmp_path):
    for name, text in {
        "marts/runs_view.sql": "create or replace view marts.runs_view as select * from audit.load_runs;",
        "marts/stored_over_runs.sql": "-- materialized: table\ncreate or replace view marts.stored_over_runs as "
        "select * from marts.runs_view;",
        "marts/stored_figures.sql": "-- materialized: table\ncreate or replace view marts.stored_figures as "
        "select * from core.fct_trade_figure; -- not audit.load_runs\ncomment on view marts.stored_figures is "
        "'Not from audit.load_runs';",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert build.stored_views_reading_audit(tmp_path) == ["marts.stored_over_runs"]
    assert build.stored_views_reading_audit(PROJECT_ROOT / "sql") == []  # the project's own SQL allows no-ops


# --- the copy carried over while Prefect starts (tradewh load) --------------------------------------------------


def join_discards() -> None:
    """Wait for the unlinks publish.discard runs in threads."""
    for thread in threading.enumerate():
        if thread.name == "tradewh-discard":
            thread.join()


@pytest.fixture
def small_warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse" / "tradewh.duckdb"
    path.parent.mkdir()
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select range as n from range(100000)")
    return path


def test_a_carried_copy_is_the_published_file_and_is_taken_once(small_warehouse):
    copy = publish.carry_over(small_warehouse)
    assert copy is not None and copy.name == f".tradewh.duckdb.carried-{os.getpid()}.building"
    assert publish.carried_copies() == {copy}
    assert publish.take_carried(small_warehouse) == copy
    assert copy.read_bytes() == small_warehouse.read_bytes()
    assert publish.carried_copies() == set() and publish.take_carried(small_warehouse) is None


def test_a_carried_copy_of_a_file_changed_since_is_not_taken_and_is_deleted(small_warehouse):
    copy = publish.carry_over(small_warehouse)
    for thread in threading.enumerate():
        if thread.name == "tradewh-carry":
            thread.join()
    with duckdb.connect(str(small_warehouse)) as con:  # written in place after the copy: the copy is stale
        con.execute("insert into t values (-1)")
    assert publish.take_carried(small_warehouse) is None
    join_discards()
    assert not copy.exists() and sorted(p.name for p in small_warehouse.parent.iterdir()) == ["tradewh.duckdb"]


def test_a_dropped_copy_is_deleted_and_debris_leaves_a_carried_copy_alone(small_warehouse):
    home = small_warehouse.parent.parent
    copy = publish.carry_over(small_warehouse)
    left = small_warehouse.with_name(".tradewh.duckdb.carried-4242.building")  # a killed load's
    left.write_bytes(b"half")
    assert clear_debris(home, keep=publish.carried_copies()) == [left]
    assert copy.exists() or publish.carried_copies() == {copy}
    publish.drop_carried()
    join_discards()
    assert publish.carried_copies() == set() and not copy.exists()
    assert publish.carry_over(small_warehouse.with_name("nothing.duckdb")) is None  # nothing published yet


def test_tradewh_load_carries_a_copy_over_and_keeps_local_files_while_the_flow_starts(small_warehouse, monkeypatch):
    import flows.nightly
    from warehouse.extract import prefetch
    from warehouse.serve import cli, operations

    seen: list[set[Path]] = []
    raw = small_warehouse.parent.parent / "raw"

    def fake_nightly(**kwargs: object) -> object:
        from prefect.states import Completed

        seen.append(publish.carried_copies())
        prefetch.wait_prefetched()  # what the flow does first
        seen.append({p.relative_to(raw).parts[0] for p in raw.glob("*/*/*")})
        outcome = {"run_id": "r", "status": "succeeded", "summary": [], "failed_sources": [], "log_file": ""}
        return Completed(data=outcome) if kwargs.get("return_state") else outcome  # `tradewh load` asks for a state

    monkeypatch.setenv("TRADEWH_HOME", str(small_warehouse.parent.parent))
    monkeypatch.setattr(flows.nightly, "nightly", fake_nightly)
    monkeypatch.setattr(operations, "configure_prefect", lambda settings: None)
    # no server for a flow that is faked
    monkeypatch.setattr(prefect_server, "start_early", lambda cache_dir=None: lambda: None)
    assert cli.main(["load"]) == 0
    carried, prefetched = seen
    assert carried == {small_warehouse.with_name(f".tradewh.duckdb.carried-{os.getpid()}.building")}
    local = {s.id for s in load_catalogue(PROJECT_ROOT / "catalogue.toml") if s.location_kind != "url"}
    assert local and prefetched == local  # the catalogue's local files, kept before the flow fetched anything
    join_discards()
    assert publish.carried_copies() == set()
    assert sorted(p.name for p in small_warehouse.parent.iterdir()) == ["tradewh.duckdb"]


# --- the flow on a small project -------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, prefect_home: Path) -> dict[str, Path]:
    """A project folder (SQL, seeds, a one-source catalogue reading a local file) and a data folder."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "sql", root / "sql")
    shutil.copytree(PROJECT_ROOT / "seeds", root / "seeds")
    release = root / "release" / "figures.csv"
    release.parent.mkdir()
    shutil.copy(PROJECT_ROOT / "seeds" / SOURCE_ID / "figures.csv", release)
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    entry = text.split("\n[[source]]\n")[1]  # the first entry: the press release
    entry = "[[source]]\n" + entry
    entry = entry.replace(f'location = {{ seed = "{SOURCE_ID}/figures.csv" }}', f'location = {{ path = "{release}" }}')
    assert f'path = "{release}"' in entry
    (root / "catalogue.toml").write_text(entry)
    return {"root": root, "home": tmp_path / "home", "release": release, "catalogue": root / "catalogue.toml"}


def run(project: dict[str, Path]) -> dict[str, object]:
    return run_nightly(project["home"], project["catalogue"], TRADEWH_PROJECT_ROOT=str(project["root"]))


def published(project: dict[str, Path]) -> Path:
    return project["home"] / "warehouse" / "tradewh.duckdb"


def query(path: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def builds(path: Path) -> list[tuple]:
    return query(path, "select run_id, is_rebuilt, inputs_sha256 from audit.builds order by published_at")


def figures(path: Path) -> list[tuple]:
    return sorted(query(path, "select * from marts.trade_balance"), key=repr)


def no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "build_warehouse", lambda *a, **k: pytest.fail("a no-op run rebuilt the warehouse"))


def test_a_rerun_publishes_again_without_building_and_rollback_still_works(project, monkeypatch):
    first = run(project)
    before = figures(published(project))
    with monkeypatch.context() as patched:
        no_build(patched)
        second = run(project)
    assert (first["status"], second["status"]) == ("succeeded", "succeeded")
    path, previous = published(project), published(project).with_name("tradewh.duckdb.previous")
    assert [r[0] for r in query(path, "select run_id from audit.load_runs order by run_id")] == [
        first["run_id"],
        second["run_id"],
    ]
    assert query(path, "select status from audit.source_runs where run_id = ?", [second["run_id"]]) == [("skipped",)]
    (built, carried) = builds(path)
    assert (built[:2], carried[:2]) == ((first["run_id"], True), (second["run_id"], False))
    assert built[2] == carried[2]  # the same inputs
    assert figures(path) == before
    assert query(previous, "select run_id from audit.load_runs") == [(first["run_id"],)]  # the file it replaced
    assert list(path.parent.glob(".*")) == []  # no temporary file left

    publish.rollback(path)  # `tradewh rollback`: the file before the no-op run is back
    assert query(path, "select count(*) from audit.load_runs") == [(1,)]
    third = run(project)  # the lake's audit holds a run the rolled-back file lacks: rebuild
    assert [r[:2] for r in builds(path)] == [(third["run_id"], True)]  # a new file, with its own history
    assert query(path, "select count(*) from audit.load_runs") == [(3,)]
    assert third["status"] == "succeeded" and figures(path) == before


def opened_when_made(copy: Path) -> int:
    """A descriptor of a file a thread is making (``carry_over``), opened as soon as it exists: the file it names
    stays the same inode whatever is renamed or deleted, and that inode is not reused while it is open."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            return os.open(copy, os.O_RDONLY)
        time.sleep(0.001)
    pytest.fail(f"{copy} was never made")


def test_a_no_op_run_publishes_the_copy_carried_over_and_a_run_that_builds_drops_it(project, monkeypatch):
    first = run(project)
    path = published(project)
    before = figures(path)
    with monkeypatch.context() as patched:
        no_build(patched)
        carried = opened_when_made(publish.carry_over(path))  # what `tradewh load` does before the flow starts
        try:
            second = run(project)
            # the published file is the copy carried over, appended to and renamed: the republish copied nothing
            assert os.path.samestat(os.fstat(carried), path.stat())
        finally:
            os.close(carried)
    assert [r[:2] for r in builds(path)] == [(first["run_id"], True), (second["run_id"], False)]
    assert figures(path) == before
    join_discards()
    assert list(path.parent.glob(".*")) == [] and publish.carried_copies() == set()

    project["release"].write_text(project["release"].read_text().replace(",USD,21.4,21.4,1e9,", ",USD,21.5,21.5,1e9,"))
    publish.carry_over(path)
    third = run(project)  # a revised release: a build, which drops the copy
    assert [r[:2] for r in builds(path)] == [(third["run_id"], True)]
    join_discards()
    assert list(path.parent.glob(".*")) == [] and publish.carried_copies() == set()


def _rename_software(project: dict[str, Path]) -> None:
    path = project["root"] / "seeds" / "reference" / "categories.csv"
    text = path.read_text()
    assert '"Computer software"' in text
    path.write_text(text.replace('"Computer software"', '"Computer software and services"'))


def _comment_a_view(project: dict[str, Path]) -> None:
    path = project["root"] / "sql" / "core" / "dim_source.sql"
    path.write_text(path.read_text().replace("is 'What the source is'", "is 'What the source is, in its words'"))


def _retitle(project: dict[str, Path]) -> None:
    path = project["catalogue"]
    path.write_text(path.read_text().replace("Li Jiabao)", "Li Jiabao, retitled)"))


def test_a_changed_sql_file_reference_list_or_catalogue_entry_rebuilds(project):
    run(project)
    path = published(project)
    checks = [
        (_comment_a_view, "select comment from duckdb_columns() where table_name = 'dim_source' and column_name = "
         "'title'", [("What the source is, in its words",)]),
        (_rename_software, "select name from core.dim_category where category = 'software'",
         [("Computer software and services",)]),
        (_retitle, f"select title from core.dim_source where source_id = '{SOURCE_ID}'",
         [("China vows to narrow trade deficit in technology (China Daily, 2012-12-07, Li Jiabao, retitled)",)]),
    ]  # fmt: skip
    digests = {builds(path)[0][2]}
    for change, sql, expected in checks:
        change(project)
        result = run(project)
        assert result["status"] == "succeeded"
        assert [r[:2] for r in builds(path)] == [(result["run_id"], True)], change.__name__  # rebuilt
        assert query(path, sql) == expected, change.__name__
        digests.add(builds(path)[0][2])
    assert len(digests) == len(checks) + 1  # a digest per state of the inputs
    assert query(path, "select count(*) from audit.load_runs") == [(len(checks) + 1,)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_no_op_publish_that_fails_leaves_the_published_file_and_the_next_run_rebuilds(project, monkeypatch):
    first = run(project)
    path = published(project)
    kept = sha256(path)

    def fail_at(name: str) -> None:
        if name == "publish":
            raise RuntimeError("the disk is full")

    with monkeypatch.context() as patched:
        no_build(patched)
        patched.setattr(swap, "failpoint", fail_at)
        with pytest.raises(RuntimeError, match="the disk is full"):
            run(project)
    assert sha256(path) == kept
    assert list(path.parent.glob(".*")) == []  # the copy is gone
    third = run(project)
    assert third["status"] == "succeeded"
    runs = query(path, "select run_id, status from audit.load_runs order by run_id")
    assert [r[0] for r in runs][0] == first["run_id"] and runs[-1] == (third["run_id"], "succeeded")
    assert runs[1][1] == "failed" and len(runs) == 3  # the failed run is in the audit too
    assert [r[:2] for r in builds(path)] == [(third["run_id"], True)]


def test_the_project_rerun_was_a_no_op(loaded):
    """The session's loaded warehouse (tests/conftest.py): its second run published without building."""
    rows = builds(loaded["warehouse"])
    assert [(r[0], r[1]) for r in rows] == [(loaded["first"]["run_id"], True), (loaded["second"]["run_id"], False)]
    assert rows[0][2] == rows[1][2]


def test_the_no_op_path_imports_neither_pandas_nor_pandera(tmp_path):
    """What a run that finds every source unchanged uses (the flow, the lake's manifests, the audit records, the
    republish) imports no data-frame library: importing pandas and pandera alone took 0.4 s of such a run."""
    import subprocess
    import sys

    script = f"""
import sys
from pathlib import Path
import warehouse.serve.cli, flows.nightly
from warehouse.lake import audit
from warehouse import build, publish
from warehouse import lake
run = audit.new_run()
run.results.append(audit.SourceResult("s", "press_release", "skipped", files=[
    {{"file_name": "f.csv", "origin": "o", "file_sha256": "0" * 64, "bytes": 3}}]))
audit.record_run(run, Path({str(tmp_path)!r}))
loaded = sorted(m for m in ("pandas", "pandera", "warehouse.stage.staging") if m in sys.modules)
print(",".join(loaded) or "none")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"
    (written,) = (tmp_path / "_audit" / "load_runs").glob("*.parquet")
    runs = duckdb.sql(f"select run_id, status, sources_skipped from '{written}'").fetchall()
    assert runs == [(written.stem, "running", 1)]
    files = duckdb.sql(f"select file_name, bytes from '{tmp_path}/_audit/source_files/*.parquet'").fetchall()
    assert files == [("f.csv", 3)]
