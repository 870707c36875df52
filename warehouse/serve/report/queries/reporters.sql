-- Every non-aggregate reporter of the warehouse with its name and its number of latest-vintage figures, the
-- most figures first: the values `tradewh report --reporter` takes.
select f.reporter, coalesce(any_value(d.name), f.reporter) as name, count(*) as figures
from core.fct_trade_figure as f left join core.dim_country as d on d.iso3 = f.reporter
where f.is_latest_vintage and not coalesce(d.is_aggregate, false)
group by f.reporter
order by figures desc, f.reporter
