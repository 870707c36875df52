"""Building and publishing the warehouse file: the conformed figure's rules, atomic swap, the schedule."""

from __future__ import annotations

import duckdb
import pytest

from warehouse import cli
from warehouse.build import BuildError, check_trade_figures, publish
from warehouse.ingest import over_threshold


def _fact(con: duckdb.DuckDBPyConnection, value: float, is_derived: bool, derivation: str | None) -> None:
    con.execute("create schema core")
    con.execute("create table core.figure_value (value double, is_derived boolean, derivation varchar)")
    con.execute("insert into core.figure_value values (?, ?, ?)", [value, is_derived, derivation])
    con.execute(
        """
        create view core.fct_trade_figure as
        select 'wdi_2013' as source_id, 'wdi' as dataset, '2013-12-01' as vintage, 'CHN' as reporter,
            'WLD' as partner, '2011' as period, 'year' as period_type, 2011 as year, 'export' as flow,
            'bop' as classification, 'services' as category, 'bop_value' as measure, 'USD' as unit,
            value, is_derived, derivation, true as is_latest_vintage
        from core.figure_value
        """
    )


def test_conformed_figure_passes_its_rules():
    with duckdb.connect() as con:
        _fact(con, 1.0, False, None)
        check_trade_figures(con)


@pytest.mark.parametrize(
    ("value", "is_derived", "derivation", "rule"),
    [(-1.0, False, None, "money_not_negative"), (1.0, True, None, "derived_has_formula")],
)
def test_conformed_figure_breaking_a_rule_refuses_the_build(value, is_derived, derivation, rule):
    with duckdb.connect() as con:
        _fact(con, value, is_derived, derivation)
        with pytest.raises(BuildError, match=rule):
            check_trade_figures(con)


def test_publish_swaps_and_keeps_the_previous(tmp_path):
    final = tmp_path / "tradewh.duckdb"
    first, second = tmp_path / "a.building", tmp_path / "b.building"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    assert publish(first, final) is None
    previous = publish(second, final)
    assert final.read_bytes() == b"second"
    assert previous is not None and previous.read_bytes() == b"first"
    assert not first.exists() and not second.exists()


def test_reject_threshold():
    assert over_threshold(100, 5, 0.05) is None
    assert "6 of 100 rows rejected (6.0%), above the threshold of 5%" in over_threshold(100, 6, 0.05)


def test_serve_runs_the_flow_on_the_nightly_cron(monkeypatch):
    from flows.nightly import nightly

    calls = []
    monkeypatch.setattr(type(nightly), "serve", lambda self, **kw: calls.append(kw))
    monkeypatch.delenv("TRADEWH_CRON", raising=False)
    monkeypatch.setenv("TRADEWH_TIMEZONE", "Asia/Shanghai")
    assert cli.main(["serve"]) == 0
    [call] = calls
    assert call["name"] == "tradewh-nightly"
    [schedule] = call["schedules"]
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "Asia/Shanghai")
