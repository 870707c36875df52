"""Tests of the UN Comtrade parser: the four layouts, codes kept as text, breakdown rows, file-level errors, and
the real publishers' files."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.common.errors import SourceError
from warehouse.parse.comtrade import COLUMNS, parse_comtrade

HERE = FIXTURES / "comtrade"
COMTRADE = PROJECT_ROOT.parent / "shared" / "data" / "comtrade"
needs_shared = pytest.mark.skipif(
    not COMTRADE.is_dir(), reason=f"real UN Comtrade files not found at {COMTRADE} (CI provides them)"
)

KEY = ["year", "period", "reporter_code", "partner_code", "partner2_code", "flow_code", "customs_code", "mot_code"]


def parse(name: str) -> pd.DataFrame:
    return parse_comtrade(HERE / name, source_id="test").frame


def records(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    """The frame's rows as plain tuples of the given columns (NA as None)."""
    out = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), None)
    return [tuple(row) for row in out.itertuples(index=False)]


# --- every layout ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        ("legacy_api.csv", "legacy_api"),
        ("legacy_bulk.csv", "legacy_bulk"),
        ("plus_api.csv", "plus_api_csv"),
        ("plus_api.json", "plus_api_json"),
    ],
)
def test_layout_is_recognised_and_columns_are_exact(name: str, layout: str) -> None:
    parsed = parse_comtrade(HERE / name, source_id="test")
    assert (parsed.layout, parsed.vintage) == (layout, None)
    assert tuple(parsed.frame.columns) == COLUMNS
    assert set(parsed.frame["layout"]) == {layout}
    dtypes = {c: str(t) for c, t in parsed.frame.dtypes.items()}
    assert {dtypes[c] for c in ("year", "file_row")} == {"int64"}
    assert {dtypes[c] for c in ("reporter_code", "partner_code", "partner2_code", "flow_code")} == {"Int64"}
    assert (dtypes["aggregate_level"], dtypes["is_leaf"]) == ("Int64", "boolean")
    assert {dtypes[c] for c in ("qty", "netweight_kg", "value")} == {"float64"}


def test_layout_does_not_depend_on_the_file_name(tmp_path: Path) -> None:
    renamed = tmp_path / "legacy_bulk.csv"
    renamed.write_bytes((HERE / "plus_api.csv").read_bytes())
    assert parse_comtrade(renamed, source_id="test").layout == "plus_api_csv"


def test_legacy_api_rows() -> None:
    frame = parse("legacy_api.csv")
    assert records(frame, *KEY, "commodity_code", "value_text", "file_row") == [
        (2011, "2011", 156, 842, 0, 1, "C00", "0", "00", "2062530", 2),
        (2011, "2011", 156, 842, 0, 2, "C00", "0", "00", "590391", 3),
        (2011, "2011", 156, 842, 0, 2, "C00", "0", "07", "379413479", 4),
        (2011, "2011", 156, 842, 344, 2, "C01", "0", "07", "1000", 5),
        (2011, "2011", 156, 842, 0, 2, "C00", "0", "TOTAL", "325010988000", 6),
    ]
    assert set(frame["classification"]) == {"S4"}
    assert set(frame["classification_version"]) == {"SITC4"}
    assert frame["aggregate_level"].tolist() == [2, 2, 2, 2, 0]
    assert frame["is_leaf"].tolist() == [False] * 5
    assert frame["value"].tolist() == [2062530.0, 590391.0, 379413479.0, 1000.0, 325010988000.0]
    assert frame["qty"].iloc[2] == 12.5 and math.isnan(frame["qty"].iloc[0])
    assert frame["netweight_kg"].iloc[2] == 1000.0 and math.isnan(frame["netweight_kg"].iloc[0])
    assert set(frame["flag"]) == {"0"} and set(frame["qty_unit_code"]) == {"1"}


