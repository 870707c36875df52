"""The HTML report: one self-contained page, its numbers are the marts', and it renders in a real headless Chromium.

The browser tests start Debian's ``chromium`` (never a downloaded browser) in a new network namespace where
one is available (``unshare --net``, as root), with background networking off and every host name unresolvable,
on the page as a ``file://`` URL. Console messages are read from Chromium's own log (``--enable-logging=stderr
--v=0``): a ``CONSOLE`` or ``Uncaught`` record whose source is the page fails the test (records of Chromium's
own ``chrome://`` pages are not the page's). Without Chromium the browser tests skip, except in CI (``CI`` set),
where they fail: CI installs it (``apt-get install -y chromium``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.build import refresh_stored
from warehouse.cli import main
from warehouse.report import (
    ReportError,
    bn,
    build_report,
    largest_deficits,
    nice_ticks,
    pct,
    write_report,
)

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_TIMEOUT = 120  # seconds, for one headless run (a cold start on two cores takes a few)
CHARTS = (
    "chart-technology-balance",
    "chart-ip-charges",
    "chart-technology-composition",
    "chart-goods-composition",
    "chart-largest-deficits",
    "chart-claim-verdicts",
    "chart-freshness",
)


# --- the page as a tree ---------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag) and all(n.attrs.get(k) == v for k, v in wanted.items())
        ]

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag}> with {attrs}, found {len(found)}"
        return found[0]

    def child(self, tag: str) -> Node:
        """The first direct child element with that tag."""
        return next(c for c in self.children if isinstance(c, Node) and c.tag == tag)

    def rows(self) -> list[list[str]]:
        """The body rows of a table, as the cells' text."""
        return [[td.text().strip() for td in tr.find_all("td")] for tr in self.one("tbody").find_all("tr")]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


# --- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(loaded) -> str:
    return build_report(loaded["warehouse"])


@pytest.fixture(scope="module")
def doc(page) -> Node:
    return parse(page)


@pytest.fixture(scope="module")
def con(loaded):
    # the report's own configuration: one process opens a file with one configuration only
    from warehouse.readonly import connect_read_only

    connection = connect_read_only(loaded["warehouse"])
    yield connection
    connection.close()


def section(doc: Node, name: str) -> Node:
    return doc.one("section", data_testid=f"section-{name}")


# --- self-contained -------------------------------------------------------------------------------------------

URL_ATTRIBUTES = {"src", "href", "srcset", "xlink:href", "action", "formaction", "poster", "data", "background"}


def test_the_page_fetches_nothing(page, doc):
    elements = list(doc.iter())
    assert not [n for n in elements if n.tag in {"link", "img", "iframe", "object", "embed", "base", "audio", "video"}]
    assert all("src" not in n.attrs for n in elements if n.tag == "script")
    for n in elements:
        for name, value in n.attrs.items():
            assert name not in URL_ATTRIBUTES or value.startswith("#"), f"<{n.tag} {name}={value!r}> refers out"
            assert "://" not in value and not value.strip().startswith("//"), f"<{n.tag} {name}={value!r}>"
    styles = " ".join(n.text() for n in elements if n.tag == "style") + " ".join(
        n.attrs.get("style", "") for n in elements
    )
    assert "url(" not in styles and "@import" not in styles and "@font-face" not in styles
    # http(s) may appear only as plain text (an attribution), never in markup
    markup = re.sub(r">[^<]*<", "><", page)
    assert "http://" not in markup and "https://" not in markup


def test_every_chart_is_there_with_its_numbers_as_text(doc):
    for testid in CHARTS:
        svg = doc.one("svg", data_testid=testid)
        assert svg.child("title").text().strip(), f"{testid} has no title"
    for circle in doc.find_all("circle", **{"class": "point"}) + doc.find_all("circle", **{"class": "point derived"}):
        assert circle.one("title").text().strip()


# --- the numbers are the marts' -------------------------------------------------------------------------------


