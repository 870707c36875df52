-- grain: one row per reporter x period x classification x commodity code (codes of one length; latest vintage)
-- Balassa's revealed comparative advantage: the product's share in the economy's exports to the world over its
-- share in world exports, rca = (X_ik / X_i) / (X_wk / X_w), over codes of one length (one aggregation level).
-- The world (X_wk, X_w), in this order of preference:
--   'reported'          the world's own figures (reporter WLD) of the same classification, period and code;
--   'sum_of_reporters'  where no WLD reporter exists, the sum of the exports to the world of every economy loaded
--                       (as WITS builds its world from reporters), when at least two economies report them.
-- Limits of the sum: it is the world only as far as the economies loaded are; with a few reporters it is their
-- group, not the world (world_reporters_count says how many), and a reporter's partial extract (a few codes)
-- understates its total (reporter_codes_count). Aggregates (core.dim_country.is_aggregate) are never reporters here
-- and never enter the sum. Where rca cannot be computed, the row stays with rca null and why_missing says why.
create or replace view marts.revealed_comparative_advantage as
with

figures as (
    select *, length(category) as code_length,
    from core.fct_trade_figure
    where measure = 'customs_value' and flow = 'export' and is_latest_vintage and not is_derived
        and category <> 'TOTAL'
        and (classification like 'HS%' or classification like 'SITC%')  -- commodity codes, not WDI aggregates
),

economies as (
    select iso3 from core.dim_country
    where not is_aggregate
),

economy_figures as (
    select * from figures
    where reporter in (select iso3 from economies)
),

candidates as (
    -- every economy x period x code whose exports are loaded, to any partner: the rows the view answers for
    select
        reporter, period, classification, category, code_length,
        string_agg(distinct partner, ', ' order by partner) as partners_loaded,
    from economy_figures
    group by all
),

to_world as (
    select * from economy_figures
    where partner = 'WLD'
),

reporter_totals as (
    select
        reporter, period, classification, code_length,
        sum(value) as reporter_total,
        count(*) as reporter_codes_count,
    from to_world
    group by all
),

world_reported as (
    select
        period, classification, category, code_length, value,
        sum(value) over (partition by period, classification, code_length) as world_total,
        source_id,
    from figures
    where reporter = 'WLD' and partner = 'WLD'
),

world_summed_codes as (
    select
        period, classification, category, code_length,
        sum(value) as value,
        string_agg(distinct source_id, ', ' order by source_id) as source_id,
    from to_world
    group by all
),

world_summed_totals as (
    select
        period, classification, code_length,
        sum(value) as world_total,
        count(distinct reporter) as reporters_count,
    from to_world
    group by all
),

joined as (
    select
        candidates.*,
        own.value as exports_usd,
        own.source_id,
        totals.reporter_total,
        totals.reporter_codes_count,
        case
            when reported.value is not null then 'reported'
            when summed_totals.reporters_count >= 2 and summed.value is not null then 'sum_of_reporters'
        end as world_basis,
        case when reported.value is null then summed_totals.reporters_count end as world_reporters_count,
        coalesce(reported.value, summed.value) as world_value,
        coalesce(reported.world_total, summed_totals.world_total) as world_total,
        coalesce(reported.source_id, summed.source_id) as world_source_id,
    from candidates
    left join to_world as own
        on own.reporter = candidates.reporter
        and own.period = candidates.period
        and own.classification = candidates.classification
        and own.category = candidates.category
    left join reporter_totals as totals
        on totals.reporter = candidates.reporter
        and totals.period = candidates.period
        and totals.classification = candidates.classification
        and totals.code_length = candidates.code_length
    left join world_reported as reported
        on reported.period = candidates.period
        and reported.classification = candidates.classification
        and reported.category = candidates.category
    left join world_summed_codes as summed
        on summed.period = candidates.period
        and summed.classification = candidates.classification
        and summed.category = candidates.category
    left join world_summed_totals as summed_totals
        on summed_totals.period = candidates.period
        and summed_totals.classification = candidates.classification
        and summed_totals.code_length = candidates.code_length
),

explained as (
    select
        *,
        case
            when reporter_total is null then
                'no exports to the world (partner WLD) by code are loaded for this reporter, period and '
                || 'classification; only exports to ' || partners_loaded
            when exports_usd is null then
                'the reporter''s exports of this code to the world are not loaded (missing, not zero)'
            when world_basis is null then
                'no world totals: no WLD reporter, and the reporter is the only economy whose exports to the world '
                || 'are loaded (a sum of one reporter is not the world)'
        end as why_missing,
    from joined
),

