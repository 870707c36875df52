"""Tests of the UN Comtrade validation rules, of the Comtrade code list they read, and of the real files."""

from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.comtrade import Comtrade, schema
from schemas.rules import RunContext
from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.common.reference import known_country_codes, load_countries
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.extract.fetch import Payload
from warehouse.stage import parse_payloads, validate_source

HERE = FIXTURES / "comtrade"
REFERENCE = PROJECT_ROOT / "seeds" / "reference"
CODES = REFERENCE / "comtrade_codes.csv"
SCRIPT = PROJECT_ROOT / "scripts" / "build_comtrade_reference.py"
SHARED = PROJECT_ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "comtrade").is_dir() or not (SHARED / "reference").is_dir(),
    reason=f"real UN Comtrade files not found at {SHARED} (CI provides them)",
)

SOURCE_ID = "comtrade_test"
VINTAGE = "2025-01-01"
NAMED_RULES = {
    "known_reporter",
    "known_partner",
    "known_flow",
    "value_is_number",
    "non_negative",
    "year_in_range",
    "duplicate_key",
    "unit_matches_catalogue",
    "known_classification",
    "commodity_code_format",
    "commodity_level",
    "period_matches_year",
    "not_null",
}
KEY_COLUMNS = (
    "classification_version, year, period, reporter_code, partner_code, partner2_code, flow_code, customs_code, "
    "mot_code, commodity_code, vintage"
)

# bad_rows.csv (the plus_api_csv layout): each bad line breaks exactly one rule; lines 2 and 18 are valid
BAD_ROWS_QUARANTINE = [
    (3, "known_reporter", "reporter_code", "999"),  # no such Comtrade code
    (4, "known_partner", "partner_code", "899"),  # 'Areas, nes': a Comtrade code, but no ISO3
    (5, "known_flow", "flow_code", ""),  # flowCode 'DX' is no flow tradewh maps: flow_code is null
    (6, "value_is_number", "value_text", "n/a"),
    (7, "non_negative", "value", "-5.0"),
    (8, "non_negative", "qty", "-1.0"),
    (9, "year_in_range", "year", "1950"),
    (10, "duplicate_key", KEY_COLUMNS, "HS2007, 2011, 2011, 156, 842, 0, 1, C00, 0, 854239, 2025-01-01"),
    (11, "duplicate_key", KEY_COLUMNS, "HS2007, 2011, 2011, 156, 842, 0, 1, C00, 0, 854239, 2025-01-01"),
    (12, "known_classification", "classification", "XX"),
    (13, "commodity_code_format", "commodity_code", "85.42"),
    (14, "period_matches_year", "period", "2012"),  # refYear 2011
    (15, "not_null", "partner2_code", ""),  # partner2Code 'abc': null
    (16, "non_negative", "netweight_kg", "-2.0"),
    (17, "period_matches_year", "period", "201113"),  # month 13
]


def make_source(*measures: MeasureSpec) -> Source:
    return Source(
        id=SOURCE_ID,
        dataset="comtrade",
        publisher="United Nations Statistics Division, UN Comtrade",
        title="test",
        licence="UN Comtrade terms of use",
        attribution="UN Comtrade",
        location_kind="seed",
        location="comtrade_test/*.csv",
        vintage=VINTAGE,
        measures=measures or (MeasureSpec("customs_value", "USD", "USD", (1.0,)),),
    )


def context_for(source: Source) -> RunContext:
    return RunContext(source=source, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)


def payload(path: Path) -> Payload:
    data = path.read_bytes()
    return Payload(SOURCE_ID, path.name, str(path), path, hashlib.sha256(data).hexdigest(), len(data))


