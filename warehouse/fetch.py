"""Fetch: bring each catalogue entry's payloads into the raw zone, exactly as served, named by SHA-256."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from warehouse.catalogue import Source
from warehouse.errors import SourceError
from warehouse.failpoints import failpoint

HTTP_TIMEOUT_S = 60
MAX_PAYLOAD_BYTES = 2 * 1024**3
CHUNK_BYTES = 1024**2


@dataclass(frozen=True)
class Payload:
    """One fetched file, kept in the raw zone.

    Attributes:
        source_id: the catalogue entry it belongs to.
        name: the publisher's file name (or the last part of the URL).
        origin: where it came from (path or URL), for messages and the audit.
        raw_path: where the bytes are kept (``raw/<source_id>/<sha256>/<name>``), never modified.
        sha256: hex digest of the bytes.
        size: number of bytes.
    """

    source_id: str
    name: str
    origin: str
    raw_path: Path
    sha256: str
    size: int


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


def _store(data: bytes, name: str, raw_dir: Path, source_id: str, origin: str) -> Payload:
    digest = hashlib.sha256(data).hexdigest()
    target = raw_dir / source_id / digest / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".part-") as tmp:
            tmp.write(data[: len(data) // 2])
            failpoint("fetch")  # half a payload on disk under a temporary name
            tmp.write(data[len(data) // 2 :])
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, target)
    return Payload(source_id, name, origin, target, digest, len(data))


def _read_bounded(response: http.client.HTTPResponse, *, url: str, source_id: str) -> bytes:
    """Read a body in chunks, refusing one larger than MAX_PAYLOAD_BYTES rather than keeping it cut."""
    chunks, size = [], 0
    while chunk := response.read(CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise SourceError(
                f"body larger than the {MAX_PAYLOAD_BYTES} bytes allowed",
                source_id=source_id,
                file=url,
                rule="payload_too_large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_url(url: str, *, source_id: str, raw_dir: Path, timeout: float = HTTP_TIMEOUT_S) -> Payload:
    """GET a URL and keep the body; an HTTP error, a short body or an HTML page is a SourceError.

    Network errors (connection refused, 5xx, 429) are raised as ``ConnectionError`` so the Prefect task's
    retries apply; a 4xx other than 429 is final.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "tradewh"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (URL from the catalogue)
            expected = response.headers.get("Content-Length")
            content_type = response.headers.get("Content-Type", "")
            data = _read_bounded(response, url=url, source_id=source_id)
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise ConnectionError(f"[{source_id}] {url}: HTTP {exc.code}, will retry") from exc
        raise SourceError(f"HTTP {exc.code} {exc.reason}", source_id=source_id, file=url, rule="http_status") from exc
    except http.client.IncompleteRead as exc:
        raise SourceError(
            f"truncated body: the connection closed after {len(exc.partial)} bytes",
            source_id=source_id,
            file=url,
            rule="truncated_body",
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        raise ConnectionError(f"[{source_id}] {url}: {exc}") from exc
    if expected is not None and expected.isdigit() and int(expected) != len(data):
        raise SourceError(
            f"truncated body: {len(data)} bytes of the {expected} announced",
            source_id=source_id,
            file=url,
            rule="truncated_body",
        )
    if "html" in content_type.lower():
        raise SourceError(f"served {content_type}, not data", source_id=source_id, file=url, rule="html_not_csv")
    name = urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        name = "payload"
    return _store(data, name, raw_dir, source_id, url)


def fetch_source(
    source: Source, *, seeds_dir: Path, project_root: Path, roots: tuple[Path, ...], raw_dir: Path
) -> list[Payload]:
    """Fetch every payload of a catalogue entry into the raw zone.

    Args:
        source: the catalogue entry.
        seeds_dir: the project's shipped sources (for ``seed`` locations).
        project_root: base of relative ``path`` locations.
        roots: the folders a ``path`` may resolve into.
        raw_dir: the raw zone.

    Returns:
        The payloads, in a stable order.
    """
    payloads = []
    for item in locate(source, seeds_dir=seeds_dir, project_root=project_root, roots=roots):
        if isinstance(item, str):
            payloads.append(fetch_url(item, source_id=source.id, raw_dir=raw_dir))
        else:
            payloads.append(_store(item.read_bytes(), item.name, raw_dir, source.id, str(item)))
    return payloads
