-- grain: one row per source x vintage x reporter x partner x period x flow x classification x category x measure
-- Every vintage of every figure with the dates it was the latest known: the as-of view. What was known on a
-- date d: `where valid_from <= d and (valid_to is null or d < valid_to)`.
-- Each vintage is compared with the previous one: within a relative tolerance of 1e-6 the two agree
-- (floating-point noise of the publishers' files is not a revision); beyond it, a change under the same
-- definition is a revision, a change across definitions (BPM5 -> BPM6, a redefined series) a break in series.
create or replace view marts.trade_figure_history as
with

figures as not materialized (
    select * from core.fct_trade_figure
),

multi_vintage_datasets as (
    select dataset,
    from figures
    group by dataset
    having count(distinct vintage) > 1
),

dated as (
    -- where a dataset holds one vintage, no figure has a previous or a next one: the window (a sort of every
    -- figure) runs only over the datasets that hold several
    select
        figures.*,
        cast(figures.vintage as date) as valid_from,
        cast(null as date) as valid_to,
        cast(null as double) as previous_vintage_value,
        cast(null as varchar) as previous_definition,
    from figures
    anti join multi_vintage_datasets on multi_vintage_datasets.dataset = figures.dataset
    union all
    select
        figures.*,
        cast(figures.vintage as date) as valid_from,
        cast(lead(figures.vintage) over figure as date) as valid_to,
        lag(figures.value) over figure as previous_vintage_value,
        lag(figures.definition) over figure as previous_definition,
    from figures
    semi join multi_vintage_datasets on multi_vintage_datasets.dataset = figures.dataset
    window figure as (
        -- one figure across its vintages, by its columns rather than one hashed key: a filter on any of them
        -- (reporter = 'CHN') then runs below the window, over that reporter's rows only (decision 0001)
        partition by figures.dataset, figures.reporter, figures.partner, figures.period, figures.flow,
            figures.classification, figures.category, figures.measure
        order by figures.vintage
    )
),

compared as (
    select
        *,
        -- 1e-6 of the larger of the two values: below it, two vintages agree
        abs(value - previous_vintage_value) <= 1e-6 * greatest(abs(value), abs(previous_vintage_value)) as is_within_tolerance,
        definition is distinct from previous_definition as is_definition_change,
    from dated
),

final as (
    select
        -- ids
        source_id,
        dataset,
        vintage,
        reporter,
        partner,
        period,
        periods.period_start,
        periods.period_end,
        year,
        flow,
        classification,
        category,
        measure,
        -- numerics
        unit,
        value,
        previous_vintage_value,
        case
            when is_definition_change then null
            when unit = 'USD' then round(value - previous_vintage_value, 2)
            else value - previous_vintage_value
        end as revision,
        -- definitions and what changed
        definition,
        case when previous_vintage_value is not null then previous_definition end as previous_definition,
        previous_vintage_value is not null and is_definition_change as is_definition_change,
        case
            when previous_vintage_value is null then 'first_vintage'
            when is_within_tolerance then 'unchanged'
            when is_definition_change then 'definition_break'
            else 'revised'
        end as change_kind,
        -- validity
        valid_from,
        valid_to,
        is_latest_vintage,
        -- reported or derived
        is_derived,
        derivation,
    from compared
    left join core.dim_period as periods using (period)
)

select * from final;

comment on view marts.trade_figure_history is 'Every vintage of every trade figure, with the dates it was the latest release (valid_from, valid_to): filter valid_from <= d and (valid_to is null or d < valid_to) to see what was known on date d. Each vintage is compared with the previous one and the definition each was compiled under: change_kind says whether the figure is unchanged (within 1e-6 relative), revised (same definition) or broken in series (another definition, e.g. BPM5 -> BPM6).';
comment on column marts.trade_figure_history.source_id is 'Catalogue entry that published this vintage';
comment on column marts.trade_figure_history.dataset is 'Publisher layout family; vintages are compared within one dataset';
comment on column marts.trade_figure_history.vintage is 'Release date of this value (YYYY-MM-DD)';
comment on column marts.trade_figure_history.reporter is 'Reporting economy or group';
comment on column marts.trade_figure_history.partner is 'Partner economy or aggregate (WLD = the world)';
comment on column marts.trade_figure_history.period is 'Reference period';
comment on column marts.trade_figure_history.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.trade_figure_history.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.trade_figure_history.year is 'Calendar year of the period';
comment on column marts.trade_figure_history.flow is 'export, import, total or balance';
comment on column marts.trade_figure_history.classification is 'Classification of category';
comment on column marts.trade_figure_history.category is 'What is traded';
comment on column marts.trade_figure_history.measure is 'The concept measured (core.dim_measure)';
comment on column marts.trade_figure_history.unit is 'Unit of value, previous_vintage_value and revision';
comment on column marts.trade_figure_history.value is 'The value in this vintage (core.fct_trade_figure.value: in USD rounded to the cent)';
comment on column marts.trade_figure_history.previous_vintage_value is 'The value in the previous vintage of the same figure; null for the first';
comment on column marts.trade_figure_history.revision is 'value - previous_vintage_value under the same definition (in USD rounded to the cent); null for the first vintage and across a change of definition (a break in series is not a revision)';
comment on column marts.trade_figure_history.definition is 'Definition this vintage was compiled under (core.fct_trade_figure.definition: BPM5, BPM6, hightech_old_series, ...)';
comment on column marts.trade_figure_history.previous_definition is 'Definition of the previous vintage; null for the first';
comment on column marts.trade_figure_history.is_definition_change is 'True when the previous vintage was compiled under another definition: the two values are not one series';
comment on column marts.trade_figure_history.change_kind is 'first_vintage (no earlier vintage), unchanged (within 1e-6 of the larger value: floating-point noise is not a revision), revised (same definition, beyond the tolerance: marts.revisions) or definition_break (another definition, beyond the tolerance: marts.definition_breaks)';
comment on column marts.trade_figure_history.valid_from is 'First date this vintage was the latest known (its release date)';
comment on column marts.trade_figure_history.valid_to is 'Date the next vintage replaced it; null while it is the latest';
comment on column marts.trade_figure_history.is_latest_vintage is 'True for the latest vintage';
comment on column marts.trade_figure_history.is_derived is 'True when the value was derived rather than printed';
comment on column marts.trade_figure_history.derivation is 'Formula of a derived value';
