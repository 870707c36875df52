-- grain: one row per classification family x commodity code (HS sections, chapters, headings; SITC sections, divisions)
create or replace view core.dim_commodity as
with

codes as (
    select * from raw.ref_commodity_codes
),

final as (
    select
        family,
        code,
        level,
        nullif(parent_code, '') as parent_code,
        section,
        name,
    from codes
)

select * from final;
