"""Fetch: bring each catalogue entry's payloads into the raw zone, exactly as served, named by SHA-256.

HTTP sources are fetched conditionally: the validators of the last successful fetch of a URL (ETag,
Last-Modified) are kept in ``raw/<source_id>/_http_state.json`` (see ``warehouse.http_state``) and sent back;
a 304 returns the body already kept, so the flow sees the same SHA-256 and skips the source. A key the
publisher requires is read from an environment variable (or a Prefect Secret block) named by the caller and is
never written anywhere: not in messages, logs, ``Payload.origin``, the state file or the raw file name.

Local files (``seed`` and ``path`` locations) are copied and hashed in chunks, never read whole into memory. What
each was when hashed (size, mtime, ctime, inode, device, SHA-256) is kept in ``raw/<source_id>/_file_state.json``
(see ``warehouse.file_state``): a file whose stat is unchanged, and whose copy is still kept, is not read at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import http.client
import io
import itertools
import json
import logging
import os
import re
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from email.message import Message
from pathlib import Path
from typing import BinaryIO

from warehouse import file_state, http_state
from warehouse.catalogue import Source
from warehouse.errors import SourceError
from warehouse.failpoints import failpoint
from warehouse.file_state import FileSeen
from warehouse.http_state import KeptResponse

HTTP_TIMEOUT_S = 60
MAX_PAYLOAD_BYTES = 2 * 1024**3
CHUNK_BYTES = 1024**2
RETRY_AFTER_CAP_S = 30.0  # the longest a Retry-After is honoured before the task's own retry (tests patch it to 0)
API_ERROR_MAX_BYTES = 64 * 1024  # a JSON body larger than this is data, not an error document
ERROR_MESSAGE_MAX_CHARS = 500
USER_AGENT = "tradewh"
BOM = b"\xef\xbb\xbf"

_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:subscription-key|api[-_]?key|access[-_]?token|token|key|secret|password|passwd|sig|signature)=)"
    r"[^&;#\s'\"]*"
)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/?#@\s:]*:)[^/?#@\s]*@")

log = logging.getLogger(__name__)


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


def _raw_path(raw_dir: Path, source_id: str, sha256: str, name: str) -> Path:
    return raw_dir / source_id / sha256 / name


def _sha256_of(src: BinaryIO) -> str:
    """Hex SHA-256 of a stream from where it stands to its end, read in CHUNK_BYTES pieces."""
    digest = hashlib.sha256()
    view = memoryview(bytearray(CHUNK_BYTES))
    while n := src.readinto(view):
        digest.update(view[:n])
    return digest.hexdigest()


def _copy_hashing(src: BinaryIO, dst: BinaryIO, size: int) -> tuple[str, int]:
    """Copy a stream into an unbuffered file in CHUNK_BYTES pieces, hashing each piece on the way (one read).

    Hashing needs the bytes in user space, so a kernel-only copy (sendfile, copy_file_range) would cost a second
    read; two reused buffers, each read into, then hashed (in a thread: hashlib releases the GIL) while it is
    written, the next one read meanwhile. Measured on a 2 GB file (copy, hash and fsync): about 5 s hashing in
    line with the writes, 1.7-2.6 s in parallel with them (SHA-256 alone reads at about 0.8 GB/s here).

    Returns:
        (hex SHA-256, bytes copied).
    """
    digest = hashlib.sha256()
    buffers = [memoryview(bytearray(CHUNK_BYTES)) for _ in range(2)]
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
            n = src.readinto(view if fired else view[: min(CHUNK_BYTES, half - copied)])
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


def _store(
    data: bytes | BinaryIO,
    name: str,
    raw_dir: Path,
    source_id: str,
    origin: str,
    *,
    hash_first: bool = True,
    check: Callable[[], None] | None = None,
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
        expected = _sha256_of(src)
        target = _raw_path(raw_dir, source_id, expected, name)
        if target.exists():
            if check is not None:
                check()
            return Payload(source_id, name, origin, target, expected, size)
        src.seek(0)
    folder = raw_dir / source_id
    folder.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with open(fd, "wb", buffering=0) as dst:
            sha256, size = _copy_hashing(src, dst, size)
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
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            os.replace(part, target)
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

        # the same size as last time: probably the same bytes (touched, copied again), so hash before writing
        same_size = seen is not None and seen.size == before.st_size
        payload = _store(
            src, path.name, raw_dir, source_id, str(path), hash_first=same_size, check=unchanged_while_read
        )
    return payload, FileSeen.of(before, sha256=payload.sha256, name=path.name, hashed_at_ns=hashed_at)


# --- keys: where they come from, and keeping them out of everything written ----------------------------------


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide keys in a URL or a message.

    Args:
        text: a URL or a message that may hold one.
        secrets: key values to hide wherever they appear (as is or URL-quoted).

    Returns:
        The text with key-like query parameters (``subscription-key=...``, ``api_key=...``, ``token=...``) and a
        URL's password shown as ``***``, and every secret value replaced by ``***``.
    """
    text = _SECRET_PARAM.sub(r"\1***", text)
    text = _USERINFO.sub(r"\1***@", text)
    for secret in secrets:
        for form in {secret, urllib.parse.quote(secret, safe="")}:
            if form:
                text = text.replace(form, "***")
    return text


