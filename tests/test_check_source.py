"""`tradewh check-source ID`: a dry run of one source through the real fetch, staging and build, in a temporary
folder. It prints the layout and the columns mapped, the rejections by rule, the exact catalogue lines for what
nothing maps yet, and what the source would add to the marts; following those lines makes the next load succeed.

The new WDI indicator is ``tests/fixtures/check_source/``'s bulk-download file (BX.GSR.CCIS.ZS, ICT service
exports as a share of service exports), whose Myanmar row carries the former code BUR; the Comtrade file is the
project's shipped extract (legacy API layout).
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURES, PROJECT_ROOT, run_nightly
from tests.test_partial_losses import UNKNOWN, catalogue_for, with_unknown_reporter
from warehouse.serve.cli import main

NEW_INDICATOR = FIXTURES / "check_source" / "API_BX.GSR.CCIS.ZS_DS2_en_csv_v2_check.csv"
COUNTRIES = PROJECT_ROOT / "seeds" / "reference" / "countries.csv"
ENTRY = """[[source]]
id = "{id}"
dataset = "wdi"
publisher = "World Bank"
title = "World Development Indicators: ICT service exports, share of service exports"
licence = "CC BY 4.0"
attribution = "World Bank, World Development Indicators"
location = {{ path = "{path}" }}
vintage = "2025-07-01"

  [[source.measures]]
  measure = "bop_value"
  unit = "USD"
  currency = "USD"
  scales = [1]
"""
MARK = "# ---- 8< ----"


def published_rows(path: Path) -> list[dict[str, str]]:
    """The fixture's values as the World Bank prints them: one dict a non-empty cell (name, code, indicator, year,
    value), read with the csv module after the four metadata lines."""
    text = path.read_text(encoding="utf-8-sig")
    records = list(csv.reader(io.StringIO(text)))
    at = next(i for i, r in enumerate(records) if r[:2] == ["Country Name", "Country Code"])
    header = records[at]
    rows = []
    for record in records[at + 1 :]:
        for heading, cell in zip(header[4:], record[4:], strict=False):
            if heading and cell:
                rows.append({"name": record[0], "code": record[1], "indicator_name": record[2],
                             "indicator": record[3], "year": heading, "value": cell})  # fmt: skip
    return rows


def iso3_by_name() -> dict[str, str]:
    with COUNTRIES.open(encoding="utf-8", newline="") as fh:
        return {row["name"]: row["iso3"] for row in csv.DictReader(fh)}


def check(home: Path, *args: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str]:
    """``tradewh check-source`` through the CLI's ``main``: exit code and standard output."""
    monkeypatch.setenv("TRADEWH_HOME", str(home))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main(["check-source", *args])
    return code, printed.getvalue()


def lines_between_marks(text: str) -> str:
    start, end = text.index(MARK), text.rindex(MARK)
    assert start < end, text
    return text[start : end + len(MARK)] + "\n"


@pytest.fixture
def new_entry(tmp_path: Path) -> Path:
    catalogue = tmp_path / "my-catalogue.toml"
    catalogue.write_text(ENTRY.format(id="my_wdi_ict_share", path=NEW_INDICATOR), encoding="utf-8")
    return catalogue


