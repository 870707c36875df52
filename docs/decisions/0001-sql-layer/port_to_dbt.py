# ruff: noqa: E501  (a measurement script of ADR 0001: long SQL and report lines)
"""Port tradewh's SQL models (sql/{staging,core,marts,audit}/*.sql) to a dbt-duckdb project, mechanically.

Written for ADR 0001 (docs/decisions/0001-sql-layer.md): the comparison must run the same models, so nothing is
ported by hand. Run it with the project's code on the path (it reuses warehouse/build.py's own parsing of the
settings comments and its CTE pruning, as of commit 3df8712):

    PYTHONPATH=<checkout> <checkout>/.venv/bin/python port_to_dbt.py --sql <checkout>/sql \
        --warehouse <a built tradewh.duckdb, for the source tables and the fact's column types> --out <dbt project>

What it does, file by file:
- `create or replace view <schema>.<name> as <query>;` -> models/<schema>/<name>.sql holding `<query>`, with every
  reference `<schema>.<view>` to another file -> `{{ ref('<view>') }}` and every table the Python load makes
  (raw.*, audit.* records) -> `{{ source('<schema>', '<table>') }}` (only in code: comments and strings stay).
- `-- materialized: table` -> `{{ config(materialized='table') }}` (a table under the public name, where the
  builder stores `store.<name>` and puts a view over it); `-- order by: a, b` -> `order by a, b` at the end.
- `-- stored: <cte>` -> two models: `store_<name>` (alias `<name>` in schema `store`, a table of the CTE's rows,
  the query ending in `select * from <cte>`), and the public view reading it with the CTEs it no longer needs
  pruned (the builder's own `prune_ctes`).
- `comment on view|column ... is '...'` -> models/<schema>/schema.yml descriptions, written to the database by
  dbt's `persist_docs` (relation and columns).
- schemas/trade_figure.py's rules (warehouse.sql_checks.translate, the build's check) -> singular tests in
  tests/, one per rule, on core.fct_trade_figure.
- The fixed parts (dbt_project.yml, profiles.yml, macros) are written from the strings below.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import duckdb
import yaml

from warehouse.build import (
    _CREATE_VIEW,
    _FINAL_SELECT,
    _REFERENCE,
    _blank_literals,
    cte_body,
    materialization,
    prune_ctes,
    sql_files,
    stored_cte,
    stored_order,
)

SETTINGS_LINE = re.compile(r"^--\s*(materialized|stored|order by):.*$")
COMMENT = re.compile(r"^comment on (view|table|column) ([a-z_][a-z0-9_.]*) is '((?:[^']|'')*)'\s*;?\s*$", re.S | re.I)

DBT_PROJECT = """\
name: tradewh
version: "1.0"
profile: tradewh
config-version: 2
model-paths: [models]
macro-paths: [macros]
test-paths: [tests]
flags:
  send_anonymous_usage_stats: false
models:
  tradewh:
    +materialized: view
    +persist_docs: {relation: true, columns: true}
    staging: {+schema: staging}
    core: {+schema: core}
    marts: {+schema: marts}
    audit: {+schema: audit}
    store: {+schema: store}
on-run-end:
  - "{{ stamp_build() }}"
"""

# the build's connection settings (warehouse/build.py BUILD_CONFIG and build_warehouse's config); the file written in
# the storage version older clients read (a file created by an older-format attach keeps its version when reopened)
PROFILES = """\
tradewh:
  target: build
  outputs:
    build:
      type: duckdb
      path: "{{{{ env_var('TRADEWH_DBT_TARGET') }}}}"
      database: tradewh
      schema: main
      threads: {threads}
      config_options:  # at connect: dbt-duckdb SETs `settings` on every cursor, and DuckDB refuses to move
        storage_compatibility_version: "{storage_version}"  # a temp directory in use
        memory_limit: "{memory_limit}"
        temp_directory: "{temp_dir}"
        preserve_insertion_order: false
        disabled_optimizers: common_subplan
      settings: {{enable_progress_bar: false}}
