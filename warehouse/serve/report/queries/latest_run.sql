-- The latest load run (audit.load_runs): its id, start, end and status; no row before the first run.
select run_id, started_at, finished_at, status
from audit.load_runs
order by started_at desc, run_id desc
limit 1
