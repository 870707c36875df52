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

comment on view core.dim_source is 'The catalogue entries: publisher, title, licence, attribution, where the payload comes from and the catalogue vintage.';
comment on column core.dim_source.source_id is 'Catalogue id';
comment on column core.dim_source.dataset is 'Publisher layout family (parser, schema, raw table raw.<dataset>)';
comment on column core.dim_source.publisher is 'Who publishes the figures';
comment on column core.dim_source.title is 'What the source is';
comment on column core.dim_source.licence is 'Licence or terms of use';
comment on column core.dim_source.attribution is 'How to credit the publisher';
comment on column core.dim_source.homepage is 'The publisher''s page for the data';
comment on column core.dim_source.location_kind is 'seed (shipped with tradewh), path (a local file) or url';
comment on column core.dim_source.location is 'Where the payload is read from';
comment on column core.dim_source.catalogue_vintage is 'Release date the catalogue states (a payload''s own date overrides it)';
