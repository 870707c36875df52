"""HTTP sources: conditional GET, retries, keys and body checks, against a local server replaying publishers' answers.

The server (127.0.0.1, an ephemeral port) replays the responses recorded in ``tests/fixtures/http/`` (see its
``recordings.json``), following a script per request path: each request takes the next step, the last step
repeats. Unit tests call ``fetch.fetch_url`` / ``fetch.fetch_source``; the last tests run the real flow.
"""

from __future__ import annotations

import functools
import http.server
import json
import logging
import re
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURES, PROJECT_ROOT, run_nightly
from warehouse.common.errors import SourceError
from warehouse.extract import fetch, http_state, secrets
from warehouse.extract import http as http_fetch
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.parse.comtrade import parse_comtrade
from warehouse.parse.sdmx_csv import parse_sdmx_csv
from warehouse.parse.wdi import parse_wdi

HTTP_FIXTURES = FIXTURES / "http"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
KEY_ENV = "TRADEWH_TEST_COMTRADE_KEY"
FAKE_KEY = "FAKEKEY-7f3a9c1e5b2d4680"  # recognisable: it must never show anywhere
FAKE_QUERY_KEY = "QKEY-0c9e8d7b6a5f4321"
SOURCE = "test_http"
CONDITIONAL = ("worldbank_api_v2", "comtrade_plus_json", "comtrade_plus_csv", "sdmx_csv", "wdi_tidy")


# --- recordings and the replay server --------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """One recorded response: the request path it answers, status, headers and body."""

    path: str
    status: int
    headers: dict[str, str]
    body: bytes


@functools.cache
def recording(name: str) -> Recording:
    """A recording of ``tests/fixtures/http/recordings.json`` by name."""
    entry = json.loads((HTTP_FIXTURES / "recordings.json").read_text())[name]
    body = (HTTP_FIXTURES / entry["body"]).read_bytes()
    return Recording(entry["path"], entry.get("status", 200), dict(entry["headers"]), body)


@dataclass(frozen=True)
class Seen:
    """A request the server received, and the status it answered."""

    path: str
    headers: dict[str, str]  # lower-case names
    status: int


Handler = http.server.BaseHTTPRequestHandler
Step = Callable[[Handler], int]  # writes a response, returns its status


def _send(h: Handler, status: int, headers: dict[str, str], body: bytes, reason: str | None = None) -> int:
    h.send_response(status, reason)
    for name, value in headers.items():
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)
    return status


def replay(rec: Recording) -> Step:
    """The recording, or a 304 when the request's validators match the recorded ones (If-None-Match first)."""

    def step(h: Handler) -> int:
        etag, modified = rec.headers.get("ETag"), rec.headers.get("Last-Modified")
        if_none_match, if_modified_since = h.headers.get("If-None-Match"), h.headers.get("If-Modified-Since")
        if (if_none_match and if_none_match == etag) or (
            not if_none_match and if_modified_since and if_modified_since == modified
        ):
            h.send_response(304)
            for name in ("ETag", "Last-Modified"):
                if name in rec.headers:
                    h.send_header(name, rec.headers[name])
            h.end_headers()
            return 304
        return _send(h, rec.status, rec.headers, rec.body)

    return step


def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Step:
    """A bare status, e.g. 429 with Retry-After, or 500."""
    return lambda h: _send(h, code, {"Content-Type": "text/plain", **(headers or {})}, body or f"{code}".encode())


