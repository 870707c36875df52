"""The README's "More analyses, one query each": every query runs, read-only, against a fresh load and answers
with rows (a renamed column or an empty view fails here before a reader finds it)."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.bi.readme import section


def analyses() -> list[tuple[str, str]]:
    """(title, SQL) of each query of the section's ```sql block: a ``-- title`` comment line starts each, a ``;``
    at the end of a line (a comment may follow it) ends it."""
    block = re.search(r"```sql\n(.*?)```", section("More analyses, one query each"), flags=re.S)
    assert block is not None, "README.md's \"More analyses\" section has no ```sql block"
    queries = []
    for chunk in re.split(r";[ \t]*(?:--[^\n]*)?\n", block.group(1)):
        lines = chunk.strip().splitlines()
        if lines:
            assert lines[0].startswith("-- "), f"a query without its title line: {chunk!r}"
            queries.append((lines[0][3:], "\n".join(lines[1:])))
    return queries


def test_the_section_holds_the_analyses_of_the_marts():
    titles = [title for title, _ in analyses()]
    assert len(titles) >= 8, titles


@pytest.mark.parametrize("title,sql", analyses(), ids=[t[:40] for t, _ in analyses()])
def test_each_query_answers(loaded, title, sql):
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        rows = con.execute(sql).fetchall()
    assert rows, f"{title}: no rows"
