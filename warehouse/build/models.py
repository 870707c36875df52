"""The view files of ``sql/``: what each one's header says, what each one reads, the order they run in, and how
each is created.

A view file may ask to be stored (dbt's idea): a line ``-- materialized: table`` in its header comment makes the
build run its query once into the table ``store.<schema>__<name>`` and create the public view as ``select * from
store.<schema>__<name>``, keeping the file's comments on it. Analysts and BI tools see the same views as before; queries
read stored rows instead of recomputing the layers below. A line ``-- order by: <columns>`` stores the rows in
that order: runs of equal values compress into runs, and queries grouping by them read less. A line ``-- incremental:
source_id`` says that the stored rows of each source are computed from the rows of that source's dataset (and the
reference lists) alone: a build that starts from the published file (``warehouse.build.incremental``) recomputes the
rows of the sources whose dataset changed and keeps the others (delete and insert by that column); a stored view
without it is recomputed whole. A line ``-- partitioned: <column>, ... in <cte>`` keeps the stored rows in one
table per value of the columns, with ``-- constants: a, b`` the columns that hold one value in a part kept once in its
definition (``warehouse.build.parts``). ``read_header`` is the one reader of these settings (the build, the no-op check,
the data dictionary and the docs page use it).

What a view reads comes from DuckDB's own parser (``references``), not from a pattern over the text: the dependency
order of the build, the no-op check and the docs page's lineage are the same scan.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.build.ctes import cte_body, cte_spans, prune_ctes, reads_of
from warehouse.build.statements import CACHED_TEXTS, STORE, is_comment, references, statements_of
from warehouse.build.variables import set_plan_variables

log = logging.getLogger(__name__)

# pandas, pandera and pyarrow are imported by the functions that build (not at the top): a run that only
# publishes again (warehouse.build.inputs, which uses ``publish``) does not import them

PART = "__part__"  # a part's name: the stored table's, this, and the value of its rows' partitioning column
LAYERS = ("staging", "core", "marts", "audit")
MATERIALIZATIONS = ("view", "table")
HEADER_SETTINGS = (
    "grain",
    "materialized",
    "stored",
    "prepared",
    "plan",
    "order by",
    "incremental",
    "partitioned",
    "constants",
)
_CONTINUED = ("grain", "constants")  # settings whose line, ending with a comma, goes on in the next line
# a header line that sets something: ``-- <key>: <value>``, the key one lower-case word (or ``order by``); a prose
# line never starts so (``-- Mirror flows: ...``, ``--   by product: ...`` and ``-- see https://...`` do not)
_SETTING = re.compile(r"^--\s*(order by|[a-z][a-z0-9_]*):(?!//)\s*(.*?)\s*$")
_FINAL_SELECT = re.compile(r"\bselect \* from final\s*;?\s*$")
_LAST_SELECT = re.compile(r"\bselect \* from \w+\s*$")  # a stored query's end, once `final` or the stored CTE
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
_CREATE_VIEW = re.compile(r"^create (?:or replace )?view ([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*) as\b", re.M)


class BuildError(RuntimeError):
    """The warehouse could not be built; nothing was published."""


@dataclass(frozen=True)
class Header:
    """What a view file's leading ``--`` comment block says (``read_header``).

    Attributes:
        grain: ``-- grain: one row per ...``, continued on the next lines while a line ends with a comma.
        prose: the block's other lines, joined: what the view holds, in words.
        materialized: ``view`` (the default), or ``table`` (``-- materialized: table``): the build stores its rows.
        stored: ``-- stored: <cte>``: the CTE whose rows the stored table keeps; None: the whole query's.
        prepared: ``-- prepared: <cte>, <cte>``: CTEs the build computes each in a statement of its own, into a
            temporary table the stored query reads (``stored_statements``); empty if none.
        plan: ``-- plan: <cte>, <cte>``: CTEs of one row and one column whose value the build sets as a variable of
            the CTE's name (``set variable``) once the prepared CTEs it reads are computed, for the stored query to
            read with ``getvariable('<cte>')``: DuckDB binds it as a constant, so the plan itself depends on the
            rows (a branch whose filter is false is not planned). A reader of the view reads null. Empty if none.
        order_by: ``-- order by: a, b``: the columns a stored table's rows are sorted by; empty if none.
        incremental: ``-- incremental: source_id``: the column whose values partition a stored table's rows by
            source (see the module's docstring); None: an incremental build recomputes the table whole.
        partitioned: ``-- partitioned: <column>, ... in <cte>``: the stored rows are kept in one table per value
            of the columns (``part_table``), their values read from the CTE (``store_parts``); empty: one table.
        partitioned_from: that CTE.
        constants: ``-- constants: a, b, ...``: columns of that CTE that often hold one value in all the rows of a
            part: where they do, the part declares them generated constants (``store_parts``).
    """

    grain: str = ""
    prose: str = ""
    materialized: str = "view"
    stored: str | None = None
    prepared: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    incremental: str | None = None
    partitioned: tuple[str, ...] = ()
    partitioned_from: str | None = None
    constants: tuple[str, ...] = ()


def read_header(path: Path) -> Header:
    """The header of a view file: its settings (``HEADER_SETTINGS``), grain and prose.

    Raises:
        BuildError: naming the file, for a setting it does not know (``-- materialised: table``), a setting given
            twice, or a value it cannot take.
    """
    return _header(path, path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=CACHED_TEXTS)
def _header(path: Path, text: str) -> Header:
    settings: dict[str, str] = {}
    prose: list[str] = []
    continuing = False  # the line before was the grain (or `constants`), ending with a comma: this one goes on
    continued = "grain"
    for line in itertools.takewhile(lambda text: text.startswith("--"), text.splitlines()):
        text = line.removeprefix("--").strip()
        found = None if continuing else _SETTING.match(line)
        if continuing:
            settings[continued] += " " + text
        elif found is None:
            prose.append(text)
        elif found.group(1) not in HEADER_SETTINGS:
            raise BuildError(
                f"{path}: unknown header setting `-- {found.group(1)}:` (the settings are "
                f"{', '.join(f'`-- {k}:`' for k in HEADER_SETTINGS)}); a line of prose cannot start with a "
                "lower-case word and a colon"
            )
        elif found.group(1) in settings:
            raise BuildError(f"{path}: `-- {found.group(1)}:` is set twice in the header")
        else:
            settings[found.group(1)] = found.group(2)
            continued = found.group(1)
        continuing = (continuing or (found is not None and found.group(1) in _CONTINUED)) and text.endswith(",")
    partitioned, _, partitioned_from = settings.get("partitioned", "").partition(" in ")
    header = Header(
        grain=settings.get("grain", ""),
        prose=" ".join(prose),
        materialized=settings.get("materialized", "view"),
        stored=settings.get("stored"),
        prepared=tuple(c.strip() for c in settings["prepared"].split(",")) if "prepared" in settings else (),
        plan=tuple(c.strip() for c in settings["plan"].split(",")) if "plan" in settings else (),
        order_by=tuple(c.strip() for c in settings["order by"].split(",")) if "order by" in settings else (),
        incremental=settings.get("incremental"),
        partitioned=tuple(c.strip() for c in partitioned.split(",")) if partitioned.strip() else (),
        partitioned_from=partitioned_from.strip() or None,
        constants=tuple(c.strip() for c in settings["constants"].split(",")) if "constants" in settings else (),
    )
    if header.materialized not in MATERIALIZATIONS:
        raise BuildError(
            f"{path}: materialized must be one of {', '.join(MATERIALIZATIONS)}, not {header.materialized!r}"
        )
    stored = header.materialized == "table"
    if "order by" in settings and not (stored and all(_COLUMN.match(c) for c in header.order_by)):
        raise BuildError(f"{path}: `-- order by: a, b` takes column names, with `-- materialized: table`")
    if header.stored is not None and not (stored and _COLUMN.match(header.stored)):
        raise BuildError(f"{path}: `-- stored: <cte>` names a CTE of the query, with `-- materialized: table`")
    if "prepared" in settings and not (stored and all(_COLUMN.match(c) for c in header.prepared)):
        raise BuildError(f"{path}: `-- prepared: <cte>, <cte>` names CTEs of the query, with `-- materialized: table`")
    if "plan" in settings and not (stored and all(_COLUMN.match(c) for c in header.plan)):
        raise BuildError(f"{path}: `-- plan: <cte>, <cte>` names CTEs of the query, with `-- materialized: table`")
    if header.incremental is not None and not (stored and header.incremental == "source_id"):
        raise BuildError(f"{path}: `-- incremental: source_id` is the one setting, with `-- materialized: table`")
    names = (*header.partitioned, header.partitioned_from)
    if "partitioned" in settings and not (stored and header.partitioned and all(n and _COLUMN.match(n) for n in names)):
        raise BuildError(
            f"{path}: `-- partitioned: <column>, ... in <cte>` names columns of a CTE, with `-- materialized: table`"
        )
    if "constants" in settings and not (header.partitioned and all(_COLUMN.match(c) for c in header.constants)):
        raise BuildError(f"{path}: `-- constants: a, b` names columns, with `-- partitioned: <column>, ... in <cte>`")
    return header


def file_references(path: Path) -> set[str]:
    """What a view file reads: ``references`` of each of its statements but its ``comment on`` ones (which read
    nothing). The statements are split at DuckDB's ``;`` tokens (``duckdb.extract_statements`` parses every
    statement, the 315 comments included: 50 ms for the 24 files, ten times the tokenizer's time).

    A stored table read by name (``store.core__fct_trade_figure``: a mart reading a column the public view leaves
    out) counts as its view (``core.fct_trade_figure``): what the build orders by and the nights compare."""
    return set(_file_references(path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=CACHED_TEXTS)
def _file_references(text: str) -> frozenset[str]:
    reads: set[str] = set()
    for statement in statements_of(text, comments=False):
        reads |= references(statement)[0]
    return frozenset(view_of_stored(name) or name for name in reads)


def view_without_comments(path: Path) -> str:
    """A view file's statements but its ``comment on`` ones: the view for a build's own use, which no one reads
    the descriptions of (an incremental build's scratch catalogue). Its 10-40 comments cost 3-10 ms a file."""
    return ";\n".join(statements_of(path.read_text(encoding="utf-8"), comments=False))


def view_of_stored(name: str) -> str | None:
    """The view behind a stored table's name (``store.marts__x`` -> ``marts.x``, ``stored_table``'s inverse); None
    for any other name."""
    schema, _, table = name.partition(".")
    table = table.strip('"').split(PART, 1)[0]  # a part of a partitioned stored table: that table's
    layer, separator, view = table.partition("__")
    if schema != STORE or not separator or layer not in LAYERS or not view:
        return None
    return f"{layer}.{view}"


def sql_files(sql_dir: Path) -> list[Path]:
    """The view files in dependency order (a view after every view it reads, as DuckDB's parser finds them)."""
    files = {f"{f.parent.name}.{f.stem}": f for layer in LAYERS for f in sorted((sql_dir / layer).glob("*.sql"))}
    deps = {name: file_references(path) & set(files) - {name} for name, path in files.items()}
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


def stored_table(path: Path) -> str:
    """The table behind a ``-- materialized: table`` view file: ``store.<schema>__<view>`` (``sql/marts/x.sql`` ->
    ``store.marts__x``), a name no public view has: a BI tool that keys datasets by table name (Superset) sees no
    second ``trade_balance``."""
    return f"{STORE}.{path.parent.name}__{path.stem}"


@dataclass(frozen=True)
class Stored:
    """The statements of a ``-- materialized: table`` view file (``stored_statements``).

    Attributes:
        table: the stored table, ``store.<schema>__<view>``.
        create_table: ``create or replace table <table> as <query>`` (with its ``order by``).
        view: the public view over the stored rows.
        others: the file's other statements (its comments), unchanged.
        prepared: for each ``-- prepared:`` CTE, in the file's order, ``create or replace temp table ... as`` its
            rows; ``create_table`` (and each later one) reads that table instead of the CTE's query. Between
            them, each ``-- plan:`` CTE's ``set variable <cte> = (...)``, once the prepared CTEs it reads are.
        dropped: the statements that drop those temporary tables (and reset those variables) once the rows are
            stored.
        query: the stored query alone (``create_table`` without its ``create ... as`` and ``order by``).
    """

    table: str
    create_table: str
    view: str
    others: tuple[str, ...]
    prepared: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    query: str = ""


def prepared_table(path: Path, cte: str) -> str:
    """The temporary table a ``-- prepared: <cte>`` CTE's rows are computed into (the connection's own, never in
    the file): ``temp.main.prepared__<schema>__<view>__<cte>``."""
    return f"temp.main.prepared__{path.parent.name}__{path.stem}__{cte}"


def stored_statements(path: Path) -> Stored:
    """What ``create_object`` runs for a ``-- materialized: table`` file: the table, the view over it, the comments.

    With ``-- stored: <cte>``, only that CTE's rows are stored (the query ending in ``select * from <cte>``), and
    the public view is the file's own query reading them: the CTEs after it (names joined from a dimension, figures
    computed from stored ones) run when the view is read. A column costs more to write than to compute again
    (measured at 10M rows: a text column of one value, 0.3 s to store).

    With ``-- prepared: <cte>``, that CTE's rows are computed first, by a statement of their own (the query ending
    in ``select * from <cte>``, without the CTEs it does not read), into a temporary table; the stored query reads
    the table instead. A statement holds its hash tables until it ends: one that groups ten million rows beside
    the other joins and groupings of a large query can exceed the build's memory limit where, alone, it does not
    (``core.fct_trade_figure``). The public view is the file's query as written.
    """
    return _stored_statements(path, path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=CACHED_TEXTS)
def _stored_statements(path: Path, text: str) -> Stored:
    header = _header(path, text)
    order, cte = header.order_by, header.stored
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
    prepared: list[str] = []
    dropped: list[str] = []
    for each in (*header.prepared, *header.plan):
        if cte_body(query, each) is None or not _LAST_SELECT.search(query):
            setting = "prepared" if each in header.prepared else "plan"
            raise BuildError(f"{path}: `-- {setting}: {each}` needs a CTE `{each} as (...)` before the final select")
    planned: set[str] = set()

    def plan_ready(done: set[str]) -> None:  # the plan variables whose prepared CTEs are all computed now
        for each in header.plan:
            if each not in planned and reads_of(query, each) & set(header.prepared) <= done:
                planned.add(each)
                alone = _CREATE_VIEW.sub("", prune_ctes(_LAST_SELECT.sub(f"select * from {each}", query)), count=1)
                prepared.append(f"set variable {each} = (\n{alone.strip()}\n)")
                dropped.append(f"reset variable {each}")

    plan_ready(set())
    for i, each in enumerate(header.prepared):
        table = prepared_table(path, each)
        alone = prune_ctes(_LAST_SELECT.sub(f"select * from {each}", query))
        prepared.append(_CREATE_VIEW.sub(f"create or replace temp table {table} as", alone, count=1))
        dropped.append(f"drop table if exists {table}")
        start, _, end = cte_spans(query)[each]  # read where it is read: a copy of the table would cost memory
        query = query[:start] + f"{each} as not materialized (\n    select * from {table}\n)" + query[end:]
        plan_ready(set(header.prepared[: i + 1]))
    alone = _CREATE_VIEW.sub("", query, count=1)
    query = _CREATE_VIEW.sub(f"create or replace table {stored} as", query, count=1)
    kind = "view" if header.partitioned else "table"  # partitioned: a view over the parts
    comment = f"comment on {kind} {stored} is 'Stored rows of {name} (-- materialized: table): query {name}'"
    return Stored(
        table=stored,
        create_table=query + (f"\norder by {', '.join(order)}" if order else ""),
        view=view,
        others=(comment, *(s.query for s in statements[1:])),
        prepared=tuple(prepared),
        dropped=tuple(dropped),
        query=alone,
    )


def create_object(
    con: duckdb.DuckDBPyConnection, path: Path, *, autocommit: bool = False, comments: bool = True
) -> None:
    """Run a view file; for ``-- materialized: table``, store its query's rows once and put the view over them
    (``stored_statements``). The file's other statements (its comments) run unchanged, so the public view keeps
    its descriptions.

    ``autocommit``: the connection commits each statement on its own (a new file's build); the statements that
    store no rows (a view and its comments) then run in one transaction, one commit instead of one per comment
    (measured on four view files of 20-40 statements, on a 1M-row warehouse: 6-30 ms each instead of 15-44 ms).

    ``comments=False``: without the file's ``comment on`` statements (``view_without_comments``)."""
    together = _one_transaction if autocommit else contextlib.nullcontext
    if read_header(path).materialized == "view":
        with together(con):
            con.execute(path.read_text() if comments else view_without_comments(path))
        return
    from warehouse.build.parts import live_parts, store_parts  # it reads this module's functions

    header = read_header(path)
    stored = stored_statements(path)
    try:
        for statement in stored.prepared:
            set_plan_variables(con, statement)
            with live_parts(con, statement):
                con.execute(statement)
        if header.partitioned:
            store_parts(con, path, stored, header)
        else:
            set_plan_variables(con, stored.create_table)
            with live_parts(con, stored.create_table):
                con.execute(stored.create_table)
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses the drop: it rolls back with it
            for statement in stored.dropped:
                con.execute(statement)
        raise
    for statement in stored.dropped:
        con.execute(statement)
    with together(con):
        con.execute(stored.view)
        for statement in stored.others:
            if comments or not is_comment(statement):
                con.execute(statement)


@contextlib.contextmanager
def _one_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def refresh_stored(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> list[str]:
    """Recompute every stored table (``-- materialized: table``) from what is below it now, in dependency order.

    For a warehouse whose raw rows were changed in place (a hand repair, a test): the views read live, the
    stored tables would otherwise keep the rows they were built with.

    Returns:
        The views whose rows were stored again.
    """
    refreshed = []
    for path in sql_files(sql_dir):
        if read_header(path).materialized == "table":
            create_object(con, path)
            refreshed.append(f"{path.parent.name}.{path.stem}")
    return refreshed
