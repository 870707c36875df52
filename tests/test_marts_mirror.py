"""Issue 19: mirror flows between economies, RCA with a world, aggregates flagged, goods balances by partner.

One nightly over the project's own catalogue plus a small Comtrade fixture (tests/fixtures/comtrade/mirror_pairs.csv:
test data, not facts, in years the shipped extracts do not hold). Golden figures are computed here from the CSV
files with the csv module, never from the views.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURES, PROJECT_ROOT, run_nightly

MIRROR_FIXTURE = FIXTURES / "comtrade" / "mirror_pairs.csv"
SITC_SEED = PROJECT_ROOT / "seeds" / "comtrade_chn_usa_sitc" / "legacy_api_CHN_USA_S4_2digit_2010_2014.csv"

FIXTURE_SOURCE = f"""
[[source]]
id = "fixture_mirror_pairs"
dataset = "comtrade"
publisher = "tradewh test fixture"
title = "Mirror pairs fixture (test data, not facts)"
licence = "test data"
attribution = "tradewh tests"
homepage = "https://example.org/"
location = {{ path = "{MIRROR_FIXTURE}" }}
vintage = "2021-01-01"

  [[source.measures]]
  measure = "customs_value"
  unit = "USD"
  currency = "USD"
  scales = [1]
"""


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a legacy Comtrade CSV, as the publisher printed them."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def con(tmp_path_factory, prefect_home):
    workdir = tmp_path_factory.mktemp("mirror")
    (workdir / "catalogue.toml").write_text((PROJECT_ROOT / "catalogue.toml").read_text() + FIXTURE_SOURCE)
    result = run_nightly(workdir / "home", workdir / "catalogue.toml")
    assert result["status"] == "succeeded", result["summary"]
    connection = duckdb.connect(str(workdir / "home" / "warehouse" / "tradewh.duckdb"), read_only=True)
    yield connection
    connection.close()


# --- marts.mirror_flows ----------------------------------------------------------------------------------------


def test_mirror_flows_hold_no_aggregate_and_no_self_pair(con):
    """Defect: all 66 complete pairs were the world against the world."""
    rows = con.execute(
        "select m.exporter, m.importer from marts.mirror_flows as m "
        "left join core.dim_country as e on e.iso3 = m.exporter "
        "left join core.dim_country as i on i.iso3 = m.importer "
        "where e.is_aggregate is distinct from false or i.is_aggregate is distinct from false "
        "or m.exporter = m.importer"
    ).fetchall()
    assert rows == []
    # the fixture has WLD reporting WLD and CHN/USA reporting trade with WLD: none of it is a mirror flow
    assert con.execute("select count(*) from marts.mirror_flows where 'WLD' in (exporter, importer)").fetchone() == (0,)


def test_mirror_flows_pair_both_reports_with_the_cif_fob_ratio(con):
    """Defect: China-USA never paired. Both reports of one flow, from the fixture, in both directions."""
    rows = read_rows(MIRROR_FIXTURE)
    exports = {
        (r["Reporter ISO"], r["Partner ISO"], r["Commodity Code"]): float(r["Trade Value (US$)"])
        for r in rows
        if r["Trade Flow"] == "Export" and r["Classification"] == "S4" and r["Year"] == "2020"
    }
    imports = {
        (r["Partner ISO"], r["Reporter ISO"], r["Commodity Code"]): float(r["Trade Value (US$)"])
        for r in rows
        if r["Trade Flow"] == "Import" and r["Classification"] == "S4" and r["Year"] == "2020"
    }
    expected = sorted(
        (key[0], key[1], key[2], exports[key], imports[key], imports[key] / exports[key])
        for key in exports.keys() & imports.keys()
        if "WLD" not in key[:2]
    )
    assert len(expected) == 3  # CHN->USA 75 and 76, USA->CHN 87
    got = con.execute(
        "select exporter, importer, category, exports_reported_by_exporter, imports_reported_by_importer, "
        "asymmetry_ratio from marts.mirror_flows where period = '2020' and is_paired order by 1, 2, 3"
    ).fetchall()
    assert [g[:5] for g in got] == [e[:5] for e in expected]
    assert [g[5] for g in got] == pytest.approx([e[5] for e in expected])
    valuations = con.execute(
        "select distinct exporter_valuation, importer_valuation, mirror_ratio = asymmetry_ratio "
        "from marts.mirror_flows where is_paired"
    ).fetchall()
    assert valuations == [("FOB", "CIF", True)]


def test_mirror_flows_pair_only_like_with_like(con):
    """China's SITC 85 exports and the USA's HS 85 imports are different products: never one pair."""
    rows = con.execute(
        "select classification, exports_reported_by_exporter, imports_reported_by_importer, is_paired "
        "from marts.mirror_flows where period = '2020' and category = '85' order by classification"
    ).fetchall()
    assert rows == [("HS2012", None, 500.0, False), ("SITC4", 450.0, None, False)]


def test_mirror_flows_show_the_shipped_china_side_alone(con):
    """The USA's side of 2010-2014 is shipped as monthly totals only (seeds/comtrade_usa_chn_monthly_2010_2014,
    paired at the total in tests/test_mirror_totals.py): each of China's SITC divisions exported to the USA is one
    row with its own value, the importer's side null (missing, not zero)."""
    expected = {
        (r["Year"], r["Commodity Code"]): float(r["Trade Value (US$)"])
        for r in read_rows(SITC_SEED)
        if r["Trade Flow"] == "Export"
    }
    got = con.execute(
        "select period, category, exports_reported_by_exporter, imports_reported_by_importer from marts.mirror_flows "
        "where exporter = 'CHN' and importer = 'USA' and exporter_source_id = 'comtrade_chn_usa_sitc' "
        "and category <> 'TOTAL'"
    ).fetchall()
    assert {(p, c): e for p, c, e, _ in got} == expected
    assert {i for *_, i in got} == {None}


