-- grain: one row per figure printed in a press release (figures and restatements) x source x vintage
create or replace view staging.stg_press_release as
with

source as (
    select * from raw.press_release
),

renamed as (
    select
        -- ids
        source_id,
        vintage,
        figure_id,
        role,
        reporter,
        partner,
        period,
        period_type,
        cast(left(period, 4) as integer) as year,
        flow,
        classification,
        category,
        measure,
        nullif(num_measure, '') as num_measure,
        nullif(base_reporter, '') as base_reporter,
        nullif(base_classification, '') as base_classification,
        nullif(base_category, '') as base_category,
        nullif(base_measure, '') as base_measure,
        -- numerics: money normalised to scale 1 (no 'billions' left in the data)
        unit,
        value * scale as value,
        value_printed,
        value as value_in_print_scale,
        scale as print_scale,
        print_unit,
        comparator,
        -- provenance
        quote,
        nullif(note, '') as note,
        file_name,
        file_sha256,
        file_row,
    from source
),

final as (
    select * from renamed
)

select * from final;
