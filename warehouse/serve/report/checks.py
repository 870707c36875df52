"""The sections about the figures themselves: do the printed claims hold up, and how fresh is each source."""

from __future__ import annotations

import math

import duckdb

from warehouse.serve.report import charts
from warehouse.serve.report.model import Chart, Section, Table, utc
from warehouse.serve.report.queries import Focus, run
from warehouse.serve.report.sections import source_label


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


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


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


def claim_checks(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """Every printed figure about the reporter with the recomputed value and the verdict at its printed precision."""
    rows = run(con, "claim_checks", reporter=focus.reporter)
    if not rows:
        return None
    counts = dict.fromkeys(charts.VERDICT_COLOURS, 0)
    for r in rows:
        counts[str(r["verdict"])] = counts.get(str(r["verdict"]), 0) + 1
    chart = charts.count_chart(
        "Verdicts on the figures the release states",
        [(v, n, charts.VERDICT_COLOURS.get(v, "#666666")) for v, n in counts.items()],
    )
    cells, keys = [], []
    for r in rows:
        printed = str(r["value_printed"])
        scale = _print_scale(r["claimed_value"], printed)
        decimals = _decimals(printed)
        symbol = {"=": "", "~": "~ "}.get(str(r["comparator"]), f"{r['comparator']} ")
        claimed = symbol + claim_text(str(r["unit"]), _number(printed), scale, decimals, exact=True)
        if r["flow"] == "balance" and (r["claimed_value"] or 0) < 0 and not printed.startswith("-"):
            claimed += " deficit"
        recomputed = claim_text(str(r["unit"]), r["recomputed_in_print_scale"], scale, decimals)
        keys.append(str(r["figure_id"]))
        mismatch = str(r["mismatch"] or "") if r["verdict"] == "indicative" else ""
        basis = str(r["verdict_basis"] or "").removesuffix(f"; only indicative: {mismatch}")  # in its own column
        cells.append(
            [
                str(r["quote"]),
                str(r["figure_id"]),
                claimed,
                recomputed,
                str(r["verdict"]),
                basis,
                mismatch,
                str(r["recomputed_from"] or ""),
            ]
        )
    table = Table(
        "table-claim-checks",
        ["claim", "figure", "printed", "recomputed", "verdict", "basis", "why only indicative", "recomputed from"],
        cells,
        numeric=(2, 3),
        keys=keys,
        badge=4,
    )
    caption = (
        f"Each figure {source_label(con, str(rows[0]['source_id']))} states, against the value the warehouse "
        "recomputes without the claim itself. The verdict follows from the kind of claim and the precision it was "
        "printed with: the basis column states the test. Indicative: the comparison mixes measures, vintages or "
        "periods, so it cannot confirm or refute the claim; the next column says which (marts.claim_checks.mismatch)."
    )
    return Section(
        "section-claim-checks", "Do the figures in the press hold up?", [Chart("chart-claim-verdicts", chart)],
        [caption], [table],
    )  # fmt: skip


def _count(value: object) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def _freshness(r: dict[str, object]) -> str:
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


def freshness(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section:
    """Per source: the last run and its status, the last load, the vintage held, the rows, the freshness verdict."""
    rows = run(con, "freshness")
    latest = run(con, "latest_run")
    cells = [
        [
            str(r["source_id"]),
            utc(r["last_run"]),
            str(r["last_status"] or "never run") + (f" ({r['message']})" if r["message"] else ""),
            utc(r["last_loaded"]),
            str(r["vintage"] or "n/a"),
            _count(r["rows_read"]),
            _count(r["rows_rejected"]),
            _count(r["rows_loaded"]),
            _freshness(r),
        ]
        for r in rows
    ]
    marker = None
    if latest and latest[0]["started_at"] is not None:
        day = utc(latest[0]["started_at"])[:10]
        marker = (f"last run {day}", day)
    chart = charts.timeline_chart(
        "Release date of the latest vintage held, by source, against the last run",
        [(str(r["source_id"]), str(r["vintage"]) if r["vintage"] else "") for r in rows],
        marker,
    )
    caption = (
        "Last run: the latest load that looked at the source (skipped = its payload had not changed). Last loaded: "
        "the latest run that parsed and loaded it, with its rows read, rejected (quarantined) and loaded. "
        "Freshness: the catalogue's [source.freshness] thresholds against the age when this page was written "
        "(audit.source_freshness; `tradewh freshness`)."
    )
    table = Table(
        "table-freshness",
        ["source", "last run", "status", "last loaded", "vintage", "rows read", "rejected", "loaded", "freshness"],
        cells,
        numeric=(5, 6, 7),
        nowrap=(1, 3, 4),
    )
    return Section(
        "section-freshness", "Data freshness by source", [Chart("chart-freshness", chart)], [caption], [table]
    )


def partial_losses(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """Per source: the reporters, partners, indicators and years whose every row its last read rejected (a warning
    even under the reject threshold); None when there is none, or the file predates ``audit.partial_losses``."""
    try:
        rows = run(con, "partial_losses")
    except duckdb.CatalogException:
        return None
    if not rows:
        return None
    cells = [
        [
            str(r["source_id"]),
            str(r["status"]),
            str(r["file_name"]),
            "whole file" if r["dimension"] == "file" else f"{r['dimension']} {r['value']} ({r['column_name']})",
            _count(r["rows_rejected"]),
            str(r["rules"] or "see audit.rejected_rows"),
        ]
        for r in rows
    ]
    caption = (
        "Warning: every row of these was rejected (quarantined) when the source was last read, whether or not the "
        "source stayed under its reject threshold and loaded. Every total, share or ranking over them lacks them: "
        "a reporter missing here is missing from every sum across reporters. The rows and the rules they broke are "
        "in audit.rejected_rows; `tradewh check-source ID` prints the catalogue lines that map unknown codes."
    )
    table = Table(
        "table-partial-losses", ["source", "status", "file", "lost", "rows rejected", "rules"], cells, numeric=(4,)
    )
    return Section("section-partial-losses", "Warning: figures lost in whole", [], [caption], [table])
