"""Rules for World Bank WDI series (dataset ``wdi``), whichever of the three file layouts they came in."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.rules import NUMBER, FrameRule, RunContext, catalogue_unit, known_country, with_column_checks


class Wdi(pa.DataFrameModel):
    """One row per country x indicator x year x vintage, as published."""

    country_name: Series[str] = pa.Field(nullable=True)
    country_code: Series[str]
    indicator_name: Series[str] = pa.Field(nullable=True)
    indicator_code: Series[str] = pa.Field(str_matches=r"^[A-Z0-9.]+$")
    year: Series[int]
    value_text: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    vintage: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    file_row: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False
        coerce = True
        unique = ["country_code", "indicator_code", "year", "vintage"]

    @pa.check("value_text", name="value_is_number")
    def value_is_number(cls, value_text: Series[str]) -> Series[bool]:
        return value_text.str.fullmatch(NUMBER)

    @pa.check("year", name="year_in_range")
    def year_in_range(cls, year: Series[int]) -> Series[bool]:
        return year.between(1960, 2100)

    @pa.check("value", name="non_negative")
    def non_negative(cls, value: Series[float]) -> Series[bool]:
        # every indicator tradewh maps is a gross flow (exports, imports, receipts, payments)
        return value >= 0


def load_indicators(reference_dir: Path) -> pd.DataFrame:
    """The WDI indicators tradewh maps, with their flow, category, measure and unit."""
    return pd.read_csv(reference_dir / "wdi_indicators.csv", dtype=str, keep_default_na=False)


def _unit_in_name(indicators: pd.DataFrame) -> FrameRule:
    markers = dict(zip(indicators["indicator_code"], indicators["name_marker"], strict=True))

    def test(df: pd.DataFrame) -> pd.Series:
        return pd.Series(
            [
                name is None or pd.isna(name) or markers.get(code, "") in str(name)
                for code, name in zip(df["indicator_code"], df["indicator_name"], strict=True)
            ],
            index=df.index,
        )

    return FrameRule("unit_matches_indicator", "indicator_name", test)


def schema(context: RunContext) -> tuple[pa.DataFrameSchema, list[FrameRule]]:
    """The schema for one run: static rules plus known countries, known indicators and catalogue units."""
    indicators = load_indicators(context.reference_dir)
    known = indicators["indicator_code"].tolist()
    full = with_column_checks(
        Wdi.to_schema(),
        {
            "country_code": [known_country(context.country_codes)],
            "indicator_code": [pa.Check(lambda s: s.isin(known), name="known_indicator")],
        },
    )
    measures = indicators.set_index("indicator_code")

    def with_measure(df: pd.DataFrame) -> pd.DataFrame:
        joined = df[["indicator_code"]].join(measures[["measure", "unit"]], on="indicator_code")
        return joined.fillna({"measure": "", "unit": ""})

    unit_rule = catalogue_unit(context.source, "measure", "unit")
    rules = [
        _unit_in_name(indicators),
        FrameRule(
            "unit_matches_catalogue",
            "indicator_code",
            lambda df: unit_rule.test(with_measure(df)) | ~df["indicator_code"].isin(known),
        ),
    ]
    return full, rules
