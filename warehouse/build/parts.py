"""A stored view's rows kept in one table per value of a column (``-- partitioned: <column> in <cte>``), and the
columns that hold one value in all of a part's rows declared generated constants of that part (``-- constants:``).

DuckDB writes a text column at 0.3-0.45 s per ten million rows whether it holds one value or many (measured on the
stored fact: its 31 columns, 11.2M rows, 8.7 s to write, of which 4.9 s for the 19 columns that hold one value
in all of a Comtrade download's rows, or none). Declared ``generated always as (cast('<value>' as <type>))
virtual``, as ``warehouse.build.raw_tables`` declares a raw table's, a value lives once in the part's definition
and costs nothing to write; queries read the same values (``select *``, filters, joins). Readers see one relation:
``store.<schema>__<view>`` is the view over the parts (``union all``), and the file's public view reads it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from warehouse.build.ctes import cte_body, prune_ctes
from warehouse.build.models import (
    _LAST_SELECT,
    PART,
    STORE,
    BuildError,
    Header,
    Stored,
    stored_table,
)
from warehouse.build.raw_tables import table_definition
from warehouse.build.sqltext import ident, text_literal
from warehouse.build.statements import view_query
from warehouse.build.variables import reads_multi_vintage, set_multi_vintage_datasets, set_plan_variables

log = logging.getLogger(__name__)

_NOT_ONE_VALUED = "tradewh: a column stored once in its part holds another value"


def part_table(path: Path, values: tuple[str | None, ...]) -> str:
    """The table holding the stored rows of ``path`` whose partitioning columns (``-- partitioned:``) hold ``values``:
    ``store."<schema>__<view>__part__<value>[__<value>...]"`` (a null is empty: ``__part__`` alone for one null)."""
    name = stored_table(path).split(".", 1)[1] + PART + "__".join(v or "" for v in values)
    return f"{STORE}.{ident(name)}"


def parts(con: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> list[str]:
    """The parts of a partitioned stored table (``store.<name>``) in ``database`` (the current one when None), each
    ``store."<name>__part__<value>"``, the part of the most rows first (then by name).

    The view over them (``union_of_parts``) reads them in this order, and so does a grouping over the view (the
    balance mart's pairs): DuckDB sizes its partitions from the first input. The 12 rows of the press release's
    part before 10M Comtrade rows whose series all have both flows ran out of memory at 512MB; the Comtrade part
    first, 4.8-5.1 s (3.8-3.9 s over that part alone). By name, a large dataset named after a small one came second.
    """
    name = table.split(".", 1)[1]
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = coalesce(?, current_database()) "
        "and schema_name = ? and starts_with(table_name, ?) order by estimated_size desc, table_name",
        [database, STORE, name + PART],
    ).fetchall()
    return [f"{STORE}.{ident(t)}" for (t,) in rows]


def union_of_parts(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]) -> None:
    """``table`` (``store.<name>``) made again as the view over its parts in the current database; with none, a
    part with no rows is created first (the view keeps its columns)."""
    found = parts(con, table)
    if not found:
        empty = f"{STORE}.{ident(table.split('.', 1)[1] + PART)}"
        con.execute(table_definition(empty, columns, {}))
        con.execute(f"comment on table {empty} is {text_literal(f'Stored rows of {table}: none (-- partitioned)')}")
        found = [empty]
    _drop_stored(con, table)
    con.execute(f"create view {table} as {_union(found)}")


def _union(found: list[str]) -> str:
    """The query of a view over ``found`` parts, in their order."""
    return "\nunion all\n".join(f"select * from {p}" for p in found)


@contextlib.contextmanager
def live_parts(con: duckdb.DuckDBPyConnection, statement: str) -> Iterator[list[str]]:
    """Around a statement reading views over parts (``union_of_parts``): each such view, while the statement runs,
    the union of only the parts the statement's plan reads; yields the parts left out.

    DuckDB proves some parts empty for a statement (a part's constant, say ``flow = 'total'`` in every derived
    figure's row, against the statement's ``flow in ('export', 'import')``) and puts an ``EMPTY_RESULT`` in their
    place, but left inside the union that empty branch makes the union's statistics unknown, and a grouping
    above it then materializes its keys uncompressed (DuckDB's compressed materialization needs them; near DuckDB
    issue #24118). Measured at 10M rows, the statement alone, three each: the balance mart over a file whose series
    all have both flows 4.62-4.76 s against 5.18-5.52 s, ``marts.goods_composition`` 1.49-1.53 s against 2.82-2.94
    s. A part whose name the plan (``explain (format json)``) does not hold gives the statement no row, so leaving
    it out changes nothing; the view is made again as it was afterwards, its comment with it. Nothing is left out
    unless the plan names a part of the view and holds an ``EMPTY_RESULT``.
    """
    views = con.execute(  # named by the statement or not: it may read one through a public view
        "select view_name, sql, comment from duckdb_views() "
        "where database_name = current_database() and schema_name = ?",
        [STORE],
    ).fetchall()
    over_parts = [  # the views over their parts in this database, as union_of_parts makes them
        (f"{STORE}.{ident(name)}", sql, comment, found)
        for name, sql, comment in views
        if (found := parts(con, f"{STORE}.{name}")) and all(part_name(p) in sql for p in found)
    ]
    if not over_parts:
        yield []
        return
    try:
        planned = con.execute(f"explain (format json) {statement}").fetchall()
    except duckdb.Error:  # a statement explain does not take (``set variable``): run as it is
        yield []
        return
    nodes = [node for row in planned for node in _plan_nodes(json.loads(row[1]))]
    named = {str((node.get("extra_info") or {}).get("Table", "")) for node in nodes}
    empty = any(node.get("name") == "EMPTY_RESULT" for node in nodes)
    here = con.execute("select current_database()").fetchone()[0]
    changed: list[tuple[str, str, str | None]] = []
    left_out: list[str] = []
    try:
        for view, sql, comment, found in over_parts:
            read = [p for p in found if f"{here}.{STORE}.{part_name(p)}" in named]
            if not empty or not read or len(read) == len(found):
                continue
            con.execute(f"create or replace view {view} as {_union(read)}")
            changed.append((view, sql, comment))
            left_out += [p for p in found if p not in read]
        if left_out:
            log.info("parts the statement reads no row of, left out of its views: %s", ", ".join(left_out))
        yield left_out
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction rolls the views back itself
            for view, sql, comment in changed:
                con.execute(f"create or replace view {view} as {view_query(sql)}")
                if comment is not None:  # a view made again has none
                    con.execute(f"comment on view {view} is {text_literal(comment)}")


def _plan_nodes(plan: object) -> Iterator[dict]:
    """Every operator of a plan as ``explain (format json)`` gives it."""
    if isinstance(plan, list):
        for each in plan:
            yield from _plan_nodes(each)
    elif isinstance(plan, dict):
        yield plan
        yield from _plan_nodes(plan.get("children", []))


def part_name(part: str) -> str:
    """A part's table name, as the catalog holds it (``store."x__part__y"`` -> ``x__part__y``)."""
    return part.split(".", 1)[1].strip('"').replace('""', '"')


def _drop_stored(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop ``store.<name>``, a table (before it was partitioned) or a view (over its parts), if it exists."""
    kinds = con.execute(
        "select 'table' from duckdb_tables() where database_name = current_database() and schema_name = ? "
        "and table_name = ? union all select 'view' from duckdb_views() where database_name = current_database() "
        "and schema_name = ? and view_name = ?",
        [STORE, table.split(".", 1)[1]] * 2,
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"drop {kind} {table}")


def store_parts(con: duckdb.DuckDBPyConnection, path: Path, stored: Stored, header: Header) -> dict[str, list[str]]:
    """Store a ``-- partitioned: <column>, ... in <cte>`` file's rows, one table per value of the columns
    (``part_table``), and ``stored.table`` as the view over them (``union all``): readers see one relation.

    The values, and for each the ``-- constants:`` columns that hold one value in all its rows, come from a first
    pass over the CTE (one grouping by the columns: each candidate's count, and the least and greatest hash of its
    values; the CTE comes before the costly part of the query). A part declares such a column a generated
    constant, the value kept once in its definition: writing a text column costs 0.3-0.45 s per ten million rows,
    the same whether it holds one value or many (measured on the stored fact, 11.2M rows). Every row stored is
    checked against the constants while it is written: one that differs (two values of one hash; a row of the
    query that the CTE did not hold) stops that part's statement, and the part is stored again without constants.

    The columns after the first split a value of the first only where the query filtered on them passes no
    window: a filter cannot reach below a window that is not partitioned by its column, and each part would
    compute the window over all of the first column's rows again (``_window_below``); such a value is one part.

    Returns:
        Each part -> the columns it stores once.
    """
    by, cte = header.partitioned, header.partitioned_from
    assert by and cte is not None
    for part in parts(con, stored.table):
        con.execute(f"drop table {part}")
    _drop_stored(con, stored.table)
    set_plan_variables(con, stored.query)
    columns = [(name, kind) for name, kind, *_ in con.execute(f"describe {stored.query}").fetchall()]
    kinds = dict(columns)
    candidates = [c for c in header.constants if c in kinds and c not in by]
    measured = ", ".join(
        f"count({ident(c)}), min(hash({ident(c)})), max(hash({ident(c)})), cast(any_value({ident(c)}) as varchar)"
        for c in candidates
    )
    if cte_body(stored.query, cte) is None or not _LAST_SELECT.search(stored.query):
        raise BuildError(f"{path}: `-- partitioned: {', '.join(by)} in {cte}` needs a CTE `{cte} as (...)`")
    first = prune_ctes(
        _LAST_SELECT.sub(
            f"select {', '.join(f'cast({ident(c)} as varchar)' for c in by)}, count(*)"
            f"{', ' + measured if measured else ''} from {cte} group by all",
            stored.query,
        )
    )
    began = time.monotonic()  # the first pass reads the plan variables set for the query above
    listed = con.execute("select getvariable('multi_vintage_datasets')").fetchone()[0]
    multi = listed if reads_multi_vintage(stored.query) and by[0] == "dataset" else None

    def narrow(values: tuple) -> None:  # the plan variables of a statement over one dataset's rows
        if multi is not None:
            set_multi_vintage_datasets(con, [d for d in multi if d == values[0]])

    with live_parts(con, first):
        first_pass = con.execute(first).fetchall()
    found = _split_where_no_window(con, stored.query, by, first_pass, len(candidates), narrow)
    log.info("%s: %d part(s) by %s, found in %.1f s", stored.table, len(found), ", ".join(by), time.monotonic() - began)
    names = [part_table(path, values) for values, *_ in found]
    if len(set(names)) < len(names):
        raise BuildError(f"{path}: two values of {', '.join(by)} give one part's name: {sorted(names)}")
    order = f"\norder by {', '.join(header.order_by)}" if header.order_by else ""
    done: dict[str, list[str]] = {}
    for (values, rows, stats), part in zip(found, names, strict=True):
        began = time.monotonic()
        constants: dict[str, str | None] = dict(zip(by, values, strict=False))  # one part of a value: the first's
        for i, name in enumerate(candidates):
            count, least, greatest, text = stats[4 * i : 4 * i + 4]
            if count == 0:
                constants[name] = None
            elif count == rows and least == greatest:
                constants[name] = text
        where = _where(by, values)
        kept = ", ".join(ident(c) for c, _ in columns if c not in constants)
        differs = " or ".join(
            f"{ident(c)} is distinct from cast({text_literal(v)} as {kinds[c]})" for c, v in constants.items()
        )
        con.execute(table_definition(part, columns, constants))
        narrow(values)
        statement = (
            f"insert into {part} ({kept}) select {kept} from (\n{stored.query}\n) where {where} "
            f"and (case when {differs} then error({text_literal(_NOT_ONE_VALUED)}) end) is null{order}"
        )
        try:
            stored_rows = _insert_live(con, statement)
        except duckdb.Error as exc:
            if _NOT_ONE_VALUED not in str(exc):
                raise
            log.warning("%s: a column stored once holds another value; the part stored whole", part)
            con.execute(f"drop table {part}")
            constants = {}
            everything = ", ".join(ident(c) for c, _ in columns)
            con.execute(table_definition(part, columns, {}))
            statement = (
                f"insert into {part} ({everything}) select {everything} from (\n{stored.query}\n) where {where}{order}"
            )
            stored_rows = _insert_live(con, statement)
        whose = " and ".join(f"{c} is {v}" for c, v in zip(by, values, strict=False))
        said = f"Stored rows of {path.parent.name}.{path.stem} whose {whose} (-- partitioned: {', '.join(by)})"
        con.execute(f"comment on table {part} is {text_literal(said)}")
        done[part] = sorted(constants)
        took = time.monotonic() - began
        log.info("%s: %s rows, %d column(s) stored once (%.1f s)", part, f"{stored_rows:,}", len(constants), took)
    if multi is not None:  # the connection's list as the build set it, not the last part's
        set_multi_vintage_datasets(con, multi)
    union_of_parts(con, stored.table, columns)
    return done


def _insert_live(con: duckdb.DuckDBPyConnection, statement: str) -> int:
    """Run an ``insert`` reading only the parts its plan reads (``live_parts``); the rows it stored."""
    with live_parts(con, statement):
        return con.execute(statement).fetchone()[0]


def _where(by: tuple[str, ...], values: tuple[str | None, ...]) -> str:
    """The rows whose first ``len(values)`` partitioning columns hold ``values``."""
    pairs = zip(by, values, strict=False)
    return " and ".join(f"{ident(c)} is null" if v is None else f"{ident(c)} = {text_literal(v)}" for c, v in pairs)


def _split_where_no_window(
    con: duckdb.DuckDBPyConnection,
    query: str,
    by: tuple[str, ...],
    found: list[tuple],
    candidates: int,
    narrow: Callable[[tuple], None],
) -> list[tuple[tuple[str | None, ...], int, list]]:
    """The parts of the first pass's rows (values of ``by``, count, the candidates' statistics), sorted: a value
    of the first column whose rows the query passes through a window (``_window_below``) is one part, its groups'
    statistics merged (counts summed, least and greatest hashes over the groups)."""
    k = len(by)
    groups: dict[str | None, list[tuple]] = {}
    for row in found:
        groups.setdefault(row[0], []).append(row)
    out = []
    for first, rows in groups.items():
        if len(rows) == 1 or not _window_below(con, query, by, tuple(rows[0][:k]), narrow):
            out += [(tuple(r[:k]), r[k], list(r[k + 1 :])) for r in rows]
            continue
        stats: list = []
        for i in range(candidates):
            present = [r[k + 1 + 4 * i : k + 5 + 4 * i] for r in rows if r[k + 1 + 4 * i]]
            stats += [
                sum(s[0] for s in present),
                min((s[1] for s in present), default=None),
                max((s[2] for s in present), default=None),
                present[0][3] if present else None,
            ]
        out.append(((first,), sum(r[k] for r in rows), stats))
    return sorted(out, key=lambda p: [(v is None, v or "") for v in p[0]])


def _window_below(
    con: duckdb.DuckDBPyConnection, query: str, by: tuple[str, ...], values: tuple, narrow: Callable[[tuple], None]
) -> bool:
    """Whether the query, filtered on all of ``by``, still computes a window (the filter on the later columns
    stays above it): its plan, as DuckDB's ``explain`` prints it. An aggregate over a whole partition that DuckDB
    plans as a grouping joined back is not seen: it is computed again for each part (a cost, never a wrong row)."""
    narrow(values)
    plan = con.execute(f"explain select * from (\n{query}\n) where {_where(by, values)}").fetchall()
    return any("─ Window" in str(text) or "WINDOW" in str(text) for _, text in plan)
