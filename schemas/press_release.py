"""Rules for curated press-release figures (dataset ``press_release``)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.rules import NUMBER, FrameRule, RunContext, catalogue_unit, known_country, with_column_checks

FLOWS = ["export", "import", "re_export", "re_import", "total", "balance"]
SIGNED_MEASURES = {"growth_yoy", "growth_yoy_expected", "growth_target"}


class PressRelease(pa.DataFrameModel):
    """One row per figure printed in a release, with its quote."""

    figure_id: Series[str] = pa.Field(str_matches=r"^[a-z0-9_]+$", unique=True)
    role: Series[str] = pa.Field(isin=["figure", "restatement"])
    quote: Series[str] = pa.Field(str_length={"min_value": 10})
    reporter: Series[str]
    partner: Series[str]
    period: Series[str] = pa.Field(str_matches=r"^\d{4}(-\d{2}\.\.\d{2})?$")
    period_type: Series[str] = pa.Field(isin=["year", "ytd", "recent_years"])
    flow: Series[str] = pa.Field(isin=FLOWS)
    classification: Series[str] = pa.Field(str_matches=r"^[a-z0-9_]+$")
    category: Series[str] = pa.Field(str_matches=r"^[a-z0-9_]+$")
    measure: Series[str]
    unit: Series[str]
    value_printed: Series[str] = pa.Field(str_matches=r"^\d+(\.\d+)?$")
    value_text: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    scale: Series[float] = pa.Field(nullable=True, gt=0)
    comparator: Series[str] = pa.Field(isin=["=", "~", ">", "<", ">=", "<="])
    num_measure: Series[str]
    base_reporter: Series[str]
    base_classification: Series[str]
    base_category: Series[str]
    base_measure: Series[str]
    note: Series[str]
    print_unit: Series[float] = pa.Field(nullable=True)
    file_row: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False  # provenance columns (file name, hash, vintage) ride along
        coerce = True

    @pa.check("period", name="year_in_range")
    def year_in_range(cls, period: Series[str]) -> Series[bool]:
        return period.str.slice(0, 4).astype(int).between(1900, 2100)

    @pa.check("value_text", name="value_is_number")
    def value_is_number(cls, value_text: Series[str]) -> Series[bool]:
        # the parser turned what is a plain number into `value`; anything else stays text and is refused here
        return value_text.str.fullmatch(NUMBER)


def _figure_key_unique(df: pd.DataFrame) -> pd.Series:
    key = ["reporter", "partner", "period", "flow", "classification", "category", "measure", "vintage"]
    figures = df["role"] == "figure"
    dup = df[figures].duplicated(key, keep=False).reindex(df.index, fill_value=False)
    return ~dup


def _non_negative(df: pd.DataFrame) -> pd.Series:
    signed = (df["flow"] == "balance") | df["measure"].isin(SIGNED_MEASURES)
    return signed | (df["value"] >= 0)


def _value_matches_print(df: pd.DataFrame) -> pd.Series:
    printed = pd.to_numeric(df["value_printed"], errors="coerce")
    return (df["value"].abs() - printed).abs() < 1e-9


def _share_has_base(df: pd.DataFrame) -> pd.Series:
    is_share = df["measure"] == "share"
    has_base = (df["base_reporter"] != "") & (df["base_category"] != "") & (df["base_measure"] != "")
    return ~is_share | has_base


def schema(context: RunContext) -> tuple[pa.DataFrameSchema, list[FrameRule]]:
    """The schema for one run: static rules plus the country dimension and the catalogue's units."""
    codes = context.country_codes
    full = with_column_checks(
        PressRelease.to_schema(),
        {
            "reporter": [known_country(codes)],
            "partner": [known_country(codes)],
            "base_reporter": [known_country(codes, optional=True)],
        },
    )
    rules = [
        FrameRule("non_negative", "value", _non_negative),
        FrameRule("duplicate_key", "figure_id", _figure_key_unique),
        FrameRule("value_matches_print", "value", _value_matches_print),
        FrameRule("share_has_base", "base_category", _share_has_base),
        catalogue_unit(context.source, "measure", "unit", "scale"),
    ]
    return full, rules