def truncated(rec: Recording) -> Step:
    """The recording's headers and full Content-Length, half its body, then the connection closes."""

    def step(h: Handler) -> int:
        h.send_response(rec.status)
        for name, value in rec.headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(rec.body)))
        h.end_headers()
        h.wfile.write(rec.body[: len(rec.body) // 2])
        h.close_connection = True
        return rec.status

    return step


def redirect(location: str) -> Step:
    return lambda h: _send(h, 302, {"Location": location}, b"")


def slow(seconds: float, then: Step) -> Step:
    def step(h: Handler) -> int:
        time.sleep(seconds)
        return then(h)

    return step


def echo_key(code: int) -> Step:
    """A publisher that echoes the key it was sent in its reason phrase and its JSON error body."""

    def step(h: Handler) -> int:
        key = h.headers.get(KEY_HEADER, "")
        body = json.dumps({"statusCode": code, "message": f"Invalid subscription key {key}"}).encode()
        return _send(h, code, {"Content-Type": "application/json"}, body, reason=f"Bad key {key}")

    return step


@dataclass
class ReplayServer:
    """The scripts per request path, and every request seen."""

    base: str = ""
    scripts: dict[str, list[Step]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, path: str, *steps: Step) -> str:
        """Answer requests to a path (query ignored) with these steps in turn; returns the full URL."""
        self.scripts[urllib.parse.urlsplit(path).path] = list(steps)
        return self.base + path

    def requests(self, path: str) -> list[Seen]:
        wanted = urllib.parse.urlsplit(path).path
        return [s for s in self.seen if urllib.parse.urlsplit(s.path).path == wanted]

    def answer(self, h: Handler) -> None:
        path = urllib.parse.urlsplit(h.path).path
        with self.lock:
            steps = self.scripts.get(path) or [status(404)]
            step = steps.pop(0) if len(steps) > 1 else steps[0]
        step(h)

    def record(self, h: Handler, code: int) -> None:
        """Note a request as its status line is sent (before the client can read the reply)."""
        with self.lock:
            self.seen.append(Seen(h.path, {k.lower(): v for k, v in h.headers.items()}, code))


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (the timeout tests) is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> ReplayServer:
    """A replay server on 127.0.0.1 (port 0), stopped in a finalizer."""
    replay_server = ReplayServer()

    class ReplayHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            replay_server.answer(self)

        def send_response(self, code: int, message: str | None = None) -> None:
            replay_server.record(self, code)
            super().send_response(code, message)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the http.server signature)
            pass

    httpd = QuietServer(("127.0.0.1", 0), ReplayHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    request.addfinalizer(stop)
    host, port = httpd.server_address[:2]
    replay_server.base = f"http://{host}:{port}"
    return replay_server


@pytest.fixture(autouse=True)
def no_retry_after_wait(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Callable[[], list[float]]:
    """Retry-After is capped at 0 s here (tests that check the cap set their own, small); returns a function that
    reads the waits the fetch logged (the seconds it really slept)."""
    monkeypatch.setattr(http_fetch, "RETRY_AFTER_CAP_S", 0.0)
    caplog.set_level(logging.INFO, logger=http_fetch.__name__)

    def waits() -> list[float]:
        found = (re.search(r"waiting ([0-9.]+) s", r.getMessage()) for r in caplog.records)
        return [float(m.group(1)) for m in found if m]

    return waits


def get(url: str, raw_dir: Path, **kwargs: object) -> fetch.Payload:
    return fetch.fetch_url(url, source_id=SOURCE, raw_dir=raw_dir, timeout=5, **kwargs)


def state_of(raw_dir: Path) -> dict[str, http_state.KeptResponse]:
    return http_state.load_state(raw_dir, SOURCE)


def raw_files(raw_dir: Path) -> list[Path]:
    return sorted(p for p in raw_dir.rglob("*") if p.is_file())


# --- conditional GET ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONDITIONAL)
def test_full_fetch_keeps_the_body_and_its_validators(server: ReplayServer, tmp_path: Path, name: str) -> None:
    rec = recording(name)
    url = server.script(rec.path, replay(rec))
    payload = get(url, tmp_path)
    assert payload.raw_path.read_bytes() == rec.body
    assert payload.origin == url
    assert "if-none-match" not in server.seen[0].headers and "if-modified-since" not in server.seen[0].headers
    kept = state_of(tmp_path)[url]
    assert (kept.etag, kept.last_modified) == (rec.headers.get("ETag"), rec.headers.get("Last-Modified"))
    assert (kept.sha256, kept.name, kept.size) == (payload.sha256, payload.name, payload.size)
    assert http_state.state_path(tmp_path, SOURCE) == tmp_path / SOURCE / "_http_state.json"


@pytest.mark.parametrize("name", CONDITIONAL)
def test_second_fetch_is_conditional_and_a_304_returns_the_kept_body(
    server: ReplayServer, tmp_path: Path, name: str
) -> None:
    rec = recording(name)
    url = server.script(rec.path, replay(rec))
    first = get(url, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in raw_files(tmp_path)}
    second = get(url, tmp_path)
    assert second == first
    assert [s.status for s in server.seen] == [200, 304]  # one request each time
    sent = server.seen[1].headers
    if "ETag" in rec.headers:
        assert sent["if-none-match"] == rec.headers["ETag"]
    if "Last-Modified" in rec.headers:
        assert sent["if-modified-since"] == rec.headers["Last-Modified"]
    assert {p: p.stat().st_mtime_ns for p in raw_files(tmp_path)} == before  # nothing rewritten


def test_a_changed_body_replaces_the_validators_and_keeps_the_old_body(server: ReplayServer, tmp_path: Path) -> None:
    old = recording("wdi_tidy")
    new = replace(old, headers={**old.headers, "ETag": '"v2"'}, body=old.body + b"China,CHN,2013,886670295\n")
    url = server.script(old.path, replay(old), replay(new))
    first, second = get(url, tmp_path), get(url, tmp_path)
    assert server.seen[1].headers["if-none-match"] == old.headers["ETag"]
    assert second.sha256 != first.sha256 and first.raw_path.read_bytes() == old.body
    assert state_of(tmp_path)[url].etag == '"v2"' and state_of(tmp_path)[url].sha256 == second.sha256


def test_a_304_without_a_kept_body_is_an_error_not_an_empty_payload(server: ReplayServer, tmp_path: Path) -> None:
    url = server.script("/data.csv", status(304))
    with pytest.raises(SourceError) as info:
        get(url, tmp_path)
    assert (info.value.rule, info.value.file) == ("http_304_without_cache", url)
    assert raw_files(tmp_path) == []


def test_when_the_kept_body_is_gone_the_request_is_not_conditional(server: ReplayServer, tmp_path: Path) -> None:
    rec = recording("sdmx_csv")
    url = server.script(rec.path, replay(rec), status(304))
    get(url, tmp_path).raw_path.unlink()
    with pytest.raises(SourceError) as info:  # a server answering 304 to a plain GET
        get(url, tmp_path)
    assert info.value.rule == "http_304_without_cache"
    assert "if-none-match" not in server.seen[1].headers and "if-modified-since" not in server.seen[1].headers


def test_a_response_without_validators_is_fetched_in_full_next_time(server: ReplayServer, tmp_path: Path) -> None:
    rec = recording("worldbank_api_v2")
    bare = replace(rec, headers={"Content-Type": rec.headers["Content-Type"]})
    url = server.script(rec.path, replay(bare))
    assert get(url, tmp_path) == get(url, tmp_path)
    assert [s.status for s in server.seen] == [200, 200]
    assert all("if-none-match" not in s.headers and "if-modified-since" not in s.headers for s in server.seen)


def test_two_urls_of_one_source_keep_their_own_state(server: ReplayServer, tmp_path: Path) -> None:
    json_rec, csv_rec = recording("comtrade_plus_json"), recording("comtrade_plus_csv")
    urls = [server.script(json_rec.path, replay(json_rec)), server.script(csv_rec.path, replay(csv_rec))]
    payloads = [get(u, tmp_path) for u in urls]
    state = state_of(tmp_path)
    assert [state[u].sha256 for u in urls] == [p.sha256 for p in payloads]
    assert [get(u, tmp_path) for u in urls] == payloads
    assert [s.status for s in server.seen] == [200, 200, 304, 304]
    assert not list((tmp_path / SOURCE).glob(".part-*"))  # written atomically, nothing left beside it


def test_an_unreadable_state_file_costs_a_full_fetch_and_is_rewritten(server: ReplayServer, tmp_path: Path) -> None:
    rec = recording("wdi_tidy")
    url = server.script(rec.path, replay(rec))
    first = get(url, tmp_path)
    http_state.state_path(tmp_path, SOURCE).write_text("{not json")
    assert get(url, tmp_path) == first
    assert server.seen[1].status == 200 and state_of(tmp_path)[url].sha256 == first.sha256


def test_a_state_entry_pointing_outside_its_folder_is_ignored(tmp_path: Path) -> None:
    path = http_state.state_path(tmp_path, SOURCE)
    path.parent.mkdir(parents=True)
    entry = {"etag": '"x"', "last_modified": None, "sha256": "0" * 64, "name": "../../etc", "size": 1}
    path.write_text(json.dumps({"version": 1, "urls": {"http://h/x": entry}}))
    assert state_of(tmp_path) == {}


# --- retries -----------------------------------------------------------------------------------------------------


def test_429_with_retry_after_0_then_success(
    server: ReplayServer, tmp_path: Path, no_retry_after_wait: Callable[[], list[float]]
) -> None:
    rec = recording("comtrade_plus_json")
    url = server.script(rec.path, status(429, {"Retry-After": "0"}), replay(rec))
    with pytest.raises(ConnectionError, match="HTTP 429"):
        get(url, tmp_path)
    assert get(url, tmp_path).raw_path.read_bytes() == rec.body
    assert no_retry_after_wait() == []


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_honoured_up_to_the_cap(
    server: ReplayServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_retry_after_wait: Callable[[], list[float]],
    code: int,
) -> None:
    monkeypatch.setattr(http_fetch, "RETRY_AFTER_CAP_S", 1.1)  # really slept: 1.1 s capped, then 1 s as asked
    url = server.script("/busy.csv", status(code, {"Retry-After": "120"}), status(code, {"Retry-After": "1"}))
    for _ in range(2):
        with pytest.raises(ConnectionError, match=f"HTTP {code}"):
            get(url, tmp_path)
    assert no_retry_after_wait() == [1.1, 1.0]


def test_500_three_times_then_success(server: ReplayServer, tmp_path: Path) -> None:
    rec = recording("sdmx_csv")
    url = server.script(rec.path, status(500), status(500), status(500), replay(rec))
    for _ in range(3):
        with pytest.raises(ConnectionError, match="HTTP 500"):
            get(url, tmp_path)
    assert get(url, tmp_path).raw_path.read_bytes() == rec.body
    assert [s.status for s in server.seen] == [500, 500, 500, 200]


def test_a_timeout_is_a_connection_error(server: ReplayServer, tmp_path: Path) -> None:
    rec = recording("wdi_tidy")
    url = server.script(rec.path, slow(1.0, replay(rec)))
    with pytest.raises(ConnectionError):
        fetch.fetch_url(url, source_id=SOURCE, raw_dir=tmp_path, timeout=0.2)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 0.0),
        ("0", 0.0),
        ("7", 7.0),
        (" 12 ", 12.0),
        ("soon", 0.0),
        ("-3", 0.0),
        ("Tue, 24 Feb 2026 10:00:30 GMT", 30.0),
        ("Tue, 24 Feb 2026 09:00:00 GMT", 0.0),
    ],
)
def test_retry_after_seconds(value: str | None, seconds: float) -> None:
    import datetime as dt

    now = dt.datetime(2026, 2, 24, 10, 0, 0, tzinfo=dt.UTC)
    assert http_fetch.retry_after_seconds(value, now=now) == seconds


