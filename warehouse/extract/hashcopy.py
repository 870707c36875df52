"""Copying a payload while hashing it (SHA-256), in bounded memory: the raw zone's copies (``fetch.store_payload``).

Two ways, one result (the bytes written and the hex SHA-256 of exactly those bytes):

- ``copy_hashing``, for any stream (an HTTP part file, bytes): two reused 1 MiB buffers, each read into, then hashed
  in a thread while it is written, the next one read meanwhile. Each of a 2 GB file's ~1,900 pieces takes the GIL
  several times (read, hand to the hashing thread, write), each time waiting up to the 5 ms switch interval when
  another thread holds it: alone it copied and hashed the benchmark's 2 GB file in 1.2-1.8 s here, beside a
  pure-Python thread (as Prefect's import and engine start while ``tradewh load`` keeps its files) 22-24 s.
- ``copy_file_hashing``, for a file open on disk: the kernel copies (``os.copy_file_range``, 64 MiB a call, no
  bytes through user space, the GIL released for the call) while the calling thread reads back what is copied
  (from the page cache, 16 MiB at a time) and hashes it: ~30 copy calls and ~120 read-backs for 2 GB. Measured on
  the same file: 1.4-1.5 s alone, 2.9-3.0 s beside that thread (the two cores shared).
  The hash is of the copy as written, read back, so what the raw zone keeps is what its name says.
  A file too large to stay in the page cache beside its copy (``drops_source``) has its own pages let go behind the
  copy (``POSIX_FADV_DONTNEED``), so the copy's stay for the parse that reads it next: measured on a 20.4 GB file
  (23.5 GiB of memory, caches dropped first): the copy and hash 45.8 s instead of 56.1 s, and the copy then 18.8 GB
  in the page cache instead of 5.7 GB (the source's 16.7 GB held the rest), read back in 4.9 s instead of 15.1 s.

Every file this reads from its start to its end (a copy's source, a file hashed) is first declared so to the kernel
(``warehouse.common.readahead.read_in_order``): the copy and hash of the 20.4 GB benchmark file, caches dropped,
33.0-38.8 s in five runs instead of 42.4 s (the copy's writes are then the limit: the copy alone 28-37 s).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import mmap
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from warehouse.common.failpoints import failpoint
from warehouse.common.readahead import read_in_order

CHUNK_BYTES = 1024**2  # copy_hashing's pieces (two buffers)
COPY_STEP = 64 * 1024**2  # copy_file_range's bytes per call
HASH_BUFFER = 16 * 1024**2  # copy_file_hashing's read-back buffer
# the kernel cannot copy between these two files: copy_hashing does it instead (nothing was written yet)
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF, errno.ETXTBSY}


def sha256_of(src: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> str:
    """Hex SHA-256 of a stream from where it stands to its end, read in ``chunk_bytes`` pieces."""
    read_in_order(src)
    digest = hashlib.sha256()
    view = memoryview(bytearray(chunk_bytes))
    while n := src.readinto(view):
        digest.update(view[:n])
    return digest.hexdigest()


def copy_hashing(src: BinaryIO, dst: BinaryIO, size: int, chunk_bytes: int = CHUNK_BYTES) -> tuple[str, int]:
    """Copy a stream into an unbuffered file in ``chunk_bytes`` pieces, hashing each piece on the way (one read).

    Two reused buffers, each read into, then hashed (in a thread: hashlib releases the GIL) while it is written,
    the next one read meanwhile. The ``fetch`` failpoint fires with about half of ``size`` written.

    Returns:
        (hex SHA-256, bytes copied).
    """
    read_in_order(src)
    digest = hashlib.sha256()
    buffers = [memoryview(bytearray(chunk_bytes)) for _ in range(2)]
    half, copied, fired = size // 2, 0, False
    hashing: list[Future[None] | None] = [None, None]  # the hash of each buffer's last bytes
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradewh-sha256") as pool:  # in order: one worker
        for turn in itertools.count():
            view = buffers[turn % 2]
            pending = hashing[turn % 2]
            if pending is not None:
                pending.result()  # this buffer's bytes are hashed: it may be read into again
            if not fired and copied >= half:
                failpoint("fetch")  # about half a payload on disk under a temporary name
                fired = True
            n = src.readinto(view if fired else view[: min(chunk_bytes, half - copied)])
            if not n:
                break
            chunk = view[:n]
            hashing[turn % 2] = pool.submit(digest.update, chunk)
            while chunk:
                chunk = chunk[dst.write(chunk) :]
            copied += n
        for pending in hashing:
            if pending is not None:
                pending.result()
    return digest.hexdigest(), copied


class _Copied:
    """How far the kernel's copy has gone, shared by the copying thread and the hashing one."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.bytes = 0
        self.done = False
        self.stop = False  # the hashing side failed: copy no further
        self.error: BaseException | None = None


