-- grain: one row per source x vintage x reporter x partner x flow x classification x category x measure x year
-- Year-on-year change and compound annual growth within one series (one source, vintage, measure and unit);
-- latest vintage only. A printed growth rate for the same series and year is shown beside the computed one.
-- A growth computed from a derived value (core.fct_trade_figure.is_derived: an identity such as import = total -
-- export, or a base year from a printed growth rate) is flagged, with the derivation of each derived input.
create or replace view marts.trade_growth as
with

figures as (
    select * from core.fct_trade_figure
),

series_points as (
    select * from figures
    where unit = 'USD' and period_type = 'year'
),

printed_growth as (
    select * from figures
    where measure = 'growth_yoy' and period_type = 'year'
),

with_history as (
    select
        *,
        lag(year) over series as previous_year,
        lag(value) over series as previous_value,
        lag(is_derived) over series as is_previous_derived,
        lag(derivation) over series as previous_derivation,
        first_value(year) over series as first_year,
        first_value(value) over series as first_value,
        first_value(is_derived) over series as is_first_derived,
        first_value(derivation) over series as first_derivation,
        last_value(year) over whole_series as last_year,
        last_value(value) over whole_series as last_value,
        last_value(is_derived) over whole_series as is_last_derived,
        last_value(derivation) over whole_series as last_derivation,
    from series_points
    window
        -- one release of one series, by its columns rather than one hashed key: a filter on any of them
        -- (reporter = 'CHN') then runs below the window, over that reporter's rows only (decision 0001)
        series as (
            partition by source_id, vintage, reporter, partner, flow, classification, category, measure, unit
            order by year
        ),
        whole_series as (series rows between unbounded preceding and unbounded following)
),

computed as (
    select
        *,
        case when previous_year = year - 1 then previous_value end as previous_year_value,
        case when previous_year = year - 1 then is_previous_derived end as is_previous_year_derived,
        case when previous_year = year - 1 then previous_derivation end as previous_year_derivation,
    from with_history
),

carried as (
    -- which computed figures of the row rest on a derived value, and how each of those values was derived
    select
        *,
        previous_year_value is not null and (is_derived or is_previous_year_derived) as is_yoy_from_derived,
        year > first_year and (is_derived or is_first_derived) as is_cagr_since_first_from_derived,
        last_year > first_year and (is_first_derived or is_last_derived) as is_series_cagr_from_derived,
        nullif(concat_ws('; ',
            case when is_derived then printf('value (%d): %s', year, derivation) end,
            case when is_previous_year_derived then printf('previous_year_value (%d): %s', year - 1, previous_year_derivation) end,
            case when is_first_derived and first_year <> year then printf('first_value (%d): %s', first_year, first_derivation) end,
            case
                when is_last_derived and last_year not in (year, first_year)
                    then printf('last_value (%d): %s', last_year, last_derivation)
            end
        ), '') as derivation_of_inputs,
    from computed
),

final as (
    select
        -- ids
        computed.source_id,
        computed.vintage,
        computed.reporter,
        computed.partner,
        computed.flow,
        computed.classification,
        computed.category,
        computed.measure,
        computed.unit,
        computed.year,
        periods.period_start,
        periods.period_end,
        -- numerics (amounts in unit, to the cent)
        round(computed.value, 2) as value,
        round(computed.previous_year_value, 2) as previous_year_value,
        round(computed.value - computed.previous_year_value, 2) as yoy_change,
        100 * (computed.value / nullif(computed.previous_year_value, 0) - 1) as yoy_growth_pct,
        printed_growth.value as printed_yoy_growth_pct,
        computed.first_year,
        round(computed.first_value, 2) as first_value,
        case
            when computed.year > computed.first_year and computed.first_value > 0 and computed.value > 0
                then 100 * (pow(computed.value / computed.first_value, 1.0 / (computed.year - computed.first_year)) - 1)
        end as cagr_since_first_pct,
        computed.last_year,
        case
            when computed.last_year > computed.first_year and computed.first_value > 0 and computed.last_value > 0
                then 100 * (pow(computed.last_value / computed.first_value, 1.0 / (computed.last_year - computed.first_year)) - 1)
        end as series_cagr_pct,
        -- reported or derived
        computed.is_derived as is_value_derived,
        coalesce(computed.is_previous_year_derived, false) as is_previous_value_derived,
        computed.is_first_derived as is_first_value_derived,
        computed.is_last_derived as is_last_value_derived,
        computed.is_yoy_from_derived,
        computed.is_cagr_since_first_from_derived,
        computed.is_series_cagr_from_derived,
        computed.is_derived or computed.is_yoy_from_derived or computed.is_cagr_since_first_from_derived
            or computed.is_series_cagr_from_derived as is_derived,
        computed.derivation_of_inputs as derivation,
    from carried as computed
    left join core.dim_period as periods on periods.period = cast(computed.year as varchar)
    left join printed_growth
        on printed_growth.source_id = computed.source_id
        and printed_growth.vintage = computed.vintage
        and printed_growth.reporter = computed.reporter
        and printed_growth.partner = computed.partner
        and printed_growth.year = computed.year
        and printed_growth.flow = computed.flow
        and printed_growth.classification = computed.classification
        and printed_growth.category = computed.category
        and printed_growth.num_measure = computed.measure
    where computed.is_latest_vintage
)

