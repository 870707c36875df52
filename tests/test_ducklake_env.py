"""The DuckLake environment (docs/decisions/0002-ducklake-environment.md) stays the project's environment but for
DuckDB: its lock is ``requirements.lock`` with DuckDB 1.5.5, its CLI and the three packaged extensions; and where
DuckLake cannot load (the project's own DuckDB 2.0.1), the error says how to get it."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.ducklake import LakeUnavailable, connect, load_extensions, packaged_file, target_from

LAKE_ONLY = {
    "duckdb": "1.5.5",
    "duckdb_cli": "1.5.5",  # the CLI that loads the packaged extensions (1.5.6 refuses them)
    "duckdb_extension_ducklake": "1.5.5",
    "duckdb_extension_postgres": "1.5.5",
    "duckdb_extension_sqlite": "1.5.5",
}


def _pinned(lines: list[str]) -> dict[str, str]:
    return {k.lower().replace("-", "_"): v for k, _, v in (line.partition("==") for line in lines if "==" in line)}


def pins(name: str) -> dict[str, str]:
    return _pinned((PROJECT_ROOT / name).read_text().splitlines())


def dask_pins() -> dict[str, str]:
    """The Makefile's ``LAKE_DASK``: prefect-dask and what it pulls in, pinned in the lake environment only."""
    text = (PROJECT_ROOT / "Makefile").read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("LAKE_DASK :=")]
    return _pinned(line.split(":=", 1)[1].split())


def test_the_lake_lock_is_the_project_lock_but_duckdb_the_extensions_and_dask():
    project, lake, dask = pins("requirements.lock"), pins("requirements-ducklake.lock"), dask_pins()
    assert dask["prefect_dask"] == "0.3.7" and "distributed" in dask
    assert {k: v for k, v in lake.items() if k in LAKE_ONLY} == LAKE_ONLY
    assert {k: v for k, v in lake.items() if k in dask} == dask, "run `make lake-lock`"
    differ = {
        k: (project.get(k), lake.get(k)) for k in project.keys() | lake.keys() if k not in LAKE_ONLY and k not in dask
    }
    assert {k: v for k, v in differ.items() if v[0] != v[1]} == {}, "run `make lake-lock` after `make lock`"


@pytest.mark.skipif(duckdb.__version__ == "1.5.5", reason="this DuckDB can load the packaged DuckLake")
def test_without_the_lake_environment_the_error_says_how_to_get_it(tmp_path):
    assert packaged_file("ducklake") is None  # not installed beside DuckDB 2.0.1: pip refuses it (duckdb==1.5.5)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    with pytest.raises(LakeUnavailable, match="make lake-env"):
        load_extensions(con, ("ducklake",))
    with pytest.raises(LakeUnavailable, match="make lake-env"):
        connect(target_from(str(tmp_path / "catalog.sqlite"), tmp_path / "data"))
    assert not (tmp_path / "catalog.sqlite").exists()  # nothing was created


def test_a_target_names_its_catalog_kind(tmp_path):
    sqlite = target_from(str(tmp_path / "lake.sqlite"), tmp_path / "data")
    assert sqlite.catalog == f"sqlite:{tmp_path / 'lake.sqlite'}" and sqlite.data_path.endswith("/data/")
    assert sqlite.extensions == ("ducklake", "sqlite")
    postgres = target_from("postgres:dbname=lake host=127.0.0.1 port=5433", "s3://bucket/lake")
    assert postgres.extensions == ("ducklake", "postgres") and postgres.data_path == "s3://bucket/lake/"
    assert target_from(str(tmp_path / "lake.ducklake"), tmp_path).extensions == ("ducklake",)
