"""Apache Superset as a BI client of the published file, end to end and for real: Superset 6.1.0 installed from
PyPI in a virtualenv of its own (tests/bi/superset-requirements.txt, pinned by superset-constraints.txt; cached in
``~/.cache/tradewh/``), started on 127.0.0.1, and driven through its REST API with the connection settings the
README's "BI tools" section gives. Every public view and table (schemas marts, core, audit) gets a dataset and a
chart query; figures are checked against the marts read directly with DuckDB; writes are refused; a time-series
query runs over ``period_start``; the datasets survive a renamed copy of the file. A failure names the step and
quotes Superset's error."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.bi.readme import five_questions, superset_install_line, superset_uri
from tests.bi.superset_env import (
    CONSTRAINTS,
    REQUIREMENTS,
    SupersetApi,
    ensure_superset,
    pip_install_args,
    rison,
    running_superset,
)
from warehouse.common.readonly import connect_read_only

pytestmark = pytest.mark.slow

PUBLIC_SCHEMAS = ("marts", "core", "audit")
SAMPLE_ROWS = 5


@pytest.fixture(scope="module")
def warehouse(loaded: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's published file, named as published: Superset's process opens it, not ours."""
    copy = tmp_path_factory.mktemp("superset-warehouse") / "tradewh.duckdb"
    shutil.copy(loaded["warehouse"], copy)
    return copy


@pytest.fixture(scope="module")
def duck(warehouse: Path) -> Iterator[Any]:
    """The same file read directly with the project's DuckDB, locked: the figures Superset must show."""
    with connect_read_only(warehouse) as con:
        yield con


@pytest.fixture(scope="module")
def public_objects(duck: Any) -> dict[str, dict[str, str]]:
    """schema -> name -> 'view' | 'table', for every object of the public schemas, as DuckDB lists them."""
    rows = duck.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_catalog = current_database() and table_schema in ('marts', 'core', 'audit')"
    ).fetchall()
    objects: dict[str, dict[str, str]] = {s: {} for s in PUBLIC_SCHEMAS}
    for schema, name, kind in rows:
        objects[schema][name] = "view" if kind == "VIEW" else "table"
    assert all(objects.values()), f"a public schema is empty in the published file: {objects}"
    return objects


@pytest.fixture(scope="module")
def superset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SupersetApi]:
    venv, install_seconds = ensure_superset()
    say = request.config.pluginmanager.get_plugin("terminalreporter")
    if say is not None:
        what = "reused from cache" if install_seconds is None else f"installed in {install_seconds:.0f} s"
        say.write_line(f"\ntest_superset: Superset virtualenv {venv} {what}")
    with running_superset(venv, tmp_path_factory.mktemp("superset")) as api:
        yield api


@pytest.fixture(scope="module")
def database(superset: SupersetApi, warehouse: Path) -> dict[str, Any]:
    """The warehouse as a Superset database: the README's URI, DML off (the README's settings)."""
    uri = superset_uri(warehouse)
    superset.call(
        "test the connection (POST /api/v1/database/test_connection/)",
        "POST",
        "/api/v1/database/test_connection/",
        json={"database_name": "tradewh", "sqlalchemy_uri": uri},
    )
    created = superset.call(
        "create the database connection (POST /api/v1/database/)",
        "POST",
        "/api/v1/database/",
        json={"database_name": "tradewh", "sqlalchemy_uri": uri, "expose_in_sqllab": True, "allow_dml": False},
    )
    return {"id": created["id"], "uri": uri, "catalog": warehouse.stem, "result": created["result"]}


@pytest.fixture(scope="module")
def datasets(
    superset: SupersetApi, database: dict[str, Any], public_objects: dict[str, dict[str, str]]
) -> dict[str, int]:
    """A dataset on every public view and table, schema ``marts`` (not ``tradewh.marts``): "schema.name" -> id."""
    ids = {}
    for schema, names in public_objects.items():
        for name in sorted(names):
            created = superset.call(
                f"create the dataset {schema}.{name} (POST /api/v1/dataset/)",
                "POST",
                "/api/v1/dataset/",
                json={"database": database["id"], "schema": schema, "table_name": name},
            )
            ids[f"{schema}.{name}"] = created["id"]
    return ids


def chart_data(superset: SupersetApi, step: str, dataset_id: int, *queries: dict[str, Any]) -> list[dict[str, Any]]:
    """``POST /api/v1/chart/data``; every query's status must be success."""
    body = superset.call(
        step,
        "POST",
        "/api/v1/chart/data",
        json={
            "datasource": {"id": dataset_id, "type": "table"},
            "queries": list(queries),
            "result_format": "json",
            "result_type": "full",
        },
    )
    for result in body["result"]:
        assert result.get("status") == "success" and not result.get("error"), (
            f"{step}: the chart query failed: {result.get('error')}\nSQL: {result.get('query')}"
        )
    return body["result"]


