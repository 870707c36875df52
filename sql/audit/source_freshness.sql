-- grain: one row per catalogue source: how old its last successful fetch and its newest vintage are, against the
-- catalogue's [source.freshness] thresholds, at the moment the view is read (as dbt's source freshness)
create or replace view audit.source_freshness as
with

sources as (
    select
        id as source_id,
        freshness_of,
        try_cast(nullif(freshness_warn_after, '') as interval) as warn_after,
        try_cast(nullif(freshness_error_after, '') as interval) as error_after,
    from raw.ref_sources
),

fetched as (
    select
        source_runs.source_id,
        max(load_runs.started_at) as last_fetched_at,
    from audit.source_runs
    inner join audit.load_runs using (run_id)
    where source_runs.status in ('loaded', 'skipped')
    group by all
),

vintages as (
    select
        source_id,
        max(try_cast(vintage as date)) as newest_vintage,
    from core.fct_trade_figure
    group by all
),

measured as (
    select
        sources.*,
        fetched.last_fetched_at,
        vintages.newest_vintage,
        case sources.freshness_of
            when 'vintage' then vintages.newest_vintage::timestamptz
            else fetched.last_fetched_at
        end as measured_at,
    from sources
    left join fetched using (source_id)
    left join vintages using (source_id)
),

final as (
    select
        source_id,
        freshness_of,
        last_fetched_at,
        newest_vintage,
        round(epoch(now() - measured_at) / 3600, 1) as age_hours,
        round(epoch(warn_after) / 3600, 1) as warn_after_hours,
        round(epoch(error_after) / 3600, 1) as error_after_hours,
        case
            when warn_after is null and error_after is null then 'no threshold'
            when measured_at is null then 'error'
            when error_after is not null and now() - measured_at > error_after then 'error'
            when warn_after is not null and now() - measured_at > warn_after then 'warn'
            else 'pass'
        end as freshness_status,
    from measured
)

select * from final;

comment on view audit.source_freshness is 'How fresh each catalogue source is, now: the age of its last successful fetch (or of its newest vintage, as the catalogue says) against its warn_after / error_after thresholds. tradewh freshness prints it and exits 1 on an error.';
comment on column audit.source_freshness.source_id is 'Catalogue id';
comment on column audit.source_freshness.freshness_of is 'What the age is measured on: fetch (the last run that fetched the source without failing) or vintage (the newest release loaded)';
comment on column audit.source_freshness.last_fetched_at is 'Start of the last run in which the source was fetched and loaded or found unchanged (UTC); null: never';
comment on column audit.source_freshness.newest_vintage is 'The newest release date of the source in the warehouse; null: no figures loaded';
comment on column audit.source_freshness.age_hours is 'Hours from the measured time to the moment the view is read; null: never fetched or loaded';
comment on column audit.source_freshness.warn_after_hours is 'The catalogue''s warn_after in hours; null: none';
comment on column audit.source_freshness.error_after_hours is 'The catalogue''s error_after in hours; null: none';
comment on column audit.source_freshness.freshness_status is 'pass, warn, error (older than error_after, or never fetched) or no threshold';
