"""Parse, validate and write one source to the Parquet lake: plain functions the flow's tasks wrap."""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import json
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.rules import QUARANTINE_COLUMNS, FrameRule, RunContext, split_frame, validate_frame
from warehouse.catalogue import Source
from warehouse.errors import SourceError
from warehouse.failpoints import failpoint
from warehouse.fetch import Payload
from warehouse.lake import MANIFEST, file_problems, manifest, sha256_file, source_dir
from warehouse.parsers.base import ParsedFile, ReadAgain
from warehouse.runlog import Progress

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

PROVENANCE_COLUMNS = ["source_id", "vintage", "file_name", "file_sha256"]
# one quarantine row per payload (its SHA-256: several payloads may share a file name), line and rule
QUARANTINE_KEY = ["file_sha256", "file_name", "file_row", "rule"]
BATCH_ROWS = 200_000  # rows per batch for parsers that stream (TRADEWH_BATCH_ROWS)
# a column whose first rows are more than this share distinct values is written without a Parquet dictionary
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


def parser_for(dataset: str) -> Callable[..., ParsedFile]:
    """The parser of a dataset: ``warehouse.parsers.<dataset>.parse_<dataset>``."""
    module = importlib.import_module(f"warehouse.parsers.{dataset}")
    return getattr(module, f"parse_{dataset}")


def schema_for(dataset: str, context: RunContext) -> tuple[pa.DataFrameSchema, list[FrameRule]]:
    """The rules of a dataset for this run: ``schemas.<dataset>.schema(context)``."""
    return importlib.import_module(f"schemas.{dataset}").schema(context)


def model_for(dataset: str) -> type[pa.DataFrameModel]:
    """The dataset's pandera model (the first DataFrameModel its schema module defines)."""
    module = importlib.import_module(f"schemas.{dataset}")
    models = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, pa.DataFrameModel) and v.__module__ == module.__name__
    ]
    return models[0]


def _loaded_vintages(source: Source, lake_dir: Path) -> dict[str, list[str]]:
    return manifest(source_dir(lake_dir, source)).get("vintage_sha256", {})


def vintage_of(source: Source, stated: str | None, sha256: str, loaded: dict[str, list[str]], today: str) -> str:
    """The release a payload belongs to.

    The date the payload states wins; else the catalogue's vintage, unless that vintage was already loaded
    from other content: then the publisher has revised the file without saying when, and the revision is
    dated by the day it was first seen (both vintages are kept).
    """
    if stated:
        return stated
    seen = loaded.get(source.vintage)
    if seen and sha256 not in seen and today > source.vintage:
        return today
    return source.vintage


def parsed_batches(
    source: Source, payload: Payload, batch_rows: int = BATCH_ROWS, *, read_ahead: bool = False
) -> Iterator[ParsedFile]:
    """The payload's rows in batches: ``batches_<dataset>(path, source_id=, batch_rows=, read_ahead=)`` when the
    dataset's parser streams, else one batch from ``parse_<dataset>``. With ``read_ahead``, a streaming parser may
    parse while it checks the file and raise ``ReadAgain`` after some batches (see ``stage_source``)."""
    module = importlib.import_module(f"warehouse.parsers.{source.dataset}")
    batches = getattr(module, f"batches_{source.dataset}", None)
    if batches is not None:
        yield from batches(payload.raw_path, source_id=source.id, batch_rows=batch_rows, read_ahead=read_ahead)
    else:
        yield parser_for(source.dataset)(payload.raw_path, source_id=source.id)


