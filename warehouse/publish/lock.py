"""One writer at a time: an advisory lock the kernel releases when the holding process dies."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LoadRunning(RuntimeError):
    """Another load holds the writer lock."""


@contextmanager
def writer_lock(home: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the writer lock of a data folder for the duration of a load.

    The lock is ``flock`` on ``<home>/.writer.lock``: a killed run cannot leave it stale, since the kernel
    drops it with the process. Without ``wait``, a second load exits at once with LoadRunning.
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / ".writer.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LoadRunning(
                f"another tradewh load is running on {home} (pid {holder}); this one exits without writing. "
                "Wait for it, or run with --wait to queue behind it."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
