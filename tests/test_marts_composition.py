"""Composition, concentration and growth as an economist reads them (issue 19, items 2, 6 and 7).

Every expected figure is computed here from the shipped seed files or the fixture (python csv), never read from
the view under test. One test per defect named in the issue:
- concentration counted WDI aggregates (`goods`, `hightech`) as commodity codes, gave one-item rows an index of 1
  unflagged, was not normalised, read a single loaded partner as a partner set, and changed in its last digits;
- composition dropped the 2013 vintage that holds the services totals (no IP or ICT share of services), said
  nothing of how much of the base the parts cover, and goods_composition's published TOTAL never showed;
- growth computed from a derived value (the imports CAGR 2006-2011) did not say so.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURES, PROJECT_ROOT, SHARED_DATA, run_nightly

SEEDS = PROJECT_ROOT / "seeds"
PARTIAL = FIXTURES / "comtrade" / "partial_divisions.csv"
IND_CHN = SHARED_DATA / "comtrade" / "legacy_bulk_IND_CHN_H3_2010.csv"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def hhi(values: list[float]) -> tuple[float, float | None]:
    """The plain and the normalised Herfindahl-Hirschman index of the values above zero."""
    values = [v for v in values if v > 0]
    total = sum(values)
    plain = sum((v / total) ** 2 for v in values)
    n = len(values)
    return plain, ((plain - 1 / n) / (1 - 1 / n) if n >= 2 else None)


def wdi_2013(reporter: str, code: str, year: str) -> float:
    rows = read_csv(SEEDS / "wdi_2013" / "WDI_2013_extract.csv")
    return float(next(r[year] for r in rows if r["Country Code"] == reporter and r["Indicator Code"] == code))


def sitc_divisions(flow: str) -> dict[str, dict[str, float]]:
    """China's trade with the USA by SITC division, by year, from the shipped extract."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for r in read_csv(SEEDS / "comtrade_chn_usa_sitc" / "legacy_api_CHN_USA_S4_2digit_2010_2014.csv"):
        if r["Trade Flow"] == flow:
            out[r["Year"]][r["Commodity Code"]] = float(r["Trade Value (US$)"])
    return out


def mofcom(figure_id: str) -> float:
    rows = read_csv(SEEDS / "mofcom_2012_technology_trade" / "figures.csv")
    row = next(r for r in rows if r["figure_id"] == figure_id)
    return float(row["value"]) * float(row["scale"])


@pytest.fixture(scope="module")
def con(loaded: dict):
    connection = duckdb.connect(str(loaded["warehouse"]), read_only=True)
    yield connection
    connection.close()


def comtrade_entry(source_id: str, location: Path) -> str:
    return f"""
[[source]]
id = "{source_id}"
dataset = "comtrade"
publisher = "United Nations Statistics Division (UN Comtrade)"
title = "{source_id}"
licence = "UN Comtrade terms of use"
attribution = "United Nations Statistics Division, UN Comtrade database"
homepage = "https://comtradeplus.un.org/"
location = {{ path = "{location}" }}
vintage = "2015-01-01"

  [[source.measures]]
  measure = "customs_value"
  unit = "USD"
  currency = "USD"
  scales = [1]
"""


@pytest.fixture(scope="module")
def goods(tmp_path_factory, prefect_home):
    """A warehouse of the fixture's partial extract, and of India's 2010 trade with China (HS chapters and the
    TOTAL) where the real publishers' files are at hand."""
    workdir = tmp_path_factory.mktemp("composition")
    text = comtrade_entry("partial_divisions", PARTIAL)
    if IND_CHN.is_file():
        text += comtrade_entry("comtrade_ind_chn_hs2007", IND_CHN)
    (workdir / "catalogue.toml").write_text(text)
    result = run_nightly(workdir / "home", workdir / "catalogue.toml")
    assert result["status"] == "succeeded", result["summary"]
    connection = duckdb.connect(str(workdir / "home" / "warehouse" / "tradewh.duckdb"), read_only=True)
    yield connection
    connection.close()


