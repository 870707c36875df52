"""The HTML report: one self-contained page, its numbers are the marts', and it renders in a real headless Chromium,
for the shipped catalogue and for a catalogue of one generated UN Comtrade source (``generated`` fixture: a file
from benchmarks/generate.py loaded by ``tradewh load`` in a subprocess).

The browser tests start Debian's ``chromium`` (never a downloaded browser) in a new network namespace where
one is available (``unshare --net``, as root), with background networking off and every host name unresolvable,
on the page as a ``file://`` URL. Console messages are read from Chromium's own log (``--enable-logging=stderr
--v=0``): a ``CONSOLE`` or ``Uncaught`` record whose source is the page fails the test (records of Chromium's
own ``chrome://`` pages are not the page's). Without Chromium the browser tests skip, except in CI (``CI`` set),
where they fail: CI installs it (``apt-get install -y chromium``).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest

from tests.conftest import CHROMIUM_FLAGS, PROJECT_ROOT
from warehouse.build.models import refresh_stored
from warehouse.serve.cli import main
from warehouse.serve.report import ReportError, build_report, write_report
from warehouse.serve.report.analyses import MIRROR_ROWS, reconciliation_year
from warehouse.serve.report.model import bn, pct
from warehouse.serve.report.queries import Focus, names, sql
from warehouse.serve.report.sections import largest_deficits

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_TIMEOUT = 120  # seconds, for one headless run (a cold start on two cores takes a few)
CHARTS = (
    "chart-technology-balance",
    "chart-ip-charges",
    "chart-deficit-across-measures",
    "chart-technology-composition",
    "chart-goods-balance",
    "chart-goods-composition",
    "chart-largest-deficits",
    "chart-claim-verdicts",
    "chart-freshness",
)
GENERATED_CHARTS = ("chart-goods-balance", "chart-goods-composition", "chart-largest-deficits", "chart-freshness")
GENERATED_ROWS = 20_000
SEEDS = PROJECT_ROOT / "seeds"


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
    from warehouse.common.readonly import connect_read_only

    connection = connect_read_only(loaded["warehouse"])
    yield connection
    connection.close()


CATALOGUE = """
[[source]]
id = "comtrade_generated"
dataset = "comtrade"
publisher = "United Nations Statistics Division (UN Comtrade), generated test file"
title = "UN Comtrade, generated by benchmarks/generate.py: HS 2022, 12 reporters, 15 partners, 2023"
licence = "Generated test data"
attribution = "benchmarks/generate.py"
homepage = "https://comtradeplus.un.org/"
location = {{ path = "{path}" }}
vintage = "2024-06-30"

  [[source.measures]]
  measure = "customs_value"
  unit = "USD"
  currency = "USD"
  scales = [1]
"""


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> dict[str, object]:
    """A warehouse of one generated UN Comtrade source (HS6, chapters and TOTAL rows), loaded by `tradewh load`."""
    root = tmp_path_factory.mktemp("generated")
    data = root / "files" / "comtrade_generated.csv"
    subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / "generate.py"), "--rows", str(GENERATED_ROWS),
         "--reporters", "12", "--partners", "15", "--commodities", "300", "--aggregates", "--out", str(data)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    catalogue = root / "catalogue.toml"
    catalogue.write_text(CATALOGUE.format(path=data.as_posix()), encoding="utf-8")
    home = root / "home"
    env = {
        **os.environ,
        "TRADEWH_HOME": str(home),
        "TRADEWH_CATALOGUE": str(catalogue),
        "TRADEWH_ALLOWED_ROOTS": str(root / "files"),
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_API_URL": "",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL")
    load = subprocess.run(
        [str(Path(sys.executable).with_name("tradewh")), "load"], env=env, capture_output=True, text=True, timeout=600
    )
    assert load.returncode == 0, load.stdout[-3000:] + load.stderr[-3000:]
    warehouse = home / "warehouse" / "tradewh.duckdb"
    page = build_report(warehouse)
    return {"home": home, "warehouse": warehouse, "page": page, "doc": parse(page)}


def section(doc: Node, name: str) -> Node:
    return doc.one("section", data_testid=f"section-{name}")


def csv_of(doc: Node, testid: str) -> list[list[str]]:
    """The rows of the CSV the table's download link holds (its data: URI decoded)."""
    link = doc.one("a", data_testid=f"csv-{testid}")
    href = link.attrs["href"]
    prefix = "data:text/csv;charset=utf-8,"
    assert href.startswith(prefix) and link.attrs["download"].endswith(".csv")
    return list(csv.reader(io.StringIO(unquote(href[len(prefix) :]), newline="")))


def header_and_rows(table: Node) -> list[list[str]]:
    return [[th.text().strip() for th in table.one("thead").find_all("th")], *table.rows()]


