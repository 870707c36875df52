"""`tradewh check-source ID`: one source fetched, parsed, validated and built as the nightly would, published nowhere.

Everything is written under a temporary folder removed at the end (its raw payloads, staged rows, lake and a
warehouse built from this source alone): the data folder's lake and published warehouse are not touched. The
staging is the nightly's own (``warehouse.stage.stage_source``), so what this prints is what a load would do:
the layout of each file, its columns mapped, the rejections by rule with examples, the lines a catalogue entry
needs for what nothing maps yet (``check_lines``), the partial losses, and what the source would add to the marts.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.common.errors import SourceError
from warehouse.common.settings import Settings
from warehouse.extract import fetch
from warehouse.extract.catalogue import Source
from warehouse.lake.audit import loss_lines, over_threshold
from warehouse.serve.check_lines import propose

EXAMPLES = 3  # rows shown per rule
_EMPTY_RUN = re.compile(r'(?:,""|,(?=,)){3,}')  # a wide line's run of empty cells, shown as their count
HEAD_BYTES = 64 * 1024
MARK = "# ---- 8< ----"  # around the catalogue lines: a TOML comment, harmless when pasted with them

# each dataset's columns as the conformed figure (core.fct_trade_figure) takes them
CONFORMED: dict[str, dict[str, str]] = {
    "comtrade": {
        "reporter_code": "reporter (ISO3, seeds/reference/comtrade_codes.csv)",
        "partner_code": "partner (ISO3, seeds/reference/comtrade_codes.csv)",
        "year": "year",
        "period": "period",
        "flow_code": "flow (1 import, 2 export, 3 re_export, 4 re_import)",
        "classification": "classification (with its version)",
        "commodity_code": "category",
        "value": "value (measure customs_value, USD)",
    },
    "wdi": {
        "country_code": "reporter (ISO3; partner WLD)",
        "indicator_code": "flow, classification, category, measure, unit, scale (by the indicator)",
        "year": "period, year",
        "value": "value (times the indicator's scale)",
    },
}
# each dataset's publisher headings -> its columns, where the layout is a fixed set of headings
WDI_HEADINGS = {
    "Country Name": "country_name",
    "Country Code": "country_code",
    "Indicator Name": "indicator_name",
    "Indicator Code": "indicator_code",
    "Year": "year",
    "Value": "value",
}


def _headings(source: Source, layout: str) -> dict[str, str]:
    """Publisher heading -> the dataset's column, for a layout ({} when the dataset has no fixed map)."""
    if source.dataset == "comtrade":
        from warehouse.parse.comtrade_layouts import LAYOUTS

        known = LAYOUTS.get(layout)
        if known is None:
            return {}
        return {c: f for f, c in {**known.required, **known.optional}.items()}
    if source.dataset == "wdi":
        return WDI_HEADINGS
    return {}


def read_header(path: Path, names: set[str]) -> list[str]:
    """The first row of the file's first KBs that holds two of ``names`` at least (a CSV's header), or []."""
    with open(path, "rb") as fh:
        text = fh.read(HEAD_BYTES).decode("utf-8-sig", errors="replace")
    try:
        for row in csv.reader(text.splitlines()[:50]):
            cells = [c.strip() for c in row]
            if len(names & set(cells)) >= 2:
                return cells
    except csv.Error:
        return []
    return []


def raw_lines(path: Path, wanted: set[int]) -> dict[int, str]:
    """The text of some lines of a file (1-based), cut to 160 characters."""
    found: dict[int, str] = {}
    if not wanted:
        return found
    last = max(wanted)
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            if number in wanted:
                text = _EMPTY_RUN.sub(lambda m: f",...{m.group(0).count(',')} empty...", line.rstrip("\r\n"))
                found[number] = text if len(text) <= 160 else text[:160] + "..."
            if number >= last:
                break
    return found


def _columns(out: Callable[[str], None], source: Source, payload: fetch.Payload, layout: str) -> None:
    headings = _headings(source, layout)
    header = read_header(payload.raw_path, set(headings)) if headings else []
    conformed = CONFORMED.get(source.dataset, {})
    shown = [(h, headings[h]) for h in header if h in headings]
    if layout == "wide_2013" or layout == "bulk_download":
        years = [h for h in header if h.isdigit() and len(h) == 4]
        if years:
            shown.append((f"{years[0]} ... {years[-1]} ({len(years)} year columns)", "year, value (one row a cell)"))
    if layout == "tidy" and source.dataset == "wdi":
        shown.append(("(its data package: worldbank.indicator)", "indicator_code"))
    if layout == "?":
        out("    no rows of its own: read with the files it describes")
        return
    if not shown:
        out("    (columns read by the parser; no heading map to show for this layout)")
    for heading, column in shown:
        target = conformed.get(column.split(",")[0], "")
        out((f"    {heading!r:<40} -> {column:<16}" + (f" -> {target}" if target else "")).rstrip())
    ignored = [h for h in header if h and h not in headings and not (h.isdigit() and len(h) == 4)]
    if ignored:
        out(f"    not read: {', '.join(repr(h) for h in ignored[:12])}" + (" ..." if len(ignored) > 12 else ""))


