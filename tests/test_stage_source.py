"""Staging a source batch by batch (``ingest.stage_source``) gives what validating it whole in memory gives.

The in-memory path (``parse_payloads`` -> ``validate_source``) is the definition: for every batch size, the
staged rows must be its valid rows and the quarantine its quarantine, row for row, including the rules that
compare rows with each other (a duplicated key, two codes of one economy) when the rows fall in different
batches. Then the staged rows are committed to the lake, or discarded, leaving the lake as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from schemas.rules import RunContext
from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.extract.fetch import Payload
from warehouse.lake.manifest import MANIFEST, lake_files
from warehouse.stage import commit_lake, parse_payloads, stage_source, validate_source

REFERENCE = PROJECT_ROOT / "seeds" / "reference"
COMTRADE = FIXTURES / "comtrade"
QUARANTINE = ["file_name", "file_row", "column_name", "rule", "value"]
ROW = ["file_name", "file_row", "reporter_code", "partner_code", "flow_code", "commodity_code", "period", "value"]


def source(vintage: str = "2024-06-30") -> Source:
    return Source(
        id="comtrade_stage",
        dataset="comtrade",
        publisher="United Nations Statistics Division (UN Comtrade)",
        title="staging test",
        licence="UN Comtrade terms of use",
        attribution="United Nations Statistics Division, UN Comtrade database",
        location_kind="seed",
        location="x",
        vintage=vintage,
        homepage="https://comtradeplus.un.org/",
        measures=(MeasureSpec(measure="customs_value", unit="USD", currency="USD", scales=(1.0,)),),
    )


def payload(path: Path) -> Payload:
    data = path.read_bytes()
    return Payload("comtrade_stage", path.name, str(path), path, hashlib.sha256(data).hexdigest(), len(data))


def context(src: Source) -> RunContext:
    return RunContext(source=src, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)


def colliding_file(tmp_path: Path) -> Path:
    """bad_rows.csv, plus far below: a twin of its first row under the other code of the USA (840 for 842),
    a second copy of a duplicated row, and a copy of a row the first batch rejects for another rule."""
    lines = (COMTRADE / "bad_rows.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    twin = rows[0].replace(",842,", ",840,", 1)
    out = tmp_path / "colliding.csv"
    out.write_text("\n".join([header, *rows, *rows[:2], twin, rows[8], rows[3]]) + "\n")
    return out


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    return sorted(frame[ROW].astype(str).itertuples(index=False, name=None))


def staged_rows(staged) -> pd.DataFrame:  # noqa: ANN001 (ingest.Staged)
    frames = [pq.read_table(p).to_pandas() for p in staged.files.values()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ROW)


def quarantine_of(frame: pd.DataFrame) -> list[tuple]:
    return sorted(frame[QUARANTINE].astype(str).itertuples(index=False, name=None))


CASES = ["bad_rows.csv", "plus_api.csv", "legacy_api.csv", "legacy_bulk.csv", "mirror.csv", "plus_api.json"]


@pytest.mark.parametrize("name", [*CASES, "colliding"])
@pytest.mark.parametrize("batch_rows", [1, 2, 7, 500_000])
def test_staging_in_batches_equals_validating_in_memory(tmp_path: Path, name: str, batch_rows: int) -> None:
    path = colliding_file(tmp_path) if name == "colliding" else COMTRADE / name
    src, payloads = source(), [payload(path)]
    valid, quarantine = validate_source(src, parse_payloads(src, payloads), context(src))
    staged = stage_source(src, payloads, context(src), tmp_path / "lake", "r1", batch_rows=batch_rows)
    assert rows_of(staged_rows(staged)) == rows_of(valid)
    assert quarantine_of(staged.quarantine) == quarantine_of(quarantine)
    assert (staged.rows_read, staged.rows_valid) == (len(valid) + quarantine_rows(quarantine), len(valid))
    spilled = list((tmp_path / "lake").rglob(".part-rejected-*"))
    assert spilled == []  # the rejected rows each batch spilled to Parquet are gone once staging is done
    staged.discard()


def quarantine_rows(quarantine: pd.DataFrame) -> int:
    return len(quarantine[["file_name", "file_row"]].drop_duplicates())


@pytest.mark.parametrize("key_memory_rows", [None, 0, 5], ids=["keys in memory", "keys on disk", "spilled midway"])
def test_rules_across_batches_are_caught(tmp_path: Path, key_memory_rows: int | None) -> None:
    """With one row per batch, only the cross-batch pass can see the duplicates and the 840/842 twin; the same
    with the key hashes in bucket files from the first row or from the sixth (a source of millions of rows)."""
    src = source()
    path = colliding_file(tmp_path)
    spill = {} if key_memory_rows is None else {"key_memory_rows": key_memory_rows}
    staged = stage_source(src, [payload(path)], context(src), tmp_path / "lake", "r1", batch_rows=1, **spill)
    assert not list((tmp_path / "lake").rglob(".part-keys-*"))  # the bucket files are gone once staging is done
    by_rule = staged.quarantine.groupby("rule")["file_row"].apply(sorted).to_dict()
    assert by_rule["one_code_per_economy"] == [2, 19, 21]  # the first row, its copy, its twin under 840
    assert 19 in by_rule["duplicate_key"] and 2 in by_rule["duplicate_key"]  # the row and its copy, 17 lines on
    assert staged.batches == 22
    staged.discard()


def test_commit_moves_staged_rows_into_the_lake_and_discard_leaves_it_as_it_was(tmp_path: Path) -> None:
    src, lake = source(), tmp_path / "lake"
    payloads = [payload(COMTRADE / "plus_api.csv")]
    staged = stage_source(src, payloads, context(src), lake, "r1", batch_rows=2)
    parts = list(staged.files.values())
    assert parts and all(p.name.startswith(".part-") for p in parts)
    assert commit_lake(src, staged, payloads, lake, "r1") == ["2024-06-30"]
    assert not any(p.exists() for p in parts)
    files = lake_files(lake, "comtrade")
    assert [f.name for f in files] == ["data-r1.parquet"]
    before = (lake / "comtrade" / src.id / MANIFEST).read_text()
    assert json.loads(before)["rows"] == pq.ParquetFile(files[0]).metadata.num_rows == staged_rows_count(files)

    again = stage_source(src, [payload(COMTRADE / "bad_rows.csv")], context(src), lake, "r2", batch_rows=2)
    again.discard()
    assert (lake / "comtrade" / src.id / MANIFEST).read_text() == before
    assert not list((lake / "comtrade" / src.id).glob(".part-*"))


def staged_rows_count(files: list[Path]) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def test_a_file_that_fails_midway_leaves_nothing_staged(tmp_path: Path) -> None:
    """A year that is not an integer in the third batch: the source fails and the batches already staged go."""
    lines = (COMTRADE / "plus_api.csv").read_text().splitlines()
    bad = lines[-1].replace(",2022,", ",20x2,", 1)
    path = tmp_path / "late_error.csv"
    path.write_text("\n".join([*lines, bad]) + "\n")
    src, lake = source(), tmp_path / "lake"
    with pytest.raises(Exception, match="year_not_integer"):
        stage_source(src, [payload(path)], context(src), lake, "r1", batch_rows=2)
    assert not list(lake.rglob("*.parquet"))


@pytest.mark.parametrize("memory_rows", [100, 0, 3], ids=["in memory", "spilled at once", "spilled midway"])
def test_repeated_keys_name_every_row_of_a_repeated_hash(tmp_path, memory_rows) -> None:
    import numpy as np

    from warehouse.stage.keys import RepeatedKeys, compact_lines

    keys = RepeatedKeys(tmp_path, "r1-src", memory_rows=memory_rows, buckets=4)
    keys.add(np.array([5, 7, 9], dtype="uint64"), "a", compact_lines(np.array([2, 3, 4])))
    keys.add(np.array([7, 1], dtype="uint64"), "a", compact_lines(np.array([10, 12])))
    keys.add(np.array([9, 2**63 + 9], dtype="uint64"), "b", compact_lines(np.array([2, 3])))
    assert bool(keys.spilled) == (memory_rows < 7)
    found = keys.candidates()
    assert sorted(map(tuple, found.to_numpy().tolist())) == [("a", 3), ("a", 4), ("a", 10), ("b", 2)]
    assert not list(tmp_path.iterdir())  # the bucket files are gone
    single = RepeatedKeys(tmp_path, "r2-src", memory_rows=memory_rows)
    single.add(np.array([1, 2], dtype="uint64"), "a", range(2, 4))
    assert len(single.candidates()) == 0


@pytest.mark.parametrize("buckets", [1, 16, 512])
def test_repeated_keys_spilled_to_buckets_find_what_memory_finds(tmp_path, buckets) -> None:
    """Many batches of hashes from a few thousand values, some repeated within a batch, some across: the bucket
    files find the same rows as the in-memory pass and as a plain count (one bucket; bucket numbers of 8 and of 16
    bits)."""
    import numpy as np

    from warehouse.stage.keys import RepeatedKeys

    rng = np.random.default_rng(7)
    batches = [rng.integers(0, 2**64, size=5_000, dtype="uint64") for _ in range(6)]
    batches[2][:40] = batches[0][100:140]  # repeated across batches
    batches[4][10:20] = batches[4][500:510]  # within a batch
    spilled = RepeatedKeys(tmp_path, "r1-src", memory_rows=12_000, buckets=buckets)
    memory = RepeatedKeys(tmp_path, "r2-src", memory_rows=10**9)
    line = 2
    for batch in batches:
        lines = range(line, line + len(batch))
        spilled.add(batch, "a", lines)
        memory.add(batch, "a", lines)
        line += len(batch) + 1
    assert len(spilled.spilled) == buckets and not memory.spilled
    every = np.concatenate(batches)
    values, counts = np.unique(every, return_counts=True)
    expected = int(np.isin(every, values[counts > 1]).sum())
    from_disk, from_memory = spilled.candidates(), memory.candidates()
    assert len(from_disk) == expected == 100  # 40 + 40 across, 10 + 10 within
    assert (
        from_disk.sort_values("file_row")
        .reset_index(drop=True)
        .equals(from_memory.sort_values("file_row").reset_index(drop=True))
    )
    assert not list(tmp_path.iterdir())


def test_a_record_over_two_lines_late_in_the_file_is_staged_as_in_memory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The parser reads ahead of its line checks (64-byte chunks here) and hands out batches, then meets a
    record over two lines: the source is staged again from the start by the record reader (the log says so),
    nothing is left over from the first pass, and the result is what validating in memory gives."""
    from tests.test_comtrade_columnar import spanning_late
    from warehouse.parse import csvtext

    monkeypatch.setattr(csvtext, "SCAN_CHUNK", 64)
    path = spanning_late(tmp_path)
    src, payloads, lake = source(), [payload(path)], tmp_path / "lake"
    with caplog.at_level("INFO", logger="warehouse.stage.staging"):
        staged = stage_source(src, payloads, context(src), lake, "r1", batch_rows=5)  # nothing known of the file
    again = [r.getMessage() for r in caplog.records if "staged again from the start" in r.getMessage()]
    assert len(again) == 1 and re.fullmatch(
        rf"{src.id}: {path.name}: a record spans lines after line \d+: staged again from the start, record by record",
        again[0],
    )
    valid, quarantine = validate_source(src, parse_payloads(src, payloads), context(src))
    assert rows_of(staged_rows(staged)) == rows_of(valid)
    assert quarantine_of(staged.quarantine) == quarantine_of(quarantine)
    assert staged.rows_read == 40 and staged.batches == 1  # the record reader's one batch
    assert len(list((lake / "comtrade" / src.id).glob(".part-*"))) == len(staged.files) == 1
    staged.discard()


