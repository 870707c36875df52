-- grain: one row per source x reporter x flow x period x classification x (partner, for products) or (category, for partners)
-- Herfindahl-Hirschman index of concentration, latest vintage, customs values:
--   by product: how concentrated a reporter's trade with one partner is across commodity codes of one
--   aggregation level (code length; TOTAL excluded);
--   by partner: how concentrated a reporter's trade in one commodity is across partner economies (the world
--   and other aggregates excluded).
-- HHI = sum of squared shares (0..1; 1 = a single product or partner), with the number of items.
create or replace view marts.trade_concentration as
with

figures as (
    select * from core.fct_trade_figure
    where measure = 'customs_value' and is_latest_vintage and flow in ('export', 'import')
),

countries as (
    select * from core.dim_country
),

products as (
    select
        source_id, reporter, flow, period, classification,
        'product' as across,
        partner,
        cast(null as varchar) as category,
        length(category) as code_length,
        category as item,
        value,
    from figures
    where category <> 'TOTAL'
),

partners as (
    select
        figures.source_id, figures.reporter, figures.flow, figures.period, figures.classification,
        'partner' as across,
        cast(null as varchar) as partner,
        figures.category,
        length(figures.category) as code_length,
        figures.partner as item,
        figures.value,
    from figures
    inner join countries on countries.iso3 = figures.partner and not countries.is_aggregate
),

items as (
    select * from products
    union all
    select * from partners
),

shares as (
    select
        *,
        value / nullif(sum(value) over groups, 0) as share,
        sum(value) over groups as total_value,
        count(*) over groups as items_count,
    from items
    window groups as (partition by source_id, reporter, flow, period, classification, across, partner, category, code_length)
),

final as (
    select
        -- ids
        source_id,
        reporter,
        flow,
        period,
        periods.period_start,
        periods.period_end,
        classification,
        across,
        partner,
        category,
        code_length,
        -- numerics
        sum(share * share) as hhi,
        any_value(items_count) as items_count,
        round(any_value(total_value), 2) as total_value_usd,
        arg_max(item, value) as largest_item,
        max(share) as largest_share,
    from shares
    left join core.dim_period as periods using (period)
    group by all
)

select * from final;

comment on view marts.trade_concentration is 'Concentration of trade (Herfindahl-Hirschman index, 0 to 1), latest vintage, customs values: across products (commodity codes of one length, TOTAL excluded) for a reporter, partner and flow; or across partner economies (aggregates excluded) for a reporter, commodity and flow.';
comment on column marts.trade_concentration.source_id is 'Source of the figures';
comment on column marts.trade_concentration.reporter is 'Reporting economy';
comment on column marts.trade_concentration.flow is 'export or import';
comment on column marts.trade_concentration.period is 'Reference period';
comment on column marts.trade_concentration.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.trade_concentration.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.trade_concentration.classification is 'Commodity classification';
comment on column marts.trade_concentration.across is 'product (concentration across commodity codes) or partner (across partner economies)';
comment on column marts.trade_concentration.partner is 'The partner, for concentration across products; null across partners';
comment on column marts.trade_concentration.category is 'The commodity code, for concentration across partners; null across products';
comment on column marts.trade_concentration.code_length is 'Length of the commodity codes compared (their aggregation level)';
comment on column marts.trade_concentration.hhi is 'Sum of squared shares: 1/items_count when even, 1 when one item holds everything';
comment on column marts.trade_concentration.items_count is 'Number of products or partners compared';
comment on column marts.trade_concentration.total_value_usd is 'Total of the values compared, US$, rounded to the cent';
comment on column marts.trade_concentration.largest_item is 'The product code or partner with the largest share';
comment on column marts.trade_concentration.largest_share is 'Share of the largest item (0 to 1)';