def _rejections(out: Callable[[str], None], quarantine: pd.DataFrame, payloads: list[fetch.Payload]) -> None:
    if not len(quarantine):
        out("rejections: none")
        return
    by_sha = {p.sha256: p for p in payloads}
    lines = quarantine[["file_sha256", "file_row"]].drop_duplicates().shape[0]
    out(f"rejections: on {lines:,} line(s) of the files, by rule (a line of a wide layout holds several rows):")
    for rule, cases in quarantine.groupby("rule", sort=True):
        out(f"  {rule}: {len(cases):,} line(s)")
        examples = cases.head(EXAMPLES)
        for sha, rows in examples.groupby("file_sha256", sort=False):
            payload = by_sha.get(str(sha))
            text = raw_lines(payload.raw_path, {int(r) for r in rows["file_row"]}) if payload else {}
            for r in rows.itertuples(index=False):
                name = payload.origin if payload else r.file_name
                out(f"    {name}, line {r.file_row}: {r.column_name} = {r.value!r}")
                if int(r.file_row) in text:
                    out(f"      | {text[int(r.file_row)]}")


def _unknowns(
    source: Source, payloads: list[fetch.Payload], quarantine: pd.DataFrame, reference_dir: Path, batch_rows: int
) -> tuple[dict[str, str], dict[str, str], list[tuple[str, str, float]]]:
    """The unknown indicators and country codes with their published names, and the undeclared units."""
    if not len(quarantine):
        return {}, {}, []
    codes = {
        rule: set(quarantine.loc[quarantine["rule"] == rule, "value"].astype(str))
        for rule in ("known_indicator", "known_country", "unit_matches_catalogue")
    }
    indicators = dict.fromkeys(sorted(codes["known_indicator"]), "")
    countries = dict.fromkeys(sorted(c for c in codes["known_country"] if c), "")
    undeclared: list[tuple[str, str, float]] = []
    if source.dataset == "wdi" and (indicators or countries or codes["unit_matches_catalogue"]):
        from schemas.wdi import load_indicators
        from warehouse.stage.batches import parsed_batches

        for payload in payloads:
            for parsed in parsed_batches(source, payload, batch_rows):
                frame = parsed.frame
                for code, name in zip(frame["indicator_code"], frame["indicator_name"], strict=True):
                    if code in indicators and not indicators[code] and isinstance(name, str):
                        indicators[code] = name
                for code, name in zip(frame["country_code"], frame["country_name"], strict=True):
                    if code in countries and not countries[code] and isinstance(name, str):
                        countries[code] = name
        mapped = load_indicators(reference_dir, [source]).set_index("indicator_code")
        for code in sorted(codes["unit_matches_catalogue"] & set(mapped.index)):
            row = mapped.loc[code]
            undeclared.append((str(row["measure"]), str(row["unit"]), float(row["scale"] or 1)))
    elif source.dataset == "comtrade" and codes["unit_matches_catalogue"]:
        undeclared.append(("customs_value", "USD", 1.0))
    return indicators, countries, undeclared


def _comtrade_codes(out: Callable[[str], None], quarantine: pd.DataFrame) -> None:
    for rule in ("known_reporter", "known_partner"):
        values = sorted(set(quarantine.loc[quarantine["rule"] == rule, "value"].astype(str)))
        if values:
            out(
                f"  {rule}: code(s) {', '.join(values)} are in no Comtrade code list the project ships "
                "(seeds/reference/comtrade_codes.csv, the publisher's current and historical codes): a typo, or a "
                "code newer than the list. To read it as an economy, add to the entry (the ISO3 code of "
                "seeds/reference/countries.csv in place of each '?'):"
            )
            pairs = ", ".join(f'"{value}" = "?"' for value in values)
            out(f"    [source.aliases]\n    countries = {{ {pairs} }}")


MARTS_SUMMARY = """
select measure, unit, flow, is_derived, count(*) as rows, min(year) as first_year, max(year) as last_year,
    count(distinct reporter) as reporters,
    string_agg(distinct reporter, ', ' order by reporter) as reporter_codes
from core.fct_trade_figure where source_id = ? group by all order by all
"""


