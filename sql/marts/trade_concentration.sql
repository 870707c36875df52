-- grain: one row per source x vintage x reporter x flow x period x classification x level x (partner, for products) or (category, for partners)
-- Herfindahl-Hirschman index of concentration as WITS and UNCTAD publish it, latest vintage, customs values:
--   by product: how concentrated a reporter's trade with one partner is across the commodity codes of ONE
--   classification level (HS chapters, headings, ...; SITC sections, divisions, ...: the level from
--   core.dim_commodity, else named by the code's length). Only HS and SITC codes are items: WDI's aggregates
--   (`goods`, `hightech`) and the TOTAL row are not commodity codes (the TOTAL is the published total instead);
--   by partner: how concentrated a reporter's trade in one commodity is across partner economies (the world
--   and other aggregates are not items; the world row is the published total instead).
-- Items are the figures above zero (N = the products or partners actually traded, as UNCTAD counts them).
-- HHI = sum of squared shares (1/N..1); normalised HHI = (HHI - 1/N) / (1 - 1/N) (0..1), for N >= 2 only.
-- A row is comparable with the published indices only when it has two items or more and its items are the
-- whole set: for partners, a world total must be loaded and the partners must cover 99 % of it or more; for
-- products, a published TOTAL (when there is one) must be covered 99 % or more. Other rows stay, flagged, with
-- the reason in `caveat`.
-- Deterministic: the indices and shares are rounded to 10 decimals (the sums of doubles differ in their last
-- digits between reads) and ties for the largest item go to the smallest code.
create or replace view marts.trade_concentration as
with

figures as (
    select * from core.fct_trade_figure
    where measure = 'customs_value' and is_latest_vintage and flow in ('export', 'import') and value is not null
),

countries as (
    select * from core.dim_country
),

commodities as (
    select * from core.dim_commodity
),