def chart_text(doc: Node, testid: str) -> str:
    """All the text the chart's SVG draws, its lines joined by spaces."""
    svg = doc.one("figure", data_testid=testid).one("svg")
    parts = []
    for t in svg.find_all("text"):
        lines = [span.text() for span in t.find_all("tspan")] or [t.text()]  # a wrapped label: a tspan per line
        parts.extend(" ".join(line.split()) for line in lines if line.strip())
    return " ".join(parts)


# --- self-contained -------------------------------------------------------------------------------------------

URL_ATTRIBUTES = {"src", "href", "srcset", "xlink:href", "action", "formaction", "poster", "data", "background"}


def assert_fetches_nothing(page: str, doc: Node) -> None:
    elements = list(doc.iter())
    assert not [n for n in elements if n.tag in {"link", "img", "iframe", "object", "embed", "base", "audio", "video"}]
    assert not [n for n in elements if n.tag == "script"]
    for n in elements:
        for name, value in n.attrs.items():
            if n.tag == "a" and name == "href":
                # a link followed only when clicked: in the page, a source's homepage, or a table's own CSV
                assert value.startswith(("#", "https://", "http://", "data:text/csv;")), value
                continue
            assert name not in URL_ATTRIBUTES or value.startswith("#"), f"<{n.tag} {name}={value!r}> refers out"
            assert "://" not in value and not value.strip().startswith("//"), f"<{n.tag} {name}={value!r}>"
    styles = " ".join(n.text() for n in elements if n.tag == "style") + " ".join(
        n.attrs.get("style", "") for n in elements
    )
    assert "url(" not in styles and "@import" not in styles and "@font-face" not in styles
    markup = re.sub(r'<a [^>]*href="https?://[^"]*"', "<a", re.sub(r">[^<]*<", "><", page))
    assert "http://" not in markup and "https://" not in markup


@pytest.mark.slow  # a load in a subprocess, or Chromium
def test_the_page_fetches_nothing(page, doc, generated):
    assert_fetches_nothing(page, doc)
    assert_fetches_nothing(generated["page"], generated["doc"])


def test_every_chart_is_there_as_svg_with_its_title(doc):
    for testid in CHARTS:
        svg = doc.one("figure", data_testid=testid).one("svg")
        assert len(svg.find_all("text")) > 3, f"{testid} has no text"
        assert re.search(r"mark-(rect|symbol|line|rule)", " ".join(n.attrs.get("class", "") for n in svg.iter()))


def test_the_title_names_what_was_loaded(doc, con):
    assert doc.one("h1").text() == "China's trade figures and its goods trade with United States of America"
    assert doc.one("title").text().startswith("tradewh report: China's trade figures")
    header = doc.one("header", data_testid="header")
    assert (header.attrs["data-reporter"], header.attrs["data-partner"]) == ("CHN", "USA")
    sources = [r[0] for r in con.execute("select source_id from core.dim_source order by 1").fetchall()]
    assert f"Sources loaded: {', '.join(sources)}." in " ".join(header.one("p", **{"class": "meta"}).text().split())


@pytest.mark.slow  # a load in a subprocess, or Chromium
def test_every_table_downloads_as_the_csv_of_its_rows(doc, generated):
    for d in (doc, generated["doc"]):
        tables = d.find_all("table")
        assert len(tables) >= 4
        for table in tables:
            assert csv_of(d, table.attrs["data-testid"]) == header_and_rows(table)


def test_sources_link_to_their_homepages(doc, con):
    expected = con.execute("select source_id, homepage from core.dim_source order by 1").fetchall()
    items = doc.one("footer", data_testid="sources").find_all("li")
    assert [i.attrs["data-source-id"] for i in items] == [s for s, _ in expected]
    for item, (_, homepage) in zip(items, expected, strict=True):
        links = item.find_all("a", **{"class": "source-link"})
        assert [a.attrs["href"] for a in links] == ([homepage] if homepage else [])


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


def test_technology_balance_chart_writes_its_values_and_marks_derived_ones(doc):
    text = chart_text(doc, "chart-technology-balance")
    for value in ("21.40", "32.16", "-10.76", "22.03", "0.58"):
        assert value in text.replace("−", "-")
    assert "derived, not printed" in text  # the legend of the hollow diamonds
    assert "derived, not printed" not in chart_text(doc, "chart-ip-charges")  # IP charges: all printed


def test_ip_charges_match_the_marts(doc, con):
    expected = con.execute(
        "select year, exports, imports, balance from marts.trade_balance "
        "where reporter = 'CHN' and partner = 'WLD' and category = 'ip_charges' order by year"
    ).fetchall()
    rows = section(doc, "ip-charges").one("table", data_testid="table-ip-charges").rows()
    assert rows == [[str(y), bn(e), bn(i), bn(b)] for y, e, i, b in expected]
    assert ["2011", "0.74 bn US$", "14.71 bn US$", "-13.96 bn US$"] in rows