# --- trade_concentration -----------------------------------------------------------------------------------


def test_concentration_counts_commodity_codes_of_one_level_not_wdi_aggregates(con):
    sources = {s for (s,) in con.execute("select distinct source_id from marts.trade_concentration").fetchall()}
    assert not {s for s in sources if s.startswith("wdi")}  # `goods`, `hightech` are not commodity codes
    items = {i for (i,) in con.execute("select distinct largest_item from marts.trade_concentration").fetchall()}
    assert not items & {"goods", "hightech", "TOTAL"}
    exports = sitc_divisions("Export")["2011"]
    plain, normalised = hhi(list(exports.values()))
    row = con.execute(
        "select level, items_count, hhi, hhi_normalised, largest_item, largest_share, is_comparable "
        "from marts.trade_concentration where source_id = 'comtrade_chn_usa_sitc' and across = 'product' "
        "and reporter = 'CHN' and partner = 'USA' and flow = 'export' and period = '2011'"
    ).fetchall()
    assert len(row) == 1
    level, count, got_plain, got_normalised, largest, largest_share, comparable = row[0]
    assert (level, count) == ("division", len([v for v in exports.values() if v > 0]))
    assert got_plain == pytest.approx(plain, abs=1e-9)
    assert got_normalised == pytest.approx(normalised, abs=1e-9)
    assert 1 / count <= got_plain <= 1 and 0 <= got_normalised <= 1
    top = max(exports.values())
    assert largest == min(code for code, v in exports.items() if v == top)
    assert largest_share == pytest.approx(top / sum(exports.values()), abs=1e-9)
    assert comparable is True


def test_concentration_one_item_rows_are_flagged_not_scored(con):
    rows = con.execute(
        "select items_count, hhi, hhi_normalised, is_comparable, caveat from marts.trade_concentration "
        "where items_count < 2"
    ).fetchall()
    assert rows  # the HS 8542 file has one heading a year
    for _, plain, normalised, comparable, caveat in rows:
        assert (plain, normalised, comparable) == (1.0, None, False)
        assert "one item" in caveat
    comparable = con.execute("select count(*) from marts.trade_concentration where is_comparable").fetchone()[0]
    years = {(flow, y) for flow in ("Export", "Import") for y, codes in sitc_divisions(flow).items() if len(codes) > 1}
    assert comparable == len(years)  # China-USA by division, each flow and year: the only comparable rows


def test_concentration_over_the_one_partner_loaded_is_a_partial_partner_set(con):
    rows = con.execute(
        "select items_count, is_comparable, caveat from marts.trade_concentration where across = 'partner'"
    ).fetchall()
    assert rows
    assert all(not comparable and "partial partner set" in caveat for _, comparable, caveat in rows)


def test_concentration_is_rounded_so_two_builds_compare_equal(con, loaded):
    noisy = con.execute(
        "select count(*) from marts.trade_concentration where hhi <> round(hhi, 10) "
        "or hhi_normalised <> round(hhi_normalised, 10) or largest_share <> round(largest_share, 10) "
        "or coverage_pct <> round(coverage_pct, 10)"
    ).fetchone()[0]
    assert noisy == 0
    con.execute("set threads = 1")
    one_thread = con.execute("select * from marts.trade_concentration").fetchall()
    con.execute("reset threads")
    with duckdb.connect(str(loaded["after_first"]), read_only=True) as first:
        first_build = first.execute("select * from marts.trade_concentration").fetchall()
    assert sorted(one_thread, key=repr) == sorted(first_build, key=repr)


