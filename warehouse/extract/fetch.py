"""Fetch: bring each catalogue entry's payloads into the raw zone, exactly as served, named by SHA-256.

HTTP sources are fetched by ``warehouse.extract.http`` (bounded in time and bytes per source, streamed to disk
through ``PartFile``), conditionally: the validators of the last successful fetch of a URL (ETag,
Last-Modified) are kept in ``raw/<source_id>/_http_state.json`` (see ``warehouse.extract.http_state``) and sent back;
a 304 returns the body already kept, so the flow sees the same SHA-256 and skips the source. A key the
publisher requires is read from an environment variable (or a Prefect Secret block) named by the caller and is
never written anywhere: not in messages, logs, ``Payload.origin``, the state file or the raw file name.

Local files (``seed`` and ``path`` locations) are copied by the kernel and hashed as read back, in bounded memory
(``warehouse.extract.hashcopy``). What each was when hashed (size, mtime, ctime, inode, device, SHA-256) is kept in
``raw/<source_id>/_file_state.json`` (see ``warehouse.extract.file_state``): a file whose stat is unchanged, and
whose copy is still kept, is not read at all. Its copy's fsync runs in the background until the lake commit
(``warehouse.extract.durable``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from warehouse.common.errors import SourceError
from warehouse.common.failpoints import failpoint
from warehouse.extract import catalogue, file_state
from warehouse.extract.catalogue import Source
from warehouse.extract.durable import durable_later, hashed_here, is_kept
from warehouse.extract.file_state import FileSeen
from warehouse.extract.hashcopy import CHUNK_BYTES, copy_file_hashing, copy_hashing, sha256_of

HTTP_TIMEOUT_S = 60  # fetch_url's default wait to connect or for the next bytes
USER_AGENT = "tradewh"
BOM = b"\xef\xbb\xbf"
DATAPACKAGE = "datapackage.json"  # Frictionless metadata: <stem>.datapackage.json for one file, or a folder's


@dataclass(frozen=True)
class Payload:
    """One fetched file, kept in the raw zone.

    Attributes:
        source_id: the catalogue entry it belongs to.
        name: the publisher's file name (or the last part of the URL).
        origin: where it came from (path or URL, with any key redacted), for messages and the audit.
        raw_path: where the bytes are kept (``raw/<source_id>/<sha256>/<name>``), never modified.
        sha256: hex digest of the bytes.
        size: number of bytes.
        metadata: the raw path of the data package that describes this file (``<stem>.datapackage.json`` or the
            ``datapackage.json`` of its folder, kept in the raw zone as a payload of its own), or None.
        role: 'data' (a file to parse), or 'metadata' (a data package, read with the files it describes and
            never parsed alone; kept and hashed like any payload, so a change to it is a change of the source).
    """

    source_id: str
    name: str
    origin: str
    raw_path: Path
    sha256: str
    size: int
    metadata: Path | None = None
    role: str = "data"


def confine(path: Path, roots: tuple[Path, ...], *, source_id: str) -> Path:
    """Resolve a path (following symlinks) and refuse it unless it lies inside one of the roots."""
    resolved = path.resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise SourceError(
            f"path {path} resolves to {resolved}, outside the allowed roots {[str(r) for r in roots]}",
            source_id=source_id,
            file=str(path),
            rule="path_outside_roots",
        )
    return resolved


def locate(source: Source, *, seeds_dir: Path, project_root: Path, roots: tuple[Path, ...]) -> list[str | Path]:
    """The files (or URL) a catalogue entry points at, sorted; an empty match is an error."""
    if source.location_kind == "url":
        return [source.location]
    base = seeds_dir if source.location_kind == "seed" else project_root
    pattern = Path(source.location)
    if pattern.is_absolute():
        base, pattern = Path(pattern.anchor), pattern.relative_to(pattern.anchor)
    if ".." in pattern.parts:
        raise SourceError(
            f"location '{source.location}' climbs out with '..'",
            source_id=source.id,
            file=source.location,
            rule="path_outside_roots",
        )
    allowed = (seeds_dir,) if source.location_kind == "seed" else roots
    matches = sorted(p for p in base.glob(str(pattern)) if p.is_file())
    if not matches:
        raise SourceError(
            f"no file matches '{source.location}' under {base}",
            source_id=source.id,
            file=source.location,
            rule="file_missing",
        )
    return [confine(p, allowed, source_id=source.id) for p in matches]


def companion(path: Path) -> Path | None:
    """The data package beside a local file that may describe it: ``<stem>.datapackage.json``, else the folder's
    ``datapackage.json`` (the World Bank's ``indicators/<code>/data.csv`` beside ``datapackage.json``); or None."""
    if path.name.endswith(DATAPACKAGE):
        return None
    for candidate in (path.with_name(f"{path.stem}.{DATAPACKAGE}"), path.with_name(DATAPACKAGE)):
        if candidate.is_file():
            return candidate
    return None


def _raw_path(raw_dir: Path, source_id: str, sha256: str, name: str) -> Path:
    return raw_dir / source_id / sha256 / name


def store_payload(
    data: bytes | BinaryIO,
    name: str,
    raw_dir: Path,
    source_id: str,
    origin: str,
    *,
    hash_first: bool = True,
    check: Callable[[], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    durable: bool = True,
    on_disk: bool = False,
) -> Payload:
    """Keep a payload in the raw zone as ``raw/<source_id>/<sha256>/<name>``, in chunks (bounded memory).

    The bytes are copied to a ``.part-`` file in ``raw/<source_id>/`` while they are hashed, fsync'd, then renamed
    to their final name: a crash leaves a temporary file (cleared by the next run), never part of a payload under
    a final name. With ``hash_first`` the payload is read once to hash it before anything is written, and nothing
    is written when those bytes are already kept; without it (the caller expects new bytes) it is read only once,
    and a copy of bytes already kept is discarded.

    Args:
        data: the bytes, or a binary file open for reading at its start.
        name: the file name to keep them under.
        raw_dir: the raw zone.
        source_id: the catalogue entry.
        origin: where they came from (for the payload).
        hash_first: hash before copying (see above).
        check: called once the bytes are read, before they are kept; raises when the source changed meanwhile.
        chunk_bytes: the size of each piece read, hashed and written (the memory it takes, twice).
        durable: False: named at once, fsync'd in the background (``durable.wait_durable``), for bytes kept elsewhere.
        on_disk: ``data`` is a file on disk: the kernel copies it (``hashcopy.copy_file_hashing``; ``chunk_bytes``
            then only sizes the hash of ``hash_first``).

    Returns:
        The payload.

    Raises:
        SourceError: 'file_changed_while_read' when the bytes copied are not those hashed first.
    """
    src = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    size = src.seek(0, io.SEEK_END)
    src.seek(0)
    expected = None
    if hash_first:
        expected = sha256_of(src, chunk_bytes)
        target = _raw_path(raw_dir, source_id, expected, name)
        if is_kept(target, size):
            if check is not None:
                check()
            return Payload(source_id, name, origin, target, expected, size)
        src.seek(0)
    folder = raw_dir / source_id
    folder.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with open(fd, "wb", buffering=0) as dst:
            if on_disk:
                sha256, size = copy_file_hashing(src, dst, size)
            else:
                sha256, size = copy_hashing(src, dst, size, chunk_bytes)
            if durable:
                os.fsync(dst.fileno())
        if check is not None:
            check()
        if expected is not None and sha256 != expected:
            raise SourceError(
                f"{origin} changed while it was read (its SHA-256 differs between two reads): fetch it again "
                "once the publisher has finished writing it",
                source_id=source_id,
                file=origin,
                rule="file_changed_while_read",
            )
        target = _raw_path(raw_dir, source_id, sha256, name)
        if not is_kept(target, size):
            target.parent.mkdir(exist_ok=True)
            os.replace(part, target)
            if not durable:
                durable_later(target)
            if on_disk:
                hashed_here(target, sha256)  # the hash is of this copy read back: staging need not read it again
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return Payload(source_id, name, origin, target, sha256, size)


def _store_local(path: Path, raw_dir: Path, source_id: str, seen: FileSeen | None) -> tuple[Payload, FileSeen]:
    """Keep a local file in the raw zone, without reading it when its stat is as it was when last hashed.

    Args:
        path: the file (resolved).
        raw_dir: the raw zone.
        source_id: the catalogue entry.
        seen: what the last fetch saw of this file, or None.

    Returns:
        The payload, and what this fetch saw (for ``raw/<source_id>/_file_state.json``).
    """
    if seen is not None and seen.unchanged(path.stat()):
        kept = _raw_path(raw_dir, source_id, seen.sha256, path.name)
        with contextlib.suppress(FileNotFoundError):
            if kept.stat().st_size == seen.size:
                return Payload(source_id, path.name, str(path), kept, seen.sha256, seen.size), seen
    with open(path, "rb", buffering=0) as src:
        hashed_at = time.time_ns()  # before the stat: see file_state on racy entries
        before = os.fstat(src.fileno())

        def unchanged_while_read() -> None:
            after = os.fstat(src.fileno())
            if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (
                before.st_size,
                before.st_mtime_ns,
                before.st_ctime_ns,
            ):
                raise SourceError(
                    f"{path} changed while it was read: fetch it again once it is completely written",
                    source_id=source_id,
                    file=str(path),
                    rule="file_changed_while_read",
                )

        # the same size as last time: probably the same bytes, so hash first; fsync'd by the time the lake commits
        same_size = seen is not None and seen.size == before.st_size
        payload = store_payload(
            src,
            path.name,
            raw_dir,
            source_id,
            str(path),
            hash_first=same_size,
            check=unchanged_while_read,
            durable=False,
            on_disk=True,
        )
    return payload, FileSeen.of(before, sha256=payload.sha256, name=path.name, hashed_at_ns=hashed_at)


# --- keys: where they come from, and keeping them out of everything written ----------------------------------


class PartFile:
    """A payload being received: a ``.part-`` file in ``raw/<source_id>/``, hashed as written, kept by a rename.

    Memory stays flat whatever the size. The file is made at the first write; ``keep`` fsyncs it and renames it
    to ``raw/<source_id>/<sha256>/<name>`` (or drops it when those bytes are already kept). Leaving its ``with``
    block (or ``discard``) deletes a file not kept; a crash leaves only the temporary file, which the next run
    clears.
    """

    def __init__(self, raw_dir: Path, source_id: str) -> None:
        self.raw_dir, self.source_id, self.size = raw_dir, source_id, 0
        self._file: BinaryIO | None = None
        self._path: str | None = None
        self._digest = hashlib.sha256()
        self._rehash = False  # truncated: the digest of what was written is not the file's

    def __enter__(self) -> PartFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def _opened(self) -> BinaryIO:
        if self._file is None:
            folder = self.raw_dir / self.source_id
            folder.mkdir(parents=True, exist_ok=True)
            fd, self._path = tempfile.mkstemp(dir=folder, prefix=".part-")
            self._file = open(fd, "w+b", buffering=0)  # noqa: SIM115 (closed by keep or discard)
        return self._file

    def write(self, data: bytes) -> None:
        dst, view = self._opened(), memoryview(data)
        while view:
            view = view[dst.write(view) :]
        self._digest.update(data)
        if not self.size and data:
            failpoint("fetch")  # the first bytes of a payload on disk under a temporary name
        self.size += len(data)

    def truncate(self, size: int) -> None:
        """Cut the file to its first ``size`` bytes (writing goes on from there)."""
        if size < self.size:
            dst = self._opened()
            dst.truncate(size)
            dst.seek(size)
            self.size, self._rehash = size, True

    def chunks(self) -> Iterator[bytes]:
        """The bytes written so far, in CHUNK_BYTES pieces."""
        src = self._opened()
        src.seek(0)
        while chunk := src.read(CHUNK_BYTES):
            yield chunk
        src.seek(self.size)

    def keep(self, name: str, origin: str) -> Payload:
        """Keep the bytes as ``raw/<source_id>/<sha256>/<name>``; the payload."""
        dst = self._opened()
        if self._rehash:
            dst.seek(0)
            sha256 = sha256_of(dst)
        else:
            sha256 = self._digest.hexdigest()
        os.fsync(dst.fileno())
        dst.close()
        target = _raw_path(self.raw_dir, self.source_id, sha256, name)
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            os.replace(self._path, target)
            self._path = None
        self.discard()
        return Payload(self.source_id, name, origin, target, sha256, self.size)

    def discard(self) -> None:
        """Delete the file unless it was kept."""
        if self._file is not None:
            self._file.close()
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            self._path = None


def fetch_url(
    url: str,
    *,
    source_id: str,
    raw_dir: Path,
    timeout: float = HTTP_TIMEOUT_S,
    headers_from_env: Mapping[str, str] | None = None,
    secret_blocks: Mapping[str, str] | None = None,
) -> Payload:
    """GET a URL (conditionally, when a body of it is kept) and keep the body in the raw zone.

    The catalogue's default limits apply (``fetch_source`` applies a source's own): the whole fetch within
    ``HTTP_TIMEOUT_S`` of ``warehouse.extract.catalogue``, at most ``HTTP_MAX_BYTES`` received. See
    ``warehouse.extract.http.fetch_url`` for what it raises.

    Args:
        url: an http(s) URL.
        source_id: the catalogue entry.
        raw_dir: the raw zone.
        timeout: seconds to wait for the server at each step (to connect, for the next bytes).
        headers_from_env: header name -> the environment variable holding its value (an API key).
        secret_blocks: header name -> a Prefect Secret block holding its value when the variable is unset.

    Returns:
        The payload: the new body, or on a 304 the body kept by the last fetch (same SHA-256).
    """
    from warehouse.extract import http as http_fetch  # it builds on this module's raw store

    return http_fetch.fetch_url(
        url,
        source_id=source_id,
        raw_dir=raw_dir,
        timeout_s=catalogue.HTTP_TIMEOUT_S,
        read_timeout_s=timeout,
        budget=http_fetch.Budget(catalogue.HTTP_MAX_BYTES),
        headers_from_env=headers_from_env,
        secret_blocks=secret_blocks,
    )


def fetch_source(
    source: Source,
    *,
    seeds_dir: Path,
    project_root: Path,
    roots: tuple[Path, ...],
    raw_dir: Path,
    headers_from_env: Mapping[str, str] | None = None,
    secret_blocks: Mapping[str, str] | None = None,
) -> list[Payload]:
    """Fetch every payload of a catalogue entry into the raw zone.

    Args:
        source: the catalogue entry.
        seeds_dir: the project's shipped sources (for ``seed`` locations).
        project_root: base of relative ``path`` locations.
        roots: the folders a ``path`` may resolve into.
        raw_dir: the raw zone.
        headers_from_env: for a ``url`` location, header name -> the environment variable holding its value.
        secret_blocks: for a ``url`` location, header name -> a Prefect Secret block read when the variable is unset.

    Returns:
        The payloads, in a stable order. A local file whose stat is as it was when last hashed is not read. A URL
        is fetched within the source's ``[source.http]`` limits (``timeout_s``, ``read_timeout_s``, ``max_bytes``).
        The data package beside a local file (``companion``) comes with it, after the files, as a payload of role
        'metadata' (once, however many files it describes), and each file it describes names its raw copy
        (``Payload.metadata``): in the raw zone each payload has a folder of its own, so it is no longer beside them.
    """
    payloads = []
    kept = file_state.load_state(raw_dir, source.id) if source.location_kind != "url" else {}
    seen: dict[str, FileSeen] = {}
    budget = None
    located = locate(source, seeds_dir=seeds_dir, project_root=project_root, roots=roots)
    companions = {item: companion(item) for item in located if isinstance(item, Path)}
    described = {c for c in companions.values() if c is not None}
    for item in located:
        if isinstance(item, Path) and item in described:
            continue  # a data package matched by the glob too: it comes as the metadata of the files it describes
        if isinstance(item, str):
            from warehouse.extract import http as http_fetch  # it builds on this module's raw store

            budget = budget or http_fetch.Budget(source.http_max_bytes)  # one for all the source's answers
            payloads.append(
                http_fetch.fetch_url(
                    item,
                    source_id=source.id,
                    raw_dir=raw_dir,
                    timeout_s=source.http_timeout_s,
                    read_timeout_s=source.http_read_timeout_s,
                    budget=budget,
                    headers_from_env=headers_from_env,
                    secret_blocks=secret_blocks,
                )
            )
        else:
            payload, seen[str(item)] = _store_local(item, raw_dir, source.id, kept.get(str(item)))
            payloads.append(payload)
    metadata: dict[Path, Payload] = {}
    for path in sorted(described):
        confined = confine(path, (seeds_dir,) if source.location_kind == "seed" else roots, source_id=source.id)
        package, seen[str(path)] = _store_local(confined, raw_dir, source.id, kept.get(str(path)))
        metadata[path] = replace(package, role="metadata")
    payloads = [
        replace(p, metadata=metadata[companions[Path(p.origin)]].raw_path)
        if companions.get(Path(p.origin)) is not None
        else p
        for p in payloads
    ]
    payloads.extend(metadata[path] for path in sorted(metadata))
    if seen != kept:
        file_state.save_state(raw_dir, source.id, seen)
    return payloads
