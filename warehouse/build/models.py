"""Load the lake into a new DuckDB file, create the views, check them, and publish the file atomically.

A view file may ask to be stored (dbt's idea): a line ``-- materialized: table`` in its header comment makes the
build run its query once into the table ``store.<schema>__<name>`` and create the public view as ``select * from
store.<schema>__<name>``, keeping the file's comments on it. Analysts and BI tools see the same views as before; queries
read stored rows instead of recomputing the layers below. A line ``-- order by: <columns>`` stores the rows in
that order: runs of equal values compress into runs, and queries grouping by them read less.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    pass

# pandas, pandera and pyarrow are imported by the functions that build (not at the top): a run that only
# publishes again (warehouse.build.inputs, which uses ``publish``) does not import them

STORE = "store"  # the tables behind materialized views
SCHEMAS = ("raw", "staging", "core", "marts", "audit", STORE)
LAYERS = ("staging", "core", "marts", "audit")
MATERIALIZATIONS = ("view", "table")
_REFERENCE = re.compile(r"\b(raw|staging|core|marts|audit)\.([a-z_][a-z0-9_]*)\b")
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(\S*)\s*$")
_ORDER_BY = re.compile(r"^--\s*order by:\s*(.*?)\s*$")
_STORED = re.compile(r"^--\s*stored:\s*(.*?)\s*$")
_FINAL_SELECT = re.compile(r"\bselect \* from final\s*;?\s*$")
# what a view file's code is not: comments, strings and quoted names (an unclosed one runs to the end)
_LITERAL = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*(?:'|\Z)|\"(?:[^\"]|\"\")*(?:\"|\Z)", re.S)
_CTE = re.compile(r"^([a-z_][a-z0-9_]*) as (?:not materialized )?\(", re.M)
_PARENS = re.compile(r"[()]")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
_CREATE_VIEW = re.compile(r"^create (?:or replace )?view ([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*) as\b", re.M)


class BuildError(RuntimeError):
    """The warehouse could not be built; nothing was published."""


def _code(path: Path) -> str:
    """The SQL of a file without comments and string literals (so only real references count)."""
    return _blank_literals(path.read_text())


def sql_files(sql_dir: Path) -> list[Path]:
    """The view files in dependency order (a view after every view it reads)."""
    files = {f"{f.parent.name}.{f.stem}": f for layer in LAYERS for f in sorted((sql_dir / layer).glob("*.sql"))}
    deps = {
        name: {f"{s}.{v}" for s, v in _REFERENCE.findall(_code(path))} & set(files) - {name}
        for name, path in files.items()
    }
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise BuildError(f"views depend on each other in a cycle through {name}")
        visiting.add(name)
        for dep in sorted(deps[name]):
            visit(dep)
        visiting.discard(name)
        ordered.append(name)

    for name in sorted(files, key=lambda n: (LAYERS.index(n.split(".")[0]), n)):
        visit(name)
    return [files[n] for n in ordered]


def _header(path: Path) -> list[str]:
    """The leading ``--`` comment lines of a view file."""
    lines = path.read_text().splitlines()
    return lines[: next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))]


def materialization(path: Path) -> str:
    """How a view file is built: ``view`` (the default) or ``table`` (``-- materialized: table`` in its header)."""
    for line in _header(path):
        found = _MATERIALIZED.match(line)
        if found:
            if found.group(1) not in MATERIALIZATIONS:
                raise BuildError(
                    f"{path}: materialized must be one of {', '.join(MATERIALIZATIONS)}, not {found.group(1)!r}"
                )
            return found.group(1)
    return "view"


def stored_order(path: Path) -> list[str]:
    """The columns a stored table's rows are sorted by (``-- order by: a, b`` in the header); empty if none."""
    for line in _header(path):
        found = _ORDER_BY.match(line)
        if found:
            columns = [c.strip() for c in found.group(1).split(",")]
            if not all(_COLUMN.match(c) for c in columns) or materialization(path) != "table":
                raise BuildError(f"{path}: `-- order by: a, b` takes column names, with `-- materialized: table`")
            return columns
    return []


def stored_cte(path: Path) -> str | None:
    """The CTE whose rows a stored table keeps (``-- stored: <cte>`` in the header); None: the whole query's."""
    for line in _header(path):
        found = _STORED.match(line)
        if found:
            if not _COLUMN.match(found.group(1)) or materialization(path) != "table":
                raise BuildError(f"{path}: `-- stored: <cte>` names a CTE of the query, with `-- materialized: table`")
            return found.group(1)
    return None


def _blank_literals(sql: str) -> str:
    """The SQL with its comments, strings and quoted names turned into spaces, every other character where it
    was: what is left is code, to search for references and parentheses at the same positions as in ``sql``."""
    return _LITERAL.sub(lambda found: " " * len(found.group()), sql)


