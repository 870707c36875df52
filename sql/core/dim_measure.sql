-- grain: one row per measure (the concept a figure measures)
create or replace view core.dim_measure as
with

measures as (
    select * from raw.ref_measures
),

final as (
    select
        measure,
        unit,
        is_additive = 'true' as is_additive,
        definition,
    from measures
)

select * from final;
