"""Port tradewh's SQL models to a SQLMesh project, mechanically (ADR 0001; same parsing as port_to_dbt.py).

    PYTHONPATH=<checkout> <checkout>/.venv/bin/python port_to_sqlmesh.py --sql <checkout>/sql \
        --warehouse <a built tradewh.duckdb> --out <sqlmesh project>

- `create or replace view <schema>.<name> as <query>;` -> models/<schema>/<name>.sql: `MODEL (name <schema>.<name>,
  kind VIEW | FULL, description, column_descriptions)` then the query as it is (SQLMesh finds the dependencies in
  the SQL itself: no ref()).
- `-- materialized: table` -> kind FULL; `-- order by:` -> `order by` at the end of the query.
- `-- stored: <cte>` -> a FULL model store.<name> of the CTE's rows, the public view reading it (CTEs pruned).
- schemas/trade_figure.py's rules -> audits/trade_figure.sql, one AUDIT per rule, attached to core.fct_trade_figure.
- raw.* and audit.* tables the Python load makes -> external_models.yaml with their columns.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import duckdb
import yaml
from port_to_dbt import COMMENT, SETTINGS_LINE, unquote

from warehouse.build import (
    _CREATE_VIEW,
    _FINAL_SELECT,
    cte_body,
    materialization,
    prune_ctes,
    sql_files,
    stored_cte,
    stored_order,
)

CONFIG = """\
gateways:
  local:
    connection:
      type: duckdb
      database: "{{{{ env_var('TRADEWH_SQLMESH_TARGET') }}}}"
      connector_config:
        storage_compatibility_version: "{storage_version}"
        memory_limit: "{memory_limit}"
        temp_directory: "{temp_dir}"
        preserve_insertion_order: false
        disabled_optimizers: common_subplan
    state_connection:
      type: duckdb
      database: "{{{{ env_var('TRADEWH_SQLMESH_STATE') }}}}"
default_gateway: local
model_defaults:
  dialect: duckdb
"""


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def model_block(name: str, kind: str, description: str | None, columns: list[tuple[str, str]],
                audits: list[str] = ()) -> str:  # fmt: skip
    parts = [f"  name {name}", f"  kind {kind}"]
    if description:
        parts.append(f"  description {quote(description)}")
    if columns:
        parts.append("  column_descriptions (\n" + ",\n".join(f"    {c} = {quote(d)}" for c, d in columns) + "\n  )")
    if audits:
        parts.append(f"  audits ({', '.join(audits)})")
    return "MODEL (\n" + ",\n".join(parts) + "\n);\n"


def port(sql_dir: Path, warehouse: Path, out: Path, storage_version: str, memory_limit: str, temp_dir: str) -> None:
    if out.exists():
        shutil.rmtree(out)
    (out / "models").mkdir(parents=True)
    (out / "audits").mkdir()
    con = duckdb.connect(str(warehouse), read_only=True)
    columns = {r[0]: r[1] for r in con.execute("describe core.fct_trade_figure").fetchall()}
    external = []
    for schema, table in con.execute(
        "select schema_name, table_name from duckdb_tables() where schema_name in ('raw', 'audit') "
        "and table_name <> 'builds' order by all"
    ).fetchall():
        cols = con.execute("select column_name, data_type from duckdb_columns() where schema_name = ? "
                           "and table_name = ? order by column_index", [schema, table]).fetchall()  # fmt: skip
        external.append({"name": f"{schema}.{table}", "columns": {c: t for c, t in cols}})
    con.close()
    (out / "external_models.yaml").write_text(yaml.safe_dump(external, sort_keys=False))
    from warehouse.sql_checks import ident, translate

    from schemas.trade_figure import TradeFigure

    rules, _ = translate(TradeFigure, columns)
    audits, names = [], []
    for number, rule in enumerate(rules, start=1):
        name = f"trade_figure_{number:02d}"
        if rule.key:
            key = ", ".join(ident(c) for c in rule.key)
            sql = f"select {key}, count(*) as n from @this_model group by all having count(*) > 1"
        else:
            sql = f"select * from @this_model where {rule.fails}"
        audits.append(
            f"-- schemas/trade_figure.py: {rule.rule} ({', '.join(rule.columns)})\nAUDIT (name {name});\n{sql};\n"
        )
        names.append(name)
    (out / "audits" / "trade_figure.sql").write_text("\n".join(audits))
    for path in sql_files(sql_dir):
        layer, name = path.parent.name, path.stem
        text = path.read_text()
        statements = duckdb.extract_statements(text)
        found = _CREATE_VIEW.search(statements[0].query)
        lines = text.splitlines()
        header = lines[: next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))]
        head = "\n".join(line for line in header if not SETTINGS_LINE.match(line))
        query = statements[0].query[found.end() :].strip().rstrip(";").rstrip()
        description, cols = None, []
        for statement in statements[1:]:
            comment = COMMENT.match(statement.query.strip())
            kind, target, text_ = comment.group(1).lower(), comment.group(2), unquote(comment.group(3))
            if kind == "column":
                cols.append((target.rsplit(".", 1)[1], text_))
            else:
                description = text_
        folder = out / "models" / layer
        folder.mkdir(parents=True, exist_ok=True)
        cte, order = stored_cte(path), stored_order(path)
        by = f"\norder by {', '.join(order)}" if order else ""
        checks = names if f"{layer}.{name}" == "core.fct_trade_figure" else []
        if materialization(path) == "view":
            block, body = model_block(f"{layer}.{name}", "VIEW", description, cols, checks), query
        elif cte is None:
            block, body = model_block(f"{layer}.{name}", "FULL", description, cols, checks), query + by
        else:
            span = cte_body(query, cte)
            stored = _FINAL_SELECT.sub(f"select * from {cte}", query) + by
            (out / "models" / "store").mkdir(exist_ok=True)
            (out / "models" / "store" / f"{name}.sql").write_text(
                model_block(f"store.{name}", "FULL", f"Stored rows of {layer}.{name} (-- stored: {cte})", [])
                + stored
                + "\n"
            )
            body = prune_ctes(query[: span[0]] + f"(\n    select * from store.{name}\n)" + query[span[1] :])
            block = model_block(f"{layer}.{name}", "VIEW", description, cols, checks)
        (folder / f"{name}.sql").write_text(block + head + "\n" + body + "\n")
    (out / "config.yaml").write_text(
        CONFIG.format(storage_version=storage_version, memory_limit=memory_limit, temp_dir=temp_dir)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sql", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--storage-version", default="v1.3.0")
    parser.add_argument("--memory-limit", default="512MB")
    parser.add_argument("--temp-dir", default="/tmp/sqllayer/home/tmp")
    args = parser.parse_args()
    port(args.sql, args.warehouse, args.out, args.storage_version, args.memory_limit, args.temp_dir)


if __name__ == "__main__":
    main()