def test_legacy_bulk_rows() -> None:
    frame = parse("legacy_bulk.csv")
    assert records(frame, *KEY, "commodity_code", "aggregate_level", "value_text", "file_row") == [
        (2010, "2010", 699, 156, 0, 2, "C00", "0", "010619", 6, "109", 2),
        (2010, "2010", 699, 156, 0, 1, "C00", "0", "010690", 6, "453360", 3),
        (2010, "2010", 699, 156, 0, 2, "C00", "0", "01", 2, "109", 4),
        (2010, "2010", 699, 156, 0, 2, "C00", "0", "0106", 4, "109", 5),
        (2010, "2010", 699, 156, 0, 2, "C00", "0", "TOTAL", 0, "17439991000", 6),
    ]
    assert (set(frame["classification"]), set(frame["classification_version"])) == ({"H3"}, {"HS2007"})
    assert frame["is_leaf"].isna().all()  # the bulk layout does not say
    assert frame["qty"].iloc[1] == 514.0 and math.isnan(frame["qty"].iloc[0])
    assert frame["flag"].tolist() == ["4", "0", "4", "4", "0"]


def test_plus_api_csv_rows() -> None:
    frame = parse("plus_api.csv")
    assert records(frame, *KEY, "classification", "classification_version", "value_text", "file_row") == [
        (2011, "2011", 156, 842, 0, 1, "C00", "0", "H3", "HS2007", "6368050147.0", 2),
        (2015, "2015", 156, 842, 0, 1, "C00", "0", "H4", "HS2012", "11369627000.0", 3),
        (2015, "2015", 156, 842, 842, 1, "C00", "0", "H4", "HS2012", "4499808855.0", 4),
        (2015, "2015", 156, 842, 56, 1, "C00", "0", "H4", "HS2012", "6869818145.0", 5),
        (2022, "2022", 156, 842, 0, 2, "C00", "0", "H6", "HS2022", "1.2E+9", 6),
    ]
    assert frame["value"].iloc[4] == 1.2e9
    assert frame["aggregate_level"].tolist() == [4] * 5  # aggrLevel is empty in this layout: from the code
    assert frame["qty_unit_code"].tolist() == ["-1", "-1", "-1", "-1", "5"]
    assert frame["qty"].iloc[4] == 45343.123 and math.isnan(frame["netweight_kg"].iloc[4])


def test_plus_api_json_rows_are_numbered_from_one() -> None:
    frame = parse("plus_api.json")
    assert records(frame, *KEY, "commodity_code", "aggregate_level", "value_text", "file_row") == [
        (2011, "201103", 156, 842, 0, 1, "C00", "0", "854231", 6, "512345678.0", 1),
        (2011, "201103", 156, 842, 0, 3, "C00", "0", "854231", 6, "1000.0", 2),
        (2011, "201103", 156, 0, 0, 1, "C00", "0", "TOTAL", 0, "150000000000.0", 3),
    ]
    assert frame["netweight_kg"].iloc[0] == 1234.5 and math.isnan(frame["netweight_kg"].iloc[2])
    assert frame["qty_unit_code"].tolist() == ["-1", "-1", "-1"]  # a JSON number, as its text


def test_plus_api_flow_letters_map_to_legacy_codes(tmp_path: Path) -> None:
    text = (HERE / "plus_api.csv").read_text()
    header, first = text.splitlines()[:2]
    letters = ["X", "M", "RX", "RM"]
    rows = [
        first.replace(",M,", f",{letter},", 1).replace(",8542,", f",854{i},", 1) for i, letter in enumerate(letters)
    ]
    path = tmp_path / "flows.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    assert parse_comtrade(path, source_id="test").frame["flow_code"].tolist() == [2, 1, 3, 4]


# --- codes as published ----------------------------------------------------------------------------------------


def test_commodity_codes_keep_their_leading_zeros() -> None:
    assert parse("legacy_api.csv")["commodity_code"].tolist()[:2] == ["00", "00"]
    assert parse("legacy_bulk.csv")["commodity_code"].tolist()[:4] == ["010619", "010690", "01", "0106"]