# --- marts.revealed_comparative_advantage --------------------------------------------------------------------


def _fixture_exports_to_world(year: str) -> dict[tuple[str, str], float]:
    return {
        (r["Reporter ISO"], r["Commodity Code"]): float(r["Trade Value (US$)"])
        for r in read_rows(MIRROR_FIXTURE)
        if r["Year"] == year and r["Trade Flow"] == "Export" and r["Partner ISO"] == "WLD"
    }


def test_rca_sums_the_reporters_where_no_world_reporter_exists(con):
    """Defect: the view was empty, waiting for a WLD reporter Comtrade does not publish."""
    world_exports = _fixture_exports_to_world("2020")
    economies = {reporter for reporter, _ in world_exports} - {"WLD"}
    world = defaultdict(float)
    for (reporter, code), value in world_exports.items():
        if reporter in economies:
            world[code] += value
    china_total = sum(v for (r, _), v in world_exports.items() if r == "CHN")
    expected = {
        code: (world_exports[("CHN", code)] / china_total) / (world[code] / sum(world.values())) for code in world
    }
    got = con.execute(
        "select code, rca, world_basis, world_reporters_count from marts.revealed_comparative_advantage "
        "where reporter = 'CHN' and period = '2020' and rca is not null order by code"
    ).fetchall()
    assert [(c, b, n) for c, _, b, n in got] == [(c, "sum_of_reporters", len(economies)) for c in sorted(expected)]
    assert {c: r for c, r, *_ in got} == pytest.approx(expected)


def test_rca_prefers_the_world_s_own_figures(con):
    world_exports = _fixture_exports_to_world("2019")
    china_total = sum(v for (r, _), v in world_exports.items() if r == "CHN")
    world_total = sum(v for (r, _), v in world_exports.items() if r == "WLD")
    got = dict(
        con.execute(
            "select code, rca from marts.revealed_comparative_advantage "
            "where reporter = 'CHN' and period = '2019' and world_basis = 'reported'"
        ).fetchall()
    )
    assert got == pytest.approx(
        {
            code: (world_exports[("CHN", code)] / china_total) / (world_exports[("WLD", code)] / world_total)
            for code in ("75", "76")
        }
    )


def test_rca_says_why_it_cannot(con):
    reasons = dict(
        con.execute(
            "select period || ' ' || code, why_missing from marts.revealed_comparative_advantage "
            "where reporter = 'CHN' and rca is null and period in ('2018', '2020')"
        ).fetchall()
    )
    assert reasons["2018 75"].startswith("no world totals")
    assert reasons["2020 84"].startswith("the reporter's exports of this code to the world are not loaded")
    assert con.execute(
        "select count(*) from marts.revealed_comparative_advantage where reporter = 'WLD'"
    ).fetchone() == (0,)


