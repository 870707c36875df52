"""Tests of staging.stg_comtrade on a warehouse built from the curated Comtrade extracts (and two fixtures),
with the acceptance figures; and of the script that regenerates the extracts."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import warehouse.build.builder as build
from schemas.rules import RunContext
from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.extract.fetch import Payload
from warehouse.stage import parse_payloads, validate_source, write_lake

SEEDS = PROJECT_ROOT / "seeds"
REFERENCE = SEEDS / "reference"
SHARED = PROJECT_ROOT.parent / "shared" / "data"
SCRIPT = PROJECT_ROOT / "scripts" / "extract_comtrade.py"
STAGING_SQL = PROJECT_ROOT / "sql" / "staging" / "stg_comtrade.sql"
SEED_DIRS = ("comtrade_chn_usa_sitc", "comtrade_chn_usa_hs8542")
SITC_FILE = SEEDS / "comtrade_chn_usa_sitc" / "legacy_api_CHN_USA_S4_2digit_2010_2014.csv"
HS8542_FILE = SEEDS / "comtrade_chn_usa_hs8542" / "plus_api_CHN_M_USA_HS8542_2010_2024.csv"
needs_shared = pytest.mark.skipif(
    not (SHARED / "comtrade").is_dir(), reason=f"real UN Comtrade files not found at {SHARED} (CI provides them)"
)

CUSTOMS_USD = MeasureSpec(measure="customs_value", unit="USD", currency="USD", scales=(1.0,))
COLUMNS = [
    "source_id", "vintage", "reporter", "partner", "period", "period_type", "year", "flow", "classification",
    "category", "aggregate_level", "measure", "unit", "value", "reporter_code_published", "partner_code_published",
    "classification_published", "layout", "file_name", "file_sha256", "file_row",
]  # fmt: skip
GRAIN = ["source_id", "vintage", "reporter", "partner", "period", "flow", "classification", "category"]


def comtrade_source(source_id: str, location: str, vintage: str, title: str) -> Source:
    return Source(
        id=source_id,
        dataset="comtrade",
        publisher="United Nations Statistics Division (UN Comtrade)",
        title=title,
        licence="UN Comtrade terms of use",
        attribution="United Nations Statistics Division, UN Comtrade database",
        location_kind="seed",
        location=location,
        vintage=vintage,
        homepage="https://comtradeplus.un.org/",
        measures=(CUSTOMS_USD,),
    )


# the catalogue entries proposed in the report (vintages are stand-ins: see there)
SITC = comtrade_source(
    "comtrade_chn_usa_sitc", "comtrade_chn_usa_sitc/*.csv", "2015-01-01", "China-USA trade, SITC Rev.4 divisions"
)
HS8542 = comtrade_source(
    "comtrade_chn_usa_hs8542", "comtrade_chn_usa_hs8542/*.csv", "2025-01-01", "China's imports of HS 8542 from the USA"
)
FIXTURE = comtrade_source("comtrade_fixtures", "fixtures", "2024-06-30", "test fixtures: legacy API and API JSON")
FILES = {
    SITC: [SITC_FILE],
    HS8542: [HS8542_FILE],
    FIXTURE: [FIXTURES / "comtrade" / "legacy_api.csv", FIXTURES / "comtrade" / "plus_api.json"],
}


def payload(source: Source, path: Path) -> Payload:
    data = path.read_bytes()
    return Payload(source.id, path.name, str(path), path, hashlib.sha256(data).hexdigest(), len(data))


def load_reference_with_comtrade_codes(original):
    """_load_reference, plus seeds/reference/comtrade_codes.csv as raw.ref_comtrade_codes unless it loaded it."""

    def load(con: duckdb.DuckDBPyConnection, seeds_dir: Path, catalogue: list[Source]) -> None:
        original(con, seeds_dir, catalogue)
        try:
            con.execute("select * from raw.ref_comtrade_codes limit 0")
        except duckdb.CatalogException:
            codes = pd.read_csv(seeds_dir / "reference" / "comtrade_codes.csv", dtype=str, keep_default_na=False)
            build._load_frame(con, "raw.ref_comtrade_codes", codes)

    return load


def build_from_lake(tmp: Path, sql_dir: Path) -> Path:
    """Parse, validate and write every source to a lake under tmp, then build a warehouse from it."""
    lake = tmp / "lake"
    for source, paths in FILES.items():
        payloads = [payload(source, p) for p in paths]
        context = RunContext(source=source, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)
        valid, quarantine = validate_source(source, parse_payloads(source, payloads), context)
        assert quarantine.empty, quarantine
        write_lake(source, valid, payloads, lake, run_id="test")
    target = tmp / "tradewh.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "_load_reference", load_reference_with_comtrade_codes(build._load_reference))
        build.build_warehouse(
            target,
            lake_dir=lake,
            seeds_dir=SEEDS,
            sql_dir=sql_dir,
            catalogue=list(FILES),
            storage_version="v1.2.0",
        )
    return target


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """staging.stg_comtrade from a warehouse whose only view is that one."""
    tmp = tmp_path_factory.mktemp("stg_comtrade")
    sql_dir = tmp / "sql"
    (sql_dir / "staging").mkdir(parents=True)
    shutil.copy(STAGING_SQL, sql_dir / "staging" / STAGING_SQL.name)
    target = build_from_lake(tmp, sql_dir)
    with duckdb.connect(str(target), read_only=True) as con:
        return con.execute("select * from staging.stg_comtrade order by all").df()


def of(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    return frame[frame["source_id"] == source.id]


# --- the acceptance figures ------------------------------------------------------------------------------------


def test_china_usa_2011_sitc4_exports_and_imports(staged: pd.DataFrame) -> None:
    rows = of(staged, SITC)
    rows = rows[(rows["reporter"] == "CHN") & (rows["partner"] == "USA") & (rows["year"] == 2011)]
    assert set(rows["classification"]) == {"SITC4"}
    # The extract holds SITC Rev.4 2-digit divisions only, and no TOTAL row: the figure is the sum of the
    # divisions (one aggregation level, so nothing is counted twice).
    assert "TOTAL" not in set(rows["category"])
    assert set(rows["aggregate_level"]) == {2}
    by_flow = rows.groupby("flow")["value"].agg(["sum", "count"])
    assert round(by_flow.loc["export", "sum"] / 1e9, 1) == 325.0
    assert round(by_flow.loc["import", "sum"] / 1e9, 1) == 123.1
    assert by_flow["count"].to_dict() == {"export": 63, "import": 64}


def test_china_imports_of_hs8542_from_the_usa_2011(staged: pd.DataFrame) -> None:
    rows = of(staged, HS8542)
    hit = rows[(rows["category"] == "8542") & (rows["year"] == 2011)]
    assert len(hit) == 1
    row = hit.iloc[0]
    assert (row["reporter"], row["partner"], row["flow"], row["period"], row["period_type"]) == (
        "CHN",
        "USA",
        "import",
        "2011",
        "year",
    )
    assert round(row["value"] / 1e9, 3) == 6.368
    assert row["classification"] == "HS2007"


def file_totals(path: Path) -> tuple[dict[int, float], dict[int, float]]:
    """Read the plus API file independently: per year, the single total row's value and the sum of all rows."""
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    total: dict[int, float] = {}
    every: dict[int, float] = {}
    for r in reader:
        year = int(r["refYear"])
        every[year] = every.get(year, 0.0) + float(r["primaryValue"])
        if r["partner2Code"] == "0" and r["customsCode"] == "C00" and r["motCode"].strip() == "0":
            assert year not in total, f"two total rows for {year}"
            total[year] = float(r["primaryValue"])
    return total, every


