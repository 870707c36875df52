-- grain: one row per source x vintage x reporter x partner x period x flow x classification x 2-digit code (latest vintage)
-- What goods trade is made of: each HS chapter or SITC division within its section, and each section within the
-- total. One aggregation level only (the 2-digit codes), so nothing is counted twice; section and total values
-- are sums of those codes (derived), never mixed with a published TOTAL row (shown beside them for a check).
-- Shares of the total use the published TOTAL when the file has one (the codes shipped may be a part of it), else
-- the sum of the codes. Coverage: the sum of the codes against the published TOTAL (partial below 99 %); without
-- a TOTAL, the count of codes shipped against the codes of that level in core.dim_commodity (partial below 90 %,
-- as a file may leave out the codes not traded).
-- Stored once by the build: its sums run over every 2-digit code of the fact. Only the figures and their sums are
-- stored (`summed`); the names (from core.dim_commodity) and the shares (from the stored sums) are added when the
-- view is read, as writing them costs more than reading them (measured at 10M rows: the build 3.9-4.2 s -> 3.4 s).
-- materialized: table
-- incremental: source_id
-- stored: summed
create or replace view marts.goods_composition as
with

figures as not materialized (
    -- inlined into each use (the codes, the totals), so each reads only its own rows of the stored fact
    select * from core.fct_trade_figure
    where measure = 'customs_value' and is_latest_vintage and not is_derived
),

commodities as (
    select * from core.dim_commodity
),

two_digit as (
    -- only the columns the mart shows: the sums below carry every column they are given
    select
        figures.source_id, figures.vintage, figures.reporter, figures.partner, figures.period, figures.flow,
        figures.classification, figures.category, figures.value,
        case when figures.classification like 'HS%' then 'HS' when figures.classification like 'SITC%' then 'SITC' end
            as family,
    from figures
    where length(figures.category) = 2 and figures.category <> 'TOTAL'
),

placed as not materialized (
    -- inlined into each use (the section sums, the total sums, the rows beside them): re-reading the stored fact's
    -- 2-digit codes and joining the code list again costs less than storing these rows once (measured at 10M rows:
    -- the mart 5.8-6.2 s -> 3.9-4.2 s, same rows)
    select
        two_digit.*,
        codes.section,
        hash(
            two_digit.source_id, two_digit.vintage, two_digit.reporter, two_digit.partner, two_digit.period,
            two_digit.flow, two_digit.classification
        ) as group_hash,
    from two_digit
    left join commodities as codes
        on codes.family = two_digit.family and codes.code = two_digit.category and codes.level in ('chapter', 'division')
),

published_totals as (
    select source_id, vintage, reporter, partner, period, flow, classification, value as published_total_usd,
    from figures
    where category = 'TOTAL'
),

