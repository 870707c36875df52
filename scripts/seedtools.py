"""What the scripts that regenerate seeds/ share: exact CSV records, paths relative to the project, digests."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RawRecord:
    """One CSV record with the exact text it was printed as.

    Attributes:
        cells: the parsed fields.
        text: the record's raw text, line ending(s) included.
    """

    cells: list[str]
    text: str


def raw_records(text: str) -> Iterator[RawRecord]:
    """Split CSV text into records, keeping each record's exact text (so an extract is byte-for-byte the original).

    Args:
        text: the file content, decoded without translating line endings.

    Yields:
        Every record in file order, blank lines included.
    """
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    for cells in csv.reader(lines()):
        yield RawRecord(cells=cells, text="".join(consumed))
        consumed.clear()


def project_path(text: str) -> Path:
    """A command-line path: absolute as given, else relative to the project root (whatever the cwd)."""
    path = Path(text)
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def sha256(data: bytes) -> str:
    """The hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes, creating the folder.

    Args:
        path: the output file.
        data: the content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
