"""Loud partial losses: a reporter, partner, indicator or year whose every row was rejected is a warning in the run
summary, in `tradewh status` (and `--run`), in the report and in ``audit.partial_losses``, even when the source stays
under its reject threshold and loads.

The file is the project's Comtrade extract (legacy API layout, China's trade with the USA) with rows of one reporter
whose code the code list does not have, as happened with Comtrade's historical code 381 (Italy): 1.4 % of the
file, under the threshold, and the source said ``loaded``.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from schemas.context import RunContext
from tests.conftest import PROJECT_ROOT, run_nightly
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import load_catalogue
from warehouse.extract.fetch import Payload
from warehouse.lake.manifest import sha256_file
from warehouse.stage import stage_source

SEED = PROJECT_ROOT / "seeds" / "comtrade_chn_usa_sitc" / "legacy_api_CHN_USA_S4_2digit_2010_2014.csv"
REFERENCE = PROJECT_ROOT / "seeds" / "reference"
UNKNOWN = "999"  # no code of Comtrade's current or historical lists (a typo, or a code the list lost)
UNKNOWN_ROWS = 8


def with_unknown_reporter(path: Path, *, rows: int = UNKNOWN_ROWS, year: str | None = None) -> Path:
    """The seed's rows and ``rows`` more: copies of its first rows, reported by ``UNKNOWN`` (and of ``year``)."""
    with SEED.open(encoding="utf-8", newline="") as fh:
        records = list(csv.reader(fh))
    header, body = records[0], records[1:]
    at = {name: header.index(name) for name in ("Reporter Code", "Reporter", "Reporter ISO", "Year", "Period")}
    extra = []
    for record in body[:rows]:
        copy = list(record)
        copy[at["Reporter Code"]], copy[at["Reporter"]], copy[at["Reporter ISO"]] = UNKNOWN, "Unknown", ""
        extra.append(copy)
    if year is not None:  # every row of one year out of range as well
        for record in body:
            if record[at["Year"]] == "2014":
                record[at["Year"]] = record[at["Period"]] = year
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *body, *extra])
    return path


def catalogue_for(tmp_path: Path, data: Path, source_id: str = "comtrade_with_unknown") -> Path:
    """A catalogue of one entry: the project's Comtrade entry, renamed, reading ``data`` (a path location)."""
    text = (PROJECT_ROOT / "catalogue.toml").read_text(encoding="utf-8")
    start = text.index('[[source]]\nid = "comtrade_chn_usa_sitc"')
    end = text.find("[[source]]", start + 10)
    entry = text[start : end if end > 0 else len(text)]
    entry = entry.replace('id = "comtrade_chn_usa_sitc"', f'id = "{source_id}"').replace(
        'location = { seed = "comtrade_chn_usa_sitc/*.csv" }', f'location = {{ path = "{data}" }}'
    )
    path = tmp_path / "catalogue.toml"
    path.write_text(entry, encoding="utf-8")
    return path


def stage(tmp_path: Path, data: Path):  # noqa: ANN201 (warehouse.stage.Staged)
    source = load_catalogue(catalogue_for(tmp_path, data))[0]
    payload = Payload(source.id, data.name, str(data), data, sha256_file(data), data.stat().st_size)
    context = RunContext(source=source, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)
    return stage_source(source, [payload], context, tmp_path / "lake", "r1", batch_rows=100)


def test_a_whole_reporter_rejected_is_one_loss_with_its_rows_and_rule(tmp_path: Path) -> None:
    data = with_unknown_reporter(tmp_path / "data" / "comtrade.csv")
    staged = stage(tmp_path, data)
    staged.discard()
    assert staged.rows_read - staged.rows_valid == UNKNOWN_ROWS  # under the 5 % threshold: the source would load
    assert [(x.dimension, x.column_name, x.value, x.rows, x.rules) for x in staged.losses] == [
        ("reporter", "reporter_code", UNKNOWN, UNKNOWN_ROWS, "known_reporter")
    ]
    assert staged.losses[0].text() == (
        f"comtrade.csv: every row of reporter '{UNKNOWN}' (reporter_code) rejected: {UNKNOWN_ROWS} row(s), "
        "rule known_reporter"
    )


