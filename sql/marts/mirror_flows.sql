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

exports_reported as (
    select
        reporter as exporter, partner as importer, period, classification, category, measure, unit,
        value as exports_reported_by_exporter, source_id as exporter_source_id,
    from figures
    where flow = 'export'
),

imports_reported as (
    select
        partner as exporter, reporter as importer, period, classification, category, measure, unit,
        value as imports_reported_by_importer, source_id as importer_source_id,
    from figures
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
        -- provenance
        exporter_source_id,
        importer_source_id,
    from paired
    left join core.dim_period as periods using (period)
)

select * from final;

comment on view marts.mirror_flows is 'Mirror flows between economies (no world or regional aggregate, exporter <> importer), latest vintages: what the exporter reports exporting to the importer against what the importer reports importing from it, same period, classification, commodity code, measure and unit; the gap (importer minus exporter) and the asymmetry ratio. As CEPII documents for BACI, imports are reported CIF and exports FOB, so a ratio a few per cent above 1 is the freight and insurance margin (BACI estimates it per flow and removes it; nothing is estimated here); far from 1 is a reporting asymmetry. A side nobody reported stays null (is_paired false).';
comment on column marts.mirror_flows.exporter is 'Exporting economy (the reporter of the export figure); never an aggregate (core.dim_country.is_aggregate)';
comment on column marts.mirror_flows.importer is 'Importing economy (the reporter of the import figure); never an aggregate, never the exporter';
comment on column marts.mirror_flows.period is 'Reference period';
comment on column marts.mirror_flows.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.mirror_flows.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.mirror_flows.classification is 'Commodity classification (SITC4, HS2007, ...): both sides in the same one';
comment on column marts.mirror_flows.category is 'Commodity code (one aggregation level per code)';
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
comment on column marts.mirror_flows.exporter_source_id is 'Source of the export figure';
comment on column marts.mirror_flows.importer_source_id is 'Source of the import figure';
