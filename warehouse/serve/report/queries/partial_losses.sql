-- The partial losses of each source's last run that read it (audit.partial_losses): a reporter, partner, indicator
-- or year of a file whose every row was rejected, so that every sum over it lacks it; none when that run lost none.
with read_runs as (
    select s.source_id, s.run_id, s.status
    from audit.source_runs as s join audit.load_runs as l using (run_id)
    where s.status <> 'skipped'
    qualify row_number() over (partition by s.source_id order by l.started_at desc, s.run_id desc) = 1
)
select p.source_id, r.status, p.file_name, p.dimension, p.column_name, p.value, p.rows_rejected, p.rules, p.run_id
from audit.partial_losses as p
join read_runs as r on p.source_id = r.source_id and p.run_id = r.run_id
order by p.source_id, p.file_name, p.dimension, p.value
