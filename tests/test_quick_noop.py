"""A night that changes nothing, run without Prefect's flow engine when a Prefect server runs
(``warehouse.orchestrate.quick_noop``, what `tradewh load` tries first): it publishes again as the flow's no-op
does, records the run in the audit and on the server, and leaves every other night to the flow."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import PROJECT_ROOT, run_nightly
from warehouse.common.settings import load_settings
from warehouse.extract.catalogue import load_catalogue
from warehouse.orchestrate.quick_noop import quick_noop

SOURCE_ID = "mofcom_2012_technology_trade"
REVISION = (",USD,21.4,21.4,1e9,", ",USD,21.5,21.5,1e9,")


@pytest.fixture
def project(tmp_path: Path, prefect_home: Path) -> dict[str, Path]:
    """A project folder (SQL, seeds, a one-source catalogue reading a local file), loaded once by the flow."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "sql", root / "sql")
    shutil.copytree(PROJECT_ROOT / "seeds", root / "seeds")
    release = root / "release" / "figures.csv"
    release.parent.mkdir()
    shutil.copy(PROJECT_ROOT / "seeds" / SOURCE_ID / "figures.csv", release)
    entry = "[[source]]\n" + (PROJECT_ROOT / "catalogue.toml").read_text().split("\n[[source]]\n")[1]
    seed = f'location = {{ seed = "{SOURCE_ID}/figures.csv" }}'
    assert seed in entry
    (root / "catalogue.toml").write_text(entry.replace(seed, f'location = {{ path = "{release}" }}'))
    env = {"TRADEWH_HOME": str(tmp_path / "home"), "TRADEWH_CATALOGUE": str(root / "catalogue.toml")}
    env["TRADEWH_PROJECT_ROOT"] = str(root)
    first = run_nightly(tmp_path / "home", root / "catalogue.toml", TRADEWH_PROJECT_ROOT=str(root))
    assert first["status"] == "succeeded"
    return {"root": root, "home": tmp_path / "home", "release": release, "env": env, "first": first}  # type: ignore[dict-item]


def api_url() -> str:
    """The API of the Prefect server the flow above ran on (the tests' temporary one)."""
    from prefect.server.api.server import SubprocessASGIServer

    return SubprocessASGIServer().api_url


def query(path: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def flow_runs(run_name: str | None = None) -> list[dict]:
    body = {"flows": {"name": {"any_": ["tradewh-nightly"]}}, "sort": "START_TIME_DESC", "limit": 50}
    runs = httpx.post(f"{api_url()}/flow_runs/filter", json=body).json()
    return [r for r in runs if run_name is None or r["name"] == run_name]


def audit_files(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "lake" / "_audit").rglob("*.parquet"))


def test_a_night_that_changes_nothing_publishes_again_and_is_recorded_on_the_server(project):
    settings = load_settings(project["env"])
    path = settings.warehouse_path
    before = sorted(query(path, "select * from marts.trade_balance"), key=repr)
    started = dt.datetime.now(dt.UTC)

    outcome = quick_noop(settings, api_url(), started)

    assert outcome is not None and outcome["status"] == "succeeded"
    run_id = outcome["run_id"]
    assert query(path, "select run_id, is_rebuilt, build_kind from audit.builds order by published_at") == [
        (project["first"]["run_id"], True, "full"),
        (run_id, False, "republish"),
    ]
    assert query(path, "select status, sources_skipped from audit.load_runs where run_id = ?", [run_id]) == [
        ("succeeded", 1)
    ]
    assert query(path, "select source_id, status from audit.source_runs where run_id = ?", [run_id]) == [
        (SOURCE_ID, "skipped")
    ]
    assert sorted(query(path, "select * from marts.trade_balance"), key=repr) == before
    assert Path(outcome["log_file"]).read_text().count("nothing it is built from changed") == 1
    # on the server: a run of the nightly, completed, tagged, with the flow's three artifacts
    (recorded,) = [r for r in flow_runs() if "no-op" in r["tags"]]
    assert recorded["state_type"] == "COMPLETED" and recorded["parameters"]["started_at"] == started.isoformat()
    artifacts = httpx.post(
        f"{api_url()}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [recorded["id"]]}}}
    ).json()
    assert sorted(a["key"] for a in artifacts) == ["tradewh-freshness", "tradewh-run-summary", "tradewh-sources"]
    sources = next(a for a in artifacts if a["key"] == "tradewh-sources")
    assert [row["status"] for row in json.loads(sources["data"])] == ["skipped"]
    # the flow's next night finds the file it published and the lake's audit in step: a no-op again
    second = run_nightly(project["home"], project["root"] / "catalogue.toml", TRADEWH_PROJECT_ROOT=str(project["root"]))
    assert [r[1] for r in query(path, "select run_id, is_rebuilt from audit.builds order by published_at")] == [
        True,
        False,
        False,
    ]
    assert second["status"] == "succeeded"