def test_technology_balance_matches_the_marts(doc, con):
    expected = con.execute(
        "select year, exports, imports, balance, is_exports_derived, is_imports_derived, derivation "
        "from marts.trade_balance where reporter = 'CHN' and partner = 'WLD' "
        "and measure = 'technology_contract_value' order by year"
    ).fetchall()
    part = section(doc, "technology-balance")
    rows = part.one("table", data_testid="table-technology-balance").rows()
    assert [r[0] for r in rows] == [str(e[0]) for e in expected]
    for row, (_, exports, imports, balance, exp_derived, imp_derived, derivation) in zip(rows, expected, strict=True):
        assert row[1].startswith(bn(exports)) and row[2].startswith(bn(imports)) and row[3].startswith(bn(balance))
        assert row[2].endswith("(derived)") == bool(imp_derived and imports is not None)
        assert row[1].endswith("(derived)") == bool(exp_derived and exports is not None)
        assert row[4] == (derivation or "printed")
    by_year = {r[0]: r for r in rows}
    assert by_year["2011"][1:4] == ["21.40 bn US$", "32.16 bn US$", "-10.76 bn US$"]
    assert by_year["2006"][2] == "22.03 bn US$ (derived)"


def test_technology_balance_chart_marks_derived_points(doc):
    chart = doc.one("svg", data_testid="chart-technology-balance")
    points = {}
    for group in chart.find_all("g", **{"class": "series"}):
        for circle in group.find_all("circle"):
            points[(group.attrs["data-series"], circle.attrs["data-year"])] = circle
    balance_2011 = points[("balance", "2011")]
    assert balance_2011.attrs["data-value"] == "-10.76"
    assert "-10.76 bn US$" in balance_2011.one("title").text()
    derived = {key for key, c in points.items() if "derived" in c.attrs["class"].split()}
    assert {("imports", "2006"), ("imports", "2010"), ("balance", "2006")} <= derived
    assert ("exports", "2011") not in derived and ("balance", "2011") not in derived
    assert "22.61 bn - 0.58 bn" in points[("imports", "2006")].one("title").text()
    assert ("exports", "2010") not in points  # not published, not derivable: no marker at all, never a zero


def test_ip_charges_match_the_marts(doc, con):
    expected = con.execute(
        "select year, exports, imports, balance from marts.trade_balance "
        "where reporter = 'CHN' and partner = 'WLD' and category = 'ip_charges' order by year"
    ).fetchall()
    rows = section(doc, "ip-charges").one("table", data_testid="table-ip-charges").rows()
    assert rows == [[str(y), bn(e), bn(i), bn(b)] for y, e, i, b in expected]
    assert ["2011", "0.74 bn US$", "14.71 bn US$", "-13.96 bn US$"] in rows
    chart = doc.one("svg", data_testid="chart-ip-charges")
    balance = chart.one("g", data_series="balance").find_all("circle")
    assert len(balance) == sum(b is not None for *_, b in expected)


def test_software_share_of_technology_exports(doc, con):
    share, value, base = con.execute(
        "select share_pct, value_usd, base_value_usd from marts.trade_composition "
        "where reporter = 'CHN' and category = 'software' and flow = 'export' and period = '2011'"
    ).fetchone()
    rows = section(doc, "technology-composition").one("table", data_testid="table-technology-composition").rows()
    software = next(r for r in rows if r[0].startswith("Computer software"))
    assert software[1:4] == [f"{pct(share)} (printed)", f"{bn(value)} (derived)", bn(base)]
    assert software[1:4] == ["89.2 % (printed)", "19.09 bn US$ (derived)", "21.40 bn US$"]
    bar = doc.one("svg", data_testid="chart-technology-composition").one("g", data_key="software")
    assert float(bar.attrs["data-value"]) == pytest.approx(89.2)
    assert "89.2 %" in bar.text()


def test_goods_exports_by_sitc_section_match_the_marts(doc, con):
    expected = con.execute(
        "select section, any_value(section_share_of_total_pct), any_value(section_value_usd) "
        "from marts.goods_composition where reporter = 'CHN' and partner = 'USA' and period = '2011' "
        "and flow = 'export' and classification like 'SITC%' group by section order by 2 desc"
    ).fetchall()
    if not expected:
        pytest.skip("no Comtrade SITC figures in this warehouse (../shared/data absent)")
    part = section(doc, "goods-composition")
    assert "2011" in part.one("h2").text()
    rows = part.one("table", data_testid="table-goods-composition").rows()
    assert [(r[0].split(" ")[0], r[1], r[2]) for r in rows] == [(s, pct(share), bn(v)) for s, share, v in expected]
    bars = doc.one("svg", data_testid="chart-goods-composition").find_all("g", **{"class": "bar"})
    assert [b.attrs["data-key"] for b in bars] == [s for s, *_ in expected]


