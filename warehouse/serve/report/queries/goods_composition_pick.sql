-- Which goods composition to show for $reporter's exports to $partner: the source, period and classification
-- (SITC or HS) of marts.goods_composition, the report's year $year first, else the latest.
select distinct source_id, partner, period, classification
from marts.goods_composition
where reporter = $reporter and partner = $partner and flow = 'export'
order by (period = cast($year as varchar)) desc, period desc, classification
limit 1
