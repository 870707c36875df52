"""Publish history that cannot be poisoned: the last publishes are kept, and a rollback puts one back only once it
opens, carries this project's build stamp and passes the build's checks; every rollback is an audit row."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import duckdb
import pytest

from tests.test_crash_safety import load, sha256
from tests.test_lake_integrity import EXPORTS_2011, SEED, one_source_catalogue, query
from warehouse import publish
from warehouse.lake import audit
from warehouse.orchestrate import verify
from warehouse.publish.debris import clear_debris

pytestmark = pytest.mark.slow  # real `tradewh load` processes: the full tier (`make test`)


def join_discards() -> None:
    for thread in threading.enumerate():
        if thread.name == "tradewh-discard":
            thread.join()


def test_publish_keeps_the_last_n_publishes_as_hard_links(tmp_path):
    final = tmp_path / "warehouse" / "tradewh.duckdb"
    final.parent.mkdir()
    runs = [f"20260101T00000{i}-abcdef" for i in range(4)]
    for run in runs:
        built = final.with_name(f".tradewh.duckdb.{run}.building")
        built.write_text(run)
        publish.publish(built, final, keep=3)  # the run is read from the built file's name
    join_discards()
    kept = publish.history(final)
    assert list(kept) == runs[1:]  # the oldest dropped
    assert os.path.samefile(kept[runs[-1]], final)  # a link: the file in place costs no second copy
    assert [p.read_text() for p in kept.values()] == runs[1:]
    assert final.with_name("tradewh.duckdb.previous").read_text() == runs[2]
    assert sorted(p.name for p in publish.history_dir(final).iterdir()) == [f"{r}.duckdb" for r in runs[1:]]

    left = publish.history_dir(final) / ".20260101T000009-abcdef.duckdb.4242.building"  # a publish killed mid-link
    left.write_text("x")
    assert left in clear_debris(tmp_path)


def test_the_history_length_comes_from_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEWH_PUBLISH_HISTORY", "1")
    final = tmp_path / "tradewh.duckdb"
    for run in ("20260101T000001-aaaaaa", "20260101T000002-aaaaaa"):
        built = tmp_path / f".tradewh.duckdb.{run}.building"
        built.write_text(run)
        publish.publish(built, final)
    join_discards()
    assert list(publish.history(final)) == ["20260101T000002-aaaaaa"]


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The press release loaded, then the release revised (21.4 -> 21.5) and loaded again: two publishes kept."""
    workdir = tmp_path_factory.mktemp("history")
    (workdir / "release").mkdir()
    shutil.copy(SEED, workdir / "release" / "figures.csv")
    one_source_catalogue(workdir, str(workdir / "release" / "figures.csv"))
    for _ in range(2):
        code, output = load(workdir, workdir / "home")
        assert code == 0, output[-3000:]
        path = workdir / "release" / "figures.csv"
        path.write_text(path.read_text().replace(",USD,21.4,21.4,1e9,", ",USD,21.5,21.5,1e9,"))
    return workdir


