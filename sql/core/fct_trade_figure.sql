-- grain: one row per source x vintage x reporter x partner x period x flow x classification x category x measure
-- The conformed trade figure: what publishers printed (is_derived = false), plus what follows from it by
-- arithmetic alone (is_derived = true, with the rule and the formula): a missing flow from the other two
-- (import = total - export), the total of exports and imports, and the previous year's value from a stated
-- growth rate. Shares are not turned into values here: marts.trade_composition does that.
create or replace view core.fct_trade_figure as
with

press_release as (
    select * from staging.stg_press_release
    where role = 'figure'
),

wdi as (
    select * from staging.stg_wdi
),

comtrade as (
    select * from staging.stg_comtrade
),

sdmx_csv as (
    select * from staging.stg_sdmx_csv
),

oecd_msti as (
    select * from staging.stg_oecd_msti
),

sources as (
    select * from core.dim_source
),

measures as (
    select * from core.dim_measure
),

reported as (
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value, num_measure, base_reporter, base_classification, base_category, base_measure,
        quote, file_name, file_sha256, file_row,
    from press_release
    union all by name
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value,
        file_name, file_sha256, file_row,
    from wdi
    union all by name
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value,
        file_name, file_sha256, file_row,
    from comtrade
    union all by name
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value,
        file_name, file_sha256, file_row,
    from sdmx_csv
    union all by name
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value,
        file_name, file_sha256, file_row,
    from oecd_msti
),

flows_side_by_side as (
    select
        source_id, vintage, reporter, partner, period, period_type, year, classification, category, measure, unit,
        max(value) filter (where flow = 'export') as export_value,
        max(value) filter (where flow = 'import') as import_value,
        max(value) filter (where flow = 'total') as total_value,
    from reported
    where measure in (select measure from measures where is_additive)
    group by all
),

identity_derived as (
    select
        * exclude (export_value, import_value, total_value),
        'import' as flow,
        total_value - export_value as value,
        printf('import = total - export = %.2f bn - %.2f bn', total_value / 1e9, export_value / 1e9) as derivation,
    from flows_side_by_side
    where total_value is not null and export_value is not null and import_value is null
    union all
    select
        * exclude (export_value, import_value, total_value),
        'export' as flow,
        total_value - import_value as value,
        printf('export = total - import = %.2f bn - %.2f bn', total_value / 1e9, import_value / 1e9) as derivation,
    from flows_side_by_side
    where total_value is not null and import_value is not null and export_value is null
    union all
    select
        * exclude (export_value, import_value, total_value),
        'total' as flow,
        export_value + import_value as value,
        printf('total = export + import = %.2f bn + %.2f bn', export_value / 1e9, import_value / 1e9) as derivation,
    from flows_side_by_side
    where export_value is not null and import_value is not null and total_value is null
),

series_values as (
    select source_id, vintage, reporter, partner, year, period_type, flow, classification, category, measure, unit, value
    from reported
    union all
    select source_id, vintage, reporter, partner, year, period_type, flow, classification, category, measure, unit, value
    from identity_derived
),

growth_base_derived as (
    -- a stated growth rate g for year t and the value for t give the value for t - 1 = value / (1 + g / 100)
    select
        growth.source_id, growth.vintage, growth.reporter, growth.partner,
        cast(growth.year - 1 as varchar) as period,
        'year' as period_type,
        growth.year - 1 as year,
        growth.flow, growth.classification, growth.category,
        current_year.measure,
        current_year.unit,
        current_year.value / (1 + growth.value / 100) as value,
        printf(
            '%s %d = %s %d / (1 + %s%%) = %.2f bn / %.4f',
            growth.flow, growth.year - 1, growth.flow, growth.year, growth.value_printed,
            current_year.value / 1e9, 1 + growth.value / 100
        ) as derivation,
    from press_release as growth
    inner join series_values as current_year
        on current_year.source_id = growth.source_id
        and current_year.vintage = growth.vintage
        and current_year.reporter = growth.reporter
        and current_year.partner = growth.partner
        and current_year.year = growth.year
        and current_year.period_type = 'year'
        and current_year.flow = growth.flow
        and current_year.classification = growth.classification
        and current_year.category = growth.category
        and current_year.measure = growth.num_measure
    anti join series_values as previous_year
        on previous_year.source_id = growth.source_id
        and previous_year.vintage = growth.vintage
        and previous_year.reporter = growth.reporter
        and previous_year.partner = growth.partner
        and previous_year.year = growth.year - 1
        and previous_year.period_type = 'year'
        and previous_year.flow = growth.flow
        and previous_year.classification = growth.classification
        and previous_year.category = growth.category
        and previous_year.measure = growth.num_measure
    where growth.measure = 'growth_yoy' and growth.comparator = '=' and growth.period_type = 'year'
),

all_figures as (
    select *, false as is_derived, cast(null as varchar) as derivation_rule from reported
    union all by name
    select *, true as is_derived, 'identity' as derivation_rule from identity_derived
    union all by name
    select *, true as is_derived, 'growth_base' as derivation_rule from growth_base_derived
),

final as (
    select
        -- ids
        all_figures.source_id,
        sources.dataset,
        all_figures.vintage,
        all_figures.reporter,
        all_figures.partner,
        all_figures.period,
        all_figures.period_type,
        all_figures.year,
        all_figures.flow,
        all_figures.classification,
        all_figures.category,
        all_figures.measure,
        -- numerics
        all_figures.unit,
        all_figures.value,
        -- reported or derived
        all_figures.is_derived,
        all_figures.derivation_rule,
        all_figures.derivation,
        -- ratios: the series they are about and the base they divide by
        all_figures.num_measure,
        all_figures.base_reporter,
        all_figures.base_classification,
        all_figures.base_category,
        all_figures.base_measure,
        -- provenance
        all_figures.quote,
        all_figures.file_name,
        all_figures.file_sha256,
        all_figures.file_row,
        all_figures.vintage = max(all_figures.vintage) over (
            partition by sources.dataset, all_figures.reporter, all_figures.partner, all_figures.period,
                all_figures.flow, all_figures.classification, all_figures.category, all_figures.measure
        ) as is_latest_vintage,
    from all_figures
    inner join sources on sources.source_id = all_figures.source_id
)

select * from final;
