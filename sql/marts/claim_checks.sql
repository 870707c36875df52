-- grain: one row per figure a press release states (figures and restatements) x source x vintage
-- Each claim against the value the warehouse recomputes without using the claim itself: from the release's
-- other figures (total = export + import), from the figure a headline restates, from another publisher's
-- series (a share of services trade), or from marts.trade_growth (a growth rate, the outturn against a target).
-- The test follows from the kind of claim (seeds/reference/claim_comparators.csv): exact to half a unit of the
-- last printed digit, "about" within a stated relative tolerance, "more than", "less than". A check whose
-- numerator and denominator (or claim and comparison) are different measures, vintages or periods is only
-- indicative, and says which.
create or replace view marts.claim_checks as
with

claims as (
    -- the latest vintage of each release (an earlier curation stays in raw and staging)
    select
        *,
        -- the last printed digit: '32.16' -> 0.01, '21.4' -> 0.1, '10' and '580' -> 1 (every printed digit counts)
        pow(10, -length(regexp_extract(trim(value_printed), '[.]([0-9]+)$', 1))) as last_digit_unit,
    from staging.stg_press_release
    qualify vintage = max(vintage) over (partition by source_id)
),

comparators as (
    select
        comparator,
        kind,
        cast(nullif(relative_tolerance, '') as double) as relative_tolerance,
        test,
    from raw.ref_claim_comparators
),

figures as (
    -- printed figures and identities; never values derived from a printed growth rate or share
    select * from core.fct_trade_figure
    where derivation_rule is distinct from 'growth_base'
),

growth_base_figures as (
    -- values derived from a printed growth rate: a growth recomputed from them would only repeat the claim
    select source_id, vintage, reporter, partner, year, flow, classification, category, measure,
    from core.fct_trade_figure
    where derivation_rule = 'growth_base'
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
        cast(null as varchar) as denominator,
        cast(null as varchar) as mismatch,
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
        cast(null as varchar) as denominator,
        cast(null as varchar) as mismatch,
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
    select claims.figure_id, parts.*,
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
    -- the part as the claim's own release states it, else the latest vintage of it (two vintages of one part
    -- would otherwise be two candidates that differ only in the vintage named)
    qualify rank() over (
        partition by claims.figure_id, claims.source_id
        order by (parts.source_id = claims.source_id and parts.vintage = claims.vintage) desc, parts.vintage desc
    ) = 1
),

share_bases as (
    select claims.figure_id, bases.*,
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
    -- a share against every part and base the warehouse holds (the base may come from another publisher)
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
        printf(
            '%s %s %s (%s, %s) = %.2f bn from %s (%s, vintage %s)',
            bases.reporter, bases.category, bases.flow, bases.measure, bases.classification, bases.value / 1e9,
            bases.source_id, coalesce(bases.definition, 'definition not curated'), bases.vintage
        ) as denominator,
        nullif(concat_ws(
            '; ',
            case when numerators.measure <> bases.measure then printf(
                'numerator and denominator are different measures: %s (%s) / %s (%s)',
                numerators.measure, numerators.source_id, bases.measure, bases.source_id
            ) end,
            case when numerators.source_id <> bases.source_id or numerators.vintage <> bases.vintage then printf(
                'numerator and denominator are of different vintages: %s of %s / %s of %s',
                numerators.source_id, numerators.vintage, bases.source_id, bases.vintage
            ) end,
            case when claims.period_type <> 'year' then printf(
                'the claim is of %s, checked against the year %s', replace(claims.period_type, '_', ' '), claims.period
            ) end
        ), '') as mismatch,
    from claims
    inner join share_numerators as numerators on numerators.figure_id = claims.figure_id
    inner join share_bases as bases on bases.figure_id = claims.figure_id
),

by_growth as (
    -- a growth rate, an expectation or a target against the year-on-year growth marts.trade_growth computes for
    -- the series the claim is about (latest vintage); never from a value derived from the claim's own rate
    select
        claims.figure_id, claims.source_id,
        growth.yoy_growth_pct as recomputed_value,
        printf(
            '%d / %d - 1 = %.2f bn / %.2f bn - 1 (marts.trade_growth: %s, vintage %s)',
            growth.year, growth.year - 1, growth.value / 1e9, growth.previous_year_value / 1e9, growth.source_id,
            growth.vintage
        ) as recomputed_from,
        growth.source_id as checked_against_source_id,
        growth.vintage as checked_against_vintage,
        cast(null as varchar) as denominator,
        case when claims.period_type <> 'year' then printf(
            'a different period: the claim is of %s, the comparison of the calendar year %d', claims.period, growth.year
        ) end as mismatch,
    from claims
    inner join marts.trade_growth as growth
        on growth.reporter = claims.reporter
        and growth.partner = claims.partner
        and growth.year = claims.year
        and growth.flow = claims.flow
        and growth.classification = claims.classification
        and growth.category = claims.category
        and growth.measure = claims.num_measure
    anti join growth_base_figures as circular
        on circular.source_id = growth.source_id
        and circular.vintage = growth.vintage
        and circular.reporter = growth.reporter
        and circular.partner = growth.partner
        and circular.year in (growth.year, growth.year - 1)
        and circular.flow = growth.flow
        and circular.classification = growth.classification
        and circular.category = growth.category
        and circular.measure = growth.measure
    where claims.measure in ('growth_yoy', 'growth_yoy_expected', 'growth_target')
        and claims.role = 'figure'
        and growth.yoy_growth_pct is not null
),