# --- body checks -------------------------------------------------------------------------------------------------


def test_a_truncated_body_is_refused_and_nothing_is_kept(server: ReplayServer, tmp_path: Path) -> None:
    rec = recording("comtrade_plus_json")
    url = server.script(rec.path, truncated(rec))
    with pytest.raises(SourceError) as info:
        get(url, tmp_path)
    assert (info.value.rule, info.value.file) == ("truncated_body", url)
    assert raw_files(tmp_path) == []


@pytest.mark.parametrize("name", ["html_maintenance", "html_as_csv"])
def test_an_html_page_is_refused_naming_the_url(server: ReplayServer, tmp_path: Path, name: str) -> None:
    rec = recording(name)
    url = server.script(rec.path, replay(rec))
    with pytest.raises(SourceError) as info:
        get(url, tmp_path)
    assert info.value.rule == "html_not_csv" and url in str(info.value)
    assert raw_files(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("worldbank_api_v2_error", "Invalid value: The provided parameter value is not valid"),
        ("comtrade_error_in_200", "Invalid period: the maximum number of periods is 12"),
    ],
)
def test_a_json_api_error_document_is_refused_with_the_publishers_message(
    server: ReplayServer, tmp_path: Path, name: str, said: str
) -> None:
    rec = recording(name)
    url = server.script(rec.path, replay(rec))
    with pytest.raises(SourceError) as info:
        get(url, tmp_path)
    assert info.value.rule == "api_error" and url in str(info.value) and said in str(info.value)
    assert raw_files(tmp_path) == []


