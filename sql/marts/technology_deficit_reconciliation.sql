-- grain: one row per economy x year x measure of technology trade (economies only; latest vintage)
-- One economy's technology trade balance across the measures the warehouse holds, side by side: the value of
-- technology contracts registered with MOFCOM, charges for the use of intellectual property (WDI) and
-- digitally-deliverable services (UNCTAD), both from the balance of payments, and the OECD's technology balance
-- of payments. Each row is one measure with what it measures; no figure is subtracted from or added to another
-- measure's: they differ in scope (what is counted), basis (contracts signed or payments made) and compiler.
-- China 2011: -10.76 bn (contracts), -13.96 bn (IP charges), -13.03 bn (digitally-deliverable services).
create or replace view marts.technology_deficit_reconciliation as
with

balances as (
    select * from marts.trade_balance_vintages
    where is_latest_vintage and partner = 'WLD' and period_type = 'year'
),

economies as (
    select iso3, name,
    from core.dim_country
    where not is_aggregate and coalesce(parent_iso3, '') = ''
),

technology_measures as (
    -- the series that measure technology trade, in the order they are shown, with a short label
    select * from (
        values
            (1, 'technology_contracts', 'technology', 'technology_contract_value', 'technology contracts (contract value)'),
            (2, 'bop', 'ip_charges', 'bop_value', 'charges for the use of intellectual property (balance of payments)'),
            (3, 'bop', 'digitally_deliverable_services', 'bop_value', 'digitally-deliverable services (balance of payments)'),
            (4, 'technology_bop', 'technology', 'technology_bop_value', 'technology balance of payments (OECD)')
    ) as measures(display_order, classification, category, measure, label)
),

definitions as (
    select
        *,
        case when category <> '' then 3 when classification <> '' then 2 else 1 end as specificity,
    from raw.ref_definitions
),

figure_definitions as (
    -- the definition each series was compiled under, and what it measures (the most specific description)
    select
        figures.source_id, figures.vintage, figures.reporter, figures.year, figures.classification, figures.category,
        figures.measure, figures.definition,
        arg_max(definitions.description, definitions.specificity) as description,
    from core.fct_trade_figure as figures
    semi join technology_measures
        on technology_measures.classification = figures.classification
        and technology_measures.category = figures.category
        and technology_measures.measure = figures.measure
    left join definitions
        on definitions.source_id = figures.source_id
        and definitions.definition = figures.definition
        and definitions.classification in ('', figures.classification)
        and definitions.category in ('', figures.category)
    where figures.is_latest_vintage and figures.partner = 'WLD' and figures.period_type = 'year'
    group by all
),

final as (
    select
        -- ids
        balances.reporter,
        economies.name as economy,
        balances.year,
        balances.period_start,
        balances.period_end,
        technology_measures.display_order,
        technology_measures.label as measure_label,
        balances.classification,
        balances.category,
        balances.measure,
        balances.source_id,
        balances.vintage,
        figure_definitions.definition,
        -- numerics (USD to the cent; negative balance: a deficit)
        balances.exports as exports_usd,
        balances.imports as imports_usd,
        balances.balance as balance_usd,
        -- reported or derived
        balances.is_exports_derived,
        balances.is_imports_derived,
        balances.derivation,
        -- what it measures
        figure_definitions.description as what_it_measures,
    from balances
    inner join technology_measures
        on technology_measures.classification = balances.classification
        and technology_measures.category = balances.category
        and technology_measures.measure = balances.measure
    inner join economies on economies.iso3 = balances.reporter
    left join figure_definitions
        on figure_definitions.source_id = balances.source_id
        and figure_definitions.vintage = balances.vintage
        and figure_definitions.reporter = balances.reporter
        and figure_definitions.year = balances.year
        and figure_definitions.classification = balances.classification
        and figure_definitions.category = balances.category
        and figure_definitions.measure = balances.measure
    order by balances.reporter, balances.year, technology_measures.display_order
)

select * from final;

comment on view marts.technology_deficit_reconciliation is 'One economy''s technology trade balance across measures, side by side (economies only, latest vintage): technology contract value (MOFCOM), charges for the use of intellectual property (WDI), digitally-deliverable services (UNCTAD), technology balance of payments (OECD MSTI), each with what it measures. Never subtract one row from another: the measures differ in scope, basis and compiler. China 2011: -10.76 bn, -13.96 bn, -13.03 bn.';
comment on column marts.technology_deficit_reconciliation.reporter is 'Economy (core.dim_country.iso3; no aggregates)';
comment on column marts.technology_deficit_reconciliation.economy is 'Name of the economy';
comment on column marts.technology_deficit_reconciliation.year is 'Calendar year';
comment on column marts.technology_deficit_reconciliation.period_start is 'First day of year (core.dim_period): 2011 -> 2011-01-01; for time axes';
comment on column marts.technology_deficit_reconciliation.period_end is 'Last day of year (core.dim_period): 2011 -> 2011-12-31';
comment on column marts.technology_deficit_reconciliation.display_order is 'Order of the measures: 1 contracts, 2 IP charges, 3 digitally-deliverable services, 4 OECD technology balance of payments';
comment on column marts.technology_deficit_reconciliation.measure_label is 'The measure in words';
comment on column marts.technology_deficit_reconciliation.classification is 'Classification of the series (technology_contracts, bop, technology_bop)';
comment on column marts.technology_deficit_reconciliation.category is 'Category of the series (technology, ip_charges, digitally_deliverable_services)';
comment on column marts.technology_deficit_reconciliation.measure is 'The concept measured (core.dim_measure): technology_contract_value, bop_value or technology_bop_value';
comment on column marts.technology_deficit_reconciliation.source_id is 'Source of the figures (the latest vintage)';
comment on column marts.technology_deficit_reconciliation.vintage is 'Vintage of the figures';
comment on column marts.technology_deficit_reconciliation.definition is 'Definition the figures were compiled under (core.fct_trade_figure.definition: mofcom_contract_value, BPM6, oecd_tbp, ...)';
comment on column marts.technology_deficit_reconciliation.exports_usd is 'Exports or receipts, USD to the cent; null if not published nor derivable';
comment on column marts.technology_deficit_reconciliation.imports_usd is 'Imports or payments, USD to the cent; null if not published nor derivable';
comment on column marts.technology_deficit_reconciliation.balance_usd is 'exports_usd - imports_usd of this measure only (negative: a deficit); null if either is missing';
comment on column marts.technology_deficit_reconciliation.is_exports_derived is 'True when exports were derived rather than printed (see derivation)';
comment on column marts.technology_deficit_reconciliation.is_imports_derived is 'True when imports were derived rather than printed (see derivation)';
comment on column marts.technology_deficit_reconciliation.derivation is 'Formula of any derived side, e.g. import = total - export = 22.61 bn - 0.58 bn';
comment on column marts.technology_deficit_reconciliation.what_it_measures is 'What the measure counts and on what basis (the reference list raw.ref_definitions)';
