"""Rules for UN Comtrade trade records (dataset ``comtrade``), whichever of the four layouts they came in."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.rules import NUMBER, FrameRule, RunContext, per_distinct
from warehouse.parse.comtrade_layouts import CLASSIFICATION_VERSIONS

CODES_FILE = "comtrade_codes.csv"
FLOWS = (1, 2, 3, 4)  # import, export, re-export, re-import
MEASURE, UNIT = "customs_value", "USD"  # every Comtrade value is a customs value in US$, printed in units


class Comtrade(pa.DataFrameModel):
    """One row per published record: reporter x partner x partner2 x flow x customs procedure x mode of transport
    x commodity code x period x classification, as published."""

    layout: Series[str]
    classification: Series[str]
    classification_version: Series[str]
    year: Series[int]
    period: Series[str]
    reporter_code: Series[pd.Int64Dtype] = pa.Field(nullable=True)  # null: not an integer (known_reporter)
    partner_code: Series[pd.Int64Dtype] = pa.Field(nullable=True)  # null: not an integer (known_partner)
    partner2_code: Series[pd.Int64Dtype]
    flow_code: Series[pd.Int64Dtype] = pa.Field(nullable=True)  # null: an unknown flow letter (known_flow)
    customs_code: Series[str]
    mot_code: Series[str]
    commodity_code: Series[str]  # leading zeros restored where the published level says so
    commodity_code_published: Series[str]
    aggregate_level: Series[pd.Int64Dtype] = pa.Field(nullable=True)  # null: no level tells (commodity_level)
    is_leaf: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    qty_unit_code: Series[str]
    qty: Series[float] = pa.Field(nullable=True)
    netweight_kg: Series[float] = pa.Field(nullable=True)
    value_text: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    flag: Series[str]
    file_row: Series[int] = pa.Field(ge=1)
    # provenance, added by warehouse.stage.staging.parse_payloads
    source_id: Series[str]
    vintage: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    file_name: Series[str]
    file_sha256: Series[str]

    class Config:
        strict = False
        coerce = True
        unique = [
            "classification_version", "year", "period", "reporter_code", "partner_code", "partner2_code",
            "flow_code", "customs_code", "mot_code", "commodity_code", "vintage",
        ]  # fmt: skip

    @pa.check("value_text", name="value_is_number")
    def value_is_number(cls, value_text: Series[str]) -> Series[bool]:
        return value_text.str.fullmatch(NUMBER)

    @pa.check("year", name="year_in_range")
    def year_in_range(cls, year: Series[int]) -> Series[bool]:
        return year.between(1962, 2100)  # UN Comtrade starts in 1962

    @pa.check("value", "qty", "netweight_kg", name="non_negative")
    def non_negative(cls, column: Series[float]) -> Series[bool]:
        # gross flows, quantities and weights; a missing one (NaN) is not checked here
        return column >= 0

    @pa.check("commodity_code", name="commodity_code_format")
    def commodity_code_format(cls, code: Series[str]) -> Series[bool]:
        return per_distinct(code.to_frame(), lambda distinct: _formatted(distinct.iloc[:, 0]))


def load_codes(reference_dir: Path) -> pd.DataFrame:
    """The Comtrade reporter/partner codes and their ISO3 (``seeds/reference/comtrade_codes.csv``).

    Args:
        reference_dir: the folder holding the seeds (``seeds/reference``).

    Returns:
        One row per code, string columns ``code, iso3, name, is_aggregate, note`` ('' for empty).
    """
    return pd.read_csv(reference_dir / CODES_FILE, dtype=str, keep_default_na=False)


def _known(column: str, rule: str, codes: frozenset[int]) -> FrameRule:
    return FrameRule(rule, column, lambda df: df[column].isin(codes).fillna(False).astype(bool))


def _known_classification(df: pd.DataFrame) -> pd.Series:
    return df["classification_version"].isin(sorted(set(CLASSIFICATION_VERSIONS.values())))


def _formatted(code: pd.Series) -> pd.Series:
    """Digits (at most 12) or 'TOTAL' (rule commodity_code_format)."""
    return code.str.fullmatch(r"\d{1,12}|TOTAL")


def _commodity_level(df: pd.DataFrame) -> pd.Series:
    """A code of digits (or 'TOTAL') whose level is known: the parser leaves the level null where nothing tells it
    (an HS code of odd length with no level column, a level the classification does not have, a code longer
    than its published level). A code that is not digits is rule commodity_code_format's alone. The pattern is
    matched once for each distinct code of the batch (``per_distinct``)."""
    formatted = per_distinct(
        df[["commodity_code"]], lambda distinct: _formatted(distinct["commodity_code"].astype(str)).fillna(False)
    ).astype(bool)
    return (~formatted | df["aggregate_level"].notna()).astype(bool)


def _period_matches_year(df: pd.DataFrame) -> pd.Series:
    """The period is the year ('2011') or a month of it ('201103'); told once for each distinct year and period of
    the batch (``per_distinct``)."""
    return per_distinct(df[["year", "period"]], _period_of_year)


def _period_of_year(df: pd.DataFrame) -> pd.Series:
    year = df["year"].astype("int64").astype(str)
    period = df["period"].astype(str)
    annual = period == year
    month = period.str.slice(4)
    monthly = (
        (period.str.len() == 6) & (period.str.slice(0, 4) == year) & month.isin([f"{m:02d}" for m in range(1, 13)])
    )
    return annual | monthly


CONFORMED_KEY = [
    "classification_version", "period", "partner2_code", "flow_code", "customs_code", "mot_code", "commodity_code",
    "vintage",
]  # fmt: skip


def shared_codes(iso3_of: dict[int, str]) -> frozenset[int]:
    """The codes whose ISO3 has another code too (840 and 842 for the USA): only rows holding one can collide."""
    counts = pd.Series(list(iso3_of.values())).value_counts()
    return frozenset(code for code, iso3 in iso3_of.items() if counts[iso3] > 1)


def _one_code_per_economy(iso3_of: dict[int, str]) -> FrameRule:
    """Two published codes for one economy (840 and 842 are both the USA) must not make two figures of one key.

    Comtrade's key is unique on the published codes; the warehouse's on ISO3. Rows that collide once their
    codes are mapped are quarantined, all of them: which code the publisher meant cannot be guessed. Two rows
    collide only when one of their codes is shared by an economy with another code, so only those are grouped.
    """
    shared = shared_codes(iso3_of)

    def test(df: pd.DataFrame) -> pd.Series:
        ok = pd.Series(True, index=df.index)
        df = df[df["reporter_code"].isin(shared).fillna(False) | df["partner_code"].isin(shared).fillna(False)]
        if df.empty:
            return ok
        key = [*CONFORMED_KEY, "reporter", "partner"]
        mapped = df[CONFORMED_KEY].assign(
            reporter=df["reporter_code"].map(iso3_of),
            partner=df["partner_code"].map(iso3_of),
            published=df["reporter_code"].astype(str) + "/" + df["partner_code"].astype(str),
        )
        # only collisions between different published codes: the same codes twice is rule duplicate_key
        codes_per_key = mapped.groupby(key, dropna=False)["published"].transform("nunique")
        ok[df.index] = (codes_per_key <= 1) | mapped["reporter"].isna() | mapped["partner"].isna()
        return ok

    return FrameRule("one_code_per_economy", "partner_code", test, across_rows=True)


def cross_batch_rules(context: RunContext) -> list[tuple[str, str, str]]:
    """The rules that compare rows with each other (``FrameRule.across_rows``), as SQL over all rows of a source
    (``staged``), for a load in batches (``warehouse.stage.staging.cross_batch_quarantine``; the key's uniqueness is
    added there): (rule, blamed column, a query selecting the rows of ``staged`` that break it).
    """
    codes = load_codes(context.reference_dir)
    iso3_of = {int(code): iso3 for code, iso3 in zip(codes["code"], codes["iso3"], strict=True) if iso3}
    shared = shared_codes(iso3_of)
    mapping = ", ".join(f"({code}, '{iso3}')" for code, iso3 in sorted(iso3_of.items()))
    in_shared = f"({', '.join(str(c) for c in sorted(shared))})" if shared else "(null)"
    key = ", ".join(f'"{c}"' for c in CONFORMED_KEY)
    same = " and ".join(f'm."{c}" is not distinct from b."{c}"' for c in [*CONFORMED_KEY, "_r", "_p"])
    # only the columns the quarantine needs: the scan reads those alone
    needed = ", ".join(f's."{c}"' for c in dict.fromkeys(["source_id", "file_name", "file_sha256", "file_row",
                                                          *Comtrade.Config.unique]))  # fmt: skip
    # the keys with two published codes are looked for by the hash of the key first (one number to group by; equal
    # keys have equal hashes), then among the rows of those hashes by the key itself (measured on 10M staged rows,
    # 1.3M of them with a shared code: 0.61-0.65 s against 1.19-1.28 s grouping every such row by its key)
    one_code_per_economy = f"""
        with codes(code, iso3) as (values {mapping}),
        mapped as not materialized (
            select {needed}, r.iso3 as _r, p.iso3 as _p,
                cast(s.reporter_code as varchar) || '/' || cast(s.partner_code as varchar) as _pub
            from staged s join codes r on s.reporter_code = r.code join codes p on s.partner_code = p.code
            where s.reporter_code in {in_shared} or s.partner_code in {in_shared}
        ),
        suspect as (
            select hash({key}, _r, _p) as _h from mapped group by _h having min(_pub) <> max(_pub)
        ),
        bad as (
            select {key}, _r, _p from mapped
            where hash({key}, _r, _p) in (select _h from suspect)
            group by all having count(distinct _pub) > 1
        )
        select m.* exclude (_r, _p, _pub) from mapped m semi join bad b on {same}
    """
    return [("one_code_per_economy", "partner_code", one_code_per_economy)]


def schema(context: RunContext) -> tuple[pa.DataFrameSchema, list[FrameRule]]:
    """The schema for one run: static rules plus known reporters/partners, known flows and catalogue units.

    Rules (each quarantines the row, naming the column): 'known_reporter' / 'known_partner' (the code is in
    comtrade_codes.csv with an ISO3), 'known_flow' (1-4), 'value_is_number', 'non_negative' (value, qty,
    netweight_kg), 'year_in_range' (1962-2100), 'duplicate_key', 'known_classification',
    'commodity_code_format' (digits or 'TOTAL'), 'commodity_level' (the code's level is one its classification
    has, from the publisher's level column or the code's length), 'period_matches_year' (YYYY or YYYYMM of the year),
    'not_null' (partner2_code), 'unit_matches_catalogue' (customs_value in USD at scale 1),
    'one_code_per_economy' (two published codes of one ISO3 would make two figures of one key).
    """
    codes = load_codes(context.reference_dir)
    mapped = frozenset(int(code) for code, iso3 in zip(codes["code"], codes["iso3"], strict=True) if iso3)
    # codes the entry maps itself ([source.aliases] countries = { "381" = "ITA" }): known for this source only
    mapped |= {int(alias) for alias, _ in context.source.country_aliases if alias.isdigit()}
    # every Comtrade value is a customs value in US$ at scale 1: one answer from the catalogue for every row
    allowed = context.source.allows(MEASURE, UNIT, 1.0)

    def unit_matches(df: pd.DataFrame) -> pd.Series:
        return pd.Series(allowed, index=df.index, dtype=bool)

    rules = [
        _known("reporter_code", "known_reporter", mapped),
        _known("partner_code", "known_partner", mapped),
        _known("flow_code", "known_flow", frozenset(FLOWS)),
        # blames the classification as published ('XX'); its version is '' when the code is not known
        FrameRule("known_classification", "classification", _known_classification),
        FrameRule("period_matches_year", "period", _period_matches_year),
        # blames the code as published: the row is quarantined with the code the file holds
        FrameRule("commodity_level", "commodity_code_published", _commodity_level),
        FrameRule("unit_matches_catalogue", "value", unit_matches),
        _one_code_per_economy({int(c): i for c, i in zip(codes["code"], codes["iso3"], strict=True) if i}),
    ]
    return Comtrade.to_schema(), rules
