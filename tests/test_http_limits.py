"""HTTP fetches are bounded: in time (one deadline per fetch), in bytes (a cap per source, pages included), in
memory (bodies streamed to disk) and in where a redirect may lead.

Every server here listens on 127.0.0.1 (an ephemeral port), runs in a daemon thread, and ends by itself: each
handler's loop is bounded and stops when the client goes away.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.common.errors import SourceError
from warehouse.extract import fetch
from warehouse.extract import http as http_fetch
from warehouse.extract.catalogue import CatalogueError, MeasureSpec, Source, load_catalogue
from warehouse.parse.wdi import parse_wdi

MiB = 1024**2
GiB = 1024**3
SOURCE = "test_limits"
Handler = http.server.BaseHTTPRequestHandler
Route = Callable[[Handler], None]


# --- a local server whose routes the tests set ----------------------------------------------------------------------


@dataclass
class Server:
    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    body_bytes_sent: int = 0  # by the streaming routes, before the client went away
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, path: str, answer: Route) -> str:
        self.routes[path] = answer
        return self.base + path

    def sent(self, n: int) -> None:
        with self.lock:
            self.body_bytes_sent += n


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up mid-body (the point of these tests)


@contextlib.contextmanager
def serving() -> Iterator[Server]:
    """A server on 127.0.0.1 (an ephemeral port) answering by the routes set, stopped on leaving."""
    state = Server()

    class RouteHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            path = urllib.parse.urlsplit(self.path).path
            state.routes.get(path, lambda h: h.send_error(404))(self)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the http.server signature)
            pass

    httpd = QuietServer(("127.0.0.1", 0), RouteHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as state:
        yield state


def drip(interval: float, limit: int = 60) -> Route:
    """A 200 with headers at once, then one byte of body every ``interval`` seconds (at most ``limit`` bytes)."""

    def answer(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/csv")
        h.end_headers()
        h.wfile.flush()
        for _ in range(limit):
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(interval)

    return answer


def drip_headers(interval: float, limit: int = 60) -> Route:
    """A status line and headers sent one byte every ``interval`` seconds, never finished within ``limit`` bytes."""

    def answer(h: Handler) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nX-Padding: " + b"p" * limit
        for byte in head[:limit]:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(interval)
        h.close_connection = True

    return answer


def stream(
    server: Server, total: int, *, announce: bool, chunk: bytes = b"China,CHN,2011,743301698\n" * 40_000
) -> Route:
    """A 200 whose body of ``total`` bytes is generated as it is sent (never held), with or without its length."""

    def answer(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/csv")
        if announce:
            h.send_header("Content-Length", str(total))
        h.end_headers()
        h.close_connection = True
        left = total
        while left > 0:
            piece = chunk[: min(left, len(chunk))]
            h.wfile.write(piece)
            server.sent(len(piece))
            left -= len(piece)

    return answer


def redirect(location: str) -> Route:
    def answer(h: Handler) -> None:
        h.send_response(302)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return answer


CSV = b"Country Name,Country Code,Year,Value\nChina,CHN,2011,743301698\n"


def csv(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/csv")
    h.send_header("Content-Length", str(len(CSV)))
    h.end_headers()
    h.wfile.write(CSV)


def url_source(url: str, **limits: float) -> Source:
    source = Source(
        id=SOURCE,
        dataset="wdi",
        publisher="World Bank",
        title="Test",
        licence="CC BY 4.0",
        attribution="Test",
        location_kind="url",
        location=url,
        vintage="2026-02-24",
        measures=(MeasureSpec("bop_value", "USD", "USD", (1.0,)),),
    )
    return replace(source, **limits)


def fetch_one(source: Source, raw_dir: Path) -> fetch.Payload:
    (payload,) = fetch.fetch_source(source, seeds_dir=raw_dir, project_root=raw_dir, roots=(raw_dir,), raw_dir=raw_dir)
    return payload


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# --- time ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [drip(1.0), drip_headers(0.5)], ids=["body", "headers"])
def test_a_server_dripping_bytes_is_cut_off_at_the_deadline(server: Server, tmp_path: Path, answer: Route) -> None:
    url = server.route("/drip.csv", answer)
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        fetch_one(url_source(url, http_timeout_s=3.0, http_read_timeout_s=10.0), tmp_path)
    took = time.monotonic() - started
    assert 3.0 <= took < 4.5, took  # each read returns within the read timeout: the deadline alone ends it
    assert (info.value.rule, info.value.source_id, info.value.file) == ("deadline_exceeded", SOURCE, url)
    assert "3 s allowed for the whole fetch" in str(info.value)
    assert files_under(tmp_path) == []


def test_a_silent_server_is_a_connection_error_after_the_read_timeout(server: Server, tmp_path: Path) -> None:
    url = server.route("/silent.csv", lambda h: time.sleep(3))
    started = time.monotonic()
    with pytest.raises(ConnectionError, match="ReadTimeout"):
        fetch_one(url_source(url, http_timeout_s=30.0, http_read_timeout_s=0.5), tmp_path)
    assert time.monotonic() - started < 2.5


# --- bytes -----------------------------------------------------------------------------------------------------------


def test_a_3_gib_body_stops_at_the_sources_cap(server: Server, tmp_path: Path) -> None:
    url = server.route("/huge.csv", stream(server, 3 * GiB, announce=False))
    with pytest.raises(SourceError) as info:
        fetch_one(url_source(url, http_max_bytes=64 * MiB), tmp_path)
    assert (info.value.rule, info.value.source_id, info.value.file) == ("payload_too_large", SOURCE, url)
    assert f"{64 * MiB:,} bytes allowed" in str(info.value)
    assert files_under(tmp_path) == []  # the part file is gone
    time.sleep(0.5)  # the server notices the closed connection
    assert server.body_bytes_sent < 64 * MiB + 16 * MiB  # it stopped at the cap (plus what was in flight)


def test_a_3_gib_length_announced_is_refused_before_its_body_is_read(server: Server, tmp_path: Path) -> None:
    url = server.route("/huge.csv", stream(server, 3 * GiB, announce=True))
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        fetch_one(url_source(url), tmp_path)  # the default cap, 2 GiB
    assert info.value.rule == "payload_too_large" and f"{3 * GiB:,} bytes announced" in str(info.value)
    assert time.monotonic() - started < 5
    assert files_under(tmp_path) == []


def wb_page(page: int, pages: int, per_page: int) -> bytes:
    """A World Bank API v2 page of ``per_page`` rows (``pages`` of them in all), padded with whitespace."""
    rows = [
        {
            "indicator": {"id": "BX.GSR.ROYL.CD", "value": "Charges for the use of intellectual property"},
            "country": {"id": "CN", "value": "China"},
            "countryiso3code": "CHN",
            "date": str(1000 + (page - 1) * per_page + i),
            "value": 1000 + i,
        }
        for i in range(per_page)
    ]
    meta = {"page": page, "pages": pages, "per_page": per_page, "total": pages * per_page, "lastupdated": "2026-02-24"}
    return b" \n" + json.dumps([meta, rows]).encode() + b"\r\n"


def wb_pages(pages: int, per_page: int) -> Route:
    def answer(h: Handler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        body = wb_page(int(query.get("page", ["1"])[0]), pages, per_page)
        h.send_response(200)
        h.send_header("Content-Type", "application/json;charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return answer


def test_pages_each_under_the_cap_but_over_it_together_are_refused(server: Server, tmp_path: Path) -> None:
    url = server.route("/v2/indicator", wb_pages(pages=6, per_page=2000)) + "?format=json&per_page=2000"
    total = sum(len(wb_page(p, 6, 2000)) for p in range(1, 7))
    cap = total - 1  # any one page fits (about a sixth of it), the six together do not
    with pytest.raises(SourceError) as info:
        fetch_one(url_source(url, http_max_bytes=cap), tmp_path)
    assert (info.value.rule, info.value.source_id) == ("payload_too_large", SOURCE)
    assert f"{cap:,} bytes allowed" in str(info.value)
    assert files_under(tmp_path) == []

    payload = fetch_one(url_source(url, http_max_bytes=total), tmp_path)  # every page fits, just
    expected = b"[" + b",".join(wb_page(p, 6, 2000).strip() for p in range(1, 7)) + b"]"  # the format as before
    assert payload.raw_path.read_bytes() == expected
    assert payload.sha256 == hashlib.sha256(expected).hexdigest()
    assert len(parse_wdi(payload.raw_path, source_id=SOURCE).frame) == 6 * 2000


# --- redirects -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/data.csv", "file:///etc/passwd"])
def test_a_redirect_to_another_scheme_is_refused(server: Server, tmp_path: Path, location: str) -> None:
    url = server.route("/moved.csv", redirect(location))
    with pytest.raises(SourceError) as info:
        fetch_one(url_source(url), tmp_path)
    assert (info.value.rule, info.value.file) == ("redirect_refused", url)
    scheme = location.split(":")[0]
    assert f"a redirect to {scheme}:" in str(info.value)
    assert f"only http and https URLs are fetched, not '{scheme}'" in str(info.value)
    assert files_under(tmp_path) == []


def test_a_redirect_between_http_urls_on_the_same_host_is_followed(server: Server, tmp_path: Path) -> None:
    server.route("/data.csv", csv)
    url = server.route("/moved.csv", redirect("/data.csv"))
    payload = fetch_one(url_source(url), tmp_path)
    assert payload.raw_path.read_bytes() == CSV and payload.origin == url


def test_a_redirect_loop_ends(server: Server, tmp_path: Path) -> None:
    url = server.route("/loop.csv", redirect("/loop.csv"))
    with pytest.raises(SourceError) as info:
        fetch_one(url_source(url), tmp_path)
    assert info.value.rule == "too_many_redirects"


@pytest.mark.parametrize(
    ("previous", "url", "allowed"),
    [
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/b", True),  # local to local: tests, a lab mirror
        ("https://data.example.org/a", "https://cdn.example.org/b", True),
        ("https://data.example.org/a", "http://data.example.org/b", False),  # a step down from https
        ("https://data.example.org/a", "https://user:pw@cdn.example.org/b", False),  # credentials planted
        ("https://data.example.org/a", "http://169.254.169.254/latest/meta-data", False),  # a cloud's metadata
        ("https://data.example.org/a", "https://127.0.0.1/b", False),
        ("https://data.example.org/a", "https://[::1]/b", False),
        ("https://data.example.org/a", "https://localhost/b", False),
        ("https://data.example.org/a", "https://10.0.0.7/b", False),
        ("https://data.example.org/a", "gopher://data.example.org/b", False),
    ],
)
def test_the_hop_rules(previous: str, url: str, allowed: bool) -> None:
    target = http_fetch._Target(SOURCE, previous, ())
    if allowed:
        http_fetch._check_hop(url, previous, target)
    else:
        with pytest.raises(SourceError) as info:
            http_fetch._check_hop(url, previous, target)
        assert info.value.rule == "redirect_refused" and "pw@" not in str(info.value)


# --- the settings ------------------------------------------------------------------------------------------------


def write_entry(tmp_path: Path, http: str) -> Path:
    path = tmp_path / "catalogue.toml"
    path.write_text(
        '[[source]]\nid = "s"\ndataset = "wdi"\npublisher = "P"\ntitle = "T"\nlicence = "L"\nattribution = "A"\n'
        'location = { url = "https://example.org/x.csv" }\nvintage = "2026-02-24"\n'
        f'{http}\n[[source.measures]]\nmeasure = "bop_value"\nunit = "USD"\n'
    )
    return path


def test_the_limits_are_read_from_source_http_with_defaults(tmp_path: Path) -> None:
    (source,) = load_catalogue(write_entry(tmp_path, ""))
    assert (source.http_timeout_s, source.http_read_timeout_s, source.http_max_bytes) == (300.0, 60.0, 2 * GiB)
    (source,) = load_catalogue(write_entry(tmp_path, "[source.http]\ntimeout_s = 20\nmax_bytes = 1_000_000\n"))
    assert (source.http_timeout_s, source.http_read_timeout_s, source.http_max_bytes) == (20.0, 60.0, 1_000_000)


@pytest.mark.parametrize(
    "setting", ["timeout_s = 0", "timeout_s = -1", "read_timeout_s = nan", "max_bytes = 1.5", "max_bytes = true"]
)
def test_a_limit_that_is_no_positive_number_is_refused(tmp_path: Path, setting: str) -> None:
    with pytest.raises(CatalogueError, match=f"http.{setting.split()[0]} must be a positive"):
        load_catalogue(write_entry(tmp_path, f"[source.http]\n{setting}\n"))


# --- a real `tradewh load` against a 3 GiB answer ----------------------------------------------------------------


# the bulk-download file: it states its indicator (a tidy file states it in a data package beside it, not in a URL)
WDI_SEED = PROJECT_ROOT / "seeds" / "wdi_current" / "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"
FIGURES = [
    "raw.wdi",
    "core.fct_trade_figure",
    "marts.trade_balance",
    "marts.claim_checks",
    "marts.trade_figure_history",
]


def seed_csv(h: Handler) -> None:
    body = WDI_SEED.read_bytes()
    h.send_response(200)
    h.send_header("Content-Type", "text/csv")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def catalogue(workdir: Path, url: str, http: dict[str, int]) -> Path:
    """The project's catalogue with ``wdi_current`` read from a URL, with these ``[source.http]`` settings."""
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    old, vintage = 'location = { seed = "wdi_current/*.csv" }', 'vintage = "2026-02-24"\n'
    assert text.count(old) == 1 and text.count(vintage) == 1
    text = text.replace(old, f'location = {{ url = "{url}" }}')
    settings = "".join(f"{key} = {value}\n" for key, value in http.items())
    text = text.replace(vintage, f"{vintage}\n[source.http]\n{settings}")
    path = workdir / "catalogue.toml"
    path.write_text(text)
    return path


