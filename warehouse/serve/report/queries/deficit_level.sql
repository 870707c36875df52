-- For $reporter's deficits with its one partner by 2-digit code: the year, source and classification to show
-- (the report's year $year where it has 2-digit codes, else their latest year; the most codes first).
select t.year, t.source_id, t.classification, count(*) as codes
from marts.trade_balance as t left join core.dim_country as c on c.iso3 = t.partner
where t.reporter = $reporter and t.measure = 'customs_value' and t.partner <> 'WLD'
    and not coalesce(c.is_aggregate, false) and t.balance is not null and length(t.category) = 2
group by t.year, t.source_id, t.classification
order by t.year = $year desc, t.year desc, codes desc, t.source_id, t.classification
limit 1
