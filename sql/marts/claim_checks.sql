-- grain: one row per figure a press release states (figures and restatements) x source x vintage
-- Each claim against the value the warehouse recomputes without using the claim itself: from the release's
-- other figures (total = export + import), from the figure a headline restates, or from another publisher's
-- series (a share of services trade, a growth rate). The verdict follows from the claim's printed precision.
create or replace view marts.claim_checks as
with

claims as (
    -- the latest vintage of each release (an earlier curation stays in raw and staging)
    select * from staging.stg_press_release
    qualify vintage = max(vintage) over (partition by source_id)
),

figures as (
    -- printed figures and identities; never values derived from a printed growth rate or share
    select * from core.fct_trade_figure
    where derivation_rule is distinct from 'growth_base'
),

same_release_flows as (
    select
        source_id, vintage, reporter, partner, period, classification, category, measure,
        max(value) filter (where flow = 'export') as export_value,
        max(value) filter (where flow = 'import') as import_value,
        max(value) filter (where flow = 'total') as total_value,
    from figures
    where not is_derived and unit = 'USD'
    group by all
),

restated as (
    -- a restatement against the figure the body of the same release prints
    select
        claims.figure_id, claims.source_id,
        printed.value as recomputed_value,
        printf('the figure the release states: %g', printed.value / claims.print_scale) as recomputed_from,
        printed.source_id as checked_against_source_id,
        printed.vintage as checked_against_vintage,
    from claims
    inner join figures as printed
        on printed.source_id = claims.source_id
        and printed.vintage = claims.vintage
        and not printed.is_derived
        and printed.reporter = claims.reporter
        and printed.partner = claims.partner
        and printed.period = claims.period
        and printed.flow = claims.flow
        and printed.classification = claims.classification
        and printed.category = claims.category
        and printed.measure = claims.measure
    where claims.role = 'restatement'
),

by_identity as (
    -- a value against the release's other printed flows
    select
        claims.figure_id, claims.source_id,
        case claims.flow
            when 'export' then flows.total_value - flows.import_value
            when 'import' then flows.total_value - flows.export_value
            when 'total' then flows.export_value + flows.import_value
            when 'balance' then flows.export_value - flows.import_value
        end as recomputed_value,
        case claims.flow
            when 'export' then printf('total - import = %.2f bn - %.2f bn', flows.total_value / 1e9, flows.import_value / 1e9)
            when 'import' then printf('total - export = %.2f bn - %.2f bn', flows.total_value / 1e9, flows.export_value / 1e9)
            when 'total' then printf('export + import = %.2f bn + %.2f bn', flows.export_value / 1e9, flows.import_value / 1e9)
            when 'balance' then printf('export - import = %.2f bn - %.2f bn', flows.export_value / 1e9, flows.import_value / 1e9)
        end as recomputed_from,
        flows.source_id as checked_against_source_id,
        flows.vintage as checked_against_vintage,
    from claims
    inner join same_release_flows as flows
        on flows.source_id = claims.source_id
        and flows.vintage = claims.vintage
        and flows.reporter = claims.reporter
        and flows.partner = claims.partner
        and flows.period = claims.period
        and flows.classification = claims.classification
        and flows.category = claims.category
        and flows.measure = claims.measure
    where claims.unit = 'USD'
),

share_numerators as (
    select
        claims.figure_id, parts.value, parts.source_id, parts.vintage,
        row_number() over (
            partition by claims.figure_id, claims.source_id
            order by (parts.source_id = claims.source_id) desc, parts.vintage desc
        ) as preference,
    from claims
    inner join figures as parts
        on parts.reporter = claims.reporter
        and parts.partner = claims.partner
        and parts.period = claims.period
        and parts.flow = claims.flow
        and parts.classification = claims.classification
        and parts.category = claims.category
        and parts.measure = claims.num_measure
    where claims.measure = 'share'
),

share_bases as (
    select
        claims.figure_id, bases.value, bases.source_id, bases.vintage,
        row_number() over (
            partition by claims.figure_id, claims.source_id
            order by (bases.source_id = claims.source_id) desc, bases.vintage desc
        ) as preference,
    from claims
    inner join figures as bases
        on bases.reporter = claims.base_reporter
        and bases.partner = claims.partner
        and bases.period = claims.period
        and bases.flow = claims.flow
        and bases.classification = claims.base_classification
        and bases.category = claims.base_category
        and bases.measure = claims.base_measure
    where claims.measure = 'share'
),