def test_software_share_of_technology_exports(doc, con):
    share, value, base = con.execute(
        "select share_pct, value_usd, base_value_usd from marts.trade_composition "
        "where reporter = 'CHN' and category = 'software' and flow = 'export' and period = '2011'"
    ).fetchone()
    rows = section(doc, "technology-composition").one("table", data_testid="table-technology-composition").rows()
    software = next(r for r in rows if r[0].startswith("Computer software"))
    assert software[1:4] == [f"{pct(share)} (printed)", f"{bn(value)} (derived)", bn(base)]
    assert software[1:4] == ["89.2 % (printed)", "19.09 bn US$ (derived)", "21.40 bn US$"]
    assert "89.2 %: 19.09 bn US$ (derived) of 21.40 bn US$" in chart_text(doc, "chart-technology-composition")


def test_goods_trade_with_the_partner_matches_the_marts(doc, con):
    expected = con.execute(
        "select year, sum(exports), sum(imports) from marts.trade_balance where source_id = 'comtrade_chn_usa_sitc' "
        "and reporter = 'CHN' and partner = 'USA' and length(category) = 2 group by year order by year"
    ).fetchall()
    rows = section(doc, "goods-balance").one("table", data_testid="table-goods-balance").rows()
    assert [r[:3] for r in rows] == [[str(y), bn(e), bn(i)] for y, e, i in expected]
    assert rows[1] == ["2011", "325.01 bn US$", "123.12 bn US$", "201.89 bn US$"]


def test_goods_exports_by_sitc_section_match_the_marts_and_labels_are_whole(doc, con):
    expected = con.execute(
        "select section, any_value(section_name), any_value(section_share_of_total_pct), "
        "any_value(section_value_usd) from marts.goods_composition where reporter = 'CHN' and partner = 'USA' "
        "and period = '2011' and flow = 'export' and classification like 'SITC%' group by section order by 3 desc"
    ).fetchall()
    part = section(doc, "goods-composition")
    assert "2011" in part.one("h2").text()
    rows = part.one("table", data_testid="table-goods-composition").rows()
    assert rows == [[f"{s} {name}", pct(share), bn(v)] for s, name, share, v in expected]
    text = chart_text(doc, "chart-goods-composition")
    assert "6 Manufactured goods classified chiefly by material" in text  # wrapped if need be, never cut
    for label, *_ in rows:
        assert label in text
    assert "…" not in text and "..." not in text


def test_largest_deficits_by_category_when_one_partner(doc, con):
    expected = con.execute(
        "select category, exports, imports, balance from marts.trade_balance "
        "where source_id = 'comtrade_chn_usa_sitc' and reporter = 'CHN' and partner = 'USA' and period = '2011' "
        "and length(category) = 2 and balance < 0 order by balance limit 10"
    ).fetchall()
    part = section(doc, "largest-deficits")
    assert part.attrs["data-mode"] == "category"
    caption = " ".join(part.one("p", **{"class": "caption"}).text().split())
    assert "one partner only (United States of America)" in caption
    assert "SITC division" in caption and "2011" in caption
    rows = part.one("table", data_testid="table-largest-deficits").rows()
    assert [(r[0].split(" ")[0], r[1], r[2], r[3]) for r in rows] == [
        (c, bn(e), bn(i), bn(b)) for c, e, i, b in expected
    ]
    assert rows[0][0] == "22 Oil-seeds and oleaginous fruits"


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
        mode, caption, rows = largest_deficits(mem, "CHN", 2011)
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
    shown = {tr.attrs["data-key"]: tr for tr in table.find_all("tr") if "data-key" in tr.attrs}
    assert set(shown) == set(expected)
    for figure_id, verdict in expected.items():
        assert shown[figure_id].one("span", **{"class": f"verdict {verdict}"}).attrs["data-verdict"] == verdict
    assert expected["total_2011"] == "consistent"

    def cells(figure_id: str) -> list[str]:
        return [td.text().strip() for td in shown[figure_id].find_all("td")]

    assert cells("total_2011")[2:5] == ["53.56 bn US$", "53.56 bn US$", "consistent"]
    header = [th.text().strip() for th in table.one("thead").find_all("th")]
    why = header.index("why only indicative")
    mismatches = dict(con.execute("select figure_id, mismatch from marts.claim_checks").fetchall())
    for figure_id, verdict in expected.items():  # the mismatch of every indicative verdict, nothing for the others
        assert cells(figure_id)[why] == (mismatches[figure_id] if verdict == "indicative" else "")
    assert "different measures" in cells("technology_share_services_trade")[why]
    assert "2012-01..10" in cells("goods_growth_2012_ytd")[why]
    assert cells("technology_share_services_trade")[2:5] == ["12 %", "12.6 %", "indicative"]
    assert cells("balance_2011_approx")[2:5] == ["~ 10 bn US$ deficit", "-10.76 bn US$", "consistent"]
    assert cells("exports_2006")[2:5] == ["580 m US$", "n/a", "unverifiable"]
    counts = dict(con.execute("select verdict, count(*) from marts.claim_checks group by 1").fetchall())
    verdicts = ("consistent", "indicative", "inconsistent", "unverifiable")
    assert set(counts) <= set(verdicts)
    bars = " ".join(verdicts) + " " + " ".join(str(counts.get(v, 0)) for v in verdicts)  # labels, then the counts
    assert bars in chart_text(doc, "chart-claim-verdicts")


