"""HTTP fetch of a catalogue ``url``, bounded in time and in memory, into the raw zone (``warehouse.extract.fetch``).

Bounds, each set per source in ``[source.http]`` (defaults in ``warehouse.extract.catalogue``):

- ``timeout_s``: one deadline for the whole fetch of the URL (connecting, every redirect hop, every page, to the
  last byte). A watchdog shuts the socket being read when it passes, so a server dripping a byte at a time (in
  its headers or its body) is cut off then; the fetch fails with 'deadline_exceeded' (final: a retry would be as
  slow).
- ``read_timeout_s``: the longest wait to connect or for the next bytes. A silent server is a ConnectionError,
  which the flow's task retries (as connection errors, 429 and 5xx are).
- ``max_bytes``: every byte the source's answers bring, pages included. More is 'payload_too_large'; a
  ``Content-Length`` larger than what is left is refused before its body is read.

Bodies are streamed to a ``.part-`` file in ``raw/<source_id>/``, hashed as written and renamed to their
content-addressed name (``fetch.PartFile``): memory stays flat whatever the size. They are kept as served:
``Accept-Encoding: identity`` is asked and no content coding is undone. Redirects are followed here, not by httpx:
every hop is checked (http or https, a host, no credentials, no step down from https to http, no step from a
public host to a local address) and refused with 'redirect_refused'; keys go to the first hop only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import ipaddress
import json
import logging
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import httpx

from warehouse.common.errors import SourceError
from warehouse.extract import http_state
from warehouse.extract.fetch import BOM, USER_AGENT, PartFile, Payload, _raw_path
from warehouse.extract.http_errors import API_ERROR_MAX_BYTES, api_error_message, looks_like_html
from warehouse.extract.http_limits import Budget, _Deadline, _Target
from warehouse.extract.http_state import KeptResponse
from warehouse.extract.secrets import _FETCHING, redact, secret_headers

RETRY_AFTER_CAP_S = 30.0  # the longest a Retry-After is honoured before the task's own retry (tests patch it to 0)
MAX_REDIRECTS = 5
MAX_PAGES = 1000  # a World Bank answer announcing more pages than this is refused (ask for a larger per_page)
REDIRECTS = (301, 302, 303, 307, 308)
_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() strips

log = logging.getLogger(__name__)


# --- one exchange --------------------------------------------------------------------------------------------------


class _Sink(Protocol):
    def write(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: httpx.Headers
    head: bytes  # the first API_ERROR_MAX_BYTES + 1 bytes of the body, for the checks
    size: int


@dataclass(frozen=True)
class _Session:
    """One fetch of a catalogue URL: who it is for, its client, its deadline, what the source may still receive."""

    target: _Target
    client: httpx.Client
    deadline: _Deadline
    budget: Budget
    read_timeout_s: float

    def late(self, received: int | None = None) -> SourceError:
        got = f" ({received:,} bytes of the body received)" if received else ""
        return self.target.error(
            f"not answered in full within the {self.deadline.seconds:g} s allowed for the whole fetch{got}: "
            "the server is too slow ([source.http] timeout_s)",
            "deadline_exceeded",
        )

    def failure(self, exc: Exception, received: int | None) -> Exception:
        """What a broken exchange means; ``received`` is the body's bytes so far, None before its headers."""
        if self.deadline.passed:
            return self.late(received)
        if isinstance(exc, httpx.RemoteProtocolError) and received is not None:
            return self.target.error(f"truncated body: the connection closed after {received} bytes", "truncated_body")
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return self.target.error(f"not a usable URL: {exc}", "bad_url")
        return self.target.retryable(f"{type(exc).__name__}: {exc}")


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float:
    """How long a ``Retry-After`` header (delay-seconds or an HTTP date) asks to wait; 0 when absent or past."""
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


def _honour_retry_after(value: str | None) -> float:
    """Sleep as long as Retry-After asks, at most RETRY_AFTER_CAP_S (logged); return the seconds slept."""
    wait = min(retry_after_seconds(value), RETRY_AFTER_CAP_S)
    if wait > 0:
        log.info("Retry-After %r: waiting %.2f s (at most %.2f s)", value, wait, RETRY_AFTER_CAP_S)
        time.sleep(wait)
    return wait