@dataclass(frozen=True)
class Load:
    code: int
    output: str
    peak_rss: int  # bytes
    seconds: float


def load(workdir: Path) -> Load:
    """`tradewh load` in its own process, waited for with its own resource use (its peak RSS)."""
    env = {  # nothing another test left in this process's environment (a memory limit, a server) reaches the load
        **{k: v for k, v in os.environ.items() if not k.startswith(("TRADEWH_", "PREFECT_"))},
        "PYTHONPATH": str(PROJECT_ROOT),
        "TRADEWH_HOME": str(workdir / "home"),
        "TRADEWH_CATALOGUE": str(workdir / "catalogue.toml"),
        "PREFECT_HOME": str(workdir / "prefect"),
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    }
    env.pop("TRADEWH_FAILPOINT", None)
    usage_file = workdir / f"usage-{time.monotonic_ns()}.json"
    with open(workdir / f"load-{time.monotonic_ns()}.log", "w+") as log:
        started = time.monotonic()
        # Linux keeps a process's peak RSS across exec, so a load forked straight from this (large) pytest process
        # would report pytest's own peak: a small Python in between starts the load and waits for it
        subprocess.run(
            [sys.executable, "-c", WAIT_FOR_LOAD, str(usage_file), sys.executable, "-m", "warehouse.serve.cli", "load"],
            env=env, stdout=log, stderr=subprocess.STDOUT, check=False, timeout=600,
        )  # fmt: skip
        seconds = time.monotonic() - started
        code, maxrss_kib = json.loads(usage_file.read_text())
        log.seek(0)
        return Load(code, log.read(), maxrss_kib * 1024, seconds)  # Linux: ru_maxrss in KiB


