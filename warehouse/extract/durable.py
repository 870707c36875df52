"""Durability of the raw zone's copies: an fsync in the background, waited for by the first step that names a copy
for good (the lake commit).

``warehouse.extract.fetch`` keeps a local file's copy under its final name at once and hands its fsync to a
background thread (``durable_later``): the disk writes the copy while the run parses it. The publisher's file is
still there if the machine stops before that; a copy cut short by such a stop is never trusted (``fetch`` compares a
kept copy's size before serving it). ``wait_durable`` is called by ``warehouse.stage.commit_lake`` before the
manifest names the run's files.

It also remembers which copies this process wrote and hashed as read back (``hashed_here``), with their stat then
(a ``file_state.FileSeen``): staging checks a raw payload's SHA-256 before loading it (a copy kept from an earlier
run may have been changed at rest), and a copy made moments earlier by this run, its stat unchanged since, needs no
second read of every byte (``unchanged_since_hashed``; 2-5 s of a core for a 2 GB file, beside staging's two busy
threads). Unlike ``file_state``, which reads a "racy" file again, this trusts a stat taken within the timestamp tick
of the copy's rename: a same-size rewrite in that tick (a few ms on ext4, up to 2 s where timestamps are coarse)
would go unseen. The copy is in tradewh's own raw zone, under the writer lock, and the check it saves runs beside
the parse that reads the same bytes, which it never guarded either; a copy kept by an earlier run is always read.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from warehouse.common.atomic import fsync_path
from warehouse.extract.file_state import FileSeen

_syncing: dict[Path, Future[None]] = {}  # raw copies being made durable, by path
_sync_pool: ThreadPoolExecutor | None = None
_hashed: dict[Path, FileSeen] = {}  # copies this process wrote and hashed as read back: their stat then


def hashed_here(path: Path, sha256: str) -> None:
    """Remember that this process wrote ``path`` (under its final name) and hashed it, as read back, to ``sha256``."""
    _hashed[Path(path)] = FileSeen.of(os.stat(path), sha256=sha256, name=Path(path).name, hashed_at_ns=0)


def unchanged_since_hashed(path: Path, sha256: str) -> bool:
    """Whether ``path`` is a copy ``hashed_here`` remembers with this SHA-256, its device, inode, size, mtime and
    ctime as they were (``FileSeen.same_stat``; see the module's docstring for the one blind spot)."""
    recorded = _hashed.get(Path(path))
    try:
        return recorded is not None and recorded.sha256 == sha256 and recorded.same_stat(os.stat(path))
    except OSError:
        return False


def _fsync_file_and_folder(path: Path) -> None:
    """fsync a kept copy, then the folder that names it (where a folder can be opened: the bytes are what count)."""
    fsync_path(path)
    with contextlib.suppress(OSError):
        fsync_path(path.parent)


def durable_later(path: Path) -> None:
    """Make ``path`` durable in a background thread (``wait_durable`` waits for it): fsync releases the GIL, so the
    disk writes the copy while the run parses it."""
    global _sync_pool
    if _sync_pool is None:
        _sync_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradewh-fsync")
    _syncing[path] = _sync_pool.submit(_fsync_file_and_folder, path)


def wait_durable(paths: Iterable[Path]) -> None:
    """Wait until the raw copies at ``paths`` are on disk (those kept by ``store_payload(durable=False)``; any other
    path is already). Raises the fsync's OSError, so nothing names a copy the disk may not hold."""
    for path in paths:
        pending = _syncing.get(Path(path))
        if pending is not None:
            pending.result()
            _syncing.pop(Path(path), None)


def is_kept(target: Path, size: int) -> bool:
    """Whether the raw zone holds these bytes already: a file under their SHA-256, of their size (a copy cut short
    by a stop before its fsync is not)."""
    try:
        return target.stat().st_size == size
    except FileNotFoundError:
        return False