def _from_secret_block(name: str) -> tuple[str, str]:
    """A Prefect Secret block's value, or ('', why not); what went wrong is named by its type only."""
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(name).get()
    except Exception as exc:  # noqa: BLE001 (no server, no block, no permission: all mean 'no key')
        return "", f"could not be loaded ({type(exc).__name__})"
    if not isinstance(value, str):
        return "", "does not hold a string"
    return value.strip(), "" if value.strip() else "is empty"


def _secret_value(header: str, variable: str | None, block: str | None, *, source_id: str, file: str) -> str:
    """The key for one header: the environment variable, else the Secret block; missing is 'missing_secret'."""
    value = os.environ.get(variable, "").strip() if variable else ""
    tried = [f"environment variable {variable} is not set"] if variable else []
    where = f"environment variable {variable}"
    if not value and block:
        value, problem = _from_secret_block(block)
        tried.append(f"Prefect Secret block '{block}' {problem}")
        where = f"Prefect Secret block '{block}'"
    if not value:
        detail = f"the {header} header needs a key: {'; '.join(tried)}"
        raise SourceError(detail, source_id=source_id, file=file, rule="missing_secret")
    if not (value.isascii() and value.isprintable()):
        detail = f"the key for the {header} header in {where} holds characters a header cannot carry"
        raise SourceError(detail, source_id=source_id, file=file, rule="bad_secret")
    return value


def secret_headers(
    headers_from_env: Mapping[str, str] | None,
    secret_blocks: Mapping[str, str] | None = None,
    *,
    source_id: str,
    file: str,
) -> dict[str, str]:
    """The request headers that carry keys, read from the environment (or Prefect Secret blocks).

    Args:
        headers_from_env: header name -> the environment variable holding its value.
        secret_blocks: header name -> a Prefect Secret block holding its value, read when the variable is unset.
        source_id: the catalogue entry, for messages.
        file: the (redacted) URL, for messages.

    Returns:
        Header name -> value.

    Raises:
        SourceError: 'missing_secret' naming the variable (and block) when no value is found; 'bad_secret' when
            the value cannot be a header value. Never with the value.
    """
    env, blocks = dict(headers_from_env or {}), dict(secret_blocks or {})
    return {
        header: _secret_value(header, env.get(header), blocks.get(header), source_id=source_id, file=file)
        for header in dict.fromkeys([*env, *blocks])
    }


@dataclass(frozen=True)
class _Target:
    """A URL being fetched for a source, and the keys that must not show in anything said about it."""

    source_id: str
    url: str
    secrets: tuple[str, ...]

    @property
    def origin(self) -> str:
        return redact(self.url, self.secrets)

    def error(self, detail: str, rule: str) -> SourceError:
        return SourceError(redact(detail, self.secrets), source_id=self.source_id, file=self.origin, rule=rule)

    def retryable(self, detail: str) -> ConnectionError:
        return ConnectionError(f"[{self.source_id}] {self.origin}: {redact(detail, self.secrets)}")