def test_a_4xx_is_final_and_carries_the_publishers_message(server: ReplayServer, tmp_path: Path) -> None:
    rec = recording("comtrade_401")
    url = server.script(rec.path, replay(rec))
    with pytest.raises(SourceError) as info:
        get(url, tmp_path)
    assert (info.value.rule, info.value.file) == ("http_status", url)
    assert "HTTP 401" in str(info.value) and "Access denied due to invalid subscription key" in str(info.value)
    assert not isinstance(info.value, ConnectionError)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"count": 2, "data": [], "error": ""}', None),
        (b'{"error": {"code": "E1", "message": "quota exceeded"}}', "quota exceeded"),
        (b'[{"page": 1, "pages": 1, "total": 0}, null]', None),
        (b'\xef\xbb\xbf  [{"message": [{"key": "Invalid format", "value": "xml only"}]}]', "Invalid format: xml only"),
        (b"Country Name,Country Code\n", None),
        (b"{not json", None),
    ],
)
def test_api_error_message(body: bytes, message: str | None) -> None:
    assert http_fetch.api_error_message(body) == message


def test_only_http_and_https_urls_are_fetched(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        get("file:///etc/passwd", tmp_path)
    assert info.value.rule == "bad_url"


@pytest.mark.parametrize(
    ("name", "parse", "rows"),
    [
        ("comtrade_plus_json", parse_comtrade, 2),
        ("comtrade_plus_csv", parse_comtrade, 2),
        ("sdmx_csv", parse_sdmx_csv, 2),
        # a tidy body states no indicator: the World Bank's data package beside it does (fetched with it locally)
        ("wdi_tidy", functools.partial(parse_wdi, metadata=FIXTURES / "wdi" / "bx.gsr.royl.cd.datapackage.json"), 2),
        ("worldbank_api_v2", parse_wdi, 2),
    ],
)
def test_fetched_bodies_parse_with_their_datasets_parser(
    server: ReplayServer, tmp_path: Path, name: str, parse: Callable, rows: int
) -> None:
    rec = recording(name)
    payload = get(server.script(rec.path, replay(rec)), tmp_path)
    assert len(parse(payload.raw_path, source_id=SOURCE).frame) == rows


# --- keys --------------------------------------------------------------------------------------------------------


def test_the_key_is_sent_from_the_environment_and_kept_nowhere(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, f"{FAKE_KEY}\n")  # as read from a file: the newline is trimmed
    rec = recording("comtrade_plus_json")
    url = server.script(rec.path, replay(rec)) + f"&subscription-key={FAKE_QUERY_KEY}"
    payloads = [get(url, tmp_path, headers_from_env={KEY_HEADER: KEY_ENV}) for _ in range(2)]
    assert [s.headers[KEY_HEADER.lower()] for s in server.seen] == [FAKE_KEY, FAKE_KEY]
    assert [s.status for s in server.seen] == [200, 304]
    assert payloads[0].origin.endswith("&subscription-key=***") and payloads[0] == payloads[1]
    written = http_state.state_path(tmp_path, SOURCE).read_text()
    assert_no_key(payloads[0].origin, written, caplog.text, *map(str, raw_files(tmp_path)))


def test_a_missing_key_names_the_variable_and_sends_nothing(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    rec = recording("comtrade_plus_json")
    url = server.script(rec.path, replay(rec))
    with pytest.raises(SourceError) as info:
        get(url, tmp_path, headers_from_env={KEY_HEADER: KEY_ENV})
    assert info.value.rule == "missing_secret" and KEY_ENV in str(info.value) and KEY_HEADER in str(info.value)
    assert server.seen == [] and raw_files(tmp_path) == []


def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, f"{FAKE_KEY}\r\nX-Injected: 1")
    url = server.script("/data.csv", replay(recording("wdi_tidy")))
    with pytest.raises(SourceError) as info:
        get(url, tmp_path, headers_from_env={KEY_HEADER: KEY_ENV})
    assert info.value.rule == "bad_secret" and KEY_ENV in str(info.value)
    assert_no_key(*formatted(info.value))
    assert server.seen == []


class FakeSecret:
    """What ``prefect.blocks.system.Secret.load(name)`` returns, without a Prefect server."""

    def __init__(self, value: str) -> None:
        self.value = value

    def get(self) -> str:
        return self.value


def test_a_prefect_secret_block_is_read_when_the_variable_is_unset(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_home: Path
) -> None:
    from prefect.blocks.system import Secret

    loaded: list[str] = []
    monkeypatch.setattr(Secret, "load", lambda name, **_: loaded.append(name) or FakeSecret(FAKE_KEY))
    monkeypatch.delenv(KEY_ENV, raising=False)
    rec = recording("comtrade_plus_json")
    url = server.script(rec.path, replay(rec))
    get(url, tmp_path, headers_from_env={KEY_HEADER: KEY_ENV}, secret_blocks={KEY_HEADER: "comtrade-api-key"})
    assert loaded == ["comtrade-api-key"] and server.seen[0].headers[KEY_HEADER.lower()] == FAKE_KEY


def test_the_variable_wins_over_the_secret_block(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_home: Path
) -> None:
    from prefect.blocks.system import Secret

    monkeypatch.setattr(Secret, "load", lambda name, **_: pytest.fail("the block must not be read"))
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    rec = recording("comtrade_plus_json")
    url = server.script(rec.path, replay(rec))
    get(url, tmp_path, headers_from_env={KEY_HEADER: KEY_ENV}, secret_blocks={KEY_HEADER: "comtrade-api-key"})
    assert server.seen[0].headers[KEY_HEADER.lower()] == FAKE_KEY


def test_a_secret_block_that_cannot_be_loaded_is_missing_secret(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_home: Path
) -> None:
    from prefect.blocks.system import Secret

    def fail(name: str, **_: object) -> None:
        raise ValueError(f"Unable to find block document named {name} (cached {FAKE_KEY})")

    monkeypatch.setattr(Secret, "load", fail)
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(SourceError) as info:
        get(f"{server.base}/x.csv", tmp_path, headers_from_env={KEY_HEADER: KEY_ENV}, secret_blocks={KEY_HEADER: "b1"})
    assert info.value.rule == "missing_secret"
    assert KEY_ENV in str(info.value) and "'b1'" in str(info.value) and "ValueError" in str(info.value)
    assert_no_key(*formatted(info.value))


def test_the_key_is_not_forwarded_to_where_a_redirect_points(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    rec = recording("comtrade_plus_csv")
    server.script(rec.path, replay(rec))
    url = server.script("/moved/plus_api_hs8542.csv", redirect(rec.path))
    get(url, tmp_path, headers_from_env={KEY_HEADER: KEY_ENV})
    assert [(s.status, KEY_HEADER.lower() in s.headers) for s in server.seen] == [(302, True), (200, False)]


def formatted(exc: BaseException) -> list[str]:
    """Everything an operator could see of an exception: message, repr, traceback with its chain, its file."""
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)), str(getattr(exc, "file", ""))]


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert FAKE_KEY not in text and FAKE_QUERY_KEY not in text, text