# --- the analyses of issue 19: figures from the shipped seed files, read with the csv module ------------------------


def seed(*path: str, skip: int = 0) -> list[dict[str, str]]:
    """The rows of a shipped seed file as the publisher printed them (``skip``: lines before the header)."""
    with SEEDS.joinpath(*path).open(encoding="utf-8-sig", newline="") as handle:
        for _ in range(skip):
            handle.readline()
        return list(csv.DictReader(handle))


def economies() -> dict[str, str]:
    """ISO3 -> name of every economy of the reference list (no aggregate, no sub-national group)."""
    return {
        r["iso3"]: r["name"]
        for r in seed("reference", "countries.csv")
        if r["is_aggregate"] == "false" and not r["parent_iso3"]
    }


def mofcom(figure_id: str) -> float:
    (row,) = [r for r in seed("mofcom_2012_technology_trade", "figures.csv") if r["figure_id"] == figure_id]
    return float(row["value"]) * float(row["scale"])


def wdi_tidy(name: str, year: int) -> dict[str, float]:
    """Country -> value of a current-vintage tidy WDI file in one year."""
    return {r["Country Code"]: float(r["Value"]) for r in seed("wdi_current", name) if r["Year"] == str(year)}


def unctad(year: int) -> dict[str, dict[str, float]]:
    """Area -> {'EXP': ..., 'IMP': ...} of digitally-deliverable services in USD (OBS_VALUE x 10^UNIT_MULT)."""
    out: dict[str, dict[str, float]] = {}
    for r in seed("unctad_digital_services", "UNCTAD_DE_digital_services_trade.csv"):
        if r["TIME_PERIOD"] == str(year) and r["OBS_VALUE"]:
            value = float(r["OBS_VALUE"]) * 10 ** int(r["UNIT_MULT"])
            out.setdefault(r["REF_AREA"], {})[r["INDICATOR"][-3:]] = value
    return out


def oecd_tbp(year: int) -> dict[str, dict[str, float]]:
    """ISO3 -> {'TBP_RUSD': receipts, 'TBP_PUSD': payments} in USD (millions in the file; NA left out)."""
    iso3 = {r["country_name"]: r["iso3"] for r in seed("reference", "oecd_country_names.csv")}
    out: dict[str, dict[str, float]] = {}
    for r in seed("oecd_msti_2018", "msti_2018_wide_by_country.csv"):
        if r["YEAR"] == str(year) and r["MSTI_VAR"] in ("TBP_RUSD", "TBP_PUSD"):
            for name, code in iso3.items():
                if r.get(name) not in (None, "", "NA"):
                    out.setdefault(code, {})[r["MSTI_VAR"]] = float(r[name]) * 1e6
    return out


def balance(pair: dict[str, float], receipts: str, payments: str) -> float | None:
    return pair[receipts] - pair[payments] if receipts in pair and payments in pair else None


def test_the_deficit_across_measures_is_the_seeds_2011_balances_side_by_side(doc):
    contracts = mofcom("exports_2011") - mofcom("imports_2011")
    ip = wdi_tidy("bx.gsr.royl.cd.csv", 2011)["CHN"] - wdi_tidy("bm.gsr.royl.cd.csv", 2011)["CHN"]
    dds = unctad(2011)["CHN"]["EXP"] - unctad(2011)["CHN"]["IMP"]
    assert [bn(contracts), bn(ip), bn(dds)] == ["-10.76 bn US$", "-13.96 bn US$", "-13.03 bn US$"]
    part = section(doc, "deficit-across-measures")
    assert part.one("h2").text() == "The deficit across measures: China, 2011"  # the report's year, the article's
    rows = part.one("table", data_testid="table-deficit-across-measures").rows()
    assert [r[0].split(" (")[0] for r in rows] == [
        "technology contracts", "charges for the use of intellectual property", "digitally-deliverable services",
    ]  # fmt: skip
    assert [r[1] for r in rows] == ["mofcom_2012_technology_trade", "wdi_current", "unctad_digital_services"]
    assert [r[5] for r in rows] == [bn(contracts), bn(ip), bn(dds)]
    assert rows[0][3:5] == [bn(mofcom("exports_2011")), bn(mofcom("imports_2011"))]
    assert [r[2] for r in rows] == ["mofcom_contract_value", "BPM6", "BPM6"]
    assert all(r[6] and r[6] != "n/a" for r in rows)  # what each measures, from the reference list
    text = chart_text(doc, "chart-deficit-across-measures").replace("−", "-")
    for value in (contracts, ip, dds):
        assert bn(value) in text
    assert bn(contracts + ip + dds) not in text and bn(contracts + ip) not in text  # no bar sums measures


