"""UN Comtrade's layout families: the legacy API and website CSVs (as their columns changed over the years), the
legacy API's machine-readable CSV and JSON, the legacy bulk CSV, the Comtrade+ API's CSV and JSON; how a header is
matched to one (by column names, never positions or file names), and the code lists the parser maps
(classifications and their levels, flows)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

LEGACY_API = "legacy_api"


LEGACY_API_MACHINE = "legacy_api_machine"


LEGACY_API_JSON = "legacy_api_json"


LEGACY_BULK = "legacy_bulk"


PLUS_API_CSV = "plus_api_csv"


PLUS_API_JSON = "plus_api_json"


COLUMNS: tuple[str, ...] = (
    "layout",
    "classification",
    "classification_version",
    "year",
    "period",
    "reporter_code",
    "partner_code",
    "partner2_code",
    "flow_code",
    "customs_code",
    "mot_code",
    "commodity_code",
    "commodity_code_published",
    "aggregate_level",
    "is_leaf",
    "qty_unit_code",
    "qty",
    "netweight_kg",
    "value_text",
    "value",
    "flag",
    "file_row",
)


@dataclass(frozen=True)
class Layout:
    """One layout family: output field -> the publisher's column, for the columns every file of it has and for
    those only some years' files have (a field whose column is absent takes its default, see ``to_row``).

    Attributes:
        name: the layout's name (the ``layout`` column of every row).
        title: what the publisher served it as, for messages.
        signature: the column that tells the family apart: a header with it and without others of the family
            is refused as that family missing columns (rule 'missing_column').
        required: field -> column, in every file of the family.
        optional: field -> column, in some files only.
    """

    name: str
    title: str
    signature: str
    required: Mapping[str, str]
    optional: Mapping[str, str] = field(default_factory=dict)

    def columns(self, names: Sequence[str]) -> dict[str, str]:
        """The field -> column map of a file of this layout with these column names (each the file's own
        spelling: see ``resolve_column``)."""
        required = {f: resolve_column(c, names) or c for f, c in self.required.items()}
        optional = {f: resolve_column(c, names) for f, c in self.optional.items()}
        return {**required, **{f: c for f, c in optional.items() if c is not None}}

    def missing(self, names: Sequence[str]) -> list[str]:
        """The required columns these names lack (case aside), in the layout's order."""
        return [c for c in self.required.values() if resolve_column(c, names) is None]


def resolve_column(column: str, names: Sequence[str]) -> str | None:
    """The header name that is this layout column: the same spelling, else the one name equal to it case aside.

    The publisher's reality: the Comtrade+ portal's CSV download capitalises the API's headers ("PrimaryValue",
    "RefYear", "CmdCode" for "primaryValue", "refYear", "cmdCode"; e.g. TradeData_*.csv files of 2023) while the
    API's own CSV does not, so names are matched case-insensitively; two names equal case aside match neither.
    """
    if column in names:
        return column
    folded = [name for name in names if name.casefold() == column.casefold()]
    return folded[0] if len(folded) == 1 else None


# The legacy API / website CSV ("human" headings). Its 35-column form (comtrade.un.org, 2017-2023) added the
# second partner, customs procedure and mode of transport (with CIF/FOB values, alt quantities, gross weight) to
# the older 22-column one (Classification ... Partner ISO, Commodity Code, Commodity, Qty Unit Code, Qty Unit,
# Qty, Netweight (kg), Trade Value (US$), Flag): in that one every row is the total over them.
LEGACY_API_LAYOUT = Layout(
    LEGACY_API,
    "the legacy comtrade.un.org API/website CSV",
    "Trade Value (US$)",
    required={
        "classification": "Classification",
        "year": "Year",
        "period": "Period",
        "aggregate_level": "Aggregate Level",
        "is_leaf": "Is Leaf Code",
        "flow_code": "Trade Flow Code",
        "reporter_code": "Reporter Code",
        "partner_code": "Partner Code",
        "commodity_code": "Commodity Code",
        "qty_unit_code": "Qty Unit Code",
        "qty": "Qty",
        "netweight_kg": "Netweight (kg)",
        "value": "Trade Value (US$)",
        "flag": "Flag",
    },
    optional={
        "partner2_code": "2nd Partner Code",
        "customs_code": "Customs Proc. Code",
        "mot_code": "Mode of Transport Code",
    },
)


