-- Every printed claim about $reporter (or one of its sub-national groups) with the value the warehouse
-- recomputes, the verdict at the printed precision and its basis (marts.claim_checks), by verdict and figure.
select c.figure_id, c.quote, c.value_printed, c.comparator, c.unit, c.flow, c.claimed_value, c.recomputed_value,
    c.recomputed_in_print_scale, c.verdict, c.verdict_basis, c.mismatch, c.recomputed_from, c.source_id
from marts.claim_checks as c left join core.dim_country as d on d.iso3 = c.reporter
where c.reporter = $reporter or d.parent_iso3 = $reporter
order by c.verdict, c.figure_id