coded as (
    -- the product codes: HS or SITC classifications, codes of digits only (TOTAL and WDI's words are not codes)
    select
        figures.*,
        case when figures.classification like 'HS%' then 'HS' else 'SITC' end as family,
    from figures
    where (figures.classification like 'HS%' or figures.classification like 'SITC%')
        and regexp_full_match(figures.category, '[0-9]+')
),

levelled as (
    select
        coded.*,
        coalesce(
            codes.level,
            case coded.family
                when 'HS' then case length(coded.category) when 2 then 'chapter' when 4 then 'heading' when 6 then 'subheading' end
                else case length(coded.category)
                    when 1 then 'section' when 2 then 'division' when 3 then 'group' when 4 then 'subgroup'
                    when 5 then 'basic heading'
                end
            end
        ) as level,
    from coded
    left join commodities as codes on codes.family = coded.family and codes.code = coded.category
),

products as (
    select
        source_id, vintage, reporter, flow, period, classification, level,
        'product' as across,
        partner,
        cast(null as varchar) as category,
        category as item,
        value,
    from levelled
    where level is not null
),

category_levels as (
    select distinct classification, category, level from levelled
),

product_totals as (
    -- the TOTAL the publisher printed for the same reporter, partner, flow and period
    select
        source_id, vintage, reporter, flow, period, classification, 'product' as across, partner,
        cast(null as varchar) as category, value as published_total,
    from figures
    where category = 'TOTAL'
),

partners as (
    select
        figures.source_id, figures.vintage, figures.reporter, figures.flow, figures.period, figures.classification,
        levels.level,
        'partner' as across,
        cast(null as varchar) as partner,
        figures.category,
        figures.partner as item,
        figures.value,
    from figures
    inner join countries on countries.iso3 = figures.partner and not countries.is_aggregate
    left join category_levels as levels
        on levels.classification = figures.classification and levels.category = figures.category
),

partner_totals as (
    -- the reporter's trade with the world in the same commodity: what the partners should add up to
    select
        source_id, vintage, reporter, flow, period, classification, 'partner' as across,
        cast(null as varchar) as partner, category, value as published_total,
    from figures
    where partner = 'WLD'
),

items as (
    select * from products
    union all
    select * from partners
),

published_totals as (
    select * from product_totals
    union all
    select * from partner_totals
),

indices as (
    select
        source_id, vintage, reporter, flow, period, classification, level, across, partner, category,
        count(*) as items_count,
        sum(value) as total_value,
        sum(value * value) / pow(sum(value), 2) as hhi,
        max(value) / sum(value) as largest_share,
        first(item order by value desc, item) as largest_item,
    from items
    where value > 0
    group by all
),

flagged as (
    select
        indices.*,
        published_totals.published_total,
        100 * indices.total_value / nullif(published_totals.published_total, 0) as coverage_pct,
    from indices
    left join published_totals
        on published_totals.source_id = indices.source_id
        and published_totals.vintage = indices.vintage
        and published_totals.reporter = indices.reporter
        and published_totals.flow = indices.flow
        and published_totals.period = indices.period
        and published_totals.classification = indices.classification
        and published_totals.across = indices.across
        and published_totals.partner is not distinct from indices.partner
        and published_totals.category is not distinct from indices.category
),

final as (
    select
        -- ids
        flagged.source_id,
        flagged.vintage,
        flagged.reporter,
        flagged.flow,
        flagged.period,
        periods.period_start,
        periods.period_end,
        flagged.classification,
        flagged.level,
        flagged.across,
        flagged.partner,
        flagged.category,
        -- numerics
        round(flagged.hhi, 10) as hhi,
        case
            when flagged.items_count >= 2
                then round((flagged.hhi - 1.0 / flagged.items_count) / (1 - 1.0 / flagged.items_count), 10)
        end as hhi_normalised,
        flagged.items_count,
        round(flagged.total_value, 2) as total_value_usd,
        round(flagged.published_total, 2) as published_total_usd,
        round(flagged.coverage_pct, 10) as coverage_pct,
        flagged.largest_item,
        round(flagged.largest_share, 10) as largest_share,
        -- comparable with the published indices, or why not
        flagged.items_count >= 2
            and coalesce(flagged.coverage_pct >= 99, flagged.across = 'product') as is_comparable,
        nullif(concat_ws('; ',
            case when flagged.items_count < 2 then 'one item: the index is 1 by construction' end,
            case
                when flagged.across = 'partner' and flagged.published_total is null
                    then 'partial partner set: no trade with the world loaded to check the partners against'
                when flagged.coverage_pct < 99
                    then printf(
                        'partial %s set: the items cover %.1f %% of the published %s',
                        flagged.across, flagged.coverage_pct,
                        case flagged.across when 'partner' then 'trade with the world' else 'TOTAL' end
                    )
            end
        ), '') as caveat,
    from flagged
    left join core.dim_period as periods using (period)
)

select * from final;

comment on view marts.trade_concentration is 'Concentration of trade as WITS and UNCTAD publish it (Herfindahl-Hirschman index 1/N to 1, and normalised 0 to 1), latest vintage, customs values: across products (HS or SITC codes of one classification level; WDI aggregates and TOTAL are not items) for a reporter, partner and flow; or across partner economies (aggregates excluded) for a reporter, commodity and flow. Rows with one item or a partial set of items are kept and flagged (is_comparable false, the reason in caveat).';
comment on column marts.trade_concentration.source_id is 'Source of the figures';
comment on column marts.trade_concentration.vintage is 'Release date of the figures (YYYY-MM-DD); items of one vintage only';
comment on column marts.trade_concentration.reporter is 'Reporting economy';
comment on column marts.trade_concentration.flow is 'export or import';
comment on column marts.trade_concentration.period is 'Reference period';
comment on column marts.trade_concentration.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.trade_concentration.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.trade_concentration.classification is 'Commodity classification and version (HS2007, SITC4, ...)';
comment on column marts.trade_concentration.level is 'Classification level of the codes compared across products (chapter, heading, subheading; section, division, group, ...), or of the category across partners (null for TOTAL); from core.dim_commodity, else named by code length';
comment on column marts.trade_concentration.across is 'product (concentration across commodity codes) or partner (across partner economies)';
comment on column marts.trade_concentration.partner is 'The partner, for concentration across products; null across partners';
comment on column marts.trade_concentration.category is 'The commodity code, for concentration across partners; null across products';
comment on column marts.trade_concentration.hhi is 'Herfindahl-Hirschman index: sum of squared shares, from 1/items_count (even) to 1 (one item holds everything); rounded to 10 decimals';
comment on column marts.trade_concentration.hhi_normalised is 'Normalised index as WITS and UNCTAD publish it: (hhi - 1/N) / (1 - 1/N) with N = items_count, from 0 (even) to 1 (one item holds everything); null when fewer than two items; rounded to 10 decimals';
comment on column marts.trade_concentration.items_count is 'Number of products or partners compared (N): the figures above zero';
comment on column marts.trade_concentration.total_value_usd is 'Sum of the values compared, US$, rounded to the cent';
comment on column marts.trade_concentration.published_total_usd is 'The total the items should add up to, as published: the TOTAL row (across products) or the trade with the world (WLD, across partners), US$, rounded to the cent; null when not loaded';
comment on column marts.trade_concentration.coverage_pct is 'total_value_usd / published_total_usd x 100 (percent, rounded to 10 decimals): below 99 the items are a partial set; null without a published total';
comment on column marts.trade_concentration.largest_item is 'The product code or partner with the largest share (ties: the smallest code)';
comment on column marts.trade_concentration.largest_share is 'Share of the largest item (0 to 1), rounded to 10 decimals';
comment on column marts.trade_concentration.is_comparable is 'True when the index can stand beside the published ones: two items or more, and the whole set (partners: covering 99 % or more of a loaded trade with the world; products: 99 % or more of the TOTAL when one is published)';
comment on column marts.trade_concentration.caveat is 'Why is_comparable is false: one item, or a partial set (with its coverage); null when comparable';