def _marts(
    out: Callable[[str], None],
    source: Source,
    settings: Settings,
    work: Path,
    staged,
    payloads: list[fetch.Payload],  # noqa: ANN001
) -> bool:
    """Commit the staged rows to the temporary lake, build a warehouse of this source alone, say what it holds."""
    from warehouse import build
    from warehouse.stage import commit_lake

    commit_lake(source, staged, payloads, work / "lake", "check")
    target = work / "warehouse" / "check.duckdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        build.build_warehouse(
            target, lake_dir=work / "lake", seeds_dir=settings.seeds_dir, sql_dir=settings.sql_dir,
            catalogue=[source], storage_version=settings.storage_version, check=build.check_trade_figures,
            memory_limit=settings.duckdb_memory_limit, temp_dir=work / "tmp",
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 (the build's refusal is the finding)
        out(f"the warehouse would not build with it: {type(exc).__name__}: {exc}")
        return False
    with duckdb.connect(str(target), read_only=True) as con:
        rows = con.execute(MARTS_SUMMARY, [source.id]).fetchall()
        views = con.execute(
            "select table_name from information_schema.columns where table_schema = 'marts' "
            "and column_name = 'source_id' order by 1"
        ).fetchall()
        counts = [(v, con.execute(f'select count(*) from marts."{v}" where source_id = ?', [source.id]).fetchone()[0])
                  for (v,) in views]  # fmt: skip
    if not rows:
        out("what it adds to the marts: nothing (no row is mapped to a conformed figure: see the rejections)")
        return True
    out("what it adds to core.fct_trade_figure (measure x flow, years, reporters):")
    for measure, unit, flow, derived, n, first, last, reporters, codes in rows:
        listed = codes if reporters <= 10 else f"{codes.split(', ')[0]} ... {codes.split(', ')[-1]}"
        kind = "derived" if derived else "reported"
        out(f"  {measure} ({unit}) {flow}, {kind}: {n:,} figure(s), {first}-{last}, {reporters} reporter(s): {listed}")
    filled = [f"{v} {n:,}" for v, n in counts if n]
    out("rows in the marts: " + (", ".join(filled) if filled else "none of the marts with a source_id column"))
    return True


def check_source(source: Source, settings: Settings, catalogue_path: Path, out: Callable[[str], None] = print) -> int:
    """Fetch, parse, validate and build one source in a temporary folder; print what a load would do.

    Returns:
        0 when the source would load (read, under its reject threshold, and the warehouse builds with it), else 1.
    """
    work = Path(tempfile.mkdtemp(prefix=f"tradewh-check-{source.id}-"))
    quiet = logging.NullHandler()  # the rules' own log lines (a load's log file) would repeat what is printed here
    logging.getLogger().addHandler(quiet)
    try:
        return _check(source, settings, catalogue_path, work, out)
    finally:
        logging.getLogger().removeHandler(quiet)
        shutil.rmtree(work, ignore_errors=True)


def _check(source: Source, settings: Settings, catalogue_path: Path, work: Path, out: Callable[[str], None]) -> int:
    from warehouse.stage.staging import run_context, stage_source

    out(f"check-source {source.id} (dataset {source.dataset}), catalogue {catalogue_path}")
    out(f"  dry run in {work}: the lake and the published warehouse are not touched")
    try:
        payloads = fetch.fetch_source(
            source, seeds_dir=settings.seeds_dir, project_root=settings.project_root, roots=settings.allowed_roots,
            raw_dir=work / "raw", headers_from_env=dict(source.headers_from_env),
            secret_blocks=dict(source.secret_blocks),
        )  # fmt: skip
    except SourceError as exc:
        out(f"fetch failed: {exc}")
        return 1
    reference_dir = settings.seeds_dir / "reference"
    config = {"memory_limit": settings.duckdb_staging_memory_limit, "temp_directory": str(work / "tmp")}
    try:
        staged = stage_source(
            source, payloads, run_context(source, reference_dir), work / "lake", "check",
            batch_rows=settings.batch_rows, duckdb_config=config,
        )  # fmt: skip
    except SourceError as exc:
        out(f"{len(payloads)} file(s) fetched; it would not load: {exc}")
        return 1
    out(f"files: {len(payloads)}")
    for payload in payloads:
        layout = staged.layouts.get(payload.name, "?")
        kind = f"layout {layout}" if layout != "?" else "metadata"
        out(f"  {payload.origin} ({payload.size:,} bytes): {kind}")
        _columns(out, source, payload, layout)
    rejected = staged.rows_read - staged.rows_valid
    out(f"rows: {staged.rows_read:,} read, {staged.rows_valid:,} valid, {rejected:,} rejected")
    _rejections(out, staged.quarantine, payloads)
    indicators, countries, undeclared = _unknowns(
        source, payloads, staged.quarantine, reference_dir, settings.batch_rows
    )
    if source.dataset == "comtrade":
        _comtrade_codes(out, staged.quarantine)
    if indicators or countries or undeclared:
        proposal = propose(source, reference_dir, indicators=indicators, countries=countries, undeclared=undeclared)
        out(f"not known yet: {len(indicators)} indicator(s), {len(countries)} country code(s), "
            f"{len(proposal.measures)} measure(s) to declare")  # fmt: skip
        for note in proposal.notes:
            out(f"  {note}")
        out(f'add to the end of the entry id = "{source.id}" in {catalogue_path} (the lines between the marks):')
        out(MARK)
        out(proposal.text(source))
        out(MARK)
    for line in loss_lines(staged.losses, limit=20):
        out(f"WARNING partial loss: {line}")
    refusal = over_threshold(staged.rows_read, rejected, source.threshold(settings.reject_threshold))
    if refusal or not staged.rows_valid:
        staged.discard()
        out(f"verdict: it would not load: {refusal or 'no valid row'}")
        return 1
    if not _marts(out, source, settings, work, staged, payloads):
        return 1
    losses = f", with {len(staged.losses)} partial loss(es)" if staged.losses else ""
    out(f"verdict: it would load{losses} (`tradewh load` to load it)")
    return 0
