"""The catalogue's local files kept in the raw zone in a thread while Prefect starts (``tradewh load``), so the
flow's fetch finds them kept; the flow waits for it (``wait_prefetched``) before it fetches anything."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from pathlib import Path

from warehouse.extract.catalogue import Source
from warehouse.extract.fetch import fetch_source

_PREFETCHING: list[threading.Thread] = []


def prefetch_local(
    sources: Iterable[Source], *, seeds_dir: Path, project_root: Path, roots: tuple[Path, ...], raw_dir: Path
) -> threading.Thread | None:
    """Start keeping the local files (``seed`` and ``path`` locations) of a catalogue in the raw zone, in a thread.

    ``tradewh load`` calls it once it holds the writer lock, before Prefect's local server starts (3-15 s on two
    cores): copying and hashing a 2 GB file takes 1.4-3 s here (``hashcopy``), and the flow's ``fetch_source``
    task then finds the file kept with its stat unchanged and returns at once. Nothing is decided here: a failure
    (a missing file, a file changing while read, a failpoint) is left for the task to meet again and report, with
    its retries; URL locations are fetched by the task only. The flow waits for the thread (``wait_prefetched``)
    before it clears debris or fetches anything.

    Returns:
        The thread, or None when the catalogue has no local location.
    """
    local = [s for s in sources if s.location_kind != "url"]
    if not local:
        return None

    def keep_all() -> None:
        for source in local:
            with contextlib.suppress(Exception):  # the fetch_source task reports it, where it belongs
                fetch_source(source, seeds_dir=seeds_dir, project_root=project_root, roots=roots, raw_dir=raw_dir)

    thread = threading.Thread(target=keep_all, name="tradewh-prefetch")
    _PREFETCHING.append(thread)
    thread.start()
    return thread


def in_progress() -> bool:
    """Whether a file ``prefetch_local`` started keeping is still being copied."""
    return any(thread.is_alive() for thread in _PREFETCHING)


def wait_prefetched() -> None:
    """Wait until the files ``prefetch_local`` started keeping are kept (or failed); at once when none was started."""
    while _PREFETCHING:
        _PREFETCHING.pop().join()
