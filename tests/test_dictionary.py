"""The data dictionary is generated from the warehouse's own metadata, and the committed page is current."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_cli import tradewh
from warehouse.serve.dictionary import generate_dictionary

PAGE = PROJECT_ROOT / "docs" / "data-dictionary.md"
SQL_DIR = PROJECT_ROOT / "sql"
FIX = "run `tradewh load` then `tradewh dictionary` (writes docs/data-dictionary.md) and commit the page"


@pytest.fixture(scope="module")
def generated(loaded) -> str:
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        return generate_dictionary(con, SQL_DIR)


def test_committed_page_is_what_the_generator_writes(generated):
    assert PAGE.is_file(), f"{PAGE} is missing: {FIX}"
    committed = PAGE.read_text(encoding="utf-8")
    if committed != generated:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    "docs/data-dictionary.md (committed)",
                    "generated from the warehouse",
                )
            )[:60]
        )
        pytest.fail(f"docs/data-dictionary.md is out of date with the views and their comments: {FIX}.\n{diff}")


def test_every_public_view_has_a_section(loaded, generated):
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        views = con.execute(
            "select schema_name || '.' || view_name from duckdb_views() "
            "where not internal and schema_name in ('core', 'marts')"
        ).fetchall()
    sections = set(re.findall(r"^## (\S+)$", generated, flags=re.M))
    assert sections == {v for (v,) in views}
    assert "**Grain:** one row per source x reporter x partner x period" in generated


def test_every_example_query_runs(loaded, generated):
    blocks = re.findall(r"```sql\n(.*?)```", generated, flags=re.S)
    queries = [q for block in blocks for q in block.splitlines() if q.strip()]
    assert len(queries) >= len(blocks) > 0
    assert any(" where reporter = 'CHN' and period = '2011'" in q for q in queries)
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        for query in queries:
            con.execute(query).fetchall()


def _toy(con: duckdb.DuckDBPyConnection, view_comment: str, column_comment: str) -> None:
    con.execute("create schema if not exists marts")
    con.execute("create or replace view marts.toy as select 'CHN' as reporter, '2011' as period, 1.5 as value")
    con.execute(f"comment on view marts.toy is '{view_comment}'")
    con.execute(f"comment on column marts.toy.value is '{column_comment}'")


def test_a_changed_comment_changes_the_page(tmp_path):
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "toy.sql").write_text("-- grain: one row per toy\ncreate view marts.toy as select 1;\n")
    with duckdb.connect() as con:
        _toy(con, "Toys by reporter", "Value in USD")
        before = generate_dictionary(con, tmp_path)
        _toy(con, "Toys by reporter", "Value in EUR | scale 1")
        after = generate_dictionary(con, tmp_path)
        _toy(con, "Toys, renamed", "Value in EUR | scale 1")
        renamed = generate_dictionary(con, tmp_path)
    assert before != after != renamed
    assert "| `value` | DECIMAL(2,1) | Value in USD |" in before
    assert "| `value` | DECIMAL(2,1) | Value in EUR \\| scale 1 |" in after  # pipes cannot break the table
    assert "Toys, renamed" in renamed and "Toys by reporter" not in renamed
    assert "**Grain:** one row per toy" in before
    assert "select * from marts.toy where reporter = 'CHN' and period = '2011' limit 10;" in before


def test_a_view_without_comment_says_how_to_describe_it(tmp_path):
    with duckdb.connect() as con:
        con.execute("create schema core")
        con.execute("create view core.dim_x as select 1 as x")
        page = generate_dictionary(con, tmp_path)
    assert "add `comment on view core.dim_x is '...'` to `sql/core/dim_x.sql`" in page
    assert "where reporter" not in page


def test_the_grain_and_prose_come_from_the_header_without_how_the_view_is_stored(tmp_path):
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "toy.sql").write_text(
        "-- grain: one row per toy x colour,\n-- placed in its box\n-- Toys by reporter.\n"
        "-- materialized: table\n-- stored: counted\n-- order by: reporter\n"
        "create or replace view marts.toy as select 1;\n"
    )
    with duckdb.connect() as con:
        _toy(con, "", "Value in USD")
        page = generate_dictionary(con, tmp_path)
    assert "**Grain:** one row per toy x colour, placed in its box\n" in page
    assert "\nToys by reporter.\n" in page  # the prose stands in for a missing view comment; the settings do not
    assert "materialized" not in page and "counted" not in page and "order by" not in page


def test_dictionary_command_writes_and_checks(loaded, tmp_path):
    out = tmp_path / "dd.md"
    result = tradewh("dictionary", "--out", str(out), home=loaded["home"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith("# Data dictionary")
    assert tradewh("dictionary", "--out", str(out), "--check", home=loaded["home"]).returncode == 0
    out.write_text("stale\n", encoding="utf-8")
    stale = tradewh("dictionary", "--out", str(out), "--check", home=loaded["home"])
    assert stale.returncode == 1 and "out of date" in stale.stderr
    assert out.read_text(encoding="utf-8") == "stale\n"  # --check writes nothing


def test_dictionary_without_a_warehouse_says_how_to_fix(tmp_path: Path):
    result = tradewh("dictionary", "--out", str(tmp_path / "dd.md"), home=tmp_path / "empty")
    assert result.returncode != 0
    assert "run `tradewh load` first" in result.stderr
