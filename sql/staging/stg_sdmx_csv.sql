-- grain: one row per reporter x indicator x year x vintage of an SDMX-CSV source, for the indicators tradewh maps
-- Conforms the SDMX indicators of raw.ref_sdmx_indicators (UNCTAD's exports and imports of digitally-deliverable
-- services); every other indicator of raw.sdmx_csv (ICT-use shares, ...) is a valid raw row no view conforms.
-- Only totals are conformed: an observation whose other dimensions (SEX, AGE, URBANISATION, COMP_BREAKDOWN_1..3,
-- or whatever dimensions its structure has, as JSON in other_dims) are all '_T' (total) or '_Z' (not
-- applicable), at annual frequency (FREQ 'A', or no FREQ) and a TIME_PERIOD that is a year. A breakdown
-- (SEX = 'F', AGE = 'Y15T24') is a part of the country's figure, not the figure: conforming it would count twice.
-- Observations the publisher flags as missing (empty OBS_VALUE) have no value and are not conformed: missing is
-- null, never zero. value is OBS_VALUE scaled by 10^UNIT_MULT (72874 with UNIT_MULT 6 is 72.874 bn US$).
create or replace view staging.stg_sdmx_csv as
with

source as (
    select * from raw.sdmx_csv
),

indicators as (
    select * from raw.ref_sdmx_indicators
),

area_codes as (
    select * from raw.ref_sdmx_area_codes
    where iso3 <> ''
),

aliases as (
    select * from raw.ref_country_aliases
),

totals as (
    select *
    from source
    where coalesce(json_extract_string(source.other_dims, '$.FREQ'), 'A') = 'A'
        and list_has_all(
            ['_T', '_Z'], json_extract_string(json_merge_patch(source.other_dims, '{"FREQ": null}'), '$.*')
        )
        and regexp_full_match(source.time_period, '[0-9]{4}')
        and isfinite(source.value)
),

renamed as (
    select
        -- ids
        totals.source_id,
        totals.vintage,
        totals.indicator,
        coalesce(area_codes.iso3, aliases.iso3, totals.ref_area) as reporter,
        'WLD' as partner,
        totals.time_period as period,
        'year' as period_type,
        cast(totals.year as integer) as year,
        indicators.flow,
        indicators.classification,
        indicators.category,
        indicators.measure,
        -- numerics
        indicators.unit,
        totals.value,
        totals.obs_value as value_printed,
        totals.unit_mult,
        totals.obs_status,
        -- provenance
        totals.structure_id,
        totals.ref_area as ref_area_published,
        totals.ref_area_label,
        totals.indicator_label,
        totals.file_name,
        totals.file_sha256,
        totals.file_row,
    from totals
    inner join indicators on indicators.indicator = totals.indicator
    left join area_codes on area_codes.code = totals.ref_area
    left join aliases on aliases.alias = totals.ref_area
),

final as (
    select * from renamed
)

select * from final;