def test_a_new_indicator_prints_layout_mapping_rejections_and_the_exact_lines(
    tmp_path: Path, new_entry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = published_rows(NEW_INDICATOR)
    indicator, name = rows[0]["indicator"], rows[0]["indicator_name"]
    by_name = iso3_by_name()
    unknown = sorted({(r["code"], r["name"]) for r in rows if r["code"] not in by_name.values()})
    assert len(unknown) == 1  # the fixture's former code (BUR, Myanmar)
    code, out = check(tmp_path / "home", "my_wdi_ict_share", "--catalogue", str(new_entry), monkeypatch=monkeypatch)
    assert code == 1  # every row rejected: it would not load as it is
    assert f"{NEW_INDICATOR} ({NEW_INDICATOR.stat().st_size:,} bytes): layout bulk_download" in out
    assert re.search(r"'Country Code'\s+-> country_code\s+-> reporter", out)
    assert re.search(r"'Indicator Code'\s+-> indicator_code\s+-> flow, classification, category, measure", out)
    assert f"rows: {len(rows)} read, 0 valid, {len(rows)} rejected" in out
    assert "  known_indicator: " in out and f"indicator_code = '{indicator}'" in out
    assert "  known_country: " in out and f"country_code = '{unknown[0][0]}'" in out
    block = lines_between_marks(out)
    assert f'code = "{indicator}"' in block and f'name = "{name}"' in block
    assert 'measure = "share"\nunit = "percent"' in block  # '%' in the name: a share, declared in measures too
    assert block.count("[[source.measures]]") == 1 and 'classification = "bop"' in block
    assert f'countries = {{ "{unknown[0][0]}" = "{by_name[unknown[0][1]]}" }}' in block
    assert "verdict: it would not load" in out
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.parquet"))
    dry_run = Path(re.search(r"dry run in (\S+):", out).group(1))
    assert not dry_run.exists()  # the temporary folder is removed


def test_following_the_printed_lines_loads_the_new_indicator(
    tmp_path: Path, new_entry: Path, monkeypatch: pytest.MonkeyPatch, prefect_home: Path
) -> None:
    home = tmp_path / "home"
    _, out = check(home, "my_wdi_ict_share", "--catalogue", str(new_entry), monkeypatch=monkeypatch)
    followed = tmp_path / "followed.toml"
    followed.write_text(new_entry.read_text(encoding="utf-8") + "\n" + lines_between_marks(out), encoding="utf-8")

    rows = published_rows(NEW_INDICATOR)
    by_name = iso3_by_name()
    reporters = sorted({by_name.get(r["name"], r["code"]) for r in rows})
    code, again = check(home, "my_wdi_ict_share", "--catalogue", str(followed), monkeypatch=monkeypatch)
    assert code == 0, again
    assert f"rows: {len(rows)} read, {len(rows)} valid, 0 rejected" in again and "rejections: none" in again
    years = sorted(int(r["year"]) for r in rows)
    assert (
        f"share (percent) export, reported: {len(rows)} figure(s), {years[0]}-{years[-1]}, "
        f"{len(reporters)} reporter(s): {', '.join(reporters)}"
    ) in again
    assert not (home / "lake").exists() and not (home / "warehouse").exists()  # a dry run: nothing published

    result = run_nightly(home, followed)
    assert result["status"] == "succeeded", result["summary"]
    with duckdb.connect(str(home / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        loaded = con.execute(
            "select reporter, year, value, measure, unit, flow, classification, category "
            "from core.fct_trade_figure where source_id = 'my_wdi_ict_share' order by reporter, year"
        ).fetchall()
    expected = sorted(
        (
            by_name.get(r["name"], r["code"]),
            int(r["year"]),
            float(r["value"]),
            "share",
            "percent",
            "export",
            "bop",
            "ict_services",
        )  # fmt: skip
        for r in rows
    )
    assert loaded == expected


def test_a_comtrade_file_with_an_unknown_reporter_loads_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = with_unknown_reporter(tmp_path / "data" / "comtrade.csv")
    catalogue = catalogue_for(tmp_path, data)
    code, out = check(
        tmp_path / "home", "comtrade_with_unknown", "--catalogue", str(catalogue),
        monkeypatch=monkeypatch, TRADEWH_ALLOWED_ROOTS=str(tmp_path / "data"),
    )  # fmt: skip
    assert code == 0, out  # under the threshold: it loads, and says what it loses
    with data.open(encoding="utf-8", newline="") as fh:
        records = list(csv.DictReader(fh))
    header = list(records[0])
    assert "layout legacy_api" in out
    assert re.search(r"'Reporter Code'\s+-> reporter_code\s+-> reporter", out)
    assert re.search(r"'Trade Value \(US\$\)'\s+-> value\s+-> value", out)
    assert "not read: " in out and "'Reporter ISO'" in out and "Reporter ISO" in header
    unknown = [r for r in records if r["Reporter Code"] == UNKNOWN]
    assert f"rows: {len(records):,} read, {len(records) - len(unknown):,} valid, {len(unknown)} rejected" in out
    assert f"  known_reporter: {len(unknown)} line(s)" in out
    line = len(records) - len(unknown) + 2  # the first unknown row's line: header, then the kept rows
    assert f"comtrade.csv, line {line}: reporter_code = '{UNKNOWN}'" in out
    assert f"WARNING partial loss: comtrade.csv: every row of reporter '{UNKNOWN}'" in out
    years = sorted({int(r["Year"]) for r in records})
    assert re.search(rf"customs_value \(USD\) export, reported: [\d,]+ figure\(s\), {years[0]}-{years[-1]}", out)
    assert "verdict: it would load, with 1 partial loss(es)" in out


def test_an_unknown_id_names_the_sources_there_are(
    tmp_path: Path, new_entry: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADEWH_HOME", str(tmp_path / "home"))
    assert main(["check-source", "nope", "--catalogue", str(new_entry)]) == 2
    err = capsys.readouterr().err
    assert "no source 'nope'" in err and "its sources: my_wdi_ict_share" in err


def test_the_meaning_read_from_a_name_is_the_shipped_one_for_every_shipped_indicator() -> None:
    """The guesser, run on the name each shipped indicator's description starts with, gives the flow,
    classification, category, measure and unit that seeds/reference/wdi_indicators.csv states."""
    from warehouse.extract.declared import known_categories
    from warehouse.serve.check_lines import guess_meaning

    reference = PROJECT_ROOT / "seeds" / "reference"
    with (reference / "categories.csv").open(encoding="utf-8", newline="") as fh:
        names = {(r["classification"], r["category"]): r["name"] for r in csv.DictReader(fh)}
    with (reference / "wdi_indicators.csv").open(encoding="utf-8", newline="") as fh:
        shipped = list(csv.DictReader(fh))
    assert shipped
    for row in shipped:
        meaning = guess_meaning(row["description"].split(";")[0], known_categories(reference), names)
        read = (meaning.flow, meaning.classification, meaning.category, meaning.measure, meaning.unit, meaning.scale)
        stated = tuple(row[k] for k in ("flow", "classification", "category", "measure", "unit")) + (
            float(row["scale"]),
        )
        assert read == stated, row["indicator_code"]


def test_a_comtrade_code_declared_in_the_catalogue_is_read_as_its_country(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = with_unknown_reporter(tmp_path / "data" / "comtrade.csv")
    catalogue = catalogue_for(tmp_path, data)
    with catalogue.open("a", encoding="utf-8") as fh:
        fh.write(f'\n  [source.aliases]\n  countries = {{ "{UNKNOWN}" = "SMR" }}\n')
    code, out = check(
        tmp_path / "home", "comtrade_with_unknown", "--catalogue", str(catalogue),
        monkeypatch=monkeypatch, TRADEWH_ALLOWED_ROOTS=str(tmp_path / "data"),
    )  # fmt: skip
    assert code == 0, out
    with data.open(encoding="utf-8", newline="") as fh:
        records = list(csv.DictReader(fh))
    assert f"rows: {len(records):,} read, {len(records):,} valid, 0 rejected" in out
    assert "partial loss" not in out.lower()
    assert "2 reporter(s): CHN, SMR" in out, out  # the rows of code 999 are read as San Marino's