def test_largest_deficits_by_category_when_one_partner(doc, con):
    partners = con.execute(
        "select distinct partner from marts.trade_balance where reporter = 'CHN' and measure = 'customs_value' "
        "and partner <> 'WLD'"
    ).fetchall()
    if partners != [("USA",)]:
        pytest.skip(f"this warehouse's customs partners are {partners}, not the USA alone")
    expected = con.execute(
        "select category, exports, imports, balance from marts.trade_balance "
        "where source_id = 'comtrade_chn_usa_sitc' and reporter = 'CHN' and partner = 'USA' and period = '2011' "
        "and length(category) = 2 and balance < 0 order by balance limit 10"
    ).fetchall()
    part = section(doc, "largest-deficits")
    caption = part.one("p", data_testid="caption-largest-deficits")
    assert caption.attrs["data-mode"] == "category"
    assert "one partner only (United States of America)" in caption.text()
    assert "SITC division" in caption.text() and "2011" in caption.text()
    rows = part.one("table", data_testid="table-largest-deficits").rows()
    assert [(r[0].split(" ")[0], r[1], r[2], r[3]) for r in rows] == [
        (c, bn(e), bn(i), bn(b)) for c, e, i, b in expected
    ]
    assert rows[0][0] == "22 Oil-seeds and oleaginous fruits"
    bars = doc.one("svg", data_testid="chart-largest-deficits").find_all("g", **{"class": "bar"})
    assert [b.attrs["data-key"] for b in bars] == [c for c, *_ in expected]


def test_largest_deficits_by_partner_when_several():
    with duckdb.connect() as mem:
        mem.execute("create schema marts; create schema core")
        mem.execute(
            "create table marts.trade_balance (source_id varchar, reporter varchar, partner varchar, year integer, "
            "measure varchar, classification varchar, category varchar, exports double, imports double, "
            "balance double)"
        )
        mem.execute("create table core.dim_country (iso3 varchar, name varchar, is_aggregate boolean)")
        mem.execute("create table core.dim_commodity (family varchar, code varchar, level varchar, name varchar)")
        mem.execute(
            "insert into core.dim_country values ('CHN', 'China', false), ('USA', 'United States', false), "
            "('JPN', 'Japan', false), ('DEU', 'Germany', false), ('WLD', 'World', true), ('EUU', 'EU', true)"
        )
        mem.execute(
            "insert into marts.trade_balance values "
            "('m', 'CHN', 'WLD', 2011, 'technology_contract_value', 't', 'technology', 1e9, 2e9, -1e9), "
            "('c', 'CHN', 'USA', 2011, 'customs_value', 'HS2007', 'TOTAL', 1e9, 6e9, -5e9), "
            "('c', 'CHN', 'USA', 2011, 'customs_value', 'HS2007', '01', 1e9, 9e9, -8e9), "
            "('c', 'CHN', 'JPN', 2011, 'customs_value', 'HS2007', '01', 0, 2e9, -2e9), "
            "('c', 'CHN', 'JPN', 2011, 'customs_value', 'HS2007', '02', 0, 1e9, -1e9), "
            "('c', 'CHN', 'DEU', 2011, 'customs_value', 'HS2007', 'TOTAL', 9e9, 5e9, 4e9), "
            "('c', 'CHN', 'EUU', 2011, 'customs_value', 'HS2007', 'TOTAL', 0, 50e9, -50e9), "
            "('c', 'CHN', 'WLD', 2011, 'customs_value', 'HS2007', 'TOTAL', 0, 99e9, -99e9), "
            "('c', 'CHN', 'JPN', 2010, 'customs_value', 'HS2007', 'TOTAL', 0, 70e9, -70e9)"
        )
        mode, caption, rows = largest_deficits(mem)
    assert mode == "partner"
    assert "by partner" in caption and "2011" in caption
    # the printed TOTAL wins over the codes; codes are summed where no TOTAL; surpluses, aggregates, other years out
    assert [(r["key"], r["label"], r["balance"]) for r in rows] == [
        ("USA", "United States", -5e9),
        ("JPN", "Japan", -3e9),
    ]


