-- grain: one row per source x reporter x partner x period x classification x category x measure (latest vintage)
-- The world and regional groups are reported too (WDI, UNCTAD publish them): their "balance" is not a country's
-- balance (the world's is a global reporting asymmetry), so is_aggregate says which rows they are; a query that
-- ranks or compares countries filters `where not is_aggregate`.
create or replace view marts.trade_balance as
with

balances as (
    -- the flags are stored with the balances (marts.trade_balance_vintages): no join on each read
    select * from marts.trade_balance_vintages
),

final as (
    select balances.* exclude (is_latest_vintage),
    from balances
    where balances.is_latest_vintage
)

select * from final;

comment on view marts.trade_balance is 'Trade balance (exports - imports) of the latest vintage: exports, imports, balance, coverage ratio and total trade by reporter, partner, period, category and measure. Pairs only figures of one source, vintage, measure and unit. World and regional rows are flagged is_aggregate: not economies, leave them out of rankings. marts.trade_balance_vintages has every vintage.';
comment on column marts.trade_balance.source_id is 'Catalogue entry the figures come from (core.dim_source)';
comment on column marts.trade_balance.dataset is 'Publisher layout family of the source (wdi, press_release, ...)';
comment on column marts.trade_balance.vintage is 'Release date of the figures (YYYY-MM-DD): the latest one';
comment on column marts.trade_balance.reporter is 'Reporting economy or group (core.dim_country.iso3)';
comment on column marts.trade_balance.partner is 'Partner economy or aggregate (WLD = the world)';
comment on column marts.trade_balance.period is 'Reference period as published (2011; 2012-01..10 for year to date)';
comment on column marts.trade_balance.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.trade_balance.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.trade_balance.period_type is 'year, ytd (year to date) or recent_years';
comment on column marts.trade_balance.year is 'Calendar year of the period, for joins';
comment on column marts.trade_balance.classification is 'Classification of the category (technology_contracts, bop, customs, hightech_products)';
comment on column marts.trade_balance.category is 'What is traded (core.dim_category)';
comment on column marts.trade_balance.measure is 'The concept measured (core.dim_measure): technology_contract_value, bop_value, customs_value, technology_bop_value';
comment on column marts.trade_balance.unit is 'Unit of exports, imports, balance and total_trade (USD, scale 1)';
comment on column marts.trade_balance.exports is 'Exports (receipts, for services and IP charges), in unit, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion); null if not published nor derivable';
comment on column marts.trade_balance.imports is 'Imports (payments, for services and IP charges), in unit, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion); null if not published nor derivable';
comment on column marts.trade_balance.balance is 'exports - imports, in unit, rounded to 0.01; negative is a deficit; null if either side is missing';
comment on column marts.trade_balance.total_trade is 'exports + imports, in unit, rounded to 0.01';
comment on column marts.trade_balance.coverage_ratio_pct is 'exports / imports x 100 (percent), rounded to 0.01';
comment on column marts.trade_balance.is_exports_derived is 'True when exports were not printed but derived (see derivation)';
comment on column marts.trade_balance.is_imports_derived is 'True when imports were not printed but derived (see derivation)';
comment on column marts.trade_balance.derivation is 'Formula of any derived side, e.g. import = total - export = 22.61 bn - 0.58 bn';
comment on column marts.trade_balance.is_aggregate is 'True when the reporter is the world, a region, an income group or a sub-national group (core.dim_country.is_aggregate), or a code not in core.dim_country: its balance is not an economy''s (the world''s is a global reporting asymmetry); rankings of countries filter on not is_aggregate';
comment on column marts.trade_balance.is_partner_aggregate is 'True when the partner is the world or another aggregate (core.dim_country.is_aggregate), e.g. WLD for trade with all partners';
