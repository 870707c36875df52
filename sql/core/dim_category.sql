-- grain: one row per classification x category, with its parent in the same classification
create or replace view core.dim_category as
with

categories as (
    select * from raw.ref_categories
),

final as (
    select
        classification,
        category,
        nullif(parent_category, '') as parent_category,
        name,
    from categories
)

select * from final;
