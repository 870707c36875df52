"""What a page is made of: sections holding charts (SVG), captions and tables; numbers as text.

A table keeps its cells as the text shown, and offers the same rows as CSV (``Table.csv``) and as a ``data:``
URI the page links to, so a download is the table as read, from the page itself, without any network.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

BN = 1e9


Scale = tuple[float, str]
BILLIONS: Scale = (BN, "bn US$")
SCALES: tuple[Scale, ...] = (BILLIONS, (1e6, "m US$"), (1e3, "thousand US$"), (1.0, "US$"))


def scale_for(values: object) -> Scale:
    """The scale that writes the largest of ``values`` (US$) with a whole part: bn, m, thousand or plain US$."""
    largest = max((abs(float(v)) for v in values if v is not None), default=0.0)  # type: ignore[union-attr]
    return next((s for s in SCALES if largest >= s[0]), BILLIONS if largest == 0 else SCALES[-1])


def money(value_usd: float | None, scale: Scale = BILLIONS, decimals: int = 2) -> str:
    """US$ (scale 1) in a scale, as ``-10.76 bn US$``; ``n/a`` when missing (missing is never zero)."""
    if value_usd is None:
        return "n/a"
    return f"{value_usd / scale[0]:,.{decimals}f} {scale[1]}"


def bn(value_usd: float | None, decimals: int = 2) -> str:
    """US$ (scale 1) as ``-10.76 bn US$``; ``n/a`` when missing (missing is never zero)."""
    return money(value_usd, BILLIONS, decimals)


def pct(value: float | None, decimals: int = 1) -> str:
    """A percentage as ``89.2 %``; ``n/a`` when missing."""
    if value is None:
        return "n/a"
    return f"{value:,.{decimals}f} %"


def utc(value: object) -> str:
    """A timestamp as ``2026-01-02 03:04 UTC``; ``n/a`` when missing."""
    if value is None:
        return "n/a"
    if isinstance(value, datetime):
        stamp = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


@dataclass
class Table:
    """A table of cells as shown; ``numeric`` columns right-aligned, ``nowrap`` kept whole, ``badge`` a verdict."""

    testid: str
    header: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()
    nowrap: tuple[int, ...] = ()
    keys: list[str] | None = None  # a data-key per row (a figure id), for readers and tests
    badge: int | None = None
    folded: str | None = None  # shown inside <details> with this summary

    @property
    def filename(self) -> str:
        return self.testid.removeprefix("table-") + ".csv"

    def csv(self) -> str:
        """The header and the rows as CSV text, cells exactly as shown."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return out.getvalue()

    def csv_uri(self) -> str:
        """The CSV as a ``data:`` URI (percent-encoded UTF-8): a link to it downloads the table offline."""
        return "data:text/csv;charset=utf-8," + quote(self.csv(), safe="")

    def row_list(self) -> list[tuple[str | None, list[str]]]:
        keys = self.keys or [None] * len(self.rows)
        return list(zip(keys, self.rows, strict=True))


@dataclass
class Chart:
    testid: str
    svg: str


@dataclass
class Section:
    testid: str
    heading: str
    charts: list[Chart] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    mode: str | None = None  # how the section chose its rows (largest deficits: by partner or by category)
