-- $reporter's charges for the use of intellectual property (balance of payments, with the world), one row per
-- year of the latest vintage held: receipts (exports), payments (imports) and balance, US$.
select source_id, vintage, year, exports, imports, balance
from marts.trade_balance
where reporter = $reporter and partner = 'WLD' and category = 'ip_charges' and period_type = 'year'
qualify vintage = max(vintage) over ()
order by year
