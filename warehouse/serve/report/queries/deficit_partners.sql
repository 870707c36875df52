-- The non-aggregate partners (not the world) of $reporter's customs figures with a known balance, with the years
-- they cover: one row per partner and year.
select distinct t.partner, t.year
from marts.trade_balance as t left join core.dim_country as c on c.iso3 = t.partner
where t.reporter = $reporter and t.measure = 'customs_value' and t.partner <> 'WLD'
    and not coalesce(c.is_aggregate, false) and t.balance is not null
order by t.partner, t.year
