"""The unique key across every batch of a source, in bounded memory: which rows may share a key.

Each batch hands in a 64-bit hash of each row's key and the rows' file and line. Two rows with one key have one
hash, so the rows whose hash occurs more than once are the only ones whose key can be repeated; the exact check
(``quarantine.cross_batch_quarantine``) then compares their keys in DuckDB and clears a hash collision.

Up to ``memory_rows`` hashes are kept in memory (8 bytes a row). Beyond, every hash goes to one of ``buckets``
files on disk, chosen by its top bits, with the row's ordinal (16 bytes a row on disk), and the repeats are found
one bucket at a time: memory then holds a bucket (rows / buckets x 16 bytes), not the whole source. At 100M rows
the in-memory list alone was 800 MB, and 1.6 GB while it was sorted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# 4M hashes (32 MB) in memory; a larger source spills to disk (a 10M-row file already does, so the path is used)
MEMORY_ROWS = 4_000_000
BUCKETS = 64  # 100M rows: 1.56M rows (25 MB) a bucket
_RECORD = np.dtype([("hash", "<u8"), ("row", "<i8")])


def compact_lines(rows: np.ndarray) -> np.ndarray | range:
    """A batch's line numbers, as a range when they follow each other (the usual case: 16 bytes, not 8 a row)."""
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and bool((np.diff(rows) == 1).all()):
        return range(int(rows[0]), int(rows[-1]) + 1)
    return rows


class RepeatedKeys:
    """Collects the key hashes of a source's batches; ``candidates()`` names every row whose hash is repeated.

    Args:
        spill_dir: where the bucket files go once ``memory_rows`` is passed (``.part-keys-*``: the run's debris
            clearing removes them if the process dies; ``close`` removes them otherwise).
        tag: a name unique to this run and source, in the bucket files' names.
        memory_rows: hashes kept in memory before spilling.
        buckets: bucket files (a power of two).
    """

    def __init__(self, spill_dir: Path, tag: str, memory_rows: int = MEMORY_ROWS, buckets: int = BUCKETS) -> None:
        if buckets < 1 or buckets & (buckets - 1):
            raise ValueError(f"buckets must be a power of two, not {buckets}")
        self.spill_dir, self.tag, self.memory_rows, self.buckets = spill_dir, tag, memory_rows, buckets
        self._hashes: list[np.ndarray] = []  # in memory, until spilled
        self._files: list[tuple[str, np.ndarray | range]] = []  # each batch's payload SHA-256 and lines
        self._starts: list[int] = []  # each batch's first row ordinal
        self.rows = 0
        self.spilled: list[Path] = []

    def add(self, hashes: np.ndarray, sha256: str, lines: np.ndarray | range) -> None:
        """One batch: its rows' key hashes (uint64) and their payload and lines, in the same order."""
        if len(hashes) != len(lines):
            raise ValueError(f"{len(hashes)} key hashes for {len(lines)} lines")
        self._files.append((sha256, lines))
        self._starts.append(self.rows)
        if self.spilled:
            self._spill(hashes.astype("uint64", copy=False), self.rows)
        else:
            self._hashes.append(hashes.astype("uint64", copy=False))
            if self.rows + len(hashes) > self.memory_rows:
                self._spill_memory()
        self.rows += len(hashes)

    def candidates(self) -> pd.DataFrame:
        """``file_sha256``, ``file_row`` of every row whose key hash occurs more than once (every row of a repeated
        key is among them; a collision only adds a row the exact check clears). The memory and files are let go."""
        try:
            if self.spilled:
                ordinals = np.concatenate([self._repeated_in(path) for path in self.spilled])
            else:
                ordinals = self._repeated_in_memory()
            return self._rows_of(np.sort(ordinals))
        finally:
            self.close()

    def close(self) -> None:
        """Drop the hashes and remove the bucket files."""
        self._hashes.clear()
        for path in self.spilled:
            path.unlink(missing_ok=True)

    # --- in memory -------------------------------------------------------------------------------------------

    def _repeated_in_memory(self) -> np.ndarray:
        if not self._hashes:
            return np.empty(0, dtype="int64")
        every = np.concatenate(self._hashes)
        self._hashes.clear()
        return _repeated_ordinals(every)

    # --- on disk ---------------------------------------------------------------------------------------------

    def _spill_memory(self) -> None:
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        self.spilled = [self.spill_dir / f".part-keys-{self.tag}-{b:03d}.bin" for b in range(self.buckets)]
        for path in self.spilled:
            path.write_bytes(b"")
        start = 0
        for hashes in self._hashes:
            self._spill(hashes, start)
            start += len(hashes)
        self._hashes.clear()

    def _spill(self, hashes: np.ndarray, start: int) -> None:
        shift = 64 - (self.buckets.bit_length() - 1)
        # the bucket numbers as the narrowest unsigned type that holds them: numpy's stable sort of 8- or 16-bit
        # integers is a radix sort (a 200,000-row batch's order in 0.5 ms; as int64 values, a merge sort, 6.7 ms)
        narrow = np.uint8 if self.buckets <= 256 else np.uint16 if self.buckets <= 65536 else np.uint64
        bucket = (hashes >> np.uint64(shift)).astype(narrow) if shift < 64 else np.zeros(len(hashes), narrow)
        order = np.argsort(bucket, kind="stable")
        records = np.empty(len(hashes), dtype=_RECORD)
        records["hash"] = hashes[order]
        records["row"] = order + start
        bounds = np.searchsorted(bucket[order], np.arange(self.buckets + 1))
        for b, path in enumerate(self.spilled):
            if bounds[b + 1] > bounds[b]:
                with path.open("ab") as out:
                    records[bounds[b] : bounds[b + 1]].tofile(out)

    def _repeated_in(self, path: Path) -> np.ndarray:
        records = np.fromfile(path, dtype=_RECORD)
        path.unlink()
        return _repeated_ordinals(records["hash"], records["row"])

    # --- back to files and lines -----------------------------------------------------------------------------

    def _rows_of(self, ordinals: np.ndarray) -> pd.DataFrame:
        empty = pd.DataFrame({"file_sha256": pd.Series(dtype="str"), "file_row": pd.Series(dtype="int64")})
        if not len(ordinals):
            return empty
        batch = np.searchsorted(np.asarray(self._starts, dtype="int64"), ordinals, side="right") - 1
        parts = []
        for b in np.unique(batch):
            sha256, lines = self._files[b]
            at = ordinals[batch == b] - self._starts[b]
            picked = at + lines.start if isinstance(lines, range) else np.asarray(lines)[at]
            parts.append(pd.DataFrame({"file_sha256": sha256, "file_row": picked.astype("int64")}))
        return pd.concat([empty, *parts], ignore_index=True).drop_duplicates()


def _repeated_ordinals(hashes: np.ndarray, ordinals: np.ndarray | None = None) -> np.ndarray:
    """The ordinals (by default the positions) whose hash occurs more than once among ``hashes``."""
    if len(hashes) < 2:
        return np.empty(0, dtype="int64")
    # the values sorted, not their order: a source's hashes are nearly all distinct, so the repeated ones are looked
    # up afterwards, when there are any (a 156,000-row bucket in 6.9 ms against 12.1 ms for the argsort it replaced)
    ranked = np.sort(hashes)
    same = ranked[1:] == ranked[:-1]
    if not same.any():
        return np.empty(0, dtype="int64")
    picked = np.flatnonzero(np.isin(hashes, ranked[1:][same]))
    return picked.astype("int64") if ordinals is None else ordinals[picked]
