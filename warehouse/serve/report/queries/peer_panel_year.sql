-- The year of the peer panel (one row, column year; no row when none): among the years in which $reporter and at
-- least one other economy are in marts.peer_panel, $year where it is one, else the latest.
select year
from marts.peer_panel
group by year
having bool_or(reporter = $reporter) and count(distinct reporter) > 1
order by coalesce(year = $year, false) desc, year desc
limit 1
