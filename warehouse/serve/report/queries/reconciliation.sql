-- $reporter's technology trade balance in $year by each measure (marts.technology_deficit_reconciliation), one
-- row per measure in the view's order: exports, imports, balance (US$, never summed across measures), source,
-- definition, what the measure counts, and whether a side was derived and how.
select display_order, measure_label, measure, source_id, vintage, definition,
    exports_usd, imports_usd, balance_usd,
    coalesce(is_exports_derived, false) as exports_derived,
    coalesce(is_imports_derived, false) as imports_derived,
    derivation, what_it_measures
from marts.technology_deficit_reconciliation
where reporter = $reporter and year = $year
order by display_order, source_id
