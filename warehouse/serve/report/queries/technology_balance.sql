-- $reporter's technology trade with the world by contract value, one row per year: exports, imports and balance
-- (US$), whether each side was derived rather than printed, and how (marts.trade_balance).
select source_id, year, exports, imports, balance,
    coalesce(is_exports_derived, false) as exports_derived,
    coalesce(is_imports_derived, false) as imports_derived,
    derivation
from marts.trade_balance
where reporter = $reporter and partner = 'WLD' and measure = 'technology_contract_value' and period_type = 'year'
order by year