def test_concentration_partner_coverage_against_the_world(goods):
    rows = read_csv(PARTIAL)
    by_partner = defaultdict(dict)
    for r in rows:
        by_partner[r["Partner ISO"]][r["Commodity Code"]] = float(r["Trade Value (US$)"])
    for code in ("75", "76"):
        partners = [by_partner[p][code] for p in ("USA", "JPN")]
        plain, normalised = hhi(partners)
        coverage = 100 * sum(partners) / by_partner["WLD"][code]
        got = goods.execute(
            "select hhi, hhi_normalised, items_count, coverage_pct, is_comparable, caveat "
            "from marts.trade_concentration where across = 'partner' and category = ? and reporter = 'CHN'",
            [code],
        ).fetchall()
        assert len(got) == 1
        got_plain, got_normalised, count, got_coverage, comparable, caveat = got[0]
        assert (got_plain, got_normalised, count) == (pytest.approx(plain), pytest.approx(normalised), 2)
        assert got_coverage == pytest.approx(coverage)
        assert comparable is (coverage >= 99)
        assert (caveat is None) is (coverage >= 99)
    caveat = goods.execute(
        "select caveat from marts.trade_concentration where across = 'partner' and category = '75'"
    ).fetchone()[0]
    assert "50.0 %" in caveat


def test_concentration_ties_go_to_the_smallest_code(goods):
    japan = {r["Commodity Code"]: float(r["Trade Value (US$)"]) for r in read_csv(PARTIAL) if r["Partner ISO"] == "JPN"}
    assert len(set(japan.values())) == 1  # the fixture ties them
    largest, share = goods.execute(
        "select largest_item, largest_share from marts.trade_concentration where across = 'product' and partner = 'JPN'"
    ).fetchone()
    assert largest == min(japan) and share == pytest.approx(1 / len(japan))


def test_concentration_product_coverage_against_the_published_total(goods):
    usa = {r["Commodity Code"]: float(r["Trade Value (US$)"]) for r in read_csv(PARTIAL) if r["Partner ISO"] == "USA"}
    total = usa.pop("TOTAL")
    coverage, published, comparable, caveat = goods.execute(
        "select coverage_pct, published_total_usd, is_comparable, caveat from marts.trade_concentration "
        "where across = 'product' and partner = 'USA'"
    ).fetchone()
    assert (published, coverage) == (total, pytest.approx(100 * sum(usa.values()) / total))
    assert comparable is False and "partial product set" in caveat


# --- trade_composition ---------------------------------------------------------------------------------------


def test_services_shares_of_the_2013_vintage_are_there(con):
    services = wdi_2013("CHN", "BX.GSR.NFSV.CD", "2011")
    for category, code in (("ip_charges", "BX.GSR.ROYL.CD"), ("ict_services", "BX.GSR.CCIS.CD")):
        part = wdi_2013("CHN", code, "2011")
        rows = con.execute(
            "select share_pct, base_value_usd, is_latest_vintage from marts.trade_composition "
            "where source_id = 'wdi_2013' and reporter = 'CHN' and period = '2011' and flow = 'export' "
            "and category = ? and base_category = 'services'",
            [category],
        ).fetchall()
        assert len(rows) == 1, category
        share, base, latest = rows[0]
        assert share == pytest.approx(100 * part / services, rel=1e-9)
        assert base == round(services, 2)
        assert latest is False  # kept although a later vintage revised the part


def test_composition_coverage_says_when_the_parts_are_partial(con):
    services = wdi_2013("CHN", "BX.GSR.NFSV.CD", "2011")
    parts = wdi_2013("CHN", "BX.GSR.ROYL.CD", "2011") + wdi_2013("CHN", "BX.GSR.CCIS.CD", "2011")
    coverage, count, partial, note = con.execute(
        "select coverage_pct, parts_count, is_partial, coverage_note from marts.trade_composition "
        "where source_id = 'wdi_2013' and reporter = 'CHN' and period = '2011' and flow = 'export' "
        "and category = 'ip_charges'"
    ).fetchone()
    assert coverage == pytest.approx(100 * parts / services, rel=1e-9)
    assert (count, partial) == (2, True)
    assert note.startswith("partial") and "ict_services, ip_charges" in note
    whole = wdi_2013("CHN", "BX.GSR.GNFS.CD", "2011")
    goods_services = wdi_2013("CHN", "BX.GSR.MRCH.CD", "2011") + services
    coverage, partial = con.execute(
        "select coverage_pct, is_partial from marts.trade_composition where source_id = 'wdi_2013' "
        "and reporter = 'CHN' and period = '2011' and flow = 'export' and category = 'services'"
    ).fetchone()
    assert coverage == pytest.approx(100 * goods_services / whole, rel=1e-9)
    assert partial is False
    software = con.execute(
        "select coverage_pct, is_partial from marts.trade_composition where category = 'software'"
    ).fetchone()
    assert software == (pytest.approx(89.2), True)


