"""Goods-trade marts on a small Comtrade file with mirror figures: mirror flows and concentration."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import FIXTURES, PROJECT_ROOT, run_nightly


@pytest.fixture(scope="module")
def con(tmp_path_factory, prefect_home):
    workdir = tmp_path_factory.mktemp("goods")
    text = (
        (PROJECT_ROOT / "catalogue.toml")
        .read_text()
        .replace(
            'location = { seed = "comtrade_chn_usa_sitc/*.csv" }',
            f'location = {{ path = "{FIXTURES}/comtrade/mirror.csv" }}',
        )
    )
    (workdir / "catalogue.toml").write_text(text)
    result = run_nightly(workdir / "home", workdir / "catalogue.toml")
    assert result["status"] == "succeeded", result["summary"]
    connection = duckdb.connect(str(workdir / "home" / "warehouse" / "tradewh.duckdb"), read_only=True)
    yield connection
    connection.close()


def test_mirror_flows_pair_the_exporter_and_the_importer(con):
    rows = con.execute(
        "select category, exports_reported_by_exporter, imports_reported_by_importer, gap, mirror_ratio "
        "from marts.mirror_flows where exporter = 'CHN' and importer = 'USA' and period = '2011' "
        "and category <> 'TOTAL' order by category"  # the fixture's codes; the USA's shipped 2011 total is unpaired
    ).fetchall()
    assert rows == [("75", 600.0, 660.0, 60.0, 1.1), ("76", 300.0, 330.0, 30.0, 1.1), ("84", 100.0, None, None, None)]


def test_concentration_across_products(con):
    hhi, items, largest, share = con.execute(
        "select hhi, items_count, largest_item, largest_share from marts.trade_concentration "
        "where reporter = 'CHN' and partner = 'USA' and flow = 'export' and across = 'product'"
    ).fetchall()[0]
    assert hhi == pytest.approx(0.6**2 + 0.3**2 + 0.1**2)
    assert (items, largest, share) == (3, "75", pytest.approx(0.6))


def test_concentration_across_partners(con):
    hhi, items = con.execute(
        "select hhi, items_count from marts.trade_concentration "
        "where reporter = 'CHN' and category = '75' and flow = 'export' and across = 'partner'"
    ).fetchall()[0]
    assert hhi == pytest.approx(0.75**2 + 0.25**2)
    assert items == 2


def test_revealed_comparative_advantage_against_world_totals(con):
    rows = con.execute(
        "select code, share_in_reporter_exports, share_in_world_exports, rca from marts.revealed_comparative_advantage "
        "where reporter = 'CHN' and period = '2011' and rca is not null order by code"
    ).fetchall()
    # China: 75 and 76 half each; world: 75 a quarter, 76 three quarters
    assert rows == [("75", 0.5, 0.25, 2.0), ("76", 0.5, 0.75, pytest.approx(2 / 3))]
