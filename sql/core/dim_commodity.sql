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

comment on view core.dim_commodity is 'Commodity codes: HS sections, chapters and headings; SITC Rev.4 sections and divisions; with parent and section.';
comment on column core.dim_commodity.family is 'HS or SITC (any version: the 2- and 4-digit codes are shared)';
comment on column core.dim_commodity.code is 'The code (roman numeral for HS sections, one digit for SITC sections)';
comment on column core.dim_commodity.level is 'section, chapter or heading (HS); section or division (SITC)';
comment on column core.dim_commodity.parent_code is 'The code one level up; null for sections';
comment on column core.dim_commodity.section is 'The section the code belongs to';
comment on column core.dim_commodity.name is 'Name of the code';