def test_one_hs8542_figure_a_year_equal_to_the_files_total_row(staged: pd.DataFrame) -> None:
    rows = of(staged, HS8542)
    rows = rows[rows["category"] == "8542"]
    assert rows.groupby("year").size().to_dict() == {year: 1 for year in range(2010, 2025)}
    total, every = file_totals(HS8542_FILE)
    assert rows.set_index("year")["value"].to_dict() == total
    # 2015-2017: the file also breaks the total down by second partner; summing every row would double count
    doubled = {year for year in total if abs(every[year] - 2 * total[year]) < 1}
    assert doubled == {2015, 2016, 2017}
    assert {year for year in total if every[year] != total[year]} == {2015, 2016, 2017}


def test_classification_follows_the_file_year_by_year(staged: pd.DataFrame) -> None:
    rows = of(staged, HS8542).set_index("year")["classification"]
    assert rows.loc[[2010, 2012, 2017, 2022]].tolist() == ["HS2007", "HS2012", "HS2017", "HS2022"]


# --- the double-counting rules ---------------------------------------------------------------------------------


def test_grain_is_unique(staged: pd.DataFrame) -> None:
    assert not staged.duplicated(GRAIN).any()


def test_breakdowns_are_excluded(staged: pd.DataFrame) -> None:
    # HS8542 file: 173 rows, of which 15 are totals; fixture legacy_api.csv: one row by second partner 344,
    # customs procedure C01 and mode of transport '0 ' is left out, its other four rows stay
    assert len(of(staged, HS8542)) == 15
    fixture = of(staged, FIXTURE)
    assert sorted(fixture.loc[fixture["layout"] == "legacy_api", "file_row"]) == [2, 3, 4, 6]


