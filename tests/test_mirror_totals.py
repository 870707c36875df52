"""Issue 19, item 1: China-USA mirror pairs of all goods, 2010-2014, from real reports on both sides.

China's side is seeds/comtrade_chn_usa_sitc (SITC Rev.4 divisions, annual, no TOTAL row); the USA's is
seeds/comtrade_usa_chn_monthly_2010_2014 (monthly TOTAL rows, the Comtrade+ portal's CSV with capitalised
headers). Golden figures are computed here from the two CSV files with the csv module, never from the views.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, run_nightly
from warehouse.parse.comtrade import parse_comtrade
from warehouse.parse.comtrade_columnar import batches_comtrade

SOURCE_ID = "comtrade_usa_chn_monthly_2010_2014"
SEED_DIR = PROJECT_ROOT / "seeds" / SOURCE_ID
SEED = SEED_DIR / "plus_portal_USA_CHN_TOTAL_monthly_2010_2014.csv"
SITC_SEED = PROJECT_ROOT / "seeds" / "comtrade_chn_usa_sitc" / "legacy_api_CHN_USA_S4_2digit_2010_2014.csv"
SCRIPT = PROJECT_ROOT / "scripts" / "extract_comtrade_usa_monthly.py"
YEARS = range(2010, 2015)


def rows_of(path: Path) -> list[dict[str, str]]:
    """A CSV's rows as the publisher printed them."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def usa_months(rows: list[dict[str, str]] | None = None) -> dict[tuple[int, str], dict[int, float]]:
    """(year, 'X'/'M') -> month -> the USA's reported value with China (PrimaryValue)."""
    out: dict[tuple[int, str], dict[int, float]] = defaultdict(dict)
    for r in rows if rows is not None else rows_of(SEED):
        assert (r["ReporterISO"], r["PartnerISO"], r["CmdCode"], r["FreqCode"]) == ("USA", "CHN", "TOTAL", "M")
        out[int(r["RefYear"]), r["FlowCode"]][int(r["RefMonth"])] = float(r["PrimaryValue"])
    return out


def china_divisions() -> dict[tuple[int, str], float]:
    """(year, 'Export'/'Import') -> the sum of China's SITC divisions with the USA."""
    out: dict[tuple[int, str], float] = defaultdict(float)
    for r in rows_of(SITC_SEED):
        assert (r["Reporter ISO"], r["Partner ISO"], r["Aggregate Level"]) == ("CHN", "USA", "2")
        out[int(r["Year"]), r["Trade Flow"]] += float(r["Trade Value (US$)"])
    return out


def expected_pairs() -> dict[tuple[str, str, str], tuple[float, float]]:
    """(exporter, importer, year) -> (the exporter's annual total, the importer's), all ten from the seeds."""
    months, china = usa_months(), china_divisions()
    out = {}
    for year in YEARS:
        assert sorted(months[year, "M"]) == sorted(months[year, "X"]) == list(range(1, 13))
        out["CHN", "USA", str(year)] = (china[year, "Export"], sum(months[year, "M"].values()))
        out["USA", "CHN", str(year)] = (sum(months[year, "X"].values()), china[year, "Import"])
    return out


# --- the shipped extract ---------------------------------------------------------------------------------------


def test_the_extract_is_twelve_months_of_both_flows_each_year():
    months = usa_months()
    assert set(months) == {(y, f) for y in YEARS for f in ("X", "M")}
    assert all(sorted(m) == list(range(1, 13)) for m in months.values())
    rows = rows_of(SEED)
    assert len(rows) == 120
    # totals over customs procedures, modes of transport and second partners: one figure per month and flow
    assert {(r["CustomsCode"], r["MotCode"], r["Partner2Code"]) for r in rows} == {("C00", "0", "0")}
    # imports valued CIF, exports FOB, as the file prints them
    for r in rows:
        valued = r["Cifvalue"] if r["FlowCode"] == "M" else r["Fobvalue"]
        assert float(valued) == float(r["PrimaryValue"]), r["RefPeriodId"] + r["FlowCode"]


def test_the_extract_keeps_the_publishers_bytes():
    data = SEED.read_bytes()
    lines = data.split(b"\r\n")
    assert lines[0].startswith(b'"TypeCode","FreqCode","RefPeriodId","RefYear",') and lines[-1] == b""
    assert data.count(b"\r\n") == data.count(b"\n") == 121  # header + 120 rows, CRLF as downloaded
    assert all(line.endswith(b'",') for line in lines[:-1])  # the portal ends every line with a separator


