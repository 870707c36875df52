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

comment on view core.dim_category is 'Categories of each classification (what is traded), with their name and their parent category in the same classification.';
comment on column core.dim_category.classification is 'Classification the category belongs to (technology_contracts, bop, customs, hightech_products, technology_bop)';
comment on column core.dim_category.category is 'Category code';
comment on column core.dim_category.parent_category is 'Parent category in the same classification (for composition); null at the top';
comment on column core.dim_category.name is 'Name of the category';