# --- the exchange ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Message
    body: bytes


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float:
    """How long a ``Retry-After`` header asks to wait.

    Args:
        value: the header: delay-seconds or an HTTP date; None when absent.
        now: the current time (for an HTTP date); the clock when None.

    Returns:
        Seconds, 0 when absent, unreadable or in the past.
    """
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def _wait(seconds: float) -> None:
    time.sleep(seconds)


def _honour_retry_after(value: str | None) -> float:
    """Sleep as long as Retry-After asks, at most RETRY_AFTER_CAP_S; return the seconds slept."""
    wait = min(retry_after_seconds(value), RETRY_AFTER_CAP_S)
    if wait > 0:
        _wait(wait)
    return wait


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


def _text_of(value: object) -> str:
    """A publisher's error message as text: strings as they are, WDI's {key, value} items as 'key: value'."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(_text_of(v) for v in value)
    if isinstance(value, dict):
        key = value.get("key")
        text = value.get("value") or value.get("message") or value.get("description")
        if text:
            return f"{key}: {_text_of(text)}" if isinstance(key, str) and key else _text_of(text)
    return json.dumps(value)


def _error_of(document: object) -> str | None:
    if isinstance(document, dict):
        if document.get("error"):  # UN Comtrade sends "error": "" with its data
            return _text_of(document["error"])
        status = document.get("statusCode")  # the API gateway's own errors (a wrong key, a quota)
        if isinstance(status, int) and status >= 400 and document.get("message"):
            return _text_of(document["message"])
        return None
    if isinstance(document, list) and document and isinstance(document[0], dict):
        first = document[0]
        if "message" in first and "page" not in first:  # World Bank API v2: [{"message": [{id, key, value}]}]
            return _text_of(first["message"])
    return None


def api_error_message(body: bytes) -> str | None:
    """The publisher's message if a body is a JSON API error document, else None.

    Args:
        body: a response body.

    Returns:
        The message of ``{"error": ...}`` (non-empty), ``{"statusCode": 4xx, "message": ...}`` or World Bank's
        ``[{"message": [...]}]``, cut to ERROR_MESSAGE_MAX_CHARS; None for anything else, or a body too large to
        be an error document.
    """
    text = body.removeprefix(BOM).lstrip()
    if len(body) > API_ERROR_MAX_BYTES or not text.startswith((b"{", b"[")):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    message = _error_of(document)
    return None if message is None else message[:ERROR_MESSAGE_MAX_CHARS]


def looks_like_html(body: bytes) -> bool:
    """Whether a body is an HTML page, whatever its content type said."""
    return body[:1024].removeprefix(BOM).lstrip().lower().startswith((b"<!doctype", b"<html"))


def _error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(API_ERROR_MAX_BYTES + 1)
    except (OSError, http.client.HTTPException):
        return b""


def _on_http_error(exc: urllib.error.HTTPError, target: _Target) -> _Reply:
    """A 304 as a reply; a 429 or 5xx as a ConnectionError (after Retry-After); any other as 'http_status'."""
    try:
        if exc.code == 304:
            return _Reply(304, exc.headers, b"")
        detail = f"HTTP {exc.code} {exc.reason}"
        if exc.code == 429 or exc.code >= 500:
            waited = _honour_retry_after(exc.headers.get("Retry-After"))
            slept = f", waited {waited:g} s as Retry-After asked" if waited else ""
            raise target.retryable(f"{detail}{slept}; a retry may succeed") from None
        message = api_error_message(_error_body(exc))
        said = f"; the publisher says: {message}" if message else ""
        raise target.error(f"{detail}{said}", "http_status") from None
    finally:
        exc.close()


def _exchange(request: urllib.request.Request, target: _Target, timeout: float) -> _Reply:
    """Send a request and read the whole reply; a broken exchange is a ConnectionError or 'truncated_body'.

    Errors are raised ``from None``: the exceptions they replace may carry the URL or server text unredacted.
    """
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            body = _read_bounded(response, url=target.origin, source_id=target.source_id)
            reply = _Reply(response.status, response.headers, body)
    except urllib.error.HTTPError as exc:
        return _on_http_error(exc, target)
    except http.client.IncompleteRead as exc:
        detail = f"truncated body: the connection closed after {len(exc.partial)} bytes"
        raise target.error(detail, "truncated_body") from None
    except http.client.InvalidURL as exc:
        raise target.error(f"not a usable URL: {exc}", "bad_url") from None
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        raise target.retryable(f"{type(exc).__name__}: {exc}") from None
    expected = reply.headers.get("Content-Length", "").strip()
    if expected.isdigit() and int(expected) != len(reply.body):
        raise target.error(f"truncated body: {len(reply.body)} bytes of the {expected} announced", "truncated_body")
    return reply


def _check_body(reply: _Reply, target: _Target) -> None:
    """Refuse a reply that is not the data: another success status, an HTML page, a JSON error document."""
    if reply.status not in (200, 203):
        raise target.error(f"HTTP {reply.status}: expected 200 with the data", "http_status")
    content_type = reply.headers.get("Content-Type", "")
    if "html" in content_type.lower() or looks_like_html(reply.body):
        served = content_type or "no content type"
        raise target.error(f"served an HTML page ({served}), not data", "html_not_csv")
    message = api_error_message(reply.body)
    if message is not None:
        raise target.error(f"the publisher answered with an error document: {message}", "api_error")


def _name_of(url: str, secrets: Iterable[str]) -> str:
    """The file name a URL's body is kept under: the last part of its path, never a key, never '.' or '..'."""
    name = urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if name in ("", ".", "..") or redact(name, secrets) != name:
        return "payload"
    return name