@pytest.fixture
def home(twice: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    subprocess.run(["cp", "-a", str(twice / "home"), str(copy)], check=True)  # hard links kept, as in the home
    return copy


def published(home: Path) -> Path:
    return home / "warehouse" / "tradewh.duckdb"


def test_two_loads_keep_two_publishes_and_the_default_rollback_goes_one_back(home):
    final = published(home)
    first, second = publish.history(final)
    assert query(final, EXPORTS_2011) == [(21.5e9,)]
    assert publish.build_stamp(final) == second

    assert publish.rollback(final) == first
    assert query(final, EXPORTS_2011) == [(21.4e9,)]
    assert sha256(final) == sha256(publish.history(final)[first])
    (event,) = audit.rollback_events(home / "lake")
    assert (event["status"], event["from_run_id"], event["to_run_id"]) == ("rolled_back", second, first)

    with pytest.raises(publish.NothingToRollBackTo, match="no previous publish"):
        publish.rollback(final)  # nothing older than the first publish
    assert publish.rollback(final, to_run=second) == second  # forward again, by name
    assert query(final, EXPORTS_2011) == [(21.5e9,)]
    assert [e["status"] for e in audit.rollback_events(home / "lake")] == ["rolled_back", "refused", "rolled_back"]
    assert list(final.parent.glob(".*")) == []


def _garbage(path: Path) -> None:
    """What `COPY (select ...) TO '<path>'` from any DuckDB client writes there: a CSV."""
    with duckdb.connect() as con:
        con.execute(f"copy (select 42 as answer) to '{path}' (format csv)")


@pytest.mark.parametrize("slot", ["previous", "history"])
def test_garbage_in_the_previous_slot_or_history_is_refused_and_the_published_file_stays(home, slot):
    final = published(home)
    first, _ = publish.history(final)
    if slot == "previous":  # a home published before the history was kept: the `.previous` slot alone
        shutil.rmtree(publish.history_dir(final))
        target = final.with_name("tradewh.duckdb.previous")
    else:
        target = publish.history(final)[first]
    _garbage(target)
    before = sha256(final)
    with pytest.raises(publish.RollbackError, match="does not open as a DuckDB database") as refused:
        publish.rollback(final)
    assert str(final) in str(refused.value) and "unchanged" in str(refused.value)
    assert sha256(final) == before
    (event,) = audit.rollback_events(home / "lake")
    assert event["status"] == "refused" and "does not open" in event["message"]
    assert list(final.parent.glob(".*")) == []
    assert any("does not open" in p for p in verify.verify(home)) == (slot == "history")


def test_garbage_in_the_previous_slot_is_never_what_a_rollback_publishes(home):
    final = published(home)
    first, _ = publish.history(final)
    _garbage(final.with_name("tradewh.duckdb.previous"))
    assert publish.rollback(final) == first  # the publish kept in the history, checked
    assert sha256(final) == sha256(publish.history(final)[first])
    assert query(final, EXPORTS_2011) == [(21.4e9,)]


def test_a_database_without_this_project_s_build_stamp_is_refused(home):
    final = published(home)
    first, _ = publish.history(final)
    entry = publish.history(final)[first]
    entry.unlink()
    with duckdb.connect(str(entry)) as con:  # a DuckDB file, with a marts schema, but not built by tradewh
        con.execute("create schema marts; create table marts.trade_balance as select 42.8e9 as exports")
    before = sha256(final)
    with pytest.raises(publish.RollbackError, match="no tradewh build stamp"):
        publish.rollback(final, to_run=first)
    assert sha256(final) == before


def test_a_warehouse_that_fails_the_build_s_checks_is_refused(home):
    final = published(home)
    first, _ = publish.history(final)
    entry = publish.history(final)[first]
    copy = entry.with_name("edited.duckdb")
    shutil.copy(entry, copy)
    with duckdb.connect(str(copy)) as con:  # a period the conformed figure refuses
        stored = con.execute(  # the parts of the stored fact whose period is stored in each row
            "select table_name from information_schema.columns where table_schema = 'store' "
            "and starts_with(table_name, 'core__fct_trade_figure__part__') and column_name = 'period' "
            "and is_generated = 'NEVER'"
        ).fetchall()
        edited = sum(
            con.execute(f"update store.\"{part}\" set period = '2011x' where period = '2011'").fetchone()[0]
            for (part,) in stored
        )
        assert edited > 0
    os.replace(copy, entry)
    before = sha256(final)
    with pytest.raises(publish.RollbackError, match="fails the build's checks"):
        publish.rollback(final, to_run=first)
    assert sha256(final) == before


def test_a_run_that_is_not_kept_is_refused(home):
    with pytest.raises(publish.NothingToRollBackTo, match="no publish of run 19990101T000000-000000"):
        publish.rollback(published(home), to_run="19990101T000000-000000")


def test_after_a_rollback_the_next_load_rebuilds_and_the_audit_shows_the_rollback(twice, tmp_path):
    workdir = tmp_path / "work"
    shutil.copytree(twice, workdir)
    catalogue = workdir / "catalogue.toml"
    catalogue.write_text(catalogue.read_text().replace(str(twice), str(workdir)))
    final = published(workdir / "home")
    first, second = publish.history(final)
    publish.rollback(final)
    code, output = load(workdir, workdir / "home")
    assert code == 0, output[-3000:]
    assert query(final, EXPORTS_2011) == [(21.5e9,)]  # the lake's figures, rebuilt
    rows = query(final, "select status, from_run_id, to_run_id from audit.rollbacks")
    assert rows == [("rolled_back", second, first)]
    assert len(publish.history(final)) == 3
