"""The nightly flow end to end, through real Prefect, on the project's sources and on a bad one."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.conftest import FIXTURES, PROJECT_ROOT, run_nightly

FIGURE_TABLES = ["raw.press_release", "raw.wdi", "core.fct_trade_figure", "marts.trade_balance", "marts.claim_checks"]


def snapshot(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr) for t in FIGURE_TABLES}


def test_first_run_loads_every_source(loaded):
    assert loaded["first"]["status"] == "succeeded"
    with duckdb.connect(str(loaded["after_first"]), read_only=True) as con:
        rows = con.execute(
            "select source_id, status, rows_read, rows_rejected, rows_loaded from audit.source_runs"
        ).fetchall()
    assert {r[0] for r in rows} == {
        "mofcom_2012_technology_trade",
        "wdi_2013",
        "wdi_current",
        "comtrade_chn_usa_sitc",
        "comtrade_chn_usa_hs8542",
        "unctad_digital_services",
        "oecd_msti_2018",
        "comtrade_chn_usa_deu_total_2022",
        "comtrade_usa_chn_monthly_2010_2014",
    }
    assert all(r[1] == "loaded" and r[3] == 0 and r[2] == r[4] > 0 for r in rows)


def test_second_run_adds_nothing_and_changes_no_figure(loaded):
    assert loaded["second"]["status"] == "succeeded"
    assert snapshot(loaded["after_first"]) == snapshot(loaded["warehouse"])
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        runs = con.execute(
            "select run_id, status, sources_loaded, sources_skipped from audit.load_runs order by run_id"
        ).fetchall()
        second = con.execute(
            "select distinct status, rows_loaded from audit.source_runs where run_id = ?", [runs[-1][0]]
        ).fetchall()
    assert [(r[1], r[2], r[3]) for r in runs] == [("succeeded", 9, 0), ("succeeded", 0, 9)]
    assert second == [("skipped", 0)]


def test_raw_payloads_are_kept_as_they_arrived(loaded):
    seed = PROJECT_ROOT / "seeds" / "mofcom_2012_technology_trade" / "figures.csv"
    kept = list((loaded["home"] / "raw" / "mofcom_2012_technology_trade").glob("*/figures.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == seed.read_bytes()


def test_lake_has_one_folder_per_source_and_vintage(loaded):
    lake = loaded["home"] / "lake"
    found = sorted(str(p.parent.relative_to(lake)) for p in lake.glob("*/*/*/data-*.parquet"))
    assert found == [
        "comtrade/comtrade_chn_usa_deu_total_2022/2025-06-15",
        "comtrade/comtrade_chn_usa_hs8542/2025-01-01",
        "comtrade/comtrade_chn_usa_sitc/2015-01-01",
        "comtrade/comtrade_usa_chn_monthly_2010_2014/2023-04-16",
        "oecd_msti/oecd_msti_2018/2018-12-01",
        "press_release/mofcom_2012_technology_trade/2012-12-07",
        "sdmx_csv/unctad_digital_services/2025-12-18",
        "wdi/wdi_2013/2013-12-01",
        "wdi/wdi_current/2026-02-24",
    ]


def _catalogue_with(tmp_path: Path, figures: Path) -> Path:
    """The project's catalogue with the press release read from another file (a local path)."""
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    local = tmp_path / "release" / "figures.csv"
    local.parent.mkdir()
    shutil.copy(figures, local)
    text = text.replace(
        'location = { seed = "mofcom_2012_technology_trade/figures.csv" }', f'location = {{ path = "{local}" }}'
    )
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(text)
    return catalogue


def _with_bad_row(tmp_path: Path) -> Path:
    seed = (PROJECT_ROOT / "seeds" / "mofcom_2012_technology_trade" / "figures.csv").read_text().splitlines()
    bad = seed[5].replace("total_2011,figure", "total_2011_bad,figure").replace(",CHN,WLD,2011,", ",XXX,WLD,2011,")
    path = tmp_path / "figures.csv"
    path.write_text("\n".join([*seed, bad]) + "\n")
    return path


