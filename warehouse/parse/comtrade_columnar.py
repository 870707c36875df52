"""UN Comtrade's columnar reader: a CSV layout whose records are one line each, read by Arrow's CSV reader
column by column in batches (``batches_comtrade``), checked line by line ahead of the parse (``ScanAhead``);
the record reader (``warehouse.parse.comtrade``) where a record spans lines."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from warehouse.common.errors import SourceError
from warehouse.common.settings import DEFAULT_BATCH_ROWS
from warehouse.parse.base import ParsedFile, ReadAgain
from warehouse.parse.comtrade import (
    _INTEGER,
    DEFAULT_PARTNER2,
    flow_code,
    parse_comtrade,
    to_bool,
    to_int,
    with_origin,
)
from warehouse.parse.comtrade_layouts import (
    CLASSIFICATION_VERSIONS,
    COLUMNS,
    DEFAULT_CUSTOMS,
    DEFAULT_MOT,
    Layout,
    commodity_level,
    match_header,
)
from warehouse.parse.csvtext import NUMBER, FileRef, to_number
from warehouse.parse.scanahead import ScanAhead, failed_scan, read_record_by_record

BATCH_ROWS = DEFAULT_BATCH_ROWS


def batches_comtrade(
    path: Path,
    *,
    source_id: str,
    batch_rows: int = BATCH_ROWS,
    read_ahead: bool = False,
    scan_chunk: int | None = None,
    origin: str | None = None,
) -> Iterator[ParsedFile]:
    """Parse one UN Comtrade file in batches of about ``batch_rows`` rows, with memory bounded by the batch.

    A CSV file whose records are one per line (``scan_lines``) and whose header names a known layout is read
    by Arrow's CSV reader, text only and only the columns the layout maps, and mapped column-wise; the rows,
    values, dtypes and line numbers are exactly those ``parse_comtrade`` gives (tests compare both). Anything
    else (JSON, a record spanning lines, a blank line, a header of no layout, a BOM) goes through
    ``parse_comtrade`` as one batch, which also raises the precise error for a malformed file.

    Args:
        path: the CSV or JSON file.
        source_id: the catalogue id of the source, used in error messages.
        batch_rows: rows per batch (the last one may be smaller).
        read_ahead: parse while the file is scanned (``ScanAhead``), handing out each batch once its lines are
            checked, instead of scanning the whole file first. Should a later line turn out not to be one
            record, the batches handed out are void: ``ReadAgain`` is raised, and reading the file again
            takes the record reader from the start (the scan's answer is kept).
        scan_chunk: bytes the line scan reads at a time (``csvtext.SCAN_CHUNK`` when None); a small chunk makes
            the read-ahead hand out batches before the scan ends.
        origin: the path or URL the user gave for the file (``Payload.origin``), named in error messages.

    Yields:
        ParsedFile batches in file order, each with the columns of ``COLUMNS``.

    Raises:
        SourceError: as ``parse_comtrade``.
        ReadAgain: with ``read_ahead``, as said.
    """
    try:
        yield from _batches(path, source_id, batch_rows, read_ahead, scan_chunk, origin)
    except SourceError as err:
        raise with_origin(err, origin) from err.__cause__


def _batches(
    path: Path, source_id: str, batch_rows: int, read_ahead: bool, scan_chunk: int | None, origin: str | None
) -> Iterator[ParsedFile]:
    """``batches_comtrade`` without the origin in its errors (``parse_comtrade`` adds it to its own)."""
    src = FileRef(Path(path), source_id)
    plan = _columnar_plan(src, read_ahead=read_ahead, scan_chunk=scan_chunk)
    if plan is None:
        yield parse_comtrade(path, source_id=source_id)
        return
    layout, header, wanted, scan = plan
    first_line, pending, pending_rows, yielded, refused = 2, [], 0, False, None
    commodities = FileCommodities()
    try:
        reader = pa_csv.open_csv(
            src.path,
            read_options=pa_csv.ReadOptions(block_size=1 << 20, skip_rows=1, column_names=header),
            parse_options=pa_csv.ParseOptions(newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=wanted,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= batch_rows and (plain := scan.lines_checked(first_line + batch_rows - 1)) is not None:
                table = pa.Table.from_batches(pending)
                head, rest = table.slice(0, batch_rows), table.slice(batch_rows)
                frame = _columnar_frame(layout, head, first_line, src, plain, commodities)
                yield ParsedFile(frame=frame, vintage=None, layout=layout.name)
                first_line, yielded = first_line + batch_rows, True
                pending, pending_rows = rest.to_batches(), rest.num_rows
            if pending_rows >= batch_rows:
                break  # a line of the next batch is not one record: the record reader must read the file
    except pa.ArrowInvalid as err:  # a line with too many/few fields, bytes that are not UTF-8
        refused = err
    except BaseException:  # the consumer stopped early (GeneratorExit) or an error: the scan is not needed
        scan.stop()
        raise
    found = scan.result()
    if not found.one_record_per_line:
        if yielded:
            raise ReadAgain(f"{src.path.name}: a record spans lines after line {first_line - 1}")
        yield parse_comtrade(path, source_id=source_id)
        return
    if refused is not None:
        # one record per line, and still refused (a line of another width than the header's, bytes that are not
        # UTF-8): the record reader says what the file holds, its rows or its exact error
        read_record_by_record(src.path)
        if yielded:
            raise ReadAgain(f"{src.path.name}: the CSV reader refused a line after line {first_line - 1}: {refused}")
        yield parse_comtrade(path, source_id=source_id)
        return
    if pending_rows:
        table = pa.Table.from_batches(pending)
        plain = found.plain_ascii
        frame = _columnar_frame(layout, table, first_line, src, plain, commodities)
        yield ParsedFile(frame=frame, vintage=None, layout=layout.name)
    elif not yielded:
        yield parse_comtrade(path, source_id=source_id)  # a header and no rows: the exact error


def _columnar_plan(
    src: FileRef, *, read_ahead: bool = False, scan_chunk: int | None = None
) -> tuple[Layout, list[str], list[str], ScanAhead] | None:
    """(layout, header, columns to read, the scan of its lines) when the file may be read column-wise, else None.

    Without ``read_ahead`` the scan has ended, and said every record is one line; with it, it runs on.
    """
    with open(src.path, "rb") as fh:
        first, second = fh.readline(), fh.readline()
    if first.startswith((b"\xef\xbb\xbf", b"{", b"[")) or not first.endswith(b"\n"):
        return None
    try:
        header = [cell.strip() for cell in next(csv.reader([first.decode("utf-8").rstrip("\r\n")]))]
        row = next(csv.reader([second.decode("utf-8").rstrip("\r\n")]), [])
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    layout = match_header(header)
    if layout is None or len(set(header)) != len(header):
        return None
    if len(row) == len(header) + 1 and row[-1] == "":
        return None  # data rows ending with a separator (Comtrade+ CSV files): the record reader drops it
    if failed_scan(src.path):
        return None
    # a record has a comma between any two fields: a shorter line is for the record reader to judge
    scan = ScanAhead(src.path, min_line_length=len(header) - 1, chunk_size=scan_chunk)
    if not read_ahead and not scan.result().one_record_per_line:
        return None
    return layout, header, sorted(set(layout.columns(header).values()), key=header.index), scan


def _exact(values: pa.Array, function: Callable[[str], object], type_: pa.DataType) -> pa.Array:
    """``function`` applied once per distinct value, then spread by index (codes repeat: exact and cheap); one
    hash pass (dictionary encoding) finds both the distinct values and each cell's index."""
    encoded = pc.dictionary_encode(values)
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], type=type_)
    return pc.take(mapped, encoded.indices)


