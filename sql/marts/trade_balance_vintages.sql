-- grain: one row per source x vintage x reporter x partner x period x classification x category x measure
-- Exports against imports of the same measure, unit, source and vintage only: never contract value against
-- balance-of-payments value, never two vintages, never two units. Every vintage; marts.trade_balance keeps the latest.
-- Stored once by the build: pairing exports with imports over the whole fact on each query costs seconds at
-- a million rows. Only the series of several figures are paired and stored (`paired`), rounded to the cent, with
-- their period's dates and their countries' aggregate flags (a join to core.dim_period and two to core.dim_country
-- cost a query reading 5M pairs a third of its time, and rounding them on each read a fifth). A figure alone in
-- its series (the stored fact's is_sole_figure) has nothing to pair with: its row is read from the stored fact
-- when the view is read (`sole`) instead of being stored again (at 10M generated Comtrade rows, 9.75M of the
-- mart's 9.87M rows: the mart 0.5 s of the load against 6.3 s). Balance, total and coverage are computed when the
-- view is read.
-- Stored one table per dataset and per bucket of series (`-- partitioned:`), the bucket a hash of four columns of
-- the series' key: a series lands in one bucket, so each bucket's grouping is exact and holds a fraction of the
-- pairs. The buckets are one per 20M figures to pair (`-- plan: pair_buckets`): at 100M rows whose series all have
-- both flows (50M pairs) the grouping of all of them in one statement ran out of memory at the build's 512MB, on
-- two threads and on one; in 11 buckets it completed (115.5 s). On the 30M-row file, the mart in 4 buckets, a hash
-- of the nine columns of the key, 25.1-28.6 s; of four, 20.6-21.6 s (the hash is computed for every figure by
-- each bucket's statement).
-- materialized: table
-- incremental: source_id
-- stored: paired
-- plan: pair_buckets
-- partitioned: dataset, bucket in figures
create or replace view marts.trade_balance_vintages as
with

additive_figures as not materialized (
    select * from store.core__fct_trade_figure
    where flow in ('export', 'import')
        and measure in (select measure from core.dim_measure where is_additive)
        and not is_sole_figure
),

pair_buckets as (
    -- how many buckets the series are paired in (`-- plan:`, set by the build before the pairs are stored; null
    -- where the view is read, which reads the stored pairs): one per 20M figures to pair, or per the connection's
    -- variable pair_bucket_figures where set (a test of several buckets on a small warehouse)
    select cast(greatest(1, ceil(count(*) / coalesce(getvariable('pair_bucket_figures'), 20e6))) as integer)
    from additive_figures
),

figures as not materialized (
    select
        *,
        -- the bucket of the figure's series, from columns of its key (a series lies whole in one bucket); with
        -- one bucket no hash is computed (the variable is a constant to the planner)
        case
            when coalesce(getvariable('pair_buckets'), 1) > 1
                then cast(hash(reporter, partner, period, category) % getvariable('pair_buckets') as integer)
            else 0
        end as bucket,
    from additive_figures
),

pairs as (
    -- every series of several figures, grouped whole: a series of one row here (a figure that is not sole because
    -- its source prints growth rates, or its series holds a total) groups to the row it is. Its figures are
    -- nearly all of two flows: told apart first by a hash table of the repeating series (a semi join, and an anti
    -- join for the rest), at 10M rows whose series all have both flows the stored rows took 9.6-13.6 s (2.3-3.0
    -- GB spilled) against 5.6-5.9 s grouped whole, and ran out of memory at a third of the build's memory (standing
    -- for 30M rows) against 5.4-8.3 s
    select
        source_id, dataset, bucket, vintage, reporter, partner, period, period_type, year, classification,
        category, measure, unit,
        max(value) filter (where flow = 'export') as exports,
        max(value) filter (where flow = 'import') as imports,
        bool_or(is_derived) filter (where flow = 'export') as is_exports_derived,
        bool_or(is_derived) filter (where flow = 'import') as is_imports_derived,
        -- each derivation in the order of its flow and text, as string_agg(derivation, '; ' order by flow,
        -- derivation) gives them: an ordered aggregate sorts every group's rows (measured at 10M rows: the mart
        -- 5.9-6.5 s against 7.5-7.7 s, same rows)
        array_to_string(
            [
                each.derivation
                for each in list_sort(list({'flow': flow, 'derivation': derivation}) filter (where derivation is not null))
            ],
            '; '
        ) as derivation,
        bool_and(is_latest_vintage) as is_latest_vintage,
    from figures
    group by
        source_id, dataset, bucket, vintage, reporter, partner, period, period_type, year, classification, category,
        measure, unit
),

paired as (
    select
        pairs.* replace (round(pairs.exports, 2) as exports, round(pairs.imports, 2) as imports),
        periods.period_start,
        periods.period_end,
        -- aggregates flagged (core.dim_country.is_aggregate; a code missing there counts as an aggregate: unknown
        -- is not an economy)
        coalesce(reporters.is_aggregate, true) as is_aggregate,
        coalesce(partners.is_aggregate, true) as is_partner_aggregate,
    from pairs
    left join core.dim_period as periods on periods.period = pairs.period
    left join core.dim_country as reporters on reporters.iso3 = pairs.reporter
    left join core.dim_country as partners on partners.iso3 = pairs.partner
),

sole as (
    -- the figures alone in their series, each a row with one side, as `paired` has them (the stored fact's
    -- is_sole_figure: no other figure of its source, vintage, reporter, partner, period, classification, category,
    -- measure and unit, in any flow; in US$, so to the cent already). The aggregate flags are the stored fact's,
    -- the dates looked up in a map of core.dim_period made once per read: DuckDB keeps a left join whose columns
    -- a query does not read, and query (d) of BENCHMARKS.md took 0.21-0.22 s with the joins to core.dim_period
    -- and core.dim_country, 0.19 s with the period's alone, 0.17 s so (0.16 s without the dates)
    select
        fact.source_id, fact.dataset, fact.vintage, fact.reporter, fact.partner, fact.period,
        fact.period_type, fact.year, fact.classification, fact.category, fact.measure, fact.unit,
        case when fact.flow = 'export' then fact.value end as exports,
        case when fact.flow = 'import' then fact.value end as imports,
        case when fact.flow = 'export' then fact.is_derived end as is_exports_derived,
        case when fact.flow = 'import' then fact.is_derived end as is_imports_derived,
        fact.derivation,
        fact.is_latest_vintage,
        (
            select map_from_entries(list({'key': period, 'value': period_start})) from core.dim_period
        )[fact.period] as period_start,
        (
            select map_from_entries(list({'key': period, 'value': period_end})) from core.dim_period
        )[fact.period] as period_end,
        fact.is_aggregate,
        fact.is_partner_aggregate,
    from store.core__fct_trade_figure as fact
    where fact.is_sole_figure and fact.flow in ('export', 'import')
),

balances as (
    select * from paired
    union all by name
    select * from sole
),

final as (
    select
        -- ids
        source_id,
        dataset,
        vintage,
        reporter,
        partner,
        period,
        period_start,
        period_end,
        period_type,
        year,
        classification,
        category,
        measure,
        unit,
        -- numerics (in unit, to the cent; null where a side is missing: missing is not zero)
        exports,
        imports,
        round(exports - imports, 2) as balance,
        round(exports + imports, 2) as total_trade,
        round(100 * exports / nullif(imports, 0), 2) as coverage_ratio_pct,
        -- reported or derived
        coalesce(is_exports_derived, false) as is_exports_derived,
        coalesce(is_imports_derived, false) as is_imports_derived,
        derivation,
        is_latest_vintage,
        is_aggregate,
        is_partner_aggregate,
    from balances
)

select * from final;

comment on view marts.trade_balance_vintages is 'Trade balance (exports - imports) for every vintage of every source; one row per source x vintage x reporter x partner x period x classification x category x measure. Only like with like is paired.';
comment on column marts.trade_balance_vintages.source_id is 'Catalogue entry the figures come from (core.dim_source)';
comment on column marts.trade_balance_vintages.dataset is 'Publisher layout family of the source (wdi, press_release, ...)';
comment on column marts.trade_balance_vintages.vintage is 'Release date of the figures (YYYY-MM-DD)';
comment on column marts.trade_balance_vintages.reporter is 'Reporting economy or group (core.dim_country.iso3)';
comment on column marts.trade_balance_vintages.partner is 'Partner economy or aggregate (WLD = the world)';
comment on column marts.trade_balance_vintages.period is 'Reference period as published (2011; 2012-01..10 for year to date)';
comment on column marts.trade_balance_vintages.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.trade_balance_vintages.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.trade_balance_vintages.period_type is 'year, ytd (year to date) or recent_years';
comment on column marts.trade_balance_vintages.year is 'Calendar year of the period, for joins';
comment on column marts.trade_balance_vintages.classification is 'Classification of the category (technology_contracts, bop, customs, hightech_products)';
comment on column marts.trade_balance_vintages.category is 'What is traded (core.dim_category)';
comment on column marts.trade_balance_vintages.measure is 'The concept measured (core.dim_measure): technology_contract_value, bop_value, customs_value, technology_bop_value';
comment on column marts.trade_balance_vintages.unit is 'Unit of exports, imports, balance and total_trade (USD, scale 1)';
comment on column marts.trade_balance_vintages.exports is 'Exports (receipts, for services and IP charges), in unit, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion); null if not published nor derivable';
comment on column marts.trade_balance_vintages.imports is 'Imports (payments, for services and IP charges), in unit, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion); null if not published nor derivable';
comment on column marts.trade_balance_vintages.balance is 'exports - imports, in unit, rounded to 0.01; negative is a deficit; null if either side is missing';
comment on column marts.trade_balance_vintages.total_trade is 'exports + imports, in unit, rounded to 0.01';
comment on column marts.trade_balance_vintages.coverage_ratio_pct is 'exports / imports x 100 (percent), rounded to 0.01';
comment on column marts.trade_balance_vintages.is_exports_derived is 'True when exports were not printed but derived (see derivation)';
comment on column marts.trade_balance_vintages.is_imports_derived is 'True when imports were not printed but derived (see derivation)';
comment on column marts.trade_balance_vintages.derivation is 'Formula of any derived side, e.g. import = total - export = 22.61 bn - 0.58 bn';
comment on column marts.trade_balance_vintages.is_latest_vintage is 'True when this is the latest vintage of these figures';
comment on column marts.trade_balance_vintages.is_aggregate is 'True when the reporter is the world, a region, an income group or a sub-national group (core.dim_country.is_aggregate), or a code not in core.dim_country: its balance is not an economy''s (the world''s is a global reporting asymmetry); rankings of countries filter on not is_aggregate';
comment on column marts.trade_balance_vintages.is_partner_aggregate is 'True when the partner is the world or another aggregate (core.dim_country.is_aggregate), e.g. WLD for trade with all partners';