def _refused_port() -> int:
    probe = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    return port


ERROR_PATHS: dict[str, Callable[[], Step]] = {
    "500": lambda: status(500),
    "503 echoing the key": lambda: echo_key(503),
    "429": lambda: status(429, {"Retry-After": "5"}),
    "401 echoing the key": lambda: echo_key(401),
    "404": lambda: status(404),
    "304 without cache": lambda: status(304),
    "truncated": lambda: truncated(recording("comtrade_plus_json")),
    "html": lambda: replay(recording("html_maintenance")),
    "api error": lambda: replay(recording("comtrade_error_in_200")),
    "timeout": lambda: slow(1.0, status(200)),
    "redirect loop": lambda: redirect("/data/v1/get/C/A/HS"),
    "refused": lambda: status(200),
}


@pytest.mark.parametrize("case", ERROR_PATHS)
def test_the_key_shows_in_no_error_path(
    server: ReplayServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    path = f"/data/v1/get/C/A/HS?reporterCode=156&subscription-key={FAKE_QUERY_KEY}"
    url = server.script(path, ERROR_PATHS[case]())
    if case == "refused":
        url = url.replace(server.base, f"http://127.0.0.1:{_refused_port()}")
    with pytest.raises((SourceError, ConnectionError)) as info:
        fetch.fetch_url(url, source_id=SOURCE, raw_dir=tmp_path, timeout=0.5, headers_from_env={KEY_HEADER: KEY_ENV})
    assert "subscription-key=***" in str(info.value)
    if "echoing" in case:
        assert "Invalid subscription key ***" in str(info.value) or "Bad key ***" in str(info.value)
    state = http_state.state_path(tmp_path, SOURCE)
    assert_no_key(*formatted(info.value), caplog.text, state.read_text() if state.exists() else "")
    assert_no_key(*map(str, raw_files(tmp_path)))


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("https://h/get?subscription-key=abc123&period=2011", "https://h/get?subscription-key=***&period=2011"),
        ("https://h/get?period=2011&API_KEY=abc;x=1", "https://h/get?period=2011&API_KEY=***;x=1"),
        ("https://h/get?token=t0k#frag", "https://h/get?token=***#frag"),
        ("https://user:pa55@h/data.csv", "https://user:***@h/data.csv"),
        ("https://h/data.csv?keyword=trade", "https://h/data.csv?keyword=trade"),
        ("message naming s3cr3t/x and s3cr3t%2Fx", "message naming *** and ***"),
    ],
)
def test_redact(text: str, redacted: str) -> None:
    assert secrets.redact(text, ["s3cr3t/x"]) == redacted


