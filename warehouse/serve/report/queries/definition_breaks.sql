-- $reporter's breaks in series (marts.definition_breaks): figures a later release publishes under another
-- definition, with both definitions and both values; the largest relative change first, at most $limit rows of
-- breaks_count.
select b.period, b.flow, b.classification, b.category, coalesce(c.name, b.category) as category_name, b.unit,
    b.previous_source_id, b.previous_definition, b.previous_vintage_value, b.source_id, b.vintage, b.definition,
    b.value, b.change_across_definitions, b.change_across_definitions_pct, count(*) over () as breaks_count
from marts.definition_breaks as b
left join core.dim_category as c on c.classification = b.classification and c.category = b.category
where b.reporter = $reporter
order by abs(b.change_across_definitions_pct) desc nulls last, b.category, b.flow, b.period
limit $limit