def test_mot_code_with_a_trailing_space_is_stripped() -> None:
    # legacy_api row 5 and plus_api rows 3-5 print '0 '; the JSON's first record prints "0 " as text
    assert set(parse("legacy_api.csv")["mot_code"]) == {"0"}
    assert set(parse("plus_api.csv")["mot_code"]) == {"0"}
    assert parse("plus_api.json")["mot_code"].tolist() == ["0", "0", "0"]
    assert "0 ," in (HERE / "plus_api.csv").read_text()


def test_partner2_breakdown_rows_are_parsed_not_dropped() -> None:
    frame = parse("plus_api.csv")
    year = frame[frame["year"] == 2015]
    assert sorted(year["partner2_code"].tolist()) == [0, 56, 842]
    total = year.loc[year["partner2_code"] == 0, "value"].sum()
    assert year.loc[year["partner2_code"] != 0, "value"].sum() == total  # the parts sum to the total row


def test_absent_breakdown_columns_take_the_total_codes() -> None:
    frame = parse("legacy_api.csv")
    assert records(frame.iloc[:1], "partner2_code", "customs_code", "mot_code") == [(0, "C00", "0")]


def test_unknown_flow_letter_and_text_value_are_kept_for_validation() -> None:
    frame = parse("bad_rows.csv")
    dx = frame[frame["file_row"] == 5]
    assert dx["flow_code"].isna().all()
    text = frame[frame["file_row"] == 6]
    assert text["value_text"].tolist() == ["n/a"] and text["value"].isna().all()
    assert frame[frame["file_row"] == 15]["partner2_code"].isna().all()  # 'abc'


def test_a_flow_code_outside_1_to_4_is_kept(tmp_path: Path) -> None:
    text = (HERE / "legacy_api.csv").read_text(encoding="utf-8")
    path = tmp_path / "flow5.csv"
    path.write_bytes(text.replace("2011,2,0,1,Import", "2011,2,0,5,Import", 1).encode("utf-8"))
    assert parse_comtrade(path, source_id="test").frame["flow_code"].tolist()[0] == 5


def test_crlf_and_quoted_commas_do_not_shift_columns() -> None:
    frame = parse("legacy_api.csv")
    assert frame["value_text"].iloc[2] == "379413479"  # 'Coffee, tea, ...' is one quoted field