def sqllab(superset: SupersetApi, database_id: int, sql: str) -> tuple[int, dict[str, Any]]:
    """``POST /api/v1/sqllab/execute/`` synchronously: (HTTP status, body)."""
    response = superset.raw(
        "POST", "/api/v1/sqllab/execute/", json={"database_id": database_id, "sql": sql, "runAsync": False}
    )
    return response.status_code, response.json()


def same(a: Any, b: Any) -> bool:
    """One value as Superset's JSON gives it and as DuckDB's Python gives it."""
    if isinstance(b, Decimal):
        b = float(b)
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(b, dt.date):
        return str(a).startswith(b.isoformat())
    return a == b


def test_the_readme_gives_the_install_line_this_test_uses() -> None:
    line = superset_install_line()
    assert "-r tests/bi/superset-requirements.txt" in line and "-c tests/bi/superset-constraints.txt" in line, line
    assert pip_install_args() == ["install", "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)]
    pins = REQUIREMENTS.read_text(encoding="utf-8")
    for pin in ("apache-superset==6.1.0", "duckdb-engine==0.17.0"):
        assert pin in pins, f"{REQUIREMENTS.name} no longer pins {pin}"


def test_connection_is_made_with_the_readme_settings(database: dict[str, Any]) -> None:
    result = database["result"]
    assert result["driver"] == "duckdb_engine"
    assert result["allow_dml"] is False
    assert result["parameters"]["query"] == {
        "access_mode": "read_only",
        "enable_external_access": "false",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "lock_configuration": "true",
    }, f"Superset stored other settings than the README's URI: {result}"


def test_schema_list(superset: SupersetApi, database: dict[str, Any], duck: Any) -> None:
    """Superset lists the public schemas, as ``<file name>.<schema>``; what else it lists is what DuckDB has."""
    schemas = superset.call(
        "list schemas (GET /api/v1/database/<id>/schemas/)",
        "GET",
        f"/api/v1/database/{database['id']}/schemas/",
        params={"q": rison({"force": True})},
    )["result"]
    catalog = database["catalog"]
    missing = {f"{catalog}.{s}" for s in PUBLIC_SCHEMAS} - set(schemas)
    assert not missing, f"Superset's schema list lacks {sorted(missing)}: {sorted(schemas)}"
    in_duckdb = {
        f"{db}.{schema}"
        for db, schema in duck.execute("select database_name, schema_name from duckdb_schemas()").fetchall()
        if not schema.startswith("pg_")
    }
    assert set(schemas) == in_duckdb, f"Superset lists {sorted(schemas)}, DuckDB has {sorted(in_duckdb)}"
    print(f"Superset's schema list: {sorted(schemas)}")


def test_views_and_their_columns(
    superset: SupersetApi, database: dict[str, Any], duck: Any, public_objects: dict[str, dict[str, str]]
) -> None:
    """Each public schema's views and tables as Superset lists them, and each one's columns with their comments."""
    db, catalog = database["id"], database["catalog"]
    for schema, expected in public_objects.items():
        listed = superset.call(
            f"list the tables and views of {catalog}.{schema} (GET /api/v1/database/<id>/tables/)",
            "GET",
            f"/api/v1/database/{db}/tables/",
            params={"q": rison({"schema_name": f"{catalog}.{schema}", "force": True})},
        )["result"]
        assert {t["value"]: t["type"] for t in listed} == expected, f"{schema}: Superset lists {listed}"
        for name in sorted(expected):
            meta = superset.call(
                f"read the columns of {schema}.{name} (GET /api/v1/database/<id>/table_metadata/)",
                "GET",
                f"/api/v1/database/{db}/table_metadata/",
                params={"name": name, "schema": schema},
            )
            want = duck.execute(
                "select column_name, comment from duckdb_columns() "
                "where database_name = current_database() and schema_name = ? and table_name = ? "
                "order by column_index",
                [schema, name],
            ).fetchall()
            got = [(c["name"], c.get("comment")) for c in meta["columns"]]
            assert got == want, f"{schema}.{name}: Superset's columns (name, comment) {got} != DuckDB's {want}"


def test_a_dataset_and_a_chart_query_on_every_public_object(
    superset: SupersetApi, datasets: dict[str, int], duck: Any, public_objects: dict[str, dict[str, str]]
) -> None:
    """A count and a sample of every column through ``/api/v1/chart/data``, against DuckDB's own count."""
    assert set(datasets) == {f"{s}.{n}" for s, names in public_objects.items() for n in names}
    for qualified, dataset_id in sorted(datasets.items()):
        dataset = superset.call(f"read the dataset {qualified}", "GET", f"/api/v1/dataset/{dataset_id}")["result"]
        assert dataset["catalog"] is None and f"{dataset['schema']}.{dataset['table_name']}" == qualified, dataset
        columns = [c["column_name"] for c in dataset["columns"]]
        count, sample = chart_data(
            superset,
            f"chart query on {qualified} (POST /api/v1/chart/data)",
            dataset_id,
            {"columns": [], "metrics": ["count"], "row_limit": 1},
            {"columns": columns, "metrics": [], "row_limit": SAMPLE_ROWS, "orderby": []},
        )
        expected = duck.execute(f"select count(*) from {qualified}").fetchone()[0]
        assert count["data"] == [{"count": expected}], (
            f"{qualified}: Superset counts {count['data']}, DuckDB {expected}"
        )
        assert f"FROM {qualified}" in count["query"], f"{qualified}: the query names the file: {count['query']}"
        assert sample["colnames"] == columns, f"{qualified}: sample columns {sample['colnames']}"
        assert sample["rowcount"] == min(SAMPLE_ROWS, expected), f"{qualified}: {sample['rowcount']} sample rows"


def test_figures_match_the_marts(superset: SupersetApi, datasets: dict[str, int], duck: Any) -> None:
    """China's 2011 technology-contract exports through a chart: 21.4 bn, as the mart has it."""
    (result,) = chart_data(
        superset,
        "chart query: CHN 2011 technology_contract_value exports",
        datasets["marts.trade_balance"],
        {
            "columns": ["period"],
            "metrics": [
                {
                    "expressionType": "SIMPLE",
                    "column": {"column_name": "exports"},
                    "aggregate": "SUM",
                    "label": "exports",
                }
            ],
            "filters": [
                {"col": "reporter", "op": "==", "val": "CHN"},
                {"col": "measure", "op": "==", "val": "technology_contract_value"},
                {"col": "period", "op": "==", "val": "2011"},
            ],
            "row_limit": 10,
        },
    )
    (direct,) = duck.execute(
        "select sum(exports) from marts.trade_balance "
        "where reporter = 'CHN' and measure = 'technology_contract_value' and period = '2011'"
    ).fetchone()
    assert result["data"] == [{"period": "2011", "exports": pytest.approx(direct)}]
    assert result["data"][0]["exports"] / 1e9 == pytest.approx(21.4)


@pytest.mark.parametrize("number", range(1, 6))
def test_sqllab_answers_the_readme_five_questions(
    superset: SupersetApi, database: dict[str, Any], duck: Any, number: int
) -> None:
    """Each of the README's five queries through SQL Lab returns DuckDB's own rows, in order."""
    title, sql = five_questions()[number - 1]
    status, body = sqllab(superset, database["id"], sql)
    assert status == 200 and body.get("status") == "success", (
        f"SQL Lab, question {number} ({title}): HTTP {status}: {body.get('errors') or body}"
    )
    cursor = duck.execute(sql)
    names = [d[0] for d in cursor.description]
    want = cursor.fetchall()
    assert want, f"question {number} ({title}) returns no rows from the marts"
    assert [c["column_name"] for c in body["columns"]] == names
    got = [tuple(row[n] for n in names) for row in body["data"]]
    assert len(got) == len(want), f"question {number}: SQL Lab {len(got)} rows, DuckDB {len(want)}"
    if "order by" not in sql.lower():  # rows in no stated order: compare them sorted by their non-float values

        def key(row: tuple[Any, ...]) -> tuple[str, ...]:
            return tuple(str(v) for v in row if not isinstance(v, float | Decimal))

        got, want = sorted(got, key=key), sorted(want, key=key)
    for g, w in zip(got, want, strict=True):
        assert all(same(a, b) for a, b in zip(g, w, strict=True)), f"question {number}: SQL Lab {g} != DuckDB {w}"


def test_time_series_over_period_start(superset: SupersetApi, datasets: dict[str, int], duck: Any) -> None:
    """``period_start`` is a DATE: the dataset's time column as it is, yearly grain, no derived column."""
    dataset_id = datasets["marts.trade_balance"]
    dataset = superset.call("read the dataset marts.trade_balance", "GET", f"/api/v1/dataset/{dataset_id}")["result"]
    temporal = {c["column_name"] for c in dataset["columns"] if c["is_dttm"]}
    assert "period_start" in temporal, f"Superset does not take period_start as temporal: {temporal}"
    axis = {
        "columnType": "BASE_AXIS",
        "expressionType": "SQL",
        "sqlExpression": "period_start",
        "label": "period_start",
        "timeGrain": "P1Y",
        "isColumnReference": True,
    }
    (result,) = chart_data(
        superset,
        "time-series chart query over period_start (time grain P1Y)",
        dataset_id,
        {
            "columns": [axis],
            "metrics": [
                {
                    "expressionType": "SIMPLE",
                    "column": {"column_name": "exports"},
                    "aggregate": "SUM",
                    "label": "exports",
                }
            ],
            "filters": [
                {"col": "reporter", "op": "==", "val": "CHN"},
                {"col": "measure", "op": "==", "val": "technology_contract_value"},
                {"col": "exports", "op": "IS NOT NULL"},
            ],
            "orderby": [[axis, True]],
            "row_limit": 100,
        },
    )
    want = duck.execute(
        "select cast(date_trunc('year', period_start) as date) as y, sum(exports) from marts.trade_balance "
        "where reporter = 'CHN' and measure = 'technology_contract_value' and exports is not null "
        "group by y order by y"
    ).fetchall()
    got = [
        (dt.datetime.fromtimestamp(row["period_start"] / 1000, tz=dt.UTC).date(), row["exports"])
        for row in result["data"]
    ]
    assert [d for d, _ in got] == [d for d, _ in want], f"time axis {got} != {want}\nSQL: {result['query']}"
    assert [v for _, v in got] == pytest.approx([v for _, v in want])
    assert (dt.date(2011, 1, 1), pytest.approx(21.4e9)) in got


def test_writes_are_refused(superset: SupersetApi, database: dict[str, Any], warehouse: Path) -> None:
    """Superset refuses DML on the connection (Allow DML off); and with DML allowed on a second entry with the same
    URI, DuckDB itself refuses writes, file access, ATTACH and unlocking: the file stays byte for byte."""
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    files_before = sorted(p.name for p in warehouse.parent.iterdir())
    status, body = sqllab(superset, database["id"], "create table marts.written_by_superset as select 1 as x")
    kinds = [e.get("error_type") for e in body.get("errors", [])]
    assert status >= 400 and "DML_NOT_ALLOWED_ERROR" in kinds, f"SQL Lab ran a write: HTTP {status} {body}"

    second = superset.call(
        "create a second connection with DML allowed",
        "POST",
        "/api/v1/database/",
        json={
            "database_name": "tradewh (DML allowed)",
            "sqlalchemy_uri": database["uri"],
            "expose_in_sqllab": True,
            "allow_dml": True,
        },
    )["id"]
    refusals = {
        "create table marts.written_by_superset as select 1 as x": "read-only mode",
        "select * from read_csv('/etc/passwd')": "file system operations are disabled by configuration",
        f"attach '{warehouse.parent / 'attached.duckdb'}' as other": "disabled by configuration",
        "set lock_configuration = false": "the configuration has been locked",
        f"copy (select 1) to '{warehouse.parent / 'copied.csv'}'": "disabled by configuration",
    }
    for sql, refusal in refusals.items():
        status, body = sqllab(superset, second, sql)
        messages = " ".join(str(e.get("message")) for e in body.get("errors", []))
        assert status >= 400 and refusal in messages, f"{sql!r} through SQL Lab: HTTP {status} {body}"
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in warehouse.parent.iterdir()) == files_before