def _is_local(host: str) -> bool:
    """Whether a host is a loopback, private, link-local or otherwise non-public address (names are not resolved)."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def _check_hop(url: str, previous: str | None, target: _Target) -> None:
    """Refuse a URL to fetch ('bad_url') or to be redirected to ('redirect_refused') that breaks the rules."""
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise target.error(f"not a usable URL: {exc}", "bad_url" if previous is None else "redirect_refused") from None
    before = httpx.URL(previous) if previous is not None else None
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = f"only http and https URLs are fetched, not '{parts.scheme}'"
    elif not parts.host:
        problem = "the URL names no host"
    elif before is not None and parts.userinfo:
        problem = "the new URL carries credentials"
    elif before is not None and before.scheme == "https" and parts.scheme == "http":
        problem = "it steps down from https to plain http"
    elif before is not None and _is_local(parts.host) and not _is_local(before.host):
        problem = f"it leads from the public host {before.host} to the local address {parts.host}"
    if problem and before is None:
        raise target.error(problem, "bad_url")
    if problem:
        raise target.error(f"a redirect to {redact(url)} was refused: {problem}", "redirect_refused")


def _send(s: _Session, url: str, headers: Mapping[str, str]) -> httpx.Response:
    """Send a GET and return once its headers are in (the body still to read)."""
    remaining = s.deadline.remaining()
    if remaining <= 0:
        raise s.late()
    timeout = httpx.Timeout(min(s.read_timeout_s, remaining))
    try:
        request = s.client.build_request(
            "GET", url, headers=headers, timeout=timeout, extensions={"trace": s.deadline.trace}
        )
        return s.client.send(request, stream=True)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise s.failure(exc, None) from None  # from None: the exception may carry the URL or server text


def _receive(s: _Session, response: httpx.Response, sink: _Sink) -> _Reply:
    """Stream a body into the sink, counting it against the budget and the deadline."""
    declared = response.headers.get("Content-Length", "").strip()
    announced = int(declared) if declared.isdigit() else None
    if announced is not None:
        s.budget.expect(announced, s.target)
    head, size = bytearray(), 0
    try:
        for chunk in response.iter_raw():  # raw: bytes as served (no content coding undone)
            s.budget.take(len(chunk), s.target)
            if s.deadline.passed:
                break
            sink.write(chunk)
            size += len(chunk)
            if len(head) <= API_ERROR_MAX_BYTES:
                head += chunk[: API_ERROR_MAX_BYTES + 1 - len(head)]
    except httpx.HTTPError as exc:
        raise s.failure(exc, size) from None
    if s.deadline.passed:  # the watchdog ends a body without a length as if it were complete
        raise s.late(size)
    if announced is not None and announced != size:
        raise s.target.error(f"truncated body: {size} bytes of the {announced} announced", "truncated_body")
    return _Reply(response.status_code, response.headers, bytes(head), size)


def _error_body(response: httpx.Response) -> bytes:
    body = bytearray()
    with contextlib.suppress(httpx.HTTPError):
        for chunk in response.iter_raw():
            body += chunk
            if len(body) > API_ERROR_MAX_BYTES:
                break
    return bytes(body[: API_ERROR_MAX_BYTES + 1])


def _answer(s: _Session, response: httpx.Response, sink: _Sink) -> _Reply:
    """A 304 as a reply; a 429 or 5xx as a ConnectionError (after Retry-After); another 4xx as 'http_status'."""
    status = response.status_code
    if status == 304:
        return _Reply(304, response.headers, b"", 0)
    detail = f"HTTP {status} {response.reason_phrase}"
    if status == 429 or status >= 500:
        waited = _honour_retry_after(response.headers.get("Retry-After"))
        slept = f", waited {waited:g} s as Retry-After asked" if waited else ""
        raise s.target.retryable(f"{detail}{slept}; a retry may succeed")
    if status >= 400:
        message = api_error_message(_error_body(response))
        said = f"; the publisher says: {message}" if message else ""
        raise s.target.error(f"{detail}{said}", "http_status")
    return _receive(s, response, sink)


def _get(s: _Session, url: str, headers: Mapping[str, str], secrets: Mapping[str, str], sink: _Sink) -> _Reply:
    """GET a URL, following redirects hop by hop (each checked); keys are sent to the first hop only."""
    previous = None
    for _ in range(MAX_REDIRECTS + 1):
        _check_hop(url, previous, s.target)
        response = _send(s, url, {**headers, **(secrets if previous is None else {})})
        try:
            location = response.headers.get("Location")
            if response.status_code not in REDIRECTS or not location:
                return _answer(s, response, sink)
            try:
                previous, url = url, str(response.url.join(location))
            except httpx.InvalidURL as exc:
                raise s.target.error(f"a redirect to an unusable URL was refused: {exc}", "redirect_refused") from None
            log.info("%s: %s redirects to %s", s.target.source_id, redact(previous), redact(url))
        finally:
            response.close()
    raise s.target.error(f"more than {MAX_REDIRECTS} redirects", "too_many_redirects")


# --- what the body is --------------------------------------------------------------------------------------------


def _check_body(reply: _Reply, target: _Target) -> None:
    """Refuse a reply that is not the data: another success status, an HTML page, a JSON error document."""
    if reply.status not in (200, 203):
        raise target.error(f"HTTP {reply.status}: expected 200 with the data", "http_status")
    content_type = reply.headers.get("Content-Type", "")
    if "html" in content_type.lower() or looks_like_html(reply.head):
        raise target.error(f"served an HTML page ({content_type or 'no content type'}), not data", "html_not_csv")
    message = api_error_message(reply.head)
    if message is not None:
        raise target.error(f"the publisher answered with an error document: {message}", "api_error")


def _name_of(url: str, secrets: Iterable[str]) -> str:
    """The file name a URL's body is kept under: the last part of its path, never a key, never '.' or '..'."""
    name = urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if name in ("", ".", "..") or redact(name, secrets) != name:
        return "payload"
    return name


