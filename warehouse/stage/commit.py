"""The staged rows of a source (``Staged``) and their commit to the lake: Parquet files renamed into their
vintage folders, the source's manifest replaced atomically with each file's SHA-256 (``commit_lake``)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa_arrow
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.rules import QUARANTINE_COLUMNS
from warehouse.common.failpoints import failpoint
from warehouse.extract import durable
from warehouse.extract.catalogue import Source
from warehouse.extract.fetch import Payload
from warehouse.lake.audit import Loss
from warehouse.lake.manifest import MANIFEST, file_problems, manifest, sha256_file, source_dir
from warehouse.stage.batches import _sql_text, model_for, to_arrow

# a column whose first rows are more than this share distinct values is written without a Parquet dictionary
log = logging.getLogger(__name__)

DICTIONARY_MAX_SHARE = 0.5


def dictionary_columns(table: pa_arrow.Table) -> list[str]:
    """The columns worth a Parquet dictionary, judged from the first rows written: not floats, and not a column
    whose values are mostly distinct (a published value's text, a line number). Arrow tries a dictionary on every
    column and gives it up page by page where it does not pay: measured on the benchmark's 10M-row lake, writing
    took 4.8 s instead of 7.1 s, into 178 MB instead of 256 MB."""
    chosen = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa_arrow.types.is_floating(column.type) or pa_arrow.types.is_null(column.type):
            continue  # a column of nulls only (a layout's empty column) has nothing to look up
        try:
            distinct = pc.count_distinct(column).as_py() if len(column) else 0
        except pa_arrow.ArrowNotImplementedError:  # a type Arrow cannot count: its own default (a dictionary)
            distinct = 0
        if distinct <= DICTIONARY_MAX_SHARE * len(column):
            chosen.append(name)
    return chosen


def parquet_writer(path: Path, table: pa_arrow.Table) -> pq.ParquetWriter:
    """A lake file's writer: zstd, a dictionary for the columns ``dictionary_columns`` chooses from ``table``."""
    return pq.ParquetWriter(path, table.schema, compression="zstd", use_dictionary=dictionary_columns(table) or False)


@dataclass
class Staged:
    """A source's valid rows written as Parquet beside the lake, not yet committed (``commit_lake`` does that).

    Attributes:
        source: the catalogue entry.
        files: vintage -> the staged Parquet file of its valid rows (``.part-*``, which debris clearing removes
            when a run dies before committing).
        rows_read: rows the parser produced.
        rows_valid: rows that passed every rule.
        quarantine: one row per broken rule (``QUARANTINE_COLUMNS``): per payload (``file_sha256``), row and rule,
            sorted by file, payload, row and rule.
        vintages: every vintage the payloads belong to (also those whose rows were all rejected).
        batches: how many batches were validated.
        layouts: file name -> the publisher layout its parser recognised.
        losses: the reporters, partners, indicators and years of a file whose every row was rejected.
    """

    source: Source
    files: dict[str, Path] = field(default_factory=dict)
    rows_read: int = 0
    rows_valid: int = 0
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUARANTINE_COLUMNS))
    vintages: list[str] = field(default_factory=list)
    batches: int = 0
    layouts: dict[str, str] = field(default_factory=dict)
    losses: list[Loss] = field(default_factory=list)

    def discard(self) -> None:
        """Delete the staged files (a refused or failed source leaves the lake as it was)."""
        for path in self.files.values():
            path.unlink(missing_ok=True)
        self.files.clear()


def _part_path(lake_dir: Path, source: Source, vintage: str, run_id: str) -> Path:
    base = source_dir(lake_dir, source)
    base.mkdir(parents=True, exist_ok=True)
    return base / f".part-{vintage}-{run_id}.parquet"


