"""The World Bank API v2 JSON layout of the wdi dataset: pages, missing values, errors, release date."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from warehouse.common.errors import SourceError
from warehouse.parse.wdi import parse_wdi

HERE = FIXTURES / "wdi_api"


def test_every_page_gives_the_rows_and_the_release_date():
    parsed = parse_wdi(HERE / "all_pages.json", source_id="wdi_current")
    assert parsed.layout == "api_v2_json"
    assert parsed.vintage == "2026-02-24"
    rows = parsed.frame.to_dict("records")
    assert [(r["country_code"], r["indicator_code"], r["year"], r["value"], r["file_row"]) for r in rows] == [
        ("CHN", "BX.GSR.ROYL.CD", 2011, 743301698.0, 1),
        ("CHN", "BX.GSR.ROYL.CD", 2010, 830484143.5, 2),
    ]  # 2009 is null in the answer: missing, so no row (never a zero)
    assert rows[0]["value_text"] == "743301698"
    assert rows[0]["indicator_name"].startswith("Charges for the use of intellectual property")


def test_a_page_missing_is_refused():
    with pytest.raises(SourceError) as info:
        parse_wdi(HERE / "page1.json", source_id="wdi_current")
    assert info.value.rule == "incomplete_pages"
    assert "pages [1] of 2" in str(info.value)


def test_the_api_error_document_is_an_error_naming_the_message():
    with pytest.raises(SourceError) as info:
        parse_wdi(HERE / "error.json", source_id="wdi_current")
    assert info.value.rule == "api_error"
    assert "The provided parameter value is not valid" in str(info.value)


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ('[{"page":1,"pages":1,"total":1},[{"date":"2011"', "json_syntax"),
        ('[{"foo": 1}, []]', "unknown_layout"),
        ('[{"page":1,"pages":1,"total":1,"lastupdated":"24/02/2026"},[]]', "incomplete_pages"),
        (
            '[{"page":1,"pages":1,"total":1,"lastupdated":"2026-02-24"},'
            '[{"indicator":{"id":"X"},"country":{"value":"C"},"countryiso3code":"CHN","date":"2011Q1","value":1}]]',
            "year_not_integer",
        ),
    ],
)
def test_malformed_answers_are_refused_by_rule(tmp_path: Path, body: str, rule: str):
    path = tmp_path / "answer.json"
    path.write_text(body)
    with pytest.raises(SourceError) as info:
        parse_wdi(path, source_id="wdi_current")
    assert info.value.rule == rule


def test_text_values_are_kept_for_the_quarantine(tmp_path: Path):
    path = tmp_path / "answer.json"
    path.write_text(
        '[{"page":1,"pages":1,"total":1,"lastupdated":"2026-02-24"},[{"indicator":{"id":"BX.GSR.ROYL.CD"},'
        '"country":{"value":"China"},"countryiso3code":"CHN","date":"2011","value":"n/a"}]]'
    )
    row = parse_wdi(path, source_id="wdi_current").frame.iloc[0]
    assert row["value_text"] == "n/a" and math.isnan(row["value"])
