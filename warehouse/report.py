"""The report: one self-contained HTML page with charts, read from the published warehouse (read-only).

Every number on the page is read from the marts and the audit tables when the page is built; nothing is typed
here but labels. Charts are inline SVG drawn by the functions below; the page has no script, no stylesheet,
font, image or any other resource to fetch, so it opens offline. Each chart carries a ``data-testid`` and
states its numbers as text too (a ``<title>`` on every mark and a table beside it), so a test, a screen
reader and a person who copies a figure all read the same value.

One function per section: ``section_technology_balance``, ``section_ip_charges``, ``section_composition``,
``section_goods_composition``, ``section_largest_deficits``, ``section_claim_checks``, ``section_freshness``;
``build_report`` puts them in one page and ``write_report`` writes it atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import duckdb

from warehouse.readonly import connect_read_only

REPORTER = "CHN"  # the economy the article is about
WORLD = "WLD"
BN = 1e9
TOP_DEFICITS = 10

EXPORTS_COLOUR = "#0072b2"  # Okabe-Ito palette: distinguishable with colour-blindness
IMPORTS_COLOUR = "#e69f00"
BALANCE_COLOUR = "#222222"
DEFICIT_COLOUR = "#d55e00"
SHARE_COLOUR = "#009e73"
REST_COLOUR = "#d9d9d9"
VERDICT_COLOURS = {"consistent": "#009e73", "inconsistent": "#d55e00", "unverifiable": "#999999"}


class ReportError(Exception):
    """The report could not be built; the message says how to fix it."""


# --- numbers as text ------------------------------------------------------------------------------------------


def bn(value_usd: float | None, decimals: int = 2) -> str:
    """US$ (scale 1) as ``-10.76 bn US$``; ``n/a`` when missing (missing is never zero)."""
    if value_usd is None:
        return "n/a"
    return f"{value_usd / BN:,.{decimals}f} bn US$"


def pct(value: float | None, decimals: int = 1) -> str:
    """A percentage as ``89.2 %``; ``n/a`` when missing."""
    if value is None:
        return "n/a"
    return f"{value:,.{decimals}f} %"


def _tick_label(value: float) -> str:
    text = f"{round(value, 9):,.6g}"
    return "0" if text == "-0" else text


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round axis ticks (steps of 1, 2, 2.5 or 5 x 10^n) covering ``low`` .. ``high``."""
    if not math.isfinite(low) or not math.isfinite(high):
        low, high = 0.0, 1.0
    if high < low:
        low, high = high, low
    if high == low:
        low, high = low - 1, high + 1
    raw = (high - low) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step + 1e-9) * step
    count = math.ceil((high - start) / step - 1e-9)
    return [start + i * step for i in range(count + 1)]


# --- SVG charts -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One value of a series in a year, in display units (bn US$ here)."""

    year: int
    value: float | None
    derived: bool = False
    note: str = ""


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Bar:
    """One bar: a label, its value in display units, the value as text, a tooltip note."""

    label: str
    value: float
    text: str
    note: str = ""
    key: str = ""


