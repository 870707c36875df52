"""The rules that compare rows across batches (the unique key, a dataset's ``cross_batch_rules``), run once
over all of a source's staged and rejected rows in DuckDB; their rejections join the quarantine."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pandera.pandas as pa
import pyarrow.parquet as pq

from schemas.rules import QUARANTINE_COLUMNS, RunContext
from warehouse.stage import registry
from warehouse.stage.batches import _cut, _sql_text
from warehouse.stage.commit import Staged

if TYPE_CHECKING:
    import duckdb


# one quarantine row per payload (its SHA-256: several payloads may share a file name), line and rule
QUARANTINE_KEY = ["file_sha256", "file_name", "file_row", "rule"]


def _without_unique(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The schema without its table-wide uniqueness (checked over all rows at once instead)."""
    copy = schema.update_columns({})
    copy.unique = None
    return copy


def _key_columns(model: type[pa.DataFrameModel]) -> list[str]:
    unique = model.to_schema().unique
    return [unique] if isinstance(unique, str) else list(unique or [])


def _same(columns: list[str], left: str, right: str) -> str:
    return " and ".join(f'{left}."{c}" is not distinct from {right}."{c}"' for c in columns) or "true"


def cross_batch_quarantine(
    staged: Staged,
    model: type[pa.DataFrameModel],
    context: RunContext,
    duckdb_config: dict[str, str],
    rejected: list[Path] | None = None,
    *,
    key_candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Run the row-comparing rules over every row of every batch; quarantine what they find among the staged
    rows and restage without them.

    The rules: ``duplicate_key`` (the model's unique key, as pandera's uniqueness check reports it: every row of
    a repeated key, blaming the key's columns) and the dataset's ``cross_batch_rules(context)``, each a query
    over ``staged`` (the staged rows and the rows the batches rejected, ``rejected``: their Parquet files, as one
    frame validated in memory would hold them) selecting the rows that break it. ``key_candidates``
    (``file_sha256``, ``file_row``) are the only rows whose key can be repeated (``keys.RepeatedKeys``): the key's
    query groups those alone, so its memory follows the repeats, not the input (grouping ten million rows by an
    eleven-column key ran out of DuckDB's 512MB); None groups every row; empty skips the query.

    Returns:
        The quarantine rows found (``QUARANTINE_COLUMNS``).
    """
    import duckdb

    key = _key_columns(model)
    cross_batch_rules = registry.dataset(staged.source.dataset).cross_batch_rules
    rules: list[tuple[str, str, str]] = list(cross_batch_rules(context)) if cross_batch_rules else []
    identity = ["file_sha256", "file_row", *key]
    found = []
    con = duckdb.connect(config=dict(duckdb_config))
    try:
        parts = []
        if staged.files:
            parts.append(f"select * from {_parquet_scan(staged.files.values())}")
        if rejected:
            con.execute(f"create temp view rejected_rows as select * from {_parquet_scan(rejected)}")
            parts.append("select * from rejected_rows")
        con.execute(f"create temp view staged as {' union all by name '.join(parts)}")
        columns = ", ".join(f'"{c}"' for c in key)
        if key and (key_candidates is None or len(key_candidates)):
            among = "staged"
            if key_candidates is not None:
                con.register("key_candidates", key_candidates)
                con.execute(
                    "create temp table candidate_rows as select s.* from staged s semi join key_candidates c "
                    "on s.file_sha256 = c.file_sha256 and s.file_row = c.file_row"
                )
                among = "candidate_rows"
            rules.insert(
                0,
                (
                    "duplicate_key",
                    ", ".join(key),
                    f"select s.* from {among} s semi join (select {columns} from {among} group by all "
                    f"having count(*) > 1) d on {_same(key, 's', 'd')}",
                ),
            )
        for name, blamed, query in rules:
            # as pandera reports a failure: the columns of the rule with their values, leaving out null ones
            blamed_columns = [c.strip() for c in blamed.split(",")]
            names = ", ".join(f"""case when b."{c}" is not null then '{c}' end""" for c in blamed_columns)
            values = ", ".join(f'cast(b."{c}" as varchar)' for c in blamed_columns)
            ids = ", ".join(f'b."{c}"' for c in identity)
            rows = con.execute(
                f"select b.source_id, b.file_name, b.file_sha256, b.file_row, concat_ws(', ', {names}) as column_name,"
                f" ? as rule, concat_ws(', ', {values}) as value, {ids} from ({query}) b",
                [name],
            ).df()
            found.append(rows)
        bad = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=[*QUARANTINE_COLUMNS, *identity])
        if len(bad) and _any_staged(con, bad, bool(rejected)):
            con.register("bad", bad[identity])
            for path in staged.files.values():
                kept = path.with_name(path.name + ".kept")
                con.execute(
                    f"copy (select s.* from read_parquet('{_sql_text(path)}') s anti join bad b "
                    f"on {_same(identity, 's', 'b')}) to '{_sql_text(kept)}' (format parquet, compression zstd)"
                )
                os.replace(kept, path)
            staged.rows_valid = sum(pq.ParquetFile(p).metadata.num_rows for p in staged.files.values())
    finally:
        con.close()
    return bad[QUARANTINE_COLUMNS].assign(value=bad["value"].map(_cut)) if len(bad) else bad


def _any_staged(con: duckdb.DuckDBPyConnection, bad: pd.DataFrame, rejected: bool) -> bool:
    """Whether a row the cross-batch rules found is among the staged rows, not only among those a batch had
    rejected already (view ``rejected_rows`` where ``rejected``; then the staged files stay as they are: no rewrite
    of ten million rows for nothing)."""
    found = bad[["file_sha256", "file_row"]].drop_duplicates()
    if not rejected or not len(found):
        return bool(len(found))
    con.register("found_rows", found)
    try:
        query = (
            "select exists (select 1 from found_rows f anti join rejected_rows r "
            "on r.file_sha256 = f.file_sha256 and r.file_row = f.file_row)"
        )
        return bool(con.execute(query).fetchall()[0][0])
    finally:
        con.unregister("found_rows")


def _parquet_scan(paths: Iterable[Path]) -> str:
    """DuckDB's scan of Parquet files as one relation, their columns matched by name."""
    files = ", ".join(f"'{_sql_text(p)}'" for p in paths)
    return f"read_parquet([{files}], union_by_name = true)"
