"""UN Comtrade's layouts: the legacy API and bulk CSVs, the Comtrade+ API's CSV and JSON, their columns and
signatures, and the code lists the parser maps (classifications, flows)."""

from __future__ import annotations

LEGACY_API = "legacy_api"


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


# Each layout: output field -> the publisher's column. Fields a layout lacks take their default (see Row).
LEGACY_API_COLUMNS: dict[str, str] = {
    "classification": "Classification",
    "year": "Year",
    "period": "Period",
    "is_leaf": "Is Leaf Code",
    "flow_code": "Trade Flow Code",
    "reporter_code": "Reporter Code",
    "partner_code": "Partner Code",
    "partner2_code": "2nd Partner Code",
    "customs_code": "Customs Proc. Code",
    "mot_code": "Mode of Transport Code",
    "commodity_code": "Commodity Code",
    "qty_unit_code": "Qty Unit Code",
    "qty": "Qty",
    "netweight_kg": "Netweight (kg)",
    "value": "Trade Value (US$)",
    "flag": "Flag",
}


LEGACY_BULK_COLUMNS: dict[str, str] = {
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
}


LEGACY_BULK_OPTIONAL = {"period": "Period"}  # monthly bulk files carry it; annual ones do not (period = year)


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


# The column that tells each CSV layout apart
SIGNATURES: tuple[tuple[str, str], ...] = (
    (LEGACY_API, "Trade Value (US$)"),
    (PLUS_API_CSV, "primaryValue"),
    (LEGACY_BULK, "Estimation Code"),
)


LAYOUT_COLUMNS: dict[str, dict[str, str]] = {
    LEGACY_API: LEGACY_API_COLUMNS,
    LEGACY_BULK: LEGACY_BULK_COLUMNS,
    PLUS_API_CSV: PLUS_API_COLUMNS,
    PLUS_API_JSON: PLUS_API_COLUMNS,
}


EXPECTED_LAYOUTS = (
    f"{LEGACY_API}: a CSV header with '{LEGACY_API_COLUMNS['value']}' and "
    f"{', '.join(repr(c) for c in LEGACY_API_COLUMNS.values())}; "
    f"{LEGACY_BULK}: a CSV header with '{LEGACY_BULK_COLUMNS['flag']}' and "
    f"{', '.join(repr(c) for c in LEGACY_BULK_COLUMNS.values())}; "
    f"{PLUS_API_CSV}: a CSV header with '{PLUS_API_COLUMNS['value']}' and "
    f"{', '.join(repr(c) for c in PLUS_API_COLUMNS.values())}; "
    f'{PLUS_API_JSON}: a JSON object {{"count": N, "data": [{{...the {PLUS_API_CSV} keys...}}]}}'
)


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