# --- fetch_source ------------------------------------------------------------------------------------------------


def url_source(url: str, dataset: str = "comtrade") -> Source:
    return Source(
        id=SOURCE,
        dataset=dataset,
        publisher="UN Comtrade",
        title="Test",
        licence="Test",
        attribution="Test",
        location_kind="url",
        location=url,
        vintage="2025-01-01",
        measures=(MeasureSpec("customs_value", "USD", "USD", (1.0,)),),
    )


def test_fetch_source_passes_the_key_headers_to_a_url_location(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    rec = recording("comtrade_plus_json")
    url = server.script(rec.path, replay(rec))
    (payload,) = fetch.fetch_source(
        url_source(url),
        seeds_dir=tmp_path / "seeds",
        project_root=tmp_path,
        roots=(tmp_path,),
        raw_dir=tmp_path / "raw",
        headers_from_env={KEY_HEADER: KEY_ENV},
    )
    assert payload.raw_path.read_bytes() == rec.body
    assert server.seen[0].headers[KEY_HEADER.lower()] == FAKE_KEY


# --- through the real Prefect task and flow ----------------------------------------------------------------------


def test_the_flow_task_retries_a_500_three_times_then_succeeds(
    server: ReplayServer, tmp_path: Path, prefect_home: Path
) -> None:
    from prefect import flow

    from flows import nightly
    from warehouse.common.settings import load_settings

    rec = recording("comtrade_plus_json")
    url = server.script(rec.path, status(500), status(429, {"Retry-After": "0"}), status(503), replay(rec))
    task = nightly.fetch_source.with_options(retries=3, retry_delay_seconds=0)
    settings = load_settings({"TRADEWH_HOME": str(tmp_path)})

    @flow
    def one_fetch() -> list[fetch.Payload]:
        return task(url_source(url), settings)

    (payload,) = one_fetch()
    assert payload.raw_path.read_bytes() == rec.body
    assert [s.status for s in server.seen] == [500, 429, 503, 200]


# the bulk-download file, which states its indicator (a tidy file's is in a data package one URL does not carry)
WDI_SEED = PROJECT_ROOT / "seeds" / "wdi_current" / "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"
WDI_PATH = "/datasets/worldbank/API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"


def catalogue_with_url(tmp_path: Path, url: str) -> Path:
    """The project's catalogue with ``wdi_current`` read from a URL."""
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    old = 'location = { seed = "wdi_current/*.csv" }'
    assert old in text
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(text.replace(old, f'location = {{ url = "{url}" }}'))
    return catalogue


def source_runs(home: Path) -> dict[str, tuple[str, int, str]]:
    """source_id -> (status, rows_loaded, message) of the last run in the published warehouse."""
    with duckdb.connect(str(home / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select source_id, status, rows_loaded, message from audit.source_runs "
            "where run_id = (select max(run_id) from audit.load_runs)"
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3] or "") for r in rows}