select * from final;

comment on view marts.trade_growth is 'Growth of each series (one source, vintage, measure and unit), latest vintage: year-on-year change, compound annual growth since the first year available and over the whole series, beside any growth rate the publisher printed. Years with a gap have no year-on-year figure. A growth computed from a derived value (an identity, or a base year from a printed rate) is flagged (is_derived and the is_*_from_derived columns) with the derivation of each derived input.';
comment on column marts.trade_growth.source_id is 'Catalogue entry of the series';
comment on column marts.trade_growth.vintage is 'Release date of the series (YYYY-MM-DD)';
comment on column marts.trade_growth.reporter is 'Reporting economy or group';
comment on column marts.trade_growth.partner is 'Partner economy or aggregate (WLD = the world)';
comment on column marts.trade_growth.flow is 'export, import or total';
comment on column marts.trade_growth.classification is 'Classification of category';
comment on column marts.trade_growth.category is 'What is traded';
comment on column marts.trade_growth.measure is 'The concept measured (core.dim_measure)';
comment on column marts.trade_growth.unit is 'Unit of value, previous_year_value, yoy_change and first_value (USD, scale 1)';
comment on column marts.trade_growth.year is 'Calendar year';
comment on column marts.trade_growth.period_start is 'First day of year (core.dim_period): 2011 -> 2011-01-01; for time axes';
comment on column marts.trade_growth.period_end is 'Last day of year (core.dim_period): 2011 -> 2011-12-31';
comment on column marts.trade_growth.value is 'Value in the year, in unit, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion)';
comment on column marts.trade_growth.previous_year_value is 'Value in the previous calendar year of the same series, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion); null when that year is missing';
comment on column marts.trade_growth.yoy_change is 'value - previous_year_value, in unit, rounded to the cent';
comment on column marts.trade_growth.yoy_growth_pct is 'Year-on-year growth, percent: (value / previous_year_value - 1) x 100';
comment on column marts.trade_growth.printed_yoy_growth_pct is 'Year-on-year growth as the publisher printed it, percent; null if none';
comment on column marts.trade_growth.first_year is 'First year of the series';
comment on column marts.trade_growth.first_value is 'Value in the first year, in unit, rounded to the cent (0.01 USD; stored as DOUBLE, exact below 10 trillion)';
comment on column marts.trade_growth.cagr_since_first_pct is 'Compound annual growth from first_year to year, percent';
comment on column marts.trade_growth.last_year is 'Last year of the series';
comment on column marts.trade_growth.series_cagr_pct is 'Compound annual growth from first_year to last_year, percent (same on every row of a series)';
comment on column marts.trade_growth.is_value_derived is 'True when value was not printed but derived (see core.fct_trade_figure.derivation)';
comment on column marts.trade_growth.is_previous_value_derived is 'True when previous_year_value was derived (e.g. from a printed growth rate: then yoy_growth_pct only restates it)';
comment on column marts.trade_growth.is_first_value_derived is 'True when first_value was derived (see derivation)';
comment on column marts.trade_growth.is_last_value_derived is 'True when the last year''s value (the end of series_cagr_pct) was derived (see derivation)';
comment on column marts.trade_growth.is_yoy_from_derived is 'True when yoy_change and yoy_growth_pct are computed from a derived previous_year_value';
comment on column marts.trade_growth.is_cagr_since_first_from_derived is 'True when cagr_since_first_pct starts or ends at a derived value (e.g. China''s technology imports 2006 = total - export)';
comment on column marts.trade_growth.is_series_cagr_from_derived is 'True when series_cagr_pct starts or ends at a derived value';
comment on column marts.trade_growth.is_derived is 'True when value, or any growth figure of the row, rests on a derived value: read the derivation before quoting it';
comment on column marts.trade_growth.derivation is 'How each derived value used on the row was derived (value, previous_year_value, first_value, last_value, with its year and formula from core.fct_trade_figure); null when none is derived';