by_share as (
    -- a share against the part and the base the warehouse holds (the base may come from another publisher)
    select
        claims.figure_id, claims.source_id,
        100 * numerators.value / nullif(bases.value, 0) as recomputed_value,
        printf(
            '%s / %s = %.2f bn (%s) / %.2f bn (%s, vintage %s)',
            claims.category, claims.base_category, numerators.value / 1e9, numerators.source_id,
            bases.value / 1e9, bases.source_id, bases.vintage
        ) as recomputed_from,
        bases.source_id as checked_against_source_id,
        bases.vintage as checked_against_vintage,
    from claims
    inner join share_numerators as numerators on numerators.figure_id = claims.figure_id and numerators.preference = 1
    inner join share_bases as bases on bases.figure_id = claims.figure_id and bases.preference = 1
),

growth_points as (
    select
        claims.figure_id,
        this_year.value as this_value,
        last_year.value as last_value,
        this_year.source_id,
        this_year.vintage,
        row_number() over (
            partition by claims.figure_id, claims.source_id
            order by (this_year.source_id = claims.source_id) desc, this_year.vintage desc
        ) as preference,
    from claims
    inner join figures as this_year
        on this_year.reporter = claims.reporter
        and this_year.partner = claims.partner
        and this_year.period = claims.period
        and this_year.flow = claims.flow
        and this_year.classification = claims.classification
        and this_year.category = claims.category
        and this_year.measure = claims.num_measure
    inner join figures as last_year
        on last_year.source_id = this_year.source_id
        and last_year.vintage = this_year.vintage
        and last_year.reporter = this_year.reporter
        and last_year.partner = this_year.partner
        and last_year.year = this_year.year - 1
        and last_year.period_type = 'year'
        and last_year.flow = this_year.flow
        and last_year.classification = this_year.classification
        and last_year.category = this_year.category
        and last_year.measure = this_year.measure
    where claims.measure in ('growth_yoy', 'growth_yoy_expected')
        and claims.period_type = 'year'
        and claims.role = 'figure'
),

by_growth as (
    -- a growth rate against two consecutive years of one series (one source and vintage)
    select
        claims.figure_id, claims.source_id,
        100 * (points.this_value / nullif(points.last_value, 0) - 1) as recomputed_value,
        printf(
            '%d / %d - 1 = %.2f bn / %.2f bn - 1 (%s, vintage %s)',
            claims.year, claims.year - 1, points.this_value / 1e9, points.last_value / 1e9, points.source_id, points.vintage
        ) as recomputed_from,
        points.source_id as checked_against_source_id,
        points.vintage as checked_against_vintage,
    from claims
    inner join growth_points as points on points.figure_id = claims.figure_id and points.preference = 1
),

recomputed as (
    select *, 1 as preference from restated
    union all
    select *, 2 as preference from by_identity where recomputed_value is not null
    union all
    select *, 3 as preference from by_share
    union all
    select *, 4 as preference from by_growth
),

best as (
    select * from recomputed
    qualify row_number() over (partition by figure_id, source_id order by preference) = 1
),

compared as (
    select
        claims.*,
        best.recomputed_value,
        best.recomputed_from,
        best.checked_against_source_id,
        best.checked_against_vintage,
        claims.print_unit * claims.print_scale / 2 as tolerance,
    from claims
    left join best on best.figure_id = claims.figure_id and best.source_id = claims.source_id
),