def test_the_deficit_year_is_the_reports_else_the_latest_with_several_measures(con):
    years = dict(
        con.execute(
            "select year, count(*) from marts.technology_deficit_reconciliation "
            "where reporter = 'CHN' and balance_usd is not null group by year"
        ).fetchall()
    )
    several = sorted(y for y, n in years.items() if n > 1)
    one_only = max(y for y, n in years.items() if n == 1)
    china = Focus("CHN", "China", "USA", "United States of America", 2011)
    assert reconciliation_year(con, china) == 2011
    assert reconciliation_year(con, Focus("CHN", "China", None, None, None)) == several[-1]
    assert reconciliation_year(con, Focus("CHN", "China", None, None, one_only)) == several[-1]
    assert reconciliation_year(con, Focus("ZZZ", "Nowhere", None, None, 2011)) is None


def test_against_its_peers_are_the_seeds_2011_economies(doc):
    names = economies()
    ip_receipts, ip_payments = wdi_tidy("bx.gsr.royl.cd.csv", 2011), wdi_tidy("bm.gsr.royl.cd.csv", 2011)
    dds, tbp = unctad(2011), oecd_tbp(2011)
    held = ({*ip_receipts, *ip_payments} | set(dds) | set(tbp)) & set(names)  # economies only: WLD, EU28 out
    expected = {}
    for code in held:
        ip = ip_receipts[code] - ip_payments[code] if code in ip_receipts and code in ip_payments else None
        flows = dds.get(code, {})
        share = 100 * flows["EXP"] / dds["WLD"]["EXP"] if "EXP" in flows else None
        expected[code] = [
            names[code], bn(ip), bn(balance(flows, "EXP", "IMP")), pct(share, 2),
            bn(balance(tbp.get(code, {}), "TBP_RUSD", "TBP_PUSD")),
        ]  # fmt: skip
    assert {"CHN", "USA", "JPN", "KOR", "DEU", "IND"} <= held and "WLD" not in held
    part = section(doc, "peer-panel")
    assert part.one("h2").text() == f"Against its peers: China and {len(held) - 1} other economies, 2011"
    table = part.one("table", data_testid="table-peer-panel")
    keys = [tr.attrs["data-key"] for tr in table.one("tbody").find_all("tr")]
    assert keys[0] == "CHN" and sorted(keys) == sorted(held)  # China first
    assert table.rows() == [expected[k] for k in keys]
    assert [names[k] for k in keys[1:]] == sorted(names[k] for k in keys[1:])
    china = dict(zip(keys, table.rows(), strict=True))["CHN"]
    assert china[1:3] == ["-13.96 bn US$", "-13.03 bn US$"] and china[4] == "n/a"  # no OECD figure: n/a, not 0


def mirror_seed() -> dict[tuple[str, str], tuple[float, float]]:
    """(exporter, importer) -> (the exporter's export, the importer's import) of the 2022 totals seed."""
    sides: dict[tuple[str, str], dict[str, float]] = {}
    for r in seed("comtrade_chn_usa_deu_total_2022", "plus_api_CHN_USA_DEU_TOTAL_2022.csv"):
        reporter, partner = r["reporterISO"], r["partnerISO"]
        pair = (reporter, partner) if r["flowCode"] == "X" else (partner, reporter)
        sides.setdefault(pair, {})[r["flowCode"]] = float(r["primaryValue"])
    return {pair: (v["X"], v["M"]) for pair, v in sides.items() if "X" in v and "M" in v}


