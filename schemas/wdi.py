"""Rules for World Bank WDI series (dataset ``wdi``), whichever of the three file layouts they came in."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.rules import NUMBER, FrameRule, RunContext, catalogue_unit, known_country, with_column_checks
from warehouse.extract.catalogue import Source, indicator_lines


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


log = logging.getLogger("warehouse.stage.rules")  # a warehouse logger: the run's log file and console show it


def load_indicators(reference_dir: Path, sources: Iterable[Source] = ()) -> pd.DataFrame:
    """The WDI indicators tradewh maps, with their flow, category, measure and unit: the shipped list
    (``wdi_indicators.csv``), extended by the ``[[source.indicators]]`` of the given catalogue entries.

    Args:
        reference_dir: the folder of reference lists.
        sources: the entries whose declared indicators extend the list (the catalogue has checked that a declared
            indicator contradicts neither the list nor another entry).

    Returns:
        One row per indicator code, the columns of ``wdi_indicators.csv`` (text); a declared one has no
        ``name_marker`` and its ``name`` as description.
    """
    shipped = pd.read_csv(reference_dir / "wdi_indicators.csv", dtype=str, keep_default_na=False)
    declared = [
        {
            "indicator_code": spec.code,
            "flow": spec.flow,
            "classification": spec.classification,
            "category": spec.category,
            "measure": spec.measure,
            "unit": spec.unit,
            "scale": f"{spec.scale:g}",
            "name_marker": "",
            "description": spec.name,
        }
        for source in sources
        for spec in source.indicators
    ]
    if not declared:
        return shipped
    extra = pd.DataFrame(declared, columns=shipped.columns, dtype=str)
    extra = extra[~extra["indicator_code"].isin(shipped["indicator_code"])].drop_duplicates("indicator_code")
    return pd.concat([shipped, extra], ignore_index=True)


def unknown_indicator_message(source: Source, codes: Iterable[str]) -> str:
    """What to do about indicators a source's rows carry and nobody maps: the entry to add to, and its lines.

    Args:
        source: the catalogue entry.
        codes: the indicator codes neither shipped nor declared.

    Returns:
        One message naming the entry and giving a ``[[source.indicators]]`` template per code.
    """
    templates = "\n\n".join(indicator_lines(code) for code in sorted(set(codes)))
    return (
        f"{source.id}: indicator(s) {', '.join(sorted(set(codes)))} are neither in seeds/reference/wdi_indicators.csv "
        f'nor declared by the catalogue entry id = "{source.id}": its rows are quarantined (rule known_indicator). '
        "To load them, add under that [[source]] entry (a '?' is yours to fill; category: a classification/category "
        f"pair of seeds/reference/categories.csv; measure, unit and scale: one of its [[source.measures]]):\n\n"
        f"{templates}"
    )


def _known_indicator(source: Source, known: set[str]) -> FrameRule:
    """The row's indicator is mapped (shipped or declared); the first time a batch shows an unknown one, the log
    says which entry to add it to, and the lines."""
    told: set[str] = set()

    def test(df: pd.DataFrame) -> pd.Series:
        ok = df["indicator_code"].isin(known)
        new = set(df.loc[~ok, "indicator_code"].astype(str)) - told
        if new:
            told.update(new)
            log.warning("%s", unknown_indicator_message(source, new))
        return ok

    return FrameRule("known_indicator", "indicator_code", test)


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
    """The schema for one run: static rules plus known countries, known indicators (shipped, or declared by the
    source's catalogue entry) and catalogue units."""
    indicators = load_indicators(context.reference_dir, [context.source])
    known = indicators["indicator_code"].tolist()
    full = with_column_checks(Wdi.to_schema(), {"country_code": [known_country(context.country_codes)]})
    measures = indicators.set_index("indicator_code")

    def with_measure(df: pd.DataFrame) -> pd.DataFrame:
        joined = df[["indicator_code"]].join(measures[["measure", "unit"]], on="indicator_code")
        return joined.fillna({"measure": "", "unit": ""})

    unit_rule = catalogue_unit(context.source, "measure", "unit")
    rules = [
        _known_indicator(context.source, set(known)),
        _unit_in_name(indicators),
        FrameRule(
            "unit_matches_catalogue",
            "indicator_code",
            lambda df: unit_rule.test(with_measure(df)) | ~df["indicator_code"].isin(known),
        ),
    ]
    return full, rules