def _repeated(text: str, n: int) -> pa.Array:
    """``text`` in each of ``n`` rows, made by Arrow (``pa.repeat``): the same array as ``pa.array([text] * n)``, whose
    Python list of a 200,000-row batch took 9.3 ms to build and convert, the GIL held, against 0.76 ms (medians of 30,
    interleaved). Staging's provenance columns have their own, cached and large_string (``stage.batches._repeat``)."""
    return pa.repeat(pa.scalar(text, pa.string()), n)


def _cell_offsets(values: pa.Array) -> np.ndarray:
    """A string array's cell boundaries in its data buffer (``len(values) + 1`` offsets), without a copy."""
    offsets_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    return np.frombuffer(values.buffers()[1], dtype=offsets_type)[values.offset : values.offset + len(values) + 1]


def _cell_bytes(values: pa.Array, offsets: np.ndarray | None = None) -> np.ndarray:
    """The bytes of a string array's cells (its slice of the data buffer), without a copy."""
    data = values.buffers()[2] if len(values) else None
    if data is None:
        return np.zeros(0, dtype=np.uint8)
    bounds = _cell_offsets(values) if offsets is None else offsets
    return np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[-1]]


def _plain_bytes(cells: np.ndarray) -> bool:
    """Whether these bytes are plain ASCII (``LineScan.plain_ascii``: none over 0x7f, none of 0x1c-0x1f), where
    Arrow's ASCII strip, regular expressions and casts read cells exactly as Python's string methods do."""
    if not len(cells):
        return True
    if cells.max() >= 0x80:
        return False
    return bool(cells.min() > 0x20) or not ((cells >= 0x1C) & (cells <= 0x1F)).any()


def _plain(values: pa.Array) -> bool:
    """Whether every cell is plain ASCII, read off the cells' bytes (a file whose other columns hold names like
    "Côte d'Ivoire" is not plain, yet its codes and numbers are)."""
    return _plain_bytes(_cell_bytes(values))