def prefetched(items: Iterator[ParsedFile], depth: int = 1) -> Iterator[ParsedFile]:
    """The items of ``items``, produced ``depth`` ahead in a thread while the caller works on the current one.

    A parser spends most of its time in Arrow's readers and kernels, which release the GIL, so parsing the next
    batch overlaps validating and writing this one (measured: about a fifth less wall time for parse + Parquet
    at 1M rows, two cores); memory grows by ``depth`` batches. An exception of the parser is raised here, as it
    would be unthreaded; when the caller stops early, the thread stops at its next item.
    """
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, done))
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer, which raises it)
            put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if stop.is_set() and close is not None:
                close()

    worker = threading.Thread(target=produce, name="tradewh-parse", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = results.get()
            if not ok:
                raise item  # type: ignore[misc]
            if item is done:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def with_provenance(frame: pd.DataFrame, source: Source, payload: Payload, vintage: str) -> pd.DataFrame:
    """The parsed rows tagged with the source, vintage and file they came from."""
    return frame.assign(source_id=source.id, vintage=vintage, file_name=payload.name, file_sha256=payload.sha256)


def parse_payloads(source: Source, payloads: list[Payload], lake_dir: Path | None = None) -> pd.DataFrame:
    """Parse every payload of a source, in memory, and tag each row with its provenance.

    Args:
        source: the catalogue entry.
        payloads: its fetched files.
        lake_dir: the lake, to tell a revised payload from the one already loaded (see ``vintage_of``).

    Returns:
        The dataset's columns plus ``source_id``, ``vintage``, ``file_name`` and ``file_sha256``.
    """
    loaded = _loaded_vintages(source, lake_dir) if lake_dir is not None else {}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    frames = []
    for payload in payloads:
        for parsed in parsed_batches(source, payload):
            vintage = vintage_of(source, parsed.vintage, payload.sha256, loaded, today)
            frames.append(with_provenance(parsed.frame, source, payload, vintage))
    return pd.concat(frames, ignore_index=True)


def validate_source(source: Source, frame: pd.DataFrame, context: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the dataset's rules lazily; return (valid rows, quarantine rows)."""
    schema, rules = schema_for(source.dataset, context)
    return validate_frame(frame, schema, rules)


def to_arrow(frame: pd.DataFrame, model: type[pa.DataFrameModel]) -> pa_arrow.Table:
    """The frame as an Arrow table with the model's columns first, strings as Arrow strings."""
    columns = [c for c in model.to_schema().columns if c in frame.columns]
    ordered = frame[columns + [c for c in frame.columns if c not in columns]]
    return pa_arrow.Table.from_pandas(ordered, preserve_index=False)


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
    """

    source: Source
    files: dict[str, Path] = field(default_factory=dict)
    rows_read: int = 0
    rows_valid: int = 0
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUARANTINE_COLUMNS))
    vintages: list[str] = field(default_factory=list)
    batches: int = 0

    def discard(self) -> None:
        """Delete the staged files (a refused or failed source leaves the lake as it was)."""
        for path in self.files.values():
            path.unlink(missing_ok=True)
        self.files.clear()


def _part_path(lake_dir: Path, source: Source, vintage: str, run_id: str) -> Path:
    base = source_dir(lake_dir, source)
    base.mkdir(parents=True, exist_ok=True)
    return base / f".part-{vintage}-{run_id}.parquet"


def stage_source(
    source: Source,
    payloads: list[Payload],
    context: RunContext,
    lake_dir: Path,
    run_id: str,
    *,
    batch_rows: int = BATCH_ROWS,
    duckdb_config: dict[str, str] | None = None,
) -> Staged:
    """Parse, validate and stage a source batch by batch, so memory is bounded by the batch, not the input.

    A streaming parser reads ahead of its checks of the file's lines (a pass over a 2 GB file, 4-5 s, no longer
    before the first batch); should a late check fail (a record spanning lines deep in the file), it raises
    ``ReadAgain``: what was staged is discarded, and the source is staged once more, the parser taking its
    exact path from the start.

    Each batch is validated by the dataset's pandera schema and rules (``split_frame``), except the rules that
    compare rows with each other; its valid rows are appended to one Parquet file per vintage. Those rules (the
    model's unique key; the dataset's ``cross_batch_rules``, the SQL of its ``across_rows`` rules) then run
    once over all rows in DuckDB, so a duplicate in two batches is caught as it would be in one.

    Three things happen at once, each on its own batch: the parser reads the next batch in a thread
    (``prefetched``), this thread validates the current one, and a writer thread encodes the previous one into
    Parquet. Arrow's readers, kernels and encoders release the GIL, so on two cores they overlap; memory holds
    at most three batches.

    Args:
        source: the catalogue entry.
        payloads: its fetched files.
        context: what the rules need beyond the rows.
        lake_dir: the lake (staged files go beside the source's folder; revisions are told from its manifest).
        run_id: names the staged files.
        batch_rows: rows per batch for parsers that stream.
        duckdb_config: DuckDB settings for the cross-batch pass (memory limit, spill folder).

    Returns:
        The staged files and counts; the caller commits them (``commit_lake``) or discards them.

    The payloads are read from the raw zone, each checked against its SHA-256 (in a thread, while it is staged):
    a payload whose bytes are not those its name says fails the source, nothing staged. When a lake file of the
    source does not match its manifest (``warehouse.lake``), the raw payloads it was written from and that are not
    served again are staged too, into their recorded vintage, so ``commit_lake`` replaces the file whole.

    Raises:
        SourceError: a payload cannot be read, or its raw bytes are not those of its SHA-256 (nothing stays staged).
    """
    repairs = repair_payloads(source, payloads, lake_dir)
    every = [*payloads, *repairs]
    fixed = {p.sha256: vintage for p, vintage in repairs.items()}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradewh-verify-raw") as pool:
        checked = pool.submit(_raw_problems, every)
        try:
            try:
                staged = _stage_once(source, every, context, lake_dir, run_id, batch_rows, duckdb_config, fixed)
            except ReadAgain:
                staged = _stage_once(source, every, context, lake_dir, run_id, batch_rows, duckdb_config, fixed)
        finally:
            problems = checked.result()
    if problems:
        staged.discard()
        payload, detail = problems[0]
        raise SourceError(
            f"{detail}: the raw payload was modified after it was fetched, so nothing of this source is loaded. "
            f"Delete {payload.raw_path.parent} and run `tradewh load` again to fetch it anew",
            source_id=source.id,
            file=str(payload.raw_path),
            rule="raw_payload_sha256",
        )
    return staged


def _raw_problems(payloads: Iterable[Payload]) -> list[tuple[Payload, str]]:
    """The payloads whose raw file is missing or whose bytes do not hash to their SHA-256."""
    problems = []
    for payload in payloads:
        try:
            actual = sha256_file(payload.raw_path)
        except FileNotFoundError:
            problems.append((payload, f"{payload.raw_path} is missing"))
            continue
        if actual != payload.sha256:
            problems.append((payload, f"{payload.raw_path} hashes to {actual[:12]}..., not {payload.sha256[:12]}..."))
    return problems


def repair_payloads(source: Source, payloads: list[Payload], lake_dir: Path) -> dict[Payload, str]:
    """The raw payloads to stage again, with their vintage, because a lake file written from them is not as it was
    written: those its manifest records for that vintage (``vintage_sha256``) and that are not served again.

    Each is ``raw/<source>/<sha256>/<name>`` (the one file in its folder); one that is gone is returned with a path
    that does not exist, and fails the source when it is checked.
    """
    base = source_dir(lake_dir, source)
    state = manifest(base)
    if not state or not payloads:
        return {}
    raw_dir = payloads[0].raw_path.parent.parent
    served = {p.sha256 for p in payloads}
    served_names = {p.name for p in payloads}
    repairs: dict[Payload, str] = {}
    for vintage, name in sorted(state.get("files", {}).items()):
        if not file_problems(base, {**state, "files": {vintage: name}}, trust_stat=True):
            continue
        if not (state.get("file_sha256") or {}).get(vintage):
            continue  # written before digests were kept: merged as it is (commit_lake records its digest)
        for sha256 in state.get("vintage_sha256", {}).get(vintage, []):
            if sha256 in served:
                continue
            kept = sorted((raw_dir / sha256).glob("*")) if (raw_dir / sha256).is_dir() else []
            path = kept[0] if kept else raw_dir / sha256 / "(missing)"
            if path.name in served_names:
                continue  # a payload of that name is served again: its rows replace these
            size = path.stat().st_size if path.exists() else 0
            repairs[Payload(source.id, path.name, str(path), path, sha256, size)] = vintage
    if repairs:
        log.warning("%s: staging %d raw payload(s) again for lake files that do not match", source.id, len(repairs))
    return repairs


def _stage_once(
    source: Source,
    payloads: list[Payload],
    context: RunContext,
    lake_dir: Path,
    run_id: str,
    batch_rows: int,
    duckdb_config: dict[str, str] | None,
    fixed_vintages: dict[str, str] | None = None,
) -> Staged:
    """``stage_source``'s one pass over the payloads (a ``ReadAgain`` leaves nothing staged); ``fixed_vintages``:
    payload SHA-256 -> the vintage its rows were committed under (payloads staged again, see ``repair_payloads``)."""
    model = model_for(source.dataset)
    schema, rules = schema_for(source.dataset, context)
    # the rules that compare rows run once over all rows, after the batches (cross_batch_quarantine)
    row_schema = _without_unique(schema)
    row_rules = [rule for rule in rules if not rule.across_rows]
    loaded = _loaded_vintages(source, lake_dir)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    staged = Staged(source)
    writers: dict[str, pq.ParquetWriter] = {}
    quarantines: list[pd.DataFrame] = []
    vintages: set[str] = set()
    # the rows each batch rejected, spilled to Parquet as they come: the cross-batch rules compare them too, and
    # memory stays the same however many rows are bad
    rejected: list[Path] = []
    key = _key_columns(model)
    key_hashes: list[np.ndarray] = []  # a hash of every row's key: a key seen twice shows as a repeated hash
    key_rows: list[tuple[str, np.ndarray | range]] = []  # the file and line of each of those rows, batch by batch
    # Parquet encoding and zstd run in a thread (Arrow releases the GIL) while the next batch is validated
    write_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradewh-parquet")
    writing: Future[None] | None = None
    progress = Progress(log, f"{source.id}: staging", unit="rows")
    try:
        for payload in payloads:
            for parsed in prefetched(parsed_batches(source, payload, batch_rows, read_ahead=True)):
                vintage = (fixed_vintages or {}).get(payload.sha256) or vintage_of(
                    source, parsed.vintage, payload.sha256, loaded, today
                )
                vintages.add(vintage)
                frame = with_provenance(parsed.frame, source, payload, vintage)
                valid, quarantine, bad = split_frame(frame, row_schema, row_rules)
                if key:
                    key_hashes.append(pd.util.hash_pandas_object(frame[key], index=False).to_numpy())
                    key_rows.append((payload.sha256, _compact(frame["file_row"].to_numpy(dtype="int64"))))
                staged.batches += 1
                staged.rows_read += len(frame)
                staged.rows_valid += len(valid)
                progress.advance(len(frame), note=f", {staged.rows_read - staged.rows_valid:,} rejected")
                if len(quarantine):
                    quarantines.append(quarantine)
                    rejected.append(_spill_rejected(bad, lake_dir, source, run_id, len(rejected)))
                if len(valid):
                    table = to_arrow(valid, model)
                    if vintage not in writers:
                        staged.files[vintage] = _part_path(lake_dir, source, vintage, run_id)
                        writers[vintage] = parquet_writer(staged.files[vintage], table)
                    if writing is not None:
                        writing.result()  # one batch in flight: memory stays bounded, the file's order kept
                    writing = write_pool.submit(writers[vintage].write_table, table.cast(writers[vintage].schema))
                del frame, valid, bad, parsed
        if writing is not None:
            writing.result()
        for writer in writers.values():
            writer.close()
        writers.clear()
        # the batches are gone: hand their memory back before DuckDB takes its own (peak RSS at 10M rows)
        gc.collect()
        pa_arrow.default_memory_pool().release_unused()
        progress.done(note=f", {staged.rows_read - staged.rows_valid:,} rejected, {staged.batches} batch(es) parsed")
        candidates = _repeated_keys(key_hashes, key_rows)
        if (staged.files or rejected) and (len(row_rules) < len(rules) or len(candidates)):
            found = cross_batch_quarantine(
                staged, model, context, duckdb_config or {}, rejected, key_candidates=candidates
            )
            if len(found):
                quarantines.append(found)
        if quarantines:
            cases = pd.concat(quarantines, ignore_index=True).drop_duplicates(QUARANTINE_KEY)
            staged.quarantine = cases.sort_values(["file_name", "file_sha256", "file_row", "rule"]).reset_index(
                drop=True
            )
        staged.vintages = sorted(vintages)
    except BaseException:
        write_pool.shutdown(wait=True)  # a write still running finishes before its file is closed and deleted
        for writer in writers.values():
            writer.close()
        staged.discard()
        raise
    finally:
        write_pool.shutdown(wait=True)
        for path in rejected:
            path.unlink(missing_ok=True)
    return staged


def _spill_rejected(bad: pd.DataFrame, lake_dir: Path, source: Source, run_id: str, number: int) -> Path:
    """A batch's rejected rows as they were parsed, in a Parquet file beside the staged ones (``.part-*``: debris
    clearing removes it when a run dies; ``_stage_once`` when it ends)."""
    path = _part_path(lake_dir, source, f"rejected-{number:05d}", run_id)
    text = {c: "str" for c in bad.columns if bad[c].dtype == object}  # mixed Python objects: as text
    pq.write_table(pa_arrow.Table.from_pandas(bad.astype(text), preserve_index=False), path)
    return path


def _without_unique(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The schema without its table-wide uniqueness (checked over all rows at once instead)."""
    copy = schema.update_columns({})
    copy.unique = None
    return copy


def _compact(rows: np.ndarray) -> np.ndarray | range:
    """A batch's line numbers, as a range when they follow each other (the usual case: 16 bytes, not 8 a row)."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and bool((np.diff(rows) == 1).all()):
        return range(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _repeated_keys(hashes: list[np.ndarray], rows: list[tuple[str, np.ndarray | range]]) -> pd.DataFrame:
    """The rows whose key hash occurs more than once (``file_sha256``, ``file_row``): every row of a repeated key
    is among them (equal keys hash alike); a collision only adds a row the exact check clears.

    Args:
        hashes: each batch's key hashes, in row order (emptied here).
        rows: each batch's file and line numbers, in the same order (emptied here).
    """
    candidates = pd.DataFrame({"file_sha256": pd.Series(dtype="str"), "file_row": pd.Series(dtype="int64")})
    if not hashes:
        return candidates
    every = np.concatenate(hashes)
    every.sort()
    repeated = np.unique(every[1:][every[1:] == every[:-1]])
    del every
    parts = []
    for batch, (sha256, lines) in zip(hashes, rows, strict=True) if len(repeated) else ():
        at = np.flatnonzero(np.isin(batch, repeated))
        if len(at):
            picked = np.asarray(lines)[at] if not isinstance(lines, range) else at + lines.start
            parts.append(pd.DataFrame({"file_sha256": sha256, "file_row": picked.astype("int64")}))
    hashes.clear()
    rows.clear()
    return pd.concat([candidates, *parts], ignore_index=True).drop_duplicates() if parts else candidates


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
    (``file_sha256``, ``file_row``) are the only rows whose key can be repeated (``_repeated_keys``): the key's
    query groups those alone, so its memory follows the repeats, not the input (grouping ten million rows by an
    eleven-column key ran out of DuckDB's 512MB); None groups every row; empty skips the query.

    Returns:
        The quarantine rows found (``QUARANTINE_COLUMNS``).
    """
    import duckdb

    key = _key_columns(model)
    module = importlib.import_module(f"schemas.{staged.source.dataset}")
    rules: list[tuple[str, str, str]] = list(getattr(module, "cross_batch_rules", lambda _: [])(context))
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


def _cut(text: str) -> str:
    from schemas.rules import QUARANTINE_VALUE_MAX_CHARS

    if len(text) > QUARANTINE_VALUE_MAX_CHARS:
        return f"{text[:QUARANTINE_VALUE_MAX_CHARS]}... ({len(text)} characters)"
    return text


def _sql_text(value: object) -> str:
    return str(value).replace("'", "''")


def _parquet_scan(paths: Iterable[Path]) -> str:
    """DuckDB's scan of Parquet files as one relation, their columns matched by name."""
    files = ", ".join(f"'{_sql_text(p)}'" for p in paths)
    return f"read_parquet([{files}], union_by_name = true)"


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
