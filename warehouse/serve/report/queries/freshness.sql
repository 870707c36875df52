-- Per catalogue source: its last run and status, its last load (rows read, rejected, loaded), the vintage held
-- and the freshness verdict of audit.source_freshness (status, age, thresholds).
with runs as (
    select s.*, l.started_at, l.finished_at
    from audit.source_runs as s join audit.load_runs as l using (run_id)
),
last_run as (
    select * from runs
    qualify row_number() over (partition by source_id order by started_at desc, run_id desc) = 1
),
last_load as (
    select * from runs where status = 'loaded'
    qualify row_number() over (partition by source_id order by started_at desc, run_id desc) = 1
),
held as (
    select source_id, max(vintage) as vintage from core.fct_trade_figure where is_latest_vintage group by 1
)
select d.source_id, d.publisher, r.started_at as last_run, r.status as last_status, r.message,
    l.finished_at as last_loaded, l.vintages as loaded_vintages, l.rows_read, l.rows_valid, l.rows_rejected,
    l.rows_loaded, h.vintage, f.freshness_status, f.freshness_of, f.age_hours, f.warn_after_hours,
    f.error_after_hours
from core.dim_source as d
left join last_run as r using (source_id)
left join last_load as l using (source_id)
left join held as h using (source_id)
left join audit.source_freshness as f using (source_id)
order by d.source_id