final as (
    select
        -- ids
        source_id,
        vintage,
        figure_id,
        role,
        reporter,
        partner,
        period,
        periods.period_start,
        periods.period_end,
        flow,
        classification,
        category,
        measure,
        unit,
        -- the claim
        quote,
        value_printed,
        comparator,
        case when unit = 'USD' then round(value, 2) else value end as claimed_value,
        -- the check
        case when unit = 'USD' then round(recomputed_value, 2) else recomputed_value end as recomputed_value,
        recomputed_value / print_scale as recomputed_in_print_scale,
        case when unit = 'USD' then round(recomputed_value - value, 2) else recomputed_value - value end as difference,
        tolerance,
        recomputed_from,
        checked_against_source_id,
        checked_against_vintage,
        case
            when recomputed_value is null then 'unverifiable'
            when comparator in ('=', '~') and abs(recomputed_value - value) <= tolerance * (1 + 1e-9) then 'consistent'
            when comparator = '>' and recomputed_value > value then 'consistent'
            when comparator = '>=' and recomputed_value >= value then 'consistent'
            when comparator = '<' and recomputed_value < value then 'consistent'
            when comparator = '<=' and recomputed_value <= value then 'consistent'
            else 'inconsistent'
        end as verdict,
        case
            when recomputed_value is null and measure = 'growth_target' then 'a policy target: nothing to recompute'
            when recomputed_value is null and period_type = 'ytd' then 'no monthly series in the warehouse'
            when recomputed_value is null then 'the warehouse holds no independent figure to recompute it from'
            when comparator in ('=', '~') then printf('within +/- %g of the printed %s?', tolerance / print_scale, value_printed)
            else printf('recomputed %s %s?', comparator, value_printed)
        end as verdict_basis,
        note,
    from compared
    left join core.dim_period as periods using (period)
)

select * from final;

comment on view marts.claim_checks is 'Every figure a press release states, checked: the claim, the value the warehouse recomputes without using the claim (from the release''s other figures, the figure a headline restates, or another publisher''s series), the difference, and a verdict at the claim''s printed precision (consistent, inconsistent, unverifiable).';
comment on column marts.claim_checks.source_id is 'Catalogue entry of the release';
comment on column marts.claim_checks.vintage is 'Release date';
comment on column marts.claim_checks.figure_id is 'Id of the figure in the curated release';
comment on column marts.claim_checks.role is 'figure (stated once) or restatement (a headline or rounded repeat)';
comment on column marts.claim_checks.reporter is 'Economy or group the claim is about';
comment on column marts.claim_checks.partner is 'Partner (WLD = the world)';
comment on column marts.claim_checks.period is 'Reference period of the claim';
comment on column marts.claim_checks.period_start is 'First day of period (core.dim_period): 2011 -> 2011-01-01, 2012-01..10 -> 2012-01-01; for time axes';
comment on column marts.claim_checks.period_end is 'Last day of period (core.dim_period): 2011 -> 2011-12-31, 2012-01..10 -> 2012-10-31';
comment on column marts.claim_checks.flow is 'export, import, total or balance';
comment on column marts.claim_checks.classification is 'Classification of category';
comment on column marts.claim_checks.category is 'What the claim is about';
comment on column marts.claim_checks.measure is 'Measure of the claim (technology_contract_value, share, growth_yoy, ...)';
comment on column marts.claim_checks.unit is 'Unit of claimed_value, recomputed_value, difference and tolerance (USD scale 1, or percent)';
comment on column marts.claim_checks.quote is 'The sentence as printed';
comment on column marts.claim_checks.value_printed is 'The number as printed (580 in $580 million)';
comment on column marts.claim_checks.comparator is 'What the claim asserts: = (equal at its precision), ~ (approximately), > (more than), ...';
comment on column marts.claim_checks.claimed_value is 'The claim in unit (signed: a deficit is negative); in USD rounded to the cent (32.2 bn is 32200000000.0)';
comment on column marts.claim_checks.recomputed_value is 'The value the warehouse recomputes, in unit (in USD rounded to the cent; the verdict compares before rounding); null when it cannot';
comment on column marts.claim_checks.recomputed_in_print_scale is 'recomputed_value in the scale the claim was printed in (bn for $ billions)';
comment on column marts.claim_checks.difference is 'recomputed_value - claimed_value, in unit (in USD rounded to the cent)';
comment on column marts.claim_checks.tolerance is 'Half the rounding unit of the printed number (0.005 bn for 53.56 bn; 5 bn for $10 billion), in unit';
comment on column marts.claim_checks.recomputed_from is 'How the value was recomputed, with the figures used';
comment on column marts.claim_checks.checked_against_source_id is 'Source of the figures the claim was checked against';
comment on column marts.claim_checks.checked_against_vintage is 'Vintage of the figures the claim was checked against';
comment on column marts.claim_checks.verdict is 'consistent (at the printed precision), inconsistent, or unverifiable';
comment on column marts.claim_checks.verdict_basis is 'The test applied, or why the claim cannot be checked';
comment on column marts.claim_checks.note is 'Curator''s note on the claim';
