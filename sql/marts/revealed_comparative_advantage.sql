-- grain: one row per reporter x period x classification x commodity code (codes of one length; latest vintage)
-- Balassa's revealed comparative advantage: the product's share in the reporter's exports to the world over its
-- share in world exports. Only where world totals exist (reporter 'WLD' figures of the same classification,
-- period and code length); nothing is estimated from the reporters the warehouse happens to hold.
create or replace view marts.revealed_comparative_advantage as
with

exports as (
    select * from core.fct_trade_figure
    where measure = 'customs_value' and flow = 'export' and partner = 'WLD' and is_latest_vintage
        and category <> 'TOTAL'
        and (classification like 'HS%' or classification like 'SITC%')  -- commodity codes, not WDI aggregates
),

with_totals as (
    select
        *,
        length(category) as code_length,
        sum(value) over (partition by reporter, period, classification, length(category)) as reporter_total,
    from exports
),

world as (
    select * from with_totals
    where reporter = 'WLD'
),

countries as (
    select * from with_totals
    where reporter <> 'WLD'
),

final as (
    select
        -- ids
        countries.reporter,
        countries.period,
        periods.period_start,
        periods.period_end,
        countries.classification,
        countries.category as code,
        countries.code_length,
        -- numerics (US$ and ratios)
        countries.value as exports_usd,
        round(countries.reporter_total, 2) as reporter_exports_usd,
        world.value as world_exports_usd,
        round(world.reporter_total, 2) as world_total_exports_usd,
        countries.value / countries.reporter_total as share_in_reporter_exports,
        world.value / world.reporter_total as share_in_world_exports,
        (countries.value / countries.reporter_total) / (world.value / world.reporter_total) as rca,
        -- provenance
        countries.source_id,
        world.source_id as world_source_id,
    from countries
    inner join world
        on world.period = countries.period
        and world.classification = countries.classification
        and world.category = countries.category
    left join core.dim_period as periods on periods.period = countries.period
)

select * from final;

comment on view marts.revealed_comparative_advantage is 'Balassa''s revealed comparative advantage (latest vintage, customs values): (product exports / total exports of the reporter) / (world product exports / world total exports), over codes of one length. Computed only where the world''s own totals exist (reporter WLD) in the same classification and period; rca > 1 means the reporter is relatively specialised in the product.';
comment on column marts.revealed_comparative_advantage.reporter is 'Exporting economy';
comment on column marts.revealed_comparative_advantage.period is 'Reference period';
comment on column marts.revealed_comparative_advantage.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.revealed_comparative_advantage.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.revealed_comparative_advantage.classification is 'Commodity classification and version';
comment on column marts.revealed_comparative_advantage.code is 'Commodity code';
comment on column marts.revealed_comparative_advantage.code_length is 'Length of the codes compared (their aggregation level)';
comment on column marts.revealed_comparative_advantage.exports_usd is 'Reporter''s exports of the code to the world, US$';
comment on column marts.revealed_comparative_advantage.reporter_exports_usd is 'Reporter''s exports of all codes of that length, US$, rounded to the cent';
comment on column marts.revealed_comparative_advantage.world_exports_usd is 'World exports of the code, US$';
comment on column marts.revealed_comparative_advantage.world_total_exports_usd is 'World exports of all codes of that length, US$, rounded to the cent';
comment on column marts.revealed_comparative_advantage.share_in_reporter_exports is 'exports_usd / reporter_exports_usd';
comment on column marts.revealed_comparative_advantage.share_in_world_exports is 'world_exports_usd / world_total_exports_usd';
comment on column marts.revealed_comparative_advantage.rca is 'share_in_reporter_exports / share_in_world_exports (Balassa index)';
comment on column marts.revealed_comparative_advantage.source_id is 'Source of the reporter''s figures';
comment on column marts.revealed_comparative_advantage.world_source_id is 'Source of the world totals';