recomputed as (
    select *, 1 as method from restated
    union all
    select *, 2 as method from by_identity where recomputed_value is not null
    union all
    select *, 3 as method from by_share where recomputed_value is not null
    union all
    select *, 4 as method from by_growth
),

candidates as (
    -- every comparison the shipped data allow, ranked: the simplest method, like for like, the claim's own
    -- source, the latest vintage
    select
        recomputed.*,
        row_number() over (
            partition by recomputed.figure_id, recomputed.source_id
            order by recomputed.method, (recomputed.mismatch is null) desc,
                (recomputed.checked_against_source_id = recomputed.source_id) desc,
                recomputed.checked_against_vintage desc, recomputed.recomputed_value,
                recomputed.checked_against_source_id, recomputed.recomputed_from
        ) as preference,
        count(*) over (partition by recomputed.figure_id, recomputed.source_id) as comparisons,
        min(recomputed.recomputed_value) over (partition by recomputed.figure_id, recomputed.source_id)
            as recomputed_min,
        max(recomputed.recomputed_value) over (partition by recomputed.figure_id, recomputed.source_id)
            as recomputed_max,
    from recomputed
),

best as (
    select * from candidates
    where preference = 1
),

compared as (
    select
        claims.*,
        comparators.kind,
        comparators.relative_tolerance,
        comparators.test,
        best.recomputed_value,
        best.recomputed_from,
        best.checked_against_source_id,
        best.checked_against_vintage,
        best.denominator,
        best.mismatch,
        coalesce(best.comparisons, 0) as comparisons,
        best.recomputed_min,
        best.recomputed_max,
        case
            when claims.comparator = '=' then claims.last_digit_unit * claims.print_scale / 2
            when claims.comparator = '~' then greatest(
                claims.last_digit_unit * claims.print_scale / 2, comparators.relative_tolerance * abs(claims.value)
            )
        end as tolerance,
    from claims
    left join comparators on comparators.comparator = claims.comparator
    left join best on best.figure_id = claims.figure_id and best.source_id = claims.source_id
),

tested as (
    select
        *,
        case
            when recomputed_value is null then null
            when comparator in ('=', '~') then abs(recomputed_value - value) <= tolerance * (1 + 1e-9)
            when comparator = '>' then recomputed_value > value
            when comparator = '>=' then recomputed_value >= value
            when comparator = '<' then recomputed_value < value
            when comparator = '<=' then recomputed_value <= value
        end as is_test_passed,
    from compared
),

worded as (
    select
        *,
        case
            when is_test_passed then printf('yes, %g', recomputed_value / print_scale)
            when not is_test_passed then printf('no, %g', recomputed_value / print_scale)
        end as arithmetic_verdict_text,
        case
            when comparator = '=' then printf(
                'exact: within +/- %g of the printed %s (half a unit of its last digit)?',
                tolerance / print_scale, value_printed
            )
            when comparator = '~' then printf(
                'about: within +/- %g of the printed %s (%g %% of it, or half a unit of its last digit)?',
                tolerance / print_scale, value_printed, 100 * relative_tolerance
            )
            else printf('%s: recomputed %s %s?', replace(kind, '_', ' '), comparator, value_printed)
        end as test_text,
    from tested
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
        kind as claim_kind,
        case when unit = 'USD' then round(value, 2) else value end as claimed_value,
        -- the check
        case when unit = 'USD' then round(recomputed_value, 2) else recomputed_value end as recomputed_value,
        recomputed_value / print_scale as recomputed_in_print_scale,
        case when unit = 'USD' then round(recomputed_value - value, 2) else recomputed_value - value end as difference,
        tolerance,
        relative_tolerance,
        recomputed_from,
        denominator,
        checked_against_source_id,
        checked_against_vintage,
        comparisons,
        recomputed_min / print_scale as recomputed_min_in_print_scale,
        recomputed_max / print_scale as recomputed_max_in_print_scale,
        mismatch is null and recomputed_value is not null as is_like_for_like,
        mismatch,
        case when is_test_passed then 'consistent' when not is_test_passed then 'inconsistent' end as arithmetic_verdict,
        case
            when recomputed_value is null then 'unverifiable'
            when mismatch is not null then 'indicative'
            when is_test_passed then 'consistent'
            else 'inconsistent'
        end as verdict,
        case
            when recomputed_value is null and measure = 'growth_target'
                then 'a policy target: the warehouse holds no outturn of the series it is about'
            when recomputed_value is null and period_type = 'ytd' then 'no monthly series in the warehouse'
            when recomputed_value is null then 'the warehouse holds no independent figure to recompute it from'
            else concat_ws(
                '; ',
                printf('%s %s', test_text, arithmetic_verdict_text),
                case when denominator is not null then printf('denominator: %s', denominator) end,
                case when mismatch is not null then printf('only indicative: %s', mismatch) end
            )
        end as verdict_basis,
        note,
    from worded
    left join core.dim_period as periods using (period)
)

