"""Errors for people: a refused file is named by the path the user wrote, beside the raw copy; the usual mistakes
of a file saved by hand are named (a ';' delimiter, a decimal comma, thousands separators, an encoding other than
UTF-8, a header below line 1); and a load prints one line per failure, the traceback going to the run's log file.

The files are the project's own WDI extract (``seeds/wdi_current/bx.gsr.royl.cd.csv``, the tidy layout) and the
project's cp1252 fixture, re-saved the way a spreadsheet in another locale saves them.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.parse.hints import file_hints
from warehouse.serve.cli import main

TIDY = PROJECT_ROOT / "seeds" / "wdi_current" / "bx.gsr.royl.cd.csv"
CP1252 = FIXTURES / "bad_inputs" / "tidy_cote_divoire_cp1252.csv"


def records() -> list[list[str]]:
    with TIDY.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))[:40]


def saved(path: Path, rows: list[list[str]], delimiter: str = ",", above: str = "") -> Path:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(above + out.getvalue(), encoding="utf-8")
    return path


def european(value: str) -> str:
    """1234567.5 as a German spreadsheet writes it: 1.234.567,5."""
    whole, _, decimals = value.partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return grouped + ("," + decimals if decimals else ",0")


def test_the_publishers_file_has_no_hint() -> None:
    assert file_hints(TIDY) == []


def test_a_semicolon_file_with_decimal_commas_and_thousands_is_named_so(tmp_path: Path) -> None:
    rows = [records()[0], *[[*r[:3], european(r[3])] for r in records()[1:]]]
    hints = file_hints(saved(tmp_path / "semicolon.csv", rows, delimiter=";"))
    assert any("separated by ';'" in h for h in hints), hints
    assert any("thousands separators" in h and rows[1][3] in h for h in hints), hints


def test_a_decimal_comma_alone_is_named(tmp_path: Path) -> None:
    rows = [records()[0], *[[*r[:3], r[3][:-2] + "," + r[3][-2:]] for r in records()[1:]]]
    hints = file_hints(saved(tmp_path / "comma.csv", rows, delimiter=";"))
    assert any("decimal comma" in h and rows[1][3] in h for h in hints), hints


def test_thousands_separators_in_a_comma_file_are_named(tmp_path: Path) -> None:
    rows = [records()[0], *[[*r[:3], f"{float(r[3]):,.1f}"] for r in records()[1:]]]
    hints = file_hints(saved(tmp_path / "thousands.csv", rows))
    assert hints == [hints[0]] and "thousands separators" in hints[0] and rows[1][3] in hints[0], hints


def test_a_title_above_the_header_is_named_with_the_header_line(tmp_path: Path) -> None:
    path = saved(tmp_path / "titled.csv", records(), above="Charges for the use of IP, receipts\n\n")
    [hint] = file_hints(path)
    assert "header row seems to be line 3" in hint, hint


def test_a_cp1252_file_is_named_with_the_byte_and_its_line() -> None:
    data = CP1252.read_bytes()
    offset = next(i for i, b in enumerate(data) if b >= 0x80)
    line = data[:offset].count(b"\n") + 1
    [hint] = file_hints(CP1252)
    assert f"byte 0x{data[offset]:02X} on line {line}" in hint and "UTF-8" in hint


def entry(source_id: str, path: Path) -> str:
    return f"""[[source]]
id = "{source_id}"
dataset = "wdi"
publisher = "World Bank"
title = "Charges for the use of intellectual property, receipts, as re-saved"
licence = "CC BY 4.0"
attribution = "World Bank, World Development Indicators"
location = {{ path = "{path}" }}
vintage = "2025-07-01"

  [[source.measures]]
  measure = "bop_value"
  unit = "USD"
  scales = [1]
"""


def semicolon_file(tmp_path: Path) -> Path:
    """The extract as a German spreadsheet saves it: ';' between fields, '.' between thousands, a decimal comma."""
    (tmp_path / "data").mkdir()
    rows = [records()[0], *[[*r[:3], european(r[3])] for r in records()[1:]]]
    return saved(tmp_path / "data" / "receipts_de.csv", rows, delimiter=";")


def test_a_refused_file_names_the_users_path_the_raw_copy_the_rule_and_the_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = semicolon_file(tmp_path)
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(entry("my_receipts", data), encoding="utf-8")
    monkeypatch.setenv("TRADEWH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRADEWH_ALLOWED_ROOTS", str(tmp_path / "data"))
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main(["check-source", "my_receipts", "--catalogue", str(catalogue)])
    out = printed.getvalue()
    assert code == 1
    assert re.search(rf"\[my_receipts\] {re.escape(str(data))} \(raw copy \S+/raw/my_receipts/[0-9a-f]{{64}}/", out)
    assert "rule 'unknown_layout'" in out and "separated by ';'" in out and "thousands separators" in out


@pytest.mark.slow
def test_a_load_prints_one_line_per_failure_and_keeps_the_traceback_in_its_log(tmp_path: Path) -> None:
    data = semicolon_file(tmp_path)
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(entry("my_receipts", data), encoding="utf-8")
    home = tmp_path / "home"
    env = {**os.environ, "TRADEWH_HOME": str(home), "TRADEWH_CATALOGUE": str(catalogue),
           "TRADEWH_ALLOWED_ROOTS": str(tmp_path / "data"), "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "warehouse.serve.cli", "load"], env=env, capture_output=True, text=True, timeout=600
    )
    console = result.stdout + result.stderr
    assert result.returncode == 1, console
    assert "Traceback" not in console
    errors = [line for line in console.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and str(data) in errors[0] and "separated by ';'" in errors[0], errors
    [log] = (home / "logs").glob("run-*.log")
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "SourceError" in text
