"""Errors the project raises on bad input: each names the source, the file, the row and the rule."""

from __future__ import annotations

import errno
from pathlib import Path


class SourceError(Exception):
    """A source could not be read as a whole (wrong layout, empty file, HTML instead of CSV, ...).

    The message always names the source id, the file (or URL), the row (1-based line number in the file,
    or None when the whole file is at fault) and the rule that was broken, so an operator can find it.
    """

    def __init__(
        self,
        message: str,
        *,
        source_id: str = "?",
        file: str = "?",
        row: int | None = None,
        rule: str = "layout",
    ) -> None:
        self.source_id = source_id
        self.file = file
        self.row = row
        self.rule = rule
        self.detail = message
        where = f"row {row}" if row is not None else "whole file"
        super().__init__(f"[{source_id}] {file}, {where}, rule '{rule}': {message}")


class StorageError(OSError):
    """TRADEWH_HOME cannot be written (read-only, no permission, full disk): one line naming the path and the fix."""

    def __str__(self) -> str:
        return str(self.strerror)


# errno -> what to do about it
_STORAGE_FIXES = {
    errno.EROFS: "it is on a read-only file system: set TRADEWH_HOME to a writable folder",
    errno.EACCES: "permission denied: make it writable for this user, or set TRADEWH_HOME to a folder that is",
    errno.EPERM: "operation not permitted: make it writable for this user, or set TRADEWH_HOME to a folder that is",
    errno.ENOSPC: "the disk is full: free space on it (or set TRADEWH_HOME to a larger disk) and run again",
    errno.EDQUOT: "the disk quota is exhausted: free space on it (or set TRADEWH_HOME elsewhere) and run again",
}
_DUCKDB_STORAGE = (("no space left on device", errno.ENOSPC), ("read-only file system", errno.EROFS),
                   ("permission denied", errno.EACCES))  # fmt: skip


def storage_error(exc: BaseException, path: Path | str | None = None) -> StorageError | None:
    """The one-line ``StorageError`` for an error of writing under TRADEWH_HOME, or None when it is not one.

    Recognises ``OSError`` (read-only file system, permission, full disk, quota) and DuckDB's I/O errors that say
    the same in their text (DuckDB raises its own exceptions, not ``OSError``).

    Args:
        exc: what was raised.
        path: the path being written, when the error does not name one itself.
    """
    number = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    if number is None:
        text = str(exc).lower()
        number = next((n for phrase, n in _DUCKDB_STORAGE if phrase in text), None)
    if number not in _STORAGE_FIXES:
        return None
    where = getattr(exc, "filename", None) or path or "TRADEWH_HOME"
    return StorageError(number, f"tradewh: cannot write {where}: {_STORAGE_FIXES[number]}")


MIN_FREE_BYTES = 64 * 1024**2  # a load needs room for Prefect's database, the run log, the audit and a new file


def require_free_space(home: Path, minimum: int = MIN_FREE_BYTES) -> None:
    """Refuse to start a load on a disk with less than ``minimum`` bytes free (``StorageError``, ENOSPC).

    The data folder (or the nearest existing parent) is measured; a folder that cannot be measured is left for the
    load to report.
    """
    import shutil

    probe = Path(home)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return
    if free < minimum:
        raise StorageError(
            errno.ENOSPC,
            f"tradewh: cannot write {home}: {_STORAGE_FIXES[errno.ENOSPC]} ({free / 1024**2:.0f} MiB free, a load "
            f"needs at least {minimum / 1024**2:.0f} MiB)",
        )
