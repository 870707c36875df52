"""BI tools reach the published file read-only: through SQLAlchemy and duckdb-engine (what Superset uses) and
through a plain DuckDB connection, from another working directory."""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.test_readonly import ENGINE_CONFIG, URI_QUERY

PUBLIC_SCHEMAS = ("core", "marts")


@pytest.fixture(scope="module")
def warehouse(loaded: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte copy of the session warehouse: in one process DuckDB refuses a second connection to a file with
    another configuration (duckdb-engine adds a user agent), so this module never shares the session's file."""
    folder = tmp_path_factory.mktemp("bi")
    copy = folder / "tradewh.duckdb"
    shutil.copy(loaded["warehouse"], copy)
    return copy


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from a folder that is neither the project nor the warehouse's."""
    folder = tmp_path / "analyst"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def expected_views(warehouse: Path) -> dict[str, dict[str, str | None]]:
    """schema -> view -> comment, as DuckDB itself reports them."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select schema_name, view_name, comment from duckdb_views() "
            "where not internal and schema_name in ('core', 'marts')"
        ).fetchall()
    views: dict[str, dict[str, str | None]] = {s: {} for s in PUBLIC_SCHEMAS}
    for schema, view, comment in rows:
        views[schema][view] = comment
    return views


def row_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        views = con.execute(
            "select schema_name, view_name from duckdb_views() where not internal and schema_name in ('core', 'marts')"
        ).fetchall()
        return {f"{s}.{v}": con.execute(f'select count(*) from "{s}"."{v}"').fetchall()[0][0] for s, v in views}


def view_comments(engine: Engine, schema: str, views: list[str]) -> dict[str, str | None]:
    """The views' comments through the SQLAlchemy inspector where the dialect supports comments, else from
    ``duckdb_views()`` over the same SQLAlchemy connection."""
    if engine.dialect.supports_comments:
        inspector = sa.inspect(engine)
        return {v: inspector.get_table_comment(v, schema=schema)["text"] for v in views}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select view_name, comment from duckdb_views() where schema_name = :schema"), {"schema": schema}
        ).all()
    return {v: c for v, c in rows if v in views}


@pytest.fixture(params=["connect_args", "url"])
def engine(request: pytest.FixtureRequest, warehouse: Path, elsewhere: Path) -> Iterator[Engine]:
    """Read-only, locked engines, both ways duckdb-engine takes them (the README's "BI tools" settings):
    ``connect_args={"read_only": True, "config": {...}}`` (passed to ``duckdb.connect``) and the URI query
    (DuckDB config; what a Superset user types)."""
    if request.param == "connect_args":
        config = ast.literal_eval(ENGINE_CONFIG)
        eng = sa.create_engine(f"duckdb:///{warehouse}", connect_args={"read_only": True, "config": config})
    else:
        eng = sa.create_engine(f"duckdb:///{warehouse}{URI_QUERY}")
    yield eng
    eng.dispose()


def test_sqlalchemy_engine_is_read_only(engine):
    with engine.connect() as conn:
        assert conn.execute(sa.text("select current_setting('access_mode')")).scalar() == "read_only"
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            conn.execute(sa.text("create table marts.bi_scratch as select 1 as x"))
        conn.rollback()
    with engine.connect() as conn:  # and nothing was written
        count = conn.execute(sa.text("select count(*) from duckdb_tables() where table_name = 'bi_scratch'")).scalar()
        assert count == 0


def test_inspector_lists_the_mart_views_with_their_comments(engine, warehouse):
    expected = expected_views(warehouse)
    inspector = sa.inspect(engine)
    assert engine.dialect.supports_comments  # DuckDB >= 0.10 has COMMENT ON
    for schema in PUBLIC_SCHEMAS:
        names = inspector.get_view_names(schema=schema)
        assert sorted(names) == sorted(expected[schema]), schema
    marts = inspector.get_view_names(schema="marts")
    assert {"trade_balance", "claim_checks", "trade_growth"} <= set(marts)
    comments = view_comments(engine, "marts", marts)
    assert comments == expected["marts"]
    assert all(comments.values()), f"mart views without a comment: {[v for v, c in comments.items() if not c]}"


def test_every_public_view_selects_through_sqlalchemy(engine, warehouse):
    counts = row_counts(warehouse)
    inspector = sa.inspect(engine)
    seen = {}
    with engine.connect() as conn:
        for schema in PUBLIC_SCHEMAS:
            for view in inspector.get_view_names(schema=schema):
                table = sa.table(view, schema=schema)
                rows = conn.execute(sa.select(sa.text("*")).select_from(table)).all()  # every row, typed
                seen[f"{schema}.{view}"] = len(rows)
    assert seen == counts
    assert seen["marts.trade_balance"] > 0


def expected_columns(warehouse: Path) -> dict[str, list[tuple[str, str, str | None]]]:
    """``schema.object`` -> its columns (name, DuckDB type, comment) in order, for every public view and audit table."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select schema_name, table_name, column_name, data_type, comment from duckdb_columns() "
            "where schema_name in ('core', 'marts', 'audit') order by schema_name, table_name, column_index"
        ).fetchall()
    columns: dict[str, list[tuple[str, str, str | None]]] = {}
    for schema, table, name, kind, comment in rows:
        columns.setdefault(f"{schema}.{table}", []).append((name, kind, comment))
    return columns


def test_inspector_reflects_the_columns_of_every_public_view(engine, warehouse):
    """Column reflection (what Superset does to show a dataset's columns) with the SQLAlchemy the project installs:
    from 2.0.45 on it queries pg_catalog.pg_collation, which DuckDB lacks (Mause/duckdb_engine#1391); the dev
    extra pins sqlalchemy < 2.0.45."""
    expected = expected_columns(warehouse)
    inspector = sa.inspect(engine)
    seen = set()
    for schema in (*PUBLIC_SCHEMAS, "audit"):
        for name in inspector.get_view_names(schema=schema) + inspector.get_table_names(schema=schema):
            columns = inspector.get_columns(name, schema=schema)
            key = f"{schema}.{name}"
            seen.add(key)
            assert [c["name"] for c in columns] == [n for n, _, _ in expected[key]], key
            assert [c["comment"] for c in columns] == [c for _, _, c in expected[key]], key
            untyped = [c["name"] for c in columns if isinstance(c["type"], sa.types.NullType)]
            assert untyped == [], f"{key}: columns SQLAlchemy cannot type: {untyped}"
    assert seen == set(expected)
    balance = {c["name"]: c["type"] for c in inspector.get_columns("trade_balance", schema="marts")}
    assert isinstance(balance["period_start"], sa.types.Date)
    assert isinstance(balance["balance"], sa.types.Float)


def test_pandas_reads_a_mart_through_sqlalchemy(engine, warehouse):
    """What a notebook does: ``pandas.read_sql`` over the engine, dates as dates and figures as floats."""
    pd = pytest.importorskip("pandas")
    with duckdb.connect(str(warehouse), read_only=True) as con:  # first: the engine's pool keeps its connection
        expected = con.execute("select * from marts.trade_balance order by all").df()
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text("select * from marts.trade_balance order by all"), conn)
    assert len(frame) == len(expected) > 0
    assert list(frame.columns) == list(expected.columns)
    assert frame["exports"].dtype.kind == "f" and frame["balance"].dtype.kind == "f"
    china = frame[(frame["reporter"] == "CHN") & (frame["period"] == "2011")]
    assert not china.empty
    assert (pd.to_datetime(china["period_start"]) == pd.Timestamp("2011-01-01")).all()
    assert (pd.to_datetime(china["period_end"]) == pd.Timestamp("2011-12-31")).all()
    pd.testing.assert_series_equal(frame["balance"], expected["balance"])


def test_plain_read_only_connection_from_another_folder(warehouse, elsewhere):
    counts = row_counts(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        views = con.execute(
            "select schema_name, view_name from duckdb_views() where not internal and schema_name in ('core', 'marts')"
        ).fetchall()
        assert {s for s, _ in views} == set(PUBLIC_SCHEMAS)
        for schema, view in views:
            rows = con.execute(f'select * from "{schema}"."{view}"').fetchall()
            assert len(rows) == counts[f"{schema}.{view}"]
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("create table marts.bi_scratch as select 1 as x")
    assert list(elsewhere.iterdir()) == []  # reading wrote nothing where the analyst stands
