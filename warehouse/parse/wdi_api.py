"""The World Bank API v2 JSON layout of WDI series (``/v2/country/{codes}/indicator/{code}?format=json``).

A response page is ``[meta, rows]``: ``meta`` has ``page``, ``pages``, ``per_page``, ``total`` and
``lastupdated``; each row has ``indicator.id``, ``indicator.value`` (the name), ``country.value``,
``countryiso3code``, ``date`` and ``value``. A payload holds one page, or every page of a paginated answer as
a list of pages. An error answer is ``[{"message": [{"id": ..., "key": ..., "value": ...}]}]``.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from warehouse.common.errors import SourceError
from warehouse.parse.csvtext import to_number

LAYOUT = "api_v2_json"
COLUMNS = (
    "country_name",
    "country_code",
    "indicator_name",
    "indicator_code",
    "year",
    "value_text",
    "value",
    "file_row",
)


def looks_like_api_json(text: str) -> bool:
    """Whether a payload is JSON rather than CSV (a WDI CSV never starts with '[')."""
    return text.lstrip().startswith("[")


def parse_api_json(text: str, *, source_id: str, file: str) -> tuple[pd.DataFrame, str | None]:
    """Parse one page or a list of pages into WDI long rows.

    Args:
        text: the decoded payload.
        source_id: catalogue id, for errors.
        file: the file name, for errors.

    Returns:
        (rows in the WDI columns, the release date the answer states in ``lastupdated`` or None).

    Raises:
        SourceError: 'json_syntax', 'api_error' (the publisher's error message), 'unknown_layout',
            'incomplete_pages' (a page missing or the rows fewer than ``total``), 'year_not_integer'.
    """

    def fail(message: str, rule: str, row: int | None = None) -> SourceError:
        return SourceError(message, source_id=source_id, file=file, row=row, rule=rule)

    try:
        document = json.loads(text, parse_float=str, parse_int=str)  # numbers stay as published
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", "json_syntax") from exc
    if _is_error(document):
        raise fail(f"the API answered an error: {json.dumps(document[0]['message'])}", "api_error")
    pages = [document] if _is_page(document) else document
    if not isinstance(pages, list) or not pages or not all(_is_page(p) for p in pages):
        raise fail("expected a World Bank API v2 page [meta, rows] or a list of them", "unknown_layout")
    metas = [p[0] for p in pages]
    rows = [row for p in pages for row in (p[1] or [])]
    expected_pages = int(metas[0].get("pages", 1))
    numbers = sorted(int(m.get("page", 1)) for m in metas)
    total = int(metas[0].get("total", len(rows)))
    if numbers != list(range(1, expected_pages + 1)) or len(rows) != total:
        raise fail(
            f"pages {numbers} of {expected_pages} with {len(rows)} rows of the {total} announced: fetch every page",
            "incomplete_pages",
        )
    records = [_record(row, i + 1, fail) for i, row in enumerate(rows)]
    frame = pd.DataFrame.from_records([r for r in records if r is not None], columns=list(COLUMNS))
    frame["indicator_name"] = frame["indicator_name"].astype(object)
    frame["year"] = frame["year"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    frame["file_row"] = frame["file_row"].astype("int64")
    return frame, metas[0].get("lastupdated") or None


def _is_page(item: Any) -> bool:
    return isinstance(item, list) and len(item) == 2 and isinstance(item[0], dict) and "page" in item[0]


def _is_error(item: Any) -> bool:
    return isinstance(item, list) and len(item) >= 1 and isinstance(item[0], dict) and "message" in item[0]


def _record(row: dict[str, Any], number: int, fail: Any) -> dict[str, object] | None:
    """One WDI row from an API row; None for a missing value (missing is not zero)."""
    raw = row.get("value")
    if raw is None or raw == "":
        return None
    date = str(row.get("date", ""))
    if not date.isdigit():
        raise fail(f"date '{date}' is not a year", "year_not_integer", number)
    indicator = row.get("indicator") or {}
    country = row.get("country") or {}
    text = str(raw).strip()
    return {
        "country_name": country.get("value"),
        "country_code": (row.get("countryiso3code") or country.get("id") or "").strip(),
        "indicator_name": indicator.get("value"),
        "indicator_code": str(indicator.get("id", "")).upper(),
        "year": int(date),
        "value_text": text,
        "value": to_number(text),
        "file_row": number,
    }