def test_both_readers_read_the_capitalised_header():
    """The portal capitalises the API's column names (PrimaryValue for primaryValue): the same layout."""
    frame = parse_comtrade(SEED, source_id=SOURCE_ID).frame
    batches = list(batches_comtrade(SEED, source_id=SOURCE_ID))
    rows = rows_of(SEED)
    assert sum(len(b.frame) for b in batches) == len(frame) == len(rows)
    assert batches[0].frame.equals(frame)
    assert set(frame["layout"]) == {"plus_api_csv"}
    assert frame["value_text"].tolist() == [r["PrimaryValue"] for r in rows]
    assert frame["period"].tolist() == [r["Period"] for r in rows]
    assert frame["commodity_code"].tolist() == ["TOTAL"] * len(rows)


def test_a_header_equal_case_aside_reads_the_same(tmp_path: Path):
    lower = tmp_path / "lower.csv"
    data = SEED.read_bytes()
    header, rest = data.split(b"\r\n", 1)
    lower.write_bytes(header.lower() + b"\r\n" + rest)
    got = parse_comtrade(lower, source_id=SOURCE_ID).frame
    assert got.drop(columns="file_name", errors="ignore").equals(
        parse_comtrade(SEED, source_id=SOURCE_ID).frame.drop(columns="file_name", errors="ignore")
    )


def test_readme_attributes_and_says_how_to_regenerate():
    text = (SEED_DIR / "README.md").read_text(encoding="utf-8")
    assert "United Nations Statistics Division, UN Comtrade" in text and "terms of use" in text
    assert "yq808/us-china-trade-analysis" in text and "7c5543b4bd46dc9a4cabd5be61c15a7339b52f3d" in text
    assert "python scripts/extract_comtrade_usa_monthly.py --source" in text
    assert text.count("24 of 24 data rows kept") == 5