# The legacy API's machine-readable headings (head=M): the keys of its JSON response, as CSV columns
LEGACY_API_MACHINE_COLUMNS: dict[str, str] = {
    "classification": "pfCode",
    "year": "yr",
    "period": "period",
    "aggregate_level": "aggrLevel",
    "is_leaf": "IsLeaf",
    "flow_code": "rgCode",
    "reporter_code": "rtCode",
    "partner_code": "ptCode",
    "commodity_code": "cmdCode",
    "qty_unit_code": "qtCode",
    "qty": "TradeQuantity",
    "netweight_kg": "NetWeight",
    "value": "TradeValue",
    "flag": "estCode",
}
LEGACY_API_MACHINE_OPTIONAL = {"partner2_code": "ptCode2", "customs_code": "cstCode", "mot_code": "motCode"}


LEGACY_API_MACHINE_LAYOUT = Layout(
    LEGACY_API_MACHINE,
    "the legacy API's CSV with machine-readable headings (head=M)",
    "TradeValue",
    required=LEGACY_API_MACHINE_COLUMNS,
    optional=LEGACY_API_MACHINE_OPTIONAL,
)


LEGACY_API_JSON_LAYOUT = Layout(
    LEGACY_API_JSON,
    'the legacy API\'s JSON response {"validation": {...}, "dataset": [...]}',
    "TradeValue",
    required=LEGACY_API_MACHINE_COLUMNS,
    optional=LEGACY_API_MACHINE_OPTIONAL,
)


LEGACY_BULK_LAYOUT = Layout(
    LEGACY_BULK,
    "the legacy bulk download (codes only)",
    "Estimation Code",
    required={
        "year": "Year",
        "reporter_code": "Reporter Code",
        "flow_code": "Trade Flow Code",
        "partner_code": "Partner Code",
        "classification": "Classification",
        "commodity_code": "Commodity Code",
        "qty_unit_code": "Quantity Unit Code",
        "qty": "Supplementary Quantity",
        "netweight_kg": "Netweight (kg)",
        "value": "Value",
        "flag": "Estimation Code",
    },
    optional={"period": "Period"},  # monthly bulk files carry it; annual ones do not (period = year)
)


PLUS_API_COLUMNS: dict[str, str] = {
    "classification": "classificationCode",
    "year": "refYear",
    "period": "period",
    "reporter_code": "reporterCode",
    "flow_code": "flowCode",
    "partner_code": "partnerCode",
    "partner2_code": "partner2Code",
    "commodity_code": "cmdCode",
    "is_leaf": "isLeaf",
    "customs_code": "customsCode",
    "mot_code": "motCode",
    "qty_unit_code": "qtyUnitCode",
    "qty": "qty",
    "netweight_kg": "netWgt",
    "value": "primaryValue",
    "flag": "legacyEstimationFlag",
}


PLUS_API_CSV_LAYOUT = Layout(
    PLUS_API_CSV,
    "the Comtrade+ API's CSV (getFinalData)",
    "primaryValue",
    required=PLUS_API_COLUMNS,
    optional={"aggregate_level": "aggrLevel"},
)


PLUS_API_JSON_LAYOUT = Layout(
    PLUS_API_JSON,
    'the Comtrade+ API\'s JSON response {"count": N, "data": [...]}',
    "primaryValue",
    required=PLUS_API_COLUMNS,
    optional={"aggregate_level": "aggrLevel"},
)


CSV_LAYOUTS: tuple[Layout, ...] = (
    LEGACY_API_LAYOUT,
    LEGACY_API_MACHINE_LAYOUT,
    PLUS_API_CSV_LAYOUT,
    LEGACY_BULK_LAYOUT,
)


LAYOUTS: dict[str, Layout] = {
    layout.name: layout for layout in (*CSV_LAYOUTS, LEGACY_API_JSON_LAYOUT, PLUS_API_JSON_LAYOUT)
}


def match_header(names: Sequence[str]) -> Layout | None:
    """The CSV layout whose every required column is in the header, or None.

    Args:
        names: the header's column names, stripped.

    Returns:
        The first layout of ``CSV_LAYOUTS`` that the header holds whole (no two share their required columns).
    """
    return next((layout for layout in CSV_LAYOUTS if not layout.missing(names)), None)


