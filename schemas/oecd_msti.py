"""Rules for OECD Main Science and Technology Indicators, R-pivoted by country (dataset ``oecd_msti``).

Every value of the file is validated. The rules that depend on the variable (the catalogue's units, values not
negative) apply to the variables ``staging.stg_oecd_msti`` conforms (``CONFORMED``); the file's other
variables (R&D spending, researchers, growth rates that can be negative, ...) are valid raw rows no view uses.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.rules import NUMBER, FrameRule, RunContext, catalogue_unit, known_country, with_column_checks
from warehouse.parse.oecd_msti import POWER_CODES

COUNTRY_NAMES_FILE = "oecd_country_names.csv"

# The variables sql/staging/stg_oecd_msti.sql conforms (keep both in step; tests/test_oecd_msti.py checks it):
# variable -> (flow, the Unit OECD prints, measure, unit)
CONFORMED: dict[str, tuple[str, str, str, str]] = {
    "TBP_RUSD": ("export", "US Dollar", "technology_bop_value", "USD"),
    "TBP_PUSD": ("import", "US Dollar", "technology_bop_value", "USD"),
}

FIRST_YEAR, LAST_YEAR = 1960, 2100


class OecdMsti(pa.DataFrameModel):
    """One row per variable x country x year x vintage, as printed (value scaled by its PowerCode)."""

    year: Series[int]
    msti_var: Series[str] = pa.Field(str_matches=r"^[A-Z0-9_-]+$")
    description: Series[str]
    unit: Series[str]
    power_code: Series[str]
    country_name: Series[str]
    value_text: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    vintage: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    file_row: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False  # provenance columns (source, file name, hash) ride along
        coerce = True
        unique = ["year", "msti_var", "country_name", "vintage"]

    @pa.check("value_text", name="value_is_number")
    def value_is_number(cls, value_text: Series[str]) -> Series[bool]:
        return value_text.str.fullmatch(NUMBER)

    @pa.check("power_code", name="known_power_code")
    def known_power_code(cls, power_code: Series[str]) -> Series[bool]:
        return power_code.isin(list(POWER_CODES))

    @pa.check("year", name="year_in_range")
    def year_in_range(cls, year: Series[int]) -> Series[bool]:
        return year.between(FIRST_YEAR, LAST_YEAR)


def load_country_names(reference_dir: Path) -> pd.DataFrame:
    """The MSTI country column names and their ISO3 codes (names without one are not listed)."""
    return pd.read_csv(reference_dir / COUNTRY_NAMES_FILE, dtype=str, keep_default_na=False)


def schema(context: RunContext) -> tuple[pa.DataFrameSchema, list[FrameRule]]:
    """The schema for one run: static rules plus known countries and, for conformed variables, catalogue units."""
    names = load_country_names(context.reference_dir)
    known = frozenset(names.loc[names["iso3"].isin(context.country_codes), "country_name"])
    full = with_column_checks(OecdMsti.to_schema(), {"country_name": [known_country(known)]})
    conformed = list(CONFORMED)

    def with_measure(df: pd.DataFrame) -> pd.DataFrame:
        spec = df["msti_var"].map(CONFORMED)
        return pd.DataFrame(
            {
                "printed_unit": spec.map(lambda s: s[1] if isinstance(s, tuple) else ""),
                "measure": spec.map(lambda s: s[2] if isinstance(s, tuple) else ""),
                "unit": spec.map(lambda s: s[3] if isinstance(s, tuple) else ""),
                "scale": df["power_code"].map(POWER_CODES).fillna(0.0),
            },
            index=df.index,
        )

    unit_rule = catalogue_unit(context.source, "measure", "unit", "scale")

    def unit_matches(df: pd.DataFrame) -> pd.Series:
        # a conformed variable must be printed in the Unit expected of it, and its measure, unit and PowerCode
        # scale must be declared by the catalogue (an unknown PowerCode is known_power_code's to refuse)
        joined = with_measure(df)
        matches = (df["unit"] == joined["printed_unit"]) & unit_rule.test(joined)
        return ~df["msti_var"].isin(conformed) | ~df["power_code"].isin(list(POWER_CODES)) | matches

    rules = [
        FrameRule("unit_matches_catalogue", "unit", unit_matches),
        FrameRule(
            "non_negative",
            "value_text",
            # receipts and payments are gross flows; a value that is not a number is value_is_number's
            lambda df: ~df["msti_var"].isin(conformed) | df["value"].isna() | (df["value"] >= 0),
        ),
    ]
    return full, rules
