"""The published file opens in the DuckDB clients analysts and BI tools already have (issue: older clients)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

CLI = Path(sys.executable).parent / "duckdb"


def public_views(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select schema_name || '.' || view_name from duckdb_views() "
            "where not internal and schema_name in ('core', 'marts') order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def canonical(rows: list[list[str]]) -> list[tuple[str, ...]]:
    def cell(value: str) -> str:
        try:
            return f"{float(value):.6g}"
        except ValueError:
            return {"True": "true", "False": "false", "None": ""}.get(value, value)

    return sorted(tuple(cell(v) for v in row) for row in rows)


@pytest.fixture(scope="module")
def cli() -> Path:
    path = CLI if CLI.exists() else shutil.which("duckdb")
    if path is None:
        pytest.fail("the duckdb-cli package (a dev dependency) is not installed: run `make test`")
    version = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v1."), f"expected a 1.x DuckDB CLI, got {version}"
    return Path(path)


def test_older_cli_reads_every_public_view_like_the_project_duckdb(cli, loaded, tmp_path):
    warehouse = loaded["warehouse"]
    views = public_views(warehouse)
    assert "marts.trade_balance" in views and "marts.claim_checks" in views
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for view in views:
            query = f"select * from {view}"
            out = subprocess.run(
                [str(cli), "-readonly", "-csv", "-noheader", "-nullvalue", "", str(warehouse), "-c", query],
                capture_output=True, text=True, cwd=tmp_path, timeout=120,
            )  # fmt: skip
            assert out.returncode == 0, f"{view}: {out.stderr}"
            theirs = canonical(list(csv.reader(io.StringIO(out.stdout))))
            ours = canonical([["" if v is None else str(v) for v in row] for row in con.execute(query).fetchall()])
            assert theirs == ours, view