# --- conditional GET -----------------------------------------------------------------------------------------------


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
        raise target.error("HTTP 304 Not Modified, but no body of this URL is kept to reuse", "http_304_without_cache")
    fresh = replace(
        kept,
        etag=reply.headers.get("ETag") or kept.etag,
        last_modified=reply.headers.get("Last-Modified") or kept.last_modified,
    )
    http_state.remember(raw_dir, target.source_id, target.origin, fresh)
    log.info("%s: %s not modified, reusing %s", target.source_id, target.origin, kept.sha256)
    return Payload(target.source_id, kept.name, target.origin, path, kept.sha256, kept.size)


# --- World Bank pages ----------------------------------------------------------------------------------------------


def announced_pages(body: bytes) -> int:
    """How many pages a World Bank API v2 answer (``[meta, rows]``) announces; 1 for any other body.

    Only the ``meta`` object is read, so the first bytes of a body are enough.
    """
    text = body.lstrip(BOM + b" \t\r\n")
    if not text.startswith(b"["):
        return 1
    rest = text[1:].decode("utf-8", "replace").lstrip()
    try:
        meta, end = json.JSONDecoder().raw_decode(rest)
        pages = int(meta.get("pages") or 1) if isinstance(meta, dict) and "pages" in meta else 1
    except (ValueError, TypeError):
        return 1  # the parser will say what is wrong with it
    return pages if rest[end:].lstrip().startswith(",") else 1


