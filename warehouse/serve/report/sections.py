"""The sections of the page about trade figures: each one returns a ``Section``, or None when the warehouse holds
nothing for it (the section is then left out, never shown empty).

Technology trade (contract value) and IP charges are with the world; the goods sections (customs value) are with
the focus partner; the largest deficits are by partner where the reporter has several, else by 2-digit code.
"""

from __future__ import annotations

import duckdb

from warehouse.serve.report import charts
from warehouse.serve.report.charts import Bar, Point, Series
from warehouse.serve.report.model import BILLIONS, Chart, Scale, Section, Table, bn, money, pct, scale_for
from warehouse.serve.report.queries import Focus, country_name, run

TOP_DEFICITS = 10
FLOWS = {"export": "exports", "import": "imports", "total": "total trade"}


def source_label(con: duckdb.DuckDBPyConnection, source_id: str) -> str:
    """``publisher (source_id)``, or the id alone when the catalogue names no publisher."""
    publisher = next((r["publisher"] for r in run(con, "sources") if r["source_id"] == source_id), None)
    return f"{publisher} ({source_id})" if publisher else source_id


def _points(rows: list[dict[str, object]], column: str, scale: Scale, derived: str | None = None) -> tuple[Point, ...]:
    return tuple(
        Point(
            int(r["year"]),
            None if r[column] is None else float(r[column]) / scale[0],
            bool(derived and r[derived]),
            str(r.get("derivation") or ""),
        )
        for r in rows
    )


def _flows_chart(
    title: str, rows: list[dict[str, object]], labels: tuple[str, str], scale: Scale = BILLIONS, derived: bool = False
) -> str:
    """Exports, imports and balance by year: lines over the years, or bars when there is one year only."""
    if len({r["year"] for r in rows}) == 1:
        r = rows[0]
        bars = [
            Bar(label, float(r[key]) / scale[0], money(r[key], scale), key=key)
            for label, key in ((labels[0], "exports"), (labels[1], "imports"), ("Balance", "balance"))
            if r[key] is not None
        ]
        colours = {"exports": charts.EXPORTS_COLOUR, "imports": charts.IMPORTS_COLOUR, "balance": charts.BALANCE_COLOUR}
        colours = {b.key: colours[b.key] for b in bars}
        return charts.bar_chart(title, bars, scale[1], "", colours=colours)
    for r in rows:
        r.setdefault("exports_derived", False)
        r.setdefault("imports_derived", False)
        r["balance_derived"] = r["exports_derived"] or r["imports_derived"]
    names = (("exports", labels[0], charts.EXPORTS_COLOUR), ("imports", labels[1], charts.IMPORTS_COLOUR),
             ("balance", "Balance", charts.BALANCE_COLOUR))  # fmt: skip
    series = tuple(
        Series(key, label, colour, _points(rows, key, scale, f"{key}_derived" if derived else None))
        for key, label, colour in names
    )
    return charts.line_chart(title, series, scale[1])


def _years(rows: list[dict[str, object]]) -> str:
    first, last = rows[0]["year"], rows[-1]["year"]
    return str(first) if first == last else f"{first}-{last}"


