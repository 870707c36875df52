"""``tradewh docs``: one self-contained HTML page documenting every public view, its columns and its lineage.

Like ``dbt docs``, generated from the warehouse itself, read-only: every view and table of the public schemas
(``marts``, ``core``, ``audit``) with its comment (``duckdb_views().comment`` / ``duckdb_tables().comment``), the
grain from the header of its file ``sql/<schema>/<view>.sql``, its columns with types and comments
(``duckdb_columns()``), and the views it reads and is read by.

Lineage comes from DuckDB's own parser, through the build's dependency scan (``warehouse.build.references``): each
view's definition (``duckdb_views().sql``) goes through ``json_serialize_sql()`` and every schema-qualified
``BASE_TABLE`` of the parse tree is a reference (a CTE is read by its bare name). A stored view (``-- materialized:
table``) reads its table ``store.<schema>__<view>``, whose rows come from the query of the view's file: that file is
parsed the same way, so the lineage runs on from the stored table to what it was built from, down to the ``raw``
tables. Where the serializer refuses a statement (a ``pivot``), DuckDB's tokenizer finds the qualified names.

The page needs no network: CSS, script and the lineage graphs (SVG drawn here) are inline. Its search box filters
views and columns by name or comment; ``#q=<text>`` in the address fills it in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import duckdb
import jinja2
from markupsafe import Markup, escape

from warehouse.build.models import read_header, view_of_stored
from warehouse.build.statements import references
from warehouse.common.readonly import connect_read_only

PUBLIC_SCHEMAS = ("marts", "core", "audit")
LINEAGE_SCHEMAS = ("raw", "staging", "store", "core", "marts", "audit")  # upstream of the public ones


class DocsError(RuntimeError):
    """The page could not be generated (no warehouse yet)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str


@dataclass
class Relation:
    """A view or table of the warehouse and what it reads."""

    schema: str
    name: str
    kind: str  # "view" or "table"
    comment: str = ""
    grain: str = ""
    sql_file: str | None = None  # relative to the project, e.g. sql/marts/trade_balance.sql
    columns: list[Column] = field(default_factory=list)
    upstream: set[str] = field(default_factory=set)
    downstream: set[str] = field(default_factory=set)
    parsed_by: str = "parser"  # or "tokens" where DuckDB's serializer refused the statement (references)

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def public(self) -> bool:
        return self.schema in PUBLIC_SCHEMAS

    @property
    def anchor(self) -> str:
        return f"view-{self.key}"


# --- lineage ---------------------------------------------------------------------------------------------------


def _file_query(path: Path) -> str | None:
    """The CREATE VIEW statement of a view file (its comments and COMMENT ON statements left out)."""
    for statement in duckdb.extract_statements(path.read_text(encoding="utf-8")):
        if statement.type == duckdb.StatementType.CREATE:
            return statement.query
    return None


def collect(con: duckdb.DuckDBPyConnection, sql_dir: Path, project_root: Path | None = None) -> dict[str, Relation]:
    """Every view and table of the lineage schemas, with columns, comments and edges both ways."""
    found = con.execute(
        "select schema_name, view_name, 'view', coalesce(comment, ''), sql from duckdb_views() "
        "where not internal and database_name = current_database() and list_contains(?, schema_name) "
        "union all "
        "select schema_name, table_name, 'table', coalesce(comment, ''), null from duckdb_tables() "
        "where not internal and database_name = current_database() and list_contains(?, schema_name)",
        [list(LINEAGE_SCHEMAS), list(LINEAGE_SCHEMAS)],
    ).fetchall()
    relations: dict[str, Relation] = {}
    definitions: dict[str, str] = {}
    for schema, name, kind, comment, sql in found:
        relation = Relation(schema, name, kind, comment.strip())
        relations[relation.key] = relation
        if sql:
            definitions[relation.key] = sql
    files = {f"{f.parent.name}.{f.stem}": f for f in sorted(sql_dir.glob("*/*.sql"))}
    for key, relation in relations.items():
        path = files.get(key)
        if path is not None:
            relation.grain = read_header(path).grain
            relation.sql_file = str(path.relative_to(project_root)) if project_root else str(path)
        if relation.schema == "store":  # a stored view's rows: from the query of its file
            stored_from = files.get(view_of_stored(key) or "")
            query = _file_query(stored_from) if stored_from else None
            if query is not None:
                definitions[key] = query
                relation.sql_file = str(stored_from.relative_to(project_root)) if project_root else str(stored_from)
    for key, sql in definitions.items():
        refs, how = references(sql)
        relation = relations[key]
        relation.parsed_by = how
        # a stored table's file also names the view over it and the table itself: neither is upstream of it
        refs = {r for r in refs if r in relations and r != key}
        if relation.schema == "store":  # the file's own view reads the stored table: not upstream of it
            refs = {r for r in refs if r.split(".", 1)[1] != relation.name}
        relation.upstream = refs
    for key, relation in relations.items():
        for up in relation.upstream:
            relations[up].downstream.add(key)
    columns = con.execute(
        "select schema_name, table_name, column_name, data_type, coalesce(comment, '') from duckdb_columns() "
        "where database_name = current_database() and list_contains(?, schema_name) "
        "order by schema_name, table_name, column_index",
        [list(PUBLIC_SCHEMAS)],
    ).fetchall()
    for schema, table, name, type_, comment in columns:
        relation = relations.get(f"{schema}.{table}")
        if relation is not None:
            relation.columns.append(Column(name, type_, comment.strip()))
    return relations


