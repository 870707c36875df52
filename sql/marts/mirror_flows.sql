-- grain: one row per exporter x importer x period x classification x category x measure x unit (latest vintages)
-- Mirror flows between economies: what the exporter reports exporting to the importer against what the importer
-- reports importing from the exporter, of the same period, classification, commodity code, measure and unit.
-- Economies only: both sides must be in core.dim_country and not aggregates (the world, regions, income groups,
-- sub-national groups), and exporter <> importer; WLD against WLD is a global reporting asymmetry, not a flow.
-- Valuation, as CEPII documents it for BACI (Gaulier & Zignago 2010, CEPII WP 2010-23): imports are reported CIF
-- (cost, insurance and freight to the importer's border) and exports FOB (free on board at the exporter's border),
-- so the importer's figure exceeds the exporter's by the freight and insurance margin even when both are right.
-- BACI does not apply one fixed margin: it estimates a CIF/FOB rate per flow (a gravity regression on distance,
-- contiguity and the product's unit value) and removes it from the import value before reconciling. Nothing is
-- estimated here: both reported figures are shown, with the ratio; a side nobody reported stays null.
-- Two kinds of rows:
--   commodity codes (and monthly totals): the same period, classification, code, measure and unit on both sides;
--   annual totals of ALL goods (category 'TOTAL', customs value, USD): each side's annual total is the published
--   annual TOTAL row (reported), else derived and flagged: the sum of the 12 monthly TOTAL rows (all 12 months
--   loaded, else no total: a year with a month missing is not a year), else the sum of one commodity level whose
--   codes cover every section (marts.goods_balance_by_partner chooses that level; it is reused, not re-derived).
--   Where one side has several candidates (sources), the published TOTAL comes first, then the 12 months, then the
--   summed level, then the source id. The two sides of a total may be in different classifications (China's SITC
--   Rev.4 divisions against the USA's HS months): a total of all goods is the same universe of goods in SITC and
--   in HS (both classify every good; only the breakdown differs), so such totals are paired and the classification
--   column names both, the exporter's first ('SITC4 / HS2007'); exporter_classification and
--   importer_classification give each side's own. Comparing their codes below the total would not be like with
--   like, and is never done.
create or replace view marts.mirror_flows as
with

economies as (
    select iso3 from core.dim_country
    where not is_aggregate
),

figures as (
    select * from core.fct_trade_figure
    where measure = 'customs_value' and is_latest_vintage and not is_derived and flow in ('export', 'import')
        and reporter in (select iso3 from economies)
        and partner in (select iso3 from economies)
        and reporter <> partner
),

coded as (
    -- commodity codes, and totals of periods other than a year; annual totals are paired in the totals below
    select * from figures
    where not (category = 'TOTAL' and period_type = 'year')
),

monthly_totals as (
    -- a year's total from its monthly TOTAL rows: only when the 12 months are loaded, once each
    select
        source_id, reporter, partner, year, flow, classification,
        count(distinct period) as months_count,
        count(*) as rows_count,
        round(sum(value), 2) as value,  -- each month is to the cent: so is their sum
    from figures
    where category = 'TOTAL' and period_type = 'month' and unit = 'USD'
    group by all
),

annual_candidates as (
    -- every candidate annual total of all goods, per side (reporter x partner x year x flow)
    select
        source_id, reporter, partner, year, flow, classification, value,
        false as is_derived,
        0 as preference,
        cast(null as varchar) as derivation,
    from figures
    where category = 'TOTAL' and period_type = 'year' and unit = 'USD'
    union all
    select
        source_id, reporter, partner, year, flow, classification,
        case when months_count = 12 and rows_count = 12 then value end as value,
        true as is_derived,
        case when months_count = 12 and rows_count = 12 then 1 else 3 end as preference,
        case
            when months_count = 12 and rows_count = 12 then
                'sum of the 12 monthly TOTAL rows ' || reporter || ' reports (' || source_id
                || '); no annual TOTAL is published'
            else
                'no annual total: ' || reporter || ' reports ' || months_count || ' of 12 monthly TOTAL rows ('
                || source_id || '), and a year with a month missing is not a year'
        end as derivation,
    from monthly_totals
    union all
    select
        goods.source_id, goods.reporter, goods.partner, goods.year, sides.flow, goods.classification,
        sides.value,
        true as is_derived,
        2 as preference,
        'sum of ' || sides.codes_count || ' codes of ' || goods.summed_level || ' ' || goods.reporter
        || ' reports (' || goods.source_id || '), covering ' || goods.sections_covered || ' of '
        || goods.sections_in_classification || ' sections; no TOTAL is published' as derivation,
    from marts.goods_balance_by_partner as goods
    cross join lateral (
        select 'export' as flow, goods.exports_usd as value, goods.exports_codes_count as codes_count
        union all
        select 'import' as flow, goods.imports_usd as value, goods.imports_codes_count as codes_count
    ) as sides
    where goods.is_derived and sides.value is not null
        and goods.reporter in (select iso3 from economies)
        and goods.partner in (select iso3 from economies)
        and goods.reporter <> goods.partner
),

annual_totals as (
    -- one total per side: published, else 12 months, else a summed level (else the reason there is none)
    select * from annual_candidates
    qualify row_number() over (
        partition by reporter, partner, year, flow order by preference, source_id, classification
    ) = 1
),

totals_paired as (
    select
        coalesce(e.reporter, i.partner) as exporter,
        coalesce(e.partner, i.reporter) as importer,
        cast(coalesce(e.year, i.year) as varchar) as period,
        case
            when e.classification = i.classification or i.classification is null then e.classification
            when e.classification is null then i.classification
            else e.classification || ' / ' || i.classification
        end as classification,
        'TOTAL' as category,
        'customs_value' as measure,
        'USD' as unit,
        e.value as exports_reported_by_exporter,
        i.value as imports_reported_by_importer,
        e.source_id as exporter_source_id,
        i.source_id as importer_source_id,
        e.classification as exporter_classification,
        i.classification as importer_classification,
        e.is_derived as is_exporter_side_derived,
        i.is_derived as is_importer_side_derived,
        e.derivation as exporter_derivation,
        i.derivation as importer_derivation,
    from (select * from annual_totals where flow = 'export') as e
    full outer join (select * from annual_totals where flow = 'import') as i
        on i.partner = e.reporter
        and i.reporter = e.partner
        and i.year = e.year
),

exports_reported as (
    select
        reporter as exporter, partner as importer, period, classification, category, measure, unit,
        value as exports_reported_by_exporter, source_id as exporter_source_id,
    from coded
    where flow = 'export'
),

imports_reported as (
    select
        partner as exporter, reporter as importer, period, classification, category, measure, unit,
        value as imports_reported_by_importer, source_id as importer_source_id,
    from coded
    where flow = 'import'
),

paired as (
    -- like with like only: the same period, classification, code, measure and unit on both sides
    select
        coalesce(e.exporter, i.exporter) as exporter,
        coalesce(e.importer, i.importer) as importer,
        coalesce(e.period, i.period) as period,
        coalesce(e.classification, i.classification) as classification,
        coalesce(e.category, i.category) as category,
        coalesce(e.measure, i.measure) as measure,
        coalesce(e.unit, i.unit) as unit,
        e.exports_reported_by_exporter,
        i.imports_reported_by_importer,
        e.exporter_source_id,
        i.importer_source_id,
        e.classification as exporter_classification,
        i.classification as importer_classification,
        case when e.exporter is not null then false end as is_exporter_side_derived,
        case when i.importer is not null then false end as is_importer_side_derived,
        cast(null as varchar) as exporter_derivation,
        cast(null as varchar) as importer_derivation,
    from exports_reported as e
    full outer join imports_reported as i
        on i.exporter = e.exporter
        and i.importer = e.importer
        and i.period = e.period
        and i.classification = e.classification
        and i.category = e.category
        and i.measure = e.measure
        and i.unit = e.unit
),

all_pairs as (
    select * from paired
    union all by name
    select * from totals_paired
),

final as (
    select
        -- ids
        exporter,
        importer,
        period,
        periods.period_start,
        periods.period_end,
        classification,
        category,
        measure,
        -- numerics
        unit,
        exports_reported_by_exporter,
        imports_reported_by_importer,
        round(imports_reported_by_importer - exports_reported_by_exporter, 2) as gap,
        imports_reported_by_importer / nullif(exports_reported_by_exporter, 0) as mirror_ratio,
        imports_reported_by_importer / nullif(exports_reported_by_exporter, 0) as asymmetry_ratio,
        -- what each side is
        exports_reported_by_exporter is not null and imports_reported_by_importer is not null as is_paired,
        'FOB' as exporter_valuation,
        'CIF' as importer_valuation,
        exporter_classification,
        importer_classification,
        is_exporter_side_derived,
        is_importer_side_derived,
        exporter_derivation,
        importer_derivation,
        case
            when exports_reported_by_exporter is not null and imports_reported_by_importer is not null then null
            when exports_reported_by_exporter is null and exporter_derivation is not null then exporter_derivation
            when imports_reported_by_importer is null and importer_derivation is not null then importer_derivation
            when category = 'TOTAL' and exports_reported_by_exporter is null then
                'the exporter''s annual total of all goods is not loaded (no annual TOTAL, 12 monthly TOTAL rows '
                || 'or commodity level covering every section)'
            when category = 'TOTAL' and imports_reported_by_importer is null then
                'the importer''s annual total of all goods is not loaded (no annual TOTAL, 12 monthly TOTAL rows '
                || 'or commodity level covering every section)'
            when exports_reported_by_exporter is null then
                'the exporter''s report is not loaded (same period, classification, code, measure and unit)'
            else 'the importer''s report is not loaded (same period, classification, code, measure and unit)'
        end as why_unpaired,
        -- provenance
        exporter_source_id,
        importer_source_id,
    from all_pairs
    left join core.dim_period as periods using (period)
)

select * from final;

comment on view marts.mirror_flows is 'Mirror flows between economies (no world or regional aggregate, exporter <> importer), latest vintages: what the exporter reports exporting to the importer against what the importer reports importing from it, same period, classification, commodity code, measure and unit; the gap (importer minus exporter) and the asymmetry ratio. As CEPII documents for BACI, imports are reported CIF and exports FOB, so a ratio a few per cent above 1 is the freight and insurance margin (BACI estimates it per flow and removes it; nothing is estimated here); far from 1 is a reporting asymmetry. A side nobody reported stays null (is_paired false). Annual totals of all goods (category TOTAL) pair each side''s published annual TOTAL, else its derived total (the 12 monthly TOTAL rows summed, or one commodity level covering every section summed, as marts.goods_balance_by_partner chooses it), flagged is_exporter_side_derived / is_importer_side_derived and explained in exporter_derivation / importer_derivation; such a pair may join two classifications (a total of all goods is the same universe in SITC and HS).';
comment on column marts.mirror_flows.exporter is 'Exporting economy (the reporter of the export figure); never an aggregate (core.dim_country.is_aggregate)';
comment on column marts.mirror_flows.importer is 'Importing economy (the reporter of the import figure); never an aggregate, never the exporter';
comment on column marts.mirror_flows.period is 'Reference period';
comment on column marts.mirror_flows.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.mirror_flows.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.mirror_flows.classification is 'Commodity classification (SITC4, HS2007, ...): both sides in the same one for commodity codes; for a total of all goods (category TOTAL) whose sides are in different classifications, both, the exporter''s first (''SITC4 / HS2007''): all goods are the same universe in either';
comment on column marts.mirror_flows.category is 'Commodity code (one aggregation level per code); TOTAL = all goods (an annual total is published or derived: see is_exporter_side_derived)';
comment on column marts.mirror_flows.measure is 'The concept measured (customs_value): both sides the same';
comment on column marts.mirror_flows.unit is 'Unit of the values and of gap (USD): both sides the same';
comment on column marts.mirror_flows.exports_reported_by_exporter is 'Exports to the importer as the exporter reports them (FOB); null if not reported';
comment on column marts.mirror_flows.imports_reported_by_importer is 'Imports from the exporter as the importer reports them (CIF); null if not reported';
comment on column marts.mirror_flows.gap is 'imports_reported_by_importer - exports_reported_by_exporter, rounded to the cent (both are, from core.fct_trade_figure); null unless both sides are reported';
comment on column marts.mirror_flows.mirror_ratio is 'imports_reported_by_importer / exports_reported_by_exporter (the same as asymmetry_ratio; kept for existing queries)';
comment on column marts.mirror_flows.asymmetry_ratio is 'imports_reported_by_importer (CIF) / exports_reported_by_exporter (FOB): a few per cent above 1 is the CIF/FOB margin, far from 1 a reporting asymmetry; null unless both sides are reported';
comment on column marts.mirror_flows.is_paired is 'True when both the exporter''s and the importer''s reports are loaded';
comment on column marts.mirror_flows.exporter_valuation is 'Valuation of exports_reported_by_exporter: FOB (free on board at the exporter''s border)';
comment on column marts.mirror_flows.importer_valuation is 'Valuation of imports_reported_by_importer: CIF (cost, insurance and freight to the importer''s border)';
comment on column marts.mirror_flows.exporter_classification is 'Classification of the exporter''s figure (null when the exporter''s side is not loaded)';
comment on column marts.mirror_flows.importer_classification is 'Classification of the importer''s figure (null when the importer''s side is not loaded)';
comment on column marts.mirror_flows.is_exporter_side_derived is 'True when exports_reported_by_exporter is derived from the exporter''s own figures (an annual total of all goods summed from 12 monthly TOTAL rows or from one commodity level covering every section), false when it is a figure as published; null when that side is not loaded';
comment on column marts.mirror_flows.is_importer_side_derived is 'True when imports_reported_by_importer is derived from the importer''s own figures (an annual total of all goods summed from 12 monthly TOTAL rows or from one commodity level covering every section), false when it is a figure as published; null when that side is not loaded';
comment on column marts.mirror_flows.exporter_derivation is 'How the exporter''s derived total was computed (e.g. sum of the 12 monthly TOTAL rows USA reports ...), or why it could not be (months missing); null for a published figure';
comment on column marts.mirror_flows.importer_derivation is 'How the importer''s derived total was computed (e.g. sum of 64 codes of SITC divisions (2-digit) CHN reports ...), or why it could not be (months missing); null for a published figure';
comment on column marts.mirror_flows.why_unpaired is 'Why is_paired is false: which side is not loaded, or why its total could not be derived; null for a pair';
comment on column marts.mirror_flows.exporter_source_id is 'Source of the export figure';
comment on column marts.mirror_flows.importer_source_id is 'Source of the import figure';