def test_a_whole_year_rejected_is_a_loss_too(tmp_path: Path) -> None:
    data = with_unknown_reporter(tmp_path / "data" / "comtrade.csv", year="1950")
    staged = stage(tmp_path, data)
    staged.discard()
    with data.open(encoding="utf-8", newline="") as fh:
        in_1950 = sum(1 for row in csv.DictReader(fh) if row["Year"] == "1950")
    years = [x for x in staged.losses if x.dimension == "year"]
    assert [(x.value, x.rows, x.rules) for x in years] == [("1950", in_1950, "year_in_range")]


def test_a_file_whose_every_row_is_rejected_is_one_loss_not_one_per_value(tmp_path: Path) -> None:
    data = with_unknown_reporter(tmp_path / "data" / "comtrade.csv", rows=0)
    text = data.read_text(encoding="utf-8").replace(",156,China,CHN,", f",{UNKNOWN},Unknown,,")
    data.write_text(text, encoding="utf-8")
    staged = stage(tmp_path, data)
    assert staged.rows_valid == 0
    assert [(x.dimension, x.rows) for x in staged.losses] == [("file", staged.rows_read)]


def test_a_file_without_losses_has_none(tmp_path: Path) -> None:
    data = with_unknown_reporter(tmp_path / "data" / "comtrade.csv", rows=0)
    staged = stage(tmp_path, data)
    staged.discard()
    assert staged.rows_valid == staged.rows_read and staged.losses == []


def tradewh(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRADEWH_HOME": str(home)}
    command = [sys.executable, "-m", "warehouse.serve.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_partial_loss_is_loud_in_the_summary_status_report_and_audit(tmp_path: Path, prefect_home: Path) -> None:
    data = with_unknown_reporter(tmp_path / "data" / "comtrade.csv")
    home = tmp_path / "home"
    result = run_nightly(home, catalogue_for(tmp_path, data), TRADEWH_ALLOWED_ROOTS=str(tmp_path / "data"))
    run_id = result["run_id"]
    assert result["status"] == "succeeded"  # under the threshold: loaded, and yet
    warning = [line for line in result["summary"] if "WARNING partial loss" in line]
    assert len(warning) == 1 and f"reporter '{UNKNOWN}'" in warning[0] and "known_reporter" in warning[0]
    assert "see audit.partial_losses" in next(line for line in result["summary"] if "comtrade_with_unknown" in line)

    warehouse = home / "warehouse" / "tradewh.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select run_id, source_id, dimension, value, rows_rejected, rules from audit.partial_losses"
        ).fetchall()
        rejected = con.execute(
            "select count(distinct file_row) from audit.rejected_rows where rule = 'known_reporter' and value = ?",
            [UNKNOWN],
        ).fetchone()[0]
    assert rows == [(run_id, "comtrade_with_unknown", "reporter", UNKNOWN, UNKNOWN_ROWS, "known_reporter")]
    assert rejected == UNKNOWN_ROWS

    status = tradewh(home, "status", "--width", "0")
    assert status.returncode == 0, status.stderr
    assert "WARNING: 1 partial loss(es)" in status.stdout and UNKNOWN in status.stdout
    detail = tradewh(home, "status", "--run", run_id, "--width", "0")
    assert detail.returncode == 0 and "WARNING: 1 partial loss(es)" in detail.stdout, detail.stderr

    report = tradewh(home, "report", "--out", str(tmp_path / "report.html"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "section-partial-losses" in page and f"reporter {UNKNOWN} (reporter_code)" in page

    # a warehouse built before partial losses were recorded is still read: no warning section, no error
    old_home = tmp_path / "old-home"
    (old_home / "warehouse").mkdir(parents=True)
    shutil.copy(warehouse, old_home / "warehouse" / "tradewh.duckdb")
    with duckdb.connect(str(old_home / "warehouse" / "tradewh.duckdb")) as con:
        con.execute("drop table audit.partial_losses")
    old = tradewh(old_home, "status", "--run", run_id)
    assert old.returncode == 0 and "partial loss" not in old.stdout, old.stderr
    old_report = tradewh(old_home, "report", "--out", str(tmp_path / "old.html"))
    assert old_report.returncode == 0 and "section-partial-losses" not in (tmp_path / "old.html").read_text()