final as (
    select
        -- ids
        explained.reporter,
        explained.period,
        periods.period_start,
        periods.period_end,
        explained.classification,
        explained.category as code,
        explained.code_length,
        -- numerics (US$ and ratios; null where why_missing says)
        explained.exports_usd,
        round(explained.reporter_total, 2) as reporter_exports_usd,
        case when why_missing is null then explained.world_value end as world_exports_usd,
        case when why_missing is null then round(explained.world_total, 2) end as world_total_exports_usd,
        explained.exports_usd / explained.reporter_total as share_in_reporter_exports,
        case when why_missing is null then explained.world_value / explained.world_total end as share_in_world_exports,
        case
            when why_missing is null
                then (explained.exports_usd / explained.reporter_total) / (explained.world_value / explained.world_total)
        end as rca,
        -- how the world was built, how much is covered, and why not
        case when why_missing is null then explained.world_basis end as world_basis,
        case when why_missing is null then explained.world_reporters_count end as world_reporters_count,
        explained.reporter_codes_count,
        explained.why_missing,
        -- provenance
        explained.source_id,
        case when why_missing is null then explained.world_source_id end as world_source_id,
    from explained
    left join core.dim_period as periods on periods.period = explained.period
)

select * from final;

comment on view marts.revealed_comparative_advantage is 'Balassa''s revealed comparative advantage (latest vintage, customs values, economies only): (product exports / total exports of the reporter, to the world) / (world product exports / world total exports), over codes of one length. The world is the WLD reporter''s own figures where loaded (world_basis reported), else the sum of the exports to the world of every economy loaded when there are at least two (world_basis sum_of_reporters: only as complete as the reporters loaded, see world_reporters_count). rca > 1 means the reporter is relatively specialised in the product. One row per economy, period and code whose exports are loaded; where rca cannot be computed it is null and why_missing says why.';
comment on column marts.revealed_comparative_advantage.reporter is 'Exporting economy (never an aggregate: core.dim_country.is_aggregate)';
comment on column marts.revealed_comparative_advantage.period is 'Reference period';
comment on column marts.revealed_comparative_advantage.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.revealed_comparative_advantage.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.revealed_comparative_advantage.classification is 'Commodity classification and version';
comment on column marts.revealed_comparative_advantage.code is 'Commodity code';
comment on column marts.revealed_comparative_advantage.code_length is 'Length of the codes compared (their aggregation level)';
comment on column marts.revealed_comparative_advantage.exports_usd is 'Reporter''s exports of the code to the world (partner WLD), US$; null when not loaded (see why_missing)';
comment on column marts.revealed_comparative_advantage.reporter_exports_usd is 'Reporter''s exports to the world of all codes of that length, US$, rounded to the cent';
comment on column marts.revealed_comparative_advantage.world_exports_usd is 'World exports of the code, US$: reported by WLD or summed over reporters (world_basis); null when rca is';
comment on column marts.revealed_comparative_advantage.world_total_exports_usd is 'World exports of all codes of that length, US$, rounded to the cent; null when rca is';
comment on column marts.revealed_comparative_advantage.share_in_reporter_exports is 'exports_usd / reporter_exports_usd';
comment on column marts.revealed_comparative_advantage.share_in_world_exports is 'world_exports_usd / world_total_exports_usd';
comment on column marts.revealed_comparative_advantage.rca is 'share_in_reporter_exports / share_in_world_exports (Balassa index); null when why_missing says why';
comment on column marts.revealed_comparative_advantage.world_basis is 'How the world figures were obtained: reported (the WLD reporter''s own) or sum_of_reporters (the sum over the economies loaded, at least two); null when rca is';
comment on column marts.revealed_comparative_advantage.world_reporters_count is 'For world_basis sum_of_reporters: how many economies the world sums (the world only as far as they go); null otherwise';
comment on column marts.revealed_comparative_advantage.reporter_codes_count is 'How many codes of that length the reporter''s total sums (a partial extract understates the total and overstates each share)';
comment on column marts.revealed_comparative_advantage.why_missing is 'Why rca is null: no exports to the world loaded for the reporter (only to the partners named), the code not loaded, or no world totals; null when rca is computed';
comment on column marts.revealed_comparative_advantage.source_id is 'Source of the reporter''s figures';
comment on column marts.revealed_comparative_advantage.world_source_id is 'Source of the world figures (several, comma-separated, for a sum of reporters)';