def available_memory() -> int | None:
    """Bytes of memory the kernel says it can give without swapping (``MemAvailable``); None where it does not say."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def drops_source(size: int, available: int | None) -> bool:
    """Whether a copy lets the source's pages go behind it: when the file and its copy cannot both stay in the page
    cache (twice its size above the memory available), the source's pages would push out the copy's, which are
    read next (the raw zone's copy is what is parsed; the source is not read again). A smaller file's pages are
    left where they are: another reader of the same file (the next tool in a benchmark, the user's) keeps them."""
    return available is not None and hasattr(os, "posix_fadvise") and 2 * size > available


def _kernel_copy(src_fd: int, dst_fd: int, size: int, step: int, state: _Copied, drop_source: bool = False) -> None:
    """Copy from offset 0 to the source's end, ``step`` bytes a call, publishing each step in ``state``; with
    ``drop_source``, the source's pages copied so far are let go after each call (``POSIX_FADV_DONTNEED``, from the
    first page not yet let go: the kernel lets go whole pages only; at the end, to the file's end)."""
    half, fired, kept_from = size // 2, False, 0

    def let_go(upto: int) -> int:
        with contextlib.suppress(OSError):  # a hint: never a reason to fail the copy
            os.posix_fadvise(src_fd, kept_from, upto - kept_from if upto else 0, os.POSIX_FADV_DONTNEED)
        return upto - upto % mmap.PAGESIZE

    try:
        while not state.stop:
            if not fired and state.bytes >= half:
                failpoint("fetch")  # about half a payload on disk under a temporary name
                fired = True
            want = step if fired else max(1, min(step, half - state.bytes))
            n = os.copy_file_range(src_fd, dst_fd, want, state.bytes, state.bytes)
            if not n:
                break
            if drop_source:
                kept_from = let_go(state.bytes + n)
            with state.changed:
                state.bytes += n
                state.changed.notify()
        if drop_source and not state.stop:
            let_go(0)  # the last page, partly filled: only a range to the file's end lets it go
    except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread, which raises it)
        state.error = exc
    finally:
        with state.changed:
            state.done = True
            state.changed.notify()


def copy_file_hashing(
    src: BinaryIO,
    dst: BinaryIO,
    size: int,
    *,
    step: int = COPY_STEP,
    buffer_bytes: int = HASH_BUFFER,
    drop_source: bool | None = None,
) -> tuple[str, int]:
    """Copy a file on disk into another from its first byte to its end in the kernel, hashing the copy read back.

    Falls back to ``copy_hashing`` where the kernel cannot copy between the two (another file system on an old
    kernel, a pipe, no ``copy_file_range``) or copies nothing of a file whose size is not 0 (a file system that
    answers 0, as shutil guards against too): that is known at the first call, before anything is written. The
    ``fetch`` failpoint fires with about half of ``size`` copied.

    Args:
        src: the source, a regular file opened for reading (its position is not used).
        dst: the copy, an empty file opened for reading and writing (``mkstemp``'s), unbuffered.
        size: the source's size when opened (where the failpoint fires).
        step: bytes per ``copy_file_range`` call.
        buffer_bytes: the read-back buffer (the memory it takes).
        drop_source: let the source's pages go behind the copy; None: when ``drops_source`` says so for ``size``.

    Returns:
        (hex SHA-256 of the copy, bytes copied).
    """
    src_fd, dst_fd = src.fileno(), dst.fileno()
    if not hasattr(os, "copy_file_range") or fcntl.fcntl(dst_fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDWR:
        return copy_hashing(src, dst, size)  # the copy cannot be read back through this descriptor
    try:  # the first byte: proves the kernel copies between these two
        first = os.copy_file_range(src_fd, dst_fd, 1, 0, 0)
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY:
            raise
        first = None
    if first is None or (first == 0 and size > 0):  # cannot, or copies nothing of a file that has bytes: by hand
        src.seek(0)
        return copy_hashing(src, dst, size)
    read_in_order(src_fd)
    if drop_source is None:
        drop_source = drops_source(size, available_memory())
    state = _Copied()
    state.bytes = first
    digest = hashlib.sha256()
    view = memoryview(bytearray(buffer_bytes))
    copier = threading.Thread(
        target=_kernel_copy, args=(src_fd, dst_fd, size, step, state, drop_source), name="tradewh-copy", daemon=True
    )
    if first:
        copier.start()
    else:
        state.done = True
    hashed = 0
    try:
        while True:
            with state.changed:
                state.changed.wait_for(lambda hashed=hashed: state.bytes > hashed or state.done)
                upto, done = state.bytes, state.done
            while hashed < upto:
                n = os.preadv(dst_fd, [view[: min(buffer_bytes, upto - hashed)]], hashed)
                if not n:
                    raise OSError(errno.EIO, "the copy is shorter than the bytes copied into it")
                digest.update(view[:n])
                hashed += n
            if done:
                break
    finally:
        state.stop = True
        if copier.is_alive():
            copier.join()
    if state.error is not None:
        raise state.error
    return digest.hexdigest(), hashed
