-- grain: one row per reporter x variable x year x vintage of OECD MSTI, for the variables tradewh conforms
-- Conforms the technology balance of payments: TBP_RUSD (receipts, flow export) and TBP_PUSD (payments, flow
-- import), current US$, already scaled to units by the parser (PowerCode Millions x 1e6). The file's other
-- variables (R&D spending, researchers, high-technology industry exports and imports, ...) stay in raw.oecd_msti.
-- The variable list is schemas/oecd_msti.py CONFORMED too (its unit rule); keep the two in step.
-- Country columns are names: raw.ref_oecd_country_names gives their ISO3 (names without one, such as
-- 'European Union (28 countries)', were refused by rule known_country and never reach raw).
create or replace view staging.stg_oecd_msti as
with

source as (
    select * from raw.oecd_msti
),

country_names as (
    select * from raw.ref_oecd_country_names
),

conformed_variables as (
    select * from (
        values
            ('TBP_RUSD', 'export'),
            ('TBP_PUSD', 'import')
    ) as variables (msti_var, flow)
),

renamed as (
    select
        -- ids
        source.source_id,
        source.vintage,
        source.msti_var,
        country_names.iso3 as reporter,
        'WLD' as partner,
        cast(source.year as varchar) as period,
        'year' as period_type,
        cast(source.year as integer) as year,
        conformed_variables.flow,
        'technology_bop' as classification,
        'technology' as category,
        'technology_bop_value' as measure,
        -- numerics
        'USD' as unit,
        source.value,
        source.value_text as value_printed,
        source.power_code,
        -- provenance
        source.country_name as country_name_published,
        source.description,
        source.file_name,
        source.file_sha256,
        source.file_row,
    from source
    inner join conformed_variables on conformed_variables.msti_var = source.msti_var
    inner join country_names on country_names.country_name = source.country_name
    where isfinite(source.value)
),

final as (
    select * from renamed
)

select * from final;