total_sums as (
    -- one row per reporter x partner x period x flow (x source, vintage, classification): the sum of its codes, the
    -- TOTAL the file printed for it, and the hash of those seven columns (group_hash), by which the codes are
    -- grouped into sections and joined to their sums instead of by the seven columns (measured at 10M rows: the
    -- mart 3.7 s, or 7.4-9.1 s in half the builds, 250-330 MiB spilled: the hash tables of those seven text
    -- columns, and the TOTAL joined to 4.1M codes instead of to 80,000 groups, held the build's 512MB)
    select
        sums.*,
        published_totals.published_total_usd,
    from (
        select
            source_id, vintage, reporter, partner, period, flow, classification,
            any_value(group_hash) as group_hash,
            sum(value) as total_value_usd,
            count(*) as codes_count,
        from placed
        group by source_id, vintage, reporter, partner, period, flow, classification
    ) as sums
    left join published_totals
        on published_totals.source_id = sums.source_id
        and published_totals.vintage = sums.vintage
        and published_totals.reporter = sums.reporter
        and published_totals.partner = sums.partner
        and published_totals.period = sums.period
        and published_totals.flow = sums.flow
        and published_totals.classification = sums.classification
),

hashes_unique as (
    -- a hash names one group only if no two groups share it: then joining by the hash is joining by the seven
    -- columns. Two that did would add up each other's codes: the build stops instead (never seen; the chance is
    -- about groups^2 / 2^65, 2e-10 for the 80,000 groups of the benchmark's 10M rows)
    select
        case when count(distinct group_hash) <> count(*) then error(
            'marts.goods_composition: two reporter x partner x period x flow groups have the same hash; '
            || 'their sums cannot be told apart'
        ) end as unique_or_error,
    from total_sums
),

section_sums as (
    select group_hash, section, sum(value) as section_value_usd,
    from placed
    group by group_hash, section
),

summed as (
    -- the rows the build stores: each code's figure, its section's and its flow's sums (by GROUP BY, joined back:
    -- a window would sort every code with all its columns), and the published TOTAL beside them
    select
        placed.source_id, placed.vintage, placed.reporter, placed.partner, placed.period, placed.flow,
        placed.classification, placed.section, placed.category, placed.value,
        section_sums.section_value_usd,
        total_sums.total_value_usd,
        total_sums.codes_count,
        total_sums.published_total_usd,
    from placed
    inner join section_sums
        on section_sums.group_hash = placed.group_hash
        and section_sums.section is not distinct from placed.section
    inner join total_sums on total_sums.group_hash = placed.group_hash
    where (select unique_or_error from hashes_unique) is null
),

named as (
    -- the names of the code and its section, by the same joins as `placed` (one chapter or division per code)
    select
        summed.*,
        codes.name as code_name,
        sections.name as section_name,
    from summed
    left join commodities as codes
        on codes.family = case
            when summed.classification like 'HS%' then 'HS'
            when summed.classification like 'SITC%' then 'SITC'
        end
        and codes.code = summed.category
        and codes.level in ('chapter', 'division')
    left join commodities as sections
        on sections.family = codes.family and sections.code = summed.section and sections.level = 'section'
),

listed as (
    -- how many codes the level has (HS chapters, SITC divisions): to tell a partial file without a TOTAL
    select family, count(*) as codes_listed,
    from commodities
    where level in ('chapter', 'division')
    group by family
),

covered as (
    select
        named.*,
        listed.codes_listed,
        coalesce(named.published_total_usd, named.total_value_usd) as share_base_usd,
        100 * named.total_value_usd / nullif(named.published_total_usd, 0) as coverage_pct,
    from named
    left join listed on listed.family = case
        when named.classification like 'HS%' then 'HS'
        when named.classification like 'SITC%' then 'SITC'
    end
),

final as (
    select
        -- ids
        named.source_id,
        named.vintage,
        named.reporter,
        named.partner,
        named.period,
        periods.period_start,
        periods.period_end,
        named.flow,
        named.classification,
        named.section,
        named.section_name,
        named.category as code,
        named.code_name,
        -- numerics (US$)
        round(named.value, 2) as value_usd,
        round(named.section_value_usd, 2) as section_value_usd,
        round(named.total_value_usd, 2) as total_value_usd,
        round(named.published_total_usd, 2) as published_total_usd,
        100 * named.value / nullif(named.section_value_usd, 0) as share_of_section_pct,
        100 * named.section_value_usd / nullif(named.share_base_usd, 0) as section_share_of_total_pct,
        100 * named.value / nullif(named.share_base_usd, 0) as share_of_total_pct,
        case when named.published_total_usd is not null then 'published TOTAL' else 'sum of the codes' end
            as total_basis,
        -- how complete the codes are
        named.coverage_pct,
        named.codes_count,
        named.codes_listed,
        case
            when named.published_total_usd is not null then named.coverage_pct < 99
            else named.codes_count < 0.9 * named.codes_listed
        end as is_partial,
        case
            when named.published_total_usd is not null
                then printf(
                    '%s: the %d codes shipped make %.1f %% of the published TOTAL; shares are of the TOTAL',
                    case when named.coverage_pct < 99 then 'partial' else 'complete' end,
                    named.codes_count, named.coverage_pct
                )
            else printf(
                '%s: %d of the %d codes of this level shipped, no published TOTAL to check against; shares are of their sum',
                case when named.codes_count < 0.9 * named.codes_listed then 'partial' else 'no TOTAL' end,
                named.codes_count, named.codes_listed
            )
        end as coverage_note,
    from covered as named
    left join core.dim_period as periods on periods.period = named.period
)

