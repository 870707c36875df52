"""Rules for SDMX-CSV observations (dataset ``sdmx_csv``), whichever of the three flavours they came in.

Every row of the file is validated; the rules that depend on the indicator (non_negative, the catalogue's
units) apply to the indicators tradewh maps (``seeds/reference/sdmx_indicators.csv``). An indicator that is
not mapped (UNCTAD's ICT-use shares, say) is a valid raw row that no staging view conforms: refusing it would
put most of a mixed file over the reject threshold for holding data tradewh does not use.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.rules import NUMBER, FrameRule, RunContext, catalogue_unit, known_country, with_column_checks

INDICATORS_FILE = "sdmx_indicators.csv"
AREA_CODES_FILE = "sdmx_area_codes.csv"

# SDMX's CL_OBS_STATUS flags for a missing value (H holiday, L not collected, M cannot exist, O missing,
# Q suppressed): an empty OBS_VALUE under one of them is the publisher saying "no figure", not a broken cell
MISSING_STATUSES = frozenset({"H", "L", "M", "O", "Q"})

FIRST_YEAR, LAST_YEAR = 1960, 2100


class SdmxCsv(pa.DataFrameModel):
    """One row per observation: structure x area x indicator x unit x period x other dimensions x vintage."""

    structure_id: Series[str]
    ref_area: Series[str]
    ref_area_label: Series[str] = pa.Field(nullable=True)
    indicator: Series[str] = pa.Field(str_matches=r"^[A-Za-z0-9_.@-]+$")
    indicator_label: Series[str] = pa.Field(nullable=True)
    unit_measure: Series[str] = pa.Field(nullable=True)
    time_period: Series[str]
    year: Series[int]
    obs_value_text: Series[str]
    obs_value: Series[float] = pa.Field(nullable=True)
    unit_mult: Series[int]
    value: Series[float] = pa.Field(nullable=True)
    obs_status: Series[str] = pa.Field(nullable=True)
    other_dims: Series[str]
    vintage: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    file_row: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False  # provenance columns (source, file name, hash) ride along
        coerce = True
        unique = ["structure_id", "ref_area", "indicator", "unit_measure", "time_period", "other_dims", "vintage"]


def load_indicators(reference_dir: Path) -> pd.DataFrame:
    """The SDMX indicators tradewh maps, with their flow, classification, category, measure and unit."""
    return pd.read_csv(reference_dir / INDICATORS_FILE, dtype=str, keep_default_na=False)


def load_area_codes(reference_dir: Path) -> pd.DataFrame:
    """SDMX area codes and the ISO3 code of ``countries.csv`` each stands for ('' when there is none)."""
    return pd.read_csv(reference_dir / AREA_CODES_FILE, dtype=str, keep_default_na=False)


def known_areas(context: RunContext) -> frozenset[str]:
    """The REF_AREA codes rule 'known_country' accepts: the country dimension and the mapped SDMX codes."""
    areas = load_area_codes(context.reference_dir)
    return context.country_codes | frozenset(areas.loc[areas["iso3"] != "", "code"])


def _value_is_number(df: pd.DataFrame) -> pd.Series:
    number = df["obs_value_text"].str.fullmatch(NUMBER).fillna(False).astype(bool)
    flagged_missing = (df["obs_value_text"] == "") & df["obs_status"].isin(MISSING_STATUSES)
    return number | flagged_missing


def _year_in_range(df: pd.DataFrame) -> pd.Series:
    # year is -1 when TIME_PERIOD is neither YYYY nor YYYY-...: the row is refused naming the period as printed
    return df["year"].between(FIRST_YEAR, LAST_YEAR)


def schema(context: RunContext) -> tuple[pa.DataFrameSchema, list[FrameRule]]:
    """The schema for one run: static rules plus known areas, trade values not negative and catalogue units."""
    indicators = load_indicators(context.reference_dir)
    mapped = indicators["indicator"].tolist()
    full = with_column_checks(SdmxCsv.to_schema(), {"ref_area": [known_country(known_areas(context))]})
    measures = indicators.set_index("indicator")[["measure", "unit"]]

    def with_measure(df: pd.DataFrame) -> pd.DataFrame:
        joined = df[["indicator"]].join(measures, on="indicator").fillna({"measure": "", "unit": ""})
        joined["scale"] = 10.0 ** df["unit_mult"].astype(float)
        return joined

    unit_rule = catalogue_unit(context.source, "measure", "unit", "scale")

    def unit_matches(df: pd.DataFrame) -> pd.Series:
        # a mapped indicator must be printed in the unit the reference gives it (an ISO 4217 code, which SDMX's
        # UNIT_MEASURE uses too) and its measure, unit and 10^UNIT_MULT must be declared by the catalogue
        joined = with_measure(df)
        printed_unit = df["unit_measure"].fillna("") == joined["unit"]
        return ~df["indicator"].isin(mapped) | (printed_unit & unit_rule.test(joined))

    rules = [
        FrameRule("value_is_number", "obs_value_text", _value_is_number),
        FrameRule("year_in_range", "time_period", _year_in_range),
        FrameRule(
            "non_negative",
            "obs_value",
            # every mapped indicator is a gross flow (exports, imports); a missing value is value_is_number's
            lambda df: ~df["indicator"].isin(mapped) | df["obs_value"].isna() | (df["obs_value"] >= 0),
        ),
        FrameRule("unit_matches_catalogue", "unit_measure", unit_matches),
    ]
    return full, rules