def test_composition_part_without_a_base_in_its_vintage_says_so(con):
    share, base, partial, note = con.execute(
        "select share_pct, base_value_usd, is_partial, coverage_note from marts.trade_composition "
        "where source_id = 'unctad_digital_services' and reporter = 'CHN' and period = '2011' and flow = 'export'"
    ).fetchone()
    assert (share, base, partial) == (None, None, None)  # never a services total of another source or vintage
    assert note.startswith("no services total of CHN in this source and vintage")


def test_composition_share_over_a_derived_base_carries_its_derivation(con):
    exports = wdi_2013("CHN", "BX.GSR.NFSV.CD", "2011")
    imports = wdi_2013("CHN", "BM.GSR.NFSV.CD", "2011")
    derived, derivation = con.execute(
        "select is_base_value_derived, derivation from marts.trade_composition where source_id = 'wdi_2013' "
        "and reporter = 'CHN' and period = '2011' and flow = 'total' and category = 'ip_charges'"
    ).fetchone()
    assert derived is True
    assert f"base: total = export + import = {exports / 1e9:.2f} bn + {imports / 1e9:.2f} bn" in derivation


# --- goods_composition ---------------------------------------------------------------------------------------


def test_goods_composition_shows_the_published_total_and_the_coverage(goods):
    usa = {r["Commodity Code"]: float(r["Trade Value (US$)"]) for r in read_csv(PARTIAL) if r["Partner ISO"] == "USA"}
    total = usa.pop("TOTAL")
    rows = goods.execute(
        "select code, published_total_usd, total_basis, share_of_total_pct, coverage_pct, codes_count, is_partial "
        "from marts.goods_composition where partner = 'USA' order by code"
    ).fetchall()
    assert [r[0] for r in rows] == sorted(usa)
    for code, published, basis, share, coverage, count, partial in rows:
        assert (published, basis, count, partial) == (total, "published TOTAL", len(usa), True)
        assert share == pytest.approx(100 * usa[code] / total)  # a share of the whole, not of the five shipped
        assert coverage == pytest.approx(100 * sum(usa.values()) / total)


def test_goods_composition_without_a_total_flags_a_partial_extract(goods, con):
    japan = [r for r in read_csv(PARTIAL) if r["Partner ISO"] == "JPN"]
    listed = sum(1 for r in read_csv(SEEDS / "reference" / "commodity_codes.csv") if r["level"] == "division")
    rows = goods.execute(
        "select distinct total_basis, codes_count, codes_listed, is_partial, coverage_note "
        "from marts.goods_composition where partner = 'JPN'"
    ).fetchall()
    assert len(rows) == 1
    *flags, note = rows[0]
    assert flags == ["sum of the codes", len(japan), listed, True]
    assert note.startswith(f"partial: {len(japan)} of the {listed} codes")
    # the shipped extract: all but a few divisions a year, no TOTAL: shares of their sum, not flagged partial
    shipped = sitc_divisions("Export")["2011"]
    row = con.execute(
        "select distinct total_basis, codes_count, is_partial from marts.goods_composition "
        "where source_id = 'comtrade_chn_usa_sitc' and period = '2011' and flow = 'export'"
    ).fetchall()
    assert row == [("sum of the codes", len(shipped), False)]


