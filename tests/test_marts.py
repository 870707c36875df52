"""Golden rows of the public views, read the way an analyst would: read-only, from another directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT

BN = 1e9


@pytest.fixture(scope="module")
def con(loaded: dict, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch):
    elsewhere = tmp_path_factory.mktemp("analyst")
    monkeypatch_module.chdir(elsewhere)  # no view may depend on the working directory
    connection = duckdb.connect(str(loaded["warehouse"]), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> tuple:
    rows = con.execute(sql, list(params)).fetchall()
    assert len(rows) == 1, f"expected one row, got {len(rows)}: {rows}"
    return rows[0]


def test_technology_balance_2011(con):
    exports, imports, balance, derived = one(
        con,
        "select exports, imports, balance, is_imports_derived or is_exports_derived from marts.trade_balance "
        "where reporter = 'CHN' and partner = 'WLD' and period = '2011' and measure = 'technology_contract_value'",
    )
    assert round(exports / BN, 2) == 21.40
    assert round(imports / BN, 2) == 32.16
    assert round(balance / BN, 2) == -10.76
    assert derived is False


def test_technology_balance_2006_imports_are_derived(con):
    exports, imports, imports_derived, derivation = one(
        con,
        "select exports, imports, is_imports_derived, derivation from marts.trade_balance "
        "where reporter = 'CHN' and period = '2006' and measure = 'technology_contract_value'",
    )
    assert round(exports / BN, 2) == 0.58
    assert round(imports / BN, 2) == 22.03
    assert imports_derived is True
    assert derivation == "import = total - export = 22.61 bn - 0.58 bn"


def test_contract_value_never_paired_with_bop(con):
    measures = con.execute(
        "select distinct measure from marts.trade_balance_vintages where classification = 'technology_contracts'"
    ).fetchall()
    assert measures == [("technology_contract_value",)]


def test_software_share_gives_derived_value(con):
    value, base, share, value_derived, share_derived = one(
        con,
        "select value_usd, base_value_usd, share_pct, is_value_derived, is_share_derived from marts.trade_composition "
        "where reporter = 'CHN' and category = 'software' and period = '2011' and flow = 'export'",
    )
    assert share == pytest.approx(89.2)
    assert round(value / BN, 2) == 19.09
    assert round(base / BN, 2) == 21.40
    assert (value_derived, share_derived) == (True, False)


def test_three_provinces_share_of_china(con):
    reporter, base_reporter, share, value = one(
        con,
        "select reporter, base_reporter, share_pct, value_usd from marts.trade_composition "
        "where reporter = 'CN-SJZ' and period = '2011'",
    )
    assert (reporter, base_reporter, share) == ("CN-SJZ", "CHN", 38.0)
    assert round(value / BN, 2) == round(0.38 * 53.56, 2)


def test_wdi_services_2011_from_the_2013_vintage(con):
    exports, imports, vintage = one(
        con,
        "select exports, imports, vintage from marts.trade_balance "
        "where reporter = 'CHN' and period = '2011' and category = 'services' and measure = 'bop_value'",
    )
    assert (round(exports / BN, 2), round(imports / BN, 2)) == (184.76, 238.91)
    assert vintage == "2013-12-01"


def test_ip_charges_2011(con):
    exports, imports, balance = one(
        con,
        "select exports, imports, balance from marts.trade_balance "
        "where reporter = 'CHN' and period = '2011' and category = 'ip_charges'",
    )
    assert round(exports / BN, 3) == 0.743
    assert round(imports / BN, 2) == 14.71
    assert round(balance / BN, 2) == -13.96


def test_vintages_of_one_indicator_kept_apart(con):
    rows = con.execute(
        "select vintage, round(value / 1e9, 3), is_latest_vintage from core.fct_trade_figure "
        "where reporter = 'CHN' and year = 2011 and category = 'ict_services' order by vintage"
    ).fetchall()
    assert rows == [("2013-12-01", 60.691, False), ("2026-02-24", 13.908, True)]
    balances = con.execute(
        "select count(*) from marts.trade_balance_vintages where category = 'ip_charges' and reporter = 'CHN' "
        "and period = '2011'"
    ).fetchall()
    assert balances == [(2,)]  # one per vintage, never one mixing them


def test_growth_of_technology_trade(con):
    cagr, yoy, printed = one(
        con,
        "select series_cagr_pct, yoy_growth_pct, printed_yoy_growth_pct from marts.trade_growth "
        "where source_id = 'mofcom_2012_technology_trade' and flow = 'total' and year = 2011",
    )
    assert cagr == pytest.approx(100 * ((53.56 / 22.61) ** (1 / 5) - 1))
    assert yoy is None  # 2010 total is not published: missing is not zero
    assert printed is None


def test_claim_checks_cover_every_figure_of_the_release(con):
    count = one(con, "select count(*) from marts.claim_checks")[0]
    assert count == 15
    verdicts = dict(con.execute("select figure_id, verdict from marts.claim_checks").fetchall())
    assert set(verdicts.values()) <= {"consistent", "indicative", "inconsistent", "unverifiable"}
    assert verdicts["total_2011"] == "consistent"
    assert verdicts["imports_2011_headline"] == "consistent"
    assert verdicts["balance_2011_approx"] == "consistent"
    assert verdicts["region_share_total_2011"] == "unverifiable"
    assert verdicts["goods_growth_target_2012"] == "consistent"  # "set to miss" the 10 % target: 2012 grew 6.19 %


def test_twelve_percent_claim_is_checked_against_wdi_services_trade(con):
    recomputed, tolerance, source, verdict = one(
        con,
        "select recomputed_value, tolerance, checked_against_source_id, verdict from marts.claim_checks "
        "where figure_id = 'technology_share_services_trade'",
    )
    assert recomputed == pytest.approx(100 * 53.56 / (184.763043712730 + 238.906457017550), abs=0.01)
    assert round(recomputed, 1) == 12.6
    assert source == "wdi_2013"
    # '12 percent' is printed to the unit: 12.6 is outside 12 +/- 0.5, but a contract value over a
    # balance-of-payments total of another vintage is only indicative (tests/test_marts_claims.py)
    assert tolerance == 0.5
    assert verdict == "indicative"


def test_services_growth_expectation_checked_against_wdi(con):
    recomputed, verdict = one(
        con,
        "select recomputed_value, verdict from marts.claim_checks where figure_id = 'services_growth_2012_expected'",
    )
    assert recomputed > 10
    assert verdict == "consistent"


def test_views_open_from_another_directory(con):
    views = con.execute(
        "select schema_name, view_name from duckdb_views() where not internal and schema_name in ('core', 'marts')"
    ).fetchall()
    assert len(views) >= 9
    for schema, view in views:
        con.execute(f'select * from "{schema}"."{view}" limit 1').fetchall()


def test_warehouse_file_is_in_the_configured_storage_version(loaded):
    # DuckDB writes the storage version in the header; a client of that version must be able to read it
    with duckdb.connect() as c:
        path = str(Path(loaded["warehouse"]))
        c.execute(f"attach '{path}' as w (read_only)")
        version = c.execute(
            "select tags['storage_version'] from duckdb_databases() where database_name = 'w'"
        ).fetchall()
    assert version == [("v1.3.0+",)]


def test_china_usa_2011_sitc_divisions_add_up_to_the_published_totals(con):
    exports, imports, divisions = one(
        con,
        "select sum(exports), sum(imports), count(*) from marts.trade_balance "
        "where source_id = 'comtrade_chn_usa_sitc' and reporter = 'CHN' and partner = 'USA' and period = '2011' "
        "and classification = 'SITC4' and length(category) = 2",  # one aggregation level: the 2-digit divisions
    )
    assert (round(exports / BN, 1), round(imports / BN, 1)) == (325.0, 123.1)
    assert divisions > 60


def test_hs8542_imports_from_the_usa_one_figure_a_year(con):
    rows = con.execute(
        "select year, count(*), sum(imports) from marts.trade_balance "
        "where source_id = 'comtrade_chn_usa_hs8542' and category = '8542' group by year order by year"
    ).fetchall()
    assert [r[0] for r in rows] == list(range(2010, 2025))
    assert all(r[1] == 1 for r in rows)  # no double count from the 2015-2017 second-partner breakdown
    assert round(dict((r[0], r[2]) for r in rows)[2011] / BN, 3) == 6.368


def test_unctad_digitally_deliverable_services_after_unit_mult(con):
    exports, imports = one(
        con,
        "select exports, imports from marts.trade_balance where source_id = 'unctad_digital_services' "
        "and reporter = 'CHN' and period = '2011'",
    )
    assert (round(exports / BN, 3), round(imports / BN, 3)) == (72.874, 85.903)


def test_oecd_technology_balance_of_payments_usa(con):
    receipts, payments, measure = one(
        con,
        "select exports, imports, measure from marts.trade_balance where source_id = 'oecd_msti_2018' "
        "and reporter = 'USA' and period = '2011'",
    )
    assert (receipts / 1e6, payments / 1e6, measure) == (119936.0, 81826.0, "technology_bop_value")


def test_goods_composition_by_sitc_section(con):
    rows = con.execute(
        "select section, any_value(section_share_of_total_pct), sum(value_usd), any_value(section_value_usd) "
        "from marts.goods_composition where reporter = 'CHN' and partner = 'USA' and period = '2011' "
        "and flow = 'export' group by section"
    ).fetchall()
    shares = {section: share for section, share, _, _ in rows}
    assert sum(shares.values()) == pytest.approx(100)
    assert all(total == pytest.approx(section_value) for _, _, total, section_value in rows)
    machinery = one(
        con,
        "select sum(exports) filter (where category like '7_') / sum(exports) from marts.trade_balance "
        "where source_id = 'comtrade_chn_usa_sitc' and period = '2011' and length(category) = 2",
    )[0]
    assert shares["7"] == pytest.approx(100 * machinery)


# The stored pairings group only the series whose key hash repeats (one number grouped instead of eleven or
# twelve columns); a series of one row is carried as it is. These compare them with the plain GROUP BY over every
# row that they replace, on every source of the shipped catalogue.

PLAIN_BALANCE = """
    select
        source_id, dataset, vintage, reporter, partner, period, period_type, year, classification, category,
        measure, unit,
        max(value) filter (where flow = 'export') as exports,
        max(value) filter (where flow = 'import') as imports,
        coalesce(bool_or(is_derived) filter (where flow = 'export'), false) as is_exports_derived,
        coalesce(bool_or(is_derived) filter (where flow = 'import'), false) as is_imports_derived,
        string_agg(derivation, '; ') as derivation,
        bool_and(is_latest_vintage) as is_latest_vintage,
    from core.fct_trade_figure
    where flow in ('export', 'import') and measure in (select measure from core.dim_measure where is_additive)
    group by all