def test_rca_answers_for_the_shipped_data(con):
    """The shipped extract holds China's exports to the USA only: one row per year and division, saying so."""
    expected = {(r["Year"], r["Commodity Code"]) for r in read_rows(SITC_SEED) if r["Trade Flow"] == "Export"}
    got = con.execute(
        "select period, code, rca, why_missing from marts.revealed_comparative_advantage "
        "where reporter = 'CHN' and classification = 'SITC4' and period between '2010' and '2014'"
    ).fetchall()
    assert {(p, c) for p, c, *_ in got} == expected
    assert {(r, w) for *_, r, w in got} == {
        (
            None,
            "no exports to the world (partner WLD) by code are loaded for this reporter, period and classification; "
            "only exports to USA",
        )
    }


# --- marts.trade_balance ---------------------------------------------------------------------------------------


def test_trade_balance_flags_the_world_and_regions(con):
    """Defect: the world's 'balance' (a global reporting asymmetry) stood beside countries' balances."""
    rows = dict(con.execute("select reporter, bool_and(is_aggregate) from marts.trade_balance group by all").fetchall())
    assert rows["WLD"] is True
    assert rows["CHN"] is False and rows["USA"] is False
    flags = con.execute(
        "select count(*) from marts.trade_balance as t left join core.dim_country as c on c.iso3 = t.reporter "
        "where t.is_aggregate is distinct from coalesce(c.is_aggregate, true)"
    ).fetchone()
    assert flags == (0,)
    partners = dict(
        con.execute("select partner, bool_and(is_partner_aggregate) from marts.trade_balance group by all").fetchall()
    )
    assert partners["WLD"] is True and partners["USA"] is False


# --- marts.goods_balance_by_partner --------------------------------------------------------------------------


def test_goods_balance_sums_one_level_of_the_shipped_extract(con):
    rows = read_rows(SITC_SEED)
    assert {r["Aggregate Level"] for r in rows} == {"2"}  # divisions only: one level, no TOTAL row
    sums: dict[tuple[int, str], float] = defaultdict(float)
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for r in rows:
        sums[int(r["Year"]), r["Trade Flow"]] += float(r["Trade Value (US$)"])
        counts[int(r["Year"]), r["Trade Flow"]] += 1
    got = con.execute(
        "select year, exports_usd, imports_usd, balance_usd, summed_level, exports_codes_count, imports_codes_count, "
        "is_derived, why_missing from marts.goods_balance_by_partner "
        "where source_id = 'comtrade_chn_usa_sitc' and reporter = 'CHN' and partner = 'USA' order by year"
    ).fetchall()
    assert [g[0] for g in got] == [2010, 2011, 2012, 2013, 2014]
    for year, exports, imports, balance, level, n_exports, n_imports, derived, why in got:
        assert exports == pytest.approx(sums[year, "Export"], abs=0.01)
        assert imports == pytest.approx(sums[year, "Import"], abs=0.01)
        assert balance == pytest.approx(sums[year, "Export"] - sums[year, "Import"], abs=0.01)
        assert (level, n_exports, n_imports) == (
            "SITC divisions (2-digit)",
            counts[year, "Export"],
            counts[year, "Import"],
        )
        assert (derived, why) == (True, None)


def test_goods_balance_uses_a_published_total_and_refuses_a_partial_extract(con):
    rows = read_rows(MIRROR_FIXTURE)
    total = {
        r["Trade Flow"]: float(r["Trade Value (US$)"])
        for r in rows
        if r["Year"] == "2020"
        and r["Reporter ISO"] == "CHN"
        and r["Partner ISO"] == "USA"
        and r["Commodity Code"] == "TOTAL"
    }
    published = con.execute(
        "select exports_usd, imports_usd, balance_usd, summed_level, is_derived from marts.goods_balance_by_partner "
        "where source_id = 'fixture_mirror_pairs' and reporter = 'CHN' and partner = 'USA' and year = 2020"
    ).fetchall()
    assert published == [
        (total["Export"], total["Import"], total["Export"] - total["Import"], "published TOTAL", False)
    ]
    # HS 8542 alone (shipped) and one SITC division to Japan (fixture) are not totals of goods trade
    partial = con.execute(
        "select distinct exports_usd, imports_usd, why_missing like 'partial extract%' "
        "from marts.goods_balance_by_partner "
        "where (source_id = 'comtrade_chn_usa_hs8542') or (source_id = 'fixture_mirror_pairs' and partner = 'JPN')"
    ).fetchall()
    assert partial == [(None, None, True)]