def test_goods_composition_against_the_publishers_total(goods, shared_data):
    rows = read_csv(shared_data / "comtrade" / "legacy_bulk_IND_CHN_H3_2010.csv")
    for flow, code in (("export", "2"), ("import", "1")):
        chapters = {
            r["Commodity Code"]: float(r["Value"])
            for r in rows
            if r["Trade Flow Code"] == code and len(r["Commodity Code"]) == 2
        }
        total = next(float(r["Value"]) for r in rows if r["Trade Flow Code"] == code and r["Commodity Code"] == "TOTAL")
        got = goods.execute(
            "select distinct published_total_usd, total_value_usd, coverage_pct, codes_count, is_partial "
            "from marts.goods_composition where source_id = 'comtrade_ind_chn_hs2007' and flow = ?",
            [flow],
        ).fetchall()
        assert len(got) == 1
        published, summed, coverage, count, partial = got[0]
        assert published == total
        assert summed == pytest.approx(sum(chapters.values()))
        assert coverage == pytest.approx(100 * sum(chapters.values()) / total)
        assert (count, partial) == (len(chapters), False)


def test_goods_composition_stops_when_two_groups_share_a_hash(loaded, tmp_path):
    """The codes are grouped into sections and joined to their sums by the hash of their group's seven columns: two
    groups with one hash would add up each other's codes, so the build stops instead. Forced here by giving every
    group the same hash (a real collision is about groups^2 / 2^65 likely), in a copy of the loaded warehouse."""
    from warehouse.build.models import create_object

    source = (PROJECT_ROOT / "sql" / "marts" / "goods_composition.sql").read_text()
    start = source.index("        hash(\n            two_digit.source_id")
    end = source.index(") as group_hash,", start)
    (tmp_path / "marts").mkdir()
    colliding = tmp_path / "marts" / "goods_composition.sql"
    colliding.write_text(source[:start] + "        cast(42 as ubigint" + source[end:])
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(Path(loaded["warehouse"]).read_bytes())
    with duckdb.connect(str(copy)) as connection:
        groups = connection.execute(
            "select count(distinct (source_id, vintage, reporter, partner, period, flow, classification)) "
            "from marts.goods_composition"
        ).fetchone()[0]
        assert groups > 1  # several groups, so one hash for all is a collision
        before = connection.execute("select * from marts.goods_composition order by all").fetchall()
        with pytest.raises(duckdb.Error, match="two reporter x partner x period x flow groups have the same hash"):
            create_object(connection, colliding)
        create_object(connection, PROJECT_ROOT / "sql" / "marts" / "goods_composition.sql")  # the file as shipped
        assert connection.execute("select * from marts.goods_composition order by all").fetchall() == before


# --- trade_growth ------------------------------------------------------------------------------------------


def test_imports_cagr_from_a_derived_2006_value_says_so(con):
    imports_2006 = mofcom("total_2006") - mofcom("exports_2006")  # the identity, done here from the seed
    imports_2011 = mofcom("imports_2011")
    cagr, from_derived, first_derived, derived, derivation = con.execute(
        "select cagr_since_first_pct, is_cagr_since_first_from_derived, is_first_value_derived, is_derived, "
        "derivation from marts.trade_growth where source_id = 'mofcom_2012_technology_trade' "
        "and flow = 'import' and year = 2011"
    ).fetchone()
    assert cagr == pytest.approx(100 * ((imports_2011 / imports_2006) ** (1 / 5) - 1))
    assert (from_derived, first_derived, derived) == (True, True, True)
    total, exports = mofcom("total_2006"), mofcom("exports_2006")
    assert f"first_value (2006): import = total - export = {total / 1e9:.2f} bn - {exports / 1e9:.2f} bn" in derivation
    assert "previous_year_value (2010): import 2010 = import 2011 / (1 + 25.5%)" in derivation
    printed = con.execute(
        "select is_derived, derivation from marts.trade_growth where source_id = 'mofcom_2012_technology_trade' "
        "and flow = 'export' and year = 2011"
    ).fetchone()
    assert printed == (False, None)  # both ends printed: nothing to flag