def test_datasets_do_not_depend_on_the_file_name(
    superset: SupersetApi, database: dict[str, Any], datasets: dict[str, int], warehouse: Path
) -> None:
    """Datasets made on schema ``marts`` (catalog None) query ``marts.x``: they keep working when the connection
    points at a renamed copy of the file, whose DuckDB catalog is then ``tradewh-renamed-copy``, not ``tradewh``.
    Runs last: it moves the connection to the copy."""
    copy = warehouse.parent / "tradewh-renamed-copy.duckdb"
    shutil.copy(warehouse, copy)
    uri = superset_uri(copy)
    superset.call(
        "point the connection at a renamed copy (PUT /api/v1/database/<id>)",
        "PUT",
        f"/api/v1/database/{database['id']}",
        json={"sqlalchemy_uri": uri},
    )
    for qualified in ("marts.trade_balance", "core.dim_country", "audit.load_runs"):
        (result,) = chart_data(
            superset,
            f"chart query on {qualified} in the renamed copy",
            datasets[qualified],
            {"columns": [], "metrics": ["count"], "row_limit": 1},
        )
        assert result["data"][0]["count"] > 0, f"{qualified} is empty in the renamed copy"
    schemas = superset.call(
        "list schemas of the renamed copy",
        "GET",
        f"/api/v1/database/{database['id']}/schemas/",
        params={"q": rison({"force": True})},
    )["result"]
    assert "tradewh-renamed-copy.marts" in schemas or '"tradewh-renamed-copy".marts' in schemas, schemas
