"""Issue 19, item 1: mirror flows from real reports on both sides (seeds/comtrade_chn_usa_deu_total_2022).

The seed holds UN Comtrade's 2022 totals of China, the USA and Germany, each reporting its trade with the other two
(current API layout), so every flow between them is reported by its exporter and by its importer. Golden figures
are computed here from the shipped CSV with the csv module, never from the views.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.parse.comtrade import parse_comtrade
from warehouse.parse.comtrade_columnar import batches_comtrade

SOURCE_ID = "comtrade_chn_usa_deu_total_2022"
SEED_DIR = PROJECT_ROOT / "seeds" / SOURCE_ID
SEED = SEED_DIR / "plus_api_CHN_USA_DEU_TOTAL_2022.csv"
SCRIPT = PROJECT_ROOT / "scripts" / "extract_comtrade_mirror.py"
ECONOMIES = {"CHN", "USA", "DEU"}


def seed_rows() -> list[dict[str, str]]:
    """The seed's rows as the publisher printed them (a trailing separator gives a None-keyed empty field)."""
    with SEED.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def reported(flow: str) -> dict[tuple[str, str], float]:
    """(exporter, importer) -> the value one side reports: flow 'X' by the exporter, 'M' by the importer."""
    out = {}
    for row in seed_rows():
        if row["flowCode"] == flow:
            reporter, partner = row["reporterISO"], row["partnerISO"]
            out[(reporter, partner) if flow == "X" else (partner, reporter)] = float(row["primaryValue"])
    return out


@pytest.fixture(scope="module")
def con(loaded):
    connection = duckdb.connect(str(loaded["warehouse"]), read_only=True)
    yield connection
    connection.close()


# --- the shipped extract ---------------------------------------------------------------------------------------


def test_every_flow_between_the_three_is_reported_by_both_sides():
    exports, imports = reported("X"), reported("M")
    pairs = {(a, b) for a in ECONOMIES for b in ECONOMIES if a != b}
    assert set(exports) == set(imports) == pairs
    rows = seed_rows()
    assert len(rows) == 2 * len(pairs)
    assert {(r["refYear"], r["freqCode"], r["cmdCode"], r["classificationCode"]) for r in rows} == {
        ("2022", "A", "TOTAL", "H6")
    }
    # totals over customs procedures, modes of transport and second partners: one figure per flow and side
    assert {(r["customsCode"], r["motCode"], r["partner2Code"]) for r in rows} == {("C00", "0", "0")}


def test_imports_are_reported_cif_and_exports_fob():
    """What the view's valuation columns state, as the file prints it: primaryValue is the CIF value of an import
    and the FOB value of an export."""
    for row in seed_rows():
        valued = row["cifvalue"] if row["flowCode"] == "M" else row["fobvalue"]
        assert float(valued) == float(row["primaryValue"]), row["reporterISO"] + row["flowCode"] + row["partnerISO"]


def test_the_extract_keeps_the_publishers_bytes():
    data = SEED.read_bytes()
    lines = data.split(b"\r\n")
    assert lines[0].startswith(b"typeCode,freqCode,refPeriodId,refYear,") and lines[-1] == b""
    assert data.count(b"\r\n") == data.count(b"\n") == 13  # header + 12 rows, CRLF as downloaded
    assert all(line.endswith(b'",') for line in lines[1:-1])  # Comtrade+ ends each data row with a separator


def test_both_readers_read_every_row_with_its_value():
    """The record reader drops the trailing separator; the columnar reader leaves such a file to it."""
    frame = parse_comtrade(SEED, source_id=SOURCE_ID).frame
    batches = list(batches_comtrade(SEED, source_id=SOURCE_ID))
    assert sum(len(b.frame) for b in batches) == len(frame) == len(seed_rows())
    assert batches[0].frame.equals(frame)
    assert frame["value_text"].tolist() == [r["primaryValue"] for r in seed_rows()]


def test_readme_attributes_and_says_how_to_regenerate():
    text = (SEED_DIR / "README.md").read_text(encoding="utf-8")
    assert "United Nations Statistics Division, UN Comtrade" in text and "terms of use" in text
    assert (
        "nikolinanikolovska/Economic-Analysis-Trade-ML" in text and "a41e4e9e2e15c68f9850409badc760228b8be874" in text
    )
    assert "python scripts/extract_comtrade_mirror.py --source" in text
    assert f"{len(seed_rows())} of 1352 data rows kept" in text


def test_the_script_refuses_a_file_that_is_not_the_upstream_one(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(SEED), "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0 and "is not the upstream file's" in result.stderr
    assert not any(tmp_path.iterdir())


# --- marts.mirror_flows ----------------------------------------------------------------------------------------


def test_china_and_the_usa_pair_in_both_directions(con):
    """Defect: China-USA never paired. Each direction: the exporter's report against the importer's."""
    exports, imports = reported("X"), reported("M")
    for exporter, importer in (("CHN", "USA"), ("USA", "CHN")):
        row = con.execute(
            "select exports_reported_by_exporter, imports_reported_by_importer, gap, asymmetry_ratio, is_paired, "
            "classification, category, period from marts.mirror_flows "
            "where exporter = ? and importer = ? and exporter_source_id = ? and importer_source_id = ?",
            [exporter, importer, SOURCE_ID, SOURCE_ID],
        ).fetchone()
        x, m = exports[(exporter, importer)], imports[(exporter, importer)]
        assert row[:5] == (
            pytest.approx(x),
            pytest.approx(m),
            pytest.approx(round(m - x, 2), abs=0.01),
            pytest.approx(m / x),
            True,
        )
        assert row[5:] == ("HS2022", "TOTAL", "2022")


def test_every_pair_of_the_extract_is_in_the_view(con):
    exports, imports = reported("X"), reported("M")
    rows = con.execute(
        "select exporter, importer, exports_reported_by_exporter, imports_reported_by_importer, "
        "exporter_valuation, importer_valuation from marts.mirror_flows "
        "where is_paired and exporter_source_id = ? and importer_source_id = ?",
        [SOURCE_ID, SOURCE_ID],
    ).fetchall()
    got = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    assert set(got) == set(exports)
    for pair, (x, m) in got.items():
        assert (x, m) == (pytest.approx(exports[pair]), pytest.approx(imports[pair])), pair
    assert {(r[4], r[5]) for r in rows} == {("FOB", "CIF")}


def test_no_flow_of_the_extract_is_left_unpaired(con):
    unpaired = con.execute(
        "select exporter, importer from marts.mirror_flows where not is_paired "
        "and (exporter_source_id = ? or importer_source_id = ?)",
        [SOURCE_ID, SOURCE_ID],
    ).fetchall()
    assert unpaired == []