def wdi_rows(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        return sorted(con.execute("select * from raw.wdi where source_id = 'wdi_current'").fetchall(), key=repr)


@pytest.fixture
def wdi_recording() -> Recording:
    tidy = recording("wdi_tidy")
    return replace(tidy, path=WDI_PATH, body=WDI_SEED.read_bytes())


def test_flow_loads_a_url_source_then_skips_it_on_a_304(
    server: ReplayServer, tmp_path: Path, prefect_home: Path, wdi_recording: Recording
) -> None:
    url = server.script(WDI_PATH, replay(wdi_recording))
    catalogue, home = catalogue_with_url(tmp_path, url), tmp_path / "home"

    first = run_nightly(home, catalogue)
    assert first["status"] == "succeeded"
    status_1, loaded_1, _ = source_runs(home)["wdi_current"]
    assert status_1 == "loaded" and loaded_1 > 0
    rows_after_first = wdi_rows(home)

    second = run_nightly(home, catalogue)
    assert second["status"] == "succeeded"
    assert [(s.status, s.headers.get("if-none-match")) for s in server.seen] == [
        (200, None),
        (304, wdi_recording.headers["ETag"]),
    ]
    assert source_runs(home)["wdi_current"][:2] == ("skipped", 0)
    assert wdi_rows(home) == rows_after_first
    assert (home / "raw" / "wdi_current" / "_http_state.json").is_file()
    assert not [p for p in (home / "lake").rglob("_http_state.json")]


def test_flow_with_a_url_failing_every_time_ends_partial(
    server: ReplayServer, tmp_path: Path, prefect_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import nightly

    monkeypatch.setattr(nightly, "fetch_source", nightly.fetch_source.with_options(retries=3, retry_delay_seconds=0))
    url = server.script(WDI_PATH, status(500))
    result = run_nightly(tmp_path / "home", catalogue_with_url(tmp_path, url))
    assert result["status"] == "partial"
    runs = source_runs(tmp_path / "home")
    assert runs["wdi_current"][0] == "failed" and url in runs["wdi_current"][2] and "HTTP 500" in runs["wdi_current"][2]
    assert all(status_ == "loaded" and rows > 0 for s, (status_, rows, _) in runs.items() if s != "wdi_current")
    assert len(server.seen) == 4  # the first try and 3 retries


def test_the_state_file_lives_only_in_the_raw_zone(tmp_path: Path) -> None:
    kept = http_state.KeptResponse('"e"', None, "a" * 64, "data.csv", 3)
    http_state.remember(tmp_path / "raw", "src", "http://h/data.csv", kept)
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()] == [Path("raw/src/_http_state.json")]
    assert http_state.load_state(tmp_path / "raw", "src") == {"http://h/data.csv": kept}