def validate(path: Path, source: Source | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    source = source or make_source()
    return validate_source(source, parse_payloads(source, [payload(path)]), context_for(source))


@pytest.fixture(scope="module")
def bad_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    return validate(HERE / "bad_rows.csv")


def codes() -> pd.DataFrame:
    return pd.read_csv(CODES, dtype=str, keep_default_na=False)


# --- each rule quarantines the right row ---------------------------------------------------------------------


def test_each_rule_quarantines_its_row(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = bad_rows
    values = quarantine["value"].replace("<NA>", "")  # a null integer code: shown as '<NA>' or ''
    got = list(zip(quarantine["file_row"], quarantine["rule"], quarantine["column_name"], values, strict=True))
    assert got == BAD_ROWS_QUARANTINE


def test_only_the_good_rows_are_valid(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    valid, quarantine = bad_rows
    assert valid["file_row"].tolist() == [2, 18]
    assert set(valid["file_row"]) & set(quarantine["file_row"]) == set()


def test_quarantine_names_source_file_and_sha(bad_rows: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, quarantine = bad_rows
    sha = hashlib.sha256((HERE / "bad_rows.csv").read_bytes()).hexdigest()
    assert set(quarantine["source_id"]) == {SOURCE_ID}
    assert set(quarantine["file_name"]) == {"bad_rows.csv"}
    assert set(quarantine["file_sha256"]) == {sha}
    assert set(quarantine["rule"]) <= NAMED_RULES


def test_unit_not_declared_in_the_catalogue_quarantines_every_row() -> None:
    source = make_source(MeasureSpec("bop_value", "USD", "USD", (1.0,)))
    valid, quarantine = validate(HERE / "plus_api.csv", source)
    assert valid.empty
    assert set(quarantine["rule"]) == {"unit_matches_catalogue"}
    assert quarantine["file_row"].tolist() == [2, 3, 4, 5, 6]


def test_unit_at_another_scale_is_refused() -> None:
    source = make_source(MeasureSpec("customs_value", "USD", "USD", (1e6,)))
    _, quarantine = validate(HERE / "legacy_api.csv", source)
    assert set(quarantine["rule"]) == {"unit_matches_catalogue"}


@pytest.mark.parametrize("name", ["legacy_api.csv", "legacy_bulk.csv", "plus_api.csv", "plus_api.json"])
def test_good_fixtures_are_wholly_valid(name: str) -> None:
    valid, quarantine = validate(HERE / name)
    assert quarantine.empty, quarantine
    assert set(valid["vintage"]) == {VINTAGE}


def test_breakdown_rows_are_not_duplicates() -> None:
    # the 2015 total and its two second-partner parts differ in partner2_code: all three are valid raw rows
    valid, _ = validate(HERE / "plus_api.csv")
    assert sorted(valid.loc[valid["year"] == 2015, "partner2_code"].tolist()) == [0, 56, 842]


def test_model_has_every_parser_column_and_the_provenance() -> None:
    from warehouse.parse.comtrade import COLUMNS

    columns = list(Comtrade.to_schema().columns)
    assert columns == [*COLUMNS, "source_id", "vintage", "file_name", "file_sha256"]


def test_schema_returns_the_model_and_named_frame_rules() -> None:
    full, rules = schema(context_for(make_source()))
    assert list(full.columns) == list(Comtrade.to_schema().columns)
    assert {r.name for r in rules} == {
        "known_reporter",
        "known_partner",
        "known_flow",
        "known_classification",
        "period_matches_year",
        "commodity_level",
        "unit_matches_catalogue",
        "one_code_per_economy",
    }


def test_two_codes_of_one_economy_are_quarantined_not_a_failed_build(tmp_path: Path) -> None:
    # 840 and 842 are both the USA: the same trade under both codes would be two figures of one conformed key
    lines = (FIXTURES / "comtrade" / "plus_api.csv").read_text().splitlines(keepends=True)
    twin = lines[1].replace(",M,,842,", ",M,,840,", 1)
    assert twin != lines[1]
    path = tmp_path / "plus_api.csv"
    path.write_text("".join([lines[0], lines[1], twin]))
    valid, quarantine = validate(path)
    assert len(valid) == 0
    assert quarantine[["file_row", "rule", "value"]].values.tolist() == [
        [2, "one_code_per_economy", "842"],
        [3, "one_code_per_economy", "840"],
    ]


# --- the Comtrade code list --------------------------------------------------------------------------------------


def test_codes_columns_and_unique_codes() -> None:
    frame = codes()
    assert list(frame.columns) == ["code", "iso3", "name", "is_aggregate", "note"]
    assert frame["code"].is_unique
    assert frame["code"].str.fullmatch(r"\d+").all()
    assert frame["code"].astype(int).is_monotonic_increasing
    assert set(frame["is_aggregate"]) == {"true", "false"}


@pytest.mark.parametrize(
    ("code", "iso3", "words"),
    [
        ("156", "CHN", ""),
        ("842", "USA", "Puerto Rico"),
        ("840", "USA", ""),
        ("0", "WLD", "World"),
        ("344", "HKG", ""),
        ("699", "IND", "356"),
        ("276", "DEU", ""),
        ("392", "JPN", ""),
        ("410", "KOR", ""),
        ("412", "XKX", "_KS"),
        ("381", "ITA", "legacy Comtrade country list only, valid 1962-2061"),  # legacy API and bulk files use it
        ("380", "ITA", ""),
        ("490", "", "Taiwan"),
        ("97", "", "EUU"),
        ("899", "", "no ISO3"),
    ],
)
def test_known_codes(code: str, iso3: str, words: str) -> None:
    row = codes().set_index("code").loc[code]
    assert row["iso3"] == iso3
    assert words in row["note"]


def test_every_iso3_is_a_country_and_every_unmapped_code_says_why() -> None:
    frame = codes()
    countries = set(load_countries(REFERENCE)["iso3"])
    assert set(frame.loc[frame["iso3"] != "", "iso3"]) <= countries
    assert (frame.loc[frame["iso3"] == "", "note"] != "").all()


def test_codes_file_is_lf_utf8_without_bom() -> None:
    data = CODES.read_bytes()
    assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")
    data.decode("utf-8")


@needs_shared
def test_rerun_reproduces_the_codes_byte_for_byte(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--shared", str(SHARED), "--out", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comtrade_codes.csv"]
    assert (tmp_path / "comtrade_codes.csv").read_bytes() == CODES.read_bytes()


@needs_shared
def test_every_code_of_the_current_and_legacy_lists_is_a_row() -> None:
    """Every reporter and partner code of the current API's lists, and every code of the legacy country list
    (historical codes included: 381 Italy, 58 Belgium-Luxembourg), is a row; and no row comes from elsewhere."""
    listed = set()
    for name, column in (
        ("comtrade_plus_partners.csv", "PartnerCode"),
        ("comtrade_plus_reporters.csv", "reporterCode"),
    ):
        listed |= set(pd.read_csv(SHARED / "reference" / name, dtype=str, keep_default_na=False)[column])
    # the legacy list is malformed (unquoted commas in names): its code is the first field of each line
    legacy_lines = (SHARED / "reference" / "comtrade_country_codes.csv").read_text(encoding="utf-8").splitlines()
    legacy = {line.split(",", 1)[0] for line in legacy_lines[1:] if line.strip()}
    assert {"381", "58", "890"} <= legacy
    assert listed | legacy == set(codes()["code"])


@needs_shared
def test_every_reporter_the_publisher_maps_to_an_iso3_is_known() -> None:
    """A reporter whose ISO3 the publisher states, and the project's countries have, passes known_reporter."""
    countries = set(load_countries(REFERENCE)["iso3"])
    reporters = pd.read_csv(SHARED / "reference" / "comtrade_plus_reporters.csv", dtype=str, keep_default_na=False)
    stated = reporters[reporters["reporterCodeIsoAlpha3"].str.strip().isin(countries)]
    mapped = set(codes().loc[codes()["iso3"] != "", "code"])
    assert len(stated) > 200
    assert set(stated["reporterCode"]) <= mapped


# --- the real files ----------------------------------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("legacy_api_CHN_5partners_S4_2digit_2010_2014.csv", 3184),
        ("legacy_bulk_IND_CHN_H3_2010.csv", 8739),
        ("plus_api_CHN_M_USA_HS8542_2010_2024.csv", 173),
    ],
)
def test_real_files_are_wholly_valid_and_why(name: str, rows: int) -> None:
    valid, quarantine = validate(SHARED / "comtrade" / name)
    # Whatever a real file has refused must be refused by a named rule ...
    assert set(quarantine["rule"]) <= NAMED_RULES
    # ... and these three refuse nothing, rightly: every reporter and partner (156 China, 699 India; 842 USA,
    # 276, 392, 344, 410, 156) is a Comtrade code with an ISO3; flows are 1 and 2 (M in the plus file); every
    # value is a plain non-negative number; the classifications are S4, H3, H4, H5, H6; and the plus file's
    # 2015-2017 rows by second partner are not duplicates of the year's total (their partner2_code differs):
    # they are valid raw rows, which the staging view leaves out of its figures.
    assert quarantine.empty, quarantine.head(20).to_string()
    assert len(valid) == rows
    known = set(codes().loc[codes()["iso3"] != "", "code"].astype(int))
    assert set(valid["reporter_code"]) | set(valid["partner_code"]) <= known
    assert set(valid["flow_code"]) <= {1, 2}


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([840, 842, 841, 56, 58, 4, 8]),  # shared codes (the USA's, Belgium's) and others
            st.sampled_from([842, 840, 0, 251, 250, 8]),
            st.sampled_from(["2020", "2021"]),
            st.sampled_from([1, 2]),
            st.sampled_from(["01", "0101"]),
        ),
        max_size=40,
    )
)
def test_the_cross_batch_query_finds_what_the_in_memory_rule_finds(rows: list[tuple]) -> None:
    """Rule one_code_per_economy two ways: the query a load in batches runs over all staged rows (by the key's
    hash first, then the key) and the rule a frame validated in memory runs: the same rows, on any mix of shared
    codes (840/842 both the USA), keys and repeats."""
    from schemas.comtrade import CONFORMED_KEY

    frame = pd.DataFrame(
        {
            "source_id": "t",
            "file_name": "f.csv",
            "file_sha256": "0" * 64,
            "file_row": range(2, len(rows) + 2),
            "classification_version": "HS2017",
            "year": 2020,
            "period": [r[2] for r in rows],
            "reporter_code": [r[0] for r in rows],
            "partner_code": [r[1] for r in rows],
            "partner2_code": 0,
            "flow_code": [r[3] for r in rows],
            "customs_code": "C00",
            "mot_code": "0",
            "commodity_code": [r[4] for r in rows],
            "vintage": "2024-01-01",
        }
    ).astype({"reporter_code": "int64", "partner_code": "int64"})
    assert set(CONFORMED_KEY) <= set(frame.columns)
    rule, query, con = _one_code_per_economy_both_ways()
    in_memory = set(frame.loc[~rule.test(frame), "file_row"])
    con.register("staged", frame)
    by_query = {row for (row,) in con.execute(f"select file_row from ({query})").fetchall()}
    assert by_query == in_memory


@functools.cache
def _one_code_per_economy_both_ways() -> tuple:
    """The rule in memory, its cross-batch query and a DuckDB connection, made once for the examples."""
    import duckdb

    from schemas.comtrade import _one_code_per_economy, cross_batch_rules, load_codes

    codes = load_codes(REFERENCE)
    iso3_of = {int(code): iso3 for code, iso3 in zip(codes["code"], codes["iso3"], strict=True) if iso3}
    ((_, _, query),) = cross_batch_rules(context_for(make_source()))
    return _one_code_per_economy(iso3_of), query, duckdb.connect()