# --- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule", "row", "words"),
    [
        ("unknown_layout.csv", "unknown_layout", 1, "the nearest is legacy_bulk"),
        ("missing_column.csv", "missing_column", 1, "'Flag'"),
        ("header_only.csv", "no_rows", None, "no data rows"),
        ("field_count.csv", "field_count", 3, "48 fields"),
        ("year_text.csv", "year_not_integer", 3, "'2O12'"),
        ("count_mismatch.json", "row_count", None, "'count' is 5"),
        ("not_comtrade.json", "unknown_layout", None, "expected one of: legacy_api"),
        ("truncated.json", "json_syntax", None, "not valid JSON"),
        ("empty_data.json", "no_rows", None, "no data records"),
        ("missing_key.json", "missing_column", 1, "'primaryValue'"),
        ("page.html", "html_not_csv", None, "HTML"),
        ("empty.csv", "empty_file", None, "empty"),
        ("not_utf8.csv", "encoding", 2, "not UTF-8"),
    ],
)
def test_errors_name_the_rule_the_file_and_the_row(name: str, rule: str, row: int | None, words: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_comtrade(HERE / name, source_id="comtrade_test")
    err = caught.value
    assert (err.rule, err.row, err.source_id) == (rule, row, "comtrade_test")
    assert err.file.endswith(name)
    assert words in str(err)


def test_unknown_layout_names_every_expected_layout() -> None:
    with pytest.raises(SourceError, match="unknown_layout") as caught:
        parse_comtrade(HERE / "unknown_layout.csv", source_id="test")
    layouts = ("legacy_api", "legacy_api_machine", "legacy_api_json", "legacy_bulk", "plus_api_csv", "plus_api_json")
    for layout in layouts:
        assert layout in str(caught.value)
    assert "Trade Value (US$)" in str(caught.value) and "primaryValue" in str(caught.value)


# --- the real publishers' files --------------------------------------------------------------------------------


@needs_shared
def test_real_legacy_api_file() -> None:
    parsed = parse_comtrade(COMTRADE / "legacy_api_CHN_5partners_S4_2digit_2010_2014.csv", source_id="real")
    frame = parsed.frame
    assert (parsed.layout, len(frame)) == ("legacy_api", 3184)
    assert frame["file_row"].tolist() == list(range(2, 3186))
    assert set(frame["partner_code"]) == {842, 276, 392, 344, 410}
    assert "00" in set(frame["commodity_code"]) and set(frame["aggregate_level"]) == {2}
    usa_2011 = frame[(frame["partner_code"] == 842) & (frame["year"] == 2011)]
    assert round(usa_2011.loc[usa_2011["flow_code"] == 2, "value"].sum() / 1e9, 1) == 325.0
    assert round(usa_2011.loc[usa_2011["flow_code"] == 1, "value"].sum() / 1e9, 1) == 123.1


@needs_shared
def test_real_legacy_bulk_file_has_every_level_summing_to_the_total() -> None:
    parsed = parse_comtrade(COMTRADE / "legacy_bulk_IND_CHN_H3_2010.csv", source_id="real")
    frame = parsed.frame
    assert (parsed.layout, len(frame)) == ("legacy_bulk", 8739)
    assert frame["commodity_code"].iloc[0] == "010619"
    by_level = frame.groupby(["flow_code", "aggregate_level"])["value"].sum().unstack()
    assert sorted(by_level.columns) == [0, 2, 4, 6]  # 0 = TOTAL
    for flow in (1, 2):
        totals = by_level.loc[flow]
        # each level sums to the TOTAL row up to a few US$ of rounding in the published values
        assert all(abs(totals[level] - totals[0]) < 100 for level in (2, 4, 6)), totals


@needs_shared
def test_real_plus_api_file() -> None:
    parsed = parse_comtrade(COMTRADE / "plus_api_CHN_M_USA_HS8542_2010_2024.csv", source_id="real")
    frame = parsed.frame
    assert (parsed.layout, len(frame)) == ("plus_api_csv", 173)
    assert set(frame["mot_code"]) == {"0"}
    totals = frame[frame["partner2_code"] == 0]
    assert totals["year"].tolist() == list(range(2010, 2025))
    assert totals.set_index("year").loc[2011, "value"] == 6368050147.0
    assert frame.groupby("year").size().loc[[2015, 2016, 2017]].tolist() == [54, 53, 54]
    assert frame["classification_version"].drop_duplicates().tolist() == ["HS2007", "HS2012", "HS2017", "HS2022"]


# --- fuzz ------------------------------------------------------------------------------------------------------

INSERTS = list(',;"\n\r<{}[]0-9 \x00é')


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """One of the good fixtures after one to three random edits."""
    name = draw(st.sampled_from(["legacy_api.csv", "legacy_bulk.csv", "plus_api.csv", "plus_api.json"]))
    text = (HERE / name).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate_line", "truncate"]))
        if kind == "delete" and text:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + text[at + 1 :]
        elif kind == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(INSERTS)) * draw(st.integers(1, 12)) + text[at:]
        elif kind == "duplicate_line" and text:
            lines = text.splitlines(keepends=True)
            at = draw(st.integers(0, len(lines) - 1))
            text = "".join([*lines[: at + 1], *lines[at:]])
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
    return text.encode("utf-8")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated())
def test_a_mutated_file_parses_or_raises_source_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.txt"
    path.write_bytes(data)
    try:
        frame = parse_comtrade(path, source_id="fuzz").frame
    except SourceError:
        return
    assert tuple(frame.columns) == COLUMNS
    assert (frame["file_row"] >= 1).all()