def test_the_script_refuses_a_file_that_is_not_an_upstream_one(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(SEED), "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0 and "is none of the upstream files'" in result.stderr
    assert not any(tmp_path.iterdir())


# --- marts.mirror_flows ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def con(loaded):
    connection = duckdb.connect(str(loaded["warehouse"]), read_only=True)
    yield connection
    connection.close()


def test_china_usa_pair_every_year_in_both_directions(con):
    """Acceptance of issue 19: China-USA pairs for 2010-2014 with both sides (10 pairs)."""
    expected = expected_pairs()
    rows = con.execute(
        "select exporter, importer, period, exports_reported_by_exporter, imports_reported_by_importer, gap, "
        "asymmetry_ratio, is_paired, category, measure, unit from marts.mirror_flows "
        "where category = 'TOTAL' and period between '2010' and '2014' and length(period) = 4 "
        "and 'CHN' in (exporter, importer) and 'USA' in (exporter, importer)"
    ).fetchall()
    got = {(r[0], r[1], r[2]): r[3:] for r in rows}
    assert set(got) == set(expected) and len(rows) == 10
    for key, (x, m) in expected.items():
        assert got[key][:4] == (
            pytest.approx(x, abs=0.01),
            pytest.approx(m, abs=0.01),
            pytest.approx(m - x, abs=0.02),
            pytest.approx(m / x),
        ), key
        assert got[key][4:] == (True, "TOTAL", "customs_value", "USD"), key


def test_each_derived_side_is_flagged_and_explained(con):
    china = defaultdict(int)
    for r in rows_of(SITC_SEED):
        china[r["Year"], r["Trade Flow"]] += 1
    rows = con.execute(
        "select exporter, period, classification, exporter_classification, importer_classification, "
        "is_exporter_side_derived, is_importer_side_derived, exporter_derivation, importer_derivation, "
        "exporter_source_id, importer_source_id, why_unpaired from marts.mirror_flows "
        "where category = 'TOTAL' and period between '2010' and '2014' and length(period) = 4"
    ).fetchall()
    assert len(rows) == 10
    hs = {r["RefYear"]: {"H3": "HS2007", "H4": "HS2012"}[r["ClassificationCode"]] for r in rows_of(SEED)}
    for exporter, period, cls, x_cls, m_cls, x_derived, m_derived, x_how, m_how, x_src, m_src, why in rows:
        usa = f"sum of the 12 monthly TOTAL rows USA reports ({SOURCE_ID}); no annual TOTAL is published"
        flow = "Export" if exporter == "CHN" else "Import"
        chn = (
            f"sum of {china[period, flow]} codes of SITC divisions (2-digit) CHN reports (comtrade_chn_usa_sitc), "
            "covering 10 of 10 sections; no TOTAL is published"
        )
        sides = [("SITC4", chn, "comtrade_chn_usa_sitc"), (hs[period], usa, SOURCE_ID)]
        if exporter == "USA":
            sides.reverse()
        assert (x_cls, x_how, x_src) == sides[0] and (m_cls, m_how, m_src) == sides[1]
        assert cls == f"{x_cls} / {m_cls}"
        assert (x_derived, m_derived, why) == (True, True, None)


def test_published_totals_stay_reported(con):
    """The 2022 published TOTAL rows are not derived and keep their one classification."""
    rows = con.execute(
        "select distinct classification, is_exporter_side_derived, is_importer_side_derived, exporter_derivation, "
        "importer_derivation from marts.mirror_flows where category = 'TOTAL' and period = '2022'"
    ).fetchall()
    assert rows == [("HS2022", False, False, None, None)]


def test_no_aggregate_and_no_self_pair(con):
    rows = con.execute(
        "select m.exporter, m.importer from marts.mirror_flows as m "
        "left join core.dim_country as e on e.iso3 = m.exporter "
        "left join core.dim_country as i on i.iso3 = m.importer "
        "where e.is_aggregate is distinct from false or i.is_aggregate is distinct from false "
        "or m.exporter = m.importer"
    ).fetchall()
    assert rows == []


def test_codes_are_never_paired_across_classifications(con):
    """Below the total, SITC divisions and HS codes are different goods: no such pair."""
    assert con.execute(
        "select count(*) from marts.mirror_flows where category <> 'TOTAL' "
        "and (is_paired and exporter_classification <> importer_classification or classification like '% / %')"
    ).fetchone() == (0,)


# --- a month missing: no annual total, and the view says why ----------------------------------------------------


@pytest.fixture(scope="module")
def missing_month(tmp_path_factory, prefect_home):
    """The project's catalogue with the USA's extract lacking July 2013 imports (a copy, test data)."""
    workdir = tmp_path_factory.mktemp("mirror-months")
    data = SEED.read_bytes()
    lines = data.split(b"\r\n")
    dropped = [line for line in lines if b'"20130701","2013","7",' in line and b',"M","Import",' in line]
    assert len(dropped) == 1
    copy = workdir / "usa_chn_without_2013_07_imports.csv"
    copy.write_bytes(b"\r\n".join(line for line in lines if line not in dropped))
    catalogue = (PROJECT_ROOT / "catalogue.toml").read_text()
    seed_location = f'location = {{ seed = "{SOURCE_ID}/*.csv" }}'
    assert catalogue.count(seed_location) == 1
    (workdir / "catalogue.toml").write_text(catalogue.replace(seed_location, f'location = {{ path = "{copy}" }}'))
    result = run_nightly(workdir / "home", workdir / "catalogue.toml", TRADEWH_ALLOWED_ROOTS=str(workdir))
    assert result["status"] == "succeeded", result["summary"]
    connection = duckdb.connect(str(workdir / "home" / "warehouse" / "tradewh.duckdb"), read_only=True)
    yield connection
    connection.close()


def test_a_year_with_a_month_missing_is_not_paired(missing_month):
    row = missing_month.execute(
        "select exports_reported_by_exporter, imports_reported_by_importer, is_paired, is_importer_side_derived, "
        "why_unpaired from marts.mirror_flows where exporter = 'CHN' and importer = 'USA' and period = '2013' "
        "and category = 'TOTAL'"
    ).fetchone()
    x, _ = expected_pairs()["CHN", "USA", "2013"]
    assert row[:4] == (pytest.approx(x, abs=0.01), None, False, True)  # missing is not zero
    assert row[4] == (
        f"no annual total: USA reports 11 of 12 monthly TOTAL rows ({SOURCE_ID}), and a year with a month missing "
        "is not a year"
    )
    # the other direction of that year, and the other years, still pair
    paired = missing_month.execute(
        "select count(*) from marts.mirror_flows where category = 'TOTAL' and is_paired "
        "and period between '2010' and '2014' and length(period) = 4"
    ).fetchone()
    assert paired == (9,)