def _stripped(values: pa.ChunkedArray, plain: bool) -> pa.Array:
    """Cells stripped as ``str.strip`` does: as they are when every byte is printable ASCII other than a space
    (nothing to strip), vectorised for a plain ASCII file or column, by Python for anything else."""
    values = values.combine_chunks()
    cells = _cell_bytes(values)
    if not len(cells) or (cells.max() < 0x80 and cells.min() > 0x20):
        return values
    if plain or _plain_bytes(cells):
        return pc.ascii_trim_whitespace(values)
    return pa.array([None if v is None else v.strip() for v in values.to_pylist()], type=pa.string())


def _numbers(text: pa.Array, plain: bool) -> pa.Array:
    """Stripped cells as float64, null when not a plain number, exactly as ``to_number`` reads them."""
    if not plain and not _plain(text):
        return pa.array([to_number(t) for t in text.to_pylist()], type=pa.float64(), from_pandas=True)
    decimals = _decimals(text)
    if decimals is not None:
        return decimals
    number = pc.match_substring_regex(text, f"^{NUMBER}$")
    return pc.cast(pc.if_else(number, text, pa.scalar(None, pa.string())), pa.float64())


_DECIMAL_BYTES = np.zeros(256, dtype=bool)
_DECIMAL_BYTES[list(b"0123456789.+-")] = True


_DECIMAL_WIDTH = 30  # NUMBER's integer digits at most: a cell no longer cannot have more


def _decimals(text: pa.Array) -> pa.Array | None:
    """The column as float64 by Arrow's cast, when that is what ``NUMBER`` gives: every cell empty (null) or
    at most 30 bytes of digits, '.', '+' and '-' (no exponent, no 'inf' or 'nan': what NUMBER limits), and the
    cast accepts every such cell (it refuses '1-2', '.', '-', '1.2.3'; it reads '5.', '.5', '+5' as NUMBER does).
    None when not: the regular expression decides cell by cell. Three times faster than the expression."""
    if len(text) == 0 or text.null_count:
        return None
    offsets = _cell_offsets(text)
    if np.diff(offsets).max() > _DECIMAL_WIDTH or not _DECIMAL_BYTES[_cell_bytes(text, offsets)].all():
        return None
    try:
        return pc.cast(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), pa.float64())
    except pa.ArrowInvalid:
        return None


def _columnar_frame(
    layout: Layout,
    table: pa.Table,
    first_line: int,
    src: FileRef,
    plain: bool,
    commodities: Callable[[pa.Array, pa.Array, pa.Array], tuple[pa.Array, pa.Array]],
) -> pd.DataFrame:
    """One batch of publisher columns (text) mapped to ``COLUMNS``, as ``to_row`` maps each record; the commodity
    codes and levels by ``commodities`` (a file's ``FileCommodities``)."""
    columns = layout.columns(table.column_names)
    n = table.num_rows
    cache: dict[str, pa.Array] = {}
    empty = pa.scalar("", pa.string())

    def cell(name: str) -> pa.Array:
        column = columns.get(name)
        if column is None:
            return _repeated("", n)
        if column not in cache:
            cache[column] = _stripped(table.column(column), plain)
        return cache[column]

    def defaulted(name: str, default: str) -> pa.Array:
        values = cell(name)
        return pc.if_else(pc.equal(values, empty), pa.scalar(default, pa.string()), values)

    year_text = cell("year")
    year_ok = _exact(year_text, lambda t: bool(_INTEGER.fullmatch(t)), pa.bool_())
    if not pc.all(year_ok).as_py():
        bad = int(np.flatnonzero(~year_ok.to_numpy(zero_copy_only=False))[0])
        raise src.error(
            f"year {year_text[bad].as_py()!r} is not an integer", row=first_line + bad, rule="year_not_integer"
        )
    classification = cell("classification")
    published_code = cell("commodity_code")
    commodity_code, level = commodities(classification, published_code, cell("aggregate_level"))
    value_text = cell("value")
    period = cell("period")
    arrays = {
        "layout": _repeated(layout.name, n),
        "classification": classification,
        "classification_version": _exact(
            classification, lambda c: CLASSIFICATION_VERSIONS.get(c.upper(), ""), pa.string()
        ),
        "year": _exact(year_text, int, pa.int64()),
        "period": pc.if_else(pc.equal(period, empty), year_text, period),
        "reporter_code": _exact(cell("reporter_code"), to_int, pa.int64()),
        "partner_code": _exact(cell("partner_code"), to_int, pa.int64()),
        "partner2_code": _exact(defaulted("partner2_code", str(DEFAULT_PARTNER2)), to_int, pa.int64()),
        "flow_code": _exact(cell("flow_code"), flow_code, pa.int64()),
        "customs_code": defaulted("customs_code", DEFAULT_CUSTOMS),
        "mot_code": defaulted("mot_code", DEFAULT_MOT),
        "commodity_code": commodity_code,
        "commodity_code_published": published_code,
        "aggregate_level": level,
        "is_leaf": _exact(cell("is_leaf"), to_bool, pa.bool_()),
        "qty_unit_code": cell("qty_unit_code"),
        "qty": _numbers(cell("qty"), plain),
        "netweight_kg": _numbers(cell("netweight_kg"), plain),
        "value_text": value_text,
        "value": _numbers(value_text, plain),
        "flag": cell("flag"),
        "file_row": pa.array(np.arange(first_line, first_line + n, dtype="int64")),
    }
    return _to_pandas(pa.table(arrays))