def _closure(start: str, step: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in step.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _depths(focus: str, members: set[str], toward_focus: dict[str, set[str]]) -> dict[str, int]:
    """The longest path from each member to ``focus``, following ``toward_focus`` (a DAG)."""
    depth: dict[str, int] = {focus: 0}

    def of(node: str, visiting: frozenset[str]) -> int:
        if node in depth:
            return depth[node]
        nexts = [n for n in toward_focus.get(node, ()) if (n in members or n == focus) and n not in visiting]
        depth[node] = 1 + max((of(n, visiting | {node}) for n in nexts), default=0)
        return depth[node]

    for member in sorted(members):
        of(member, frozenset())
    return depth


# --- the lineage graph as SVG -------------------------------------------------------------------------------------

NODE_H, ROW_GAP, COL_GAP, CHAR_W, PAD = 26, 8, 48, 7.2, 14


def lineage_svg(focus: str, relations: dict[str, Relation]) -> Markup:
    """The view, everything upstream of it (left, by longest path) and downstream (right), as an inline SVG."""
    up = {k: r.upstream for k, r in relations.items()}
    down = {k: r.downstream for k, r in relations.items()}
    ancestors, descendants = _closure(focus, up), _closure(focus, down)
    level = {k: -d for k, d in _depths(focus, ancestors, down).items()}
    level.update({k: d for k, d in _depths(focus, descendants, up).items() if k != focus})
    order = {s: i for i, s in enumerate(LINEAGE_SCHEMAS)}
    columns: dict[int, list[str]] = {}
    for key in sorted(level, key=lambda k: (order.get(k.split(".")[0], 9), k)):
        columns.setdefault(level[key], []).append(key)
    width_of = {lv: max(len(k) for k in keys) * CHAR_W + 2 * PAD for lv, keys in columns.items()}
    tallest = max(len(keys) for keys in columns.values())
    height = tallest * (NODE_H + ROW_GAP) + ROW_GAP
    x, position = 0.0, {}
    for lv in sorted(columns):
        keys = columns[lv]
        top = (height - len(keys) * (NODE_H + ROW_GAP) + ROW_GAP) / 2
        for i, key in enumerate(keys):
            position[key] = (x, top + i * (NODE_H + ROW_GAP), width_of[lv])
        x += width_of[lv] + COL_GAP
    total_w = x - COL_GAP
    parts = [
        f'<svg class="lineage" data-testid="lineage-{escape(focus)}" viewBox="0 0 {total_w:.0f} {height:.0f}" '
        f'width="{total_w:.0f}" height="{height:.0f}" role="img" aria-label="lineage of {escape(focus)}">'
    ]
    for key, (nx, ny, nw) in position.items():
        for target in sorted(relations[key].downstream):
            if target in position and level[target] > level[key]:
                tx, ty, _ = position[target]
                x1, y1, y2 = nx + nw, ny + NODE_H / 2, ty + NODE_H / 2
                bend = (tx - x1) / 2
                parts.append(
                    f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {tx - bend:.1f},{y2:.1f} '
                    f'{tx:.1f},{y2:.1f}"/>'
                )
    for key, (nx, ny, nw) in position.items():
        relation = relations[key]
        classes = f"node s-{relation.schema}" + (" focus" if key == focus else "")
        box = (
            f'<g class="{classes}" data-node="{escape(key)}"><title>{escape(key)} ({relation.kind})</title>'
            f'<rect x="{nx:.1f}" y="{ny:.1f}" width="{nw:.1f}" height="{NODE_H}" rx="5"/>'
            f'<text x="{nx + PAD:.1f}" y="{ny + NODE_H / 2 + 4:.1f}">{escape(key)}</text></g>'
        )
        parts.append(f'<a href="#{escape(relation.anchor)}">{box}</a>' if relation.public and key != focus else box)
    parts.append("</svg>")
    return Markup("".join(parts))


# --- the page -------------------------------------------------------------------------------------------------------


def _search_text(*parts: Iterable[str] | str) -> str:
    return " ".join(p if isinstance(p, str) else " ".join(p) for p in parts).lower()


def build_page(
    con: duckdb.DuckDBPyConnection, sql_dir: Path, *, project_root: Path | None = None, source: str = ""
) -> str:
    """The HTML page for the open warehouse."""
    relations = collect(con, sql_dir, project_root)
    order = {s: i for i, s in enumerate(PUBLIC_SCHEMAS)}
    public = sorted((r for r in relations.values() if r.public), key=lambda r: (order[r.schema], r.name))
    views = [
        {
            "r": r,
            "search": _search_text(r.key, r.comment, r.grain),
            "columns": [(c, _search_text(c.name, c.comment, c.type)) for c in r.columns],
            "upstream": [relations[k] for k in sorted(r.upstream)],
            "downstream": [relations[k] for k in sorted(r.downstream)],
            "svg": lineage_svg(r.key, relations),
        }
        for r in public
    ]
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    template = environment.from_string(
        resources.files(__package__).joinpath("templates/docs.html").read_text(encoding="utf-8")
    )
    return template.render(
        views=views,
        schemas=[(s, [v for v in views if v["r"].schema == s]) for s in PUBLIC_SCHEMAS],
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        source=source,
        n_columns=sum(len(v["columns"]) for v in views),
    )


def write_docs(warehouse: Path, out: Path, sql_dir: Path, *, project_root: Path | None = None) -> Path:
    """Generate the page from the published ``warehouse`` (read-only) and write it to ``out`` atomically."""
    try:
        con = connect_read_only(warehouse)
    except FileNotFoundError as exc:
        raise DocsError(str(exc)) from None
    with con:
        page = build_page(con, sql_dir, project_root=project_root, source=str(warehouse))
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    part.write_text(page, encoding="utf-8")
    part.replace(out)
    return out
