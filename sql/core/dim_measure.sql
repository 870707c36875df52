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

comment on view core.dim_measure is 'The concepts a figure measures (technology contract value, balance-of-payments value, customs value, shares, growth rates), with unit, additivity and definition. Figures of different measures are never subtracted from each other.';
comment on column core.dim_measure.measure is 'Measure code';
comment on column core.dim_measure.unit is 'Unit of its figures (USD at scale 1, or percent)';
comment on column core.dim_measure.is_additive is 'True when figures of the measure can be summed (values), false for shares and rates';
comment on column core.dim_measure.definition is 'What the measure is';
