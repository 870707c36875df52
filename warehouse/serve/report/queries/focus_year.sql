-- The report's year (one row, column year; null when none): the latest year in which $reporter's technology
-- exports and imports (contract value, with the world) are both known, the article's; else the latest year of
-- $reporter's customs figures with $partner.
select coalesce(
    (select max(year) from marts.trade_balance
     where reporter = $reporter and partner = 'WLD' and measure = 'technology_contract_value'
         and balance is not null),
    (select max(year) from marts.trade_balance
     where reporter = $reporter and partner = $partner and measure = 'customs_value' and balance is not null)
) as year
