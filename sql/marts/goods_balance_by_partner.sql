-- grain: one row per source x reporter x partner x year x classification (customs values, latest vintage)
-- Goods balances by partner from the commodity files (UN Comtrade): exports, imports and the balance of an economy
-- with each partner, from ONE commodity level only, so nothing is counted twice (the files mix levels: TOTAL,
-- SITC sections and divisions, HS chapters, headings). The level used, per reporter x partner x year:
--   the published TOTAL where the file has it (reported, is_derived false);
--   else the most aggregated level that is complete, summed (is_derived true): a level is complete when its codes
--   cover every section of the classification (SITC 0-9, HS I-XXI). A file of a few codes (HS 8542 alone, one
--   heading of section XVI) is not a total of goods trade: its row has null values and why_missing says so.
-- Limits: covering every section does not prove every code is there (a code with no trade is not printed, a
-- confidential one is not either); reporter_codes counts are shown so a reader can judge.
-- Exports and imports are the reporter's own (exports FOB, imports CIF): the partner's mirror is marts.mirror_flows.
create or replace view marts.goods_balance_by_partner as
with

figures as (
    select
        *,
        case when classification like 'HS%' then 'HS' when classification like 'SITC%' then 'SITC' end as family,
    from core.fct_trade_figure
    where measure = 'customs_value' and is_latest_vintage and not is_derived and flow in ('export', 'import')
        and period_type = 'year'
        and (classification like 'HS%' or classification like 'SITC%')  -- commodity codes, not WDI aggregates
),

countries as (
    select * from core.dim_country
),

commodities as (
    select * from core.dim_commodity
),

sections_per_family as (
    select family, count(*) as sections_in_classification,
    from commodities
    where level = 'section'
    group by all
),

placed as (
    -- each figure's level (TOTAL or the code's length) and section: SITC codes start with their section's digit,
    -- HS codes with their chapter, whose section core.dim_commodity gives
    select
        figures.source_id, figures.reporter, figures.partner, figures.year, figures.period, figures.classification,
        figures.family, figures.flow, figures.category, figures.value,
        case when figures.category = 'TOTAL' then 0 else length(figures.category) end as level_rank,
        case
            when figures.category = 'TOTAL' then null
            when figures.family = 'SITC' then left(figures.category, 1)
            else chapters.section
        end as section,
    from figures
    inner join countries on countries.iso3 = figures.reporter and not countries.is_aggregate
    left join commodities as chapters
        on figures.family = 'HS' and chapters.family = 'HS' and chapters.level = 'chapter'
        and chapters.code = left(figures.category, 2)
),

levels as (
    -- per flow and level: the sum, how many codes, how many sections they cover, and whether that is complete
    select
        placed.source_id, placed.reporter, placed.partner, placed.year, placed.period, placed.classification,
        placed.family, placed.flow, placed.level_rank,
        sum(placed.value) as value,
        count(*) as codes_count,
        count(distinct placed.section) as sections_covered,
        any_value(families.sections_in_classification) as sections_in_classification,
        placed.level_rank = 0 or count(distinct placed.section) = any_value(families.sections_in_classification)
            as is_complete,
    from placed
    left join sections_per_family as families on families.family = placed.family
    group by
        placed.source_id, placed.reporter, placed.partner, placed.year, placed.period, placed.classification,
        placed.family, placed.flow, placed.level_rank
),

chosen as (
    -- the most aggregated level complete in both flows; else the most aggregated complete in either
    select
        source_id, reporter, partner, year, period, classification, family,
        coalesce(
            min(level_rank) filter (where both_complete),
            min(level_rank) filter (where is_complete)
        ) as level_rank,
        max(sections_covered) as sections_covered,
        any_value(sections_in_classification) as sections_in_classification,
    from (
        select
            *,
            count(*) filter (where is_complete) over (
                partition by source_id, reporter, partner, year, classification, level_rank
            ) = 2 as both_complete,
        from levels
    )
    group by all
),

paired as (
    select
        chosen.*,
        exports.value as exports_usd,
        imports.value as imports_usd,
        exports.codes_count as exports_codes_count,
        imports.codes_count as imports_codes_count,
    from chosen
    left join levels as exports
        on exports.source_id = chosen.source_id and exports.reporter = chosen.reporter
        and exports.partner = chosen.partner and exports.year = chosen.year
        and exports.classification = chosen.classification and exports.level_rank = chosen.level_rank
        and exports.flow = 'export' and exports.is_complete
    left join levels as imports
        on imports.source_id = chosen.source_id and imports.reporter = chosen.reporter
        and imports.partner = chosen.partner and imports.year = chosen.year
        and imports.classification = chosen.classification and imports.level_rank = chosen.level_rank
        and imports.flow = 'import' and imports.is_complete
),