def with_page(url: str, page: int) -> str:
    """The URL with its ``page`` query parameter set."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode([*query, ("page", str(page))])))


class _Stripped:
    """Appends a body to a part file as ``bytes.strip()`` would leave it: leading whitespace skipped as it comes,
    trailing whitespace cut off by ``close`` (nothing held in memory)."""

    def __init__(self, part: PartFile) -> None:
        self.part, self.started, self.end = part, False, part.size

    def write(self, data: bytes) -> None:
        if not self.started:
            data = data.lstrip(_WHITESPACE)
            self.started = bool(data)
        if data:
            self.part.write(data)
            if kept := len(data.rstrip(_WHITESPACE)):
                self.end = self.part.size - len(data) + kept

    def close(self) -> None:
        self.part.truncate(self.end)


def _all_pages(s: _Session, first: PartFile, pages: int, url: str, secrets: Mapping[str, str]) -> PartFile:
    """Every page of a paginated answer, written as one JSON list of pages (the parser checks it is whole).

    The same bytes as ``b"[" + b",".join(page.strip() for page in pages) + b"]"``, written page by page.
    """
    if pages > MAX_PAGES:
        raise s.target.error(
            f"{pages} pages announced, more than {MAX_PAGES}: ask for a larger per_page", "too_many_pages"
        )
    combined = PartFile(first.raw_dir, first.source_id)
    try:
        combined.write(b"[")
        stripped = _Stripped(combined)
        for chunk in first.chunks():
            stripped.write(chunk)
        stripped.close()
        for page in range(2, pages + 1):
            combined.write(b",")
            stripped = _Stripped(combined)
            _check_body(_get(s, with_page(url, page), {}, secrets, stripped), s.target)
            stripped.close()
        combined.write(b"]")
    except BaseException:
        combined.discard()
        raise
    log.info("%s: followed %d pages of %s", s.target.source_id, pages, s.target.origin)
    return combined


def fetch_url(
    url: str,
    *,
    source_id: str,
    raw_dir: Path,
    timeout_s: float,
    read_timeout_s: float,
    budget: Budget,
    headers_from_env: Mapping[str, str] | None = None,
    secret_blocks: Mapping[str, str] | None = None,
) -> Payload:
    """GET a URL (conditionally, when a body of it is kept) and keep the body in the raw zone.

    Args:
        url: an http(s) URL.
        source_id: the catalogue entry.
        raw_dir: the raw zone.
        timeout_s: the deadline of the whole fetch (redirects and pages included).
        read_timeout_s: the longest wait to connect or for the next bytes.
        budget: the bytes the source may still receive (shared by its URLs).
        headers_from_env: header name -> the environment variable holding its value (an API key).
        secret_blocks: header name -> a Prefect Secret block holding its value when the variable is unset.

    Returns:
        The payload: the new body, or on a 304 the body kept by the last fetch (same SHA-256).

    Raises:
        ConnectionError: connection refused or reset, no bytes for read_timeout_s, 429 or 5xx (after honouring
            Retry-After up to RETRY_AFTER_CAP_S): the Prefect task retries these.
        SourceError: final, with rule 'http_status' (another 4xx), 'http_304_without_cache', 'truncated_body',
            'html_not_csv', 'api_error', 'payload_too_large', 'deadline_exceeded', 'redirect_refused',
            'too_many_redirects', 'too_many_pages', 'missing_secret', 'bad_secret' or 'bad_url'.
    """
    secrets = secret_headers(headers_from_env, secret_blocks, source_id=source_id, file=redact(url))
    target = _Target(source_id, url, tuple(secrets.values()))
    _check_hop(url, None, target)
    kept = _usable_kept(raw_dir, target)
    client = httpx.Client(
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        limits=httpx.Limits(max_keepalive_connections=0),  # a new connection per request: the watchdog sees each
    )
    _FETCHING.secrets = target.secrets
    with _Deadline(timeout_s) as deadline, client, PartFile(raw_dir, source_id) as first:
        s = _Session(target, client, deadline, budget, read_timeout_s)
        reply = _get(s, url, kept.conditional_headers() if kept else {}, secrets, first)
        log.info("%s: GET %s -> HTTP %d, %d bytes", source_id, target.origin, reply.status, reply.size)
        if reply.status == 304:
            return _not_modified(reply, target, kept, raw_dir)
        _check_body(reply, target)
        name, pages = _name_of(url, target.secrets), announced_pages(reply.head)
        if pages > 1:
            with _all_pages(s, first, pages, url, secrets) as combined:
                payload = combined.keep(name, target.origin)
        else:
            payload = first.keep(name, target.origin)
    etag, last_modified = reply.headers.get("ETag"), reply.headers.get("Last-Modified")
    http_state.remember(
        raw_dir, source_id, target.origin, KeptResponse(etag, last_modified, payload.sha256, name, payload.size)
    )
    return payload
