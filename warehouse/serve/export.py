"""Export public views of the published warehouse to Parquet or CSV files, reading it read-only.

View names are checked against ``duckdb_views()`` before any SQL is written, and go into the statement only
as quoted identifiers; the output path is a bound parameter of ``COPY ... TO ?``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.common.readonly import connect_read_only
from warehouse.serve.dictionary import ViewRef, public_views

# format -> (file extension, COPY options)
FORMATS: dict[str, tuple[str, str]] = {
    "parquet": ("parquet", "(format parquet, compression zstd)"),
    "csv": ("csv", "(format csv, header true)"),
}
DEFAULT_SCHEMA = "marts"


class ExportError(Exception):
    """An export could not be done; the message says how to fix it."""


@dataclass(frozen=True)
class ExportedView:
    """One view written to one file."""

    view: ViewRef
    path: Path
    rows: int


def resolve_views(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[ViewRef]:
    """The public views named (``marts.trade_balance``, or ``trade_balance`` when only one schema has it).

    Args:
        con: an open warehouse.
        names: the views asked for; none means every ``marts`` view.

    Returns:
        The views, in the order asked, each once.

    Raises:
        ExportError: a name is not a public view (the message lists the public views).
    """
    public = public_views(con)
    if not names:
        return [v for v in public if v.schema == DEFAULT_SCHEMA]
    by_qualified = {v.qualified: v for v in public}
    by_name: dict[str, list[ViewRef]] = {}
    for v in public:
        by_name.setdefault(v.name, []).append(v)
    chosen: list[ViewRef] = []
    unknown: list[str] = []
    for name in names:
        matches = [by_qualified[name]] if name in by_qualified else by_name.get(name, [])
        if len(matches) != 1:
            unknown.append(name)
        elif matches[0] not in chosen:
            chosen.append(matches[0])
    if unknown:
        listed = ", ".join(v.qualified for v in public)
        raise ExportError(
            f"not a public view: {', '.join(unknown)}. The public views are: {listed} "
            f"(e.g. `tradewh export marts.trade_balance --out exports`; no view name exports every marts view)"
        )
    return chosen


def export_views(warehouse: Path, names: Sequence[str], *, fmt: str, out_dir: Path) -> list[ExportedView]:
    """Write each named public view to ``out_dir/<schema>.<view>.<ext>``.

    Each file is written under a temporary name and renamed once complete, so a failed export leaves no
    half-written file under the final name.

    Args:
        warehouse: the published DuckDB file (opened read-only).
        names: the views (see ``resolve_views``); none means every ``marts`` view.
        fmt: ``parquet`` or ``csv`` (with a header row).
        out_dir: the folder to write into (created if missing).

    Returns:
        What was written, with the row count DuckDB reports for each file.

    Raises:
        ExportError: no warehouse, an unknown format or view, or an unusable output folder.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not warehouse.is_file():
        raise ExportError(f"no warehouse at {warehouse} yet: run `tradewh load` first")
    extension, options = FORMATS[fmt]
    # the connection reads the warehouse and writes into out_dir, nowhere else (it need not exist yet)
    with connect_read_only(warehouse, allowed_directories=[out_dir]) as con:
        views = resolve_views(con, names)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ExportError(f"cannot write into {out_dir}: it is not a folder; pass another --out") from exc
        exported = []
        for view in views:
            target = out_dir / f"{view.qualified}.{extension}"
            partial = target.with_name(f".{target.name}.partial")
            try:
                result = con.execute(f"copy (select * from {view.sql}) to ? {options}", [str(partial)]).fetchall()
                os.replace(partial, target)
            except (duckdb.Error, OSError) as exc:
                partial.unlink(missing_ok=True)
                raise ExportError(f"could not export {view.qualified} to {target}: {exc}") from exc
            exported.append(ExportedView(view=view, path=target, rows=int(result[0][0])))
    return exported