def test_mirror_flows_are_what_each_side_of_the_seed_reports(doc, con):
    names = economies()
    part = section(doc, "mirror-flows")
    table = part.one("table", data_testid="table-mirror-flows")
    header = [th.text().strip() for th in table.one("thead").find_all("th")]
    assert header[4:] == ["exporter says (FOB)", "importer says (CIF)", "ratio (CIF / FOB)"]
    rows = table.rows()
    by_pair = {(r[0], r[1], r[2], r[3]): r[4:] for r in rows}
    pairs = {p: v for p, v in mirror_seed().items() if "CHN" in p}
    assert len(pairs) == 4
    for (exporter, importer), (exported, imported) in pairs.items():
        key = (names[exporter], names[importer], "2022", "all goods (HS2022 total)")
        assert by_pair[key] == [bn(exported), bn(imported), f"{imported / exported:.3f}"]
    assert by_pair[("China", "Germany", "2022", "all goods (HS2022 total)")][2] == "1.778"
    # every flow shown: the paired flows of the mart, grouped here (a TOTAL, else the 2-digit codes summed)
    flows: dict[tuple[str, str, str, str], list[tuple[str, float, float]]] = {}
    for exporter, importer, period, cls, code, exported, imported in con.execute(
        "select exporter, importer, period, classification, category, exports_reported_by_exporter, "
        "imports_reported_by_importer from marts.mirror_flows where is_paired and 'CHN' in (exporter, importer)"
    ).fetchall():
        flows.setdefault((exporter, importer, period, cls), []).append((code, exported, imported))
    expected = []
    for (exporter, importer, period, cls), codes in flows.items():
        total = [c for c in codes if c[0] == "TOTAL"]
        two_digit = [c for c in codes if len(c[0]) == 2]
        chosen = total or two_digit or codes
        groups = [chosen] if chosen is two_digit else [[c] for c in chosen]
        for group in groups:
            e, i = sum(c[1] for c in group), sum(c[2] for c in group)
            goods = (
                f"all goods ({cls} total)" if group[0][0] == "TOTAL"
                else f"{len(group)} {cls} 2-digit codes both sides report, summed" if group is two_digit
                else f"{cls} {group[0][0]}"
            )  # fmt: skip
            expected.append(((period, exporter != "CHN", exporter, importer, cls, goods), [names[exporter],
                             names[importer], period, goods, e, i]))  # fmt: skip
    expected.sort(key=lambda x: x[0][1:])
    expected.sort(key=lambda x: x[0][0], reverse=True)  # the latest period first (stable: the rest in order)
    assert len(rows) == min(len(expected), MIRROR_ROWS)
    assert [r[:4] for r in rows] == [e[1][:4] for e in expected[: len(rows)]]
    caption = " ".join(part.one("p", **{"class": "caption"}).text().split())
    assert "CIF (cost, insurance and freight" in caption and "FOB (free on board" in caption


def test_breaks_in_series_are_the_seeds_two_definitions_largest_first(doc):
    (ict_2013,) = [
        r for r in seed("wdi_2013", "WDI_2013_extract.csv")
        if r["Country Code"] == "CHN" and r["Indicator Code"] == "BX.GSR.CCIS.CD"
    ]  # fmt: skip
    (ict_now,) = [
        r for r in seed("wdi_current", "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv", skip=4) if r["Country Code"] == "CHN"
    ]
    (tech_2013,) = [
        r for r in seed("wdi_2013", "WDI_2013_extract.csv")
        if r["Country Code"] == "CHN" and r["Indicator Code"] == "TX.VAL.TECH.CD"
    ]  # fmt: skip
    tech_now = {r["Year"]: r["Value"] for r in seed("wdi_current", "tx.val.tech.cd.csv") if r["Country Code"] == "CHN"}
    names = {r["category"]: r["name"] for r in seed("reference", "categories.csv")}
    breaks = []
    for category, definitions, before, after in (
        ("ict_services", "BPM5 (wdi_2013) -> BPM6 (wdi_current)", ict_2013, ict_now),
        ("hightech", "hightech_old_series (wdi_2013) -> hightech_series_2007 (wdi_current)", tech_2013, tech_now),
    ):
        for year in range(1990, 2030):
            old, new = before.get(str(year)), after.get(str(year))
            if old and new:
                change = 100 * (float(new) - float(old)) / abs(float(old))
                row = [f"{names[category]}, export", str(year), definitions, bn(float(old)), bn(float(new))]
                breaks.append((abs(change), row + [f"{change:+,.1f} %"]))
    assert len(breaks) == 13  # ICT services 2005-2012 (BPM5 -> BPM6), high-technology exports 2007-2011
    breaks.sort(key=lambda b: -b[0])
    part = section(doc, "definition-breaks")
    rows = part.one("table", data_testid="table-definition-breaks").rows()
    assert rows == [row for _, row in breaks[:10]]
    assert ["ICT services (communications, computer and information services), export", "2011",
            "BPM5 (wdi_2013) -> BPM6 (wdi_current)", "60.69 bn US$", "13.91 bn US$", "-77.1 %"] in rows  # fmt: skip
    assert "The 10 largest of 13 breaks" in " ".join(part.one("p", **{"class": "caption"}).text().split())


def test_the_analyses_are_left_out_where_the_marts_hold_nothing(con):
    from warehouse.serve.report import analyses

    nowhere = Focus("ZZZ", "Nowhere", None, None, 2011)
    for build in (analyses.deficit_across_measures, analyses.peers, analyses.mirror_flows, analyses.breaks_in_series):
        assert build(con, nowhere) is None, build.__name__
    # Hong Kong: IP charges and digital services (so a peer panel), no technology contracts, no customs figures
    hong_kong = Focus("HKG", "Hong Kong", None, None, None)
    assert analyses.mirror_flows(con, hong_kong) is None
    assert analyses.peers(con, hong_kong) is not None


