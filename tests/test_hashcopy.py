"""The raw zone's copies: a file on disk copied by the kernel and hashed as read back (``hashcopy``)."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.extract import fetch, hashcopy


def _copy(src_path: Path, dst_path: Path, **kwargs) -> tuple[str, int]:
    with open(src_path, "rb", buffering=0) as src, open(dst_path, "w+b", buffering=0) as dst:
        return hashcopy.copy_file_hashing(src, dst, src_path.stat().st_size, **kwargs)


@pytest.mark.parametrize("size", [0, 1, 2, 4095, 4096, 65_537, 1_000_003])
@pytest.mark.parametrize(("step", "buffer_bytes"), [(4096, 1000), (hashcopy.COPY_STEP, hashcopy.HASH_BUFFER)])
def test_the_copy_is_the_file_and_its_hash_the_copys(tmp_path: Path, size: int, step: int, buffer_bytes: int):
    """Every size (empty, one byte, a page and one, many steps and buffers of odd sizes): the same bytes, and the
    SHA-256 of the copy, whatever the step and the read-back buffer."""
    data = os.urandom(size)
    (tmp_path / "src.csv").write_bytes(data)
    digest, copied = _copy(tmp_path / "src.csv", tmp_path / "dst.csv", step=step, buffer_bytes=buffer_bytes)
    assert (tmp_path / "dst.csv").read_bytes() == data
    assert (digest, copied) == (hashlib.sha256(data).hexdigest(), size)


def test_a_file_grown_since_its_size_was_taken_is_copied_to_its_end(tmp_path: Path):
    """The size given is where the failpoint fires, not where the copy stops: bytes appended after the caller's
    stat are copied and hashed too (the caller's check of the stat then refuses the payload)."""
    data = b"a,b\n" * 50_000
    (tmp_path / "src.csv").write_bytes(data)
    with open(tmp_path / "src.csv", "rb", buffering=0) as src, open(tmp_path / "dst.csv", "w+b", buffering=0) as dst:
        digest, copied = hashcopy.copy_file_hashing(src, dst, 10, step=4096)
    assert (copied, digest) == (len(data), hashlib.sha256(data).hexdigest())


def test_where_the_kernel_cannot_copy_the_stream_copy_does_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Files the kernel cannot copy between (another file system on an old kernel): known at the first byte,
    before anything is written, and the stream copy makes the same copy."""
    data = os.urandom(100_000)
    (tmp_path / "src.csv").write_bytes(data)
    calls = []

    def refuse(*args: object) -> int:
        calls.append(args)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    digest, copied = _copy(tmp_path / "src.csv", tmp_path / "dst.csv")
    assert len(calls) == 1
    assert (tmp_path / "dst.csv").read_bytes() == data
    assert (digest, copied) == (hashlib.sha256(data).hexdigest(), len(data))


def test_a_kernel_that_copies_nothing_of_a_file_with_bytes_leaves_it_to_the_stream_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A file system answering 0 bytes copied at offset 0 of a file that has bytes (some do, for files whose size
    they report but cannot splice): the stream copy makes the copy, not an empty one."""
    data = os.urandom(30_000)
    (tmp_path / "src.csv").write_bytes(data)
    monkeypatch.setattr(os, "copy_file_range", lambda *args: 0)
    digest, copied = _copy(tmp_path / "src.csv", tmp_path / "dst.csv")
    assert (tmp_path / "dst.csv").read_bytes() == data
    assert (digest, copied) == (hashlib.sha256(data).hexdigest(), len(data))


def test_a_read_error_of_the_source_is_raised_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An error other than 'cannot copy here' in the middle of the copy (a disk error, a full disk) is raised in
    the caller's thread, and the copying thread is not left running."""
    (tmp_path / "src.csv").write_bytes(os.urandom(50_000))
    real = os.copy_file_range
    calls = []

    def failing(src: int, dst: int, count: int, offset_src: int, offset_dst: int) -> int:
        calls.append(offset_src)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, count, offset_src, offset_dst)

    monkeypatch.setattr(os, "copy_file_range", failing)
    with pytest.raises(OSError, match="No space left"):
        _copy(tmp_path / "src.csv", tmp_path / "dst.csv", step=4096)
    assert not [t for t in threading.enumerate() if t.name == "tradewh-copy"]


