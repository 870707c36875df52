-- The year of $reporter's technology deficit across measures (one row, column year; no row when no year has more
-- than one measure with a balance, marts.technology_deficit_reconciliation): the report's year $year where it has
-- more than one, else the latest year that has.
select year
from marts.technology_deficit_reconciliation
where reporter = $reporter and balance_usd is not null
group by year
having count(distinct measure_label) > 1
order by coalesce(year = $year, false) desc, year desc
limit 1
