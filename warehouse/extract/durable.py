"""Durability of the raw zone's copies: an fsync in the background, waited for by the first step that names a copy
for good (the lake commit).

``warehouse.extract.fetch`` keeps a local file's copy under its final name at once and hands its fsync to a
background thread (``durable_later``): the disk writes the copy while the run parses it. The publisher's file is
still there if the machine stops before that; a copy cut short by such a stop is never trusted (``fetch`` compares a
kept copy's size before serving it). ``wait_durable`` is called by ``warehouse.stage.commit_lake`` before the
manifest names the run's files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from warehouse.common.atomic import fsync_path

_syncing: dict[Path, Future[None]] = {}  # raw copies being made durable, by path
_sync_pool: ThreadPoolExecutor | None = None


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
