"""The page: the sections of the warehouse's figures put in one HTML file by the Jinja2 templates beside this module.

``build_report`` opens the published warehouse read-only (``warehouse.common.readonly.connect_read_only``), chooses
what the page is about (``queries.choose_focus``: the reporter and partner asked for, else the data's own), builds
every section that has figures and renders ``templates/report.html.j2``; ``write_report`` writes the page
atomically. The page is one self-contained file: inline CSS and SVG, tables downloadable as CSV through
``data:`` URIs, no script, and nothing to fetch (links to the sources' homepages are only followed when clicked).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from warehouse.common.atomic import write_text_atomic
from warehouse.common.readonly import connect_read_only
from warehouse.serve.report import analyses, checks, sections
from warehouse.serve.report.model import Section, utc
from warehouse.serve.report.queries import Focus, choose_focus, run

BUILDERS = (
    sections.technology_balance,
    sections.ip_charges,
    analyses.deficit_across_measures,
    analyses.peers,
    sections.composition,
    sections.goods_balance,
    sections.goods_composition,
    analyses.mirror_flows,
    sections.deficits,
    analyses.breaks_in_series,
    checks.claim_checks,
    checks.partial_losses,
    checks.freshness,
)
OTHER_REPORTERS = 12  # listed in the header as other choices


class ReportError(Exception):
    """The report could not be built; the message says how to fix it."""


def environment() -> Environment:
    """The templates' environment: HTML escaped by default, an undefined name is an error."""
    return Environment(
        loader=PackageLoader("warehouse.serve.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def title_of(focus: Focus) -> str:
    """The page's heading: whose figures, and with whom its goods trade is shown."""
    with_partner = f" and its goods trade with {focus.partner_name}" if focus.partner_name else ""
    return f"{focus.reporter_name}'s trade figures{with_partner}"


def _collect(con: duckdb.DuckDBPyConnection, focus: Focus) -> list[Section]:
    return [s for s in (build(con, focus) for build in BUILDERS) if s is not None]


def build_report(warehouse: Path, reporter: str | None = None, partner: str | None = None) -> str:
    """The report page of a published warehouse, opened read-only.

    Args:
        warehouse: the published DuckDB file.
        reporter: the economy the page is about (ISO3); default: the one the printed claims are about, else the
            reporter with the most figures.
        partner: the partner of its goods trade (ISO3); default: the partner with the most customs figures.

    Returns:
        One self-contained HTML page (inline CSS and SVG; nothing to fetch).

    Raises:
        ReportError: no warehouse at that path, it cannot be read, or it holds no figure of that reporter.
    """
    if not warehouse.is_file():
        raise ReportError(f"no warehouse at {warehouse} yet: run `tradewh load` first")
    try:
        with connect_read_only(warehouse) as con:
            try:
                focus = choose_focus(con, reporter, partner)
            except LookupError as exc:
                raise ReportError(f"{exc} (choose one with --reporter)") from exc
            page_sections = _collect(con, focus)
            sources = run(con, "sources")
            run_rows = run(con, "latest_run")
            reporters = run(con, "reporters")
    except duckdb.Error as exc:
        raise ReportError(f"cannot read the warehouse {warehouse}: {exc} (run `tradewh load` to rebuild it)") from exc
    latest = run_rows[0] if run_rows else None
    others = [r for r in reporters if r["reporter"] != focus.reporter][:OTHER_REPORTERS]
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            title=title_of(focus),
            focus=focus,
            sections=page_sections,
            sources=sources,
            latest=latest,
            finished=utc(latest["finished_at"]) if latest else None,
            others=others,
            reporter_count=len(reporters),
        )
    )


def write_report(warehouse: Path, out: Path, reporter: str | None = None, partner: str | None = None) -> Path:
    """Write the report to ``out`` atomically (a reader sees the old page or the new) and return the path."""
    page = build_report(warehouse, reporter, partner)
    try:
        write_text_atomic(out, page)
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc}; pass another --out") from exc
    return out