# the load in its own session, waited for with its own resource use; Prefect's server, if left running, ended
WAIT_FOR_LOAD = """
import json, os, signal, subprocess, sys
proc = subprocess.Popen(sys.argv[2:], start_new_session=True)
try:
    _, status, usage = os.wait4(proc.pid, 0)
finally:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
with open(sys.argv[1], "w") as out:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss], out)
"""


def published(warehouse: Path) -> dict[str, list[tuple]]:
    """The published figures: every table but the audit's (a run, even a failed one, adds its rows there), and the
    figures' views, sorted."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select schema_name, table_name from duckdb_tables() where schema_name <> 'audit'"
            ).fetchall()
        ]
        return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr) for t in {*tables, *FIGURES}}


def last_run(warehouse: Path, source_id: str) -> tuple[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select status, message from audit.source_runs where source_id = ? "
            "and run_id = (select max(run_id) from audit.load_runs)",
            [source_id],
        ).fetchone()


WDI_PATH = "/wdi/API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"


def big_pages(server: Server, pages: int, page_bytes: int) -> Route:
    """A World Bank-style answer of ``pages`` pages of about ``page_bytes`` each, each generated as it is sent."""

    def answer(h: Handler) -> None:
        page = int(urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query).get("page", ["1"])[0])
        meta = {"page": page, "pages": pages, "per_page": 1, "total": pages, "lastupdated": "2026-02-24"}
        head, tail, filler = b"[" + json.dumps(meta).encode() + b',[{"padding": "', b'"}]]', b"x" * MiB
        fillers = (page_bytes - len(head) - len(tail)) // MiB
        h.send_response(200)
        h.send_header("Content-Type", "application/json;charset=utf-8")
        h.send_header("Content-Length", str(len(head) + fillers * MiB + len(tail)))
        h.end_headers()
        h.wfile.write(head)
        for _ in range(fillers):
            h.wfile.write(filler)
            server.sent(MiB)
        h.wfile.write(tail)

    return answer


# One catalogue for every load here: a changed catalogue makes the next load rebuild the warehouse, whose DuckDB
# build (not the fetch) would then set the peak (about 450 MiB for this catalogue, against about 260 without).
LOAD_HTTP = {"timeout_s": 20, "max_bytes": 384 * MiB}  # 384 MiB held in memory would take the load over 500 MiB
BAD_ANSWERS: dict[str, tuple[Callable[[Server], Route], str, int]] = {
    # name: (the answer, the rule broken, the most bytes the server may send before the fetch stops it)
    "3 GiB": (lambda s: stream(s, 3 * GiB, announce=False), "payload_too_large", 384 * MiB + 32 * MiB),
    "slow drip": (lambda s: drip(1.0, limit=600), "deadline_exceeded", 1),  # it would go on for 10 minutes
    "pages over the cap": (lambda s: big_pages(s, pages=3, page_bytes=160 * MiB), "payload_too_large", 384 * MiB),
}


@pytest.fixture(scope="module")
def loaded_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A server answering ``wdi_current`` with its seed, and a home where a load published it."""
    workdir = tmp_path_factory.mktemp("limits-load")
    with serving() as state:
        catalogue(workdir, state.route(WDI_PATH, seed_csv), LOAD_HTTP)
        first = load(workdir)
        assert first.code == 0, first.output[-3000:]
        print(f"\nfirst load: peak RSS {first.peak_rss / MiB:.0f} MiB, {first.seconds:.1f} s")
        yield state, workdir


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_a_load_meeting_a_bad_answer_stays_small_and_quick_and_keeps_the_published_figures(
    loaded_once: tuple[Server, Path], case: str
) -> None:
    state, workdir = loaded_once
    answer, rule, most_sent = BAD_ANSWERS[case]
    warehouse = workdir / "home" / "warehouse" / "tradewh.duckdb"
    before = published(warehouse)
    assert before["raw.wdi"] and len(before) > len(FIGURES)
    home_raw = workdir / "home" / "raw" / "wdi_current"
    raw_before = {p: p.read_bytes() for p in files_under(home_raw)}

    state.body_bytes_sent = 0
    url = state.route(WDI_PATH, answer(state))
    run = load(workdir)
    print(f"{case}: peak RSS {run.peak_rss / MiB:.0f} MiB, {run.seconds:.1f} s, exit code {run.code}")
    assert run.code == 2, run.output[-3000:]  # partial: the other sources were loaded
    assert run.peak_rss < 500 * MiB
    assert run.seconds < 120
    assert "[wdi_current]" in run.output and rule in run.output and url in run.output
    assert state.body_bytes_sent < most_sent
    assert published(warehouse) == before  # every figure as the first load published it
    status, message = last_run(warehouse, "wdi_current")
    assert status == "failed" and rule in message  # and the failure is on record
    assert {p: p.read_bytes() for p in files_under(home_raw)} == raw_before  # no part file, nothing replaced
