-- grain: one row per source x vintage x reporter x partner x period x flow x classification x category x measure,
-- placed in its base: the parent category (software in technology) or the parent economy (three provinces in China)
-- A reported share gives the value (share x base value, derived); reported values give the share (derived).
-- Every vintage: a part is put with the base of its own source and vintage only (WDI's 2013 release holds the
-- services totals, so IP charges and ICT services get their shares of services there, BPM5 definitions); a part
-- whose source and vintage print no base stays, with no share and a note saying so (never a base from another
-- source, vintage or manual). Beside each share, the coverage of its base: the sum of the parts shipped against
-- the published total (flagged partial below 99 %). A figure computed from a derived one carries its derivation.
-- Stored once by the build: its joins run over every money figure of the fact.
-- materialized: table
-- incremental: source_id
create or replace view marts.trade_composition as
with

figures as not materialized (
    -- inlined into each use, so each reads only its own rows of the stored fact; every vintage
    select * from core.fct_trade_figure
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
        coalesce(bases.is_derived, false) as is_base_value_derived,
        case
            when parts.value is null and bases.value is not null
                then concat_ws('; ',
                    printf('value = %g%% x %.2f bn = %.2f bn', shares.value, bases.value / 1e9, shares.value / 100 * bases.value / 1e9),
                    case when bases.is_derived then 'base: ' || bases.derivation end
                )
        end as derivation,
        shares.quote,
        shares.is_latest_vintage,
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
        parts.derivation, parts.is_latest_vintage,
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
        parts.derivation, parts.is_latest_vintage,
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
        bases.value is not null as is_share_derived,
        coalesce(bases.is_derived, false) as is_base_value_derived,
        case
            when bases.value is not null
                then concat_ws('; ',
                    printf('share = %.2f bn / %.2f bn', parts.value / 1e9, bases.value / 1e9),
                    case when parts.is_derived then 'value: ' || parts.derivation end,
                    case when bases.is_derived then 'base: ' || bases.derivation end
                )
            when parts.is_derived then 'value: ' || parts.derivation
        end as derivation,
        cast(null as varchar) as quote,
        parts.is_latest_vintage,
    from parts_and_bases as parts
    left join money_of_parts as bases
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

coverage as (
    -- the parts shipped of each base: categories of a parent, or sub-national groups of a country, apart
    select
        source_id, vintage, base_reporter, partner, period, flow, classification, base_category, measure,
        reporter = base_reporter as is_category_part,
        count(value) as parts_count,
        sum(value) as parts_value,
        string_agg(
            case when reporter = base_reporter then category else reporter end, ', '
            order by case when reporter = base_reporter then category else reporter end
        ) as parts_named,
    from both_ways
    group by all
),

covered as (
    select
        both_ways.*,
        coverage.parts_count,
        coverage.parts_value,
        100 * coverage.parts_value / nullif(both_ways.base_value, 0) as coverage_pct,
        coverage.parts_named,
    from both_ways
    inner join coverage
        on coverage.source_id = both_ways.source_id
        and coverage.vintage = both_ways.vintage
        and coverage.base_reporter = both_ways.base_reporter
        and coverage.partner = both_ways.partner
        and coverage.period = both_ways.period
        and coverage.flow = both_ways.flow
        and coverage.classification = both_ways.classification
        and coverage.base_category = both_ways.base_category
        and coverage.measure = both_ways.measure
        and coverage.is_category_part = (both_ways.reporter = both_ways.base_reporter)
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
        round(parts_value, 2) as parts_value_usd,
        parts_count,
        coverage_pct,
        -- reported or derived
        is_value_derived,
        is_share_derived,
        is_base_value_derived,
        derivation,
        quote,
        -- how complete the parts are
        case when coverage_pct is not null then coverage_pct < 99 end as is_partial,
        case
            when base_value is null
                then printf(
                    'no %s total of %s in this source and vintage: no share (none is taken from another source, vintage or manual)',
                    base_category, base_reporter
                )
            when coverage_pct < 99
                then printf('partial: the parts shipped (%s) make %.1f %% of %s', parts_named, coverage_pct, base_category)
            when coverage_pct > 101
                then printf(
                    'the parts shipped (%s) make %.1f %% of %s: they overlap or follow another definition',
                    parts_named, coverage_pct, base_category
                )
            else printf('complete: the parts shipped (%s) make %.1f %% of %s', parts_named, coverage_pct, base_category)
        end as coverage_note,
        is_latest_vintage,
    from covered
    left join core.dim_period as periods using (period)
)

select * from final;

comment on view marts.trade_composition is 'What a total is made of, every vintage: each category''s share of its parent category (software in technology exports; services in goods and services; IP charges and ICT services in services, from WDI''s 2013 release) and each sub-national group''s share of its country (Shanghai, Jiangsu and Zhejiang in China). A printed share gives the value (derived), printed values give the share (derived). Only parts and bases of one source, vintage, measure and flow are put together; a part without a base there has no share, and says why (coverage_note). Beside each share, how much of the base the parts shipped cover (coverage_pct, is_partial).';
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
comment on column marts.trade_composition.share_pct is 'value_usd / base_value_usd x 100 (percent); as printed when is_share_derived is false; null when the source and vintage print no base';
comment on column marts.trade_composition.is_value_derived is 'True when value_usd was not printed but derived (share x base, or by identity)';
comment on column marts.trade_composition.is_share_derived is 'True when share_pct was computed from values rather than printed';
comment on column marts.trade_composition.derivation is 'Formula of the derived figure, with the derivation of any derived value or base it is computed from (value: ..., base: ...)';
comment on column marts.trade_composition.is_base_value_derived is 'True when base_value_usd was not printed but derived (e.g. total = export + import): the share rests on a derived figure';
comment on column marts.trade_composition.parts_value_usd is 'Sum of the parts shipped of the same base (same source, vintage, base economy, partner, period, flow and measure; categories and sub-national groups apart), US$, rounded to the cent';
comment on column marts.trade_composition.parts_count is 'Number of parts shipped of the same base (those with a value)';
comment on column marts.trade_composition.coverage_pct is 'parts_value_usd / base_value_usd x 100 (percent): how much of the published total the parts shipped make; null without a base';
comment on column marts.trade_composition.is_partial is 'True when the parts shipped make less than 99 % of the base (the shares are not a full breakdown); null without a base';
comment on column marts.trade_composition.coverage_note is 'The coverage in words: complete, partial (naming the parts shipped), above 100 % (parts that overlap), or no base in this source and vintage';
comment on column marts.trade_composition.is_latest_vintage is 'True when the part''s figure is of the latest vintage of its dataset (core.fct_trade_figure.is_latest_vintage); filter on it for the latest view';
comment on column marts.trade_composition.quote is 'The sentence that printed the share, for printed shares';