def test_every_aggregation_level_is_its_own_category_never_summed(staged: pd.DataFrame) -> None:
    fixture = of(staged, FIXTURE)
    legacy = fixture[fixture["layout"] == "legacy_api"]
    assert sorted(zip(legacy["category"], legacy["aggregate_level"], strict=True)) == [
        ("00", 2),
        ("00", 2),
        ("07", 2),
        ("TOTAL", 0),
    ]
    total = legacy.loc[legacy["category"] == "TOTAL", "value"].tolist()
    assert total == [325010988000.0]  # the published TOTAL as published, not a sum of the codes


def test_monthly_period_flows_and_world_partner(staged: pd.DataFrame) -> None:
    fixture = of(staged, FIXTURE)
    monthly = fixture[fixture["layout"] == "plus_api_json"].sort_values("file_row")
    assert monthly["period"].tolist() == ["2011-03"] * 3
    assert set(monthly["period_type"]) == {"month"}
    assert monthly["flow"].tolist() == ["import", "re_export", "import"]
    assert monthly["partner"].tolist() == ["USA", "USA", "WLD"]
    assert monthly["category"].tolist() == ["854231", "854231", "TOTAL"]


def test_columns_measure_unit_and_provenance(staged: pd.DataFrame) -> None:
    assert list(staged.columns) == COLUMNS
    assert set(staged["measure"]) == {"customs_value"} and set(staged["unit"]) == {"USD"}
    assert staged["reporter"].notna().all() and staged["partner"].notna().all()
    hs = of(staged, HS8542)
    assert set(hs["file_name"]) == {HS8542_FILE.name}
    assert set(hs["file_sha256"]) == {hashlib.sha256(HS8542_FILE.read_bytes()).hexdigest()}
    lines = HS8542_FILE.read_text().splitlines()
    row_2011 = hs[hs["year"] == 2011].iloc[0]
    assert lines[row_2011["file_row"] - 1].split(",")[3] == "2011"  # file_row is the physical line


def test_sitc_reporters_partners_and_years(staged: pd.DataFrame) -> None:
    sitc = of(staged, SITC)
    assert (set(sitc["reporter"]), set(sitc["partner"])) == ({"CHN"}, {"USA"})
    assert sorted(set(sitc["year"])) == [2010, 2011, 2012, 2013, 2014]
    assert len(sitc) == 641 and set(sitc["vintage"]) == {SITC.vintage}


# --- the curated extracts and their script -------------------------------------------------------------------


def seed_files() -> list[Path]:
    return sorted(p.relative_to(SEEDS) for d in SEED_DIRS for p in (SEEDS / d).iterdir() if p.is_file())


@needs_shared
def test_extract_reproduces_the_seeds_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--shared", str(SHARED), "--out", str(tmp_path)], check=True, cwd=tmp_path
    )
    produced = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert produced == seed_files()
    for name in produced:
        assert (tmp_path / name).read_bytes() == (SEEDS / name).read_bytes(), name


@pytest.mark.parametrize("folder", SEED_DIRS)
def test_seed_readme_attributes_and_says_how_to_regenerate(folder: str) -> None:
    text = (SEEDS / folder / "README.md").read_text(encoding="utf-8")
    assert "United Nations Statistics Division, UN Comtrade" in text
    assert "terms of use" in text
    assert "python scripts/extract_comtrade.py --shared ../shared/data --out seeds" in text
    commit = {"comtrade_chn_usa_sitc": "d15836591e2e", "comtrade_chn_usa_hs8542": "db7d10364657"}[folder]
    assert commit in text


def test_sitc_seed_keeps_the_publishers_layout() -> None:
    data = SITC_FILE.read_bytes()
    assert data.startswith(b"Classification,Year,Period,Period Desc.,")
    assert data.count(b"\r\n") == 642 and data.count(b"\n") == 642  # CRLF, as published
