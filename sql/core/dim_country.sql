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

comment on view core.dim_country is 'Economies, aggregates and sub-national groups: ISO3 (or publisher) code, M49 code, name, region, whether it is an aggregate, and its parent.';
comment on column core.dim_country.iso3 is 'ISO 3166-1 alpha-3 code, or the publisher''s code for aggregates (WLD, EAS, ...) and groups (CN-SJZ)';
comment on column core.dim_country.m49 is 'UN M49 numeric code (840 USA, 1 World); null when none';
comment on column core.dim_country.name is 'English name';
comment on column core.dim_country.region is 'UN M49 region (World Bank region for non-ISO economies); null for aggregates';
comment on column core.dim_country.sub_region is 'UN M49 sub-region';
comment on column core.dim_country.is_aggregate is 'True for the world, regions, income groups and sub-national groups';
comment on column core.dim_country.parent_iso3 is 'The country a sub-national group belongs to (CN-SJZ -> CHN)';
comment on column core.dim_country.publisher_note is 'Why a code is special (not ISO, discontinued group, sub-national)';
