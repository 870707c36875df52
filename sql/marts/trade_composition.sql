-- grain: one row per source x vintage x reporter x partner x period x flow x classification x category x measure,
-- placed in its base: the parent category (software in technology) or the parent economy (three provinces in China)
-- A reported share gives the value (share x base value, derived); reported values give the share (derived).
-- Latest vintage only.
-- Stored once by the build: its joins run over every money figure of the fact.
-- materialized: table
create or replace view marts.trade_composition as
with

figures as not materialized (
    -- inlined into each use, so each reads only its own rows of the stored fact
    select * from core.fct_trade_figure
    where is_latest_vintage
),

categories as (
    select * from core.dim_category
),

countries as (
    select * from core.dim_country
),

money as not materialized (
    select * from figures
    where unit = 'USD' and flow in ('export', 'import', 'total')
),

reported_shares as (
    -- a printed share whose base is the same measure and classification: a part of a whole
    select * from figures
    where measure = 'share'
        and base_measure = num_measure
        and base_classification = classification
),

money_of_shares as (
    -- a share is put together with figures of its own source only: the money of the sources that print shares
    select * from money
    where source_id in (select source_id from reported_shares)
),

share_given as (
    select
        shares.source_id, shares.vintage, shares.reporter, shares.base_reporter, shares.partner, shares.period,
        shares.period_type, shares.year, shares.flow, shares.classification, shares.category,
        shares.base_category, shares.num_measure as measure,
        coalesce(parts.value, shares.value / 100 * bases.value) as value,
        bases.value as base_value,
        shares.value as share_pct,
        parts.value is null as is_value_derived,
        false as is_share_derived,
        case
            when parts.value is null and bases.value is not null
                then printf('value = %g%% x %.2f bn = %.2f bn', shares.value, bases.value / 1e9, shares.value / 100 * bases.value / 1e9)
        end as derivation,
        shares.quote,
    from reported_shares as shares
    left join money_of_shares as bases
        on bases.source_id = shares.source_id
        and bases.vintage = shares.vintage
        and bases.reporter = shares.base_reporter
        and bases.partner = shares.partner
        and bases.period = shares.period
        and bases.flow = shares.flow
        and bases.classification = shares.base_classification
        and bases.category = shares.base_category
        and bases.measure = shares.base_measure
    left join money_of_shares as parts
        on parts.source_id = shares.source_id
        and parts.vintage = shares.vintage
        and parts.reporter = shares.reporter
        and parts.partner = shares.partner
        and parts.period = shares.period
        and parts.flow = shares.flow
        and parts.classification = shares.classification
        and parts.category = shares.category
        and parts.measure = shares.num_measure
),

parts_and_bases as (
    -- values of a child category against its parent category, and of a sub-national group against its country
    select
        parts.source_id, parts.vintage, parts.reporter, parts.reporter as base_reporter, parts.partner,
        parts.period, parts.period_type, parts.year, parts.flow, parts.classification, parts.category,
        categories.parent_category as base_category, parts.measure, parts.value, parts.is_derived,
    from money as parts
    inner join categories
        on categories.classification = parts.classification
        and categories.category = parts.category
        and categories.parent_category is not null
    union all
    select
        parts.source_id, parts.vintage, parts.reporter, countries.parent_iso3 as base_reporter, parts.partner,
        parts.period, parts.period_type, parts.year, parts.flow, parts.classification, parts.category,
        parts.category as base_category, parts.measure, parts.value, parts.is_derived,
    from money as parts
    inner join countries on countries.iso3 = parts.reporter and countries.parent_iso3 is not null
),

money_of_parts as (
    -- a part is put together with figures of its own source only: the money of the sources that have parts
    select * from money
    where source_id in (select source_id from parts_and_bases)
),

