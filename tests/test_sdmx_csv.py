"""SDMX-CSV: the parser (Data360, OECD labels and OECD codes-only flavours), the rules, the real Data360 file,
the reference lists and the curated extract, and the staging view through a built warehouse."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import warehouse.build.builder as build
from schemas.rules import RunContext
from schemas.sdmx_csv import load_area_codes, load_indicators
from schemas.trade_figure import TradeFigure
from tests.conftest import FIXTURES, PROJECT_ROOT, SHARED_DATA
from tests.strategies import mutations
from warehouse.common.errors import SourceError
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.extract.fetch import Payload
from warehouse.lake import audit
from warehouse.lake.audit import SourceResult
from warehouse.parse.sdmx_csv import COLUMNS, parse_sdmx_csv
from warehouse.stage import parse_payloads, validate_source, write_lake

SOURCE_ID = "unctad_digital_services"
HERE = FIXTURES / "sdmx_csv"
REFERENCE = PROJECT_ROOT / "seeds" / "reference"
SEED_DIR = PROJECT_ROOT / "seeds" / "unctad_digital_services"
SEED_FILE = SEED_DIR / "UNCTAD_DE_digital_services_trade.csv"
REAL_FILE = SHARED_DATA / "sdmx" / "UNCTAD_DE_digital_services_trade.csv"
NEW_REFERENCE = ("sdmx_indicators", "sdmx_area_codes", "oecd_country_names")
EXP, IMP = "UNCTAD_DE_DIG_SERVTRADE_ANN_EXP", "UNCTAD_DE_DIG_SERVTRADE_ANN_IMP"
SEED_AREAS = {"CHN", "USA", "JPN", "KOR", "DEU", "HKG", "IND", "WLD"}


def make_source(source_id: str = SOURCE_ID, location: str = "unctad_digital_services/*.csv") -> Source:
    return Source(
        id=source_id,
        dataset="sdmx_csv",
        publisher="UN Trade and Development (UNCTAD), via the World Bank's Data360",
        title="International trade in digitally-deliverable services (SDMX-CSV): extract",
        licence="CC BY 4.0",
        attribution="UNCTAD, International trade in digitally-deliverable services, via World Bank Data360",
        location_kind="seed",
        location=location,
        vintage="2025-12-18",
        measures=(MeasureSpec(measure="bop_value", unit="USD", currency="USD", scales=(1e6,)),),
    )


def payload(path: Path, source_id: str = SOURCE_ID) -> Payload:
    data = path.read_bytes()
    return Payload(source_id, path.name, str(path), path, hashlib.sha256(data).hexdigest(), len(data))


def context(source: Source) -> RunContext:
    return RunContext(source=source, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)


def validate(path: Path, source: Source | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    source = source or make_source()
    return validate_source(source, parse_payloads(source, [payload(path, source.id)]), context(source))


def rules_by_row(quarantine: pd.DataFrame) -> list[tuple[int, str]]:
    pairs = zip(quarantine["file_row"].astype(int), quarantine["rule"], strict=True)
    return list(dict.fromkeys(pairs))


def row(frame: pd.DataFrame, **where: object) -> pd.Series:
    match = frame
    for column, value in where.items():
        match = match[match[column] == value]
    assert len(match) == 1, f"expected one row where {where}, got {len(match)}"
    return match.iloc[0]


# --- parser: the three flavours ---------------------------------------------------------------------------------


def test_data360_flavour_reads_codes_labels_and_scales_by_unit_mult() -> None:
    parsed = parse_sdmx_csv(HERE / "data360.csv", source_id=SOURCE_ID)
    frame = parsed.frame
    assert parsed.layout == "data360"
    assert parsed.vintage is None
    assert list(frame.columns) == list(COLUMNS)
    china = row(frame, ref_area="CHN", indicator=EXP)
    assert china["structure_id"] == "WB.DATA360:DS_DATA360(1.2)"
    assert china["ref_area_label"] == "China"
    assert china["indicator_label"] == "International exports in digitally-deliverable services"
    assert (china["unit_measure"], china["time_period"], china["year"]) == ("USD", "2011", 2011)
    assert (china["obs_value_text"], china["obs_value"], china["unit_mult"]) == ("72874.0", 72874.0, 6)
    assert china["value"] == pytest.approx(72.874e9)
    assert (china["obs_status"], china["file_row"]) == ("A", 2)
    assert row(frame, ref_area="CHN", indicator=IMP)["value"] == pytest.approx(85.903e9)


def test_data360_label_with_a_comma_is_one_field() -> None:
    frame = parse_sdmx_csv(HERE / "data360.csv", source_id=SOURCE_ID).frame
    assert row(frame, ref_area="KOR")["ref_area_label"] == "Korea, Rep."


def test_a_missing_observation_is_kept_with_its_status() -> None:
    frame = parse_sdmx_csv(HERE / "data360.csv", source_id=SOURCE_ID).frame
    hkg = row(frame, ref_area="HKG")
    assert hkg["obs_value_text"] == ""
    assert math.isnan(hkg["obs_value"]) and math.isnan(hkg["value"])
    assert (hkg["obs_status"], hkg["file_row"]) == ("O", 5)


def test_other_dims_is_sorted_json_of_the_other_dimension_codes() -> None:
    frame = parse_sdmx_csv(HERE / "data360.csv", source_id=SOURCE_ID).frame
    dims = frame["other_dims"].iloc[0]
    assert json.loads(dims) == {
        "AGE": "_T",
        "COMP_BREAKDOWN_1": "_Z",
        "COMP_BREAKDOWN_2": "_Z",
        "COMP_BREAKDOWN_3": "_Z",
        "FREQ": "A",
        "SEX": "_T",
        "URBANISATION": "_T",
    }
    assert dims == json.dumps(json.loads(dims), sort_keys=True)


def test_every_row_is_kept_including_indicators_tradewh_does_not_map() -> None:
    frame = parse_sdmx_csv(HERE / "data360.csv", source_id=SOURCE_ID).frame
    assert frame["file_row"].tolist() == [2, 3, 4, 5, 6]
    ict = row(frame, indicator="UNCTAD_DE_ICT_CORE_UBS_ANN_ALL_B1")
    assert (ict["unit_measure"], ict["unit_mult"], ict["value"]) == ("PT_BS", 0, 99.61)


def test_oecd_labels_flavour_takes_labels_from_the_concept_columns() -> None:
    parsed = parse_sdmx_csv(HERE / "oecd_labels.csv", source_id=SOURCE_ID)
    frame = parsed.frame
    assert parsed.layout == "oecd_labels"
    usa = row(frame, ref_area="USA", indicator="DDS_EXP")
    assert (usa["ref_area_label"], usa["indicator_label"]) == (
        "United States",
        "Exports of digitally-deliverable services",
    )
    assert (usa["obs_value"], usa["unit_mult"]) == (425.5, 9)
    assert usa["value"] == pytest.approx(425.5e9)
    assert usa["structure_id"] == "OECD.SDD.TPS:DSD_TEST@DF_DIGITAL_SERVICES(1.0)"
    # DECIMALS, UNIT_MULT, OBS_STATUS are attributes, labels are not codes: neither is in other_dims
    assert json.loads(usa["other_dims"]) == {"FREQ": "A", "SEX": "_T"}


def test_oecd_labels_keeps_obs_status_and_reads_a_quarter_as_its_year() -> None:
    frame = parse_sdmx_csv(HERE / "oecd_labels.csv", source_id=SOURCE_ID).frame
    imports = row(frame, indicator="DDS_IMP")
    assert (imports["obs_status"], imports["value"]) == ("E", pytest.approx(260.1e9))
    quarter = row(frame, ref_area="JPN")
    assert (quarter["time_period"], quarter["year"], quarter["obs_status"]) == ("2011-Q1", 2011, "P")


def test_an_empty_unit_mult_is_zero() -> None:
    frame = parse_sdmx_csv(HERE / "oecd_labels.csv", source_id=SOURCE_ID).frame
    eu = row(frame, ref_area="EU27_2020")
    assert (eu["unit_mult"], eu["value"]) == (0, 12.5)


def test_codes_only_flavour_has_no_labels() -> None:
    parsed = parse_sdmx_csv(HERE / "codes_only.csv", source_id=SOURCE_ID)
    frame = parsed.frame
    assert parsed.layout == "codes_only"
    assert frame["ref_area_label"].isna().all() and frame["indicator_label"].isna().all()
    korea = row(frame, ref_area="KOR")
    assert (korea["indicator"], korea["unit_mult"], korea["value"]) == ("DDS_EXP", 9, pytest.approx(95.3e9))
    assert json.loads(korea["other_dims"]) == {"ACTIVITY": "_T", "FREQ": "A"}


def test_codes_only_reads_scientific_notation_and_empty_status_and_unit_mult() -> None:
    frame = parse_sdmx_csv(HERE / "codes_only.csv", source_id=SOURCE_ID).frame
    china = row(frame, ref_area="CHN")
    assert (china["obs_value"], china["unit_mult"], china["value"], china["obs_status"]) == (1200.0, 0, 1200.0, None)


def test_no_unit_mult_column_means_units() -> None:
    frame = parse_sdmx_csv(HERE / "codes_no_unit_mult.csv", source_id=SOURCE_ID).frame
    assert (frame["unit_mult"].tolist(), frame["value"].tolist()) == ([0], [95.3e9])


def test_a_period_that_is_not_a_year_keeps_its_row_with_year_minus_one() -> None:
    frame = parse_sdmx_csv(HERE / "bad_rows.csv", source_id=SOURCE_ID).frame
    latest = row(frame, time_period="latest")
    assert (latest["year"], latest["file_row"]) == (-1, 8)
    assert len(frame) == 16


@pytest.mark.parametrize(
    ("name", "rule", "line"),
    [
        ("not_sdmx.csv", "unknown_layout", 1),
        ("no_ref_area.csv", "missing_column", 1),
        ("duplicate_column.csv", "duplicate_column", 1),
        ("field_count.csv", "field_count", 3),
        ("unit_mult_text.csv", "unit_mult_not_integer", 3),
        ("delete_action.csv", "delete_action", 2),
        ("header_only.csv", "no_rows", None),
        ("page.html", "html_not_csv", None),
    ],
)
def test_bad_files_raise_a_source_error_naming_file_row_and_rule(name: str, rule: str, line: int | None) -> None:
    with pytest.raises(SourceError) as caught:
        parse_sdmx_csv(HERE / name, source_id=SOURCE_ID)
    assert (caught.value.rule, caught.value.row, caught.value.source_id) == (rule, line, SOURCE_ID)
    assert name in str(caught.value)


def test_unknown_layout_names_the_expected_columns() -> None:
    with pytest.raises(SourceError, match="STRUCTURE, STRUCTURE_ID, TIME_PERIOD, OBS_VALUE"):
        parse_sdmx_csv(HERE / "not_sdmx.csv", source_id=SOURCE_ID)


def test_an_absurd_unit_mult_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(
        "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,INDICATOR,TIME_PERIOD,OBS_VALUE,UNIT_MULT\n"
        "datastructure,X(1.0),I,CHN,X,2011,1,400\n"
    )
    with pytest.raises(SourceError) as caught:
        parse_sdmx_csv(path, source_id=SOURCE_ID)
    assert (caught.value.rule, caught.value.row) == ("unit_mult_out_of_range", 2)


# --- rules ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad() -> tuple[pd.DataFrame, pd.DataFrame]:
    return validate(HERE / "bad_rows.csv")


def test_each_bad_row_is_quarantined_by_its_rule(bad: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = bad
    assert rules_by_row(quarantine) == [
        (3, "known_country"),
        (4, "value_is_number"),
        (5, "value_is_number"),
        (6, "non_negative"),
        (8, "year_in_range"),
        (9, "year_in_range"),
        (10, "duplicate_key"),
        (11, "duplicate_key"),
        (12, "unit_matches_catalogue"),
        (13, "unit_matches_catalogue"),
        (15, "known_country"),
    ]


def test_valid_rows_are_the_good_ones(bad: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, _ = bad
    # 2 CHN; 7 an unmapped indicator (non_negative is for trade values); 14 a missing value flagged 'O';
    # 16 OECD (mapped to OED); 17 a SEX = F breakdown (other_dims differ: not a duplicate of 10/11)
    assert valid["file_row"].tolist() == [2, 7, 14, 16, 17]
    assert set(valid["vintage"]) == {"2025-12-18"}


def test_quarantine_blames_the_column_and_shows_the_value_as_published(
    bad: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, quarantine = bad
    single = quarantine[quarantine["rule"] != "duplicate_key"]
    assert list(zip(single["file_row"], single["column_name"], single["value"], strict=True)) == [
        (3, "ref_area", "ZZZ"),
        (4, "obs_value_text", "n/a"),
        (5, "obs_value_text", ""),
        (6, "obs_value", "-5.0"),
        (8, "time_period", "latest"),
        (9, "time_period", "1850"),
        (12, "unit_measure", "EUR"),
        (13, "unit_measure", "USD"),
        (15, "ref_area", "G20"),
    ]


def test_duplicate_key_names_the_key_columns(bad: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = bad
    dup = quarantine[(quarantine["rule"] == "duplicate_key") & (quarantine["file_row"] == 10)]
    assert dup["column_name"].tolist() == [
        "structure_id, ref_area, indicator, unit_measure, time_period, other_dims, vintage"
    ]


def test_no_quarantined_row_is_valid(bad: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, quarantine = bad
    assert set(valid["file_row"]) & set(quarantine["file_row"]) == set()
    assert quarantine.groupby(["file_row", "rule"]).size().max() == 1


@pytest.mark.parametrize("name", ["data360.csv", "oecd_labels.csv", "codes_only.csv", "breakdowns.csv"])
def test_good_files_of_every_flavour_are_valid(name: str) -> None:
    valid, quarantine = validate(HERE / name)
    assert (len(quarantine), len(valid)) == (0, len(parse_sdmx_csv(HERE / name, source_id=SOURCE_ID).frame))


def test_a_scale_the_catalogue_does_not_declare_is_refused_for_mapped_indicators() -> None:
    source = replace(make_source(), measures=(MeasureSpec("bop_value", "USD", "USD", (1.0,)),))
    _, quarantine = validate(HERE / "data360.csv", source)
    # every trade row is printed in millions (even HKG's missing one); the ICT share is not mapped
    assert rules_by_row(quarantine) == [(line, "unit_matches_catalogue") for line in (2, 3, 4, 5)]


# --- reference lists ----------------------------------------------------------------------------------------------


def test_indicator_reference_maps_exports_and_imports() -> None:
    indicators = load_indicators(REFERENCE)
    assert list(indicators.columns) == [
        "indicator",
        "flow",
        "classification",
        "category",
        "measure",
        "unit",
        "description",
    ]
    assert indicators[["indicator", "flow", "classification", "category", "measure", "unit"]].values.tolist() == [
        [EXP, "export", "bop", "digitally_deliverable_services", "bop_value", "USD"],
        [IMP, "import", "bop", "digitally_deliverable_services", "bop_value", "USD"],
    ]


def test_area_reference_maps_to_countries_or_to_nothing() -> None:
    areas = load_area_codes(REFERENCE)
    assert list(areas.columns) == ["code", "iso3", "note"]
    assert areas["code"].is_unique
    mapped = areas[areas["iso3"] != ""]
    assert set(mapped["iso3"]) <= known_country_codes(REFERENCE)
    lookup = dict(zip(areas["code"], areas["iso3"], strict=True))
    assert (lookup["WLD"], lookup["SSF"], lookup["OECD"], lookup["EU28"]) == ("WLD", "SSF", "OED", "")


# --- the real Data360 file -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(shared_data: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frame = parse_sdmx_csv(REAL_FILE, source_id=SOURCE_ID).frame
    valid, quarantine = validate(REAL_FILE)
    return frame, valid, quarantine


def test_real_file_parses_every_row(real: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    frame, _, _ = real
    assert parse_sdmx_csv(REAL_FILE, source_id=SOURCE_ID).layout == "data360"
    assert (len(frame), frame["ref_area"].nunique(), frame["indicator"].nunique()) == (8156, 207, 14)
    assert row(frame, ref_area="CHN", indicator=EXP, year=2011)["value"] == pytest.approx(72.874e9)
    assert row(frame, ref_area="CHN", indicator=IMP, year=2011)["value"] == pytest.approx(85.903e9)
    missing = frame[frame["obs_value_text"] == ""]
    assert (len(missing), set(missing["obs_status"])) == (465, {"O"})


def test_real_file_is_valid_row_for_row(real: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    # every REF_AREA is a World Bank code of countries.csv (WLD and SSF are its aggregates); the 465 empty values
    # are flagged missing ('O'); the ICT-use shares are valid unmapped rows: nothing is quarantined
    _, valid, quarantine = real
    assert (len(valid), len(quarantine)) == (8156, 0)


def test_reference_script_reproduces_the_sdmx_lists(shared_data: Path, tmp_path: Path) -> None:
    for name in ("countries.csv", "country_aliases.csv"):
        shutil.copy(REFERENCE / name, tmp_path / name)
    script = PROJECT_ROOT / "scripts" / "build_sdmx_reference.py"
    subprocess.run([sys.executable, str(script), "--shared", str(shared_data), "--out", str(tmp_path)], check=True)
    for name in ("sdmx_indicators.csv", "sdmx_area_codes.csv"):
        assert (tmp_path / name).read_bytes() == (REFERENCE / name).read_bytes(), name


def test_extract_script_reproduces_the_seed_byte_for_byte(shared_data: Path, tmp_path: Path) -> None:
    script = PROJECT_ROOT / "scripts" / "extract_sdmx_oecd.py"
    subprocess.run([sys.executable, str(script), "--shared", str(shared_data), "--out", str(tmp_path)], check=True)
    produced = sorted(p.name for p in (tmp_path / SEED_DIR.name).iterdir())
    assert produced == sorted(p.name for p in SEED_DIR.iterdir())
    for name in produced:
        assert (tmp_path / SEED_DIR.name / name).read_bytes() == (SEED_DIR / name).read_bytes(), name


def test_seed_keeps_the_real_header_exactly(shared_data: Path) -> None:
    assert SEED_FILE.read_bytes().split(b"\n")[0] == REAL_FILE.read_bytes().split(b"\n")[0]


def test_seed_holds_the_trade_indicators_of_eight_areas() -> None:
    frame = parse_sdmx_csv(SEED_FILE, source_id=SOURCE_ID).frame
    assert set(frame["ref_area"]) == SEED_AREAS
    assert set(frame["indicator"]) == {EXP, IMP}
    assert set(frame["year"]) == set(range(2010, 2024))


# --- staging acceptance: seeds -> lake -> warehouse -----------------------------------------------------------------


def load_new_reference(original):  # noqa: ANN001, ANN201 (wraps warehouse.build.builder._load_reference)
    """_load_reference plus the reference lists build.py does not load yet (skipped once it does)."""

    def load(con: duckdb.DuckDBPyConnection, seeds_dir: Path, catalogue: list[Source]) -> None:
        original(con, seeds_dir, catalogue)
        for name in NEW_REFERENCE:
            exists = con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = ?", [f"ref_{name}"]
            ).fetchone()[0]
            if not exists:
                frame = pd.read_csv(seeds_dir / "reference" / f"{name}.csv", dtype=str, keep_default_na=False)
                build._load_frame(con, f"raw.ref_{name}", frame)

    return load


def build_from(home: Path, sources: list[tuple[Source, list[Path]]]) -> Path:
    """Parse, validate and write each source to a lake (with its audit run, as the flow does), then build."""
    run = audit.new_run()
    for source, files in sources:
        payloads = [payload(f, source.id) for f in files]
        frame = parse_payloads(source, payloads)
        valid, quarantine = validate_source(source, frame, context(source))
        assert len(quarantine) == 0
        vintages = write_lake(source, valid, payloads, home / "lake", run.run_id)
        run.results.append(
            SourceResult(
                source_id=source.id,
                dataset=source.dataset,
                status="loaded",
                files=audit.files_of(payloads),
                vintages=vintages,
                rows_read=len(frame),
                rows_valid=len(valid),
                rows_loaded=len(valid),
            )
        )
    run.status, run.message = audit.run_status(run.results)
    run.finished_at = run.started_at
    audit.record_run(run, home / "lake")
    target = home / "tradewh.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "_load_reference", load_new_reference(build._load_reference))
        build.build_warehouse(
            target,
            lake_dir=home / "lake",
            seeds_dir=PROJECT_ROOT / "seeds",
            sql_dir=PROJECT_ROOT / "sql",
            catalogue=[s for s, _ in sources],
            storage_version="v1.2.0",
        )
    return target


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("sdmx-warehouse")
    return build_from(
        home,
        [(make_source(), [SEED_FILE]), (make_source("sdmx_breakdowns", "fixture"), [HERE / "breakdowns.csv"])],
    )


def query(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()


def test_staging_china_2011_digitally_deliverable_services(warehouse_file: Path) -> None:
    china = query(
        warehouse_file,
        f"select * from staging.stg_sdmx_csv where source_id = '{SOURCE_ID}' and reporter = 'CHN' and year = 2011 "
        "order by flow",
    )
    assert china["flow"].tolist() == ["export", "import"]
    assert china["value"].tolist() == [pytest.approx(72.874e9), pytest.approx(85.903e9)]
    first = china.iloc[0]
    assert (first["partner"], first["period"], first["period_type"], first["vintage"]) == (
        "WLD",
        "2011",
        "year",
        "2025-12-18",
    )
    assert (first["classification"], first["category"]) == ("bop", "digitally_deliverable_services")
    assert (first["measure"], first["unit"], first["obs_status"]) == ("bop_value", "USD", "A")
    assert (first["file_name"], first["value_printed"], first["unit_mult"]) == (SEED_FILE.name, 72874.0, 6)
    assert first["file_row"] >= 2


def test_staging_conforms_every_valued_total_and_no_missing_one(warehouse_file: Path) -> None:
    raw = query(warehouse_file, f"select * from raw.sdmx_csv where source_id = '{SOURCE_ID}'")
    staged = query(warehouse_file, f"select * from staging.stg_sdmx_csv where source_id = '{SOURCE_ID}'")
    assert len(raw) == len(parse_sdmx_csv(SEED_FILE, source_id=SOURCE_ID).frame)
    assert len(staged) == int(raw["obs_value"].notna().sum())
    assert staged["value"].notna().all()
    assert set(staged["reporter"]) == SEED_AREAS


def test_staging_keeps_totals_only(warehouse_file: Path) -> None:
    # breakdowns.csv: the total, a SEX = F part, an URBANISATION = U part, a quarter, an ICT share (unmapped)
    raw = query(warehouse_file, "select file_row from raw.sdmx_csv where source_id = 'sdmx_breakdowns'")
    staged = query(warehouse_file, "select * from staging.stg_sdmx_csv where source_id = 'sdmx_breakdowns'")
    assert sorted(raw["file_row"]) == [2, 3, 4, 5, 6]
    assert staged[["reporter", "period", "flow", "file_row"]].values.tolist() == [["IND", "2012", "export", 2]]
    assert staged["value"].tolist() == [pytest.approx(60e9)]


def test_staging_rows_are_conformed_trade_figures(warehouse_file: Path) -> None:
    staged = query(warehouse_file, "select * from staging.stg_sdmx_csv")
    figures = staged.assign(dataset="sdmx_csv", is_derived=False, derivation=None, is_latest_vintage=True)
    TradeFigure.validate(figures, lazy=True)


# --- fuzz ---------------------------------------------------------------------------------------------------------

SMALL = """\
STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION,REF_AREA,Reference area,MEASURE,Measure,UNIT_MEASURE,Unit of measure,\
TIME_PERIOD,Time period,OBS_VALUE,Observation value,OBS_STATUS,Observation status,UNIT_MULT,Unit multiplier
DATAFLOW,X:Y(1.0),"A, B",I,CHN,China,UNCTAD_DE_DIG_SERVTRADE_ANN_EXP,Exports,USD,US dollar,\
2011,,72874.0,,A,Normal,6,Millions
DATAFLOW,X:Y(1.0),"A, B",I,USA,United States,UNCTAD_DE_DIG_SERVTRADE_ANN_IMP,Imports,USD,US dollar,\
2011,,1.5E+5,,A,Normal,6,Millions
"""


def test_fuzz_original_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text(SMALL, encoding="utf-8")
    valid, quarantine = validate(path)
    assert (len(valid), len(quarantine)) == (2, 0)


@pytest.mark.fuzz
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutations(SMALL))
def test_a_mutated_file_raises_only_source_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "small.csv"
    path.write_bytes(text.encode("utf-8"))
    try:
        parse_sdmx_csv(path, source_id=SOURCE_ID)
        valid, quarantine = validate(path)
    except SourceError:
        return
    assert set(valid["file_row"]) & set(quarantine["file_row"]) == set()
