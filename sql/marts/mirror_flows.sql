-- grain: one row per exporter x importer x period x classification x category (latest vintages)
-- Mirror flows: what the exporter reports exporting to the importer (FOB, by the exporter's customs) against
-- what the importer reports importing from the exporter (CIF, by the importer's customs). Both values, the gap
-- and the ratio; a side nobody reported stays null. Customs values only, one classification at a time.
create or replace view marts.mirror_flows as
with

figures as (
    select * from core.fct_trade_figure
    where measure = 'customs_value' and is_latest_vintage and not is_derived
),

exports_reported as (
    select
        reporter as exporter, partner as importer, period, classification, category, unit,
        value as exports_reported_by_exporter, source_id as exporter_source_id,
    from figures
    where flow = 'export'
),

imports_reported as (
    select
        partner as exporter, reporter as importer, period, classification, category, unit,
        value as imports_reported_by_importer, source_id as importer_source_id,
    from figures
    where flow = 'import'
),

paired as (
    select
        coalesce(e.exporter, i.exporter) as exporter,
        coalesce(e.importer, i.importer) as importer,
        coalesce(e.period, i.period) as period,
        coalesce(e.classification, i.classification) as classification,
        coalesce(e.category, i.category) as category,
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
        -- numerics
        unit,
        exports_reported_by_exporter,
        imports_reported_by_importer,
        round(imports_reported_by_importer - exports_reported_by_exporter, 2) as gap,
        imports_reported_by_importer / nullif(exports_reported_by_exporter, 0) as mirror_ratio,
        -- provenance
        exporter_source_id,
        importer_source_id,
    from paired
    left join core.dim_period as periods using (period)
)

select * from final;

comment on view marts.mirror_flows is 'Mirror flows, latest vintages: what the exporter reports exporting to the importer against what the importer reports importing from it, customs values in one classification and category; the gap (importer minus exporter) and the ratio. Imports are usually CIF and exports FOB, so a ratio a little above 1 is expected; a missing side stays null.';
comment on column marts.mirror_flows.exporter is 'Exporting economy (the reporter of the export figure)';
comment on column marts.mirror_flows.importer is 'Importing economy (the reporter of the import figure)';
comment on column marts.mirror_flows.period is 'Reference period';
comment on column marts.mirror_flows.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.mirror_flows.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.mirror_flows.classification is 'Commodity classification (SITC4, HS2007, ...): both sides in the same one';
comment on column marts.mirror_flows.category is 'Commodity code (one aggregation level per code)';
comment on column marts.mirror_flows.unit is 'Unit of the values and of gap (USD)';
comment on column marts.mirror_flows.exports_reported_by_exporter is 'Exports to the importer as the exporter reports them (usually FOB); null if not reported';
comment on column marts.mirror_flows.imports_reported_by_importer is 'Imports from the exporter as the importer reports them (usually CIF); null if not reported';
comment on column marts.mirror_flows.gap is 'imports_reported_by_importer - exports_reported_by_exporter, rounded to the cent (both are, from core.fct_trade_figure)';
comment on column marts.mirror_flows.mirror_ratio is 'imports_reported_by_importer / exports_reported_by_exporter';
comment on column marts.mirror_flows.exporter_source_id is 'Source of the export figure';
comment on column marts.mirror_flows.importer_source_id is 'Source of the import figure';
