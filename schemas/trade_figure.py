"""The conformed trade figure (``core.fct_trade_figure``): the shape every source is conformed to.

This model is the one statement of the fact's rules. The build does not pull the fact into pandas: it runs the
rules as SQL inside DuckDB (``warehouse/build/checks.py`` translates the columns' checks, ``nullable`` and
``Config.unique``); the two dataframe-wide checks carry their SQL beside their pandas body
(``statistics={"sql": ...}``: true on a row that passes), so each rule is written here and nowhere else.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

FLOWS = ["export", "import", "re_export", "re_import", "total", "balance"]
UNITS = ["USD", "percent"]


class TradeFigure(pa.DataFrameModel):
    """One figure: a value for a reporter, partner, period, flow and category, under one measure and vintage."""

    source_id: Series[str]
    dataset: Series[str]
    vintage: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    reporter: Series[str]
    partner: Series[str]
    period: Series[str] = pa.Field(str_matches=r"^\d{4}(-\d{2}|-\d{2}\.\.\d{2})?$")
    period_type: Series[str] = pa.Field(isin=["year", "month", "ytd", "recent_years"])
    year: Series[int] = pa.Field(ge=1900, le=2100)
    flow: Series[str] = pa.Field(isin=FLOWS)
    classification: Series[str]
    category: Series[str]
    measure: Series[str]
    unit: Series[str] = pa.Field(isin=UNITS)
    value: Series[float] = pa.Field(nullable=False)
    is_derived: Series[bool]
    derivation: Series[str] = pa.Field(nullable=True)
    is_latest_vintage: Series[bool]

    class Config:
        strict = False
        coerce = True
        unique = [
            "source_id", "vintage", "reporter", "partner", "period", "flow", "classification", "category", "measure",
        ]  # fmt: skip

    @pa.dataframe_check(name="derived_has_formula", statistics={"sql": "not is_derived or derivation is not null"})
    def derived_has_formula(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["is_derived"] | df["derivation"].notna()

    @pa.dataframe_check(
        name="money_not_negative", statistics={"sql": "unit <> 'USD' or flow = 'balance' or value >= 0"}
    )
    def money_not_negative(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["unit"] != "USD") | (df["flow"] == "balance") | (df["value"] >= 0)
