"""Revisions, claim checks and the technology analyses (issue 19, items 4, 8 and 9), against figures computed here
from the shipped seed files, never from the views themselves."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
BN = 1e9
NOISE = 1e-6  # the relative tolerance below which two vintages agree


# --- the shipped seed files, read without the warehouse ---------------------------------------------------------


def _rows(path: Path, skip: int = 0) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for _ in range(skip):
            handle.readline()
        return list(csv.DictReader(handle))


def wdi_2013(code: str, country: str, year: int) -> float | None:
    """A value of the WDI December 2013 extract (wide layout)."""
    for row in _rows(SEEDS / "wdi_2013" / "WDI_2013_extract.csv"):
        if row["Indicator Code"] == code and row["Country Code"] == country:
            return float(row[str(year)]) if row[str(year)] else None
    return None


def wdi_2013_series(code: str) -> dict[tuple[str, int], float]:
    series = {}
    for row in _rows(SEEDS / "wdi_2013" / "WDI_2013_extract.csv"):
        if row["Indicator Code"] == code:
            series |= {(row["Country Code"], int(k)): float(v) for k, v in row.items() if k.isdigit() and v}
    return series


def wdi_tidy(name: str) -> dict[tuple[str, int], float]:
    """A current-vintage tidy WDI file (Country Name, Country Code, Year, Value)."""
    return {
        (r["Country Code"], int(r["Year"])): float(r["Value"])
        for r in _rows(SEEDS / "wdi_current" / name)
        if r["Value"]
    }


def wdi_bulk_ccis(country: str, year: int) -> float:
    """ICT service exports from the current bulk-download file (four metadata lines before the header)."""
    (row,) = [
        r
        for r in _rows(SEEDS / "wdi_current" / "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv", skip=4)
        if r["Country Code"] == country
    ]
    return float(row[str(year)])


def unctad(area: str, year: int) -> tuple[float, float]:
    """Exports and imports of digitally-deliverable services, in USD (OBS_VALUE x 10^UNIT_MULT)."""
    values = {}
    for r in _rows(SEEDS / "unctad_digital_services" / "UNCTAD_DE_digital_services_trade.csv"):
        if r["REF_AREA"] == area and r["TIME_PERIOD"] == str(year) and r["OBS_VALUE"]:
            values[r["INDICATOR"][-3:]] = float(r["OBS_VALUE"]) * 10 ** int(r["UNIT_MULT"])
    return values["EXP"], values["IMP"]


def oecd_tbp(country_name: str, year: int) -> tuple[float | None, float | None]:
    """Technology balance of payments receipts and payments (million USD in the file), in USD; None for NA."""
    values: dict[str, float | None] = {}
    for r in _rows(SEEDS / "oecd_msti_2018" / "msti_2018_wide_by_country.csv"):
        if r["YEAR"] == str(year) and r["MSTI_VAR"] in ("TBP_RUSD", "TBP_PUSD"):
            text = r[country_name]
            values[r["MSTI_VAR"]] = None if text == "NA" else float(text) * 1e6
    return values["TBP_RUSD"], values["TBP_PUSD"]


def release() -> dict[str, dict[str, str]]:
    return {r["figure_id"]: r for r in _rows(SEEDS / "mofcom_2012_technology_trade" / "figures.csv")}


def economies() -> set[str]:
    return {r["iso3"] for r in _rows(SEEDS / "reference" / "countries.csv") if r["is_aggregate"] == "false"}


# --- the warehouse --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def con(loaded: dict):
    connection = duckdb.connect(str(loaded["warehouse"]), read_only=True)
    yield connection
    connection.close()


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> tuple:
    rows = con.execute(sql, list(params)).fetchall()
    assert len(rows) == 1, f"expected one row, got {len(rows)}: {rows}"
    return rows[0]


# --- item 4: revisions are revisions --------------------------------------------------------------------------


def test_definitions_cover_every_figure_once():
    definitions = _rows(SEEDS / "reference" / "definitions.csv")
    levels: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for d in definitions:
        assert d["definition"] and d["description"], d
        span = (int(d["from_year"] or 0), int(d["to_year"] or 9999))
        levels.setdefault((d["source_id"], d["classification"], d["category"]), []).append(span)
    for key, spans in levels.items():  # one definition per key and year: the fact's joins cannot repeat a row
        spans.sort()
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False)), key


def test_every_shipped_figure_has_a_definition(con):
    missing = con.execute("select distinct source_id from core.fct_trade_figure where definition is null").fetchall()
    assert missing == [], "a source without a definition key: add its row to seeds/reference/definitions.csv"


def test_bpm5_to_bpm6_is_a_break_in_series_not_a_revision(con):
    # China's ICT service exports 2011: 60.69 bn in the December 2013 release (BPM5), 13.91 bn today (BPM6)
    before, after = wdi_2013("BX.GSR.CCIS.CD", "CHN", 2011), wdi_bulk_ccis("CHN", 2011)
    assert round(before / BN, 2) == 60.69 and round(after / BN, 2) == 13.91
    previous, value, old, new, change = one(
        con,
        "select previous_vintage_value, value, previous_definition, definition, change_across_definitions "
        "from marts.definition_breaks where reporter = 'CHN' and category = 'ict_services' and period = '2011'",
    )
    assert (previous, value) == (pytest.approx(before, abs=0.01), pytest.approx(after, abs=0.01))
    assert (old, new) == ("BPM5", "BPM6")
    assert change == pytest.approx(after - before, abs=0.02)
    assert con.execute(
        "select count(*) from marts.revisions where reporter = 'CHN' and category = 'ict_services'"
    ).fetchall() == [(0,)]
    history = con.execute(
        "select source_id, definition, change_kind, revision from marts.trade_figure_history "
        "where reporter = 'CHN' and category = 'ict_services' and period = '2011' order by vintage"
    ).fetchall()
    assert history == [("wdi_2013", "BPM5", "first_vintage", None), ("wdi_current", "BPM6", "definition_break", None)]


def test_high_technology_redefinition_is_a_break_in_series(con):
    old = wdi_2013("TX.VAL.TECH.CD", "CHN", 2011)
    new = wdi_tidy("tx.val.tech.cd.csv")[("CHN", 2011)]
    assert round(old / BN, 1) == 457.1 and round(new / BN, 1) == 540.5
    previous, value, definitions = one(
        con,
        "select previous_vintage_value, value, previous_definition || ' -> ' || definition "
        "from marts.definition_breaks where reporter = 'CHN' and category = 'hightech' and period = '2011'",
    )
    assert (previous, value) == (pytest.approx(old, abs=0.01), pytest.approx(new, abs=0.01))
    assert definitions == "hightech_old_series -> hightech_series_2007"
    assert one(con, "select count(*) from marts.revisions where category = 'hightech'") == (0,)


def test_floating_point_noise_is_not_a_revision(con):
    noise = []
    for code, tidy in (("BX.GSR.ROYL.CD", "bx.gsr.royl.cd.csv"), ("BM.GSR.ROYL.CD", "bm.gsr.royl.cd.csv")):
        flow = "export" if code.startswith("BX") else "import"
        current = wdi_tidy(tidy)
        for key, before in wdi_2013_series(code).items():
            after = current.get(key)
            if after is not None and before != after and abs(after - before) <= NOISE * max(abs(before), abs(after)):
                noise.append((key[0], str(key[1]), flow))
    # the IP-charge pairs of the two releases that differ only in the last digits (16 before India was shipped)
    assert len(noise) >= 16
    kinds = {
        (r, p, f): k
        for r, p, f, k in con.execute(
            "select reporter, period, flow, change_kind from marts.trade_figure_history "
            "where category = 'ip_charges' and source_id = 'wdi_current' and not is_derived"
        ).fetchall()
    }
    assert {kinds[key] for key in noise} == {"unchanged"}
    listed = con.execute(
        "select reporter, period, flow from marts.revisions where category = 'ip_charges' "
        "union all select reporter, period, flow from marts.definition_breaks where category = 'ip_charges'"
    ).fetchall()
    assert not set(noise) & set(listed)


def test_revisions_hold_only_same_definition_changes(con):
    # every pair of WDI vintages that differs beyond the tolerance: in the shipped files, all across definitions
    pairs = 0
    current = {
        "BX.GSR.CCIS.CD": None,
        "BX.GSR.ROYL.CD": wdi_tidy("bx.gsr.royl.cd.csv"),
        "BM.GSR.ROYL.CD": wdi_tidy("bm.gsr.royl.cd.csv"),
        "TX.VAL.TECH.CD": wdi_tidy("tx.val.tech.cd.csv"),
    }
    for code, later in current.items():
        for (country, year), before in wdi_2013_series(code).items():
            after = wdi_bulk_ccis(country, year) if later is None else later.get((country, year))
            if after is not None and abs(after - before) > NOISE * max(abs(before), abs(after)):
                pairs += 1
    assert pairs == one(con, "select count(*) from marts.definition_breaks where dataset = 'wdi'")[0]
    assert one(con, "select count(*) from marts.revisions where dataset = 'wdi'") == (0,)


# --- item 8: claim checks an economist accepts ----------------------------------------------------------------


def _half_last_digit(printed: str, scale: float) -> float:
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10**-decimals * scale


def test_exact_claims_get_half_a_unit_of_their_last_printed_digit(con):
    claims = release()
    tolerances = dict(
        con.execute("select figure_id, tolerance from marts.claim_checks where comparator = '='").fetchall()
    )
    expected = {
        f: _half_last_digit(c["value_printed"], float(c["scale"])) for f, c in claims.items() if c["comparator"] == "="
    }
    assert tolerances == pytest.approx(expected)
    assert tolerances["exports_2006"] == pytest.approx(0.5e6)  # "$580 million": +/- 0.5 m, not +/- 5 m


def test_about_claim_has_a_stated_relative_tolerance(con):
    claim = release()["balance_2011_approx"]  # "the $10 billion deficit"
    value = float(claim["value"]) * float(claim["scale"])
    tolerance = max(_half_last_digit(claim["value_printed"], float(claim["scale"])), 0.1 * abs(value))
    exports, imports = (float(release()[f]["value"]) * BN for f in ("exports_2011", "imports_2011"))
    kind, relative, got_tolerance, recomputed, verdict = one(
        con,
        "select claim_kind, relative_tolerance, tolerance, recomputed_value, verdict from marts.claim_checks "
        "where figure_id = 'balance_2011_approx'",
    )
    assert (kind, relative) == ("about", 0.1)
    assert got_tolerance == pytest.approx(tolerance) == pytest.approx(1e9)  # not 5 bn, nor the exact 0.5 bn
    assert recomputed == pytest.approx(exports - imports)
    assert verdict == ("consistent" if abs(exports - imports - value) <= tolerance else "inconsistent")


def test_share_of_another_measure_and_vintage_is_indicative(con):
    total = float(release()["total_2011"]["value"]) * BN
    services = wdi_2013("BX.GSR.NFSV.CD", "CHN", 2011) + wdi_2013("BM.GSR.NFSV.CD", "CHN", 2011)
    share = 100 * total / services
    recomputed, arithmetic, verdict, mismatch, basis, denominator = one(
        con,
        "select recomputed_value, arithmetic_verdict, verdict, mismatch, verdict_basis, denominator "
        "from marts.claim_checks where figure_id = 'technology_share_services_trade'",
    )
    assert recomputed == pytest.approx(share)
    assert arithmetic == ("consistent" if abs(share - 12) <= 0.5 else "inconsistent")
    assert verdict == "indicative"
    assert "technology_contract_value" in mismatch and "bop_value" in mismatch and "vintages" in mismatch
    assert f"{services / BN:.2f} bn" in denominator and "wdi_2013" in denominator
    assert denominator in basis


def test_target_claim_checked_against_the_years_goods_growth(con):
    exports, imports = wdi_tidy("tx.val.mrch.cd.wt.csv"), wdi_tidy("tm.val.mrch.cd.wt.csv")
    growth = 100 * ((exports["CHN", 2012] + imports["CHN", 2012]) / (exports["CHN", 2011] + imports["CHN", 2011]) - 1)
    assert round(growth, 2) == 6.19
    claim = release()["goods_growth_target_2012"]
    recomputed, comparator, verdict, source = one(
        con,
        "select recomputed_value, comparator, verdict, checked_against_source_id from marts.claim_checks "
        "where figure_id = 'goods_growth_target_2012'",
    )
    assert recomputed == pytest.approx(growth, abs=1e-6)
    assert comparator == claim["comparator"] == "<"  # "almost set to miss the 10 percent growth target"
    assert verdict == ("consistent" if growth < float(claim["value"]) else "inconsistent")
    assert source == "wdi_current"


def test_growth_claims_read_marts_trade_growth(con):
    x12, x11, m12, m11 = (
        wdi_2013(code, "CHN", y) for code in ("BX.GSR.NFSV.CD", "BM.GSR.NFSV.CD") for y in (2012, 2011)
    )
    growth = 100 * ((x12 + m12) / (x11 + m11) - 1)
    recomputed, verdict = one(
        con,
        "select recomputed_value, verdict from marts.claim_checks where figure_id = 'services_growth_2012_expected'",
    )
    from_marts = one(
        con,
        "select yoy_growth_pct from marts.trade_growth where reporter = 'CHN' and category = 'services' "
        "and flow = 'total' and measure = 'bop_value' and year = 2012",
    )[0]
    assert recomputed == pytest.approx(growth, abs=1e-6) == pytest.approx(from_marts)
    assert verdict == ("consistent" if growth > 10 else "inconsistent")


def test_year_to_date_claim_against_the_full_year_is_indicative(con):
    verdict, mismatch, recomputed = one(
        con,
        "select verdict, mismatch, recomputed_value from marts.claim_checks where figure_id = 'goods_growth_2012_ytd'",
    )
    assert verdict == "indicative" and "2012-01..10" in mismatch
    exports, imports = wdi_tidy("tx.val.mrch.cd.wt.csv"), wdi_tidy("tm.val.mrch.cd.wt.csv")
    assert recomputed == pytest.approx(
        100 * ((exports["CHN", 2012] + imports["CHN", 2012]) / (exports["CHN", 2011] + imports["CHN", 2011]) - 1)
    )


def test_a_growth_rate_is_never_checked_against_itself(con):
    # 2010 technology imports are only known from the 25.5 % growth the release prints: no check from them
    assert one(con, "select verdict from marts.claim_checks where figure_id = 'imports_growth_2011'") == (
        "unverifiable",
    )


# --- item 9: the analyses --------------------------------------------------------------------------------------


def test_peer_panel_ip_charges_and_digital_services(con):
    receipts, payments = wdi_tidy("bx.gsr.royl.cd.csv"), wdi_tidy("bm.gsr.royl.cd.csv")
    world_exports, world_imports = unctad("WLD", 2011)
    for economy in ("CHN", "USA", "JPN", "KOR", "DEU", "IND"):
        ip_balance, dds_balance, export_share, import_share = one(
            con,
            "select ip_balance_usd, dds_balance_usd, dds_world_export_share_pct, dds_world_import_share_pct "
            "from marts.peer_panel where reporter = ? and year = 2011",
            economy,
        )
        exports, imports = unctad(economy, 2011)
        assert ip_balance == pytest.approx(receipts[economy, 2011] - payments[economy, 2011], abs=0.02)
        assert dds_balance == pytest.approx(exports - imports, abs=0.02)
        assert export_share == pytest.approx(100 * exports / world_exports, abs=1e-4)
        assert import_share == pytest.approx(100 * imports / world_imports, abs=1e-4)
    # an economy the OECD's MSTI does not cover: its technology balance of payments is missing, not zero
    assert one(con, "select tbp_balance_usd from marts.peer_panel where reporter = 'IND' and year = 2011") == (None,)


def test_peer_panel_technology_balance_of_payments_where_the_oecd_publishes_it(con):
    receipts, payments = oecd_tbp("United States", 2011)
    assert (receipts, payments) == (pytest.approx(119_936e6), pytest.approx(81_826e6))
    got = one(
        con, "select tbp_receipts_usd, tbp_payments_usd from marts.peer_panel where reporter = 'USA' and year = 2011"
    )
    assert got == (pytest.approx(receipts, abs=0.01), pytest.approx(payments, abs=0.01))
    assert oecd_tbp("China (People's Republic of)", 2011) == (None, None)
    assert one(con, "select tbp_balance_usd from marts.peer_panel where reporter = 'CHN' and year = 2011") == (None,)


def test_peer_panel_and_reconciliation_hold_economies_only(con):
    for view in ("marts.peer_panel", "marts.technology_deficit_reconciliation"):
        reporters = {r for (r,) in con.execute(f"select distinct reporter from {view}").fetchall()}
        assert reporters and reporters <= economies(), view
        assert "WLD" not in reporters


def test_technology_deficit_reconciliation_china_2011(con):
    figures = release()
    contracts = (float(figures["exports_2011"]["value"]) - float(figures["imports_2011"]["value"])) * BN
    ip = wdi_tidy("bx.gsr.royl.cd.csv")["CHN", 2011] - wdi_tidy("bm.gsr.royl.cd.csv")["CHN", 2011]
    dds = unctad("CHN", 2011)[0] - unctad("CHN", 2011)[1]
    assert [round(v / BN, 2) for v in (contracts, ip, dds)] == [-10.76, -13.96, -13.03]
    rows = con.execute(
        "select measure, category, source_id, exports_usd, imports_usd, balance_usd, what_it_measures "
        "from marts.technology_deficit_reconciliation where reporter = 'CHN' and year = 2011 order by display_order"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("technology_contract_value", "technology", "mofcom_2012_technology_trade"),
        ("bop_value", "ip_charges", "wdi_current"),
        ("bop_value", "digitally_deliverable_services", "unctad_digital_services"),
    ]
    assert [r[5] for r in rows] == [pytest.approx(v, abs=0.02) for v in (contracts, ip, dds)]
    for row in rows:  # each balance is of its own measure: never one measure's figure less another's
        assert row[5] == pytest.approx(row[3] - row[4], abs=0.02)
    descriptions = [r[6] for r in rows]
    assert all(descriptions) and len(set(descriptions)) == 3
    assert "contract" in descriptions[0] and "intellectual property" in descriptions[1]