def nearest_layout(names: Sequence[str], layouts: Sequence[Layout] = CSV_LAYOUTS) -> tuple[Layout, list[str]]:
    """The layout a header is closest to, and the required columns it lacks.

    Args:
        names: the header's column names (JSON: a record's keys).
        layouts: the candidates.

    Returns:
        The layout with the most of its required columns present (the fewest missing on a tie; the first of
        ``layouts`` on a second tie), and its missing columns.
    """

    def score(layout: Layout) -> tuple[int, int]:
        missing = len(layout.missing(names))
        return (-(len(layout.required) - missing), missing)

    best = min(layouts, key=score)
    return best, best.missing(names)


def describe_layouts(layouts: Sequence[Layout] = tuple(LAYOUTS.values())) -> str:
    """Every known layout with its required columns, for an error message."""
    return "; ".join(
        f"{layout.name} ({layout.title}): {', '.join(repr(c) for c in layout.required.values())}" for layout in layouts
    )


EXPECTED_LAYOUTS = describe_layouts()


# Comtrade's classification codes -> the classification and its version. 'HS' and 'ST' are the legacy API's
# "as reported" codes: the version is the one each reporter used, which the code does not say.
CLASSIFICATION_VERSIONS: dict[str, str] = {
    "H0": "HS1992",
    "H1": "HS1996",
    "H2": "HS2002",
    "H3": "HS2007",
    "H4": "HS2012",
    "H5": "HS2017",
    "H6": "HS2022",
    "HS": "HS",
    "S1": "SITC1",
    "S2": "SITC2",
    "S3": "SITC3",
    "S4": "SITC4",
    "ST": "SITC",
    "BEC": "BEC",
    "B4": "BEC4",
    "B5": "BEC5",
}


# The current API's flow letters -> the legacy trade flow codes
PLUS_FLOWS: dict[str, int] = {"M": 1, "X": 2, "RX": 3, "RM": 4}


TOTAL_CODE = "TOTAL"


DEFAULT_CUSTOMS = "C00"  # all customs procedures


DEFAULT_MOT = "0"  # all modes of transport


# The levels of each classification family: the number of digits of its codes ('TOTAL' is level 0). HS has no
# 1-, 3- or 5-digit code; SITC has a code of every length from the section (1) to the basic heading (5). Codes of
# both may begin with zero (HS chapter '01', SITC section '0', division '00'), which a spreadsheet drops.
LEVELS: dict[str, tuple[int, ...]] = {"HS": (2, 4, 6), "SITC": (1, 2, 3, 4, 5)}


def classification_family(version: str) -> str:
    """'HS' or 'SITC' for a classification version ('HS2007', 'SITC4', 'HS'), else the version itself."""
    return next((family for family in LEVELS if version.startswith(family)), version)


# the same few thousand (classification, code, level) triples recur in every batch of a file: read once each
# (the columnar reader asks once per distinct triple per batch, about 5,000 calls a 200k-row batch: its
# ``_commodities`` took 23.7 ms per such batch of the benchmark's file with the cache, 29.7 ms without)
@functools.lru_cache(maxsize=1 << 16)
def commodity_level(classification: str, code: str, published_level: str) -> tuple[str, int | None]:
    """A commodity code read by its meaning: the code and its level, from the classification and the publisher's
    level column.

    Args:
        classification: the published classification code ('H3', 'S4').
        code: the published commodity code, stripped.
        published_level: the publisher's level ('Aggregate Level', 'aggrLevel'), stripped; '' when the layout
            has no level column or the cell is empty.

    Returns:
        (code, level). 'TOTAL' is level 0. A code of digits shorter than its published level lost its leading
        zeros and gets them back ('1' at level 2 -> '01'). Without a published level, the code's length is its
        level. The level is None (validation quarantines the row, rule 'commodity_level') where nothing says
        which level the code is at: a length the classification has no level of and no published level (HS '1'
        in a file with no level column), a published level the classification does not have or the code is
        longer than, a level that is not a number, a code that is not digits.
    """
    if code.upper() == TOTAL_CODE:
        return code, 0
    if not (code.isascii() and code.isdigit()):
        return code, None
    if published_level and not (published_level.isascii() and published_level.isdigit()):
        return code, None
    level = int(published_level) if published_level else None
    levels = LEVELS.get(classification_family(CLASSIFICATION_VERSIONS.get(classification.upper(), "")))
    if levels is None:  # levels tradewh does not know (BEC, an unknown code): the code's length, if it agrees
        return (code, len(code)) if level in (None, len(code)) else (code, None)
    if level is None:
        return (code, len(code)) if len(code) in levels else (code, None)
    if level not in levels or len(code) > level:
        return code, None
    return code.zfill(level), level