values_given as (
    select
        parts.source_id, parts.vintage, parts.reporter, parts.base_reporter, parts.partner, parts.period,
        parts.period_type, parts.year, parts.flow, parts.classification, parts.category, parts.base_category,
        parts.measure,
        parts.value,
        bases.value as base_value,
        100 * parts.value / nullif(bases.value, 0) as share_pct,
        parts.is_derived as is_value_derived,
        true as is_share_derived,
        printf('share = %.2f bn / %.2f bn', parts.value / 1e9, bases.value / 1e9) as derivation,
        cast(null as varchar) as quote,
    from parts_and_bases as parts
    inner join money_of_parts as bases
        on bases.source_id = parts.source_id
        and bases.vintage = parts.vintage
        and bases.reporter = parts.base_reporter
        and bases.partner = parts.partner
        and bases.period = parts.period
        and bases.flow = parts.flow
        and bases.classification = parts.classification
        and bases.category = parts.base_category
        and bases.measure = parts.measure
    anti join share_given
        on share_given.source_id = parts.source_id
        and share_given.vintage = parts.vintage
        and share_given.reporter = parts.reporter
        and share_given.partner = parts.partner
        and share_given.period = parts.period
        and share_given.flow = parts.flow
        and share_given.category = parts.category
        and share_given.measure = parts.measure
),

both_ways as (
    select * from share_given
    union all
    select * from values_given
),

final as (
    select
        -- ids
        source_id,
        vintage,
        reporter,
        base_reporter,
        partner,
        period,
        periods.period_start,
        periods.period_end,
        period_type,
        year,
        flow,
        classification,
        category,
        base_category,
        measure,
        -- numerics
        round(value, 2) as value_usd,
        round(base_value, 2) as base_value_usd,
        share_pct,
        -- reported or derived
        is_value_derived,
        is_share_derived,
        derivation,
        quote,
    from both_ways
    left join core.dim_period as periods using (period)
)

select * from final;

comment on view marts.trade_composition is 'What a total is made of, latest vintage: each category''s share of its parent category (software in technology exports; services in goods and services) and each sub-national group''s share of its country (Shanghai, Jiangsu and Zhejiang in China). A printed share gives the value (derived), printed values give the share (derived). Only parts and bases of one source, vintage, measure and flow are put together.';
comment on column marts.trade_composition.source_id is 'Catalogue entry of the figures';
comment on column marts.trade_composition.vintage is 'Release date of the figures (YYYY-MM-DD)';
comment on column marts.trade_composition.reporter is 'Economy or group whose figure is the part';
comment on column marts.trade_composition.base_reporter is 'Economy whose figure is the base (the reporter itself, or its parent country for a sub-national group)';
comment on column marts.trade_composition.partner is 'Partner economy or aggregate (WLD = the world)';
comment on column marts.trade_composition.period is 'Reference period as published';
comment on column marts.trade_composition.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.trade_composition.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.trade_composition.period_type is 'year, ytd or recent_years';
comment on column marts.trade_composition.year is 'Calendar year of the period';
comment on column marts.trade_composition.flow is 'export, import or total (exports plus imports)';
comment on column marts.trade_composition.classification is 'Classification of category and base_category';
comment on column marts.trade_composition.category is 'The part (e.g. software)';
comment on column marts.trade_composition.base_category is 'The whole the part belongs to (e.g. technology)';
comment on column marts.trade_composition.measure is 'Measure of value_usd and base_value_usd (core.dim_measure)';
comment on column marts.trade_composition.value_usd is 'Value of the part, US$ (scale 1), rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion); derived when only the share was printed';
comment on column marts.trade_composition.base_value_usd is 'Value of the whole, US$ (scale 1), rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion); null when not available';
comment on column marts.trade_composition.share_pct is 'value_usd / base_value_usd x 100 (percent); as printed when is_share_derived is false';
comment on column marts.trade_composition.is_value_derived is 'True when value_usd was not printed but derived (share x base, or by identity)';
comment on column marts.trade_composition.is_share_derived is 'True when share_pct was computed from values rather than printed';
comment on column marts.trade_composition.derivation is 'Formula of the derived figure';
comment on column marts.trade_composition.quote is 'The sentence that printed the share, for printed shares';
