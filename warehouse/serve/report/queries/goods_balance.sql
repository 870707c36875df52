-- $reporter's goods trade (customs value) with $partner by year, from one source and classification: the
-- publisher's TOTAL where printed, else the sum of the 2-digit codes; exports, imports, balance in US$.
with levels as (
    select source_id, classification, year,
        max(exports) filter (where category = 'TOTAL') as total_exports,
        max(imports) filter (where category = 'TOTAL') as total_imports,
        sum(exports) filter (where length(category) = 2) as code_exports,
        sum(imports) filter (where length(category) = 2) as code_imports,
        count(*) filter (where length(category) = 2) as codes,
        bool_or(category = 'TOTAL') as has_total
    from marts.trade_balance
    where reporter = $reporter and partner = $partner and measure = 'customs_value'
        and (category = 'TOTAL' or length(category) = 2)
    group by all
),
chosen as (
    select source_id, classification from levels
    group by all
    order by count(*) desc, bool_or(has_total) desc, source_id, classification
    limit 1
)
select l.source_id, l.classification, l.year, l.has_total,
    coalesce(l.total_exports, l.code_exports) as exports,
    coalesce(l.total_imports, l.code_imports) as imports,
    round(coalesce(l.total_exports, l.code_exports) - coalesce(l.total_imports, l.code_imports), 2) as balance
from levels as l join chosen using (source_id, classification)
order by l.year
