"""Mappings declared in the catalogue: a WDI indicator the shipped list does not hold, and a publisher's country code,
added by a catalogue entry alone, with no file of the project edited; the rejection of an unmapped indicator says
which entry to add it to, with the lines."""

from __future__ import annotations

import csv
import logging
import re
import shutil
from pathlib import Path

import duckdb

from schemas.context import RunContext
from schemas.rules import validate_frame
from schemas.wdi import load_indicators, schema, unknown_indicator_message
from tests.conftest import PROJECT_ROOT, run_nightly
from warehouse.common.reference import known_country_codes, load_country_aliases
from warehouse.extract.catalogue import load_catalogue
from warehouse.parse.wdi import parse_wdi

REFERENCE = PROJECT_ROOT / "seeds" / "reference"
INDICATORS = PROJECT_ROOT / "tests" / "fixtures" / "wdi" / "indicators"
NEW = "BM.GSR.CCIS.CD"  # ICT service imports: not in seeds/reference/wdi_indicators.csv

ENTRY = """
[[source]]
id = "wdi_ict"
dataset = "wdi"
publisher = "World Bank"
title = "WDI ICT services, per-indicator data packages (test data)"
licence = "CC BY 4.0"
attribution = "World Bank, World Development Indicators"
location = {{ path = "{root}/indicators/*/data.csv" }}
vintage = "2026-02-24"

  [[source.measures]]
  measure = "bop_value"
  unit = "USD"
  currency = "USD"
  scales = [1]

  [source.aliases]
  countries = {{ "UVK" = "XKX" }}
"""
DECLARED = f"""
  [[source.indicators]]
  code = "{NEW}"
  flow = "import"
  classification = "bop"
  category = "ict_services"
  measure = "bop_value"
  unit = "USD"
  scale = 1
  name = "ICT service imports (BoP, current US$)"
"""


def catalogue(tmp_path: Path, *extra: str) -> Path:
    shutil.copytree(INDICATORS, tmp_path / "indicators", ignore=shutil.ignore_patterns("README.md"), dirs_exist_ok=True)
    path = tmp_path / "catalogue.toml"
    path.write_text(ENTRY.format(root=tmp_path) + "".join(extra))
    return path


def published(code: str) -> list[tuple[str, str, float]]:
    """(country code, year, value) of every printed value of a fixture file, read with the csv module."""
    with (INDICATORS / code.lower() / "data.csv").open(encoding="utf-8", newline="") as fh:
        return [(r["Country Code"], r["Year"], float(r["Value"])) for r in csv.DictReader(fh) if r["Value"]]


def validate(tmp_path: Path, *extra: str):
    [source] = load_catalogue(catalogue(tmp_path, *extra))
    context = RunContext(source=source, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)
    frame = parse_wdi(INDICATORS / NEW.lower() / "data.csv", source_id=source.id).frame
    frame = frame.assign(source_id=source.id, vintage=source.vintage, file_name="data.csv", file_sha256="x")
    rules = schema(context)
    return source, validate_frame(frame, *rules)


def test_an_undeclared_indicator_is_rejected_with_the_entry_and_the_lines_to_add(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="warehouse"):
        source, (valid, quarantine) = validate(tmp_path)
    assert len(valid) == 0
    assert set(quarantine.loc[quarantine["rule"] == "known_indicator", "value"]) == {NEW}
    [message] = [r.getMessage() for r in caplog.records if NEW in r.getMessage()]  # once, however many rows
    assert message == unknown_indicator_message(source, [NEW])
    assert 'id = "wdi_ict"' in message and "[[source.indicators]]" in message and f'code = "{NEW}"' in message


def test_a_declared_indicator_and_alias_are_valid_for_their_source_only(tmp_path):
    source, (valid, quarantine) = validate(tmp_path, DECLARED)
    assert len(quarantine) == 0
    assert sorted(zip(valid["country_code"], valid["year"].astype(str), valid["value"], strict=True)) == sorted(
        published(NEW)
    )
    assert "UVK" in RunContext(source, known_country_codes(REFERENCE), REFERENCE).country_codes
    assert "UVK" not in known_country_codes(REFERENCE)  # the project's lists are unchanged
    row = load_indicators(REFERENCE, [source]).set_index("indicator_code").loc[NEW]
    assert (row["flow"], row["category"], row["measure"], row["unit"], row["scale"]) == (
        "import", "ict_services", "bop_value", "USD", "1",
    )  # fmt: skip
    assert NEW not in set(load_indicators(REFERENCE)["indicator_code"])
    aliases = load_country_aliases(REFERENCE, [source]).set_index("alias")
    assert (aliases.loc["UVK", "iso3"], aliases.loc["UVK", "publisher"]) == ("XKX", "wdi_ict")


def _fill(template: str) -> str:
    """The printed [[source.indicators]] lines with their '?' filled in, as a user would."""
    answers = {"flow": "import", "classification": "bop", "category": "ict_services", "measure": "bop_value",
               "unit": "USD", "name": "ICT service imports (BoP, current US$)"}  # fmt: skip
    return re.sub(r'^(\w+) = "\?"', lambda m: f'{m.group(1)} = "{answers[m.group(1)]}"', template, flags=re.M)


def test_following_the_printed_lines_loads_the_new_indicator_into_the_fact(tmp_path, prefect_home):
    """End to end through the real flow: the first load quarantines the new indicator and its log gives the lines;
    with those lines appended to the entry, the next load puts its figures in core.fct_trade_figure, the declared
    alias read as its country."""
    path = catalogue(tmp_path)
    home = tmp_path / "home"
    first = run_nightly(home, path, TRADEWH_ALLOWED_ROOTS=str(tmp_path))
    assert first["status"] != "succeeded"  # 4 of the 6 rows rejected: over the threshold, the source fails
    log = next((home / "logs").glob("run-*.log")).read_text()
    template = log[log.index("[[source.indicators]]") :]
    template = template[: template.index('name = "?"') + len('name = "?"')]
    assert f'code = "{NEW}"' in template
    path.write_text(path.read_text() + "\n" + _fill(template) + "\n")

    second = run_nightly(home, path, TRADEWH_ALLOWED_ROOTS=str(tmp_path))
    assert second["status"] == "succeeded", second["summary"]
    with duckdb.connect(str(home / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        figures = con.execute(
            "select indicator_code, reporter, period, flow, category, measure, unit, value from staging.stg_wdi "
            "where source_id = 'wdi_ict' order by all"
        ).fetchall()
        facts = con.execute(
            "select reporter, period, flow, value from core.fct_trade_figure where source_id = 'wdi_ict' "
            "and not is_derived and category = 'ict_services' and measure = 'bop_value' order by all"
        ).fetchall()
    reporter = {"UVK": "XKX"}
    expected = sorted(
        [(NEW, reporter.get(c, c), y, "import", "ict_services", "bop_value", "USD", v) for c, y, v in published(NEW)]
        + [
            ("BX.GSR.CCIS.CD", c, y, "export", "ict_services", "bop_value", "USD", v)
            for c, y, v in published("BX.GSR.CCIS.CD")
        ]  # fmt: skip
    )
    assert figures == expected
    assert facts == sorted((r, p, f, v) for _, r, p, f, _, _, _, v in expected)
