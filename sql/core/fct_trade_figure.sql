-- grain: one row per source x vintage x reporter x partner x period x flow x classification x category x measure
-- The conformed trade figure: what publishers printed (is_derived = false), plus what follows from it by
-- arithmetic alone (is_derived = true, with the rule and the formula): a missing flow from the other two
-- (import = total - export), the total of exports and imports, and the previous year's value from a stated
-- growth rate. Shares are not turned into values here: marts.trade_composition does that.
-- Each figure carries its definition key (seeds/reference/definitions.csv: the balance-of-payments manual
-- edition, the indicator's series): two vintages of a figure under different definitions are a break in
-- series, not a revision (marts.trade_figure_history).
-- Stored once by the build (every mart reads it; recomputing the union and the vintage window on each query
-- costs seconds at a million rows). The CTEs read more than once are inlined (`not materialized`): re-reading a
-- staging view costs less than storing its rows, which spill to disk at ten million rows.
-- The stored rows carry three columns the view leaves out: is_sole_figure, true for a figure in US$ of an additive
-- measure that is the only figure of its series (no other flow, printed or derived), and its reporter's and
-- partner's aggregate flags (core.dim_country): marts.trade_balance_vintages reads the sole figures from the stored
-- rows when it is read instead of storing them again (at 10M generated Comtrade rows, 9.75M of 10.13M figures).
-- The series (each hash once, whether it repeats) and the figures derived from them are computed first, each by a
-- statement of its own (`-- prepared:`, into temporary tables): in one statement their groupings and the hash
-- tables of the rest held more than the build's 512MB at 10M rows with a source that prints growth rates
-- (measured: 390 MiB of hash tables, out of memory on two threads; prepared, 57 MiB). Then the build sets which of
-- the two kinds of series is the fewer (`-- plan:`): the pairing and is_sole_figure test a figure's series against
-- a hash table of those alone.
-- Stored one table per dataset and per printed or derived (`-- partitioned:`), the columns that hold one value in
-- all of a table's rows (a Comtrade download's source, vintage, measure and unit, the ratio columns a customs value
-- leaves empty; the file of every printed figure, the rule and formula a printed figure has none of) kept once in
-- its table's definition instead of in every row (measured at 10M rows, three builds each: by dataset, the fact
-- 11.6-12.1 s instead of 14.6-15.5 s; and by printed or derived, 10.8-11.0 s instead of 11.9-12.3 s; the first pass
-- over `figures` that finds them, 0.7-0.8 s). A dataset whose figures go through the vintage window is one table: a
-- filter on is_derived does not reach below the window, which each table would compute again.
-- materialized: table
-- stored: conformed
-- prepared: series_counts, identity_derived
-- plan: sole_series_fewer
-- incremental: source_id
-- partitioned: dataset, is_derived in figures
-- constants: source_id, vintage, period, period_type, year, classification, measure, unit, num_measure,
--     base_reporter, base_classification, base_category, base_measure, quote, derivation_rule, derivation,
--     file_name, file_sha256, file_row
create or replace view core.fct_trade_figure as
with

press_release as not materialized (
    select * from staging.stg_press_release
    where role = 'figure'
),

wdi as not materialized (
    select * from staging.stg_wdi
),

comtrade as not materialized (
    select * from staging.stg_comtrade
),

sdmx_csv as not materialized (
    select * from staging.stg_sdmx_csv
),

oecd_msti as not materialized (
    select * from staging.stg_oecd_msti
),

sources as (
    select * from core.dim_source
),

measures as (
    select * from core.dim_measure
),

definitions as (
    -- the most specific row wins: source, classification and category, else source and classification, else
    -- the source ('' is any); the years are those the definition covers (empty: no bound)
    select
        source_id, classification, category, definition,
        coalesce(cast(nullif(from_year, '') as integer), 0) as from_year,
        coalesce(cast(nullif(to_year, '') as integer), 9999) as to_year,
        case when category <> '' then 3 when classification <> '' then 2 else 1 end as specificity,
    from raw.ref_definitions
),

declared as (
    -- a catalogue entry's own definition (definition = "BPM6"), where the curated list has no row for it
    select id as source_id, nullif(definition, '') as definition,
    from raw.ref_sources
),

