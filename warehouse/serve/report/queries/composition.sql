-- The shares the publishers print of $reporter's (non-customs) trade: each part (a category, or a sub-national
-- group) with its printed share of the whole, its value and the whole's, flagged where derived (marts.trade_composition).
select c.source_id, c.reporter, c.base_reporter, c.period, c.flow, c.category, c.base_category,
    c.value_usd, c.base_value_usd, c.share_pct, c.is_value_derived, c.is_share_derived, c.derivation,
    coalesce(part.name, c.category) as category_name, coalesce(whole.name, c.base_category) as base_name
from marts.trade_composition as c
left join core.dim_category as part on part.classification = c.classification and part.category = c.category
left join core.dim_category as whole
    on whole.classification = c.classification and whole.category = c.base_category
where c.base_reporter = $reporter and c.measure <> 'customs_value' and c.share_pct is not null
    and not c.is_share_derived
order by c.flow = 'export' desc, c.period desc, c.share_pct desc