def _request(url: str, secrets: Mapping[str, str], kept: KeptResponse | None) -> urllib.request.Request:
    """A GET, conditional when a body of this URL is kept; keys go in headers a redirect does not forward."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    for header, value in (kept.conditional_headers() if kept else {}).items():
        request.add_header(header, value)
    for header, value in secrets.items():
        request.add_unredirected_header(header, value)
    return request


def _usable_kept(raw_dir: Path, target: _Target) -> KeptResponse | None:
    """What the last fetch of this URL kept, if it has validators and its body is still in the raw zone."""
    kept = http_state.load_state(raw_dir, target.source_id).get(target.origin)
    if kept is None or not kept.has_validators:
        return None
    path = _raw_path(raw_dir, target.source_id, kept.sha256, kept.name)
    return kept if path.is_file() and path.stat().st_size == kept.size else None


def _not_modified(reply: _Reply, target: _Target, kept: KeptResponse | None, raw_dir: Path) -> Payload:
    """The payload a 304 stands for: the body kept by the last fetch (the validators refreshed if new ones came)."""
    path = _raw_path(raw_dir, target.source_id, kept.sha256, kept.name) if kept else None
    if kept is None or path is None or not path.is_file():
        detail = "HTTP 304 Not Modified, but no body of this URL is kept to reuse"
        raise target.error(detail, "http_304_without_cache")
    fresh = replace(
        kept,
        etag=reply.headers.get("ETag") or kept.etag,
        last_modified=reply.headers.get("Last-Modified") or kept.last_modified,
    )
    http_state.remember(raw_dir, target.source_id, target.origin, fresh)
    log.info("%s: %s not modified, reusing %s", target.source_id, target.origin, kept.sha256)
    return Payload(target.source_id, kept.name, target.origin, path, kept.sha256, kept.size)


MAX_PAGES = 1000  # a World Bank answer announcing more pages than this is refused (ask for a larger per_page)


def announced_pages(body: bytes) -> int:
    """How many pages a World Bank API v2 answer (``[meta, rows]``) announces; 1 for any other body."""
    if not body.lstrip(BOM + b" \t\r\n").startswith(b"["):
        return 1
    try:
        document = json.loads(body)
    except ValueError:
        return 1  # the parser will say what is wrong with it
    is_page = isinstance(document, list) and len(document) == 2 and isinstance(document[0], dict)
    return int(document[0].get("pages") or 1) if is_page and "pages" in document[0] else 1


def with_page(url: str, page: int) -> str:
    """The URL with its ``page`` query parameter set."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode([*query, ("page", str(page))])))