select * from final;

comment on view marts.goods_composition is 'What goods trade is made of (latest vintage, customs values): each HS chapter or SITC division, its section, and their shares. Uses the 2-digit codes only (one aggregation level), so section and total values are sums of those codes (derived); a TOTAL row the publisher printed is shown beside them as a check and is the base of the shares of the total when present. Coverage says whether the codes shipped are the whole (is_partial, coverage_note).';
comment on column marts.goods_composition.source_id is 'Source of the figures';
comment on column marts.goods_composition.vintage is 'Release date of the figures';
comment on column marts.goods_composition.reporter is 'Reporting economy';
comment on column marts.goods_composition.partner is 'Partner economy (WLD = the world)';
comment on column marts.goods_composition.period is 'Reference period';
comment on column marts.goods_composition.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.goods_composition.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.goods_composition.flow is 'export, import, re_export or re_import';
comment on column marts.goods_composition.classification is 'Commodity classification and version (SITC4, HS2007, ...)';
comment on column marts.goods_composition.section is 'HS section (roman numeral) or SITC section (one digit); null if the code is not in core.dim_commodity';
comment on column marts.goods_composition.section_name is 'Name of the section';
comment on column marts.goods_composition.code is 'The 2-digit code: HS chapter or SITC division';
comment on column marts.goods_composition.code_name is 'Name of the chapter or division';
comment on column marts.goods_composition.value_usd is 'Value of the code, US$, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion)';
comment on column marts.goods_composition.section_value_usd is 'Sum of the 2-digit codes of the section, US$ (derived), rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion)';
comment on column marts.goods_composition.total_value_usd is 'Sum of all 2-digit codes, US$ (derived), rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion)';
comment on column marts.goods_composition.published_total_usd is 'The TOTAL the publisher printed for the same flow, if any, US$, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion) (to check the sum against)';
comment on column marts.goods_composition.share_of_section_pct is 'Share of the code in its section, percent';
comment on column marts.goods_composition.section_share_of_total_pct is 'Share of the section in the total, percent: of the published TOTAL when there is one, else of the sum of the codes (total_basis)';
comment on column marts.goods_composition.share_of_total_pct is 'Share of the code in the total, percent: of the published TOTAL when there is one, else of the sum of the codes (total_basis)';
comment on column marts.goods_composition.total_basis is 'The total the shares of the total divide by: published TOTAL, or sum of the codes (when the file has no TOTAL row)';
comment on column marts.goods_composition.coverage_pct is 'total_value_usd / published_total_usd x 100 (percent): how much of the published TOTAL the codes shipped make; null without a TOTAL';
comment on column marts.goods_composition.codes_count is 'Number of 2-digit codes shipped for the reporter, partner, period and flow';
comment on column marts.goods_composition.codes_listed is 'Number of codes of that level in core.dim_commodity (HS chapters or SITC divisions)';
comment on column marts.goods_composition.is_partial is 'True when the codes are a part of the whole: below 99 % of the published TOTAL, or, without a TOTAL, fewer than 90 % of the codes listed (a file may leave out codes not traded)';
comment on column marts.goods_composition.coverage_note is 'The coverage in words: complete or partial against the TOTAL, or the codes shipped out of those listed when there is no TOTAL';