staged as not materialized (
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value, num_measure, base_reporter, base_classification, base_category, base_measure,
        quote, file_name, file_sha256, file_row,
        'press_release' as staged_from,
    from press_release
    union all by name
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value,
        file_name, file_sha256, file_row,
        'wdi' as staged_from,
    from wdi
    union all by name
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value,
        file_name, file_sha256, file_row,
        'comtrade' as staged_from,
    from comtrade
    union all by name
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value,
        file_name, file_sha256, file_row,
        'sdmx_csv' as staged_from,
    from sdmx_csv
    union all by name
    select
        source_id, vintage, reporter, partner, period, period_type, year, flow, classification, category,
        measure, unit, value,
        file_name, file_sha256, file_row,
        'oecd_msti' as staged_from,
    from oecd_msti
),

reported as not materialized (
    -- amounts in USD to the cent before any arithmetic: a derived figure is the sum or difference of the
    -- printed figures as shown (32.2 bn x 1e9 is 32200000000.000004 as a double; rounded, 32200000000.0)
    select * replace (case when unit = 'USD' then round(value, 2) else value end as value)
    from staged
),

additive as not materialized (
    select
        source_id, vintage, reporter, partner, period, period_type, year, classification, category, measure, unit,
        flow, value, staged_from,
        hash(source_id, vintage, reporter, partner, period, period_type, year, classification, category, measure, unit)
            as series_hash,
    from reported
    where measure in (select measure from measures where is_additive)
),

