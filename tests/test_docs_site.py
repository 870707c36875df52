"""``tradewh docs``: the page of every public view and column, its lineage from DuckDB's parser, and its search in
a real headless Chromium.

The browser test drives Debian's Chromium (never a downloaded one, no network: the flags and the network
namespace of ``tests/test_report.py``) through the Chrome DevTools Protocol over ``--remote-debugging-pipe``
(file descriptors 3 and 4, messages ending in NUL): no port is opened, so it works inside ``unshare --net``. It
types a view's name into the search box key by key, as a person does, and reads what is displayed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM_FLAGS, PROJECT_ROOT
from warehouse.build import references
from warehouse.common.readonly import connect_read_only
from warehouse.serve.cli import main
from warehouse.serve.docs_site import DocsError, collect, write_docs

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SQL_DIR = PROJECT_ROOT / "sql"


@pytest.fixture(scope="module")
def con(loaded):
    with connect_read_only(loaded["warehouse"]) as connection:
        yield connection


@pytest.fixture(scope="module")
def docs_file(loaded, tmp_path_factory) -> Path:
    return write_docs(loaded["warehouse"], tmp_path_factory.mktemp("docs") / "index.html", SQL_DIR)


# --- lineage from DuckDB's parser ------------------------------------------------------------------------------


def test_references_of_a_views_definition_come_from_the_parse_tree_not_from_ctes_comments_or_strings():
    sql = (  # as duckdb_views().sql gives a definition: upper-case keywords
        "CREATE VIEW marts.x AS WITH fake AS (SELECT 'from raw.wdi' AS s FROM core.dim_country) "
        "-- marts.claim_checks\n"
        "SELECT * FROM fake JOIN (SELECT * FROM store.core__fct_trade_figure) f ON true, fake AS again"
    )
    assert references(sql) == ({"core.dim_country", "store.core__fct_trade_figure"}, "parser")


def test_lineage_runs_from_the_marts_through_stored_tables_to_raw(con):
    relations = collect(con, SQL_DIR)
    public = {k for k, r in relations.items() if r.public}
    views = {
        f"{s}.{v}"
        for s, v in con.execute(
            "select schema_name, view_name from duckdb_views() "
            "where not internal and schema_name in ('marts', 'core', 'audit')"
        ).fetchall()
    }
    assert views <= public and "audit.load_runs" in public  # the audit tables too
    assert "marts.trade_balance_vintages" in relations["marts.trade_balance"].upstream
    assert "store.marts__trade_balance_vintages" in relations["marts.trade_balance_vintages"].upstream
    # from its file's query, which reads the fact's stored rows by name (is_sole_figure, which the view leaves out)
    assert "store.core__fct_trade_figure" in relations["store.marts__trade_balance_vintages"].upstream
    assert "store.core__fct_trade_figure" in relations["marts.trade_balance_vintages"].upstream  # the sole figures
    assert relations["store.core__fct_trade_figure"].upstream >= {"staging.stg_wdi", "staging.stg_press_release"}
    assert relations["staging.stg_wdi"].upstream >= {"raw.wdi"}
    assert "marts.trade_balance" in relations["marts.trade_balance_vintages"].downstream
    assert all(r.parsed_by == "parser" for r in relations.values())  # the fallback was not needed
    assert relations["marts.trade_balance"].sql_file == str(SQL_DIR / "marts" / "trade_balance.sql")


# --- the page ----------------------------------------------------------------------------------------------------


def test_the_page_documents_every_public_view_and_column(con, docs_file):
    page = docs_file.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<link" not in page  # offline, self-contained
    objects = con.execute(
        "select schema_name, view_name, comment from duckdb_views() where not internal "
        "and schema_name in ('marts', 'core', 'audit') union all "
        "select schema_name, table_name, comment from duckdb_tables() where schema_name in ('marts', 'core', 'audit')"
    ).fetchall()
    assert len(objects) > 20
    for schema, name, _comment in objects:
        assert f'<section class="view" id="view-{schema}.{name}"' in page
        assert f'data-testid="lineage-{schema}.{name}"' in page
    from html import escape

    comment = con.execute("select comment from duckdb_views() where view_name = 'trade_balance'").fetchone()[0]
    assert escape(comment) in page
    column = con.execute(
        "select comment from duckdb_columns() where table_name = 'trade_balance' and column_name = 'period_start'"
    ).fetchone()[0]
    assert escape(comment) in page and escape(column) in page
    assert "sql/marts/trade_balance.sql" in page
    assert (
        page.count("<tr data-search=")
        == con.execute(
            "select count(*) from duckdb_columns() where schema_name in ('marts', 'core', 'audit')"
        ).fetchone()[0]
    )


def test_tradewh_docs_writes_the_page(loaded, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRADEWH_HOME", str(loaded["home"]))
    out = tmp_path / "site" / "docs.html"
    assert main(["docs", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "sql/marts/trade_balance.sql" in out.read_text(encoding="utf-8")  # relative to the project


def test_tradewh_docs_without_a_warehouse_says_run_load_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRADEWH_HOME", str(tmp_path))
    assert main(["docs"]) == 1
    assert "run `tradewh load` first" in capsys.readouterr().err
    assert not (tmp_path / "docs").exists()
    with pytest.raises(DocsError):
        write_docs(tmp_path / "nope.duckdb", tmp_path / "x.html", SQL_DIR)


# --- in a real browser, through the DevTools protocol ------------------------------------------------------------


class DevTools:
    """Chromium driven over ``--remote-debugging-pipe``: one page, its console errors collected."""

    def __init__(self, browser: str, prefix: list[str], profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        for fd in (to_browser_r, from_browser_w):  # the child's ends above 9: moving them never overwrites 3 or 4
            high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
            os.close(fd)
            to_browser_r, from_browser_w = (high, from_browser_w) if fd == to_browser_r else (to_browser_r, high)
        # Chromium reads the protocol from fd 3 and writes to fd 4: bash puts the pipes' ends there
        shell = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        flags = list(CHROMIUM_FLAGS)
        self.log = profile.with_name("chromium.log")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *prefix,
                    "/bin/bash",
                    "-c",
                    shell,
                    "sh",
                    browser,
                    *flags,
                    f"--user-data-dir={profile}",
                    "--remote-debugging-pipe",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(to_browser_r, from_browser_w),
                start_new_session=True,
            )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.session = ""
        self.errors: list[str] = []
        deadline = time.monotonic() + 60
        while not (pages := [t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]):
            assert time.monotonic() < deadline, "Chromium opened no page"
            time.sleep(0.1)
        target = pages[0]
        self.session = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        self.call("Runtime.enable")
        self.call("Page.enable")

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"Chromium did not answer in time (its log: {self.log})")
            chunk = os.read(self._from_browser, 65536)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, timeout: float = 60, **params: object) -> dict:
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            request["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(message["params"]["exceptionDetails"])[:500])
            elif message.get("method") == "Runtime.consoleAPICalled" and message["params"]["type"] in ("error", "warn"):
                self.errors.append(json.dumps(message["params"]["args"])[:500])
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while self.evaluate("document.readyState") != "complete":
            assert time.monotonic() < deadline, "the page did not finish loading"
            time.sleep(0.1)

    def type(self, text: str) -> None:
        for char in text:
            self.call("Input.dispatchKeyEvent", type="keyDown", text=char, key=char, unmodifiedText=char)
            self.call("Input.dispatchKeyEvent", type="keyUp", key=char)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, EOFError):
            self.call("Browser.close", timeout=10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):  # renderer and GPU processes go with it
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture
def browser(chromium, no_network_prefix, tmp_path):
    devtools = DevTools(chromium, no_network_prefix, tmp_path / "profile")
    try:
        devtools.call("Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False)
        yield devtools
    finally:
        devtools.close()


VISIBLE = """JSON.stringify(Array.from(document.querySelectorAll('section.view')).filter(
  s => s.getBoundingClientRect().height > 0).map(s => s.dataset.view))"""


@pytest.mark.slow
def test_search_in_chromium_finds_a_view_and_shows_its_upstream_views(browser, docs_file, con):
    browser.open(docs_file.as_uri())
    every = json.loads(browser.evaluate(VISIBLE))
    assert len(every) > 20 and "core.dim_country" in every
    browser.evaluate("document.getElementById('search').focus()")
    browser.type("trade_balance")
    shown = json.loads(browser.evaluate(VISIBLE))
    assert "marts.trade_balance" in shown and "marts.trade_balance_vintages" in shown
    assert "core.dim_country" not in shown and "audit.load_runs" not in shown
    assert len(shown) < len(every)
    for view in shown:  # only what matches: by its name or comment, or by a column's
        text = con.execute(
            "select lower(concat_ws(' ', schema_name || '.' || view_name, comment)) from duckdb_views() "
            "where schema_name || '.' || view_name = ?",
            [view],
        ).fetchone()
        columns = con.execute(
            "select lower(string_agg(concat_ws(' ', column_name, comment), ' ')) from duckdb_columns() "
            "where schema_name || '.' || table_name = ?",
            [view],
        ).fetchone()[0]
        assert "trade_balance" in (text[0] if text else "") + " " + columns, view
    assert browser.evaluate("document.getElementById('count').textContent") == f"{len(shown)} of {len(every)} views"
    assert browser.evaluate("location.hash") == "#q=trade_balance"
    upstream = browser.evaluate(
        "JSON.stringify(Array.from(document.getElementById('view-marts.trade_balance')"
        ".querySelectorAll('svg.lineage .node')).filter(n => n.getBoundingClientRect().width > 0)"
        ".map(n => n.dataset.node))"
    )
    nodes = set(json.loads(upstream))
    assert {"marts.trade_balance", "marts.trade_balance_vintages", "core.fct_trade_figure"} <= nodes
    assert {"store.core__fct_trade_figure", "staging.stg_wdi", "raw.wdi"} <= nodes  # down to the raw tables
    direct = browser.evaluate(
        "document.getElementById('view-marts.trade_balance').querySelector('[data-testid=upstream]').innerText"
    )
    assert "marts.trade_balance_vintages" in direct
    ARTIFACTS.mkdir(exist_ok=True)
    browser.evaluate("document.getElementById('view-marts.trade_balance').scrollIntoView()")
    browser.screenshot(ARTIFACTS / "docs-search.png")
    # a column's name finds its views, with only the matching columns shown
    browser.evaluate("(() => { const s = document.getElementById('search'); s.value = ''; s.focus(); })()")
    browser.type("coverage_ratio")
    shown = json.loads(browser.evaluate(VISIBLE))
    assert "marts.trade_balance" in shown and "core.dim_country" not in shown
    rows = browser.evaluate(
        "Array.from(document.getElementById('view-marts.trade_balance').querySelectorAll('tbody tr'))"
        ".filter(r => r.getBoundingClientRect().height > 0).length"
    )
    assert rows == 1
    assert browser.errors == []


@pytest.mark.slow
def test_an_address_with_a_query_opens_the_page_searched(browser, docs_file):
    browser.open(docs_file.as_uri() + "#q=" + "dim_country")
    shown = json.loads(browser.evaluate(VISIBLE))
    assert "core.dim_country" in shown  # and the views a column of which names it in its comment
    assert "core.dim_category" not in shown and "audit.load_runs" not in shown
    assert browser.evaluate("document.getElementById('search').value") == "dim_country"
    browser.open(docs_file.as_uri())
    browser.screenshot(ARTIFACTS / "docs.png")
    shutil.copy(docs_file, ARTIFACTS / "docs.html")
    assert re.match(rb"\x89PNG", (ARTIFACTS / "docs.png").read_bytes()[:4])
    assert browser.errors == []
