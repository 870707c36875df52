-- $reporter's largest goods trade deficits by 2-digit code (HS chapter or SITC division, with its name) in $year,
-- from $source_id in $classification: at most $limit rows, most negative first (customs value, US$).
select t.category as key, trim(t.category || ' ' || coalesce(any_value(d.name), '')) as label,
    sum(t.exports) as exports, sum(t.imports) as imports, sum(t.balance) as balance
from marts.trade_balance as t
left join core.dim_country as c on c.iso3 = t.partner
left join core.dim_commodity as d
    on d.code = t.category and d.level in ('chapter', 'division')
    and d.family = case when t.classification like 'HS%' then 'HS' when t.classification like 'SITC%' then 'SITC' end
where t.reporter = $reporter and t.measure = 'customs_value' and t.partner <> 'WLD'
    and not coalesce(c.is_aggregate, false) and t.balance is not null
    and t.year = $year and t.source_id = $source_id and t.classification = $classification
    and length(t.category) = 2
group by t.category
having sum(t.balance) < 0
order by balance, key
limit $limit
