-- grain: one row per economy x indicator x year x vintage of a World Development Indicators release
create or replace view staging.stg_wdi as
with

source as (
    select * from raw.wdi
),

indicators as (
    select * from raw.ref_wdi_indicators
),

aliases as (
    select * from raw.ref_country_aliases
),

renamed as (
    select
        -- ids
        source.source_id,
        source.vintage,
        source.indicator_code,
        coalesce(aliases.iso3, source.country_code) as reporter,
        'WLD' as partner,
        cast(source.year as varchar) as period,
        'year' as period_type,
        cast(source.year as integer) as year,
        indicators.flow,
        indicators.classification,
        indicators.category,
        indicators.measure,
        -- numerics
        indicators.unit,
        cast(indicators.scale as double) * source.value as value,
        -- provenance
        source.country_code as country_code_published,
        source.indicator_name,
        source.file_name,
        source.file_sha256,
        source.file_row,
    from source
    inner join indicators on indicators.indicator_code = source.indicator_code
    left join aliases on aliases.alias = source.country_code
),

final as (
    select * from renamed
)

select * from final;