def test_a_line_wider_than_the_header_late_in_the_file_is_staged_as_in_memory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Arrow's CSV reader refuses a line wider than the header after some batches were handed out (past its first
    1 MiB block): the source is staged again by the record reader (the log says why), and the result is what
    validating in memory gives."""
    from tests.test_comtrade_columnar import wider_late

    path = wider_late(tmp_path, rows=8000, at=7000)
    src, payloads, lake = source(), [payload(path)], tmp_path / "lake"
    with caplog.at_level("INFO", logger="warehouse.stage.staging"):
        staged = stage_source(src, payloads, context(src), lake, "r1", batch_rows=1000)
    again = [r.getMessage() for r in caplog.records if "staged again from the start" in r.getMessage()]
    assert len(again) == 1 and f"{src.id}: {path.name}: the CSV reader refused a line after line " in again[0]
    valid, quarantine = validate_source(src, parse_payloads(src, payloads), context(src))
    assert rows_of(staged_rows(staged)) == rows_of(valid) and staged.rows_read == 8000
    assert quarantine_of(staged.quarantine) == quarantine_of(quarantine)
    staged.discard()


def test_lake_files_keep_a_dictionary_only_where_values_repeat(tmp_path: Path) -> None:
    """Codes and provenance repeat (dictionary-encoded); values and line numbers hardly do (plain)."""
    from benchmarks.generate import generate

    path = tmp_path / "gen.csv"
    generate(3000, path)
    src, payloads = source(), [payload(path)]
    staged = stage_source(src, payloads, context(src), tmp_path / "lake", "r1", batch_rows=1000)
    (part,) = staged.files.values()
    meta = pq.ParquetFile(part).metadata
    encodings = {
        meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).has_dictionary_page
        for i in range(meta.num_columns)
    }
    assert encodings["source_id"] and encodings["reporter_code"] and encodings["flow_code"]
    assert not encodings["value"] and not encodings["value_text"] and not encodings["file_row"]
    assert pq.read_table(part).num_rows == staged.rows_valid == 3000
    staged.discard()


def test_dictionary_columns_take_any_column_type() -> None:
    """A column of nulls only (Arrow type null, as an empty column of a layout reads), lists, a repeated code."""
    import pyarrow as pa

    from warehouse.stage import dictionary_columns

    table = pa.table(
        {
            "empty": pa.nulls(6),
            "code": ["a", "a", "b", "a", "b", "a"],
            "row": list(range(6)),
            "value": [1.5] * 6,
            "parts": [[1], [1], [1], [2], [2], [2]],
        }
    )
    assert dictionary_columns(table) == ["code", "parts"]
    assert dictionary_columns(table.slice(0, 0)) == ["code", "row", "parts"]


@pytest.mark.parametrize("rows", [0, 3])
def test_provenance_columns_are_those_assign_makes(rows: int) -> None:
    """``with_provenance`` builds its constant columns by Arrow's repeat: the frame equals the one pandas' ``assign``
    of the same values makes (values, dtypes, index), for an empty batch too."""
    from warehouse.stage.batches import with_provenance

    frame = pd.DataFrame({"value": range(rows)}, index=pd.RangeIndex(7, 7 + rows))
    payload = Payload(
        source_id="comtrade_stage", name="f.csv", origin="f.csv", raw_path=Path("f.csv"), sha256="ab" * 32, size=1
    )
    tagged = with_provenance(frame, source(), payload, "2024-01-01")
    expected = frame.assign(source_id="comtrade_stage", vintage="2024-01-01", file_name="f.csv", file_sha256="ab" * 32)
    pd.testing.assert_frame_equal(tagged, expected)