def _cte_spans(sql: str) -> dict[str, tuple[int, int, int]]:
    """Each CTE of a query, written at the start of a line as ``<cte> as (`` or ``<cte> as not materialized (``:
    where its line starts, where its body's ``(`` is, and the position after its ``)``."""
    code = _blank_literals(sql)
    spans = {}
    for found in _CTE.finditer(code):
        depth = 0
        for paren in _PARENS.finditer(code, found.end() - 1):
            depth += 1 if paren.group() == "(" else -1
            if depth == 0:
                spans[found.group(1)] = (found.start(), found.end() - 1, paren.end())
                break
    return spans


def cte_body(sql: str, cte: str) -> tuple[int, int] | None:
    """Where the body of ``cte`` lies in a query (``_cte_spans``): from its opening parenthesis to the position
    after its closing one; None when there is no such CTE."""
    span = _cte_spans(sql).get(cte)
    return None if span is None else (span[1], span[2])


def prune_ctes(sql: str) -> str:
    """The query without the CTEs nothing reads any more (those a stored CTE's rows were made from), so the view
    a BI tool shows is the query it runs: those the final select reads, and those they read."""
    spans, code = _cte_spans(sql), _blank_literals(sql)
    if not spans:
        return sql

    def read_by(text: str) -> set[str]:
        return {name for name in spans if re.search(rf"\b{name}\b", text)}

    reads = {name: read_by(code[body:end]) - {name} for name, (_, body, end) in spans.items()}
    todo = list(read_by(code[max(end for *_, end in spans.values()) :]))
    wanted: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(reads[name])
    for name, (start, _, end) in sorted(spans.items(), key=lambda item: -item[1][0]):
        if name not in wanted:
            comma = re.match(r"\s*,\s*", sql[end:])  # the separator before the next CTE goes with it
            sql = sql[:start] + sql[end + (comma.end() if comma else 0) :]
    return sql


def stored_table(path: Path) -> str:
    """The table behind a ``-- materialized: table`` view file: ``store.<schema>__<view>`` (``sql/marts/x.sql`` ->
    ``store.marts__x``), a name no public view has: a BI tool that keys datasets by table name (Superset) sees no
    second ``trade_balance``."""
    return f"{STORE}.{path.parent.name}__{path.stem}"


def create_object(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Run a view file; for ``-- materialized: table``, store its query's rows once and put the view over them.

    With ``-- stored: <cte>`` as well, only that CTE's rows are stored (the query ending in ``select * from
    <cte>``), and the public view is the file's own query reading them: the CTEs after it (names joined from a
    dimension, figures computed from stored ones) run when the view is read. A column costs more to write than
    to compute again (measured at 10M rows: a text column of one value, 0.3 s to store).

    The file's other statements (its comments) run unchanged, so the public view keeps its descriptions.
    """
    text = path.read_text()
    order, cte = stored_order(path), stored_cte(path)
    if materialization(path) == "view":
        con.execute(text)
        return
    name = f"{path.parent.name}.{path.stem}"
    stored = stored_table(path)
    statements = duckdb.extract_statements(text)
    create = _CREATE_VIEW.search(statements[0].query) if statements else None
    if create is None or create.group(1) != name:
        raise BuildError(f"{path}: a materialized file must start with `create or replace view {name} as`")
    query = statements[0].query.rstrip().rstrip(";")
    view = f"create or replace view {name} as select * from {stored}"
    if cte is not None:
        body = cte_body(query, cte)
        if body is None or not _FINAL_SELECT.search(query):
            raise BuildError(
                f"{path}: `-- stored: {cte}` needs a CTE `{cte} as (...)` and a query ending in `select * from final`"
            )
        view = prune_ctes(query[: body[0]] + f"(\n    select * from {stored}\n)" + query[body[1] :])
        query = _FINAL_SELECT.sub(f"select * from {cte}", query)
    query = _CREATE_VIEW.sub(f"create or replace table {stored} as", query, count=1)
    con.execute(query + (f"\norder by {', '.join(order)}" if order else ""))
    con.execute(view)
    con.execute(f"comment on table {stored} is 'Stored rows of {name} (-- materialized: table): query {name}'")
    for statement in statements[1:]:
        con.execute(statement.query)


def refresh_stored(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> list[str]:
    """Recompute every stored table (``-- materialized: table``) from what is below it now, in dependency order.

    For a warehouse whose raw rows were changed in place (a hand repair, a test): the views read live, the
    stored tables would otherwise keep the rows they were built with.

    Returns:
        The views whose rows were stored again.
    """
    refreshed = []
    for path in sql_files(sql_dir):
        if materialization(path) == "table":
            create_object(con, path)
            refreshed.append(f"{path.parent.name}.{path.stem}")
    return refreshed