series_counts as (
    -- every series of an additive measure once: its hash, and whether it repeats (two flows or more; equal series
    -- have equal hashes), found by grouping one number instead of eleven columns; computed once (`-- prepared:`),
    -- read by the pairing and by is_sole_figure. Grouped staging view by staging view (a series is one source's,
    -- a source one view's; the filter on the constant staged_from leaves each grouping one view to read): a
    -- grouping of the union whose first input is small sizes its partitions before the large one arrives
    -- (measured: the 15 rows of the press release before 100M Comtrade rows, out of memory at 512MB on one thread
    -- and on two; each view grouped alone, it spills and completes)
    select series_hash, count(*) > 1 as is_paired, from additive where staged_from = 'press_release' group by series_hash
    union all
    select series_hash, count(*) > 1 as is_paired, from additive where staged_from = 'wdi' group by series_hash
    union all
    select series_hash, count(*) > 1 as is_paired, from additive where staged_from = 'comtrade' group by series_hash
    union all
    select series_hash, count(*) > 1 as is_paired, from additive where staged_from = 'sdmx_csv' group by series_hash
    union all
    select series_hash, count(*) > 1 as is_paired, from additive where staged_from = 'oecd_msti' group by series_hash
),

sole_series_fewer as (
    -- whether the series of one figure are fewer than those of two or more (`-- plan:`, set by the build once
    -- series_counts is computed; null where the view is read): the figures are told apart by a hash table of the
    -- fewer, exact either way. A download that prints both flows of most series has few sole ones: at 10M rows
    -- whose series all have both flows, the 5M repeating hashes held 4.8 GB of figures spilled to disk where the
    -- build's memory was cut to a third (standing for 30M rows), against none with the sole ones
    select count(*) filter (where not is_paired) < count(*) filter (where is_paired) from series_counts
),

paired_series as not materialized (
    select series_hash from series_counts
    where is_paired and not coalesce(getvariable('sole_series_fewer'), false)
),

sole_series as not materialized (
    select series_hash from series_counts
    where not is_paired and coalesce(getvariable('sole_series_fewer'), false)
),

paired_figures as not materialized (
    -- the figures of series of two flows or more: those whose hash repeats, or where the sole series are fewer,
    -- those whose hash does not stay alone. One filter, not a union of a semi and an anti join with the other
    -- branch planned away: DuckDB grouped the flows side by side over that union 1.7-2.2x slower (at 30M rows
    -- whose series all have both flows, identity_derived alone 36.4 s against 16.6 s)
    select * exclude (series_hash) from additive
    where case
        when coalesce(getvariable('sole_series_fewer'), false) then
            series_hash not in (select series_hash from sole_series)
        else series_hash in (select series_hash from paired_series)
    end
),

flows_side_by_side as (
    -- one row per series of two flows or more, its flows' values side by side. Grouped staging view by staging
    -- view, as series_counts is, and for the same reason: grouped as one union, out of memory at 512MB on one
    -- thread with a 10M-row Comtrade file whose series all have both flows (5M groups); view by view, it spills
    -- and completes
    select
        * exclude (flow, value),
        max(value) filter (where flow = 'export') as export_value,
        max(value) filter (where flow = 'import') as import_value,
        max(value) filter (where flow = 'total') as total_value,
    from paired_figures where staged_from = 'press_release'
    group by all
    union all
    select
        * exclude (flow, value),
        max(value) filter (where flow = 'export') as export_value,
        max(value) filter (where flow = 'import') as import_value,
        max(value) filter (where flow = 'total') as total_value,
    from paired_figures where staged_from = 'wdi'
    group by all
    union all
    select
        * exclude (flow, value),
        max(value) filter (where flow = 'export') as export_value,
        max(value) filter (where flow = 'import') as import_value,
        max(value) filter (where flow = 'total') as total_value,
    from paired_figures where staged_from = 'comtrade'
    group by all
    union all
    select
        * exclude (flow, value),
        max(value) filter (where flow = 'export') as export_value,
        max(value) filter (where flow = 'import') as import_value,
        max(value) filter (where flow = 'total') as total_value,
    from paired_figures where staged_from = 'sdmx_csv'
    group by all
    union all
    select
        * exclude (flow, value),
        max(value) filter (where flow = 'export') as export_value,
        max(value) filter (where flow = 'import') as import_value,
        max(value) filter (where flow = 'total') as total_value,
    from paired_figures where staged_from = 'oecd_msti'
    group by all
),

identity_derived as (
    -- the flow a series lacks when it has the other two: one select, a case per series, so the grouping is read
    -- once, as it is made (one select per flow read it three times, stored first: at 10M rows whose series all
    -- have both flows, 8.4 s and 3.1 GB spilled to disk, against 5.8 s and 0.8 GB)
    select
        * exclude (export_value, import_value, total_value),
        case
            when import_value is null then 'import'
            when export_value is null then 'export'
            else 'total'
        end as flow,
        case
            when import_value is null then total_value - export_value
            when export_value is null then total_value - import_value
            else export_value + import_value
        end as value,
        case
            when import_value is null then
                printf('import = total - export = %.2f bn - %.2f bn', total_value / 1e9, export_value / 1e9)
            when export_value is null then
                printf('export = total - import = %.2f bn - %.2f bn', total_value / 1e9, import_value / 1e9)
            else printf('total = export + import = %.2f bn + %.2f bn', export_value / 1e9, import_value / 1e9)
        end as derivation,
    from flows_side_by_side
    -- exactly two of the three flows printed
    where (total_value is not null)::int + (export_value is not null)::int + (import_value is not null)::int = 2
),

growth_sources as (
    select distinct source_id from press_release
    where measure = 'growth_yoy'
),

series_values as (
    -- only the sources that print growth rates: the join below cannot match another source's figures
    select source_id, vintage, reporter, partner, year, period_type, flow, classification, category, measure, unit, value
    from reported
    where source_id in (select source_id from growth_sources)
    union all
    select source_id, vintage, reporter, partner, year, period_type, flow, classification, category, measure, unit, value
    from identity_derived
    where source_id in (select source_id from growth_sources)
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
        'press_release' as staged_from,
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

all_figures as not materialized (
    select *, false as is_derived, cast(null as varchar) as derivation_rule from reported
    union all by name
    select *, true as is_derived, 'identity' as derivation_rule from identity_derived
    union all by name
    select *, true as is_derived, 'growth_base' as derivation_rule from growth_base_derived
),

figures as not materialized (
    -- a figure's dataset is the staging view it came through (a source's rows are in its dataset's raw table
    -- alone): a constant of each branch of the union, so the build's statement for one dataset's rows
    -- (`-- partitioned:`) leaves the other staging views unread
    select
        all_figures.* exclude (staged_from),
        all_figures.staged_from as dataset,
    from all_figures
    semi join sources on sources.source_id = all_figures.source_id
),

latest_flagged as (
    -- where a dataset holds one vintage, every figure is of the latest one: the window (a sort of every figure)
    -- runs only over the datasets that hold several. Which ones the build sets before it stores these rows
    -- (multi_vintage_datasets: those whose raw table holds several vintages, warehouse.build.models): a value
    -- the planner knows, so with none the window's branch is not planned and the figures are computed once.
    -- Where it is not set (null), every dataset goes through the window.
    select
        figures.*,
        true as is_latest_vintage,
    from figures
    where getvariable('multi_vintage_datasets') is not null
        and not list_contains(getvariable('multi_vintage_datasets'), figures.dataset)
    union all
    select
        figures.*,
        figures.vintage = max(figures.vintage) over (
            partition by figures.dataset, figures.reporter, figures.partner, figures.period, figures.flow,
                figures.classification, figures.category, figures.measure
        ) as is_latest_vintage,
    from figures
    where (getvariable('multi_vintage_datasets') is null or len(getvariable('multi_vintage_datasets')) > 0)
        and coalesce(list_contains(getvariable('multi_vintage_datasets'), figures.dataset), true)
),

conformed as (
    select
        -- ids
        latest_flagged.source_id,
        latest_flagged.dataset,
        latest_flagged.vintage,
        latest_flagged.reporter,
        latest_flagged.partner,
        latest_flagged.period,
        latest_flagged.period_type,
        latest_flagged.year,
        latest_flagged.flow,
        latest_flagged.classification,
        latest_flagged.category,
        latest_flagged.measure,
        -- numerics
        latest_flagged.unit,
        case when latest_flagged.unit = 'USD' then round(latest_flagged.value, 2) else latest_flagged.value end as value,
        -- reported or derived
        latest_flagged.is_derived,
        latest_flagged.derivation_rule,
        latest_flagged.derivation,
        -- ratios: the series they are about and the base they divide by
        latest_flagged.num_measure,
        latest_flagged.base_reporter,
        latest_flagged.base_classification,
        latest_flagged.base_category,
        latest_flagged.base_measure,
        -- provenance
        latest_flagged.quote,
        latest_flagged.file_name,
        latest_flagged.file_sha256,
        latest_flagged.file_row,
        latest_flagged.is_latest_vintage,
        coalesce(
            by_category.definition, by_classification.definition, by_source.definition, declared.definition
        ) as definition,
        -- the only figure of its series: a series hash that does not repeat among the printed figures (the
        -- identity derives figures only in series whose hash repeats; tested against the sole hashes where they
        -- are the fewer, else against the repeating ones: sole_series_fewer) of a source that prints no growth rate
        -- (whose figures give previous years' values); in US$ (to the cent already, as the balances are); null
        -- for a measure that is not additive
        case when latest_flagged.measure in (select measure from measures where is_additive) then
            latest_flagged.unit = 'USD'
            and case
                when coalesce(getvariable('sole_series_fewer'), false) then
                    hash(
                        latest_flagged.source_id, latest_flagged.vintage, latest_flagged.reporter,
                        latest_flagged.partner, latest_flagged.period, latest_flagged.period_type, latest_flagged.year,
                        latest_flagged.classification, latest_flagged.category, latest_flagged.measure,
                        latest_flagged.unit
                    ) in (select series_hash from sole_series)
                else
                    hash(
                        latest_flagged.source_id, latest_flagged.vintage, latest_flagged.reporter,
                        latest_flagged.partner, latest_flagged.period, latest_flagged.period_type, latest_flagged.year,
                        latest_flagged.classification, latest_flagged.category, latest_flagged.measure,
                        latest_flagged.unit
                    ) not in (select series_hash from paired_series)
            end
            and latest_flagged.source_id not in (select source_id from growth_sources)
        end as is_sole_figure,
        -- a code missing in core.dim_country counts as an aggregate: unknown is not an economy
        coalesce(reporters.is_aggregate, true) as is_aggregate,
        coalesce(partners.is_aggregate, true) as is_partner_aggregate,
    from latest_flagged
    left join definitions as by_category
        on by_category.specificity = 3
        and by_category.source_id = latest_flagged.source_id
        and by_category.classification = latest_flagged.classification
        and by_category.category = latest_flagged.category
        and latest_flagged.year between by_category.from_year and by_category.to_year
    left join definitions as by_classification
        on by_classification.specificity = 2
        and by_classification.source_id = latest_flagged.source_id
        and by_classification.classification = latest_flagged.classification
        and latest_flagged.year between by_classification.from_year and by_classification.to_year
    left join definitions as by_source
        on by_source.specificity = 1
        and by_source.source_id = latest_flagged.source_id
        and latest_flagged.year between by_source.from_year and by_source.to_year
    left join declared on declared.source_id = latest_flagged.source_id
    left join core.dim_country as reporters on reporters.iso3 = latest_flagged.reporter
    left join core.dim_country as partners on partners.iso3 = latest_flagged.partner
),

final as (
    -- the public columns (the other three are the stored rows' alone, for marts.trade_balance_vintages)
    select * exclude (is_sole_figure, is_aggregate, is_partner_aggregate) from conformed
)

select * from final;

comment on view core.fct_trade_figure is 'The conformed trade figure: every printed figure and what follows from it by arithmetic alone (is_derived, derivation), with measure, unit, vintage and provenance; every vintage, flagged is_latest_vintage.';
comment on column core.fct_trade_figure.source_id is 'Catalogue entry (core.dim_source)';
comment on column core.fct_trade_figure.dataset is 'Publisher layout family of the source';
comment on column core.fct_trade_figure.vintage is 'Release date of the figure (YYYY-MM-DD)';
comment on column core.fct_trade_figure.reporter is 'Reporting economy or group (core.dim_country.iso3)';
comment on column core.fct_trade_figure.partner is 'Partner economy or aggregate (WLD = the world)';
comment on column core.fct_trade_figure.period is 'Reference period (2011; 2011-05 for a month; 2012-01..10 for year to date)';
comment on column core.fct_trade_figure.period_type is 'year, month, ytd or recent_years';
comment on column core.fct_trade_figure.year is 'Calendar year of the period';
comment on column core.fct_trade_figure.flow is 'export, import, re_export, re_import, total or balance';
comment on column core.fct_trade_figure.classification is 'Classification of category (technology_contracts, bop, customs, SITC4, HS2007, ...)';
comment on column core.fct_trade_figure.category is 'What is traded: a category (core.dim_category) or a commodity code';
comment on column core.fct_trade_figure.measure is 'The concept measured (core.dim_measure)';
comment on column core.fct_trade_figure.unit is 'Unit of value: USD at scale 1, or percent';
comment on column core.fct_trade_figure.value is 'The figure, normalised to unit (no billions left); in USD rounded to the cent (0.01, stored as DOUBLE, exact below 10 trillion), so 32.2 bn is 32200000000.0, not 32200000000.000004';
comment on column core.fct_trade_figure.is_derived is 'False for what the publisher printed; true for what tradewh computed';
comment on column core.fct_trade_figure.derivation_rule is 'identity (import = total - export, total = export + import) or growth_base (previous year from a printed growth rate)';
comment on column core.fct_trade_figure.derivation is 'The formula with its figures, e.g. import = total - export = 22.61 bn - 0.58 bn';
comment on column core.fct_trade_figure.num_measure is 'For shares and growth rates: the measure of the series they are about';
comment on column core.fct_trade_figure.base_reporter is 'For shares: reporter of the base (the denominator)';
comment on column core.fct_trade_figure.base_classification is 'For shares: classification of the base';
comment on column core.fct_trade_figure.base_category is 'For shares: category of the base';
comment on column core.fct_trade_figure.base_measure is 'For shares: measure of the base';
comment on column core.fct_trade_figure.quote is 'For press releases: the sentence that printed the figure';
comment on column core.fct_trade_figure.file_name is 'File the figure was read from';
comment on column core.fct_trade_figure.file_sha256 is 'SHA-256 of that file as kept in the raw zone';
comment on column core.fct_trade_figure.file_row is 'Line (or JSON row) of the figure in that file';
comment on column core.fct_trade_figure.is_latest_vintage is 'True when no later vintage of the same figure exists';
comment on column core.fct_trade_figure.definition is 'Definition the figure was compiled under (the reference list raw.ref_definitions, else the catalogue entry''s definition): BPM5 or BPM6 for balance-of-payments series, hightech_old_series or hightech_series_2007 for WDI high-technology exports, mofcom_contract_value, oecd_tbp, ...; two vintages under different definitions are a break in series, not a revision; null where none is curated';