def test_claim_checks_match_the_marts(doc, con):
    expected = dict(con.execute("select figure_id, verdict from marts.claim_checks").fetchall())
    table = section(doc, "claim-checks").one("table", data_testid="table-claim-checks")
    shown = {tr.attrs["data-figure-id"]: tr for tr in table.find_all("tr") if "data-figure-id" in tr.attrs}
    assert set(shown) == set(expected)
    for figure_id, verdict in expected.items():
        assert shown[figure_id].one("span", **{"class": f"verdict {verdict}"}).attrs["data-verdict"] == verdict
    assert expected["total_2011"] == "consistent"

    def cells(figure_id: str) -> list[str]:
        return [td.text().strip() for td in shown[figure_id].find_all("td")]

    assert cells("total_2011")[1:4] == ["53.56 bn US$", "53.56 bn US$", "consistent"]
    assert cells("technology_share_services_trade")[1:4] == ["12 %", "12.6 %", "inconsistent"]
    assert cells("balance_2011_approx")[1:4] == ["~ 10 bn US$ deficit", "-10.76 bn US$", "consistent"]
    assert cells("exports_2006")[1:4] == ["580 m US$", "n/a", "unverifiable"]
    counts = dict(con.execute("select verdict, count(*) from marts.claim_checks group by 1").fetchall())
    parts = doc.one("svg", data_testid="chart-claim-verdicts").find_all("g", **{"class": "part"})
    assert {p.attrs["data-key"]: int(p.attrs["data-count"]) for p in parts if p.attrs["data-count"] != "0"} == counts


def test_freshness_matches_the_audit(doc, con):
    expected = con.execute(
        "select d.source_id, r.status, (select max(vintage) from core.fct_trade_figure f "
        "where f.source_id = d.source_id and f.is_latest_vintage) "
        "from core.dim_source as d left join (select s.source_id, s.status from audit.source_runs as s "
        "join audit.load_runs as l using (run_id) qualify row_number() over (partition by s.source_id "
        "order by l.started_at desc, s.run_id desc) = 1) as r using (source_id) order by 1"
    ).fetchall()
    loaded_rows = dict(
        con.execute(
            "select s.source_id, s.rows_loaded from audit.source_runs as s join audit.load_runs as l using (run_id) "
            "where s.status = 'loaded' qualify row_number() over (partition by s.source_id "
            "order by l.started_at desc) = 1"
        ).fetchall()
    )
    rows = section(doc, "freshness").one("table", data_testid="table-freshness").rows()
    assert [r[0] for r in rows] == [e[0] for e in expected]
    for row, (source_id, status, vintage) in zip(rows, expected, strict=True):
        assert row[2].split(" ")[0] == (status or "never")
        assert row[4] == (vintage or "n/a")
        assert row[7] == (f"{loaded_rows[source_id]:,}" if source_id in loaded_rows else "n/a")
    dots = doc.one("svg", data_testid="chart-freshness").find_all("g", **{"class": "item"})
    assert [d.attrs["data-key"] for d in dots] == [e[0] for e in expected]


def test_the_page_follows_the_warehouse_not_typed_numbers(loaded, tmp_path):
    # a copy of the warehouse where the release printed 22.40 bn of exports in 2011 instead of 21.4
    copy = tmp_path / "changed.duckdb"
    shutil.copy(loaded["warehouse"], copy)
    with duckdb.connect(str(copy)) as writable:
        writable.execute("update raw.press_release set value = 22.40 where figure_id = 'exports_2011'")
        refresh_stored(writable, PROJECT_ROOT / "sql")  # the fact and the marts stored from it follow the change
    doc = parse(build_report(copy))
    rows = {r[0]: r for r in doc.one("table", data_testid="table-technology-balance").rows()}
    assert rows["2011"][1:4] == ["22.40 bn US$", "32.16 bn US$", "-9.76 bn US$"]
    software = doc.one("table", data_testid="table-technology-composition").rows()[0]
    assert software[2] == "19.98 bn US$ (derived)"  # 89.2 % of 22.40 bn
    total = doc.one("tr", data_figure_id="total_2011")
    assert total.one("span", **{"class": "verdict inconsistent"}).text() == "inconsistent"  # 22.40 + 32.16 != 53.56


def test_report_is_read_only_and_repeatable(loaded):
    warehouse = loaded["warehouse"]
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    assert build_report(warehouse) == build_report(warehouse)
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before


