"""The nightly on the DuckLake target (issue 21): with ``TRADEWH_LAKE_CATALOG`` set, the real flow publishes the DuckDB
file and then the same warehouse into the lake, one snapshot per night whose commit message is the run id; every
public view reads the same in the lake as in the file. A lake publish that cannot run fails the night, names why,
and leaves the file published and the lake's latest snapshot as it was.

The flow runs in the project's environment and hands the lake step to the lake environment's interpreter
(``make lake-env``); the tests skip where it is absent.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_nightly
from tests.test_ducklake import assert_same, compare, history, lake_python, public_views  # noqa: F401 (a fixture)
from warehouse.ducklake.publish import LakePublishError

pytestmark = pytest.mark.slow


def _lake_env(tmp_path: Path) -> dict[str, str]:
    # the same catalog and data path the helpers of tests/test_ducklake.py read (lake_args, compare)
    return {
        "TRADEWH_LAKE_CATALOG": f"sqlite:{tmp_path / 'catalog.sqlite'}",
        "TRADEWH_LAKE_DATA": str(tmp_path / "data"),
    }


def _build_runs(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [r[0] for r in con.execute("select run_id from audit.load_runs order by started_at").fetchall()]


def test_the_nightly_publishes_each_night_into_the_lake(lake_python, prefect_home, tmp_path):  # noqa: F811
    home = tmp_path / "home"
    first = run_nightly(home, **_lake_env(tmp_path))
    second = run_nightly(home, **_lake_env(tmp_path))  # nothing changed: the file republished, the lake too
    assert first["status"] == second["status"] == "succeeded"
    warehouse = home / "warehouse" / "tradewh.duckdb"

    snapshots = history(lake_python, tmp_path)
    assert [s[3] for s in snapshots] == [first["run_id"], second["run_id"]]  # one snapshot a night, its run id
    assert all(s[4] == "publish" for s in snapshots)
    found = compare(lake_python, warehouse, tmp_path)
    assert_same(found)
    views = public_views(warehouse)
    assert views and views <= set(found["objects"])
    assert found["objects"]["audit.load_runs"]["rows"] == len(_build_runs(warehouse)) == 2


def test_a_lake_publish_that_cannot_run_fails_the_night_and_keeps_the_file(lake_python, prefect_home, tmp_path):  # noqa: F811
    home = tmp_path / "home"
    run_nightly(home, **_lake_env(tmp_path))
    (before,) = history(lake_python, tmp_path)
    missing = tmp_path / "no-such-venv" / "bin" / "python"
    with pytest.raises(LakePublishError, match="no-such-venv.*make lake-env"):
        run_nightly(home, **_lake_env(tmp_path), TRADEWH_LAKE_PYTHON=str(missing))
    warehouse = home / "warehouse" / "tradewh.duckdb"
    assert len(_build_runs(warehouse)) == 2  # the file was published before the lake step failed
    assert history(lake_python, tmp_path) == [before]  # the lake as it was