def _svg_open(testid: str, title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg data-testid="{escape(testid)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]


def line_chart(testid: str, title: str, series: Sequence[Series], unit: str) -> str:
    """Years on x, values on y; hollow dashed markers for derived values, a gap where a value is missing.

    Consecutive values one year apart are joined by a solid line, values with years without a row between
    them by a dotted one; a missing value (a row whose value is null) breaks the line.
    """
    width, height = 960, 380
    left, right, top, bottom = 76, 24, 48, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    years = sorted({p.year for s in series for p in s.points})
    values = [p.value for s in series for p in s.points if p.value is not None]
    out = _svg_open(testid, title, width, height)
    if not years or not values:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no figures</text></svg>')
        return "\n".join(out)
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    y_low, y_high = ticks[0], ticks[-1]
    x_low, x_high = years[0], years[-1]
    pad = 0.5 if x_high - x_low < 12 else 0.0

    def x(year: float) -> float:
        span = (x_high - x_low) + 2 * pad or 1
        return left + (year - x_low + pad) / span * plot_w

    def y(value: float) -> float:
        return top + (y_high - value) / (y_high - y_low) * plot_h

    out.append('<g class="axis y-axis">')
    for tick in ticks:
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'class="{"zero" if tick == 0 else "grid"}"/>'
            f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">{_tick_label(tick)}</text>'
        )
    out.append(
        f'<text class="axis-title" transform="translate(18 {top + plot_h / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(unit)}</text></g>'
    )
    step = 1 if x_high - x_low <= 12 else 5 if x_high - x_low <= 60 else 10
    out.append('<g class="axis x-axis">')
    for year in range(x_low, x_high + 1):
        if year % step == 0 or step == 1:
            out.append(
                f'<line x1="{x(year):.1f}" x2="{x(year):.1f}" y1="{top + plot_h}" y2="{top + plot_h + 5}"/>'
                f'<text x="{x(year):.1f}" y="{top + plot_h + 20}" text-anchor="middle">{year}</text>'
            )
    out.append(
        f'<text class="axis-title" x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">year</text></g>'
    )
    # legend
    lx = left
    out.append('<g class="legend">')
    for s in series:
        out.append(
            f'<line x1="{lx}" x2="{lx + 24}" y1="18" y2="18" stroke="{s.colour}" stroke-width="3"/>'
            f'<circle cx="{lx + 12}" cy="18" r="4" fill="{s.colour}"/>'
            f'<text x="{lx + 30}" y="22">{escape(s.label)}</text>'
        )
        lx += 40 + 8 * len(s.label)
    if any(p.derived for s in series for p in s.points):
        out.append(
            f'<circle cx="{lx + 8}" cy="18" r="5" fill="#fff" stroke="#555" stroke-width="2" '
            f'stroke-dasharray="2 2"/><text x="{lx + 18}" y="22">derived, not printed</text>'
        )
    out.append("</g>")
    for s in series:
        pts = sorted(s.points, key=lambda p: p.year)
        out.append(f'<g class="series" data-series="{escape(s.key)}">')
        for a, b in zip(pts, pts[1:], strict=False):
            if a.value is None or b.value is None:
                continue
            dotted = ' stroke-dasharray="2 5"' if b.year - a.year > 1 else ""
            out.append(
                f'<line x1="{x(a.year):.1f}" y1="{y(a.value):.1f}" x2="{x(b.year):.1f}" y2="{y(b.value):.1f}" '
                f'stroke="{s.colour}" stroke-width="2.5"{dotted}/>'
            )
        for p in pts:
            if p.value is None:
                continue
            text = f"{s.label} {p.year}: {p.value:,.2f} {unit}" + (f" (derived: {p.note})" if p.derived else "")
            style = (
                f'fill="#fff" stroke="{s.colour}" stroke-width="2.5" stroke-dasharray="3 2" r="6"'
                if p.derived
                else f'fill="{s.colour}" r="{4 if len(pts) > 15 else 5}"'
            )
            out.append(
                f'<circle class="point{" derived" if p.derived else ""}" data-year="{p.year}" '
                f'data-value="{p.value:.2f}" cx="{x(p.year):.1f}" cy="{y(p.value):.1f}" {style}>'
                f"<title>{escape(text)}</title></circle>"
            )
            if len(pts) <= 8:  # few points: write each value beside its marker
                out.append(
                    f'<text class="point-label" x="{x(p.year) + 9:.1f}" y="{y(p.value) + 4:.1f}" >{p.value:,.2f}</text>'
                )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(testid: str, title: str, bars: Sequence[Bar], unit: str, colour: str, label_width: int = 350) -> str:
    """Horizontal bars from zero (left for negative values), the value as text at the right of each bar."""
    width, row = 960, 28
    left, right, top, bottom = label_width, 180, 10, 44
    height = top + bottom + row * max(len(bars), 1)
    plot_w = width - left - right
    out = _svg_open(testid, title, width, height)
    if not bars:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no figures</text></svg>')
        return "\n".join(out)
    values = [b.value for b in bars]
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    low, high = ticks[0], ticks[-1]

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * plot_w

    bottom_y = top + row * len(bars)
    out.append('<g class="axis x-axis">')
    for tick in ticks:
        out.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{bottom_y}" '
            f'class="{"zero" if tick == 0 else "grid"}"/>'
            f'<text x="{x(tick):.1f}" y="{bottom_y + 16}" text-anchor="middle">{_tick_label(tick)}</text>'
        )
    out.append(
        f'<text class="axis-title" x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">'
        f"{escape(unit)}</text></g>"
    )
    for i, b in enumerate(bars):
        y0 = top + i * row
        x0, x1 = sorted((x(0), x(b.value)))
        label = b.label if len(b.label) <= 46 else b.label[:44].rstrip() + "…"
        tip = f"{b.label}: {b.text}" + (f" ({b.note})" if b.note else "")
        out.append(
            f'<g class="bar" data-key="{escape(b.key)}" data-value="{b.value:.4f}"><title>{escape(tip)}</title>'
            f'<text x="{left - 8}" y="{y0 + row / 2 + 4:.1f}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{x0:.1f}" y="{y0 + 4}" width="{max(x1 - x0, 1):.1f}" height="{row - 8}" fill="{colour}"/>'
            f'<text class="value" x="{max(x(b.value), x(0)) + 6:.1f}" y="{y0 + row / 2 + 4:.1f}">'
            f"{escape(b.text)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def share_bars(testid: str, title: str, bars: Sequence[Bar]) -> str:
    """Each part as a filled share of a 100 % bar (the rest in grey), its label above the bar."""
    width, row = 960, 58
    left, right = 16, 16
    height = 34 + row * max(len(bars), 1)
    plot_w = width - left - right
    out = _svg_open(testid, title, width, height)
    for i, b in enumerate(bars):
        y0 = 8 + i * row
        share = min(max(b.value, 0.0), 100.0)
        filled = plot_w * share / 100
        tip = f"{b.label}: {b.text}" + (f" ({b.note})" if b.note else "")
        out.append(
            f'<g class="bar" data-key="{escape(b.key)}" data-value="{b.value:.4f}"><title>{escape(tip)}</title>'
            f'<text x="{left}" y="{y0 + 12}">{escape(b.label)}</text>'
            f'<rect x="{left}" y="{y0 + 20}" width="{plot_w}" height="24" fill="{REST_COLOUR}"/>'
            f'<rect x="{left}" y="{y0 + 20}" width="{filled:.1f}" height="24" fill="{SHARE_COLOUR}"/>'
            f'<text class="on-bar" x="{left + 8}" y="{y0 + 37}">{escape(b.text)}</text></g>'
        )
    out.append(
        f'<g class="axis"><text x="{left}" y="{height - 6}">0 %</text>'
        f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end">100 %</text></g></svg>'
    )
    return "\n".join(out)


def stacked_counts(testid: str, title: str, parts: Sequence[tuple[str, int, str]]) -> str:
    """One bar split into counted parts (label, count, colour), with a legend that states the counts."""
    width, height, left = 960, 76, 16
    plot_w = width - 2 * left
    total = sum(count for _, count, _ in parts) or 1
    out = _svg_open(testid, title, width, height)
    x0 = float(left)
    lx = left
    for label, count, colour in parts:
        w = plot_w * count / total
        out.append(
            f'<g class="part" data-key="{escape(label)}" data-count="{count}"><title>{escape(label)}: {count}</title>'
            f'<rect x="{x0:.1f}" y="8" width="{w:.1f}" height="28" fill="{colour}"/>'
            f'<rect x="{lx}" y="52" width="14" height="14" fill="{colour}"/>'
            f'<text x="{lx + 20}" y="64">{escape(label)}: {count}</text></g>'
        )
        x0 += w
        lx += 40 + 9 * len(f"{label}: {count}")
    out.append("</svg>")
    return "\n".join(out)


def timeline_chart(testid: str, title: str, items: Sequence[tuple[str, str]], marker: tuple[str, str] | None) -> str:
    """A dot per (label, ISO date) on a time axis, with an optional vertical marker (label, ISO date)."""
    width, row = 960, 26
    left, right, top, bottom = 230, 120, 28, 40
    height = top + bottom + row * max(len(items), 1)
    plot_w = width - left - right
    dates = [d for _, d in items if d] + ([marker[1]] if marker else [])
    out = _svg_open(testid, title, width, height)
    if not dates:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no runs yet</text></svg>')
        return "\n".join(out)

    def year_of(iso: str) -> float:
        day = datetime.fromisoformat(iso[:10])
        start = datetime(day.year, 1, 1)
        return day.year + (day - start).days / 366

    low, high = math.floor(min(map(year_of, dates))), math.ceil(max(map(year_of, dates)) + 1e-9)
    high = max(high, low + 1)
    step = 1 if high - low <= 15 else 2 if high - low <= 30 else 5

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * plot_w

    bottom_y = top + row * len(items)
    out.append('<g class="axis x-axis">')
    for year in range(low, high + 1):
        if year % step == 0:
            out.append(
                f'<line x1="{x(year):.1f}" x2="{x(year):.1f}" y1="{top}" y2="{bottom_y}" class="grid"/>'
                f'<text x="{x(year):.1f}" y="{bottom_y + 16}" text-anchor="middle">{year}</text>'
            )
    out.append(
        f'<text class="axis-title" x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">'
        "release date of the latest vintage held</text></g>"
    )
    for i, (label, iso) in enumerate(items):
        y0 = top + i * row + row / 2
        out.append(f'<g class="item" data-key="{escape(label)}"><title>{escape(label)}: {escape(iso or "n/a")}</title>')
        out.append(f'<text x="{left - 8}" y="{y0 + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        if iso:
            out.append(
                f'<circle cx="{x(year_of(iso)):.1f}" cy="{y0:.1f}" r="6" fill="{EXPORTS_COLOUR}"/>'
                f'<text x="{x(year_of(iso)) + 10:.1f}" y="{y0 + 4:.1f}">{escape(iso)}</text>'
            )
        out.append("</g>")
    if marker:
        mx = x(year_of(marker[1]))
        out.append(
            f'<g class="marker"><line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top - 8}" y2="{bottom_y}" '
            f'stroke="{DEFICIT_COLOUR}" stroke-width="2" stroke-dasharray="4 3"/>'
            f'<text x="{mx:.1f}" y="{top - 12}" text-anchor="end" fill="{DEFICIT_COLOUR}">'
            f"{escape(marker[0])}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def table(
    testid: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Sequence[int] = (),
    nowrap: Sequence[int] = (),
) -> str:
    """An HTML table of formatted (not yet escaped) cells; ``numeric`` columns right-aligned, ``nowrap`` kept whole."""

    def cell(tag: str, i: int, text: str) -> str:
        classes = " ".join(c for c, on in (("num", i in numeric), ("nowrap", i in nowrap)) if on)
        align = f' class="{classes}"' if classes else ""
        return f"<{tag}{align}>{escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "\n".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f'<table data-testid="{escape(testid)}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _section(testid: str, heading: str, body: str) -> str:
    return f'<section data-testid="{escape(testid)}">\n<h2>{escape(heading)}</h2>\n{body}\n</section>'


def _caption(text: str) -> str:
    return f'<p class="caption">{escape(text)}</p>'


# --- reading the warehouse ------------------------------------------------------------------------------------


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]:
    cursor = con.execute(sql, list(params))
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


def _name_of_country(con: duckdb.DuckDBPyConnection, iso3: str) -> str:
    rows = con.execute("select name from core.dim_country where iso3 = ?", [iso3]).fetchall()
    return str(rows[0][0]) if rows and rows[0][0] else iso3


def _source_label(con: duckdb.DuckDBPyConnection, source_id: str) -> str:
    rows = con.execute("select publisher from core.dim_source where source_id = ?", [source_id]).fetchall()
    return f"{rows[0][0]} ({source_id})" if rows and rows[0][0] else source_id


def focus_year(con: duckdb.DuckDBPyConnection) -> int | None:
    """The latest year in which the reporter's technology exports and imports are both known (the article's)."""
    rows = con.execute(
        "select max(year) from marts.trade_balance where reporter = ? and partner = ? "
        "and measure = 'technology_contract_value' and balance is not null",
        [REPORTER, WORLD],
    ).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


def _utc(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, datetime):
        stamp = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


# --- the sections ---------------------------------------------------------------------------------------------


def section_technology_balance(con: duckdb.DuckDBPyConnection) -> str:
    """(a) China's technology trade (contract value): exports, imports and balance by year, derived points marked."""
    rows = _rows(
        con,
        "select source_id, year, exports, imports, balance, coalesce(is_exports_derived, false) as exports_derived, "
        "coalesce(is_imports_derived, false) as imports_derived, derivation from marts.trade_balance "
        "where reporter = ? and partner = ? and measure = 'technology_contract_value' and period_type = 'year' "
        "order by year",
        [REPORTER, WORLD],
    )
    if not rows:
        empty = line_chart("chart-technology-balance", "China's technology trade: no figures", (), "bn US$")
        return _section(
            "section-technology-balance",
            "Technology trade balance",
            empty + _caption("No technology contract figures."),
        )

    def point(r: dict[str, object], column: str, derived: bool) -> Point:
        value = r[column]
        return Point(int(r["year"]), None if value is None else float(value) / BN, derived, str(r["derivation"] or ""))

    series = (
        Series(
            "exports", "Exports", EXPORTS_COLOUR, tuple(point(r, "exports", bool(r["exports_derived"])) for r in rows)
        ),
        Series(
            "imports", "Imports", IMPORTS_COLOUR, tuple(point(r, "imports", bool(r["imports_derived"])) for r in rows)
        ),
        Series(
            "balance",
            "Balance",
            BALANCE_COLOUR,
            tuple(point(r, "balance", bool(r["exports_derived"] or r["imports_derived"])) for r in rows),
        ),
    )
    years = f"{rows[0]['year']}-{rows[-1]['year']}"
    chart = line_chart(
        "chart-technology-balance",
        f"China's technology trade by contract value, {years}: exports, imports and balance (bn US$)",
        series,
        "bn US$",
    )

    def flagged(value: object, derived: object) -> str:
        return bn(value) + (" (derived)" if derived and value is not None else "")

    body = table(
        "table-technology-balance",
        ["year", "exports", "imports", "balance", "derivation"],
        [
            [
                str(r["year"]),
                flagged(r["exports"], r["exports_derived"]),
                flagged(r["imports"], r["imports_derived"]),
                flagged(r["balance"], r["exports_derived"] or r["imports_derived"]),
                str(r["derivation"] or "printed"),
            ]
            for r in rows
        ],
        numeric=(1, 2, 3),
    )
    caption = _caption(
        f"Contract value of registered technology import and export contracts, {_name_of_country(con, REPORTER)}, "
        f"as the release counts it ({_source_label(con, str(rows[0]['source_id']))}). Hollow dashed markers are "
        "derived (not printed): the table says how. A dotted line spans years with no figure; n/a is not published "
        "and not derivable (never zero)."
    )
    return _section("section-technology-balance", f"Technology trade balance, {years}", chart + caption + body)


def section_ip_charges(con: duckdb.DuckDBPyConnection) -> str:
    """(a) The official view: charges for the use of intellectual property (balance of payments), every year held."""
    rows = _rows(
        con,
        "select source_id, vintage, year, exports, imports, balance from marts.trade_balance "
        "where reporter = ? and partner = ? and category = 'ip_charges' and period_type = 'year' "
        "qualify vintage = max(vintage) over () order by year",
        [REPORTER, WORLD],
    )
    if not rows:
        empty = line_chart("chart-ip-charges", "Charges for intellectual property: no figures", (), "bn US$")
        return _section(
            "section-ip-charges", "Charges for intellectual property", empty + _caption("No IP charges figures.")
        )

    def pts(column: str) -> tuple[Point, ...]:
        return tuple(Point(int(r["year"]), None if r[column] is None else float(r[column]) / BN) for r in rows)

    years = f"{rows[0]['year']}-{rows[-1]['year']}"
    chart = line_chart(
        "chart-ip-charges",
        f"China's charges for the use of intellectual property, {years}: receipts, payments, balance (bn US$)",
        (
            Series("exports", "Receipts (exports)", EXPORTS_COLOUR, pts("exports")),
            Series("imports", "Payments (imports)", IMPORTS_COLOUR, pts("imports")),
            Series("balance", "Balance", BALANCE_COLOUR, pts("balance")),
        ),
        "bn US$",
    )
    caption = _caption(
        f"Balance of payments, {_source_label(con, str(rows[0]['source_id']))}, vintage {rows[0]['vintage']}. "
        "A different measure from contract value: the two are never put on one line."
    )
    figures = table(
        "table-ip-charges",
        ["year", "receipts", "payments", "balance"],
        [[str(r["year"]), bn(r["exports"]), bn(r["imports"]), bn(r["balance"])] for r in rows],
        numeric=(1, 2, 3),
    )
    body = chart + caption + f"<details><summary>The figures ({len(rows)} years)</summary>{figures}</details>"
    return _section("section-ip-charges", f"Charges for the use of intellectual property, {years}", body)


def section_composition(con: duckdb.DuckDBPyConnection) -> str:
    """(b) What technology trade is made of: software in exports (and any other part the release states)."""
    rows = _rows(
        con,
        "select c.source_id, c.reporter, c.base_reporter, c.period, c.flow, c.category, c.base_category, "
        "c.value_usd, c.base_value_usd, c.share_pct, c.is_value_derived, c.is_share_derived, c.derivation, "
        "coalesce(part.name, c.category) as category_name, coalesce(whole.name, c.base_category) as base_name "
        "from marts.trade_composition as c "
        "left join core.dim_category as part on part.classification = c.classification and part.category = c.category "
        "left join core.dim_category as whole "
        "on whole.classification = c.classification and whole.category = c.base_category "
        "where c.measure = 'technology_contract_value' and c.base_reporter = ? "
        "order by c.flow = 'export' desc, c.period desc, c.share_pct desc",
        [REPORTER],
    )
    flows = {"export": "technology exports", "import": "technology imports", "total": "total technology trade"}
    bars, cells = [], []
    for r in rows:
        flow = flows.get(str(r["flow"]), str(r["flow"]))
        base = _name_of_country(con, str(r["base_reporter"]))
        if r["reporter"] != r["base_reporter"]:
            label = f"{_name_of_country(con, str(r['reporter']))} in {base}'s {flow}, {r['period']}"
        else:
            label = f"{r['category_name']} in {base}'s {flow}, {r['period']}"
        value_text = bn(r["value_usd"]) + (" (derived)" if r["is_value_derived"] else "")
        text = f"{pct(r['share_pct'])}: {value_text} of {bn(r['base_value_usd'])}"
        bars.append(Bar(label, float(r["share_pct"] or 0), text, str(r["derivation"] or ""), str(r["category"])))
        cells.append(
            [
                label,
                pct(r["share_pct"]) + (" (computed)" if r["is_share_derived"] else " (printed)"),
                value_text,
                bn(r["base_value_usd"]),
                str(r["derivation"] or ""),
            ]
        )
    chart = share_bars("chart-technology-composition", "Shares of China's technology trade (contract value)", bars)
    body = (
        chart
        + _caption(
            "Contract value, as the release states it. A printed share gives the value of the part (derived: share x "
            "the whole); the grey rest of each bar is everything else in the whole."
        )
        + table("table-technology-composition", ["part", "share", "value", "of", "derivation"], cells, (1, 2, 3))
    )
    return _section("section-technology-composition", "What technology trade is made of", body)


def section_goods_composition(con: duckdb.DuckDBPyConnection) -> str:
    """(b) China's goods exports to the USA by SITC section (customs value), in the report's year."""
    year = focus_year(con)
    candidates = _rows(
        con,
        "select distinct source_id, partner, period, classification from marts.goods_composition "
        "where reporter = ? and partner <> ? and flow = 'export' and classification like 'SITC%' "
        "order by (period = cast(? as varchar)) desc, period desc, partner",
        [REPORTER, WORLD, str(year)],
    )
    if not candidates:
        empty = bar_chart("chart-goods-composition", "Goods exports: no figures", (), "%", EXPORTS_COLOUR)
        return _section(
            "section-goods-composition", "Goods exports by SITC section", empty + _caption("No SITC goods figures.")
        )
    pick = candidates[0]
    rows = _rows(
        con,
        "select section, any_value(section_name) as section_name, any_value(section_value_usd) as value_usd, "
        "any_value(section_share_of_total_pct) as share_pct, any_value(total_value_usd) as total_usd, "
        "any_value(published_total_usd) as published_usd "
        "from marts.goods_composition where source_id = ? and reporter = ? and partner = ? and period = ? "
        "and flow = 'export' and classification = ? group by section order by share_pct desc nulls last",
        [pick["source_id"], REPORTER, pick["partner"], pick["period"], pick["classification"]],
    )
    partner = _name_of_country(con, str(pick["partner"]))
    bars = [
        Bar(
            f"{r['section'] or '?'} {r['section_name'] or 'not in the commodity list'}",
            float(r["share_pct"] or 0),
            f"{pct(r['share_pct'])} ({bn(r['value_usd'])})",
            key=str(r["section"]),
        )
        for r in rows
    ]
    total = rows[0]["total_usd"] if rows else None
    chart = bar_chart(
        "chart-goods-composition",
        f"China's goods exports to {partner} by SITC section, {pick['period']}: share of the total (%)",
        bars,
        "share of all exports to the partner (%)",
        EXPORTS_COLOUR,
    )
    published = rows[0]["published_usd"] if rows else None
    caption = _caption(
        f"Customs value, {pick['classification']} divisions summed into sections, "
        f"{_source_label(con, str(pick['source_id']))}. "
        f"Total of the divisions: {bn(total)}"
        + (f"; the publisher's printed total: {bn(published)}." if published is not None else ".")
    )
    cells = [[bar.label, pct(r["share_pct"]), bn(r["value_usd"])] for bar, r in zip(bars, rows, strict=True)]
    body = chart + caption + table("table-goods-composition", ["SITC section", "share", "value"], cells, (1, 2))
    return _section(
        "section-goods-composition", f"China's goods exports to {partner} by SITC section, {pick['period']}", body
    )


def largest_deficits(
    con: duckdb.DuckDBPyConnection, limit: int = TOP_DEFICITS
) -> tuple[str, str, list[dict[str, object]]]:
    """The largest customs-value deficits of the reporter: by partner, or by 2-digit code where one partner exists.

    Returns:
        ``("partner" | "category", the caption, the rows)``; rows hold ``key``, ``label``, ``exports``,
        ``imports``, ``balance`` (US$), most negative first.
    """
    base = (
        "from marts.trade_balance as t left join core.dim_country as c on c.iso3 = t.partner "
        "where t.reporter = ? and t.measure = 'customs_value' and t.partner <> ? "
        "and not coalesce(c.is_aggregate, false) and t.balance is not null"
    )
    year = focus_year(con)
    partners = [r[0] for r in con.execute(f"select distinct t.partner {base} order by 1", [REPORTER, WORLD]).fetchall()]
    if not partners:
        return "category", "No customs figures by partner.", []
    reporter = _name_of_country(con, REPORTER)
    if len(partners) > 1:
        years = [r[0] for r in con.execute(f"select distinct t.year {base}", [REPORTER, WORLD]).fetchall()]
        chosen = year if year in years else max(years)
        rows = _rows(
            con,
            "with level as ("
            "select t.partner, t.classification, t.source_id, "
            "max(t.balance) filter (where t.category = 'TOTAL') as total_balance, "
            "max(t.exports) filter (where t.category = 'TOTAL') as total_exports, "
            "max(t.imports) filter (where t.category = 'TOTAL') as total_imports, "
            "sum(t.balance) filter (where length(t.category) = 2) as code_balance, "
            "sum(t.exports) filter (where length(t.category) = 2) as code_exports, "
            "sum(t.imports) filter (where length(t.category) = 2) as code_imports "
            f"{base} and t.year = ? group by t.partner, t.classification, t.source_id "
            "qualify row_number() over (partition by t.partner order by total_balance is null, t.classification) = 1)"
            "select level.partner as key, coalesce(c.name, level.partner) as label, "
            "coalesce(total_exports, code_exports) as exports, coalesce(total_imports, code_imports) as imports, "
            "coalesce(total_balance, code_balance) as balance "
            "from level left join core.dim_country as c on c.iso3 = level.partner "
            "where coalesce(total_balance, code_balance) < 0 order by balance limit ?",
            [REPORTER, WORLD, chosen, limit],
        )
        caption = (
            f"{reporter}'s goods trade deficits by partner, {chosen} (customs value; a partner's printed total, "
            "or the sum of its 2-digit codes): the largest first."
        )
        return "partner", caption, rows
    partner = _name_of_country(con, partners[0])
    # one source and classification, in the report's year where it has 2-digit codes (else their latest year)
    levels = con.execute(
        f"select t.year, t.source_id, t.classification, count(*) {base} and length(t.category) = 2 "
        "group by t.year, t.source_id, t.classification "
        "order by t.year = ? desc, t.year desc, count(*) desc, t.source_id, t.classification limit 1",
        [REPORTER, WORLD, year],
    ).fetchall()
    if not levels:
        return "category", f"No 2-digit customs figures for {reporter} and {partner}.", []
    chosen, source_id, cls = int(levels[0][0]), str(levels[0][1]), str(levels[0][2])
    rows = _rows(
        con,
        "select t.category as key, trim(t.category || ' ' || coalesce(any_value(d.name), '')) as label, "
        "sum(t.exports) as exports, sum(t.imports) as imports, sum(t.balance) as balance "
        "from marts.trade_balance as t left join core.dim_country as c on c.iso3 = t.partner "
        "left join core.dim_commodity as d on d.code = t.category and d.level in ('chapter', 'division') "
        "and d.family = case when t.classification like 'HS%' then 'HS' when t.classification like 'SITC%' "
        "then 'SITC' end "
        "where t.reporter = ? and t.measure = 'customs_value' and t.partner <> ? "
        "and not coalesce(c.is_aggregate, false) and t.balance is not null "
        "and t.year = ? and t.source_id = ? and t.classification = ? and length(t.category) = 2 "
        "group by t.category having sum(t.balance) < 0 order by balance limit ?",
        [REPORTER, WORLD, chosen, source_id, cls, limit],
    )
    family = "SITC division" if cls.startswith("SITC") else "HS chapter" if cls.startswith("HS") else "code"
    caption = (
        f"By category, not by partner: the warehouse's customs figures of {reporter} have one partner only "
        f"({partner}), so these are {reporter}'s largest deficits with {partner} by {family} ({cls}, 2-digit), "
        f"{chosen}, from {_source_label(con, source_id)}: the largest first."
    )
    return "category", caption, rows


def section_largest_deficits(con: duckdb.DuckDBPyConnection) -> str:
    """(c) The largest deficits by partner, or by category where only one partner exists (the caption says which)."""
    mode, caption, rows = largest_deficits(con)
    bars = [
        Bar(
            str(r["label"]),
            float(r["balance"]) / BN,
            bn(r["balance"]),
            f"exports {bn(r['exports'])}, imports {bn(r['imports'])}",
            str(r["key"]),
        )
        for r in rows
    ]
    chart = bar_chart(
        "chart-largest-deficits",
        f"Largest goods trade deficits by {mode} (bn US$)",
        bars,
        "balance: exports - imports (bn US$)",
        DEFICIT_COLOUR,
    )
    cells = [[str(r["label"]), bn(r["exports"]), bn(r["imports"]), bn(r["balance"])] for r in rows]
    body = (
        f'<p class="caption" data-testid="caption-largest-deficits" data-mode="{mode}">{escape(caption)}</p>'
        + chart
        + table("table-largest-deficits", [mode, "exports", "imports", "balance"], cells, (1, 2, 3))
    )
    return _section("section-largest-deficits", f"Largest deficits by {mode}", body)


def _print_scale(claimed: float | None, printed: str) -> float:
    try:
        number = float(printed)
    except ValueError:
        return 1.0
    if not claimed or not number:
        return 1.0
    return 10 ** round(math.log10(abs(claimed / number)))


def _decimals(printed: str) -> int:
    return len(printed.split(".", 1)[1]) if "." in printed else 0


def claim_text(unit: str, value: float | None, scale: float, decimals: int, exact: bool = False) -> str:
    """A value in the scale a claim was printed in: ``53.56 bn US$``, ``580 m US$``, ``12.6 %``.

    ``exact`` keeps the printed number of decimals (for the claim as printed); otherwise a recomputed value
    gets at least 2 decimals in bn, 1 in percent.
    """
    if value is None:
        return "n/a"
    if unit == "percent":
        return f"{value:,.{decimals if exact else max(decimals, 1)}f} %"
    if unit == "USD":
        name = {1e9: "bn US$", 1e6: "m US$", 1e3: "thousand US$"}.get(scale, f"x {scale:g} US$")
        return f"{value:,.{decimals if exact else max(decimals, 2 if scale >= 1e9 else 0)}f} {name}"
    return f"{value:,.{decimals}f} {unit}"


def section_claim_checks(con: duckdb.DuckDBPyConnection) -> str:
    """(d) Every figure of the release with the recomputed value and the verdict at its printed precision."""
    rows = _rows(
        con,
        "select figure_id, quote, value_printed, comparator, unit, flow, claimed_value, recomputed_value, "
        "recomputed_in_print_scale, verdict, verdict_basis, recomputed_from, source_id "
        "from marts.claim_checks order by verdict, figure_id",
    )
    counts = {v: 0 for v in VERDICT_COLOURS}
    for r in rows:
        counts[str(r["verdict"])] = counts.get(str(r["verdict"]), 0) + 1
    chart = stacked_counts(
        "chart-claim-verdicts",
        "Verdicts on the figures the release states",
        [(v, n, VERDICT_COLOURS.get(v, "#666")) for v, n in counts.items()],
    )
    lines = []
    for r in rows:
        printed = str(r["value_printed"])
        scale = _print_scale(r["claimed_value"], printed)
        decimals = _decimals(printed)
        symbol = {"=": "", "~": "~ "}.get(str(r["comparator"]), f"{r['comparator']} ")
        as_printed = float(printed) if _is_number(printed) else None
        claimed = symbol + claim_text(str(r["unit"]), as_printed, scale, decimals, exact=True)
        if r["flow"] == "balance" and (r["claimed_value"] or 0) < 0 and not printed.startswith("-"):
            claimed += " deficit"
        recomputed = claim_text(str(r["unit"]), r["recomputed_in_print_scale"], scale, decimals)
        verdict = str(r["verdict"])
        lines.append(
            f'<tr data-figure-id="{escape(str(r["figure_id"]))}">'
            f'<td><q>{escape(str(r["quote"]))}</q><br><span class="id">{escape(str(r["figure_id"]))}</span></td>'
            f'<td class="num">{escape(claimed)}</td>'
            f'<td class="num">{escape(recomputed)}</td>'
            f'<td><span class="verdict {escape(verdict)}" data-verdict="{escape(verdict)}">'
            f"{escape(verdict)}</span></td>"
            f"<td>{escape(str(r['verdict_basis'] or ''))}"
            + (f'<br><span class="from">{escape(str(r["recomputed_from"]))}</span>' if r["recomputed_from"] else "")
            + "</td></tr>"
        )
    source = _source_label(con, str(rows[0]["source_id"])) if rows else ""
    body = (
        chart
        + _caption(
            f"Each figure {source} states, against the value the warehouse recomputes without the claim itself. "
            "The verdict follows from the precision each figure was printed with: the basis column states the test."
        )
        + '<table data-testid="table-claim-checks"><thead><tr><th>claim</th><th class="num">printed</th>'
        '<th class="num">recomputed</th><th>verdict</th><th>basis</th></tr></thead><tbody>\n'
        + "\n".join(lines)
        + "\n</tbody></table>"
    )
    return _section("section-claim-checks", "Do the figures in the press hold up?", body)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def section_freshness(con: duckdb.DuckDBPyConnection) -> str:
    """(e) Per source: the last run and its status, the last load, the vintage held and the rows loaded."""
    rows = _rows(
        con,
        "with runs as ("
        "select s.*, l.started_at, l.finished_at from audit.source_runs as s "
        "join audit.load_runs as l using (run_id)), "
        "last_run as (select * from runs qualify row_number() over (partition by source_id "
        "order by started_at desc, run_id desc) = 1), "
        "last_load as (select * from runs where status = 'loaded' qualify row_number() over (partition by source_id "
        "order by started_at desc, run_id desc) = 1), "
        "held as (select source_id, max(vintage) as vintage from core.fct_trade_figure where is_latest_vintage "
        "group by 1) "
        "select d.source_id, d.publisher, r.started_at as last_run, r.status as last_status, r.message, "
        "l.finished_at as last_loaded, l.vintages as loaded_vintages, l.rows_read, l.rows_valid, l.rows_rejected, "
        "l.rows_loaded, h.vintage, f.freshness_status, f.freshness_of, f.age_hours, f.warn_after_hours, "
        "f.error_after_hours "
        "from core.dim_source as d left join last_run as r using (source_id) "
        "left join last_load as l using (source_id) left join held as h using (source_id) "
        "left join audit.source_freshness as f using (source_id) order by d.source_id",
    )
    latest = _rows(
        con,
        "select run_id, started_at, finished_at, status from audit.load_runs order by started_at desc, run_id desc "
        "limit 1",
    )

    def count(value: object) -> str:
        return "n/a" if value is None else f"{int(value):,}"

    def fresh(r: dict[str, object]) -> str:
        """The catalogue's threshold verdict: 'warn: 60 h since the last fetch (warn 48 h, error 192 h)'."""
        if r["freshness_status"] in (None, "no threshold"):
            return "no threshold"
        limits = ", ".join(
            f"{name} {r[key]:,.0f} h"
            for name, key in (("warn", "warn_after_hours"), ("error", "error_after_hours"))
            if r[key] is not None
        )
        since = "the newest vintage" if r["freshness_of"] == "vintage" else "the last fetch"
        age = "never" if r["age_hours"] is None else f"{r['age_hours']:,.0f} h since {since}"
        return f"{r['freshness_status']}: {age} ({limits})"

    cells = [
        [
            str(r["source_id"]),
            _utc(r["last_run"]),
            str(r["last_status"] or "never run") + (f" ({r['message']})" if r["message"] else ""),
            _utc(r["last_loaded"]),
            str(r["vintage"] or "n/a"),
            count(r["rows_read"]),
            count(r["rows_rejected"]),
            count(r["rows_loaded"]),
            fresh(r),
        ]
        for r in rows
    ]
    marker = None
    if latest and latest[0]["started_at"] is not None:
        marker = (f"last run {_utc(latest[0]['started_at'])[:10]}", _utc(latest[0]["started_at"])[:10])
    chart = timeline_chart(
        "chart-freshness",
        "Release date of the latest vintage held, by source, against the last run",
        [(str(r["source_id"]), str(r["vintage"]) if r["vintage"] else "") for r in rows],
        marker,
    )
    body = (
        chart
        + _caption(
            "Last run: the latest load that looked at the source (skipped = its payload had not changed). Last "
            "loaded: the latest run that parsed and loaded it, with its rows read, rejected (quarantined) and loaded. "
            "Freshness: the catalogue's [source.freshness] thresholds against the age when this page was written "
            "(audit.source_freshness; `tradewh freshness`)."
        )
        + table(
            "table-freshness",
            ["source", "last run", "status", "last loaded", "vintage", "rows read", "rejected", "loaded", "freshness"],
            cells,
            numeric=(5, 6, 7),
            nowrap=(1, 3, 4),
        )
    )
    return _section("section-freshness", "Data freshness by source", body)


def _sources_footer(con: duckdb.DuckDBPyConnection) -> str:
    rows = _rows(
        con, "select source_id, publisher, title, licence, attribution, homepage from core.dim_source order by 1"
    )
    items = "\n".join(
        f"<li><b>{escape(str(r['source_id']))}</b>: {escape(str(r['title'] or ''))}. "
        f"{escape(str(r['attribution'] or ''))}"
        f" ({escape(str(r['licence'] or ''))}){'; ' + escape(str(r['homepage'])) if r['homepage'] else ''}</li>"
        for r in rows
    )
    return f'<footer data-testid="sources"><h2>Sources</h2><ul>{items}</ul></footer>'


CSS = """
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #1a1a1a;
  background: #fff; margin: 0 auto; padding: 24px 32px 48px; max-width: 1000px; line-height: 1.45; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; border-bottom: 2px solid #e5e5e5; padding-bottom: 4px; }
.meta, .caption { color: #4d4d4d; font-size: 13px; }
.caption { margin: 4px 0 12px; }
svg.chart { display: block; width: 100%; height: auto; margin: 8px 0; font-size: 13px; }
svg.chart text { fill: #1a1a1a; }
svg.chart .grid { stroke: #e6e6e6; stroke-width: 1; }
svg.chart .zero { stroke: #808080; stroke-width: 1.5; }
svg.chart .x-axis line { stroke: #b3b3b3; }
svg.chart .axis-title { fill: #4d4d4d; font-size: 12px; }
svg.chart text.on-bar { fill: #fff; font-weight: bold; paint-order: stroke; stroke: #00000055; stroke-width: 2px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0 4px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
th { background: #f5f5f5; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
q { font-style: italic; }
.id, .from { color: #666; font-size: 12px; }
.verdict { padding: 1px 8px; border-radius: 8px; color: #fff; font-weight: bold; font-size: 12px; }
.verdict.consistent { background: #007a5a; }
.verdict.inconsistent { background: #b34700; }
.verdict.unverifiable { background: #737373; }
details summary { cursor: pointer; color: #0059a0; font-size: 13px; }
footer li { font-size: 12px; color: #4d4d4d; }
"""


def build_report(warehouse: Path) -> str:
    """The report page of a published warehouse, opened read-only.

    Args:
        warehouse: the published DuckDB file.

    Returns:
        One self-contained HTML page (inline CSS and SVG; nothing to fetch).

    Raises:
        ReportError: no warehouse at that path, or it cannot be read.
    """
    if not warehouse.is_file():
        raise ReportError(f"no warehouse at {warehouse} yet: run `tradewh load` first")
    try:
        with connect_read_only(warehouse) as con:
            sections = [
                section_technology_balance(con),
                section_ip_charges(con),
                section_composition(con),
                section_goods_composition(con),
                section_largest_deficits(con),
                section_claim_checks(con),
                section_freshness(con),
            ]
            footer = _sources_footer(con)
            run = _rows(
                con,
                "select run_id, finished_at, status from audit.load_runs order by started_at desc, run_id desc limit 1",
            )
    except duckdb.Error as exc:
        raise ReportError(f"cannot read the warehouse {warehouse}: {exc} (run `tradewh load` to rebuild it)") from exc
    meta = (
        f"Published by run {run[0]['run_id']} ({run[0]['status']}), finished {_utc(run[0]['finished_at'])}."
        if run
        else "No load run recorded."
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>tradewh report: China's technology trade deficit</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        "<header><h1>China's technology trade deficit: the figures</h1>\n"
        '<p class="meta">Every number below is read from the warehouse\'s marts when the page is built. '
        f"{escape(meta)} "
        "Amounts in billions of US dollars (bn US$), shares in percent (%).</p></header>\n"
        + "\n".join(sections)
        + "\n"
        + footer
        + "\n</body>\n</html>\n"
    )


def write_report(warehouse: Path, out: Path) -> Path:
    """Write the report to ``out`` (under a temporary name, then renamed) and return the path written."""
    page = build_report(warehouse)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, out)
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc}; pass another --out") from exc
    return out
