-- grain: one row per source x vintage x reporter x partner x period x flow x classification x commodity code (every aggregation level) of UN Comtrade
--
-- Rules against double counting. UN Comtrade publishes the same trade more than once in one file, so:
--   1. Breakdowns are excluded. Only the totals are kept: partner2_code = 0 (no second partner),
--      customs_code 'C00' (all customs procedures) and mot_code '0' (all modes of transport; the parser has
--      stripped '0 ' to '0'). A row broken down by second partner, customs procedure or mode of transport is
--      a part of such a total: keeping both counts the trade twice (the current API's HS 8542 file holds, for
--      2015-2017, 52-53 rows by second partner whose sum is the year's total row).
--   2. Aggregation levels are never summed, and never dropped: every commodity code is a category of its own
--      ('85' the chapter, '8542' the heading, '854231' the subheading, 'TOTAL' stays 'TOTAL'), with its
--      aggregate_level (digits; 0 for TOTAL). A file may hold several levels at once (the legacy bulk file holds
--      TOTAL, 2-, 4- and 6-digit codes, each level summing to the same total): the marts choose ONE level per
--      question; summing across levels counts the same trade once per level.
--   3. Nothing is summed here at all: one raw row gives one figure. The raw rows are unique on the full
--      Comtrade key (schemas/comtrade.py, rule duplicate_key), so after rule 1 a figure is unique per
--      source x vintage x reporter x partner x period x flow x classification x category.
--   4. Classifications stay apart: classification is the normalised version (SITC4, HS2007, HS2012, ...); the
--      same goods in two classifications are two figures (the current API moves HS 8542 from HS2007 to HS2022
--      over 2010-2024: one figure a year, each in the version of that year).
create or replace view staging.stg_comtrade as
with

source as (
    select * from raw.comtrade
),

codes as (
    select
        cast(code as bigint) as code,
        nullif(iso3, '') as iso3,
    from raw.ref_comtrade_codes
),

declared as (
    -- codes a catalogue entry maps itself ([source.aliases] countries = { "381" = "ITA" }), for that source only
    select
        publisher as source_id,
        cast(alias as bigint) as code,
        iso3,
    from raw.ref_country_aliases
    where regexp_full_match(alias, '[0-9]+')
),

totals_only as (
    -- rule 1: the totals; the breakdowns by second partner, customs procedure and mode of transport are parts
    select * from source
    where partner2_code = 0
        and customs_code = 'C00'
        and mot_code = '0'
),

renamed as (
    select
        -- ids
        totals_only.source_id,
        totals_only.vintage,
        coalesce(reporters.iso3, declared_reporters.iso3) as reporter,
        coalesce(partners.iso3, declared_partners.iso3) as partner,
        case
            when length(totals_only.period) = 6
                then left(totals_only.period, 4) || '-' || right(totals_only.period, 2)
            else totals_only.period
        end as period,
        case when length(totals_only.period) = 6 then 'month' else 'year' end as period_type,
        cast(totals_only.year as integer) as year,
        case totals_only.flow_code
            when 1 then 'import'
            when 2 then 'export'
            when 3 then 're_export'
            when 4 then 're_import'
        end as flow,
        totals_only.classification_version as classification,
        -- rule 2: every aggregation level is a category of its own
        totals_only.commodity_code as category,
        cast(totals_only.aggregate_level as integer) as aggregate_level,
        'customs_value' as measure,
        -- numerics: UN Comtrade values are US$, printed in units (scale 1)
        'USD' as unit,
        totals_only.value,
        -- provenance
        totals_only.reporter_code as reporter_code_published,
        totals_only.partner_code as partner_code_published,
        totals_only.classification as classification_published,
        totals_only.layout,
        totals_only.file_name,
        totals_only.file_sha256,
        totals_only.file_row,
    from totals_only
    left join codes as reporters on reporters.code = totals_only.reporter_code
    left join codes as partners on partners.code = totals_only.partner_code
    left join declared as declared_reporters
        on declared_reporters.source_id = totals_only.source_id and declared_reporters.code = totals_only.reporter_code
    left join declared as declared_partners
        on declared_partners.source_id = totals_only.source_id and declared_partners.code = totals_only.partner_code
),

final as (
    select * from renamed
)

select * from final;