def _follow_pages(first: bytes, url: str, secrets: Mapping[str, str], target: _Target, timeout: float) -> bytes:
    """Every page of a paginated World Bank answer, as one JSON list of pages (the parser checks it is whole)."""
    pages = announced_pages(first)
    if pages <= 1:
        return first
    if pages > MAX_PAGES:
        raise target.error(
            f"{pages} pages announced, more than {MAX_PAGES}: ask for a larger per_page", "too_many_pages"
        )
    bodies = [first]
    for page in range(2, pages + 1):
        reply = _exchange(_request(with_page(url, page), secrets, None), target, timeout)
        _check_body(reply, target)
        bodies.append(reply.body)
    log.info("%s: followed %d pages of %s", target.source_id, pages, target.origin)
    return b"[" + b",".join(b.strip() for b in bodies) + b"]"


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

    Args:
        url: an http(s) URL.
        source_id: the catalogue entry.
        raw_dir: the raw zone.
        timeout: seconds to wait for the server at each step.
        headers_from_env: header name -> the environment variable holding its value (an API key).
        secret_blocks: header name -> a Prefect Secret block holding its value when the variable is unset.

    Returns:
        The payload: the new body, or on a 304 the body kept by the last fetch (same SHA-256).

    Raises:
        ConnectionError: connection refused or reset, a timeout, 429 or 5xx (after honouring Retry-After up to
            RETRY_AFTER_CAP_S): the Prefect task retries these.
        SourceError: final, with rule 'http_status' (another 4xx), 'http_304_without_cache', 'truncated_body',
            'html_not_csv', 'api_error', 'payload_too_large', 'missing_secret', 'bad_secret' or 'bad_url'.
    """
    secrets = secret_headers(headers_from_env, secret_blocks, source_id=source_id, file=redact(url))
    target = _Target(source_id, url, tuple(secrets.values()))
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise target.error("only http and https URLs are fetched", "bad_url")
    kept = _usable_kept(raw_dir, target)
    reply = _exchange(_request(url, secrets, kept), target, timeout)
    log.info("%s: GET %s -> HTTP %d, %d bytes", source_id, target.origin, reply.status, len(reply.body))
    if reply.status == 304:
        return _not_modified(reply, target, kept, raw_dir)
    _check_body(reply, target)
    body = _follow_pages(reply.body, url, secrets, target, timeout)
    name = _name_of(url, target.secrets)
    payload = _store(body, name, raw_dir, source_id, target.origin)
    etag, last_modified = reply.headers.get("ETag"), reply.headers.get("Last-Modified")
    kept_now = KeptResponse(etag, last_modified, payload.sha256, name, payload.size)
    http_state.remember(raw_dir, source_id, target.origin, kept_now)
    return payload


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
        The payloads, in a stable order. A local file whose stat is as it was when last hashed is not read.
    """
    payloads = []
    kept = file_state.load_state(raw_dir, source.id) if source.location_kind != "url" else {}
    seen: dict[str, FileSeen] = {}
    for item in locate(source, seeds_dir=seeds_dir, project_root=project_root, roots=roots):
        if isinstance(item, str):
            payloads.append(
                fetch_url(
                    item,
                    source_id=source.id,
                    raw_dir=raw_dir,
                    headers_from_env=headers_from_env,
                    secret_blocks=secret_blocks,
                )
            )
        else:
            payload, seen[str(item)] = _store_local(item, raw_dir, source.id, kept.get(str(item)))
            payloads.append(payload)
    if seen != kept:
        file_state.save_state(raw_dir, source.id, seen)
    return payloads


_PREFETCHING: list[threading.Thread] = []


def prefetch_local(
    sources: Iterable[Source], *, seeds_dir: Path, project_root: Path, roots: tuple[Path, ...], raw_dir: Path
) -> threading.Thread | None:
    """Start keeping the local files (``seed`` and ``path`` locations) of a catalogue in the raw zone, in a thread.

    ``tradewh load`` calls it once it holds the writer lock, before Prefect's local server starts (3-15 s on two
    cores): copying and hashing a 2 GB file takes 2-10 s here, and the flow's ``fetch_source`` task then finds the
    file kept with its stat unchanged and returns at once. Nothing is decided here: a failure (a missing file, a
    file changing while read, a failpoint) is left for the task to meet again and report, with its retries; URL
    locations are fetched by the task only. The flow waits for the thread (``wait_prefetched``) before it clears
    debris or fetches anything.

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


def wait_prefetched() -> None:
    """Wait until the files ``prefetch_local`` started keeping are kept (or failed); at once when none was started."""
    while _PREFETCHING:
        _PREFETCHING.pop().join()