def commit_lake(source: Source, staged: Staged, payloads: list[Payload], lake_dir: Path, run_id: str) -> list[str]:
    """Move staged files into the lake, one folder per source and vintage, then commit them in the manifest.

    Each vintage's rows go to a new file named after the run; the manifest, replaced atomically last, is the
    one place that says which file holds a vintage. A crash before it leaves the previous state in force (the
    orphan file is cleared by the next run); files it no longer names are deleted after it. A vintage already
    in the lake keeps the rows of its files that did not come again (revised into a newer vintage).

    Returns:
        The vintages written.
    """
    import duckdb

    durable.wait_durable([p.raw_path for p in payloads])  # the raw copies this commit names are on disk first
    base = source_dir(lake_dir, source)
    before = manifest(base)
    files = dict(before.get("files", {}))
    digests = dict(before.get("file_sha256") or {})
    # a file not as it was written is not merged: its rows were staged again (stage_source) or are dropped
    damaged = {
        v
        for v, name in files.items()
        if digests.get(v) and file_problems(base, {**before, "files": {v: name}}, trust_stat=True)
    }
    dropped = []
    for vintage in sorted(damaged - set(staged.files)):
        log.warning("%s: %s does not match its manifest and nothing replaces it: dropped", source.id, files[vintage])
        dropped.append(base / vintage / files.pop(vintage))
        del digests[vintage]
    written: dict[str, list[str]] = {}
    con = duckdb.connect()
    try:
        for vintage, part in sorted(staged.files.items()):
            target = base / vintage / f"data-{run_id}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            if vintage in damaged:
                log.warning("%s: %s does not match its manifest: replaced by the rows staged again", source.id,
                            base / vintage / files[vintage])  # fmt: skip
            elif vintage in files:
                old = base / vintage / files[vintage]
                merged = part.with_name(part.name + ".merged")
                old_file, new_file = f"read_parquet('{_sql_text(old)}')", f"read_parquet('{_sql_text(part)}')"
                con.execute(
                    f"copy (select * from {old_file} where file_name not in (select distinct file_name from "
                    f"{new_file}) union all by name select * from {new_file}) to '{_sql_text(merged)}' "
                    "(format parquet, compression zstd)"
                )
                os.replace(merged, part)
            failpoint("parquet")  # a Parquet file written, not yet renamed into place
            with open(part, "rb") as fh:
                os.fsync(fh.fileno())
            digests[vintage] = sha256_file(part)  # what every later reader checks it against
            os.replace(part, target)
            files[vintage] = target.name
            rows = con.execute("select distinct file_sha256 from read_parquet(?) order by 1", [str(target)])
            written[vintage] = [r[0] for r in rows.fetchall()]
    finally:
        con.close()
    for vintage, name in files.items():  # written before digests were kept: recorded as they are now
        if not digests.get(vintage):
            digests[vintage] = sha256_file(base / vintage / name)
    state = {
        "run_id": run_id,
        "sha256": sorted(p.sha256 for p in payloads),
        "files": files,  # revisions never erase a vintage
        "file_sha256": {v: digests[v] for v in sorted(files)},
        "vintage_sha256": {
            v: shas for v, shas in {**before.get("vintage_sha256", {}), **written}.items() if v in files or v in written
        },
        "rows": int(staged.rows_valid),
    }
    base.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=base, prefix=".manifest-")
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, base / MANIFEST)
    for vintage, name in files.items():
        for stale in (base / vintage).glob("data-*.parquet"):
            if stale.name != name:
                stale.unlink()
    for path in dropped:
        path.unlink(missing_ok=True)
    staged.files.clear()
    return sorted(written)


def write_lake(source: Source, valid: pd.DataFrame, payloads: list[Payload], lake_dir: Path, run_id: str) -> list[str]:
    """Write already validated rows (a frame in memory) to the lake: stage them, then ``commit_lake``."""
    model = model_for(source.dataset)
    staged = Staged(source, rows_valid=len(valid))
    try:
        for vintage in sorted(valid["vintage"].unique()) if len(valid) else []:
            path = _part_path(lake_dir, source, vintage, run_id)
            table = to_arrow(valid[valid["vintage"] == vintage], model)
            with parquet_writer(path, table) as writer:
                writer.write_table(table)
            staged.files[vintage] = path
        return commit_lake(source, staged, payloads, lake_dir, run_id)
    except BaseException:
        staged.discard()
        raise