def technology_balance(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The reporter's technology trade (contract value): exports, imports and balance by year, derived marked."""
    rows = run(con, "technology_balance", reporter=focus.reporter)
    if not rows:
        return None
    years = _years(rows)
    chart = _flows_chart(
        f"{focus.reporter_name}'s technology trade by contract value, {years}: exports, imports and balance (bn US$)",
        rows,
        ("Exports", "Imports"),
        derived=True,
    )

    def flagged(value: object, derived: object) -> str:
        return bn(value) + (" (derived)" if derived and value is not None else "")

    table = Table(
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
    caption = (
        f"Contract value of registered technology import and export contracts, {focus.reporter_name}, as the "
        f"release counts it ({source_label(con, str(rows[0]['source_id']))}). Hollow diamonds are derived (not "
        "printed): the table says how. A dotted line spans years with no figure; n/a is not published and not "
        "derivable (never zero)."
    )
    return Section(
        "section-technology-balance",
        f"{focus.reporter_name}'s technology trade balance, {years}",
        [Chart("chart-technology-balance", chart)],
        [caption],
        [table],
    )


def ip_charges(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The official view: charges for the use of intellectual property (balance of payments), every year held."""
    rows = run(con, "ip_charges", reporter=focus.reporter)
    if not rows:
        return None
    years = _years(rows)
    chart = _flows_chart(
        f"{focus.reporter_name}'s charges for the use of intellectual property, {years}: receipts, payments, "
        "balance (bn US$)",
        rows,
        ("Receipts (exports)", "Payments (imports)"),
    )
    caption = (
        f"Balance of payments, {source_label(con, str(rows[0]['source_id']))}, vintage {rows[0]['vintage']}. "
        "A different measure from contract value: the two are never put on one line."
    )
    table = Table(
        "table-ip-charges",
        ["year", "receipts", "payments", "balance"],
        [[str(r["year"]), bn(r["exports"]), bn(r["imports"]), bn(r["balance"])] for r in rows],
        numeric=(1, 2, 3),
        folded=f"The figures ({len(rows)} years)",
    )
    return Section(
        "section-ip-charges",
        f"{focus.reporter_name}'s charges for the use of intellectual property, {years}",
        [Chart("chart-ip-charges", chart)],
        [caption],
        [table],
    )


def composition(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """What the reporter's (non-customs) trade is made of, as the publishers state it: shares of a whole."""
    rows = run(con, "composition", reporter=focus.reporter)
    if not rows:
        return None
    bars, cells = [], []
    for r in rows:
        flow = FLOWS.get(str(r["flow"]), str(r["flow"]))
        base = country_name(con, str(r["base_reporter"]))
        if r["reporter"] != r["base_reporter"]:
            label = f"{country_name(con, str(r['reporter']))} in {base}'s {r['base_name']} {flow}, {r['period']}"
        else:
            label = f"{r['category_name']} in {base}'s {r['base_name']} {flow}, {r['period']}"
        value_text = bn(r["value_usd"]) + (" (derived)" if r["is_value_derived"] else "")
        text = f"{pct(r['share_pct'])}: {value_text} of {bn(r['base_value_usd'])}"
        bars.append(Bar(label, float(r["share_pct"]), text, str(r["derivation"] or ""), str(r["category"])))
        cells.append(
            [
                label,
                pct(r["share_pct"]) + (" (computed)" if r["is_share_derived"] else " (printed)"),
                value_text,
                bn(r["base_value_usd"]),
                str(r["derivation"] or ""),
            ]
        )
    chart = charts.bar_chart(
        f"Shares of {focus.reporter_name}'s trade the publishers state (%)", bars, "share of the whole (%)",
        charts.SHARE_COLOUR, share=True,
    )  # fmt: skip
    caption = (
        f"As {source_label(con, str(rows[0]['source_id']))} states it. A printed share gives the value of the part "
        "(derived: share x the whole); the grey rest of each bar is everything else in the whole."
    )
    table = Table(
        "table-technology-composition", ["part", "share", "value", "of", "derivation"], cells, numeric=(1, 2, 3)
    )
    return Section(
        "section-technology-composition",
        f"What {focus.reporter_name}'s trade is made of",
        [Chart("chart-technology-composition", chart)],
        [caption],
        [table],
    )


def goods_balance(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The reporter's goods trade with the partner (customs value): exports, imports and balance by year."""
    if focus.partner is None:
        return None
    rows = run(con, "goods_balance", reporter=focus.reporter, partner=focus.partner)
    if not rows:
        return None
    years = _years(rows)
    name = f"{focus.reporter_name}'s goods trade with {focus.partner_name}"
    scale = scale_for(v for r in rows for v in (r["exports"], r["imports"]))
    chart = _flows_chart(
        f"{name}, {years}: exports, imports and balance ({scale[1]})", rows, ("Exports", "Imports"), scale
    )
    source = source_label(con, str(rows[0]["source_id"]))
    how = "the publisher's total" if all(r["has_total"] for r in rows) else "the total or the sum of the 2-digit codes"
    caption = f"Customs value as {focus.reporter_name} reports it, {rows[0]['classification']}, {source}: {how}."
    table = Table(
        "table-goods-balance",
        ["year", "exports", "imports", "balance"],
        [
            [str(r["year"]), money(r["exports"], scale), money(r["imports"], scale), money(r["balance"], scale)]
            for r in rows
        ],
        numeric=(1, 2, 3),
    )
    return Section(
        "section-goods-balance", f"{name}, {years}", [Chart("chart-goods-balance", chart)], [caption], [table]
    )


def goods_composition(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The reporter's goods exports to the partner by section (SITC or HS), in the report's year or the latest."""
    if focus.partner is None:
        return None
    picks = run(con, "goods_composition_pick", reporter=focus.reporter, partner=focus.partner, year=focus.year)
    if not picks:
        return None
    pick = picks[0]
    rows = run(
        con, "goods_composition", reporter=focus.reporter, partner=focus.partner, period=pick["period"],
        source_id=pick["source_id"], classification=pick["classification"],
    )  # fmt: skip
    if not rows:
        return None
    family = "SITC section" if str(pick["classification"]).startswith("SITC") else "HS section"
    codes = "divisions" if family.startswith("SITC") else "chapters"
    scale = scale_for([rows[0]["total_usd"]])
    bars = [
        Bar(
            f"{r['section'] or '?'} {r['section_name'] or 'not in the commodity list'}",
            float(r["share_pct"] or 0),
            f"{pct(r['share_pct'])} ({money(r['value_usd'], scale)})",
            key=str(r["section"]),
        )
        for r in rows
    ]
    title = f"{focus.reporter_name}'s goods exports to {focus.partner_name} by {family}, {pick['period']}"
    chart = charts.bar_chart(
        f"{title}: share of the total (%)", bars, "share of all exports to the partner (%)", charts.EXPORTS_COLOUR
    )
    published = rows[0]["published_usd"]
    caption = (
        f"Customs value, {pick['classification']} {codes} summed into sections, "
        f"{source_label(con, str(pick['source_id']))}. Total of the {codes}: {money(rows[0]['total_usd'], scale)}"
        + (f"; the publisher's printed total: {money(published, scale)}." if published is not None else ".")
    )
    cells = [[b.label, pct(r["share_pct"]), money(r["value_usd"], scale)] for b, r in zip(bars, rows, strict=True)]
    table = Table("table-goods-composition", [family, "share", "value"], cells, numeric=(1, 2))
    return Section("section-goods-composition", title, [Chart("chart-goods-composition", chart)], [caption], [table])


def largest_deficits(
    con: duckdb.DuckDBPyConnection, reporter: str, year: int | None = None, limit: int = TOP_DEFICITS
) -> tuple[str, str, list[dict[str, object]]]:
    """The largest customs-value deficits of the reporter: by partner, or by 2-digit code where one partner exists.

    Returns:
        ``("partner" | "category", the caption, the rows)``; rows hold ``key``, ``label``, ``exports``,
        ``imports``, ``balance`` (US$), most negative first.
    """
    found = run(con, "deficit_partners", reporter=reporter)
    name = country_name(con, reporter)
    if not found:
        return "category", f"No customs figures of {name} by partner.", []
    years = {int(r["year"]) for r in found}
    in_year = year if year in years else max(years)
    partners = sorted({str(r["partner"]) for r in found if int(r["year"]) == in_year})  # that year's partners
    if len(partners) > 1:
        rows = run(con, "deficits_by_partner", reporter=reporter, year=in_year, limit=limit)
        caption = (
            f"{name}'s goods trade deficits by partner, {in_year} (customs value; a partner's printed total, or the "
            "sum of its 2-digit codes): the largest first."
        )
        return "partner", caption, rows
    partner = country_name(con, partners[0])
    levels = run(con, "deficit_level", reporter=reporter, year=year)
    if not levels:
        return "category", f"No 2-digit customs figures for {name} and {partner}.", []
    chosen, source_id, cls = int(levels[0]["year"]), str(levels[0]["source_id"]), str(levels[0]["classification"])
    rows = run(
        con, "deficits_by_category", reporter=reporter, year=chosen, source_id=source_id, classification=cls,
        limit=limit,
    )  # fmt: skip
    family = "SITC division" if cls.startswith("SITC") else "HS chapter" if cls.startswith("HS") else "code"
    caption = (
        f"By category, not by partner: the warehouse's customs figures of {name} for {in_year} have one partner only "
        f"({partner}), so these are {name}'s largest deficits with {partner} by {family} ({cls}, 2-digit), "
        f"{chosen}, from {source_label(con, source_id)}: the largest first."
    )
    return "category", caption, rows


def deficits(con: duckdb.DuckDBPyConnection, focus: Focus) -> Section | None:
    """The largest deficits by partner, or by category where only one partner exists (the caption says which)."""
    mode, caption, rows = largest_deficits(con, focus.reporter, focus.year)
    if not rows:
        return None
    scale = scale_for(r["balance"] for r in rows)
    bars = [
        Bar(str(r["label"]), float(r["balance"]) / scale[0], money(r["balance"], scale),
            f"exports {money(r['exports'], scale)}, imports {money(r['imports'], scale)}", str(r["key"]))
        for r in rows
    ]  # fmt: skip
    chart = charts.bar_chart(
        f"{focus.reporter_name}'s largest goods trade deficits by {mode} ({scale[1]})", bars,
        f"balance: exports - imports ({scale[1]})", charts.DEFICIT_COLOUR,
    )  # fmt: skip
    cells = [[str(r["label"]), *(money(r[k], scale) for k in ("exports", "imports", "balance"))] for r in rows]
    table = Table("table-largest-deficits", [mode, "exports", "imports", "balance"], cells, numeric=(1, 2, 3))
    return Section(
        "section-largest-deficits",
        f"{focus.reporter_name}'s largest deficits by {mode}",
        [Chart("chart-largest-deficits", chart)],
        [caption],
        [table],
        mode=mode,
    )