"""

MACROS = {
    # the schema named in dbt_project.yml as it is (dbt's default prefixes the target's schema: main_marts)
    "generate_schema_name.sql": """\
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
""",
    # views name what they read without the database: the published file is renamed (a .building file, history
    # entries), and DuckDB's catalog is the file's name, so "tradewh"."core"."x" would not bind after a rename
    "no_database.sql": """\
{% macro ref() -%}
    {% do return(builtins.ref(*varargs, **kwargs).include(database=false)) %}
{%- endmacro %}
{% macro source(source_name, table_name) -%}
    {% do return(builtins.source(source_name, table_name).include(database=false)) %}
{%- endmacro %}
""",
    # the build stamp (warehouse/freshness.py stamp_build): the digest comes from outside (--vars), as dbt does
    # not know the lake; the largest revisions are read from the mart as the builder does
    "stamp_build.sql": """\
{% macro stamp_build() %}
  {% if execute and flags.WHICH in ('run', 'build') %}
    create table if not exists audit.builds (run_id varchar, published_at timestamptz, is_rebuilt boolean,
        inputs_sha256 varchar, inputs varchar, largest_revisions varchar);
    insert into audit.builds
    select '{{ var("run_id", invocation_id) }}', now(), true, '{{ var("inputs_sha256", "") }}',
        '{{ var("inputs", "{}") }}', (
            select to_json(list(r))::varchar from (
                select source_id, reporter, period, flow, category, previous_vintage_value, value, revision
                from marts.revisions limit 10) as r);
  {% endif %}
{% endmacro %}
""",
}


def replace_references(sql: str, models: set[str], schema_of: dict[str, str]) -> str:
    """``schema.name`` in code (not in comments or strings) -> ref() for a model, source() for a loaded table."""
    code = _blank_literals(sql)
    out, last = [], 0
    for found in _REFERENCE.finditer(code):
        schema, name = found.group(1), found.group(2)
        qualified = f"{schema}.{name}"
        if qualified in models:
            new = f"{{{{ ref('{name}') }}}}"
        else:
            new = f"{{{{ source('{schema}', '{name}') }}}}"
            schema_of.setdefault(qualified, schema)
        out += [sql[last : found.start()], new]
        last = found.end()
    out.append(sql[last:])
    return "".join(out)


def unquote(text: str) -> str:
    return text.replace("''", "'")


def port(sql_dir: Path, warehouse: Path, out: Path, storage_version: str, memory_limit: str, temp_dir: str,
         threads: int) -> None:  # fmt: skip
    if out.exists():
        shutil.rmtree(out)
    (out / "macros").mkdir(parents=True)
    (out / "tests").mkdir()
    files = sql_files(sql_dir)
    models = {f"{p.parent.name}.{p.stem}" for p in files}
    sources: dict[str, str] = {}
    docs: dict[str, dict[str, dict]] = {}  # layer -> model -> {description, columns}
    for path in files:
        layer, name = path.parent.name, path.stem
        text = path.read_text()
        statements = duckdb.extract_statements(text)
        create = statements[0].query
        found = _CREATE_VIEW.search(create)
        assert found and found.group(1) == f"{layer}.{name}", path
        lines = text.splitlines()
        header = lines[: next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))]
        head = "\n".join(line for line in header if not SETTINGS_LINE.match(line))
        query = create[found.end() :].strip().rstrip(";").rstrip()
        model_doc = {"name": name, "columns": []}
        for statement in statements[1:]:
            comment = COMMENT.match(statement.query.strip())
            assert comment, (path, statement.query[:80])
            kind, target, description = comment.group(1).lower(), comment.group(2), unquote(comment.group(3))
            if kind == "column":
                model_doc["columns"].append({"name": target.rsplit(".", 1)[1], "description": description})
            else:
                model_doc["description"] = description
        docs.setdefault(layer, {})[name] = model_doc
        cte, order = stored_cte(path), stored_order(path)
        folder = out / "models" / layer
        folder.mkdir(parents=True, exist_ok=True)
        if materialization(path) == "view":
            body = query
            config = ""
        elif cte is None:
            body = query + (f"\norder by {', '.join(order)}" if order else "")
            config = "{{ config(materialized='table') }}\n"
        else:
            span = cte_body(query, cte)
            assert span is not None and _FINAL_SELECT.search(query), path
            stored = _FINAL_SELECT.sub(f"select * from {cte}", query)
            stored += f"\norder by {', '.join(order)}" if order else ""
            store_dir = out / "models" / "store"
            store_dir.mkdir(parents=True, exist_ok=True)
            (store_dir / f"store_{name}.sql").write_text(
                f"{{{{ config(materialized='table', alias='{name}') }}}}\n-- the rows of {layer}.{name}'s CTE "
                f"`{cte}` (-- stored: {cte})\n" + replace_references(stored, models, sources) + "\n"
            )
            body = prune_ctes(
                query[: span[0]] + f"(\n    select * from {{{{ ref('store_{name}') }}}}\n)" + query[span[1] :]
            )
            config = ""
        (folder / f"{name}.sql").write_text(config + head + "\n" + replace_references(body, models, sources) + "\n")
    # sources: every table the Python load makes that a model reads, plus the rest of raw.* and audit.*
    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = con.execute(
        "select schema_name, table_name from duckdb_tables() where schema_name in ('raw', 'audit') "
        "and table_name <> 'builds' order by all"
    ).fetchall()
    columns = dict(con.execute("select column_name, data_type from duckdb_columns() "
                               "where schema_name = 'core' and table_name = 'fct_trade_figure'").fetchall())  # fmt: skip
    if not columns:  # a builder-made file: the fact is a view over store.fct_trade_figure
        columns = {r[0]: r[1] for r in con.execute("describe core.fct_trade_figure").fetchall()}
    con.close()
    by_schema: dict[str, list[str]] = {}
    for schema, table in loaded:
        by_schema.setdefault(schema, []).append(table)
    missing = set(sources) - {f"{s}.{t}" for s, t in loaded}
    assert not missing, f"models read tables the load does not make: {missing}"
    (out / "models" / "sources.yml").write_text(
        yaml.safe_dump(
            {
                "version": 2,
                "sources": [
                    {"name": s, "schema": s, "tables": [{"name": t} for t in tables]} for s, tables in by_schema.items()
                ],
            },  # fmt: skip
            sort_keys=False,
        )
    )
    for layer, entries in docs.items():
        (out / "models" / layer / "schema.yml").write_text(
            yaml.safe_dump({"version": 2, "models": list(entries.values())}, sort_keys=False, width=120)
        )
    # the build's check (warehouse.build.check_trade_figures) as dbt singular tests: a row returned fails
    from warehouse.sql_checks import ident, translate

    from schemas.trade_figure import TradeFigure

    rules, shape = translate(TradeFigure, columns)
    assert not shape, shape
    for number, rule in enumerate(rules, start=1):
        slug = re.sub(r"[^a-z0-9]+", "_", f"{rule.rule}_{'_'.join(rule.columns)}".lower()).strip("_")[:60]
        relation = "{{ ref('fct_trade_figure') }}"
        if rule.key:
            key = ", ".join(ident(c) for c in rule.key)
            sql = f"select {key}, count(*) as n from {relation} group by all having count(*) > 1"
        else:
            sql = f"select * from {relation} where {rule.fails}"
        (out / "tests" / f"trade_figure_{number:02d}_{slug}.sql").write_text(
            f"-- schemas/trade_figure.py: {rule.rule} ({', '.join(rule.columns)})\n{sql}\n"
        )
    (out / "dbt_project.yml").write_text(DBT_PROJECT)
    (out / "profiles.yml").write_text(
        PROFILES.format(storage_version=storage_version, memory_limit=memory_limit, temp_dir=temp_dir, threads=threads)
    )
    for name, text in MACROS.items():
        (out / "macros" / name).write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sql", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--storage-version", default="v1.3.0")
    parser.add_argument("--memory-limit", default="512MB")
    parser.add_argument("--temp-dir", default="/tmp/sqllayer/home/tmp")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    port(args.sql, args.warehouse, args.out, args.storage_version, args.memory_limit, args.temp_dir, args.threads)


if __name__ == "__main__":
    main()
