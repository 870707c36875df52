-- $reporter's exports to $partner by section (SITC one-digit or HS roman numeral) in $period from $source_id and
-- $classification: the section's value (sum of its 2-digit codes), its share of the total, the total and the
-- publisher's printed total, largest share first.
select section, any_value(section_name) as section_name, any_value(section_value_usd) as value_usd,
    any_value(section_share_of_total_pct) as share_pct, any_value(total_value_usd) as total_usd,
    any_value(published_total_usd) as published_usd
from marts.goods_composition
where source_id = $source_id and reporter = $reporter and partner = $partner and period = $period
    and flow = 'export' and classification = $classification
group by section
order by share_pct desc nulls last, section