def test_a_changed_file_or_input_leaves_the_night_to_the_flow_and_records_nothing(project):
    settings = load_settings(project["env"])
    audit_before, runs_before = audit_files(project["home"]), len(flow_runs())

    project["release"].write_text(project["release"].read_text().replace(*REVISION))
    assert quick_noop(settings, api_url(), dt.datetime.now(dt.UTC)) is None
    project["release"].write_text(project["release"].read_text().replace(REVISION[1], REVISION[0]))

    view = project["root"] / "sql" / "marts" / "trade_balance.sql"
    view.write_text(view.read_text() + "\n")  # an input of the build changed: the flow builds
    assert quick_noop(settings, api_url(), dt.datetime.now(dt.UTC)) is None
    view.write_text(view.read_text()[:-1])

    assert quick_noop(settings, None, dt.datetime.now(dt.UTC)) is None  # no server: the flow starts Prefect's own
    lake = load_settings({**project["env"], "TRADEWH_LAKE_CATALOG": f"sqlite:{project['home'] / 'lake.sqlite'}"})
    assert quick_noop(lake, api_url(), dt.datetime.now(dt.UTC)) is None  # the lake's publish is the flow's task
    assert audit_files(project["home"]) == audit_before and len(flow_runs()) == runs_before


def test_what_surely_changes_the_night_is_known_before_the_prefetch_and_a_touch_is_not(project, tmp_path):
    """A fresh home, a new source, a file of another size: the flow starts at once (it copies the file while
    Prefect starts); a file only touched may hold the same bytes: the full check decides, and it is a no-op."""
    from warehouse.orchestrate.quick_noop import surely_changed

    settings = load_settings(project["env"])
    catalogue = load_catalogue(settings.catalogue_path)
    assert not surely_changed(catalogue, settings)
    fresh = load_settings({**project["env"], "TRADEWH_HOME": str(tmp_path / "fresh")})
    assert surely_changed(catalogue, fresh)  # nothing published there
    release = project["release"]
    text = release.read_text()
    release.write_text(text.replace(REVISION[0], ",USD,21.40,21.40,1e9,"))  # the same figure, two bytes more
    assert surely_changed(catalogue, settings)
    release.write_text(text)
    assert not surely_changed(catalogue, settings)  # same size again; the timestamps differ
    outcome = quick_noop(settings, api_url(), dt.datetime.now(dt.UTC))
    assert outcome is not None and outcome["status"] == "succeeded"  # the bytes are those loaded: a no-op


def test_a_catalogue_with_a_url_leaves_the_night_to_the_flow(project):
    catalogue = project["root"] / "catalogue.toml"
    text = catalogue.read_text()
    local = f'location = {{ path = "{project["release"]}" }}'
    assert local in text
    remote = text.replace(local, 'location = { url = "http://127.0.0.1:9/figures.csv" }')
    catalogue.write_text(text + "\n" + remote.replace(f'id = "{SOURCE_ID}"', 'id = "release_by_url"'))
    assert [s.location_kind for s in load_catalogue(catalogue)] == ["path", "url"]
    audit_before = audit_files(project["home"])
    assert quick_noop(load_settings(project["env"]), api_url(), dt.datetime.now(dt.UTC)) is None
    assert audit_files(project["home"]) == audit_before


def test_the_quick_no_op_imports_no_prefect_and_no_data_frame_library():
    """Importing Prefect took 1.2-1.6 s of a no-op night on two cores; pandas and pandera 0.4 s."""
    script = (
        "import sys, warehouse.serve.cli, warehouse.orchestrate.quick_noop\n"
        "print(','.join(sorted(m for m in ('prefect', 'pandas', 'pandera', 'pyarrow') if m in sys.modules)) or 'none')"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"


def test_a_republish_that_fails_is_a_failed_run_and_the_next_night_rebuilds(project, monkeypatch):
    from warehouse import publish

    settings = load_settings(project["env"])
    path = settings.warehouse_path
    stamp_before = query(path, "select run_id from audit.builds")

    def broken(*args: object, **kwargs: object) -> bool:
        raise OSError("disk gone")

    with monkeypatch.context() as patched:
        patched.setattr(publish, "republish", broken)
        outcome = quick_noop(settings, api_url(), dt.datetime.now(dt.UTC))
    assert outcome is not None and outcome["status"] == "failed"
    assert query(path, "select run_id from audit.builds") == stamp_before  # the published file as it was
    (recorded,) = flow_runs(next(r["name"] for r in flow_runs() if "no-op" in r["tags"]))
    assert recorded["state_type"] == "FAILED" and "disk gone" in recorded["state"]["message"]
    failed = project["home"] / "lake" / "_audit" / "load_runs" / f"{outcome['run_id']}.parquet"
    assert duckdb.sql(f"select status from '{failed}'").fetchall() == [("failed",)]

    after = run_nightly(project["home"], project["root"] / "catalogue.toml", TRADEWH_PROJECT_ROOT=str(project["root"]))
    assert after["status"] == "succeeded"
    assert query(path, "select run_id, build_kind from audit.builds") == [(after["run_id"], "full")]
    assert ("failed",) in query(path, "select status from audit.load_runs where run_id = ?", [outcome["run_id"]])