def test_a_copy_that_cannot_be_read_back_is_made_by_the_stream_copy(tmp_path: Path):
    """A destination opened for writing only cannot be read back to hash it: the stream copy hashes on the way."""
    data = os.urandom(70_000)
    (tmp_path / "src.csv").write_bytes(data)
    with open(tmp_path / "src.csv", "rb", buffering=0) as src, open(tmp_path / "dst.csv", "wb", buffering=0) as dst:
        digest, copied = hashcopy.copy_file_hashing(src, dst, len(data))
    assert (tmp_path / "dst.csv").read_bytes() == data
    assert (digest, copied) == (hashlib.sha256(data).hexdigest(), len(data))


def test_a_local_file_is_kept_by_the_kernel_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``fetch_source`` of a path location keeps it through ``copy_file_hashing``; the kept bytes and their name
    are the file's."""
    data = b"reporter,year,value\n" + b"CHN,2011,1.5\n" * 20_000
    src = tmp_path / "in" / "figures.csv"
    src.parent.mkdir()
    src.write_bytes(data)
    used = []
    real = hashcopy.copy_file_hashing
    monkeypatch.setattr(fetch, "copy_file_hashing", lambda *a, **k: used.append(a) or real(*a, **k))
    payload, _ = fetch._store_local(src, tmp_path / "raw", "test_source", None)
    assert len(used) == 1
    assert payload.raw_path.read_bytes() == data
    assert payload.sha256 == hashlib.sha256(data).hexdigest() == payload.raw_path.parent.name


