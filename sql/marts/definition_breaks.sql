-- grain: one row per figure whose later vintage was compiled under another definition (source x vintage x reporter x partner x period x flow x category x measure)
-- Breaks in series: a later release that publishes a figure under another definition (BPM5 -> BPM6, the high-
-- technology series redefined from 2007) and a value beyond the tolerance of the previous one. Not revisions:
-- the two values measure different things, so their difference is not an error corrected.
create or replace view marts.definition_breaks as
with

history as (
    select * from marts.trade_figure_history
),

breaks as (
    -- with the source of the previous vintage (a later release may come from another catalogue entry)
    select
        later.*,
        earlier.source_id as previous_source_id,
    from history as later
    left join history as earlier
        on earlier.dataset = later.dataset
        and earlier.reporter = later.reporter
        and earlier.partner = later.partner
        and earlier.period = later.period
        and earlier.flow = later.flow
        and earlier.classification = later.classification
        and earlier.category = later.category
        and earlier.measure = later.measure
        and earlier.valid_to = later.valid_from
    where later.change_kind = 'definition_break' and not later.is_derived
),

definitions as (
    select
        *,
        case when category <> '' then 3 when classification <> '' then 2 else 1 end as specificity,
    from raw.ref_definitions
),

described as (
    -- what each definition measures: the most specific row of seeds/reference/definitions.csv that names it
    select
        breaks.*,
        (
            select description from definitions
            where definitions.source_id = breaks.source_id
                and definitions.definition = breaks.definition
                and definitions.classification in ('', breaks.classification)
                and definitions.category in ('', breaks.category)
            order by specificity desc
            limit 1
        ) as definition_description,
        (
            select description from definitions
            where definitions.source_id = breaks.previous_source_id
                and definitions.definition = breaks.previous_definition
                and definitions.classification in ('', breaks.classification)
                and definitions.category in ('', breaks.category)
            order by specificity desc
            limit 1
        ) as previous_definition_description,
    from breaks
),

final as (
    select
        -- ids
        source_id,
        dataset,
        vintage,
        previous_source_id,
        reporter,
        partner,
        period,
        period_start,
        period_end,
        flow,
        classification,
        category,
        measure,
        -- the two definitions
        previous_definition,
        definition,
        previous_definition_description,
        definition_description,
        -- numerics
        unit,
        previous_vintage_value,
        value,
        case
            when unit = 'USD' then round(value - previous_vintage_value, 2)
            else value - previous_vintage_value
        end as change_across_definitions,
        100 * (value - previous_vintage_value) / nullif(abs(previous_vintage_value), 0) as change_across_definitions_pct,
    from described
    order by classification, category, reporter, flow, period
)

select * from final;

comment on view marts.definition_breaks is 'Breaks in series: figures a later release publishes under another definition (BPM5 -> BPM6, a redefined indicator), with both definitions, both values and the change across them. Not revisions (marts.revisions): the two values measure different things; compare within one definition.';
comment on column marts.definition_breaks.source_id is 'Catalogue entry of the later vintage';
comment on column marts.definition_breaks.dataset is 'Publisher layout family; vintages are compared within one dataset';
comment on column marts.definition_breaks.vintage is 'Release date of the later vintage';
comment on column marts.definition_breaks.previous_source_id is 'Catalogue entry of the previous vintage';
comment on column marts.definition_breaks.reporter is 'Reporting economy or group';
comment on column marts.definition_breaks.partner is 'Partner economy or aggregate (WLD = the world)';
comment on column marts.definition_breaks.period is 'Reference period';
comment on column marts.definition_breaks.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01; for time axes';
comment on column marts.definition_breaks.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31';
comment on column marts.definition_breaks.flow is 'export, import, total or balance';
comment on column marts.definition_breaks.classification is 'Classification of category';
comment on column marts.definition_breaks.category is 'What is traded';
comment on column marts.definition_breaks.measure is 'The concept measured (core.dim_measure)';
comment on column marts.definition_breaks.previous_definition is 'Definition of the previous vintage (BPM5, hightech_old_series, ...)';
comment on column marts.definition_breaks.definition is 'Definition of this vintage (BPM6, hightech_series_2007, ...)';
comment on column marts.definition_breaks.previous_definition_description is 'What the previous definition measures (the reference list raw.ref_definitions)';
comment on column marts.definition_breaks.definition_description is 'What this definition measures (the reference list raw.ref_definitions)';
comment on column marts.definition_breaks.unit is 'Unit of the values and of the change';
comment on column marts.definition_breaks.previous_vintage_value is 'Value in the previous vintage, under the previous definition';
comment on column marts.definition_breaks.value is 'Value in this vintage, under this definition';
comment on column marts.definition_breaks.change_across_definitions is 'value - previous_vintage_value (in USD rounded to the cent): the effect of the new definition and of any revision together, which the two releases do not separate';
comment on column marts.definition_breaks.change_across_definitions_pct is 'change_across_definitions as a percentage of the previous value';
