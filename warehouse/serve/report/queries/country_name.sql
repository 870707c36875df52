-- The English name of the economy $iso3 (core.dim_country); no row when the code is not in the list.
select name from core.dim_country where iso3 = $iso3
