-- $reporter's largest goods trade deficits by partner in $year (customs value, at most $limit rows, most negative
-- first): per partner its printed TOTAL, else the sum of its 2-digit codes, of one classification.
with level as (
    select t.partner, t.classification, t.source_id,
        max(t.balance) filter (where t.category = 'TOTAL') as total_balance,
        max(t.exports) filter (where t.category = 'TOTAL') as total_exports,
        max(t.imports) filter (where t.category = 'TOTAL') as total_imports,
        sum(t.balance) filter (where length(t.category) = 2) as code_balance,
        sum(t.exports) filter (where length(t.category) = 2) as code_exports,
        sum(t.imports) filter (where length(t.category) = 2) as code_imports
    from marts.trade_balance as t left join core.dim_country as c on c.iso3 = t.partner
    where t.reporter = $reporter and t.measure = 'customs_value' and t.partner <> 'WLD'
        and not coalesce(c.is_aggregate, false) and t.balance is not null and t.year = $year
    group by t.partner, t.classification, t.source_id
    qualify row_number() over (partition by t.partner order by total_balance is null, t.classification) = 1
)
select level.partner as key, coalesce(c.name, level.partner) as label,
    coalesce(total_exports, code_exports) as exports, coalesce(total_imports, code_imports) as imports,
    coalesce(total_balance, code_balance) as balance
from level left join core.dim_country as c on c.iso3 = level.partner
where coalesce(total_balance, code_balance) < 0
order by balance, key
limit $limit
