"""The process's memory allocators: tuned once for a load (``tune_allocators``), and freed memory handed back to
the system when the process holds more than a budget (``release_freed_memory``).

pandas and numpy allocate a batch's columns through the C library's ``malloc``; Arrow through its own pool
(mimalloc in the pyarrow wheels). Both hand freed pages back to the kernel eagerly by default (glibc: a block above
its mmap threshold is unmapped when freed, the heap's free top is trimmed; mimalloc: freed pages are purged after
10 ms), and each page the next batch touches again is faulted in and zeroed by the kernel. At 10M rows, with
glibc's heap trimmed after every batch, zeroing pages took 7.2 of staging's 31.9 CPU-seconds (``perf``, the
kernel's ``clear_page_erms``). Keeping freed pages for the next batch costs resident memory instead, so
``release_freed_memory`` trims only above a budget: a heap does not shrink while anything above a freed hole is
alive, and staging a 20M-row file without any trim had held 1.06-1.13 GiB resident for 0.17-0.21 GiB of Arrow
buffers and one 43 MiB batch of pandas columns in flight (with a trim after each batch, 0.45-0.73 GiB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for its rising threshold: blocks below it are reused, not unmapped
TRIM_THRESHOLD = 128 << 20  # free heap top kept for the next batch; ``release_freed_memory`` trims past a budget
MIMALLOC_PURGE_DELAY_MS = "250"  # mimalloc's default is 10 ms: a batch's pages are purged before the next one
STAGING_BUDGET_MIB = 640  # resident memory above which staging hands freed memory back between batches

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = "/proc/self/statm"


@functools.cache
def _libc(name: str) -> Callable[..., int] | None:
    """A function of glibc (None elsewhere: musl and macOS have neither ``mallopt``'s parameters nor
    ``malloc_trim``)."""
    found = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(found) if found else None
        if libc is None or not hasattr(libc, "gnu_get_libc_version"):
            return None
        return getattr(libc, name)
    except (OSError, AttributeError):
        return None


def tune_allocators() -> None:
    """Keep freed memory for reuse within a load instead of handing it back to the kernel page by page.

    glibc: blocks up to ``MMAP_THRESHOLD`` come from the heap (reused when freed, not unmapped) and up to
    ``TRIM_THRESHOLD`` of free heap top is kept. mimalloc (Arrow's pool): freed pages are purged after
    ``MIMALLOC_PURGE_DELAY_MS``; mimalloc reads its options when pyarrow is first imported, so this runs before
    that (a later call changes glibc's settings only). A setting the user gave in the environment
    (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``MIMALLOC_PURGE_DELAY``) is left as given.
    Measured at 10M rows (``tradewh load`` with the server, interleaved, three each, with staging's trim above
    ``STAGING_BUDGET_MIB``): CPU time 93.2-97.5 s against 95.6-98.2 s (system time 15.5-16.6 s against
    16.8-18.5 s), wall 50.9-55.9 s against 54.0-56.1 s, peak RSS 888-893 MiB against 852-888 MiB. The kernel's
    page zeroing in staging: 2.6 CPU-seconds against 7.2 (``perf``, one run each), measured with these settings
    given in the environment instead (a 256 MiB trim threshold, no trim between batches), not the ones here.
    """
    if "pyarrow" in sys.modules:
        log.debug("pyarrow is already imported: mimalloc's purge delay is left as it is")
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", MIMALLOC_PURGE_DELAY_MS)
    mallopt = _libc("mallopt")
    if mallopt is None:
        return
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)


def resident_mib() -> float:
    """The process's resident memory now, in MiB (0 where ``/proc`` is not there)."""
    try:
        with open(_STATM, "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE / (1 << 20)
    except (OSError, IndexError, ValueError):
        return 0.0


def release_freed_memory(above_mib: float | None = None) -> bool:
    """Return what the C library's heap and Arrow's pool hold free to the system (a few ms; the heap part is a
    no-op where the C library has no ``malloc_trim``).

    Args:
        above_mib: only when the process's resident memory is above this many MiB (None: always).

    Returns:
        Whether memory was handed back.
    """
    if above_mib is not None and resident_mib() <= above_mib:
        return False
    import pyarrow as pa

    trim = _libc("malloc_trim")
    if trim is not None:
        trim(0)
    pa.default_memory_pool().release_unused()
    return True
