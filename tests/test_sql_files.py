"""Meta-tests on sql/: one view per file named after it, the grain stated, documented, no file paths."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.build.ctes import cte_body
from warehouse.build.models import BuildError, file_references, read_header, sql_files, view_of_stored
from warehouse.build.statements import SCHEMAS, references

SQL_DIR = PROJECT_ROOT / "sql"
FILES = sorted(SQL_DIR.glob("*/*.sql"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_creates_the_view_its_name_says(path):
    text = path.read_text()
    created = re.findall(r"^create or replace view ([a-z_]+\.[a-z_0-9]+) as$", text, flags=re.M)
    assert created == [f"{path.parent.name}.{path.stem}"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_starts_with_its_grain_and_ends_with_final(path):
    text = path.read_text()
    assert text.startswith("-- grain: one row per ")
    view_sql = text.split("\ncomment on ")[0]
    # a view whose rows are read in order (claim_checks, listed as the release states them) may sort them
    assert re.search(r"\nselect \* from final(\norder by [a-z_, ]+)?;$", view_sql.rstrip()), path.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_file_paths_and_lower_case_keywords(path):
    text = re.sub(r"--[^\n]*", "", path.read_text())
    literals = re.findall(r"'((?:[^']|'')*)'", text)
    code = re.sub(r"'(?:[^']|'')*'", "''", text)
    assert not re.search(r"\bread_\w+\s*\(|\battach\b|\bcopy\b", code, flags=re.I), "views read tables, never files"
    assert [s for s in literals if re.search(r"\.(csv|parquet|json|duckdb)\b|^(\.|/|~/)", s)] == []
    upper = re.findall(r"\b(SELECT|FROM|WHERE|JOIN|GROUP BY|ORDER BY|CREATE|AS|WITH|UNION|CASE|WHEN|END)\b", code)
    assert upper == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_header_holds_known_settings_only(path):
    header = read_header(path)  # refuses an unknown setting, one set twice, or a value it cannot take
    assert header.grain.startswith("one row per ")


def test_the_fact_groups_the_series_of_every_staging_view_alone():
    """core.fct_trade_figure finds the series of two flows view by view (a grouping of the union ran out of memory at
    100M rows): a staging view added to `staged` without its own grouping in `series_counts` would derive nothing
    for that source and call each of its figures the only one of its series."""
    text = (SQL_DIR / "core" / "fct_trade_figure.sql").read_text()

    def body(cte: str) -> str:
        start, end = cte_body(text, cte)
        return text[start:end]

    views = sorted(p.stem.removeprefix("stg_") for p in (SQL_DIR / "staging").glob("stg_*.sql"))
    read = sorted(re.findall(r"select \* from staging\.stg_(\w+)\b", text))
    branches = sorted(re.findall(r"'(\w+)' as staged_from,\s+from (\w+)\n", body("staged")))
    grouping = r"count\(\*\) > 1 as is_paired, from additive where staged_from = '(\w+)' group by series_hash"
    groupings = sorted(re.findall(grouping, body("series_counts")))
    assert read == views
    assert branches == [(view, view) for view in views]
    assert groupings == views


def test_stored_views_read_their_table_and_the_others_compute(loaded):
    stored = {f"{p.parent.name}.{p.stem}" for p in FILES if read_header(p).materialized == "table"}
    assert {"core.fct_trade_figure", "marts.trade_balance_vintages", "marts.goods_composition"} <= stored
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        tables = con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'store' union all "
            "select view_name, comment from duckdb_views() where schema_name = 'store'"  # a partitioned one's parts
        ).fetchall()
        views = dict(con.execute("select schema_name || '.' || view_name, sql from duckdb_views()").fetchall())
    assert {name.split("__part__")[0] for name, _ in tables} == {v.replace(".", "__") for v in stored}
    parts = {n.removeprefix("core__fct_trade_figure__part__") for n, _ in tables if "fct_trade_figure__part__" in n}
    # the press release, one vintage: its printed and derived figures apart; the shipped Comtrade and WDI files,
    # several vintages: the vintage window over each dataset's rows, one part each
    assert {"comtrade", "wdi", "press_release__false", "press_release__true"} <= parts
    assert all(comment.startswith("Stored rows of ") for _, comment in tables)
    for view in stored:
        assert f"store.{view.replace('.', '__')}" in views[view].lower()
    public = {v.split(".")[1] for v in views if v.split(".")[0] in ("marts", "core", "audit")}
    assert not public & {name for name, _ in tables}  # no stored table repeats a public name (Superset's datasets)
    assert "store." not in views["marts.trade_balance"].lower()


def test_dependency_order_puts_every_view_after_what_it_reads():
    names = [f"{p.parent.name}.{p.stem}" for p in sql_files(SQL_DIR)]
    assert names.index("core.fct_trade_figure") < names.index("marts.trade_balance_vintages")
    assert names.index("marts.trade_balance_vintages") < names.index("marts.trade_balance")
    assert names.index("staging.stg_wdi") < names.index("core.fct_trade_figure")


def _qualified_names_in_the_code(path) -> set[str]:
    """Every ``<schema>.<name>`` of the build's schemas outside comments and strings, by DuckDB's tokenizer:
    what a view file can read, found without its parse tree."""
    text = path.read_text()
    tokens = duckdb.tokenize(text)
    ends = [start for start, _ in tokens[1:]] + [len(text)]
    code = [(text[s:e].strip().lower(), kind) for (s, kind), e in zip(tokens, ends, strict=True)]
    code = [(word, kind) for word, kind in code if kind != duckdb.token_type.comment]
    return {
        f"{a}.{b}"
        for (a, kind), (dot, _), (b, _) in zip(code, code[1:], code[2:], strict=False)
        if kind == duckdb.token_type.identifier and a in SCHEMAS and dot == "."
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_parse_tree_finds_every_name_the_code_reads(path):
    """The build's order comes from the parse tree; the tokens show every qualified name the file's code holds (a
    stored table read by name, ``store.core__fct_trade_figure``, as its view)."""
    name = f"{path.parent.name}.{path.stem}"
    found = file_references(path) - {name}
    # the file's own name: its create and comments
    in_code = {view_of_stored(n) or n for n in _qualified_names_in_the_code(path)} - {name}
    assert found == in_code
    assert found  # every view reads something


@pytest.mark.parametrize(
    ("sql", "reads"),
    [
        ("with a as (select * from raw.x), b as not materialized (select * from a join core.y using (k)) "
         "select * from b", {"raw.x", "core.y"}),
        ("with fct_trade_figure as (select * from core.fct_trade_figure) select * from fct_trade_figure",
         {"core.fct_trade_figure"}),
        ("select 'raw.not_read' as s, \"core.quoted\" from marts.t -- core.comment", {"marts.t"}),
        ("create or replace view marts.v as -- as in a comment\nwith final as (select * from core.f) "
         "select * from final", {"core.f"}),
        ("select * from core.a where k in (select k from core.b) and exists (select 1 from raw.c)",
         {"core.a", "core.b", "raw.c"}),
        ("with recursive r as (select 1 as n union all select n + 1 from r where n < 3) select * from r, core.z",
         {"core.z"}),
        ("select * from core.a union all by name select * from (select * from core.b) as b", {"core.a", "core.b"}),
    ],
)  # fmt: skip
def test_references_come_from_the_parse_tree(sql, reads):
    assert references(sql) == (reads, "parser")


def test_a_query_the_parser_cannot_serialize_is_read_by_its_tokens():
    assert references("pivot core.fct_trade_figure on flow using sum(value) -- raw.wdi") == (
        {"core.fct_trade_figure"},
        "tokens",
    )


def test_a_cycle_is_refused(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "a.sql").write_text("create or replace view core.a as select * from core.b;")
    (tmp_path / "core" / "b.sql").write_text("create or replace view core.b as select * from core.a;")
    with pytest.raises(BuildError, match="cycle"):
        sql_files(tmp_path)


def test_every_public_view_and_column_is_documented(loaded):
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        views = con.execute(
            "select schema_name || '.' || view_name, comment from duckdb_views() where schema_name in ('core', 'marts')"
        ).fetchall()
        columns = con.execute(
            "select table_name, column_name from duckdb_columns() where schema_name in ('core', 'marts') "
            "and (comment is null or comment = '')"
        ).fetchall()
    files = {f"{p.parent.name}.{p.stem}" for layer in ("core", "marts") for p in (SQL_DIR / layer).glob("*.sql")}
    assert {v for v, _ in views} == files
    assert [v for v, c in views if not c] == []
    assert columns == []


def test_no_column_of_the_published_file_is_typed_null(loaded):
    """A column of type NULL (DuckDB's type for nothing but empty lists or nulls) maps to nothing in a BI tool."""
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        untyped = con.execute(
            "select schema_name || '.' || table_name || '.' || column_name, data_type from duckdb_columns() "
            "where database_name = current_database() and data_type like '%\"NULL\"%'"
        ).fetchall()
        sources = dict(
            con.execute(
                "select column_name, data_type from duckdb_columns() where table_name = 'ref_sources'"
            ).fetchall()
        )
    assert untyped == []
    assert sources["headers_from_env"] == sources["secret_blocks"] == "VARCHAR[][]"


def test_every_mart_with_a_period_or_year_has_its_dates(loaded):
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        rows = con.execute(
            "select table_name, list(column_name order by column_index), list(data_type order by column_index) "
            "from duckdb_columns() where schema_name = 'marts' group by table_name"
        ).fetchall()
    for view, names, types in rows:
        if {"period", "year"} & set(names):
            kinds = dict(zip(names, types, strict=True))
            assert (kinds.get("period_start"), kinds.get("period_end")) == ("DATE", "DATE"), view
            beside = "period" if "period" in names else "year"
            at = names.index(beside)
            assert names[at + 1 : at + 3] == ["period_start", "period_end"], f"{view}: the dates go beside {beside}"


@pytest.mark.parametrize(
    ("period", "start", "end", "grain"),
    [
        ("2011", "2011-01-01", "2011-12-31", "year"),
        ("2011-05", "2011-05-01", "2011-05-31", "month"),
        ("201102", "2011-02-01", "2011-02-28", "month"),
        ("2012-02", "2012-02-01", "2012-02-29", "month"),
        ("2011-Q2", "2011-04-01", "2011-06-30", "quarter"),
        ("2011-Q4", "2011-10-01", "2011-12-31", "quarter"),
        ("2012-01..10", "2012-01-01", "2012-10-31", "months"),
        ("2011-13", None, None, None),
        ("2011-Q5", None, None, None),
        ("2011-12..02", None, None, None),
        ("recent years", None, None, None),
    ],
)
def test_period_forms_read_as_dates(period, start, end, grain):
    """core.dim_period, the one place a period's text is read as dates, over a fact holding only that period."""
    with duckdb.connect() as con:
        con.execute("create schema core")
        con.execute("create table core.fct_trade_figure as select ? as period, cast(null as integer) as year", [period])
        con.execute((SQL_DIR / "core" / "dim_period.sql").read_text())
        row = con.execute(
            "select cast(period_start as varchar), cast(period_end as varchar), period_grain "
            "from core.dim_period where period = ?",
            [period],
        ).fetchall()
    assert row == [(start, end, grain)]


def test_a_stored_table_read_by_name_counts_as_its_view(tmp_path):
    """A mart that reads a stored table's column the public view leaves out depends on that view: the build orders
    it after the view, and a night that recomputes the view recomputes the mart."""
    path = tmp_path / "marts" / "x.sql"
    path.parent.mkdir()
    path.write_text(
        "create or replace view marts.x as select * from store.core__fct_trade_figure join store.marts__y using (k) "
        "join store.other using (k) join store.raw__z using (k)"
    )
    assert file_references(path) == {"core.fct_trade_figure", "marts.y", "store.other", "store.raw__z"}
    assert view_of_stored("store.core__fct_trade_figure") == "core.fct_trade_figure"
    assert view_of_stored("core.fct_trade_figure") is None
    # the balance mart reads the fact's stored rows by name (is_sole_figure), and is built after the fact
    tokens = _qualified_names_in_the_code(SQL_DIR / "marts" / "trade_balance_vintages.sql")
    assert "store.core__fct_trade_figure" in tokens
    assert "core.fct_trade_figure" in file_references(SQL_DIR / "marts" / "trade_balance_vintages.sql")
