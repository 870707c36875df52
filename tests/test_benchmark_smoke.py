"""The benchmark harness (benchmarks/) at a tiny size, so it cannot rot. No timing is asserted: only that it runs,
that tradewh's load in it succeeded, that the bare pipeline and the query agree, and that the report has its rows."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT

BENCH = PROJECT_ROOT / "benchmarks"
SEED_CSV = PROJECT_ROOT / "seeds" / "comtrade_chn_usa_hs8542" / "plus_api_CHN_M_USA_HS8542_2010_2024.csv"
ROWS = 2000


def _run(*args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_generator_is_deterministic_and_in_the_seed_layout(tmp_path: Path) -> None:
    first, second = tmp_path / "one.csv", tmp_path / "two.csv"
    _run(str(BENCH / "generate.py"), "--rows", "500", "--bad-share", "0.02", "--out", str(first))
    _run(str(BENCH / "generate.py"), "--rows", "500", "--bad-share", "0.02", "--out", str(second))
    assert first.read_bytes() == second.read_bytes()
    with SEED_CSV.open(newline="", encoding="utf-8-sig") as fh:
        seed_header = next(csv.reader(fh))
    with first.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == seed_header
    assert len(rows) == 500
    assert all(len(r["cmdCode"]) == 6 for r in rows) and any(r["cmdCode"].startswith("0") for r in rows)
    assert any(r["qty"] == "" for r in rows)
    key = [(r["reporterCode"], r["partnerCode"], r["flowCode"], r["cmdCode"]) for r in rows]
    record = json.loads(first.with_name(first.name + ".json").read_text())
    assert record["rows"] == 500 and record["bad_rows"] == 10 == len(record["bad_lines"])
    clean = [k for line, k in enumerate(key, start=2) if line not in set(record["bad_lines"])]
    assert len(set(clean)) == len(clean)  # unique keys (a bad partner code may collide, and is rejected anyway)


def test_bare_pipeline_rejects_exactly_the_bad_rows(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    _run(str(BENCH / "generate.py"), "--rows", "1000", "--bad-share", "0.03", "--out", str(data))
    out = _run(str(BENCH / "bare_duckdb.py"), "--csv", str(data), "--workdir", str(tmp_path / "bare"))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    expected = json.loads(data.with_name(data.name + ".json").read_text())["bad_lines"]
    with duckdb.connect(str(tmp_path / "bare" / "bare.duckdb"), read_only=True) as con:
        rejected = {r[0] for r in con.execute("select file_row from rejected").fetchall()}
    assert rejected == set(expected)
    assert result["rows_kept"] == 1000 - len(expected)


def test_benchmark_runs_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    _run(
        str(BENCH / "run.py"),
        "--rows", str(ROWS), "--repeat", "1", "--bad-share", "0", "--profile-rows", "0",
        "--measure", "a", "b", "d_mart", "d_hand",
        "--workdir", str(tmp_path / "work"), "--out", str(report), "--quiet",
    )  # fmt: skip
    text = report.read_text(encoding="utf-8")
    results = json.loads(report.with_suffix(".json").read_text())
    for label in ("(a) bare DuckDB", "(b) tradewh load", "(d) marts.trade_balance", "(d) hand-written SQL"):
        assert any(line.startswith(f"| {ROWS:,} | {label}") for line in text.splitlines()), label
    assert "## The targets of issue 5" in text and "python benchmarks/run.py" in text
    size = results["sizes"][0]
    (b,) = size["measurements"]["b"]
    assert b["returncode"] == 0 and not b["killed"], b["tail"]
    (check,) = size["checks"]["b"]
    assert check["run_status"] == "succeeded" and check["source_status"] == "loaded"
    assert check["rows_loaded"] == ROWS
    (mart,), (hand,) = size["measurements"]["d_mart"], size["measurements"]["d_hand"]
    assert mart["payload"]["rows"] == hand["payload"]["rows"] > 0
    assert mart["payload"]["total"] == pytest.approx(hand["payload"]["total"], rel=1e-9)
