-- The mirror flows of $reporter, as exporter or as importer, that both sides report (marts.mirror_flows, is_paired):
-- per exporter, importer, period and classification the published TOTAL where both report it, else the sum of the
-- 2-digit codes both report (is_summed, with their count), else each code both report; what the exporter says
-- (FOB), what the importer says (CIF), their ratio; the latest period first, at most $limit rows of pairs_count.
with paired as (
    select * from marts.mirror_flows
    where is_paired and (exporter = $reporter or importer = $reporter)
),
levels as (
    select exporter, importer, period, classification,
        bool_or(category = 'TOTAL') as has_total,
        count(*) filter (where length(category) = 2) as two_digit_codes
    from paired
    group by all
),
chosen as (
    select p.*,
        case when l.has_total or l.two_digit_codes = 0 then p.category else '2-digit' end as goods
    from paired as p join levels as l using (exporter, importer, period, classification)
    where (l.has_total and p.category = 'TOTAL')
        or (not l.has_total and l.two_digit_codes > 0 and length(p.category) = 2)
        or (not l.has_total and l.two_digit_codes = 0)
),
flows as (
    select exporter, importer, period, classification, goods,
        count(*) as codes_count,
        goods = '2-digit' as is_summed,
        sum(exports_reported_by_exporter) as exporter_says_usd,
        sum(imports_reported_by_importer) as importer_says_usd,
        any_value(exporter_valuation) as exporter_valuation,
        any_value(importer_valuation) as importer_valuation,
        any_value(exporter_source_id) as exporter_source_id,
        any_value(importer_source_id) as importer_source_id
    from chosen
    group by all
)
select *, importer_says_usd / nullif(exporter_says_usd, 0) as asymmetry_ratio, count(*) over () as pairs_count
from flows
order by period desc, exporter <> $reporter, exporter, importer, classification, goods
limit $limit