final as (
    select
        -- ids
        paired.source_id,
        paired.reporter,
        paired.partner,
        coalesce(partners.is_aggregate, true) as is_partner_aggregate,
        paired.year,
        paired.period,
        periods.period_start,
        periods.period_end,
        paired.classification,
        -- numerics (US$, to the cent; null where the level is missing or incomplete: missing is not zero)
        round(paired.exports_usd, 2) as exports_usd,
        round(paired.imports_usd, 2) as imports_usd,
        round(paired.exports_usd - paired.imports_usd, 2) as balance_usd,
        round(paired.exports_usd + paired.imports_usd, 2) as total_trade_usd,
        -- which level, how complete
        case
            when paired.level_rank = 0 then 'published TOTAL'
            when paired.family = 'SITC' and paired.level_rank = 1 then 'SITC sections (1-digit)'
            when paired.family = 'SITC' and paired.level_rank = 2 then 'SITC divisions (2-digit)'
            when paired.family = 'HS' and paired.level_rank = 2 then 'HS chapters (2-digit)'
            when paired.family = 'HS' and paired.level_rank = 4 then 'HS headings (4-digit)'
            when paired.family = 'HS' and paired.level_rank = 6 then 'HS subheadings (6-digit)'
            when paired.level_rank is not null then paired.family || ' codes of ' || paired.level_rank || ' digits'
        end as summed_level,
        paired.exports_codes_count,
        paired.imports_codes_count,
        paired.sections_covered,
        paired.sections_in_classification,
        paired.level_rank > 0 as is_derived,
        case
            when paired.level_rank > 0 then concat_ws(
                '; ',
                'exports = sum of ' || paired.exports_codes_count || ' codes of ' || paired.level_rank || ' digits',
                'imports = sum of ' || paired.imports_codes_count || ' codes of ' || paired.level_rank || ' digits'
            )
        end as derivation,
        case
            when paired.level_rank is null then
                'partial extract, not a total: the codes loaded cover ' || paired.sections_covered || ' of '
                || paired.sections_in_classification || ' sections of the classification, and no TOTAL is published'
            when paired.exports_usd is null then 'no complete exports at that level'
            when paired.imports_usd is null then 'no complete imports at that level'
        end as why_missing,
    from paired
    left join countries as partners on partners.iso3 = paired.partner
    left join core.dim_period as periods on periods.period = paired.period
)

select * from final;

comment on view marts.goods_balance_by_partner is 'Goods trade balance of an economy with each partner, year by year, from the commodity files (UN Comtrade customs values, latest vintage): exports, imports, balance and total from one commodity level only (the published TOTAL, else the most aggregated level whose codes cover every section, summed and flagged is_derived). A partial extract (a few codes) gives null values and why_missing says so. The reporter''s own figures (exports FOB, imports CIF); the partner''s mirror is in marts.mirror_flows.';
comment on column marts.goods_balance_by_partner.source_id is 'Catalogue entry the figures come from (core.dim_source)';
comment on column marts.goods_balance_by_partner.reporter is 'Reporting economy (never an aggregate: core.dim_country.is_aggregate)';
comment on column marts.goods_balance_by_partner.partner is 'Partner economy, or WLD for trade with the world';
comment on column marts.goods_balance_by_partner.is_partner_aggregate is 'True when the partner is the world or another aggregate (core.dim_country.is_aggregate), or a code not in core.dim_country';
comment on column marts.goods_balance_by_partner.year is 'Calendar year';
comment on column marts.goods_balance_by_partner.period is 'Reference period as published (the year)';
comment on column marts.goods_balance_by_partner.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01; for time axes';
comment on column marts.goods_balance_by_partner.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31';
comment on column marts.goods_balance_by_partner.classification is 'Commodity classification and version (SITC4, HS2012, ...)';
comment on column marts.goods_balance_by_partner.exports_usd is 'Exports to the partner as the reporter reports them (FOB), US$, rounded to the cent: the published TOTAL or the sum of summed_level; null when missing or incomplete';
comment on column marts.goods_balance_by_partner.imports_usd is 'Imports from the partner as the reporter reports them (CIF), US$, rounded to the cent: the published TOTAL or the sum of summed_level; null when missing or incomplete';
comment on column marts.goods_balance_by_partner.balance_usd is 'exports_usd - imports_usd, US$, rounded to the cent; negative is a deficit; null if either side is';
comment on column marts.goods_balance_by_partner.total_trade_usd is 'exports_usd + imports_usd, US$, rounded to the cent';
comment on column marts.goods_balance_by_partner.summed_level is 'The one commodity level the values come from: published TOTAL, SITC divisions (2-digit), HS chapters (2-digit), ...; null when no level is complete';
comment on column marts.goods_balance_by_partner.exports_codes_count is 'How many codes of summed_level exports sum (1 for a published TOTAL)';
comment on column marts.goods_balance_by_partner.imports_codes_count is 'How many codes of summed_level imports sum (1 for a published TOTAL)';
comment on column marts.goods_balance_by_partner.sections_covered is 'How many sections of the classification the codes loaded cover (the most of any level and flow)';
comment on column marts.goods_balance_by_partner.sections_in_classification is 'How many sections the classification has (SITC 10, HS 21; core.dim_commodity)';
comment on column marts.goods_balance_by_partner.is_derived is 'True when the values are sums of codes (derived), false when they are the published TOTAL; null when there are none';
comment on column marts.goods_balance_by_partner.derivation is 'How the derived values were summed, e.g. exports = sum of 64 codes of 2 digits';
comment on column marts.goods_balance_by_partner.why_missing is 'Why a value is null: a partial extract (sections covered of all), or one flow not complete at the level used; null when both are there';