def test_formatting_and_ticks():
    assert bn(-10_760_000_000) == "-10.76 bn US$"
    assert bn(None) == "n/a"
    assert pct(89.2) == "89.2 %"
    assert nice_ticks(-21.45, 32.16) == [-40, -20, 0, 20, 40]
    assert nice_ticks(0, 49.8) == [0, 10, 20, 30, 40, 50]
    ticks = nice_ticks(-12.61, 0)
    assert ticks[0] <= -12.61 and ticks[-1] == 0


# --- the command ----------------------------------------------------------------------------------------------


def test_report_command_writes_the_default_file(loaded, monkeypatch, capsys):
    monkeypatch.setenv("TRADEWH_HOME", str(loaded["home"]))
    assert main(["report"]) == 0
    out = Path(loaded["home"]) / "report" / "tradewh-report.html"
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == build_report(loaded["warehouse"])
    assert not list(out.parent.glob(".*.partial"))


def test_report_command_writes_where_asked(loaded, monkeypatch, tmp_path):
    monkeypatch.setenv("TRADEWH_HOME", str(loaded["home"]))
    target = tmp_path / "elsewhere" / "r.html"
    assert main(["report", "--out", str(target)]) == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_without_a_warehouse_says_run_load_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRADEWH_HOME", str(tmp_path))
    assert main(["report"]) == 1
    assert "run `tradewh load` first" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()
    with pytest.raises(ReportError, match="run `tradewh load` first"):
        write_report(tmp_path / "warehouse" / "tradewh.duckdb", tmp_path / "r.html")