def _commodities(classification: pa.Array, code: pa.Array, level: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``commodity_level`` over a batch: the codes (leading zeros restored) and their levels, computed once per
    distinct (classification, code, level) and spread by index, as ``_exact`` does for one column."""
    parts = [pc.dictionary_encode(values) for values in (classification, code, level)]
    key = np.zeros(len(code), dtype=np.int64)
    for part in parts:  # one number per distinct triple, renumbered after each step so it stays below rows^2
        key = key * len(part.dictionary) + part.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        # by hashing, not sorting (np.unique): 0.36 s of a 1M-row file's 2.7 s parse was its four sorts
        key = pd.factorize(key)[0].astype(np.int64)
    inverse = key
    # pandas numbers the values in the order they first occur: row i is a first occurrence where the numbers
    # seen so far reach a new maximum
    seen = np.maximum.accumulate(key) if len(key) else key
    first = np.flatnonzero(np.concatenate(([True], seen[1:] > seen[:-1]))) if len(key) else key
    texts = [part.dictionary.to_pylist() for part in parts]
    indices = [part.indices.to_numpy(zero_copy_only=False) for part in parts]
    pairs = [commodity_level(*(t[i[row]] for t, i in zip(texts, indices, strict=True))) for row in first.tolist()]
    take = pa.array(inverse.reshape(-1).astype(np.int64))
    codes = pa.array([c for c, _ in pairs], type=pa.string())
    levels = pa.array([lv for _, lv in pairs], type=pa.int64())
    return pc.take(codes, take), pc.take(levels, take)


class FileCommodities:
    """``commodity_level`` over every batch of one file: each distinct (classification, code, level) read once per
    file, and each batch's rows mapped to what was read by Arrow's hash lookups (the GIL released) instead of a
    Python loop over the batch's few thousand distinct triples (``_commodities``: the benchmark's 1M-row file's five
    batches in 71 ms instead of 122 ms, on the parse thread the staging waits for, with less of the GIL held).

    A triple is looked up as one string, its three cells joined by ``SEP``; a batch where a cell holds ``SEP``
    (which would make two triples one string) goes through ``_commodities``.
    """

    SEP = "\x1f"

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._read: list[tuple[str, int | None]] = []
        self._arrays: tuple[pa.Array, pa.Array, pa.Array] | None = None  # keys, codes, levels

    def _known(self) -> tuple[pa.Array, pa.Array, pa.Array]:
        if self._arrays is None:
            self._arrays = (
                pa.array(self._keys, type=pa.string()),
                pa.array([code for code, _ in self._read], type=pa.string()),
                pa.array([level for _, level in self._read], type=pa.int64()),
            )
        return self._arrays

    def __call__(self, classification: pa.Array, code: pa.Array, level: pa.Array) -> tuple[pa.Array, pa.Array]:
        """The batch's codes (leading zeros restored) and their levels, as ``_commodities`` gives them."""
        parts = (classification, code, level)
        if any(pc.any(pc.match_substring(part, self.SEP)).as_py() for part in parts):
            return _commodities(classification, code, level)
        encoded = pc.dictionary_encode(pc.binary_join_element_wise(*parts, self.SEP))
        distinct = encoded.dictionary
        found = pc.index_in(distinct, value_set=self._known()[0])
        if found.null_count:  # triples this file has not had yet
            for key in distinct.filter(pc.is_null(found)).to_pylist():
                self._keys.append(key)
                self._read.append(commodity_level(*key.split(self.SEP)))
            self._arrays = None
            found = pc.index_in(distinct, value_set=self._known()[0])
        _, codes, levels = self._known()
        return (
            pc.take(pc.take(codes, found), encoded.indices),
            pc.take(pc.take(levels, found), encoded.indices),
        )


_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """The batch with ``Columns.to_frame``'s dtypes: nullable Int64/boolean, float64 NaN, Arrow-backed str."""
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES.get)
    return frame.astype({"year": "int64", "file_row": "int64"})[list(COLUMNS)]
