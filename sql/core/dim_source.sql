-- grain: one row per catalogue entry (a publisher's release series)
create or replace view core.dim_source as
with

sources as (
    select * from raw.ref_sources
),

final as (
    select
        id as source_id,
        dataset,
        publisher,
        title,
        licence,
        attribution,
        homepage,
        location_kind,
        location,
        vintage as catalogue_vintage,
    from sources
)

select * from final;
