-- The default partner of $reporter (one row, column partner): the non-aggregate partner with the most customs
-- figures (marts.trade_balance, measure customs_value); no row when the reporter has none.
select t.partner
from marts.trade_balance as t left join core.dim_country as d on d.iso3 = t.partner
where t.reporter = $reporter and t.measure = 'customs_value' and t.partner <> 'WLD'
    and not coalesce(d.is_aggregate, false)
group by t.partner
order by count(*) desc, t.partner
limit 1