def test_failpoint_fires_with_half_a_file_in_a_part_file(tmp_path: Path):
    """A process killed at the failpoint (TRADEWH_FAILPOINT=fetch) while the kernel copies a local file leaves
    half of it under a temporary name and nothing under a final one; the next fetch keeps it whole."""
    data = b"x" * 1_000_001
    src = tmp_path / "figures.csv"
    src.write_bytes(data)
    store = (
        "import sys; from pathlib import Path; from warehouse.extract.fetch import _store_local; "
        "_store_local(Path(sys.argv[1]), Path(sys.argv[2]), 'test_source', None)"
    )
    env = {**os.environ, "TRADEWH_FAILPOINT": "fetch"}
    killed = subprocess.run(
        [sys.executable, "-c", store, str(src), str(tmp_path / "raw")], env=env, cwd=PROJECT_ROOT, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    (part,) = (tmp_path / "raw" / "test_source").iterdir()
    assert part.name.startswith(".part-") and part.stat().st_size == len(data) // 2
    payload, _ = fetch._store_local(src, tmp_path / "raw", "test_source", None)
    assert payload.raw_path.read_bytes() == data


def test_staging_does_not_read_again_a_copy_this_run_hashed_but_reads_a_changed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Staging's check of a raw payload's SHA-256: a copy this process made and hashed as read back, its stat
    unchanged, is not read a second time; the same copy rewritten since (same size, other bytes), a payload naming
    other bytes, or a copy this process did not make (kept by an earlier run), is read and checked."""
    from warehouse.stage import staging

    data = b"reporter,year,value\n" + b"CHN,2011,1.5\n" * 1000
    src = tmp_path / "figures.csv"
    src.write_bytes(data)
    payload, _ = fetch._store_local(src, tmp_path / "raw", "test_source", None)
    reads = []
    real = staging.sha256_file
    monkeypatch.setattr(staging, "sha256_file", lambda path: reads.append(path) or real(path))
    assert staging._raw_problems([payload]) == [] and reads == []
    other = replace(payload, sha256="0" * 64)  # a payload naming other bytes than those hashed here: read
    ((problem, detail),) = staging._raw_problems([other])
    assert problem == other and "hashes to" in detail and reads == [payload.raw_path]
    reads.clear()

    time.sleep(0.05)  # another clock tick: a rewrite shows in the mtime and ctime
    payload.raw_path.write_bytes(data.replace(b"1.5", b"9.5"))
    ((problem, detail),) = staging._raw_problems([payload])
    assert problem == payload and "hashes to" in detail and reads == [payload.raw_path]

    earlier = tmp_path / "earlier" / payload.sha256 / "figures.csv"  # kept by an earlier run: read
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(data)
    assert staging._raw_problems([replace(payload, raw_path=earlier)]) == [] and reads[-1] == earlier


def _resident_pages(path: Path) -> int:
    """Pages of ``path`` in the page cache (``mincore`` on a mapping of it, which reads nothing in)."""
    import ctypes
    import ctypes.util
    import mmap

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        vector = (ctypes.c_ubyte * pages)()
        address = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
        if libc.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), vector) != 0:
            pytest.skip(f"mincore: {os.strerror(ctypes.get_errno())}")
        return sum(v & 1 for v in vector)


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here")
@pytest.mark.parametrize("drop", [True, False])
def test_a_copy_that_drops_its_source_leaves_the_copy_cached_and_not_the_source(tmp_path: Path, drop: bool):
    """With ``drop_source`` the source's pages leave the page cache behind the copy (the copy's stay: they are
    read next); without it, they stay where they were. Measured with ``mincore``, on a file system that honours
    the hint (tmpfs keeps its pages: skipped there)."""
    data = os.urandom(8 * 1024**2 + 123)
    src, dst = tmp_path / "src.csv", tmp_path / "dst.csv"
    src.write_bytes(data)
    with open(src, "rb") as fh:
        os.fsync(fh.fileno())  # clean pages: only those can be let go
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    if _resident_pages(src):
        pytest.skip("this file system keeps a file's pages when told they are not needed")
    assert src.read_bytes() == data  # every page read in again
    total = _resident_pages(src)
    assert total > 0
    digest, copied = _copy(src, dst, step=1024**2, drop_source=drop)
    assert (digest, copied) == (hashlib.sha256(data).hexdigest(), len(data))
    assert dst.read_bytes() == data
    if drop:
        assert _resident_pages(src) == 0
    else:
        assert _resident_pages(src) == total
    assert _resident_pages(dst) > 0  # read back for the hash: in the page cache


def test_a_source_is_dropped_only_when_it_and_its_copy_do_not_fit_in_memory():
    """Twice the file's size against the memory available: a 20 GB file on a 23.5 GiB machine is let go behind
    its copy, a 2 GB one is not; where the kernel does not say (no /proc/meminfo), nothing is dropped."""
    gib = 1024**3
    available = int(23.5 * gib)
    assert hashcopy.drops_source(20 * gib, available) is True
    assert hashcopy.drops_source(2 * gib, available) is False
    assert hashcopy.drops_source(available // 2, available) is False
    assert hashcopy.drops_source(available // 2 + 1, available) is True
    assert hashcopy.drops_source(20 * gib, None) is False
    assert hashcopy.available_memory() is None or hashcopy.available_memory() > 0


def test_every_file_read_to_its_end_is_declared_read_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The copy's source, a file hashed by the fetch, a lake file hashed by the manifest and a CSV whose lines are
    scanned ahead of its parser are each declared ``POSIX_FADV_SEQUENTIAL`` to the kernel before they are read (the
    read-ahead that made a cold 20 GB file read at 1.5 GB/s instead of 0.5 GB/s here: measured, not asserted);
    the copy is still the file."""
    from warehouse.lake.manifest import sha256_file
    from warehouse.parse.csvtext import scan_lines

    advised: list[tuple[int, int]] = []
    real = os.posix_fadvise

    def recording(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((os.fstat(fd).st_ino, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording)
    data = os.urandom(300_000)
    src = tmp_path / "src.csv"
    src.write_bytes(data)
    inode = src.stat().st_ino
    def stream_copy() -> None:
        with open(src, "rb") as fh, open(tmp_path / "stream.csv", "wb", buffering=0) as dst:
            hashcopy.copy_hashing(fh, dst, len(data))

    def fetch_hash() -> None:
        with open(src, "rb") as fh:
            hashcopy.sha256_of(fh)

    for read in (lambda: _copy(src, tmp_path / "kernel.csv", drop_source=False), stream_copy, fetch_hash,
                 lambda: sha256_file(src), lambda: scan_lines(src)):  # fmt: skip
        advised.clear()
        read()
        assert (inode, os.POSIX_FADV_SEQUENTIAL) in advised, read
    assert (tmp_path / "kernel.csv").read_bytes() == (tmp_path / "stream.csv").read_bytes() == data


def test_a_stream_without_a_file_is_read_without_the_hint(tmp_path: Path):
    """Bytes in memory and a pipe: nothing to declare, the same bytes and hash."""
    import io

    data = os.urandom(70_000)
    assert hashcopy.sha256_of(io.BytesIO(data)) == hashlib.sha256(data).hexdigest()
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(write_end, data), os.close(write_end)))
    writer.start()
    with open(read_end, "rb", buffering=0) as pipe, open(tmp_path / "copy", "wb", buffering=0) as dst:
        assert hashcopy.copy_hashing(pipe, dst, len(data)) == (hashlib.sha256(data).hexdigest(), len(data))
    writer.join()
    assert (tmp_path / "copy").read_bytes() == data
