"""Parse, validate and write one source to the Parquet lake: plain functions the flow's tasks wrap."""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa_arrow
import pyarrow.parquet as pq

from schemas.rules import RunContext, split_frame
from warehouse.common.errors import SourceError
from warehouse.common.memory import STAGING_BUDGET_MIB, release_freed_memory
from warehouse.common.runlog import Progress
from warehouse.extract.catalogue import Source
from warehouse.extract.durable import unchanged_since_hashed
from warehouse.extract.fetch import Payload
from warehouse.lake.manifest import file_problems, manifest, sha256_file, source_dir
from warehouse.parse.base import ReadAgain
from warehouse.stage.batches import (
    BATCH_ROWS,
    _loaded_vintages,
    forget_repeats,
    model_for,
    parsed_batches,
    prefetched,
    schema_for,
    to_arrow,
    vintage_of,
    with_provenance,
)
from warehouse.stage.commit import Staged, _part_path, parquet_writer
from warehouse.stage.keys import MEMORY_ROWS, RepeatedKeys, compact_lines
from warehouse.stage.losses import Tally
from warehouse.stage.quarantine import (
    QUARANTINE_KEY,
    _key_columns,
    _without_unique,
    cross_batch_quarantine,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


def run_context(source: Source, reference_dir: Path, country_codes: frozenset[str] | None = None) -> RunContext:
    """What a source's rules know beyond its rows, as the nightly and ``tradewh check-source`` both build it.

    Args:
        source: the catalogue entry.
        reference_dir: ``seeds/reference``.
        country_codes: the known country codes, when the caller read them once for every source.
    """
    from warehouse.common.reference import known_country_codes

    codes = country_codes if country_codes is not None else known_country_codes(reference_dir)
    return RunContext(source=source, country_codes=codes, reference_dir=reference_dir)


def where(payload: Payload) -> str:
    """A payload as a person knows it: the path or URL they wrote, and the raw copy that was read."""
    if payload.origin and payload.origin != str(payload.raw_path):
        return f"{payload.origin} (raw copy {payload.raw_path})"
    return str(payload.raw_path)


def _for_people(exc: BaseException, source: Source, payload: Payload) -> SourceError:
    """A failure while reading a payload as a ``SourceError`` that names the user's path beside the raw copy, with
    hints for the usual mistakes in a file saved by hand (``warehouse.parse.hints``)."""
    from warehouse.parse.hints import hint_text

    if isinstance(exc, SourceError):
        detail, row, rule = exc.detail, exc.row, exc.rule
        named = exc.file if exc.file not in ("?", str(payload.raw_path)) else None
    else:  # a crash inside a parser or a rule: named, not a bare traceback
        detail, row, rule, named = f"{type(exc).__name__}: {exc}", None, "parse_error", None
    file = where(payload) if named is None else f"{named} (in {where(payload)})"
    hints = hint_text(payload.raw_path)
    if hints:
        detail = detail.rstrip() + ("" if detail.rstrip().endswith(".") else ".") + hints
    error = SourceError(detail, source_id=source.id, file=file, row=row, rule=rule)
    error.origin = payload.origin  # type: ignore[attr-defined]
    return error


def stage_source(
    source: Source,
    payloads: list[Payload],
    context: RunContext,
    lake_dir: Path,
    run_id: str,
    *,
    batch_rows: int = BATCH_ROWS,
    duckdb_config: dict[str, str] | None = None,
    key_memory_rows: int = MEMORY_ROWS,
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
        key_memory_rows: key hashes kept in memory before they spill to bucket files (``keys.RepeatedKeys``).

    Returns:
        The staged files and counts; the caller commits them (``commit_lake``) or discards them.

    The payloads are read from the raw zone, each checked against its SHA-256 (in a thread, while it is staged):
    a payload whose bytes are not those its name says fails the source, nothing staged. When a lake file of the
    source does not match its manifest (``warehouse.lake.manifest``), the raw payloads it was written from and that
    are not served again are staged too, into their recorded vintage, so ``commit_lake`` replaces the file whole.

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
                staged = _stage_once(
                    source, every, context, lake_dir, run_id, batch_rows, duckdb_config, fixed, key_memory_rows
                )
            except ReadAgain as again:  # a record spans lines, or a line of another width, deep in a file
                log.info("%s: %s: staged again from the start, record by record", source.id, again)
                staged = _stage_once(
                    source, every, context, lake_dir, run_id, batch_rows, duckdb_config, fixed, key_memory_rows
                )
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
    """The payloads whose raw file is missing or whose bytes do not hash to their SHA-256 (a copy this run made and
    hashed as read back, its stat unchanged since, is not read again: ``durable.unchanged_since_hashed``)."""
    problems = []
    for payload in payloads:
        if unchanged_since_hashed(payload.raw_path, payload.sha256):
            continue
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
    key_memory_rows: int = MEMORY_ROWS,
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
    # a hash of every row's key (a key seen twice shows as a repeated hash) with its file and line, spilled to disk
    # past a few million rows
    keys = RepeatedKeys(source_dir(lake_dir, source), f"{run_id}-{source.id}", memory_rows=key_memory_rows)
    # Parquet encoding and zstd run in a thread (Arrow releases the GIL) while the next batch is validated
    write_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradewh-parquet")
    writing: Future[None] | None = None
    progress = Progress(log, f"{source.id}: staging", unit="rows")
    tally = Tally(source.dataset)
    try:
        for payload in payloads:
            try:
                for parsed in prefetched(parsed_batches(source, payload, batch_rows, read_ahead=True)):
                    staged.layouts.setdefault(payload.name, parsed.layout)
                    vintage = (fixed_vintages or {}).get(payload.sha256) or vintage_of(
                        source, parsed.vintage, payload.sha256, loaded, today
                    )
                    vintages.add(vintage)
                    frame = with_provenance(parsed.frame, source, payload, vintage)
                    valid, quarantine, bad = split_frame(frame, row_schema, row_rules)
                    tally.add(payload.name, frame, valid)
                    if key:
                        keys.add(
                            pd.util.hash_pandas_object(frame[key], index=False).to_numpy(),
                            payload.sha256,
                            compact_lines(frame["file_row"].to_numpy(dtype="int64")),
                        )
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
                    # between batches, past a budget: resident memory stays bounded without faulting in every
                    # batch's pages anew (warehouse.common.memory)
                    release_freed_memory(above_mib=STAGING_BUDGET_MIB)
            except (ReadAgain, MemoryError, OSError):
                raise  # read again; out of memory or a full disk: said as such by the caller
            except Exception as exc:  # noqa: BLE001 (named after the payload, the user's path first)
                raise _for_people(exc, source, payload) from exc
        if writing is not None:
            writing.result()
        for writer in writers.values():
            writer.close()
        writers.clear()
        # the batches are gone: hand their memory back before DuckDB takes its own (peak RSS at 10M rows)
        forget_repeats()
        gc.collect()
        release_freed_memory()
        progress.done(note=f", {staged.rows_read - staged.rows_valid:,} rejected, {staged.batches} batch(es) parsed")
        tally_valid = staged.rows_valid
        candidates = keys.candidates()
        if (staged.files or rejected) and (len(row_rules) < len(rules) or len(candidates)):
            found = cross_batch_quarantine(
                staged, model, context, duckdb_config or {}, rejected, key_candidates=candidates
            )
            if len(found):
                quarantines.append(found)
        if staged.rows_valid != tally_valid:  # the cross-batch rules removed staged rows: count what is left
            tally.recount_valid(staged.files.values())
        if quarantines:
            cases = pd.concat(quarantines, ignore_index=True).drop_duplicates(QUARANTINE_KEY)
            staged.quarantine = cases.sort_values(["file_name", "file_sha256", "file_row", "rule"]).reset_index(
                drop=True
            )
        staged.vintages = sorted(vintages)
        staged.losses = tally.losses(staged.quarantine)
    except BaseException:
        write_pool.shutdown(wait=True)  # a write still running finishes before its file is closed and deleted
        for writer in writers.values():
            writer.close()
        staged.discard()
        raise
    finally:
        write_pool.shutdown(wait=True)
        keys.close()
        forget_repeats()
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
