"""The sections of the analyses the warehouse exists for (issue 19): the reporter's technology deficit by each
measure, the reporter against its peers, mirror flows as each side reports them, and breaks in series.

Each returns a ``Section``, or None when the warehouse holds nothing for it. Figures of different measures sit side
by side and are never added or subtracted; a missing figure is ``n/a``, never zero.
"""

from __future__ import annotations

import duckdb

from warehouse.serve.report import charts
from warehouse.serve.report.charts import Bar
from warehouse.serve.report.model import Chart, Scale, Section, Table, money, pct, scale_for
from warehouse.serve.report.queries import Focus, country_name, one, run
from warehouse.serve.report.sections import source_label

MIRROR_ROWS = 24
BREAK_ROWS = 10


def reconciliation_year(con: duckdb.DuckDBPyConnection, focus: Focus) -> int | None:
    """The year whose technology balances are shown by measure: the report's year where it has more than one
    measure, else the latest year that has; None when no year has."""
    year = one(con, "reconciliation_year", reporter=focus.reporter, year=focus.year)
    return None if year is None else int(year)


def _flagged(value: float | None, derived: object, scale: Scale) -> str:
    return money(value, scale) + (" (derived)" if derived and value is not None else "")


def deficit_across_measures(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The reporter's technology trade balance by each measure the warehouse holds, in one year: a table and one bar
    per measure (marts.technology_deficit_reconciliation); never a sum or a difference across measures."""
    year = reconciliation_year(con, focus)
    if year is None:
        return None
    rows = run(con, "reconciliation", reporter=focus.reporter, year=year)
    scale = scale_for(v for r in rows for v in (r["exports_usd"], r["imports_usd"], r["balance_usd"]))
    cells = [
        [
            str(r["measure_label"]),
            str(r["source_id"]),
            str(r["definition"] or "n/a"),
            _flagged(r["exports_usd"], r["exports_derived"], scale),
            _flagged(r["imports_usd"], r["imports_derived"], scale),
            _flagged(r["balance_usd"], r["exports_derived"] or r["imports_derived"], scale),
            str(r["what_it_measures"] or "n/a"),
        ]
        for r in rows
    ]
    table = Table(
        "table-deficit-across-measures",
        ["measure", "source", "definition", "exports", "imports", "balance", "what it measures"],
        cells,
        numeric=(3, 4, 5),
    )
    shown = [r for r in rows if r["balance_usd"] is not None]
    bars = [
        Bar(
            f"{r['measure_label']}: {source_label(con, str(r['source_id']))}",
            float(r["balance_usd"]) / scale[0],
            money(r["balance_usd"], scale),
            key=f"{r['display_order']}-{r['source_id']}",
        )
        for r in shown
    ]
    colours = {
        b.key: charts.DEFICIT_COLOUR if float(r["balance_usd"]) < 0 else charts.EXPORTS_COLOUR
        for b, r in zip(bars, shown, strict=True)
    }
    chart = charts.bar_chart(
        f"{focus.reporter_name}'s technology trade balance by measure, {year} ({scale[1]}): one bar per measure, "
        "none added to another",
        bars, f"balance: exports - imports ({scale[1]})", charts.DEFICIT_COLOUR, colours=colours,
    )  # fmt: skip
    derivations = "; ".join(f"{r['measure_label']}: {r['derivation']}" for r in rows if r["derivation"])
    caption = (
        f"{focus.reporter_name}'s technology trade in {year} as each measure counts it, latest vintage of each "
        "(marts.technology_deficit_reconciliation). The measures differ in what they count (contracts signed, "
        "payments made), in scope and in compiler, so the balances sit side by side and are never added, "
        "subtracted or averaged: no row corrects another."
        + (f" Derived (not printed): {derivations}." if derivations else "")
    )
    return Section(
        "section-deficit-across-measures",
        f"The deficit across measures: {focus.reporter_name}, {year}",
        [Chart("chart-deficit-across-measures", chart)],
        [caption],
        [table],
    )


def peers(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The reporter against the other economies of marts.peer_panel in the year of the deficit across measures (else
    the report's year, else the latest): IP charges, digitally-deliverable services, technology balance of payments."""
    wanted = reconciliation_year(con, focus) or focus.year
    year = one(con, "peer_panel_year", reporter=focus.reporter, year=wanted)
    if year is None:
        return None
    rows = run(con, "peer_panel", reporter=focus.reporter, year=year)
    balances = ("ip_balance_usd", "dds_balance_usd", "tbp_balance_usd")
    scale = scale_for(r[k] for r in rows for k in balances)
    cells = [
        [
            str(r["economy"]),
            money(r["ip_balance_usd"], scale),
            money(r["dds_balance_usd"], scale),
            pct(r["dds_world_export_share_pct"], 2),
            money(r["tbp_balance_usd"], scale),
        ]
        for r in rows
    ]
    table = Table(
        "table-peer-panel",
        [
            "economy",
            "IP charges: balance",
            "digital services: balance",
            "digital services: % of world exports",
            "technology BoP: balance",
        ],
        cells,
        numeric=(1, 2, 3, 4),
        keys=[str(r["reporter"]) for r in rows],
    )
    sources = []
    for what, key in (
        ("IP charges", "ip_source_id"),
        ("digitally-deliverable services", "dds_source_id"),
        ("technology balance of payments", "tbp_source_id"),
    ):
        found = sorted({str(r[key]) for r in rows if r[key]})
        if found:
            sources.append(f"{what}: {', '.join(source_label(con, s) for s in found)}")
    caption = (
        f"{focus.reporter_name} ({focus.reporter}, first) against every other economy the warehouse holds for {year} "
        "(marts.peer_panel, latest vintage; world and regional aggregates left out). Each column is its own measure, "
        "never added to another. IP charges: charges for the use of intellectual property; digital services: "
        "digitally-deliverable services, with the economy's share of the world's exports as the publisher prints the "
        "world's total; technology BoP: the OECD's technology balance of payments. A balance is receipts (exports) "
        "minus payments (imports), negative a deficit. n/a: not published for that "
        f"economy and year (missing, not zero). Sources: {'; '.join(sources)}."
    )
    return Section(
        "section-peer-panel",
        f"Against its peers: {focus.reporter_name} and {len(rows) - 1} other economies, {year}",
        [],
        [caption],
        [table],
    )


def _goods(r: dict[str, object]) -> str:
    if r["goods"] == "TOTAL":
        return f"all goods ({r['classification']} total)"
    if r["is_summed"]:
        return f"{r['codes_count']} {r['classification']} 2-digit codes both sides report, summed"
    return f"{r['classification']} {r['goods']}"


def mirror_flows(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The reporter's goods flows that both sides report: what the exporter says, what the importer says, the ratio."""
    rows = run(con, "mirror_flows", reporter=focus.reporter, limit=MIRROR_ROWS)
    if not rows:
        return None
    scale = scale_for(v for r in rows for v in (r["exporter_says_usd"], r["importer_says_usd"]))
    exporter_valuation = "/".join(sorted({str(r["exporter_valuation"]) for r in rows}))
    importer_valuation = "/".join(sorted({str(r["importer_valuation"]) for r in rows}))
    cells = [
        [
            country_name(con, str(r["exporter"])),
            country_name(con, str(r["importer"])),
            str(r["period"]),
            _goods(r),
            money(r["exporter_says_usd"], scale),
            money(r["importer_says_usd"], scale),
            "n/a" if r["asymmetry_ratio"] is None else f"{float(r['asymmetry_ratio']):.3f}",
        ]
        for r in rows
    ]
    table = Table(
        "table-mirror-flows",
        [
            "exporter",
            "importer",
            "period",
            "goods",
            f"exporter says ({exporter_valuation})",
            f"importer says ({importer_valuation})",
            f"ratio ({importer_valuation} / {exporter_valuation})",
        ],
        cells,
        numeric=(4, 5, 6),
        nowrap=(2,),
    )
    total = int(rows[0]["pairs_count"])
    shown = f"the {len(rows)} latest of {total} flows" if total > len(rows) else f"{total} flows"
    sources = sorted({str(r[k]) for r in rows for k in ("exporter_source_id", "importer_source_id") if r[k]})
    caption = (
        f"{focus.reporter_name}'s goods trade as the exporter reports it and as the importer reports it, the same "
        f"flow and period; codes in one classification, a total of all goods possibly SITC on one side and HS on "
        f"the other, each side's total published or derived ({shown}; marts.mirror_flows, economies only). "
        "Imports are valued CIF (cost, insurance and freight to the importer's border), exports FOB (free on board "
        "at the exporter's border): the importer's figure exceeds the exporter's by the freight and insurance margin "
        "even when both are right, so a ratio a few per cent above 1 is expected (CEPII's BACI estimates that margin "
        "per flow; nothing is estimated here), and a ratio (importer's figure / exporter's) far from 1 is a "
        "reporting asymmetry. Where both sides "
        "report no total, the 2-digit codes both report are summed on each side. "
        f"Sources: {', '.join(source_label(con, s) for s in sources)}."
    )
    return Section(
        "section-mirror-flows",
        f"Mirror flows: {focus.reporter_name}'s goods trade as each side reports it",
        [],
        [caption],
        [table],
    )


def _value(value: float | None, unit: str, scale: Scale) -> str:
    if unit == "USD":
        return money(value, scale)
    return "n/a" if value is None else f"{value:,.2f} {unit}"


def _change(value: object) -> str:
    return "n/a" if value is None else f"{float(value):+,.1f} %"


def breaks_in_series(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The reporter's figures a later release publishes under another definition, largest relative change first."""
    rows = run(con, "definition_breaks", reporter=focus.reporter, limit=BREAK_ROWS)
    if not rows:
        return None
    scale = scale_for(v for r in rows if r["unit"] == "USD" for v in (r["previous_vintage_value"], r["value"]))
    cells = [
        [
            f"{r['category_name']}, {r['flow']}",
            str(r["period"]),
            f"{r['previous_definition']} ({r['previous_source_id']}) -> {r['definition']} ({r['source_id']})",
            _value(r["previous_vintage_value"], str(r["unit"]), scale),
            _value(r["value"], str(r["unit"]), scale),
            _change(r["change_across_definitions_pct"]),
        ]
        for r in rows
    ]
    table = Table(
        "table-definition-breaks",
        ["series", "period", "definition: before -> after", "before", "after", "change"],
        cells,
        numeric=(3, 4, 5),
        nowrap=(1,),
    )
    total = int(rows[0]["breaks_count"])
    shown = f"the {len(rows)} largest of {total}" if total > len(rows) else f"all {total}"
    caption = (
        f"Figures of {focus.reporter_name} that a later release publishes under another definition (a new edition "
        "of the balance-of-payments manual, a redefined indicator): breaks in series, not revisions. The two values "
        "measure different things, so the change is the effect of the new definition (and of any revision, which "
        f"the releases do not separate), not an error corrected: compare within one definition. {shown.capitalize()} "
        "breaks, the largest relative change first (marts.definition_breaks)."
    )
    return Section(
        "section-definition-breaks",
        f"Breaks in series: {focus.reporter_name}'s figures under another definition",
        [],
        [caption],
        [table],
    )
