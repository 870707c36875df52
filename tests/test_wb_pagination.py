"""World Bank API v2 answers come in pages: the fetcher follows them, the parser checks they are all there."""

from __future__ import annotations

import http.server
import threading
import urllib.parse

import pytest

from tests.conftest import FIXTURES
from warehouse.extract import fetch
from warehouse.extract import http as http_fetch
from warehouse.parse.wdi import parse_wdi

PAGES = {1: (FIXTURES / "wdi_api" / "page1.json").read_bytes(), 2: (FIXTURES / "wdi_api" / "page2.json").read_bytes()}


class Pages(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Pages.seen.append(self.path)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        body = PAGES[int(query.get("page", ["1"])[0])]
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Pages.seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_page_is_fetched_and_parsed_as_one_answer(server, tmp_path):
    url = f"{server}/v2/country/CHN/indicator/BX.GSR.ROYL.CD?format=json&per_page=2"
    payload = fetch.fetch_url(url, source_id="wdi_current", raw_dir=tmp_path)
    assert [urllib.parse.parse_qs(urllib.parse.urlsplit(p).query).get("page") for p in Pages.seen] == [None, ["2"]]
    parsed = parse_wdi(payload.raw_path, source_id="wdi_current")
    assert parsed.vintage == "2026-02-24"
    assert sorted(parsed.frame["year"]) == [2010, 2011]  # the third row (2009) is null: missing, not zero


def test_page_parameter_is_replaced_not_repeated():
    assert http_fetch.with_page("http://h/x?format=json&page=1", 3) == "http://h/x?format=json&page=3"


def test_a_body_that_is_not_a_world_bank_answer_has_one_page():
    assert http_fetch.announced_pages(b"Country Name,Country Code,Year,Value\n") == 1
    assert http_fetch.announced_pages(b'{"count": 2, "data": []}') == 1
