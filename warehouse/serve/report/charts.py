"""The report's charts: Vega-Lite specifications built with altair, rendered to SVG by vl-convert, offline.

vl-convert runs Vega in an embedded JavaScript engine of its own (no browser, no network): the SVG it returns is
inlined in the page, so the page has no script to run for its charts. External data is refused
(``allowed_base_urls=[]``): every chart's data is inline, built here from the rows the queries returned.

Long labels are wrapped onto several lines (``wrap``), never cut: the axis draws each line (``labelExpr``
splitting on a line break) and the chart grows to hold them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import altair as alt
import vl_convert as vlc

FONT = "DejaVu Sans"  # what the page's text uses (a Debian font); the browser falls back as the CSS says
WIDTH = 820
LABEL_CHARACTERS = 110  # a bar label's line, at most: labels are written above their bars, across the chart
LINE_HEIGHT = 15
BAR_SIZE = 18

EXPORTS_COLOUR = "#0072b2"  # Okabe-Ito palette: distinguishable with colour-blindness
IMPORTS_COLOUR = "#e69f00"
BALANCE_COLOUR = "#222222"
DEFICIT_COLOUR = "#d55e00"
SHARE_COLOUR = "#009e73"
REST_COLOUR = "#d9d9d9"
VERDICT_COLOURS = {
    "consistent": "#009e73", "indicative": "#0072b2", "inconsistent": "#d55e00", "unverifiable": "#999999",
}  # fmt: skip


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
    """One bar: a label, its value in display units, the value as text, a note, a key."""

    label: str
    value: float
    text: str
    note: str = ""
    key: str = ""


XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG element to inline in HTML (namespace declarations dropped: HTML does not need them)."""
    spec = chart.to_dict()
    svg = vlc.vegalite_to_svg(spec, allowed_base_urls=[])
    return XMLNS.sub("", svg, count=2)


def _configure(chart: alt.TopLevelMixin, title: str) -> alt.TopLevelMixin:
    return (
        chart.properties(title=alt.TitleParams(title, anchor="start", fontSize=14, fontWeight="bold", limit=0))
        .configure(font=FONT, background="#ffffff", padding=8)
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=12, titleFontSize=12, titleFontWeight="normal", labelColor="#1a1a1a")
        .configure_legend(labelFontSize=12, orient="top", title=None, labelLimit=0)
    )


def line_chart(title: str, series: Sequence[Series], unit: str) -> str:
    """Years on x, values on y; hollow markers for derived values, a gap where a value is missing.

    Consecutive values one year apart are joined by a solid line, values with years without a row between them
    by a dotted one; a missing value (a row whose value is null) breaks the line.
    """
    points, segments = [], []
    for s in series:
        pts = sorted(s.points, key=lambda p: p.year)
        for p in pts:
            if p.value is not None:
                points.append(
                    {
                        "series": s.label,
                        "year": p.year,
                        "value": round(p.value, 4),
                        "kind": "derived, not printed" if p.derived else "printed",
                        "text": f"{p.value:,.2f}",
                    }
                )
        for i, (a, b) in enumerate(zip(pts, pts[1:], strict=False)):
            if a.value is None or b.value is None:
                continue
            gap = "no figure between" if b.year - a.year > 1 else "consecutive"
            for p in (a, b):
                segments.append(
                    {"series": s.label, "segment": f"{s.key}-{i}", "year": p.year, "value": p.value, "gap": gap}
                )
    years = [p["year"] for p in points]
    colour = alt.Color(
        "series:N",
        scale=alt.Scale(domain=[s.label for s in series], range=[s.colour for s in series]),
        legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=3),
    )
    x = alt.X(
        "year:Q",
        title="year",
        scale=alt.Scale(domain=[min(years) - 0.5, max(years) + 0.5], nice=False, zero=False),
        axis=alt.Axis(format="d", tickMinStep=1, grid=False),
    )
    y = alt.Y("value:Q", title=unit, scale=alt.Scale(zero=True, nice=True))
    lines = (
        alt.Chart(alt.Data(values=segments))
        .mark_line(strokeWidth=2.5)
        .encode(
            x=x,
            y=y,
            color=colour,
            detail="segment:N",
            strokeDash=alt.StrokeDash(
                "gap:N",
                scale=alt.Scale(domain=["consecutive", "no figure between"], range=[[1, 0], [2, 5]]),
                legend=None,
            ),
        )
    )
    marks = (
        alt.Chart(alt.Data(values=points))
        .mark_point(size=60, strokeWidth=2.5, opacity=1)
        .encode(
            x=x,
            y=y,
            color=colour,
            fill=alt.condition("datum.kind == 'printed'", colour, alt.value("#ffffff")),
            shape=alt.Shape(
                "kind:N",
                scale=alt.Scale(domain=["printed", "derived, not printed"], range=["circle", "diamond"]),
                legend=alt.Legend(title=None, symbolStrokeColor="#444444", symbolStrokeWidth=2)
                if any(p["kind"] != "printed" for p in points)
                else None,
            ),
        )
    )
    layers = [lines, marks]
    if len(set(years)) <= 8:  # few years: each value written beside its marker
        layers.append(
            alt.Chart(alt.Data(values=points))
            .mark_text(align="left", dx=8, dy=-6, fontSize=11)
            .encode(x=x, y=y, text="text:N", color=colour)
        )
    chart = alt.layer(*layers).resolve_scale(color="shared").properties(width=WIDTH - 90, height=300)
    return to_svg(_configure(chart, title))