select * from final
order by source_id, vintage, figure_id;

comment on view marts.claim_checks is 'Every figure a press release states, checked: the claim, the value the warehouse recomputes without using the claim (from the release''s other figures, the figure a headline restates, another publisher''s series, or marts.trade_growth), the difference, and a verdict by the kind of claim (exact at its printed precision, about within a stated relative tolerance, more than, less than): consistent, inconsistent, indicative (the comparison mixes measures, vintages or periods: mismatch says which) or unverifiable.';
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
comment on column marts.claim_checks.measure is 'Measure of the claim (technology_contract_value, share, growth_yoy, growth_target, ...)';
comment on column marts.claim_checks.unit is 'Unit of claimed_value, recomputed_value, difference and tolerance (USD scale 1, or percent)';
comment on column marts.claim_checks.quote is 'The sentence as printed';
comment on column marts.claim_checks.value_printed is 'The number as printed (580 in $580 million)';
comment on column marts.claim_checks.comparator is 'What the claim asserts about the figure: = (equal at its precision), ~ (about), > (more than), < (less than, e.g. short of a target), >=, <=';
comment on column marts.claim_checks.claim_kind is 'The kind of claim (the reference list raw.ref_claim_comparators): exact, about, more_than, less_than, at_least, at_most';
comment on column marts.claim_checks.claimed_value is 'The claim in unit (signed: a deficit is negative); in USD rounded to the cent (32.2 bn is 32200000000.0)';
comment on column marts.claim_checks.recomputed_value is 'The value the warehouse recomputes, in unit (in USD rounded to the cent; the verdict compares before rounding); null when it cannot';
comment on column marts.claim_checks.recomputed_in_print_scale is 'recomputed_value in the scale the claim was printed in (bn for $ billions)';
comment on column marts.claim_checks.difference is 'recomputed_value - claimed_value, in unit (in USD rounded to the cent)';
comment on column marts.claim_checks.tolerance is 'For exact claims half a unit of the last printed digit (0.005 bn for 53.56 bn; 0.5 bn for $10 billion; 0.5 m for $580 million); for about claims the wider of that and relative_tolerance x the claim; in unit; null for more/less-than claims';
comment on column marts.claim_checks.relative_tolerance is 'For about claims the stated relative tolerance (0.1: within 10 %); null otherwise';
comment on column marts.claim_checks.recomputed_from is 'How the value was recomputed, with the figures used';
comment on column marts.claim_checks.denominator is 'For shares: the denominator used, with its measure, source, definition and vintage';
comment on column marts.claim_checks.checked_against_source_id is 'Source of the figures the claim was checked against (for shares, of the denominator)';
comment on column marts.claim_checks.checked_against_vintage is 'Vintage of the figures the claim was checked against (for shares, of the denominator)';
comment on column marts.claim_checks.comparisons is 'How many comparisons the shipped data allow (each numerator and denominator, each method); the verdict uses the first by preference: same release, like for like, the claim''s own source, the latest vintage';
comment on column marts.claim_checks.recomputed_min_in_print_scale is 'Lowest value over every comparison, in the printed scale';
comment on column marts.claim_checks.recomputed_max_in_print_scale is 'Highest value over every comparison, in the printed scale';
comment on column marts.claim_checks.is_like_for_like is 'True when the comparison is of the same measure, vintage and period as the claim (numerator and denominator alike for shares)';
comment on column marts.claim_checks.mismatch is 'Why the comparison is not like for like: different measures, vintages or periods, naming each; null when it is';
comment on column marts.claim_checks.arithmetic_verdict is 'The test alone, whatever the measures: consistent or inconsistent; null when nothing was recomputed';
comment on column marts.claim_checks.verdict is 'consistent or inconsistent (like for like, by the kind of claim), indicative (the comparison mixes measures, vintages or periods: see mismatch and arithmetic_verdict), or unverifiable';
comment on column marts.claim_checks.verdict_basis is 'The test applied, its answer, the denominator and its source, and why a verdict is only indicative; or why the claim cannot be checked';
comment on column marts.claim_checks.note is 'Curator''s note on the claim';