# --- in a real browser ----------------------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no host name resolves: nothing leaves the machine
    "--enable-logging=stderr",
    "--v=0",
)
CHROME_OWN_PAGES = ("chrome://", "chrome-untrusted://", "devtools://", "chrome-extension://")
LOG_RECORD = re.compile(r"^\[\d+:\d+:\d+/\d+\.\d+:", re.MULTILINE)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_chromium() -> str | None:
    """Debian's ``/usr/bin/chromium``, else ``chromium`` on PATH, else None."""
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and os.access(p, os.X_OK)), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, or skip (outside CI) / fail (in CI) with how to install it."""
    found = find_chromium()
    if found is None:
        reason = "Chromium not found (/usr/bin/chromium or chromium on PATH): apt-get install -y chromium (as root)"
        if _in_ci():
            pytest.fail(f"CI must run the browser tests: {reason}", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def no_network_prefix() -> list[str]:
    """``unshare --net`` where a new, empty network namespace can be made (root); nothing otherwise."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    try:
        probe = subprocess.run([unshare, "--net", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [unshare, "--net"] if probe.returncode == 0 else []


@dataclass
class BrowserRun:
    returncode: int
    stdout: str
    stderr: str

    def page_messages(self) -> list[str]:
        """Console messages and uncaught errors of the page (not of Chromium's own chrome:// pages)."""
        records = [r.strip() for r in LOG_RECORD.split(self.stderr) if r.strip()]
        found = []
        for record in records:
            if "CONSOLE" not in record and "Uncaught" not in record:
                continue
            # per line: a line Chromium prints that is no log record (the screenshot's "bytes written") may follow
            source = re.search(r"source: (\S+) \(\d+\)\s*$", record, re.M)
            if source and source.group(1).startswith(CHROME_OWN_PAGES):
                continue
            found.append(record)
        return found


def test_messages_of_chromiums_own_pages_are_not_the_pages_even_with_a_line_after_them():
    """Seen on a loaded machine: Chromium's own composebox page logs a slow network, and the screenshot's line
    follows it in the same record; the page's own errors still count."""
    stderr = (
        '[1:2:1202/160000.000000:INFO:CONSOLE:574] "Slow network is detected. Fallback font will be used while '
        'loading: chrome://resources/roboto/roboto-regular.woff2", source: '
        "chrome://resources/cr_components/composebox/composebox_input.js (574)\n"
        "294663 bytes written to file /tmp/report.png\n"
        '[1:2:1202/160000.000001:INFO:CONSOLE:1] "Uncaught ReferenceError: x is not defined", source: '
        "file:///tmp/report.html (1)\n"
    )
    messages = BrowserRun(0, "", stderr).page_messages()
    assert len(messages) == 1 and "file:///tmp/report.html" in messages[0]


def run_chromium(chromium: str, prefix: list[str], url: str, tmp: Path, *args: str) -> BrowserRun:
    """One headless Chromium run on ``url``, in its own new profile and process group, bounded in time."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    profile.mkdir()
    command = [*prefix, chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium did not finish within {CHROMIUM_TIMEOUT} s: {' '.join(command)}")
    finally:
        with contextlib.suppress(ProcessLookupError):  # renderer and GPU processes go with it
            os.killpg(process.pid, signal.SIGKILL)
    return BrowserRun(process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"))


@pytest.fixture(scope="module")
def report_file(page, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "tradewh-report.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_chromium_loads_the_report_with_no_console_messages(chromium, no_network_prefix, report_file, tmp_path, con):
    run = run_chromium(chromium, no_network_prefix, report_file.as_uri(), tmp_path, "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.page_messages() == []
    dom = parse(run.stdout)
    for testid in CHARTS:
        svg = dom.one("svg", data_testid=testid)
        assert len(list(svg.iter())) > 5, f"{testid} is empty in the browser's DOM"
    tech = dom.one("svg", data_testid="chart-technology-balance")
    assert len(tech.find_all("circle", **{"class": "point derived"})) == 3
    rows = dom.one("table", data_testid="table-technology-balance").rows()
    assert ["2011", "21.40 bn US$", "32.16 bn US$", "-10.76 bn US$", "printed"] in rows
    verdict = dom.one("tr", data_figure_id="total_2011").one("span", data_verdict="consistent")
    assert (
        verdict.text()
        == con.execute("select verdict from marts.claim_checks where figure_id = 'total_2011'").fetchone()[0]
    )


def test_chromium_screenshot_is_not_blank(chromium, no_network_prefix, report_file, tmp_path):
    shot = tmp_path / "report.png"
    run = run_chromium(
        chromium,
        no_network_prefix,
        report_file.as_uri(),
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        "--hide-scrollbars",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.page_messages() == []
    assert shot.is_file(), f"no screenshot written: {run.stderr[-2000:]}"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report.png")
    shutil.copy(report_file, ARTIFACTS / "report.html")
    image = read_png(shot)
    assert (image.width, image.height) == (1280, 2400)
    colours, ink = image.colour_stats(row_step=3)
    assert colours > 16, f"the screenshot has {colours} colours: blank?"
    assert ink > 0.02, f"only {ink:.1%} of the screenshot is not background"


def test_the_console_check_catches_a_broken_page(chromium, no_network_prefix, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); no_such_function();</script>")
    run = run_chromium(chromium, no_network_prefix, broken.as_uri(), tmp_path, "--dump-dom")
    messages = run.page_messages()
    assert any("boom" in m for m in messages), run.stderr[-2000:]
    assert any("Uncaught" in m and "no_such_function" in m for m in messages), run.stderr[-2000:]


# --- a tiny PNG reader ----------------------------------------------------------------------------------------


@dataclass
class Png:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    def colour_stats(self, row_step: int = 1) -> tuple[int, float]:
        """Distinct colours and the share of pixels unlike the top-left one (the background), every row_step rows."""
        n = self.channels
        background = self.rows[0][:n]
        colours: set[bytes] = set()
        ink = total = 0
        for row in self.rows[::row_step]:
            pixels = [row[i : i + n] for i in range(0, len(row), n)]
            colours.update(pixels)
            ink += sum(p != background for p in pixels)
            total += len(pixels)
        return len(colours), ink / max(total, 1)


def read_png(path: Path) -> Png:
    """Decode an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA or palette indices) into rows of bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, compressed = 8, bytearray()
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, f"unsupported PNG: depth {depth}, interlace {interlace}"
            channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    low = int.from_bytes(b"\x7f" * stride, "big")
    high = int.from_bytes(b"\x80" * stride, "big")
    previous = bytes(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        if kind == 0:
            row = bytes(line)
        elif kind == 2:  # up: byte-wise addition mod 256 of two whole rows at once
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            row = (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big")
        else:
            out = bytearray(line)
            for i in range(stride):
                left = out[i - channels] if i >= channels else 0
                up = previous[i]
                if kind == 1:
                    out[i] = (out[i] + left) & 0xFF
                elif kind == 3:
                    out[i] = (out[i] + ((left + up) >> 1)) & 0xFF
                else:
                    corner = previous[i - channels] if i >= channels else 0
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                    out[i] = (out[i] + predictor) & 0xFF
            row = bytes(out)
        rows.append(row)
        previous = row
    return Png(width, height, channels, rows)