def bar_chart(
    title: str,
    bars: Sequence[Bar],
    unit: str,
    colour: str,
    *,
    share: bool = False,
    colours: dict[str, str] | None = None,
    counts: bool = False,
) -> str:
    """Horizontal bars from zero, each label written in full above its bar (wrapped, never cut), the value beside it.

    ``share``: values are percentages of a whole, drawn on a 0-100 axis over a grey bar for the rest.
    ``colours``: a colour per bar key instead of one colour. ``counts``: whole numbers, ticks at whole numbers.
    """
    rows = [
        {
            "order": i,
            "key": b.key or b.label,
            "lines": textwrap.wrap(b.label, width=LABEL_CHARACTERS, break_long_words=False) or [b.label],
            "value": round(b.value, 6),
            "end": max(b.value, 0.0),
            "text": b.text,
            "whole": 100,
        }
        for i, b in enumerate(bars)
    ]
    lines = max((len(r["lines"]) for r in rows), default=1)
    for r in rows:  # empty lines first: every label's last line sits right above its bar
        r["lines"] = [""] * (lines - len(r["lines"])) + r["lines"]
    step = LINE_HEIGHT * lines + BAR_SIZE + 14  # a bar in the middle of its band, its label's lines above it
    y = alt.Y("order:O", title=None, axis=None, scale=alt.Scale(paddingInner=0, paddingOuter=0.4))
    scale = alt.Scale(domain=[0, 100], nice=False) if share else alt.Scale(zero=True, nice=True)
    axis = alt.Axis(grid=True, format="d", tickMinStep=1) if counts else alt.Axis(grid=True)
    x = alt.X("value:Q", title=unit, scale=scale, axis=axis)
    fill = (
        alt.Color("key:N", scale=alt.Scale(domain=list(colours), range=list(colours.values())), legend=None)
        if colours
        else alt.value(colour)
    )
    base = alt.Chart(alt.Data(values=rows))
    layers = [
        base.mark_text(
            align="left",
            baseline="top",
            dy=-(BAR_SIZE / 2 + 3 + LINE_HEIGHT * lines),
            fontSize=12,
            lineHeight=LINE_HEIGHT,
        ).encode(y=y, x=alt.value(0), text="lines:N")
    ]
    if share:
        layers.append(
            base.mark_bar(color=REST_COLOUR, size=BAR_SIZE).encode(y=y, x=alt.X("whole:Q", scale=scale, title=unit))
        )
    layers.append(base.mark_bar(size=BAR_SIZE).encode(y=y, x=x, color=fill))
    end = alt.X("end:Q", scale=scale, title=unit)
    text = base.mark_text(align="left", dx=6, fontSize=12)
    if share:  # on the grey bar, at its start
        text = base.mark_text(align="left", dx=6, fontSize=12, fontWeight="bold")
        end = alt.value(0)
    layers.append(text.encode(y=y, x=end, text="text:N"))
    chart = alt.layer(*layers).properties(width=WIDTH - (20 if share else 170), height=alt.Step(step))
    return to_svg(_configure(chart, title))


def count_chart(title: str, parts: Sequence[tuple[str, int, str]]) -> str:
    """One bar per counted part (label, count, colour), the count written beside it."""
    bars = [Bar(label, float(count), f"{count}", key=label) for label, count, _ in parts]
    return bar_chart(
        title, bars, "count", "#666666", colours={label: colour for label, _, colour in parts}, counts=True
    )


def timeline_chart(title: str, items: Sequence[tuple[str, str]], marker: tuple[str, str] | None) -> str:
    """A dot per (label, ISO date) on a time axis, with an optional dashed rule at (label, ISO date)."""
    dated = [{"label": label, "date": iso, "text": iso} for label, iso in items if iso]
    labels = [label for label, _ in items]
    y = alt.Y("label:N", sort=labels, title=None, axis=alt.Axis(labelLimit=0, ticks=False))
    x = alt.X("date:T", title="release date of the latest vintage held", scale=alt.Scale(type="utc"),
              axis=alt.Axis(format="%Y", grid=True))  # fmt: skip
    base = alt.Chart(alt.Data(values=dated))
    layers = [
        base.mark_point(filled=True, size=90, color=EXPORTS_COLOUR).encode(x=x, y=y),
        base.mark_text(align="left", dx=9, fontSize=11).encode(x=x, y=y, text="text:N"),
    ]
    if marker:
        rule = alt.Chart(alt.Data(values=[{"date": marker[1], "text": marker[0]}]))
        layers.append(rule.mark_rule(color=DEFICIT_COLOUR, strokeDash=[4, 3], strokeWidth=2).encode(x=x))
        layers.append(
            rule.mark_text(align="right", dx=-4, baseline="top", y=-14, color=DEFICIT_COLOUR, fontSize=11).encode(
                x=x, text="text:N"
            )
        )
    chart = alt.layer(*layers).properties(width=WIDTH - 330, height=alt.Step(24), padding={"right": 90, "top": 20})
    return to_svg(_configure(chart, title))
