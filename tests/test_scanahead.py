"""The line scan beside a columnar reader (``ScanAhead``) stays within its distance of the reader, reads on when the
reader asks for more, and to the end when the whole answer is wanted or the reader stops."""

from __future__ import annotations

import time
from pathlib import Path

from warehouse.parse.scanahead import ScanAhead

LINE = b"842,156,2023,1," + b"x" * 83 + b"\n"  # 100 bytes a line


def lines_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b,c,d,e\n" + LINE * n)
    return path


def settled(scan: ScanAhead) -> int:
    """The scan's lines once they stopped moving for 50 ms: where it waits, or ended, or (on a busy machine) a point
    before that; the tests bound it from above only, and from below by what the reader was told."""
    seen = -1
    while scan.lines != seen:
        seen = scan.lines
        time.sleep(0.05)
    return seen


def test_the_scan_stays_near_the_reader_and_reads_on_when_asked(tmp_path: Path) -> None:
    total = 20_001  # the header and 20,000 lines: 2 MB
    path = lines_file(tmp_path, total - 1)
    ahead, chunk = 16 * 1024, 4096
    bound = (ahead + chunk) // len(LINE) + 1  # lines the scan may be past the reader's: its distance and a chunk
    scan = ScanAhead(path, chunk_size=chunk, ahead_bytes=ahead)
    assert scan.lines_checked(2) is True  # the header and one line: the scan has begun
    assert 2 <= settled(scan) <= 2 + bound  # it read its distance past them, no further
    assert scan.lines_checked(5_000) is True
    assert 5_000 <= settled(scan) <= 5_000 + bound
    assert scan.lines_checked(12_000) is True
    assert 12_000 <= settled(scan) <= 12_000 + bound
    found = scan.result()  # the whole answer: it reads on to the end
    assert found.one_record_per_line and found.plain_ascii
    assert scan.lines == total - 1 or scan.lines == total


def test_a_reader_that_stops_lets_a_waiting_scan_end(tmp_path: Path) -> None:
    scan = ScanAhead(lines_file(tmp_path, 20_000), chunk_size=4096, ahead_bytes=16 * 1024)
    assert settled(scan) < 1_000
    scan.stop()
    assert not scan.result().one_record_per_line  # a stopped scan keeps no answer
