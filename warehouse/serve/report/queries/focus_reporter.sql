-- The default reporter (one row, column reporter): the economy most printed claims of marts.claim_checks are
-- about (the article's story), else the non-aggregate reporter with the most latest-vintage figures.
with claims as (
    select c.reporter, count(*) as figures, 0 as preference
    from marts.claim_checks as c left join core.dim_country as d on d.iso3 = c.reporter
    where not coalesce(d.is_aggregate, false)
    group by c.reporter
),
figures as (
    select f.reporter, count(*) as figures, 1 as preference
    from core.fct_trade_figure as f left join core.dim_country as d on d.iso3 = f.reporter
    where f.is_latest_vintage and not coalesce(d.is_aggregate, false)
    group by f.reporter
)
select reporter from (select * from claims union all select * from figures)
order by preference, figures desc, reporter
limit 1