def test_bad_row_is_quarantined_and_the_rest_loads(tmp_path, prefect_home):
    catalogue = _catalogue_with(tmp_path, _with_bad_row(tmp_path))
    result = run_nightly(
        tmp_path / "home", catalogue, TRADEWH_ALLOWED_ROOTS=str(tmp_path), TRADEWH_REJECT_THRESHOLD="0.1"
    )
    assert result["status"] == "succeeded"
    assert any("1 row(s) quarantined" in line for line in result["summary"])
    with duckdb.connect(str(tmp_path / "home" / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        rejected = con.execute(
            "select source_id, file_name, file_row, column_name, rule, value from audit.rejected_rows"
        ).fetchall()
        loaded_rows = con.execute("select count(*) from raw.press_release").fetchall()[0][0]
        counts = con.execute(
            "select rows_read, rows_valid, rows_rejected, rows_loaded from audit.source_runs "
            "where source_id = 'mofcom_2012_technology_trade'"
        ).fetchall()
    assert rejected == [("mofcom_2012_technology_trade", "figures.csv", 17, "reporter", "known_country", "XXX")]
    assert loaded_rows == 15
    assert counts == [(16, 15, 1, 15)]


def test_source_over_the_reject_threshold_fails_alone(tmp_path, prefect_home):
    catalogue = _catalogue_with(tmp_path, _with_bad_row(tmp_path))
    result = run_nightly(
        tmp_path / "home", catalogue, TRADEWH_ALLOWED_ROOTS=str(tmp_path), TRADEWH_REJECT_THRESHOLD="0.05"
    )
    assert result["status"] == "partial"  # 1 of 16 rows = 6.25 % > 5 %
    with duckdb.connect(str(tmp_path / "home" / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.press_release").fetchall() == [(0,)]
        assert con.execute("select count(*) > 0 from raw.wdi").fetchall() == [(True,)]
        status = con.execute("select status, message from audit.load_runs").fetchall()
    assert status[0][0] == "partial" and "above the threshold of 5%" in status[0][1]


def test_unreadable_source_fails_alone_with_a_clear_message(tmp_path, prefect_home):
    catalogue = _catalogue_with(tmp_path, FIXTURES / "catalogue" / "not_csv.html")
    result = run_nightly(tmp_path / "home", catalogue, TRADEWH_ALLOWED_ROOTS=str(tmp_path))
    assert result["status"] == "partial"
    line = next(x for x in result["summary"] if x.strip().startswith("mofcom_2012_technology_trade"))
    assert "failed" in line and "figures.csv" in line and "html_not_csv" in line


def test_a_revised_release_keeps_both_vintages(tmp_path, prefect_home):
    catalogue = _catalogue_with(tmp_path, PROJECT_ROOT / "seeds" / "mofcom_2012_technology_trade" / "figures.csv")
    home = tmp_path / "home"
    assert run_nightly(home, catalogue, TRADEWH_ALLOWED_ROOTS=str(tmp_path))["status"] == "succeeded"
    local = tmp_path / "release" / "figures.csv"
    local.write_text(local.read_text().replace(",USD,21.4,21.4,1e9,", ",USD,21.5,21.5,1e9,"))
    second = run_nightly(home, catalogue, TRADEWH_ALLOWED_ROOTS=str(tmp_path))
    assert second["status"] == "succeeded"
    query = "select exports from marts.trade_balance where period = '2011' and measure = 'technology_contract_value'"
    as_of = (
        "select value from marts.trade_figure_history where period = '2011' and flow = 'export' "
        "and measure = 'technology_contract_value' and valid_from <= ? and (valid_to is null or ? < valid_to)"
    )
    with duckdb.connect(str(home / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        assert con.execute(query).fetchall() == [(21.5e9,)]  # the latest vintage by default
        assert con.execute(as_of, ["2013-01-01", "2013-01-01"]).fetchall() == [(21.4e9,)]  # what was known then
        vintages = con.execute(
            "select vintage from raw.press_release where figure_id = 'exports_2011' order by vintage"
        ).fetchall()
        revisions = con.execute(
            "select period, flow, previous_vintage_value, value, loaded_by_run_id from marts.revisions "
            "where source_id = 'mofcom_2012_technology_trade'"
        ).fetchall()
    assert len(vintages) == 2 and vintages[0] == ("2012-12-07",)
    assert [r[:4] for r in revisions] == [("2011", "export", 21.4e9, 21.5e9)]
    assert revisions[0][4] == second["run_id"]


def test_each_run_publishes_prefect_artifacts(loaded):
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        tables = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["tradewh-sources"])))
        summaries = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["tradewh-run-summary"]))
        )
    for result in (loaded["first"], loaded["second"]):  # other tests' runs publish theirs too: find these runs'
        (table,) = [a for a in tables if a.description == f"Sources of run {result['run_id']}"]
        (summary,) = [a for a in summaries if a.data.startswith(f"# tradewh run {result['run_id']}:")]
        rows = json.loads(table.data) if isinstance(table.data, str) else table.data
        assert len(rows) == 9 and {r["status"] for r in rows} <= {"loaded", "skipped"}
        assert "Largest revisions" in summary.data