"""

STORED_BALANCE = """
    select
        source_id, dataset, vintage, reporter, partner, period, period_type, year, classification, category,
        measure, unit, exports, imports, is_exports_derived, is_imports_derived, derivation, is_latest_vintage,
    from marts.trade_balance_vintages
"""


def test_balance_pairs_every_series_as_a_plain_group_by(con):
    stored = con.execute(f"select count(*) from ({STORED_BALANCE})").fetchone()[0]
    paired = one(
        con, "select count(*) from marts.trade_balance_vintages where exports is not null and imports is not null"
    )
    assert paired[0] > 0 and stored > paired[0]  # both kinds of series are there: paired and one-sided
    assert con.execute(f"({STORED_BALANCE}) except all ({PLAIN_BALANCE})").fetchall() == []
    assert con.execute(f"({PLAIN_BALANCE}) except all ({STORED_BALANCE})").fetchall() == []


def test_a_sole_figure_is_alone_in_its_series(con):
    """The stored fact's is_sole_figure (marts.trade_balance_vintages reads those figures from the fact instead of
    pairing them): true exactly where no other figure of the series exists, in any flow, printed or derived, in
    US$, for a source that prints no growth rate (whose figures give previous years' values: never sole); null for
    a measure that is not additive."""
    series = "source_id, vintage, reporter, partner, period, period_type, year, classification, category, measure, unit"
    rows = con.execute(
        f"""
        with figures as (
            select *, count(*) over (partition by {series}) as in_series,
                measure in (select measure from core.dim_measure where is_additive) as additive,
                source_id in (
                    select source_id from core.fct_trade_figure where measure = 'growth_yoy'
                ) as prints_growth,
            from store.core__fct_trade_figure
        )
        select
            count(*) filter (where is_sole_figure and in_series > 1),
            count(*) filter (
                where additive and unit = 'USD' and not prints_growth and in_series = 1 and not is_sole_figure
            ),
            count(*) filter (where (prints_growth or unit <> 'USD') and is_sole_figure),
            count(*) filter (where not additive and is_sole_figure is not null),
            count(*) filter (where is_sole_figure),
            count(*) filter (where not is_sole_figure),
        from figures
        """
    ).fetchone()
    assert rows[:4] == (0, 0, 0, 0), rows
    assert rows[4] > 0 and rows[5] > 0  # both kinds are in the shipped data
    public = [c[0] for c in con.execute("describe core.fct_trade_figure").fetchall()]
    assert not {"is_sole_figure", "is_aggregate", "is_partner_aggregate"} & set(public)  # the stored rows' alone


def test_balance_flags_and_dates_are_the_dimensions(con):
    """Stored with the pairs, read from the stored fact for a sole figure: the same flags and dates the dimensions
    give (a code missing in core.dim_country counts as an aggregate)."""
    rows = con.execute(
        """
        select
            count(*),
            count(*) filter (where b.is_aggregate is distinct from coalesce(r.is_aggregate, true)),
            count(*) filter (where b.is_partner_aggregate is distinct from coalesce(p.is_aggregate, true)),
            count(*) filter (
                where b.period_start is distinct from d.period_start or b.period_end is distinct from d.period_end
            ),
            count(*) filter (where b.is_aggregate), count(*) filter (where not b.is_partner_aggregate),
        from marts.trade_balance_vintages as b
        left join core.dim_country as r on r.iso3 = b.reporter
        left join core.dim_country as p on p.iso3 = b.partner
        left join core.dim_period as d on d.period = b.period
        """
    ).fetchone()
    assert rows[0] > 0 and rows[1:4] == (0, 0, 0), rows
    assert rows[4] > 0 and rows[5] > 0  # both kinds of reporter and partner are there


def test_identities_derived_wherever_a_plain_group_by_finds_two_flows(con):
    # amounts are stored to the cent (core.fct_trade_figure.value): a sum or difference of two is rounded again
    plain = """
        with sides as (
            select
                source_id, vintage, reporter, partner, period, period_type, year, classification, category, measure,
                unit,
                max(value) filter (where flow = 'export') as e,
                max(value) filter (where flow = 'import') as i,
                max(value) filter (where flow = 'total') as t,
            from core.fct_trade_figure
            where not is_derived and measure in (select measure from core.dim_measure where is_additive)
            group by all
        )
        select source_id, vintage, reporter, partner, period, category, measure, 'import' as flow, round(t - e, 2)
        from sides
        where t is not null and e is not null and i is null
        union all
        select source_id, vintage, reporter, partner, period, category, measure, 'export', round(t - i, 2) from sides
        where t is not null and i is not null and e is null
        union all
        select source_id, vintage, reporter, partner, period, category, measure, 'total', round(e + i, 2) from sides
        where e is not null and i is not null and t is null
    """
    stored = """
        select source_id, vintage, reporter, partner, period, category, measure, flow, value
        from core.fct_trade_figure where derivation_rule = 'identity'
    """
    assert con.execute(f"select count(*) from ({stored})").fetchone()[0] > 0
    assert con.execute(f"({stored}) except all ({plain})").fetchall() == []
    assert con.execute(f"({plain}) except all ({stored})").fetchall() == []


def test_amounts_in_usd_are_stored_to_the_cent(con):
    """32.2 bn x 1e9 is 32200000000.000004 as a double: every amount in USD is rounded to 0.01, so it prints as
    published; shares, ratios and growth rates are not (their comments say which are)."""
    claimed = one(con, "select claimed_value from marts.claim_checks where value_printed = '32.2'")[0]
    assert repr(claimed) == "32200000000.0"
    amounts = {
        "core.fct_trade_figure": "value",
        "marts.trade_balance_vintages": "exports, imports, balance, total_trade",
        "marts.trade_growth": "value, previous_year_value, yoy_change, first_value",
        "marts.goods_composition": "value_usd, section_value_usd, total_value_usd, published_total_usd",
        "marts.trade_composition": "value_usd, base_value_usd, parts_value_usd",
        "marts.mirror_flows": "exports_reported_by_exporter, imports_reported_by_importer, gap",
        "marts.trade_concentration": "total_value_usd",
        "marts.trade_figure_history": "value, previous_vintage_value",  # revision: none in the shipped data
        "marts.definition_breaks": "previous_vintage_value, value, change_across_definitions",
        "marts.claim_checks": "claimed_value, recomputed_value, difference",
    }
    for view, columns in amounts.items():
        unitless = ("marts.goods_composition", "marts.trade_concentration", "marts.trade_composition")  # all US$
        unit = "true" if view in unitless else "unit = 'USD'"
        for column in columns.split(", "):
            noisy = one(con, f"select count(*) from {view} where {unit} and round({column}, 2) <> {column}")[0]
            total = one(con, f"select count({column}) from {view} where {unit}")[0]
            assert total > 0 or view == "marts.goods_composition", f"{view}.{column}: no amounts to check"
            assert noisy == 0, f"{view}.{column}: {noisy} of {total} amounts are not to the cent"


def test_trade_balance_has_calendar_dates_beside_the_period(con):
    rows = con.execute(
        "select distinct period, period_start, period_end from marts.trade_balance where period = '2011' "
        "union all "
        "select distinct period, period_start, period_end from marts.claim_checks where period = '2012-01..10' "
        "order by period"
    ).fetchall()
    assert [(p, str(s), str(e)) for p, s, e in rows] == [
        ("2011", "2011-01-01", "2011-12-31"),
        ("2012-01..10", "2012-01-01", "2012-10-31"),
    ]
    growth = one(con, "select count(*) from marts.trade_growth where period_start <> make_date(year, 1, 1)")[0]
    assert growth == 0
    assert one(con, "select count(*) from marts.trade_balance where period_start is null")[0] == 0


def test_the_vintage_window_runs_for_the_datasets_the_build_names_and_all_without_it(con):
    """The build tells the fact's query which datasets hold several vintages (``multi_vintage_datasets``, bound as
    a constant): every dataset whose figures hold several is named; with none named the window's branch is not
    planned; unset (a connection that did not set it), every dataset goes through the window, and the figures
    are the stored ones either way (EXCEPT ALL both ways)."""
    from warehouse.build.statements import view_query
    from warehouse.build.variables import multi_vintage_datasets

    named = multi_vintage_datasets(con)
    several = {d for (d,) in con.execute(
        "select dataset from core.fct_trade_figure group by dataset having count(distinct vintage) > 1"
    ).fetchall()}  # fmt: skip
    assert several and several <= set(named)
    text = (PROJECT_ROOT / "sql" / "core" / "fct_trade_figure.sql").read_text()
    query = view_query(duckdb.extract_statements(text)[0].query).strip().rstrip(";")
    described = con.execute("select column_name from (describe core.fct_trade_figure)").fetchall()
    columns = ", ".join(c for (c,) in described)
    for value in ("null", "[" + ", ".join(f"'{d}'" for d in named) + "]::varchar[]", "null"):
        con.execute(f"set variable multi_vintage_datasets = {value}")
        stored = "select * from core.fct_trade_figure"
        for a, b in ((query, stored), (stored, query)):
            diff = f"select {columns} from ({a}) except all select {columns} from ({b})"
            assert one(con, f"select count(*) from ({diff})") == (0,), value
    con.execute("set variable multi_vintage_datasets = []::varchar[]")
    plan = one(con, f"explain {query}")[1]
    assert "WINDOW" not in plan.upper()
    con.execute("reset variable multi_vintage_datasets")
    assert "WINDOW" in one(con, f"explain {query}")[1].upper()


@pytest.mark.parametrize("sole_fewer", ["true", "false"])
def test_the_sole_figures_are_the_same_whichever_kind_of_series_is_tested(loaded, tmp_path, sole_fewer):
    """core.fct_trade_figure tests a figure's series against a hash table of the fewer kind (`-- plan:
    sole_series_fewer`: the sole series, or those of two figures or more): exact either way. Built again from the
    shipped data (which holds both kinds) with the choice forced each way, the stored rows (is_sole_figure and the
    derived figures, which pair by the same test) are the build's own."""
    from warehouse.build.models import create_object

    text = (PROJECT_ROOT / "sql" / "core" / "fct_trade_figure.sql").read_text()
    counted = "select count(*) filter (where not is_paired) < count(*) filter (where is_paired) from series_counts"
    assert text.count(counted) == 1
    path = tmp_path / "sql" / "core" / "fct_trade_figure.sql"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace(counted, f"select {sole_fewer}"))
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(loaded["warehouse"], copy)
    with duckdb.connect(str(copy)) as con:
        stored = "select * from store.core__fct_trade_figure"
        built = con.execute(stored).fetchall()
        create_object(con, path)
        again = con.execute(stored).fetchall()
        kinds = con.execute("select count(*) filter (where is_sole_figure), count(*) from store.core__fct_trade_figure")
        sole, figures = kinds.fetchone()
    assert 0 < sole < figures
    assert sorted(again, key=repr) == sorted(built, key=repr)
