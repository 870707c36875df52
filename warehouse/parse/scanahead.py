"""The line scan of a CSV file (``csvtext.scan_lines``) in a thread beside the columnar reader that parses it, kept
a bounded distance ahead of that reader; and the files whose scan said "read them record by record".

Why bounded: the scan reads the file at 400-500 MB/s, the parse at about 110 MB/s. A file larger than the page
cache can hold beside its raw copy (the 20.4 GB benchmark file, 23.5 GiB of memory) has the head of that copy
pushed out of the cache by its tail while it is written, so both read the head from the disk. Unbounded, the scan
ran up to the end of the file first: the pages it read were let go before the parse came to them, and the parse
read them from the disk a second time (measured during a 100M-row load: 400-500 MB/s read from the disk for the
first 45 s of staging, where the parse needs 110 MB/s, with the kernel's page-cache work on top). Kept within
``SCAN_AHEAD_BYTES`` of the last line the reader waited for, what the scan reads is still in the cache when the
parse reads it. A file the cache holds whole reads the same either way (10M rows, three interleaved pairs: 38.7,
38.8 and 43.7 s paced against 37.1, 39.0 and 43.9 s unpaced, the same CPU). The price: a line that is not one
record is found when the parser comes within ``SCAN_AHEAD_BYTES`` of it, so a file whose first such line is late
is parsed nearly whole before it is read again record by record (unpaced, the scan of a cached 2 GB file told in
about 5 s).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from warehouse.parse import csvtext
from warehouse.parse.csvtext import LineScan, scan_lines

SCAN_AHEAD_BYTES = 256 << 20  # how far the scan may run past the last line its reader waited for

# the files scan_lines found not to be one record per line, by identity: a read that had to start over
# (``ReadAgain``) goes to the record reader at once. Only "no" is kept: should a file change within the clock's
# tick, a stale "no" only sends it to the record reader, which is exact for any file.
_FAILED_SCANS: set[tuple[int, int, int, int, int]] = set()


def _identity(path: Path) -> tuple[int, int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def failed_scan(path: Path) -> bool:
    """Whether a finished ``ScanAhead`` found this file, as it is now, not to be one record per line, or a columnar
    reader could not read it (``read_record_by_record``)."""
    try:
        return _identity(path) in _FAILED_SCANS
    except OSError:
        return False


def read_record_by_record(path: Path) -> None:
    """Send this file, as it is now, to the record reader from now on: its lines are one record each, yet a
    columnar reader refused one (a record of another width than the header's, bytes that are not UTF-8)."""
    with contextlib.suppress(OSError):
        _FAILED_SCANS.add(_identity(path))


class ScanAhead:
    """``scan_lines`` in a thread, telling as it goes how many lines it has checked.

    A columnar reader may then parse a file while it is scanned, and hand out the records of the lines already
    checked (they are one record per line, exactly numbered, whatever follows them), instead of waiting for a
    pass over the whole file first (4-5 s of one core for a 2 GB file, before the first batch).

    The scan reads on while it is at most ``ahead_bytes`` past the last line a reader waited for
    (``lines_checked``; the distance in lines is taken from the bytes per line read so far), and to the end once
    the whole answer is wanted (``result``) or the reader stopped (``stop``).
    """

    def __init__(
        self,
        path: Path,
        *,
        min_line_length: int = 0,
        chunk_size: int | None = None,
        ahead_bytes: int = SCAN_AHEAD_BYTES,
    ) -> None:
        self._path = Path(path)
        self._done = threading.Condition()
        self._lines, self._plain = 0, True
        self._result: LineScan | None = None
        self._stopped = False
        self._asked, self._ahead, self._paced = 0, ahead_bytes, True
        try:
            self._identity: tuple[int, int, int, int, int] | None = _identity(self._path)
        except OSError:
            self._identity = None
        threading.Thread(
            target=self._run, args=(min_line_length, chunk_size or csvtext.SCAN_CHUNK), name="tradewh-scan", daemon=True
        ).start()

    @property
    def lines(self) -> int:
        """The lines checked so far (the header's included)."""
        with self._done:
            return self._lines

    def _progress(self, lines: int, plain: bool) -> bool:
        with self._done:
            self._lines, self._plain = lines, plain
            self._done.notify_all()
            return not self._stopped

    def _near(self, read: int) -> bool:
        """Whether the scan, ``read`` bytes into the file, is within ``ahead_bytes`` of the reader's last line."""
        past = self._lines - self._asked  # lines beyond the reader's
        return not self._paced or self._stopped or past <= 0 or past * read <= self._ahead * self._lines

    def _pace(self, read: int) -> None:
        with self._done:
            self._done.wait_for(lambda: self._near(read))

    def _run(self, min_line_length: int, chunk_size: int) -> None:
        result = LineScan(one_record_per_line=False, plain_ascii=False)
        try:
            result = scan_lines(
                self._path, chunk_size, min_line_length=min_line_length, progress=self._progress, pace=self._pace
            )
        except OSError:
            pass  # the record reader meets the same error and names it
        finally:
            with self._done:
                self._result = result
                if not self._stopped and self._identity is not None and not result.one_record_per_line:
                    _FAILED_SCANS.add(self._identity)
                self._done.notify_all()

    def lines_checked(self, line: int) -> bool | None:
        """Wait until line ``line`` (1-based, physical) is checked or the scan ends.

        Returns:
            Whether the lines up to it are plain ASCII (``LineScan.plain_ascii``) once they are known to be one
            record each; None when the scan found a line that is not (the file must be read record by record).
        """
        with self._done:
            if line > self._asked:
                self._asked = line
                self._done.notify_all()  # the scan may read on
            self._done.wait_for(lambda: self._lines >= line or self._result is not None)
            if self._lines >= line:
                return self._plain
            assert self._result is not None
            return self._result.plain_ascii if self._result.one_record_per_line else None

    def result(self) -> LineScan:
        """Wait for the whole scan (which then reads on to the end of the file)."""
        with self._done:
            self._paced = False
            self._done.notify_all()
            self._done.wait_for(lambda: self._result is not None)
            assert self._result is not None
            return self._result

    def stop(self) -> None:
        """Stop at the next chunk (a reader that gave up): the answer is then not kept."""
        with self._done:
            self._stopped = True
            self._done.notify_all()
