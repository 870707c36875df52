"""The data dictionary: a Markdown page generated from the warehouse's own metadata.

Descriptions come from the database (``COMMENT ON VIEW`` / ``COMMENT ON COLUMN``, read back through
``duckdb_views()`` and ``duckdb_columns()``), column types from ``duckdb_columns()``, and the grain from the
header of each view's file ``sql/<schema>/<view>.sql`` (``-- grain: ...``). Nothing is written by hand, so the
page cannot drift from the views: ``tests/test_dictionary.py`` fails when it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.common.readonly import connect_read_only

PUBLIC_SCHEMAS = ("marts", "core")
REGENERATE = "tradewh dictionary"
_FILTERS = (("reporter", "'CHN'"), ("period", "'2011'"))


@dataclass(frozen=True)
class ViewRef:
    """A view of the warehouse, by schema and name."""

    schema: str
    name: str

    @property
    def qualified(self) -> str:
        """``schema.view`` as a person types it."""
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        """The name as a quoted SQL identifier (safe to put in a statement)."""
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class ViewDoc:
    view: ViewRef
    grain: str
    description: str
    columns: tuple[ColumnDoc, ...]


def quote_identifier(name: str) -> str:
    """A SQL identifier in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def public_views(con: duckdb.DuckDBPyConnection) -> list[ViewRef]:
    """The views analysts query (schemas ``marts`` and ``core`` of the open database), marts first."""
    rows = con.execute(
        "select schema_name, view_name from duckdb_views() "
        "where not internal and database_name = current_database() and list_contains(?, schema_name)",
        [list(PUBLIC_SCHEMAS)],
    ).fetchall()
    return sorted((ViewRef(s, v) for s, v in rows), key=lambda r: (PUBLIC_SCHEMAS.index(r.schema), r.name))


def read_header(sql_file: Path) -> tuple[str, str]:
    """The grain and the prose of a view file's leading ``--`` comment block.

    The grain is the first line without ``-- grain:``, continued on the next lines while a line ends with a
    comma; the prose is the rest of the block, without the build's ``-- materialized:`` and ``-- order by:``
    lines. Both are empty when the file is missing.
    """
    if not sql_file.is_file():
        return "", ""
    lines: list[str] = []
    for line in sql_file.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        text = line.removeprefix("--").strip()
        if not text.startswith(("materialized:", "order by:")):  # how the build stores it, not what it holds
            lines.append(text)
    if not lines:
        return "", ""
    grain = [lines[0].removeprefix("grain:").strip()]
    rest = lines[1:]
    while grain[-1].endswith(",") and rest:
        grain.append(rest.pop(0))
    return " ".join(grain), " ".join(rest)


def describe_views(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> list[ViewDoc]:
    """Every public view with its grain, description and columns, from the database and ``sql_dir``."""
    docs = []
    for view in public_views(con):
        comment = con.execute(
            "select comment from duckdb_views() "
            "where database_name = current_database() and schema_name = ? and view_name = ?",
            [view.schema, view.name],
        ).fetchall()[0][0]
        columns = con.execute(
            "select column_name, data_type, comment from duckdb_columns() "
            "where database_name = current_database() and schema_name = ? and table_name = ? "
            "order by column_index",
            [view.schema, view.name],
        ).fetchall()
        sql_file = sql_dir / view.schema / f"{view.name}.sql"
        grain, prose = read_header(sql_file)
        description = (comment or "").strip() or prose
        if not description:
            description = (
                f"_Not described yet: add `comment on view {view.qualified} is '...'` to "
                f"`sql/{view.schema}/{view.name}.sql`._"
            )
        docs.append(
            ViewDoc(
                view=view,
                grain=grain,
                description=description,
                columns=tuple(ColumnDoc(n, t, (c or "").strip()) for n, t, c in columns),
            )
        )
    return docs


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (one line, pipes escaped)."""
    return " ".join(text.split()).replace("|", "\\|")


def example_queries(doc: ViewDoc) -> list[str]:
    """``select * ... limit 10``, plus a filtered one where the view has ``reporter`` / ``period``."""
    queries = [f"select * from {doc.view.qualified} limit 10;"]
    names = {c.name for c in doc.columns}
    filters = [f"{column} = {value}" for column, value in _FILTERS if column in names]
    if filters:
        queries.append(f"select * from {doc.view.qualified} where {' and '.join(filters)} limit 10;")
    return queries


def render_markdown(docs: list[ViewDoc]) -> str:
    """The data dictionary page."""
    out = [
        "# Data dictionary",
        "",
        "<!-- Generated by `tradewh dictionary` from the warehouse's own metadata: do not edit by hand. -->",
        "",
        "Every public view of the warehouse: its grain (from the header of `sql/<schema>/<view>.sql`), what it "
        "holds and its columns (from the `comment on` statements in the same files, as the database reports them "
        "in `duckdb_views()` and `duckdb_columns()`). To change a description, edit the comment in the SQL file, "
        f"run `tradewh load`, then `{REGENERATE}`.",
        "",
    ]
    for schema in PUBLIC_SCHEMAS:
        in_schema = [d for d in docs if d.view.schema == schema]
        if in_schema:
            out.append(f"- `{schema}`: " + ", ".join(f"[`{d.view.name}`](#{_anchor(d.view)})" for d in in_schema))
    for doc in docs:
        out += ["", f"## {doc.view.qualified}", ""]
        if doc.grain:
            out += [f"**Grain:** {doc.grain}", ""]
        out += [doc.description, "", "| column | type | description |", "|---|---|---|"]
        out += [f"| `{c.name}` | {_cell(c.type)} | {_cell(c.description)} |" for c in doc.columns]
        out += ["", "```sql", *example_queries(doc), "```"]
    return "\n".join(out) + "\n"


def _anchor(view: ViewRef) -> str:
    """The anchor GitHub gives the heading ``## schema.view``."""
    return view.qualified.replace(".", "").lower()


def generate_dictionary(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> str:
    """The Markdown data dictionary of an open warehouse whose views were built from ``sql_dir``."""
    return render_markdown(describe_views(con, sql_dir))


def dictionary_of(warehouse: Path, sql_dir: Path) -> str:
    """The data dictionary of a warehouse file, opened read-only."""
    with connect_read_only(warehouse) as con:
        return generate_dictionary(con, sql_dir)
