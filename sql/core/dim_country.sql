-- grain: one row per economy, aggregate or sub-national group (ISO3 code, or the publisher's own code)
create or replace view core.dim_country as
with

countries as (
    select * from raw.ref_countries
),

final as (
    select
        iso3,
        m49,
        name,
        nullif(region, '') as region,
        nullif(sub_region, '') as sub_region,
        is_aggregate,
        nullif(parent_iso3, '') as parent_iso3,
        nullif(publisher_note, '') as publisher_note,
    from countries
)

select * from final;