def test_freshness_matches_the_audit(doc, con):
    expected = con.execute(
        "select d.source_id, r.status, (select max(vintage) from core.fct_trade_figure f "
        "where f.source_id = d.source_id and f.is_latest_vintage), fr.freshness_status "
        "from core.dim_source as d left join (select s.source_id, s.status from audit.source_runs as s "
        "join audit.load_runs as l using (run_id) qualify row_number() over (partition by s.source_id "
        "order by l.started_at desc, s.run_id desc) = 1) as r using (source_id) "
        "left join audit.source_freshness as fr using (source_id) order by 1"
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
    for row, (source_id, status, vintage, fresh) in zip(rows, expected, strict=True):
        assert row[2].split(" ")[0] == (status or "never")
        assert row[4] == (vintage or "n/a")
        assert row[7] == (f"{loaded_rows[source_id]:,}" if source_id in loaded_rows else "n/a")
        assert row[8].split(":")[0] == (fresh if fresh not in (None, "no threshold") else "no threshold")
    text = chart_text(doc, "chart-freshness")
    assert all(e[0] in text for e in expected)


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
    total = doc.one("tr", data_key="total_2011")
    assert total.one("span", **{"class": "verdict inconsistent"}).text() == "inconsistent"  # 22.40 + 32.16 != 53.56
    contracts = doc.one("table", data_testid="table-deficit-across-measures").rows()[0]
    assert contracts[0].startswith("technology contracts") and contracts[5] == "-9.76 bn US$"


def test_report_is_read_only_and_repeatable(loaded):
    warehouse = loaded["warehouse"]
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    assert build_report(warehouse) == build_report(warehouse)
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before


def test_formatting():
    assert bn(-10_760_000_000) == "-10.76 bn US$"
    assert bn(None) == "n/a"
    assert pct(89.2) == "89.2 %"


# --- another catalogue ----------------------------------------------------------------------------------------


@pytest.mark.slow  # a load in a subprocess, or Chromium
def test_a_generated_comtrade_catalogue_gets_its_own_page(generated):
    doc = generated["doc"]
    from warehouse.common.readonly import connect_read_only

    with connect_read_only(generated["warehouse"]) as other:
        reporter, name, figures = other.execute(
            "select f.reporter, any_value(c.name), count(*) from core.fct_trade_figure as f "
            "join core.dim_country as c on c.iso3 = f.reporter group by 1 order by 3 desc, 1 limit 1"
        ).fetchone()
        partners = other.execute(
            "select count(distinct partner) from marts.trade_balance where reporter = ?", [reporter]
        ).fetchone()[0]
    assert figures > 0 and partners > 1
    assert doc.one("h1").text().startswith(f"{name}'s trade figures")
    assert doc.one("header", data_testid="header").attrs["data-reporter"] == reporter
    assert "China" not in doc.one("h1").text() and "technology" not in doc.one("title").text()
    shown = [s.attrs["data-testid"] for s in doc.find_all("section")]
    assert shown == ["section-goods-balance", "section-goods-composition", "section-largest-deficits",
                     "section-freshness"]  # fmt: skip
    assert section(doc, "largest-deficits").attrs["data-mode"] == "partner"
    for testid in GENERATED_CHARTS:
        assert doc.one("figure", data_testid=testid).one("svg").find_all("text")
    assert "no figures" not in generated["page"] and "n/a bn" not in generated["page"]
    goods = section(doc, "goods-balance").one("table", data_testid="table-goods-balance").rows()
    assert len(goods) == 1 and goods[0][0] == "2023"
    hs = section(doc, "goods-composition").one("table", data_testid="table-goods-composition").rows()
    text = chart_text(doc, "chart-goods-composition")
    assert all(label in text for label, *_ in hs)  # long HS section names whole
    links = doc.one("footer", data_testid="sources").find_all("a", **{"class": "source-link"})
    assert [a.attrs["href"] for a in links] == ["https://comtradeplus.un.org/"]


@pytest.mark.slow  # a load in a subprocess, or Chromium
def test_the_report_command_takes_a_reporter_and_a_partner(generated, monkeypatch, tmp_path, capsys):
    from warehouse.common.readonly import connect_read_only

    with connect_read_only(generated["warehouse"]) as other:
        reporter, partner, rname, pname = other.execute(
            "select t.reporter, t.partner, r.name, p.name from marts.trade_balance as t "
            "join core.dim_country as r on r.iso3 = t.reporter join core.dim_country as p on p.iso3 = t.partner "
            "where t.category = 'TOTAL' order by t.reporter desc, t.partner desc limit 1"
        ).fetchone()
    monkeypatch.setenv("TRADEWH_HOME", str(generated["home"]))
    out = tmp_path / "chosen.html"
    assert main(["report", "--reporter", reporter.lower(), "--partner", partner, "--out", str(out)]) == 0
    doc = parse(out.read_text(encoding="utf-8"))
    assert doc.one("h1").text() == f"{rname}'s trade figures and its goods trade with {pname}"
    assert section(doc, "goods-balance").one("h2").text().startswith(f"{rname}'s goods trade with {pname}")
    assert main(["report", "--reporter", "CHN", "--out", str(tmp_path / "none.html")]) == 1
    assert "no figures of reporter CHN" in capsys.readouterr().err
    assert not (tmp_path / "none.html").exists()


# --- the code: SQL files, small modules -----------------------------------------------------------------------


def test_every_query_is_a_file_that_says_what_it_returns():
    assert len(names()) >= 15
    for name in names():
        assert sql(name).startswith("-- "), f"queries/{name}.sql does not start with a comment"


def test_no_report_module_is_over_500_lines():
    modules = sorted((PROJECT_ROOT / "warehouse" / "serve" / "report").glob("*.py"))
    assert {"analyses.py", "sections.py", "checks.py", "page.py"} <= {m.name for m in modules}
    for module in modules:
        assert len(module.read_text(encoding="utf-8").splitlines()) <= 500, module.name


# --- the command ----------------------------------------------------------------------------------------------


def test_report_command_writes_the_default_file(loaded, monkeypatch, capsys):
    monkeypatch.setenv("TRADEWH_HOME", str(loaded["home"]))
    assert main(["report"]) == 0
    out = Path(loaded["home"]) / "report" / "tradewh-report.html"
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == build_report(loaded["warehouse"])
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


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

CHROME_OWN_PAGES = ("chrome://", "chrome-untrusted://", "devtools://", "chrome-extension://")
LOG_RECORD = re.compile(r"^\[\d+:\d+:\d+/\d+\.\d+:", re.MULTILINE)


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


@pytest.fixture(scope="module", params=["shipped", "generated"])
def report_file(request, tmp_path_factory) -> tuple[str, Path, str]:
    """(catalogue name, the page's file, its reporter) for the shipped catalogue and for the generated one."""
    if request.param == "shipped":
        page = request.getfixturevalue("page")
    else:
        page = request.getfixturevalue("generated")["page"]
    path = tmp_path_factory.mktemp(f"report-{request.param}") / "tradewh-report.html"
    path.write_text(page, encoding="utf-8")
    reporter = parse(page).one("header", data_testid="header").attrs["data-reporter"]
    return request.param, path, reporter


@pytest.mark.slow  # a load in a subprocess, or Chromium
def test_chromium_loads_the_report_with_no_console_messages(chromium, no_network_prefix, report_file, tmp_path):
    name, path, reporter = report_file
    run = run_chromium(chromium, no_network_prefix, path.as_uri(), tmp_path, "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.page_messages() == []
    dom = parse(run.stdout)
    source = parse(path.read_text(encoding="utf-8"))
    assert dom.one("header", data_testid="header").attrs["data-reporter"] == reporter
    assert dom.one("h1").text() == source.one("h1").text()
    for testid in CHARTS if name == "shipped" else GENERATED_CHARTS:
        svg = dom.one("figure", data_testid=testid).one("svg")
        assert len(list(svg.iter())) > 20, f"{testid} is empty in the browser's DOM"
    assert "no figures" not in run.stdout
    for table in dom.find_all("table"):  # the downloads the browser holds are the tables it shows
        assert csv_of(dom, table.attrs["data-testid"]) == header_and_rows(table)
    if name == "shipped":
        rows = dom.one("table", data_testid="table-technology-balance").rows()
        assert ["2011", "21.40 bn US$", "32.16 bn US$", "-10.76 bn US$", "printed"] in rows
        verdict = dom.one("tr", data_key="total_2011").one("span", data_verdict="consistent")
        assert verdict.text() == "consistent"


@pytest.mark.slow  # a load in a subprocess, or Chromium
def test_chromium_screenshot_is_not_blank(chromium, no_network_prefix, report_file, tmp_path):
    name, path, _ = report_file
    shot = tmp_path / "report.png"
    height = 6000 if name == "shipped" else 3000
    run = run_chromium(
        chromium,
        no_network_prefix,
        path.as_uri(),
        tmp_path,
        f"--screenshot={shot}",
        f"--window-size=1280,{height}",
        "--hide-scrollbars",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.page_messages() == []
    assert shot.is_file(), f"no screenshot written: {run.stderr[-2000:]}"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / f"report-{name}.png")
    shutil.copy(path, ARTIFACTS / f"report-{name}.html")
    if name == "shipped":  # the name the README's development section gives
        shutil.copy(shot, ARTIFACTS / "report.png")
    image = read_png(shot)
    assert (image.width, image.height) == (1280, height)
    colours, ink = image.colour_stats(row_step=3)
    assert colours > 16, f"the screenshot has {colours} colours: blank?"
    assert ink > 0.02, f"only {ink:.1%} of the screenshot is not background"


@pytest.mark.slow  # a load in a subprocess, or Chromium
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
