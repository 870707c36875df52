"""`tradewh export`: public views to Parquet or CSV, read-only, names checked before any SQL is written."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import duckdb
import pytest

from tests.test_cli import tradewh
from warehouse.serve.export import ExportError, export_views, resolve_views


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count(warehouse: Path, view: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select count(*) from {view}").fetchall()[0][0]


def mart_views(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select view_name from duckdb_views() where not internal and schema_name = 'marts' order by 1"
        ).fetchall()
    return [f"marts.{v}" for (v,) in rows]


def test_parquet_export_of_every_mart_keeps_every_row(loaded, tmp_path):
    warehouse = loaded["warehouse"]
    before = sha256(warehouse)
    exported = export_views(warehouse, [], fmt="parquet", out_dir=tmp_path / "out")
    assert [e.view.qualified for e in exported] == mart_views(warehouse)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{v}.parquet" for v in mart_views(warehouse))
    with duckdb.connect() as con:
        for e in exported:
            expected = count(warehouse, e.view.qualified)
            assert e.rows == expected
            assert con.execute("select count(*) from read_parquet(?)", [str(e.path)]).fetchall()[0][0] == expected
    assert sha256(warehouse) == before  # read-only: the published file is untouched


def test_csv_export_has_a_header_and_every_row(loaded, tmp_path):
    warehouse = loaded["warehouse"]
    views = ["marts.trade_balance", "core.dim_country", "claim_checks"]  # a bare name resolves when unambiguous
    exported = export_views(warehouse, views, fmt="csv", out_dir=tmp_path)
    assert [e.path.name for e in exported] == [
        "marts.trade_balance.csv",
        "core.dim_country.csv",
        "marts.claim_checks.csv",
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for e in exported:
            with e.path.open(newline="", encoding="utf-8") as fh:
                header, *rows = list(csv.reader(fh))
            columns = [d[0] for d in con.execute(f"select * from {e.view.qualified} limit 0").description]
            assert header == columns
            assert len(rows) == e.rows == count(warehouse, e.view.qualified)


def test_csv_values_round_trip(loaded, tmp_path):
    (exported,) = export_views(loaded["warehouse"], ["marts.claim_checks"], fmt="csv", out_dir=tmp_path)
    with exported.path.open(newline="", encoding="utf-8") as fh:
        verdicts = {row["figure_id"]: row["verdict"] for row in csv.DictReader(fh)}
    assert verdicts["total_2011"] == "consistent"
    assert verdicts["technology_share_services_trade"] == "indicative"  # a contract value over a BoP total


def test_unknown_view_names_the_public_views(loaded, tmp_path):
    with pytest.raises(ExportError) as caught:
        export_views(loaded["warehouse"], ["marts.trade_balance", "marts.nope"], fmt="parquet", out_dir=tmp_path / "x")
    message = str(caught.value)
    assert "not a public view: marts.nope" in message
    for view in ("marts.trade_balance", "marts.claim_checks", "core.fct_trade_figure"):
        assert view in message
    assert not (tmp_path / "x").exists()  # nothing written before every name is checked


@pytest.mark.parametrize(
    "name",
    [
        'marts.trade_balance"; drop view marts.trade_balance; --',
        "marts.trade_balance) to '/tmp/x.csv' (format csv); --",
        "audit.load_runs",  # a table, not a public view
        "staging.stg_wdi",  # a view, but not a public one
        "raw.wdi",
    ],
)
def test_names_that_are_not_public_views_are_refused(loaded, tmp_path, name):
    with pytest.raises(ExportError, match="not a public view"):
        export_views(loaded["warehouse"], [name], fmt="csv", out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_output_path_is_bound_not_formatted(loaded, tmp_path):
    out = tmp_path / "it's; (format csv) here"
    (exported,) = export_views(loaded["warehouse"], ["core.dim_measure"], fmt="parquet", out_dir=out)
    assert exported.path == out / "core.dim_measure.parquet"
    assert [p.name for p in out.iterdir()] == ["core.dim_measure.parquet"]


def test_resolve_views_dedupes_and_keeps_order(loaded):
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        views = resolve_views(con, ["trade_growth", "marts.claim_checks", "marts.trade_growth"])
    assert [v.qualified for v in views] == ["marts.trade_growth", "marts.claim_checks"]


def test_bad_format_and_missing_warehouse_say_how_to_fix(loaded, tmp_path):
    with pytest.raises(ExportError, match="use one of parquet, csv"):
        export_views(loaded["warehouse"], [], fmt="xlsx", out_dir=tmp_path)
    with pytest.raises(ExportError, match="run `tradewh load` first"):
        export_views(tmp_path / "none.duckdb", [], fmt="csv", out_dir=tmp_path)
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ExportError, match="not a folder"):
        export_views(loaded["warehouse"], ["core.dim_measure"], fmt="csv", out_dir=a_file)


def test_export_command(loaded, tmp_path):
    result = tradewh(
        "export", "marts.trade_balance", "--format", "csv", "--out", "exports", home=loaded["home"], cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "exports" / "marts.trade_balance.csv").is_file()
    assert "marts.trade_balance" in result.stdout and "(1 row)" in result.stdout
    bad = tradewh("export", "trade_balanc", "--out", "exports", home=loaded["home"], cwd=tmp_path)
    assert bad.returncode == 1
    assert "not a public view: trade_balanc" in bad.stderr and "marts.trade_balance" in bad.stderr
